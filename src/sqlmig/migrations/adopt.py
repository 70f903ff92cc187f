"""``sqlmig adopt --from TOOL``: take over another tool's history without running anything.

    the other tool's table ─▶ the versions it applied (refused when dirty or failed)
        ─▶ mapped to the files (refused when one it applied has no file)
        ─▶ one transaction: its table renamed when it holds sqlmig's ledger name,
           the ledger created, one row per version, kind 'adopted'

    dbmate          public.schema_migrations (version varchar): one row per version
    golang-migrate  public.schema_migrations (version bigint, dirty bool): the current one
    flyway          public.flyway_schema_history: versioned rows, success per row
    yoyo            public._yoyo_migration (migration_id = the file's stem)

dbmate and golang-migrate use sqlmig's default ledger name: when the ledger is
there (the default), their table is kept as ``schema_migrations_<tool>`` (nothing
of their history is lost); a ledger configured elsewhere (``--table``) leaves it
where it is. The rows go to the configured ledger.
"""

from __future__ import annotations

import re
from dataclasses import dataclass, field
from typing import TYPE_CHECKING

from psycopg import sql

from sqlmig.core import connections
from sqlmig.core.config import LedgerLocation, Settings
from sqlmig.core.errors import PlanRefused, UsageError
from sqlmig.migrations import history, ledger
from sqlmig.migrations.files import Script, load_scripts

if TYPE_CHECKING:
    from psycopg import Connection as _Connection

    Connection = _Connection[tuple[object, ...]]

TOOLS = ("dbmate", "golang-migrate", "flyway", "yoyo")
_TABLES = {
    "dbmate": ("public", "schema_migrations"),
    "golang-migrate": ("public", "schema_migrations"),
    "flyway": ("public", "flyway_schema_history"),
    "yoyo": ("public", "_yoyo_migration"),
}


@dataclass
class Adoption:
    tool: str
    table: str  # the other tool's table, schema-qualified
    adopted: list[Script] = field(default_factory=list)
    renamed_to: str | None = None  # where the other tool's table went (same schema)
    dry_run: bool = False


def adopt(settings: Settings, tool: str, *, dry_run: bool = False) -> Adoption:
    """Record as applied (kind 'adopted') every file ``tool`` applied; run no migration SQL."""
    if tool not in TOOLS:
        raise UsageError(f"--from must be one of {', '.join(TOOLS)}, not {tool!r}.")
    schema, table = _TABLES[tool]
    scripts = load_scripts(settings.directory)
    loc = settings.ledger
    with connections.connect(settings) as conn, ledger.locked(conn, loc, 0):
        versions = _applied(conn, tool, schema, table, scripts)
        by_version = {s.version: s for s in scripts}
        missing = sorted(set(versions) - set(by_version))
        if missing:
            raise PlanRefused(
                f"refusing to adopt: {tool} applied version(s) "
                f"{', '.join(map(str, missing))}, but no migration file has them in "
                f"{settings.directory}. Restore those files first; nothing was changed."
            )
        foreign = (schema, table) == (loc.schema, loc.table)
        if not foreign and ledger.read(conn, loc):
            raise UsageError(
                "the sqlmig ledger already has rows: adopt takes over a database sqlmig "
                "has never migrated. `sqlmig status` shows where it stands."
            )
        result = Adoption(tool, f"{schema}.{table}", dry_run=dry_run)
        result.adopted = [by_version[v] for v in sorted(versions)]
        result.renamed_to = f"{table}_{tool.replace('-', '_')}" if foreign else None
        if dry_run:
            return result
        with conn.transaction():
            if result.renamed_to:
                conn.execute(
                    sql.SQL("ALTER TABLE {} RENAME TO {}").format(
                        sql.Identifier(schema, table), sql.Identifier(result.renamed_to)
                    )
                )
            ledger.ensure(conn, loc)
            _allow_adopted(conn, loc)
            for script in result.adopted:
                ledger.record(conn, loc, script, execution_ms=0, success=True, kind="adopted")
                history.record(
                    conn,
                    loc,
                    script.version,
                    script.name,
                    action="adopt",
                    after=script.checksum,
                    detail=f"from {tool}",
                )
    return result


