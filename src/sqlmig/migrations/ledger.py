"""The ledger table: what ran, when, by whom, and its text (see datafile).

Where it lives is a :class:`~sqlmig.core.config.LedgerLocation` (default
``public.schema_migrations``), passed to every function here; every statement
names it schema-qualified, so a file that empties ``search_path`` cannot break a
ledger write. :func:`ensure` creates its schema when missing.

All ledger SQL lives here. Reads for ``status``/``apply`` fetch one row per
migration in a single query and leave the (large) script text in the database;
the text is fetched only to show a diff.

Exactly once: a version has at most one row (the primary key), and rows are
never overwritten by an insert: a transactional file's row is a plain INSERT,
so a second runner's copy of the same file fails and rolls back whole. Every
write that marks a migration done also proves, inside the same transaction,
that this session still holds the migration lock (:func:`lock_held`): a file
that released it (``pg_advisory_unlock_all()``) cannot commit.

History is kept: ``repair`` never rewrites ``checksum`` or ``script`` (the
text that ran); accepting an edited file is recorded in the ``accepted_*``
columns.
"""

from __future__ import annotations

import functools
from dataclasses import dataclass
from datetime import datetime
from typing import TYPE_CHECKING

import psycopg
from psycopg import sql

from sqlmig.core.config import DEFAULT_LEDGER, LedgerLocation
from sqlmig.core.errors import UsageError
from sqlmig.migrations import datafile, history
from sqlmig.migrations.lock import lock_held
from sqlmig.migrations.lock import locked as locked  # re-exported: ledger.locked

if TYPE_CHECKING:
    from psycopg import Connection

    from sqlmig.migrations.files import Script


@functools.cache
def _insert_head(loc: LedgerLocation) -> sql.SQL:
    """Rendered once per ledger (no connection needed): it goes into every file's message."""
    return sql.SQL(
        sql.SQL(
            "INSERT INTO {table} (version, name, checksum, script, execution_ms, success, kind)"
            " VALUES ("
        )
        .format(table=loc.identifier())
        .as_string()
    )


#: Columns added after the first release; a ledger without them is upgraded by
#: :func:`ensure` (under the lock) and read with NULLs until then.
_LATER_COLUMNS = {
    "accepted_checksum": "text",
    "accepted_at": "timestamptz",
    "accepted_by": "text",
}


@dataclass(frozen=True)
class LedgerRow:
    version: int
    name: str
    checksum: str  # of the text that ran
    applied_at: datetime
    applied_by: str
    execution_ms: int
    success: bool
    kind: str
    accepted_checksum: str | None = None  # an edit accepted by `repair` (did not run)
    accepted_at: datetime | None = None
    accepted_by: str | None = None

    @property
    def current_checksum(self) -> str:
        """What the file must hash to now: the accepted edit, else the text that ran."""
        return self.accepted_checksum or self.checksum


def is_lock_lost(error: psycopg.Error, loc: LedgerLocation) -> bool:
    """True when a ledger write failed because :func:`lock_held` found no lock."""
    return (
        error.sqlstate == "23502"
        and is_ledger_error(error, loc)
        and error.diag.column_name == "success"
    )


def is_duplicate_row(error: psycopg.Error, loc: LedgerLocation) -> bool:
    """True when a ledger insert met a row for the same version (another runner's)."""
    return (
        error.sqlstate == "23505"
        and error.diag.table_name == loc.table
        and error.diag.schema_name == loc.schema
    )


def is_ledger_error(error: psycopg.Error, loc: LedgerLocation) -> bool:
    """True when the server blames the ledger table itself (a write to it failed)."""
    tables = (loc.table, loc.sibling("repeatable"))
    return error.diag.table_name in tables and error.diag.schema_name == loc.schema


