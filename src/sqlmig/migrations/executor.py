"""Run migration files: one transaction per file together with its ledger change.

    prepare(files)            check every file first: each is split by the
        |                     parser; unterminated quotes, files with no
        |                     statements, BEGIN/COMMIT in a transactional file
        |                     and changes to the pinned settings are refused
        v                     before any write
    run_file(conn, file, finish=ledger SQL)
        transactional:   ONE message
                         "BEGIN; <file>; <session reset>; <ledger change>; COMMIT;"
                         (one round trip per file; both commit or neither does)
        no-transaction:  ledger row marked failed first, then each statement in
                         autocommit, then "<session reset>; <ledger change>"

The session reset (:data:`SESSION_RESET`) runs after every file, inside its
transaction and before its ledger write, so each file starts from the
session's initial state, as under ``psql -f`` per file, at no extra round trip.
Every ledger change proves the migration lock is still held (see
:mod:`sqlmig.migrations.ledger`).

A server error becomes :class:`MigrationFailed` with ``file:line:column``, the
SQLSTATE, message, detail, hint, context and an excerpt. Parse and analysis
errors carry a position in the message, which maps straight into the file.
Runtime errors carry none: then the file's statements are re-run one by one in
a transaction that is always rolled back, to find the one that fails (the first
run was rolled back already, so nothing of it stays either way). A broken
connection becomes :class:`ConnectionLost`; the runner then asks the database
what happened. The executor reports nothing itself; callers pass a sink for
progress.
"""

from __future__ import annotations

import time
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING

import psycopg
from psycopg import sql
from psycopg.pq import TransactionStatus

from sqlmig.core.errors import ConnectionLost, MigrationFailed, ScriptError
from sqlmig.migrations import ledger
from sqlmig.migrations import statements as stmts
from sqlmig.migrations.events import Event, Finished, Sink, Started, WaitingForLock
from sqlmig.migrations.files import SqlFile
from sqlmig.migrations.ledger import ELAPSED_MS

if TYPE_CHECKING:
    from psycopg import Connection

#: The ledger change for a file, given its execution time as an SQL expression and,
#: for a transactional file, an expression for its text as the server received it.
Finish = Callable[[sql.Composable, sql.Composable | None], sql.Composed]

__all__ = ["Event", "Finish", "Finished", "Prepared", "Sink", "Started", "WaitingForLock"]

_PREFIX = "BEGIN;\n"
_RECEIVED_HEAD = sql.SQL(
    sql.SQL("pg_catalog.substr(pg_catalog.current_query(), {start}, ")
    .format(start=sql.Literal(len(_PREFIX) + 1))
    .as_string()
)
_CLOSE = sql.SQL(")")

#: Back to the session's initial state, inside a transaction: settings as at
#: connection time (RESET ALL), the session user (no SET ROLE / SESSION
#: AUTHORIZATION), and no temporary tables (which would shadow real ones).
#: Three statements, not DISCARD ALL: that cannot run in a transaction and
#: would release sqlmig's lock.
SESSION_RESET = "SET SESSION AUTHORIZATION DEFAULT; RESET ALL; DISCARD TEMP;\n"


@dataclass(frozen=True)
class Prepared:
    """A file, and its statements (None when the parser cannot read it)."""

    file: SqlFile
    statements: list[stmts.Statement] | None


def display_path(path: Path) -> str:
    """The path as a user would type it: relative to the working directory when inside it."""
    try:
        return str(path.resolve().relative_to(Path.cwd().resolve()))
    except ValueError:
        return str(path)


def prepare(files: Sequence[SqlFile]) -> list[Prepared]:
    """Check every file up front and split it into statements; refuse what cannot run right."""
    prepared, problems = [], []
    for file in files:
        statements = stmts.split(file.body)
        problem = _problem(file, statements)
        if problem is not None:
            offset, text = problem
            line, column = stmts.line_column(file.body, offset)
            problems.append(f"{display_path(file.path)}:{line}:{column}: {text}")
        prepared.append(Prepared(file, statements))
    if problems:
        raise ScriptError("\n".join(problems) + "\nNothing was applied.")
    return prepared


