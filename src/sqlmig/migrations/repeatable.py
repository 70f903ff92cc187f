"""Repeatable migrations: ``R-<name>.sql`` files (views, functions, grants) that run again
whenever their text changes, after the versioned migrations, in name order.

    load(dir, scripts) ─▶ Repeatable per file ─▶ plan.build_plan (states, with read())
        ─▶ run.repeatable_steps ─▶ executor.run_file with finish_query (one message:
           file; session reset; this table's row; history row; COMMIT)

All SQL of the repeatable table lives here. The ledger's key is the bigint
version, so repeatables keep their state beside it, one row per name, in
``<ledger>_repeatable`` (see :class:`~sqlmig.core.config.LedgerLocation`):
``checksum``, ``script`` (the exact text that last committed), who, when
and how long; ``success`` is
whether the last run committed, and a failed run leaves its checksum and time
in ``failed_checksum`` / ``failed_at`` (the text that committed before stays).

Exactly once: runs are serialised by the migration lock, and the plan is read
under it. The row write also proves it: it carries the ledger's lock-held
check, and it updates the row only if its checksum is still the one the plan
read (else it inserts, which meets the primary key and rolls the file back).
"""

from __future__ import annotations

import os
from dataclasses import dataclass
from datetime import datetime
from pathlib import Path
from typing import TYPE_CHECKING

import psycopg
from psycopg import sql
from psycopg.pq import TransactionStatus

from sqlmig.core.config import LedgerLocation
from sqlmig.core.errors import ConnectionLost, ScriptError
from sqlmig.migrations.files import REPEATABLE_NAME, Script, join_problems, read_sql
from sqlmig.migrations.lock import lock_held

if TYPE_CHECKING:
    from psycopg import Connection

#: The table's suffix beside the ledger (``<ledger>_repeatable``).
SUFFIX = "repeatable"


def _table(loc: LedgerLocation) -> sql.Identifier:
    return loc.identifier(loc.sibling(SUFFIX))


#: A repeatable has no version; -1 fits no file name (the history row's version is NULL).
NO_VERSION = -1


@dataclass(frozen=True)
class Repeatable(Script):
    """``R-<name>.sql``: a :class:`Script` (the run loop, events and renderers take it)
    whose version is :data:`NO_VERSION` and which never has a down file."""


@dataclass(frozen=True)
class RepeatableRow:
    name: str
    checksum: str | None  # of the text that last committed (None: none has yet)
    applied_at: datetime | None
    applied_by: str | None
    execution_ms: int
    success: bool  # did the last run commit?
    failed_checksum: str | None = None  # the last failed run's text (None after a success)
    failed_at: datetime | None = None


def load(directory: Path, scripts: list[Script]) -> list[Repeatable]:
    """The folder's repeatables in name order; ``requires`` must name versioned files.

    Call after :func:`~sqlmig.migrations.files.load_scripts`, which has checked the
    folder (dangling links, ``R-x.down.sql``)."""
    try:
        with os.scandir(directory) as listing:
            found = sorted(e.name for e in listing if not e.is_dir())
    except OSError:
        return []  # load_scripts reported it already
    problems: list[str] = []
    by_name: dict[str, list[Path]] = {}
    for filename in found:
        match = REPEATABLE_NAME.match(filename)
        if filename.startswith(".") or match is None or match["down"]:
            continue
        by_name.setdefault(match["name"], []).append(directory / filename)
    versions = {s.version for s in scripts}
    repeatables = []
    for name, paths in sorted(by_name.items()):
        if len(paths) > 1:
            problems.append(
                f"repeatable {name!r} is defined by more than one file: "
                f"{', '.join(str(p) for p in paths)}; keep one of them."
            )
            continue
        up = read_sql(paths[0], problems)
        if up is None:
            continue
        problems += [
            f"{up.path}: requires version {needed}, but no migration file has it; "
            "add that file, or fix the `-- sqlmig: requires` line."
            for needed in up.requires
            if needed not in versions
        ]
        repeatables.append(Repeatable(NO_VERSION, name, up))
    if problems:
        raise ScriptError(join_problems(problems))
    return repeatables


def _exists(conn: Connection[tuple[object, ...]], loc: LedgerLocation) -> bool:
    row = conn.execute(
        "SELECT pg_catalog.to_regclass(%s) IS NOT NULL", (loc.regclass(loc.sibling(SUFFIX)),)
    ).fetchone()
    return bool(row and row[0])


def ensure(conn: Connection[tuple[object, ...]], loc: LedgerLocation) -> None:
    """Create the table if missing (hold the migration lock)."""
    if _exists(conn, loc):
        return
    conn.execute(
        sql.SQL(
            """
            CREATE TABLE {table} (
                name            text        PRIMARY KEY,
                checksum        text,
                script          text,
                applied_at      timestamptz,
                applied_by      text,
                execution_ms    integer     NOT NULL DEFAULT 0,
                success         boolean     NOT NULL,
                failed_checksum text,
                failed_at       timestamptz
            );
            COMMENT ON TABLE {table} IS
                'sqlmig repeatable migrations: one row per R- file, with the text that last ran';
            """
        ).format(table=_table(loc))
    )