def _columns(conn: Connection[tuple[object, ...]], loc: LedgerLocation) -> set[str]:
    """The ledger's column names; empty when the ledger does not exist (one query).

    A table of that name that is not sqlmig's (dbmate and golang-migrate use the
    same name) is refused: reading it as a ledger, or adding columns to it, would
    misread or damage the other tool's history.
    """
    cur = conn.execute(
        "SELECT attname FROM pg_catalog.pg_attribute"
        " WHERE attrelid = pg_catalog.to_regclass(%s) AND attnum > 0 AND NOT attisdropped",
        (loc.regclass(),),
    )
    columns = {str(name) for (name,) in cur}
    if columns and not columns >= _CORE_COLUMNS:
        if loc != DEFAULT_LEDGER:
            raise UsageError(
                f"{loc} exists but is not sqlmig's ledger (its columns: "
                f"{', '.join(sorted(columns))}). sqlmig leaves it alone: configure another "
                "table for the ledger (--table, SQLMIG_TABLE or [tool.sqlmig] table)."
            )
        tool = "golang-migrate" if "dirty" in columns else "dbmate"
        raise UsageError(
            f"{loc} exists but is not sqlmig's ledger (its columns: "
            f"{', '.join(sorted(columns))}; it looks like {tool}'s). sqlmig leaves it alone: "
            f"`sqlmig adopt --from {tool} --dry-run` shows how sqlmig would take over its "
            "history (the table is kept, renamed)."
        )
    return columns


_CORE_COLUMNS = frozenset({"version", "name", "checksum", "script", "success"})


def ensure(conn: Connection[tuple[object, ...]], loc: LedgerLocation) -> None:
    """Create the ledger (and its schema) if missing, or add columns newer releases
    need; hold the lock.

    The history table comes with it: every ledger write also appends history.
    """
    columns = _columns(conn, loc)
    if not columns:
        ensure_schema(conn, loc)
    history.ensure(conn, loc)
    if not columns:
        conn.execute(
            sql.SQL(
                """
                CREATE TABLE {table} (
                    version           bigint      PRIMARY KEY,
                    name              text        NOT NULL,
                    checksum          text        NOT NULL,
                    script            text        NOT NULL,
                    applied_at        timestamptz NOT NULL DEFAULT clock_timestamp(),
                    applied_by        text        NOT NULL DEFAULT current_user,
                    execution_ms      integer     NOT NULL DEFAULT 0,
                    success           boolean     NOT NULL,
                    kind              text        NOT NULL DEFAULT 'migration'
                                      CONSTRAINT {kind_check}
                                      CHECK (kind IN ('migration', 'baseline', 'adopted')),
                    accepted_checksum text,
                    accepted_at       timestamptz,
                    accepted_by       text
                );
                COMMENT ON TABLE {table} IS
                    'sqlmig ledger: one row per applied migration, with the text that ran';
                """
            ).format(table=loc.identifier(), kind_check=sql.Identifier(f"{loc.table}_kind_check"))
        )
        return
    missing = [name for name in _LATER_COLUMNS if name not in columns]
    if missing:
        conn.execute(
            sql.SQL("ALTER TABLE {table} ").format(table=loc.identifier())
            + sql.SQL(", ").join(
                sql.SQL("ADD COLUMN {} {}").format(
                    sql.Identifier(name), sql.SQL(_LATER_COLUMNS[name])
                )
                for name in missing
            )
        )


_READ_COLUMNS = (
    "version",
    "name",
    "checksum",
    "applied_at",
    "applied_by",
    "execution_ms",
    "success",
    "kind",
    *_LATER_COLUMNS,
)


def ensure_schema(conn: Connection[tuple[object, ...]], loc: LedgerLocation) -> None:
    """The ledger's schema, created when missing (``public`` is left alone)."""
    row = conn.execute(
        "SELECT true FROM pg_catalog.pg_namespace WHERE nspname = %s", (loc.schema,)
    ).fetchone()
    if row is None:
        conn.execute(sql.SQL("CREATE SCHEMA IF NOT EXISTS {}").format(sql.Identifier(loc.schema)))


def read(conn: Connection[tuple[object, ...]], loc: LedgerLocation) -> list[LedgerRow]:
    """Every ledger row, by version; [] when the ledger does not exist yet."""
    columns = _columns(conn, loc)
    if not columns:
        return []
    selected = sql.SQL(", ").join(
        sql.Identifier(c) if c in columns else sql.SQL("NULL") for c in _READ_COLUMNS
    )
    cur = conn.execute(
        sql.SQL("SELECT {columns} FROM {table} ORDER BY version").format(
            columns=selected, table=loc.identifier()
        )
    )
    return [LedgerRow(*row) for row in cur]  # type: ignore[arg-type]


def applied_texts(
    conn: Connection[tuple[object, ...]], loc: LedgerLocation, versions: list[int]
) -> dict[int, str]:
    if not versions:
        return {}
    cur = conn.execute(
        sql.SQL("SELECT version, script FROM {table} WHERE version = ANY(%s)").format(
            table=loc.identifier()
        ),
        (versions,),
    )
    return {int(v): str(s) for v, s in cur}  # type: ignore[call-overload]