_TX_ADVICE = (
    " inside a migration: sqlmig already runs each file in its own transaction "
    "together with its ledger row. Remove it, or put `-- sqlmig: no-transaction` "
    "on the file's first line."
)
_PINNED_ADVICE = (
    " changes a setting sqlmig pins for the whole run ({names}): its parser and the server "
    "must read every file alike. Remove it (write E'...' strings for backslash escapes)."
)


def _problem(file: SqlFile, statements: list[stmts.Statement] | None) -> tuple[int, str] | None:
    client = stmts.client_side(file.body, statements)
    if client is not None:
        return client
    if statements is None:
        lexical = stmts.lexical_error(file.body)
        if lexical is not None:
            offset, message = lexical
            return offset, f"{message}: the file ends inside it; close it."
        if file.transactional:
            offset_tx = stmts.scanned_transaction_control(file.body)
            if offset_tx is not None:
                word = file.body[offset_tx:].split(None, 1)[0].upper()
                return offset_tx, word + _TX_ADVICE
        return None  # the server may know syntax the parser does not: it decides
    if not statements:
        return 0, (
            "the file has no statements (an untouched scaffold?); write the migration, "
            "or delete the file."
        )
    if file.transactional:
        bad = stmts.transaction_control(statements)
        if bad is not None:
            return bad.offset, bad.text.split()[0].upper() + _TX_ADVICE
    pinned = stmts.pinned_setting_change(file.body, statements)
    if pinned is not None:
        names = ", ".join(f"{k} = {v}" for k, v in stmts.PINNED_SETTINGS.items())
        return pinned.offset, pinned.text.split()[0].upper() + _PINNED_ADVICE.format(names=names)
    return None


def run_file(
    conn: Connection[tuple[object, ...]],
    prepared: Prepared,
    *,
    finish: Finish,
    on_start: sql.Composed | None = None,
    on_failure: Callable[[int, bool], None] | None = None,
    verb: str = "apply",
    on_statement: Callable[[stmts.Statement, int], None] | None = None,
) -> int:
    """Run one file with its ledger change ``finish``; return the wall time in ms.

    Without a transaction, ``on_start`` is executed (and committed) first, so a
    crash midway leaves a trace, and ``on_failure(ms, partial)`` records the
    outcome: ``partial`` is False when nothing can have been committed (a file
    the parser could not split is sent whole, which the server runs as one
    implicit transaction). ``verb`` names the command, for what to do next.
    ``on_statement(statement, ms)`` (verbose runs) times every statement: a
    transactional file then runs in the same single transaction, but one
    statement per round trip.
    """
    started = time.perf_counter()
    if prepared.file.transactional and on_statement is not None:
        _run_statementwise(conn, prepared, finish, verb, on_statement)
        return _ms(started)
    if prepared.file.transactional:
        _run_in_transaction(conn, prepared, finish, verb)
        return _ms(started)

    pid = conn.info.backend_pid
    if on_start is not None:
        try:
            conn.execute(on_start)
        except psycopg.Error as exc:
            raise _ledger_failure(conn, prepared.file, exc, verb, ran=False) from exc
    whole = prepared.statements is None
    statements = prepared.statements or [stmts.Statement(0, prepared.file.body)]
    cur = conn.cursor()
    for statement in statements:
        began = time.perf_counter()
        try:
            cur.execute(statement.text, prepare=False)
        except psycopg.Error as exc:
            if conn.broken:
                raise _lost(prepared.file, pid, statement.offset, verb) from exc
            if conn.info.transaction_status != TransactionStatus.IDLE:
                conn.execute("ROLLBACK")  # the file's own BEGIN block, now aborted
            if on_failure:
                on_failure(_ms(started), not whole)
            offset = statement.offset + _position(exc)
            extra = _invalid_indexes(conn, statement)
            raise _failure(
                prepared.file, exc, offset, rolled_back=whole, verb=verb, extra=extra
            ) from exc
        if on_statement is not None:
            on_statement(statement, _ms(began))
    if conn.info.transaction_status != TransactionStatus.IDLE:
        conn.execute("ROLLBACK")
        if on_failure:
            on_failure(_ms(started), True)
        raise MigrationFailed(
            f"{display_path(prepared.file.path)}: the file left a transaction open (BEGIN "
            "without COMMIT); sqlmig rolled that transaction back. Statements before its "
            "BEGIN stay applied and the ledger marks the file failed. End the block with "
            "COMMIT, check the database by hand, then run `sqlmig repair`.",
            path=display_path(prepared.file.path),
        )
    elapsed = _ms(started)
    try:
        conn.execute(sql.SQL(SESSION_RESET) + finish(sql.Literal(elapsed), None))
    except psycopg.Error as exc:
        if conn.broken:
            raise _lost(prepared.file, pid, len(prepared.file.body), verb) from exc
        raise _ledger_failure(conn, prepared.file, exc, verb, ran=True) from exc
    return elapsed


