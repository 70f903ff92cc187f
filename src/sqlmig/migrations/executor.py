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
from typing import TYPE_CHECKING

import psycopg
from psycopg import sql
from psycopg.pq import TransactionStatus

from sqlmig.core.config import LedgerLocation
from sqlmig.core.errors import MigrationFailed, ScriptError
from sqlmig.core.paths import display_path
from sqlmig.migrations import copy, datafile, failures, ledger, templates
from sqlmig.migrations import statements as stmts
from sqlmig.migrations.files import SqlFile
from sqlmig.migrations.ledger import ELAPSED_MS

if TYPE_CHECKING:
    from psycopg import Connection

#: The ledger change for a file, given its execution time as an SQL expression and,
#: for a transactional file, an expression for its text as the server received it.
Finish = Callable[[sql.Composable, sql.Composable | None], sql.Composed]

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
    """A file, and its statements (None when the parser cannot read it).

    ``blocks``: a file with ``COPY ... FROM stdin``, in order: its statements
    and its COPY blocks (None for every other file). ``layout``: a large file's
    (see :mod:`sqlmig.migrations.datafile`); ``file`` is then its skeleton.
    """

    file: SqlFile
    statements: list[stmts.Statement] | None
    blocks: list[copy.Block] | None = None
    layout: datafile.Layout | None = None


def prepare(files: Sequence[SqlFile]) -> list[Prepared]:
    """Check every file up front and split it into statements; refuse what cannot run right."""
    prepared, problems = [], []
    for file in files:
        file = file.for_server()  # a template's rendering; the file's own text otherwise
        ready, problem = None, None
        if file.large:  # scanned from disk; prepared on its skeleton (see datafile)
            file, layout, problem = datafile.skeleton(file)
            if layout is not None:
                ready, problem = _with_copy(file, layout)
        elif copy.has_copy(file.body):
            ready, problem = _with_copy(file)
        if ready is None and problem is None:
            statements = stmts.split(file.body)
            problem = stmts.problem(file.body, statements, transactional=file.transactional)
            ready = Prepared(file, statements)
        if problem is not None:
            offset, text = problem
            line, column = templates.location(file, offset)
            problems.append(
                f"{display_path(file.path)}:{line}:{column}: {templates.mask(file, text)}"
            )
        if ready is not None:
            prepared.append(ready)
    if problems:
        raise ScriptError("\n".join(problems) + "\nNothing was applied.")
    return prepared


def _with_copy(
    file: SqlFile, layout: datafile.Layout | None = None
) -> tuple[Prepared | None, tuple[int, str] | None]:
    """A file with COPY blocks: each SQL piece split and checked alone, the blocks kept in order."""
    found = layout.found if layout is not None else None
    if found is None:
        try:
            found = copy.blocks(file.body)
        except copy.CopyProblem as bad:
            return None, (bad.offset, bad.message)
    if found is None:
        return None, None  # "copy" and "stdin" in it, but no COPY block: as any file
    blocks: list[copy.Block] = []
    for item in found:
        if isinstance(item, copy.CopyBlock):
            blocks.append(item)
            continue
        start, text = item
        piece = SqlFile(file.path, text, file.checksum, file.directives)
        statements = stmts.split(text)
        problem = stmts.problem(
            piece.body, statements, transactional=piece.transactional, whole_file=False
        )
        if problem is not None:
            return None, (start + problem[0], problem[1])
        blocks.extend(
            stmts.Statement(start + s.offset, s.text)
            for s in (statements if statements is not None else [stmts.Statement(0, text)])
        )
    statements = [b for b in blocks if isinstance(b, stmts.Statement)]
    return Prepared(file, statements, blocks, layout), None


def run_file(
    conn: Connection[tuple[object, ...]],
    prepared: Prepared,
    *,
    finish: Finish,
    loc: LedgerLocation,
    on_start: sql.Composed | None = None,
    on_failure: Callable[[int, bool], None] | None = None,
    verb: str = "apply",
    on_statement: Callable[[stmts.Statement, int], None] | None = None,
    on_rows: Callable[[int], None] | None = None,
) -> int:
    """Run one file with its ledger change ``finish`` (to the ledger at ``loc``); return
    the wall time in ms.

    Without a transaction, ``on_start`` is executed (and committed) first, so a
    crash midway leaves a trace, and ``on_failure(ms, partial)`` records the
    outcome: ``partial`` is False when nothing can have been committed (a file
    the parser could not split is sent whole, which the server runs as one
    implicit transaction). ``verb`` names the command, for what to do next.
    ``on_statement(statement, ms)`` (verbose runs) times every statement: a
    transactional file then runs in the same single transaction, but one
    statement per round trip. ``on_rows(n)``: the file's COPY rows so far, as they stream.
    """
    started = time.perf_counter()
    if prepared.file.transactional and (on_statement is not None or prepared.blocks is not None):
        _run_statementwise(conn, prepared, finish, loc, verb, on_statement, on_rows)
        return _ms(started)
    if prepared.file.transactional:
        _run_in_transaction(conn, prepared, finish, loc, verb)
        return _ms(started)

    pid = conn.info.backend_pid
    if on_start is not None:
        try:
            conn.execute(on_start)
        except psycopg.Error as exc:
            raise failures.ledger_failure(conn, loc, prepared.file, exc, verb, ran=False) from exc
    whole = prepared.statements is None and prepared.blocks is None
    cur = conn.cursor()
    rows = datafile.Runner(prepared.file, prepared.layout, on_rows)
    for statement in _items(prepared):
        began = time.perf_counter()
        try:
            rows.execute(cur, statement)
        except psycopg.Error as exc:
            if conn.broken:
                raise failures.lost_connection(prepared.file, pid, statement.offset, verb) from exc
            if conn.info.transaction_status != TransactionStatus.IDLE:
                conn.execute("ROLLBACK")  # the file's own BEGIN block, now aborted
            if on_failure:
                on_failure(_ms(started), not whole)
            view, offset = _offset(prepared, statement, exc)
            extra = failures.invalid_indexes(conn, copy.as_statement(statement))
            raise failures.failure(
                view, exc, offset, rolled_back=whole, verb=verb, extra=extra
            ) from exc
        if on_statement is not None:
            on_statement(copy.as_statement(statement), _ms(began))
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
            raise failures.lost_connection(
                prepared.file, pid, len(prepared.file.body), verb
            ) from exc
        raise failures.ledger_failure(conn, loc, prepared.file, exc, verb, ran=True) from exc
    return elapsed