#: Server-side milliseconds since the current query message arrived: the run time
#: of a migration sent in the same message as its ledger row.
ELAPSED_MS = sql.SQL(
    "pg_catalog.round(extract(epoch FROM pg_catalog.clock_timestamp()"
    " - pg_catalog.statement_timestamp()) * 1000)::int"
)


_COMMA, _CLOSE = sql.SQL(", "), sql.SQL(")")


def insert_query(
    loc: LedgerLocation,
    script: Script,
    *,
    execution_ms: sql.Composable,
    success: bool,
    kind: str = "migration",
    text: sql.Composable | None = None,
) -> sql.Composed:
    """A plain INSERT of the row for ``script``: it fails if the version has a row.

    A successful row carries :func:`lock_held`, so it cannot be written once
    the lock is gone. ``text`` is an SQL expression for the script's text (the
    executor takes it from the message that carried the file); by default the
    text travels as a literal. Either way the statement goes in one message
    with the migration itself (one round trip per file). Composed from parts
    made once, since this runs for every file.
    """
    return sql.Composed(
        [
            _insert_head(loc),
            sql.Literal(script.version),
            _COMMA,
            sql.Literal(script.name),
            _COMMA,
            sql.Literal(script.checksum),
            _COMMA,
            text if text is not None else sql.Literal(datafile.stored_text(script.up)),
            _COMMA,
            execution_ms,
            _COMMA,
            lock_held(loc) if success else sql.Literal(False),
            _COMMA,
            sql.Literal(kind),
            _CLOSE,
        ]
    )


def finish_query(
    loc: LedgerLocation, version: int, *, execution_ms: sql.Composable
) -> sql.Composed:
    """Mark a no-transaction file's start row done (only while the lock is held)."""
    return sql.SQL(
        "UPDATE {table} SET success = {held}, execution_ms = {ms},"
        " applied_at = pg_catalog.clock_timestamp()"
        " WHERE version = {version} AND NOT success"
    ).format(
        table=loc.identifier(),
        held=lock_held(loc),
        ms=execution_ms,
        version=sql.Literal(version),
    )


def mark_failed(
    conn: Connection[tuple[object, ...]], loc: LedgerLocation, version: int, execution_ms: int
) -> None:
    """Mark a half-done no-transaction file (up or down) failed, with how long it ran."""
    conn.execute(
        sql.SQL(
            "UPDATE {table} SET success = false, execution_ms = {ms} WHERE version = {version}"
        ).format(table=loc.identifier(), ms=sql.Literal(execution_ms), version=sql.Literal(version))
    )


def record(
    conn: Connection[tuple[object, ...]],
    loc: LedgerLocation,
    script: Script,
    *,
    execution_ms: int,
    success: bool,
    kind: str = "migration",
) -> None:
    conn.execute(
        insert_query(
            loc, script, execution_ms=sql.Literal(execution_ms), success=success, kind=kind
        )
    )


def accept_edit(
    conn: Connection[tuple[object, ...]], loc: LedgerLocation, version: int, checksum: str
) -> None:
    """Record that the edited file with ``checksum`` is accepted as applied (it did not run)."""
    conn.execute(
        sql.SQL(
            "UPDATE {table} SET accepted_checksum = {checksum},"
            " accepted_at = pg_catalog.clock_timestamp(), accepted_by = current_user"
            " WHERE version = {version}"
        ).format(
            table=loc.identifier(), checksum=sql.Literal(checksum), version=sql.Literal(version)
        )
    )


def delete_query(loc: LedgerLocation, version: int) -> sql.Composed:
    """Forget a version, proving first that the lock is still held (rollback)."""
    return sql.SQL(
        "UPDATE {table} SET success = {held} WHERE version = {version};"
        " DELETE FROM {table} WHERE version = {version}"
    ).format(table=loc.identifier(), held=lock_held(loc), version=sql.Literal(version))


def delete(conn: Connection[tuple[object, ...]], loc: LedgerLocation, version: int) -> None:
    conn.execute(
        sql.SQL("DELETE FROM {table} WHERE version = {version}").format(
            table=loc.identifier(), version=sql.Literal(version)
        )
    )
