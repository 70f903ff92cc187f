"""Run migration files: one transaction per file together with its ledger change.

    prepare(files)            check every file first (BEGIN/COMMIT inside a
        |                     transactional file is refused before any write)
        v
    run_file(conn, file, finish=ledger SQL)
        transactional:   ONE message  "BEGIN; <file>; <ledger change>; COMMIT;"
                         (one round trip per file; both commit or neither does)
        no-transaction:  ledger row marked failed first, then each statement in
                         autocommit, then the ledger change

A server error becomes :class:`MigrationFailed` with ``file:line:column``, the
SQLSTATE, message, detail, hint, context and an excerpt. Parse and analysis
errors carry a position in the message, which maps straight into the file.
Runtime errors carry none: then the file's statements are re-run one by one in
a transaction that is always rolled back, to find the one that fails (the first
run was rolled back already, so nothing of it stays either way). The executor
reports nothing itself; callers pass a sink for progress.
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

from . import statements as stmts
from .errors import MigrationFailed, ScriptError
from .ledger import ELAPSED_MS
from .scripts import Script, SqlFile

if TYPE_CHECKING:
    from psycopg import Connection

#: The ledger change for a file, given its execution time as an SQL expression.
Finish = Callable[[sql.Composable], sql.Composed]

_PREFIX = "BEGIN;\n"


@dataclass(frozen=True)
class Prepared:
    """A file, and its statements when they had to be split (None otherwise)."""

    file: SqlFile
    statements: list[stmts.Statement] | None


@dataclass(frozen=True)
class Started:
    script: Script
    index: int
    total: int


@dataclass(frozen=True)
class Finished:
    script: Script
    index: int
    total: int
    execution_ms: int


@dataclass(frozen=True)
class WaitingForLock:
    """Another runner holds the migration lock; this one waits up to ``timeout_s``."""

    timeout_s: float


Event = Started | Finished | WaitingForLock
Sink = Callable[[Event], None]


def display_path(path: Path) -> str:
    """The path as a user would type it: relative to the working directory when inside it."""
    try:
        return str(path.resolve().relative_to(Path.cwd().resolve()))
    except ValueError:
        return str(path)


def prepare(files: Sequence[SqlFile]) -> list[Prepared]:
    """Check every file up front; split those that run statement by statement."""
    prepared, problems = [], []
    for file in files:
        statements = None
        if not file.transactional or stmts.may_control_transactions(file.body):
            statements = stmts.split(file.body)
        if statements is not None and file.transactional:
            bad = stmts.transaction_control(statements)
            if bad is not None:
                line, column = stmts.line_column(file.body, bad.offset)
                problems.append(
                    f"{display_path(file.path)}:{line}:{column}: {bad.text.split()[0].upper()} "
                    "inside a migration: sqlmig already runs each file in its own transaction "
                    "together with its ledger row. Remove it, or put `-- sqlmig: no-transaction` "
                    "on the file's first line."
                )
        prepared.append(Prepared(file, statements))
    if problems:
        raise ScriptError("\n".join(problems) + "\nNothing was applied.")
    return prepared


def run_file(
    conn: Connection[tuple[object, ...]],
    prepared: Prepared,
    *,
    finish: Finish,
    on_start: sql.Composed | None = None,
    on_failure: Callable[[int, bool], None] | None = None,
) -> int:
    """Run one file with its ledger change ``finish``; return the wall time in ms.

    Without a transaction, ``on_start`` is executed (and committed) first, so a
    crash midway leaves a trace, and ``on_failure(ms, partial)`` records the
    outcome: ``partial`` is False when nothing can have been committed (a file
    the parser could not split is sent whole, which the server runs as one
    implicit transaction).
    """
    started = time.perf_counter()
    if prepared.file.transactional:
        _run_in_transaction(conn, prepared, finish)
        return _ms(started)

    if on_start is not None:
        conn.execute(on_start)
    statements = prepared.statements or [stmts.Statement(0, prepared.file.body)]
    cur = conn.cursor()
    for statement in statements:
        try:
            cur.execute(statement.text, prepare=False)
        except psycopg.Error as exc:
            partial = prepared.statements is not None
            if on_failure and not conn.broken:
                on_failure(_ms(started), partial)
            offset = statement.offset + _position(exc)
            raise _failure(prepared.file, exc, offset, rolled_back=not partial) from exc
    elapsed = _ms(started)
    conn.execute(finish(sql.Literal(elapsed)))
    return elapsed


def _run_in_transaction(
    conn: Connection[tuple[object, ...]], prepared: Prepared, finish: Finish
) -> None:
    body = prepared.file.body
    # "\n;" ends a last statement that lacks its semicolon or sits after a "--" comment.
    message = _PREFIX + body + "\n;\n" + finish(ELAPSED_MS).as_string(conn) + ";\nCOMMIT;"
    try:
        # Migration text is trusted input by design; without parameters psycopg
        # sends it as-is with the simple protocol, several statements and '%' included.
        conn.execute(message, prepare=False)
    except psycopg.Error as exc:
        if not conn.broken and conn.info.transaction_status != TransactionStatus.IDLE:
            conn.execute("ROLLBACK")
        position = exc.diag.statement_position
        if position:
            offset = int(position) - 1 - len(_PREFIX)
            if not 0 <= offset <= len(body):
                raise MigrationFailed(
                    f"{prepared.file.path.name} ran, but recording it in the ledger failed, so "
                    f"it was rolled back: {exc.diag.message_primary or exc}"
                ) from exc
            raise _failure(prepared.file, exc, offset, rolled_back=True) from exc
        located = None if conn.broken else _locate(conn, prepared, exc)
        if located is None:
            raise _failure(prepared.file, exc, None, rolled_back=True) from exc
        offset, replayed = located
        raise _failure(prepared.file, replayed, offset, rolled_back=True) from exc


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
    file: SqlFile, error: psycopg.Error, offset: int | None, *, rolled_back: bool
) -> MigrationFailed:
    diag = error.diag
    line, column = stmts.line_column(file.body, offset or 0)
    path = display_path(file.path)
    sqlstate = error.sqlstate
    primary = diag.message_primary or str(error).strip()
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
    if offset is not None:
        parts.append(stmts.excerpt(file.body, line, column))
    else:
        parts.append("  (the failing statement could not be located: re-running it did not fail)")
    conn_lost = sqlstate is None and isinstance(error, psycopg.OperationalError)
    if conn_lost:
        parts.append("The connection to the server was lost while this file ran.")
    if rolled_back:
        parts.append(
            f"{file.path.name} was rolled back: nothing of it was applied, and later files "
            "did not run. Fix the file, then run `sqlmig apply` again."
        )
    else:
        parts.append(
            f"{file.path.name} runs without a transaction: statements before line {line} "
            "stay applied"
            + ("" if conn_lost else " and the ledger marks it failed")
            + ". Finish or undo it by hand, then run `sqlmig repair` and `sqlmig apply`."
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