_COLUMNS = sql.SQL(
    "name, checksum, applied_at, applied_by, execution_ms, success, failed_checksum, failed_at"
)


def read(conn: Connection[tuple[object, ...]], loc: LedgerLocation) -> list[RepeatableRow]:
    """Every row, by name; [] when the table does not exist yet."""
    if not _exists(conn, loc):
        return []
    cur = conn.execute(
        sql.SQL("SELECT {columns} FROM {table} ORDER BY name").format(
            columns=_COLUMNS, table=_table(loc)
        )
    )
    return [RepeatableRow(*row) for row in cur]  # type: ignore[arg-type]


def applied_script(
    conn: Connection[tuple[object, ...]], loc: LedgerLocation, name: str
) -> str | None:
    """The text that last committed for ``name`` (None: none has)."""
    if not _exists(conn, loc):
        return None
    row = conn.execute(
        sql.SQL("SELECT script FROM {table} WHERE name = %s").format(table=_table(loc)),
        (name,),
    ).fetchone()
    return None if row is None or row[0] is None else str(row[0])


def finish_query(
    loc: LedgerLocation,
    rep: Repeatable,
    before: str | None,
    *,
    execution_ms: sql.Composable,
    text: sql.Composable | None = None,
) -> sql.Composed:
    """Record a run that committed: update the row the plan read (its checksum still
    ``before``), else insert one, which fails on the key if another runner wrote it.

    ``text`` is the executor's expression for the file's text (default: a literal);
    it appears once, so the executor may bind it as a parameter."""
    return sql.SQL(
        "WITH src (script) AS (SELECT {text}::text),"
        " prior AS (UPDATE {table} SET checksum = {checksum}, script = (SELECT script FROM src),"
        " applied_at = pg_catalog.clock_timestamp(), applied_by = current_user,"
        " execution_ms = {ms}, success = {held}, failed_checksum = NULL, failed_at = NULL"
        " WHERE name = {name} AND checksum IS NOT DISTINCT FROM {before} RETURNING 1)"
        " INSERT INTO {table} (name, checksum, script, applied_at, applied_by, execution_ms,"
        " success) SELECT {name}, {checksum}, src.script, pg_catalog.clock_timestamp(),"
        " current_user, {ms}, {held} FROM src WHERE NOT EXISTS (SELECT FROM prior)"
    ).format(
        text=text if text is not None else sql.Literal(rep.body),
        table=_table(loc),
        checksum=sql.Literal(rep.checksum),
        ms=execution_ms,
        held=lock_held(loc),
        name=sql.Literal(rep.name),
        before=sql.Literal(before),
    )


def failed_query(loc: LedgerLocation, rep: Repeatable, execution_ms: int = 0) -> sql.Composed:
    """Mark ``rep``'s last run failed; the text that committed before stays in the row.

    A no-transaction file's start marker too (committed before it runs), so a
    crash midway leaves it failed, and the next ``apply`` runs it again."""
    return sql.SQL(
        "INSERT INTO {table} AS t (name, execution_ms, success, failed_checksum, failed_at)"
        " VALUES ({name}, {ms}, false, {checksum}, pg_catalog.clock_timestamp())"
        " ON CONFLICT (name) DO UPDATE SET success = false,"
        " failed_checksum = EXCLUDED.failed_checksum, failed_at = EXCLUDED.failed_at"
    ).format(
        table=_table(loc),
        name=sql.Literal(rep.name),
        ms=sql.Literal(execution_ms),
        checksum=sql.Literal(rep.checksum),
    )


def mark_failed(
    conn: Connection[tuple[object, ...]], loc: LedgerLocation, rep: Repeatable, execution_ms: int
) -> None:
    """After a failed run (its transaction rolled back): best effort, autocommit; the
    file's own error is what the user must see."""
    if conn.broken or conn.info.transaction_status != TransactionStatus.IDLE:
        return
    try:
        conn.execute(failed_query(loc, rep, execution_ms))
    except psycopg.Error:
        if not conn.broken and conn.info.transaction_status != TransactionStatus.IDLE:
            conn.execute("ROLLBACK")


def lost(loc: LedgerLocation, rep: Repeatable, broken: ConnectionLost) -> ConnectionLost:
    """The connection broke while ``rep`` ran: what is known, and how to find out."""
    if broken.transactional:
        truth = (
            f"{rep.filename} commits together with its row in {loc.schema}.{loc.sibling(SUFFIX)}: "
            "`sqlmig status` shows whether it did. Run `sqlmig apply` again either way "
            "(a repeatable that did not commit runs again)."
        )
    else:
        truth = (
            f"{rep.filename} runs without a transaction: what ran before the break stays, "
            "and it is marked failed. Check the database, then run `sqlmig apply` (it runs again)."
        )
    return ConnectionLost(
        f"{broken}\n{truth}",
        path=broken.path,
        backend_pid=broken.backend_pid,
        transactional=broken.transactional,
        verb=broken.verb,
    )