def _run_in_transaction(
    conn: Connection[tuple[object, ...]], prepared: Prepared, finish: Finish, verb: str
) -> None:
    body = prepared.file.body
    pid = conn.info.backend_pid
    # "\n;" ends a last statement that lacks its semicolon or sits after a "--" comment.
    # The ledger takes the file's text from the message itself (current_query()),
    # so the text travels once and is what the server received; substr counts
    # characters, which match Python's only in a UTF-8 database.
    text = None
    if conn.info.parameter_status("server_encoding") == "UTF8":
        text = sql.Composed([_RECEIVED_HEAD, sql.Literal(len(body)), _CLOSE])
    message = (
        _PREFIX
        + body
        + "\n;\n"
        + SESSION_RESET
        + finish(ELAPSED_MS, text).as_string(conn)
        + ";\nCOMMIT;"
    )
    try:
        # Migration text is trusted input by design; without parameters psycopg
        # sends it as-is with the simple protocol, several statements and '%' included.
        conn.execute(message, prepare=False)
    except psycopg.Error as exc:
        if conn.broken:
            raise _lost(prepared.file, pid, None, verb) from exc
        if conn.info.transaction_status != TransactionStatus.IDLE:
            conn.execute("ROLLBACK")
        if ledger.is_ledger_error(exc):
            raise _ledger_failure(conn, prepared.file, exc, verb, ran=False) from exc
        position = exc.diag.statement_position
        if position:
            offset = int(position) - 1 - len(_PREFIX)
            if not 0 <= offset <= len(body):
                parsed = stmts.parse_error(body)
                if parsed is not None:  # the file's own syntax error, seen past its end
                    raise _failure(
                        prepared.file,
                        exc,
                        parsed[0],
                        rolled_back=True,
                        verb=verb,
                        message=parsed[1],
                    ) from exc
                raise _ledger_failure(conn, prepared.file, exc, verb, ran=True) from exc
            raise _failure(prepared.file, exc, offset, rolled_back=True, verb=verb) from exc
        located = _locate(conn, prepared, exc)
        if located is None:
            raise _failure(prepared.file, exc, None, rolled_back=True, verb=verb) from exc
        offset, replayed = located
        raise _failure(prepared.file, replayed, offset, rolled_back=True, verb=verb) from exc


def _run_statementwise(
    conn: Connection[tuple[object, ...]],
    prepared: Prepared,
    finish: Finish,
    verb: str,
    on_statement: Callable[[stmts.Statement, int], None],
) -> None:
    """A transactional file one statement per round trip (verbose), still one transaction."""
    file = prepared.file
    pid = conn.info.backend_pid
    started = time.perf_counter()
    cur = conn.cursor()
    conn.execute("BEGIN")
    statements = prepared.statements or [stmts.Statement(0, file.body)]
    try:
        for statement in statements:
            began = time.perf_counter()
            try:
                cur.execute(statement.text, prepare=False)
            except psycopg.Error as exc:
                if conn.broken:
                    raise _lost(file, pid, None, verb) from exc
                offset = statement.offset + _position(exc)
                raise _failure(file, exc, offset, rolled_back=True, verb=verb) from exc
            on_statement(statement, _ms(began))
        try:
            conn.execute(sql.SQL(SESSION_RESET) + finish(sql.Literal(_ms(started)), None))
        except psycopg.Error as exc:
            if conn.broken:
                raise _lost(file, pid, None, verb) from exc
            raise _ledger_failure(conn, file, exc, verb, ran=True) from exc
        try:
            conn.execute("COMMIT")
        except psycopg.Error as exc:  # e.g. a deferred constraint
            if conn.broken:
                raise _lost(file, pid, None, verb) from exc
            raise _failure(file, exc, None, rolled_back=True, verb=verb) from exc
    finally:
        if not conn.broken and conn.info.transaction_status != TransactionStatus.IDLE:
            conn.execute("ROLLBACK")