def _applied(
    conn: Connection, tool: str, schema: str, table: str, scripts: list[Script]
) -> list[int]:
    """The versions ``tool`` applied; refuses a dirty or failed history."""
    name = sql.Identifier(schema, table)
    exists = conn.execute(
        "SELECT pg_catalog.to_regclass(%s) IS NOT NULL", (f"{schema}.{table}",)
    ).fetchone()
    if not exists or not exists[0]:
        raise UsageError(
            f"no {tool} history here: {schema}.{table} does not exist in this database. "
            "Is --from right, and --dsn the database that tool migrated?"
        )
    if tool == "dbmate":
        rows = conn.execute(sql.SQL("SELECT version::text FROM {}").format(name)).fetchall()
        return [_integer(tool, str(v)) for (v,) in rows]
    if tool == "golang-migrate":
        rows = conn.execute(sql.SQL("SELECT version, dirty FROM {}").format(name)).fetchall()
        if any(dirty for _, dirty in rows):
            raise PlanRefused(
                f"refusing to adopt: golang-migrate's history is dirty (version {rows[0][0]} "
                "failed midway). Fix the database by hand and clear the flag with "
                "`migrate force V`, then adopt; nothing was changed."
            )
        if not rows:
            return []
        current = int(str(rows[0][0]))
        # golang-migrate keeps only the current version: every file up to it is applied,
        # and the current one must have a file (checked by the caller).
        return sorted({s.version for s in scripts if s.version <= current} | {current})
    if tool == "flyway":
        rows = conn.execute(
            sql.SQL(
                "SELECT version, success FROM {} WHERE version IS NOT NULL AND type <> 'BASELINE'"
            ).format(name)
        ).fetchall()
        failed = [str(v) for v, ok in rows if not ok]
        if failed:
            raise PlanRefused(
                f"refusing to adopt: flyway's history has failed version(s) {', '.join(failed)}. "
                "Run `flyway repair` (or fix them) first; nothing was changed."
            )
        return [_integer(tool, str(v)) for v, _ in rows]
    rows = conn.execute(sql.SQL("SELECT migration_id FROM {}").format(name)).fetchall()
    return [_integer(tool, str(v)) for (v,) in rows]


def _integer(tool: str, version: str) -> int:
    match = re.match(r"^\d+", version)
    if match is None:
        raise UsageError(
            f"{tool} version {version!r} does not start with an integer, so it cannot be "
            "matched to a sqlmig file; rename the files to <version>-<name>.sql first."
        )
    return int(match[0])


def _allow_adopted(conn: Connection, loc: LedgerLocation) -> None:
    """Ledgers made before `adopt` existed allow kinds 'migration' and 'baseline' only."""
    row = conn.execute(
        "SELECT pg_catalog.pg_get_constraintdef(c.oid) FROM pg_catalog.pg_constraint c"
        " WHERE c.conrelid = pg_catalog.to_regclass(%s) AND c.contype = 'c'"
        " AND pg_catalog.pg_get_constraintdef(c.oid) LIKE '%%kind%%'",
        (loc.regclass(),),
    ).fetchone()
    if row is not None and "adopted" not in str(row[0]):
        name = conn.execute(
            "SELECT c.conname FROM pg_catalog.pg_constraint c"
            " WHERE c.conrelid = pg_catalog.to_regclass(%s) AND c.contype = 'c'"
            " AND pg_catalog.pg_get_constraintdef(c.oid) LIKE '%%kind%%'",
            (loc.regclass(),),
        ).fetchone()
        assert name is not None
        conn.execute(
            sql.SQL(
                "ALTER TABLE {} DROP CONSTRAINT {},"
                " ADD CONSTRAINT {} CHECK (kind IN ('migration', 'baseline', 'adopted'))"
            ).format(
                loc.identifier(),
                sql.Identifier(str(name[0])),
                sql.Identifier(f"{loc.table}_kind_check"),
            )
        )
