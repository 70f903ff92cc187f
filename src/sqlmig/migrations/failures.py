"""What a failed file reports: where (file:line:column), the server's own words, and the
truth about what stayed applied, with what to do next.

A server error becomes :class:`MigrationFailed`; a broken connection
:class:`ConnectionLost` (the runner then asks the database what stuck, see
:mod:`sqlmig.migrations.lost`). Runtime errors carry no position: :func:`locate`
re-runs the file's statements in a transaction that is always rolled back.
"""

from __future__ import annotations

from typing import TYPE_CHECKING

import psycopg
from psycopg import sql

from sqlmig.core.errors import ConnectionLost, MigrationFailed
from sqlmig.core.paths import display_path
from sqlmig.migrations import ledger, templates
from sqlmig.migrations import statements as stmts
from sqlmig.migrations.files import SqlFile

if TYPE_CHECKING:
    from psycopg import Connection

    from sqlmig.core.config import LedgerLocation


def lost_connection(file: SqlFile, pid: int, offset: int | None, verb: str) -> ConnectionLost:
    """The connection broke while ``file`` ran; the runner asks the database what stuck."""
    where = display_path(file.path)
    if offset is not None and not file.transactional:
        line, column = templates.location(file, offset)
        where += f":{line}:{column}"
    return ConnectionLost(
        f"{where}: the connection to the server was lost while {file.path.name} ran.",
        path=display_path(file.path),
        backend_pid=pid,
        transactional=file.transactional,
        verb=verb,
    )


def ledger_failure(
    conn: Connection[tuple[object, ...]],
    loc: LedgerLocation,
    file: SqlFile,
    exc: psycopg.Error,
    verb: str,
    *,
    ran: bool,
) -> MigrationFailed:
    """The ledger write of ``file`` failed: lock lost, a concurrent row, or anything else."""
    path = display_path(file.path)
    name = file.path.name
    primary = templates.mask(file, exc.diag.message_primary or str(exc).strip())
    if file.transactional:
        outcome = f"{name} was rolled back: nothing of it was applied."
    elif ran:
        outcome = (
            f"{name} runs without a transaction: its statements ran and stay applied, "
            "but the ledger still marks it failed. Check the database, then run `sqlmig repair`."
        )
    else:
        outcome = f"{name} did not start: nothing of it ran."
    if ledger.is_lock_lost(exc, loc):
        text = (
            f"{path}: sqlmig's migration lock was released while {name} ran "
            "(pg_advisory_unlock_all(), pg_advisory_unlock(...) or DISCARD ALL in the file?), so "
            f"another runner may be running it now; sqlmig stops. {outcome} "
            "Remove the call from the file, then run `sqlmig " + verb + "` again."
        )
    elif ledger.is_duplicate_row(exc, loc):
        text = (
            f"{path}: another runner recorded version {name.split('-', 1)[0]} at the same time "
            f"(it must have taken the migration lock while this one lost it); sqlmig stops. "
            f"{outcome} Run `sqlmig status` to see the ledger."
        )
    else:
        action = "recording it in" if verb == "apply" else "updating"
        text = (
            f"{path}: {name} ran, but {action} the ledger failed: ERROR {exc.sqlstate}: "
            f"{primary}. {outcome}"
        )
    return MigrationFailed(
        text,
        path=path,
        sqlstate=exc.sqlstate,
        server_message=primary,
        detail=_masked(file, exc.diag.message_detail),
        hint=_masked(file, exc.diag.message_hint),
    )


def _masked(file: SqlFile, text: str | None) -> str | None:
    return None if text is None else templates.mask(file, text)