def _lost(file: SqlFile, pid: int, offset: int | None, verb: str) -> ConnectionLost:
    """The connection broke while ``file`` ran; the runner asks the database what stuck."""
    where = display_path(file.path)
    if offset is not None and not file.transactional:
        line, column = stmts.line_column(file.body, offset)
        where += f":{line}:{column}"
    return ConnectionLost(
        f"{where}: the connection to the server was lost while {file.path.name} ran.",
        path=display_path(file.path),
        backend_pid=pid,
        transactional=file.transactional,
        verb=verb,
    )


def _ledger_failure(
    conn: Connection[tuple[object, ...]],
    file: SqlFile,
    exc: psycopg.Error,
    verb: str,
    *,
    ran: bool,
) -> MigrationFailed:
    """The ledger write of ``file`` failed: lock lost, a concurrent row, or anything else."""
    path = display_path(file.path)
    name = file.path.name
    primary = exc.diag.message_primary or str(exc).strip()
    if file.transactional:
        outcome = f"{name} was rolled back: nothing of it was applied."
    elif ran:
        outcome = (
            f"{name} runs without a transaction: its statements ran and stay applied, "
            "but the ledger still marks it failed. Check the database, then run `sqlmig repair`."
        )
    else:
        outcome = f"{name} did not start: nothing of it ran."
    if ledger.is_lock_lost(exc):
        text = (
            f"{path}: sqlmig's migration lock was released while {name} ran "
            "(pg_advisory_unlock_all(), pg_advisory_unlock(...) or DISCARD ALL in the file?), so "
            f"another runner may be running it now; sqlmig stops. {outcome} "
            "Remove the call from the file, then run `sqlmig " + verb + "` again."
        )
    elif ledger.is_duplicate_row(exc):
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
        detail=exc.diag.message_detail,
        hint=exc.diag.message_hint,
    )


def _invalid_indexes(conn: Connection[tuple[object, ...]], statement: stmts.Statement) -> str:
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


def _locate(
    conn: Connection[tuple[object, ...]], prepared: Prepared, error: psycopg.Error
) -> tuple[int, psycopg.Error] | None:
    """Find the failing statement by re-running the file's statements, then rolling back."""
    statements = prepared.statements or stmts.split(prepared.file.body)
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
                        found = (statement.offset + _position(exc), exc)
                    break
    except psycopg.Error:
        return None
    return found


def _position(error: psycopg.Error) -> int:
    """The 0-based character offset the server reported within the statement, or 0."""
    position = error.diag.statement_position
    return int(position) - 1 if position else 0


def _ms(started: float) -> int:
    return round((time.perf_counter() - started) * 1000)


def _failure(
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
    line, column = stmts.line_column(file.body, offset or 0)
    path = display_path(file.path)
    sqlstate = error.sqlstate
    primary = message or diag.message_primary or str(error).strip()
    where = f"{path}:{line}:{column}: " if offset is not None else f"{path}: "
    parts = [where + (f"ERROR {sqlstate}: " if sqlstate else "") + primary]
    for label, value in (
        ("DETAIL", diag.message_detail),
        ("HINT", diag.message_hint),
        ("CONTEXT", diag.context),
    ):
        if value:
            parts.append(f"  {label}: {value.strip()}")
    if sqlstate == "25001":  # active_sql_transaction: e.g. CREATE INDEX CONCURRENTLY
        parts.append(
            "  sqlmig: this statement cannot run inside a transaction; put "
            "`-- sqlmig: no-transaction` on the file's first line (and keep such files small)."
        )
    if extra:
        parts.append(extra)
    if offset is not None:
        parts.append(stmts.excerpt(file.body, line, column))
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
        detail=diag.message_detail,
        hint=diag.message_hint,
    )
