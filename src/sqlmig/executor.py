"""Run migration files: one transaction per file together with its ledger change.

    prepare(scripts)            split every file first: problems stop the run
        |                       before the first write
        v
    run_file(conn, file, ...)   BEGIN; statements...; ledger change; COMMIT
                                (no-transaction files: ledger row marked failed
                                first, statements in autocommit, then success)

Errors become :class:`MigrationFailed` with ``file:line:column``, the SQLSTATE,
the server's message, detail, hint and context, and an excerpt of the file.
The executor reports progress through an injected sink; it prints nothing.
"""

from __future__ import annotations

import time
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING

import psycopg

from . import statements as stmts
from .errors import MigrationFailed, ScriptError
from .scripts import Script, SqlFile

if TYPE_CHECKING:
    from psycopg import Connection


@dataclass(frozen=True)
class Prepared:
    """A file split into statements (None: send whole, the parser rejected it)."""

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


Event = Started | Finished
Sink = Callable[[Event], None]


def display_path(path: Path) -> str:
    """The path as a user would type it: relative to the working directory when inside it."""
    try:
        return str(path.resolve().relative_to(Path.cwd().resolve()))
    except ValueError:
        return str(path)


def prepare(files: Sequence[SqlFile]) -> list[Prepared]:
    """Split every file up front, refusing transaction control in transactional files."""
    prepared, problems = [], []
    for file in files:
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
    on_success: Callable[[int], None],
    on_start: Callable[[], None] | None = None,
    on_failure: Callable[[int, bool], None] | None = None,
) -> int:
    """Run one file; ``on_success(ms)`` writes its ledger change in the same transaction.

    Without a transaction, ``on_start`` runs (and commits) first, so that a crash
    midway leaves a trace, and ``on_failure(ms, partial)`` records the outcome:
    ``partial`` is False when nothing can have been committed (the file was
    sent whole, which the server runs as one implicit transaction).
    """
    file = prepared.file
    started = time.perf_counter()
    if file.transactional:
        try:
            with conn.transaction():
                _execute(conn, prepared)
                elapsed = _ms(started)
                on_success(elapsed)
        except _StatementError as exc:
            raise _failure(prepared, exc, rolled_back=True) from exc.error
        return elapsed

    if on_start:
        on_start()
    try:
        _execute(conn, prepared)
    except _StatementError as exc:
        partial = prepared.statements is not None
        if on_failure and not conn.broken:
            on_failure(_ms(started), partial)
        raise _failure(prepared, exc, rolled_back=not partial) from exc.error
    elapsed = _ms(started)
    on_success(elapsed)
    return elapsed


class _StatementError(Exception):
    def __init__(self, error: psycopg.Error, statement: stmts.Statement) -> None:
        self.error, self.statement = error, statement


def _execute(conn: Connection[tuple[object, ...]], prepared: Prepared) -> None:
    body = prepared.file.body
    statements = prepared.statements
    if statements is None:
        statements = [stmts.Statement(0, body)]
    cur = conn.cursor()
    for statement in statements:
        try:
            # Migration text is the trusted input by design; without parameters
            # psycopg sends it as-is (simple protocol), '%' included.
            cur.execute(statement.text, prepare=False)
        except psycopg.Error as exc:
            raise _StatementError(exc, statement) from exc


def _ms(started: float) -> int:
    return round((time.perf_counter() - started) * 1000)


def _failure(prepared: Prepared, exc: _StatementError, *, rolled_back: bool) -> MigrationFailed:
    file, error, statement = prepared.file, exc.error, exc.statement
    diag = error.diag
    offset = statement.offset
    if diag.statement_position:
        offset += int(diag.statement_position) - 1
    line, column = stmts.line_column(file.body, offset)
    path = display_path(file.path)
    sqlstate = error.sqlstate
    primary = diag.message_primary or str(error).strip()
    head = f"{path}:{line}:{column}: " + (f"ERROR {sqlstate}: " if sqlstate else "") + primary
    parts = [head]
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
    parts.append(stmts.excerpt(file.body, line, column))
    if conn_lost := (sqlstate is None and isinstance(error, psycopg.OperationalError)):
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
        line=line,
        column=column,
        sqlstate=sqlstate,
        server_message=primary,
        detail=diag.message_detail,
        hint=diag.message_hint,
    )