def invalid_indexes(conn: Connection[tuple[object, ...]], statement: stmts.Statement) -> str:
    """After a failed CREATE INDEX CONCURRENTLY: the INVALID index it left, and its cure."""
    target = stmts.concurrent_index(statement)
    if target is None or conn.broken:
        return ""
    schema, table, index = target
    relation = (sql.Identifier(schema, table) if schema else sql.Identifier(table)).as_string(conn)
    cur = conn.execute(
        "SELECT i.indexrelid::pg_catalog.regclass::text FROM pg_catalog.pg_index i"
        " JOIN pg_catalog.pg_class c ON c.oid = i.indexrelid"
        " WHERE NOT i.indisvalid AND i.indrelid = pg_catalog.to_regclass(%s)"
        " AND (%s::text IS NULL OR c.relname = %s)",
        (relation, index, index),
    )
    names = [str(name) for (name,) in cur]
    if not names:
        return ""
    drops = " ".join(f"DROP INDEX CONCURRENTLY {name};" for name in names)
    return (
        f"  sqlmig: CREATE INDEX CONCURRENTLY left the INVALID index {', '.join(names)}; "
        f"clear it with: {drops}"
    )


def locate(
    conn: Connection[tuple[object, ...]],
    file: SqlFile,
    statements: list[stmts.Statement] | None,
    error: psycopg.Error,
) -> tuple[int, psycopg.Error] | None:
    """Find the failing statement by re-running the file's statements, then rolling back."""
    statements = statements or stmts.split(file.body)
    if not statements:
        return None
    cur = conn.cursor()
    found: tuple[int, psycopg.Error] | None = None
    try:
        with conn.transaction(force_rollback=True):
            for statement in statements:
                try:
                    cur.execute(statement.text, prepare=False)
                except psycopg.Error as exc:
                    if exc.sqlstate == error.sqlstate:
                        found = (statement.offset + position(exc), exc)
                    break
    except psycopg.Error:
        return None
    return found


def position(error: psycopg.Error) -> int:
    """The 0-based character offset the server reported within the statement, or 0."""
    position = error.diag.statement_position
    return int(position) - 1 if position else 0


def failure(
    file: SqlFile,
    error: psycopg.Error,
    offset: int | None,
    *,
    rolled_back: bool,
    verb: str = "apply",
    extra: str = "",
    message: str | None = None,
) -> MigrationFailed:
    diag = error.diag
    line, column = templates.location(file, offset or 0)
    path = display_path(file.path)
    sqlstate = error.sqlstate
    primary = templates.mask(file, message or diag.message_primary or str(error).strip())
    where = f"{path}:{line}:{column}: " if offset is not None else f"{path}: "
    parts = [where + (f"ERROR {sqlstate}: " if sqlstate else "") + primary]
    for label, value in (
        ("DETAIL", diag.message_detail),
        ("HINT", diag.message_hint),
        ("CONTEXT", diag.context),
    ):
        if value:
            parts.append(f"  {label}: {templates.mask(file, value.strip())}")
    if sqlstate == "25001":  # active_sql_transaction: e.g. CREATE INDEX CONCURRENTLY
        parts.append(
            "  sqlmig: this statement cannot run inside a transaction; put "
            "`-- sqlmig: no-transaction` on the file's first line (and keep such files small)."
        )
    if extra:
        parts.append(extra)
    if offset is not None:
        parts.append(templates.excerpt(file, line, column))
    else:
        parts.append("  (the failing statement could not be located: re-running it did not fail)")
    again = "sqlmig apply" if verb == "apply" else "sqlmig rollback"
    if rolled_back:
        parts.append(
            f"{file.path.name} was rolled back: nothing of it was applied, and later files "
            f"did not run. Fix the file, then run `{again}` again."
        )
    else:
        undo = (
            "Finish or undo it by hand, then run `sqlmig repair` and `sqlmig apply`."
            if verb == "apply"
            else "Finish undoing it by hand; `sqlmig repair` then forgets its ledger row."
        )
        parts.append(
            f"{file.path.name} runs without a transaction: statements before line {line} "
            f"stay applied and the ledger marks it failed. {undo}"
        )
    return MigrationFailed(
        "\n".join(parts),
        path=path,
        line=line if offset is not None else 0,
        column=column if offset is not None else 0,
        sqlstate=sqlstate,
        server_message=primary,
        detail=_masked(file, diag.message_detail),
        hint=_masked(file, diag.message_hint),
    )