def _run_in_transaction(
    conn: Connection[tuple[object, ...]],
    prepared: Prepared,
    finish: Finish,
    loc: LedgerLocation,
    verb: str,
) -> None:
    body = prepared.file.body
    pid = conn.info.backend_pid
    # "\n;" ends a last statement that lacks its semicolon or sits after a "--" comment.
    # The ledger takes the file's text from the message itself (current_query()),
    # so the text travels once and is what the server received; substr counts
    # characters, which match Python's only in a UTF-8 database.
    text = None  # a template's rendering is never stored: its text goes as a literal
    if conn.info.parameter_status("server_encoding") == "UTF8" and prepared.file.template is None:
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
            raise failures.lost_connection(prepared.file, pid, None, verb) from exc
        if conn.info.transaction_status != TransactionStatus.IDLE:
            conn.execute("ROLLBACK")
        if ledger.is_ledger_error(exc, loc):
            raise failures.ledger_failure(conn, loc, prepared.file, exc, verb, ran=False) from exc
        position = exc.diag.statement_position
        if position:
            offset = int(position) - 1 - len(_PREFIX)
            if not 0 <= offset <= len(body):
                parsed = stmts.parse_error(body)
                if parsed is not None:  # the file's own syntax error, seen past its end
                    raise failures.failure(
                        prepared.file,
                        exc,
                        parsed[0],
                        rolled_back=True,
                        verb=verb,
                        message=parsed[1],
                    ) from exc
                raise failures.ledger_failure(
                    conn, loc, prepared.file, exc, verb, ran=True
                ) from exc
            raise failures.failure(prepared.file, exc, offset, rolled_back=True, verb=verb) from exc
        located = failures.locate(conn, prepared.file, prepared.statements, exc)
        if located is None:
            raise failures.failure(prepared.file, exc, None, rolled_back=True, verb=verb) from exc
        offset, replayed = located
        raise failures.failure(
            prepared.file, replayed, offset, rolled_back=True, verb=verb
        ) from exc


def _run_statementwise(
    conn: Connection[tuple[object, ...]],
    prepared: Prepared,
    finish: Finish,
    loc: LedgerLocation,
    verb: str,
    on_statement: Callable[[stmts.Statement, int], None] | None,
    on_rows: Callable[[int], None] | None = None,
) -> None:
    """A transactional file one statement (or COPY block) per round trip, still one
    transaction: for verbose runs, and for files with COPY blocks (whose rows are
    streamed, so they cannot travel in one message)."""
    file = prepared.file
    pid = conn.info.backend_pid
    started = time.perf_counter()
    cur = conn.cursor()
    rows = datafile.Runner(file, prepared.layout, on_rows)
    conn.execute("BEGIN")
    try:
        for statement in _items(prepared):
            began = time.perf_counter()
            try:
                rows.execute(cur, statement)
            except psycopg.Error as exc:
                if conn.broken:
                    raise failures.lost_connection(file, pid, None, verb) from exc
                view, offset = _offset(prepared, statement, exc)
                raise failures.failure(view, exc, offset, rolled_back=True, verb=verb) from exc
            if on_statement is not None:
                on_statement(copy.as_statement(statement), _ms(began))
        try:
            _finish(conn, prepared, finish, _ms(started))
        except psycopg.Error as exc:
            if conn.broken:
                raise failures.lost_connection(file, pid, None, verb) from exc
            raise failures.ledger_failure(conn, loc, file, exc, verb, ran=True) from exc
        try:
            conn.execute("COMMIT")
        except psycopg.Error as exc:  # e.g. a deferred constraint
            if conn.broken:
                raise failures.lost_connection(file, pid, None, verb) from exc
            raise failures.failure(file, exc, None, rolled_back=True, verb=verb) from exc
    finally:
        if not conn.broken and conn.info.transaction_status != TransactionStatus.IDLE:
            conn.execute("ROLLBACK")


def _finish(
    conn: Connection[tuple[object, ...]], prepared: Prepared, finish: Finish, ms: int
) -> None:
    """The session reset and the ledger change, with the text the ledger keeps (for a
    large data file, its SQL and one marker line per COPY block: a few lines)."""
    text = sql.Literal(datafile.stored_text(prepared.file, prepared.layout))
    conn.execute(sql.SQL(SESSION_RESET) + finish(sql.Literal(ms), text))


def _items(prepared: Prepared) -> list[copy.Block]:
    if prepared.blocks is not None:
        return prepared.blocks
    return list(prepared.statements or [stmts.Statement(0, prepared.file.body)])


def _offset(prepared: Prepared, item: copy.Block, exc: psycopg.Error) -> tuple[SqlFile, int]:
    """Where in the file the server's error points: a row of a COPY block, or a position."""
    if isinstance(item, copy.CopyBlock):
        return datafile.failing_row(prepared.file, prepared.layout, item, exc.diag.context)
    return prepared.file, item.offset + failures.position(exc)


def _ms(started: float) -> int:
    return round((time.perf_counter() - started) * 1000)
