"""The run loop ``apply`` and ``rollback`` share: one file after another, each with its
ledger change, reporting to a sink, telling the truth when the connection breaks.

    steps (script, file, ledger change) ─▶ prepare (parse every file first)
        ─▶ per file: Started ─▶ executor.run_file ─▶ Finished   (ConnectionLost ─▶ lost.explain)
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from dataclasses import dataclass
from typing import TYPE_CHECKING

from psycopg import sql

from sqlmig.core.config import Settings
from sqlmig.core.errors import ConnectionLost
from sqlmig.migrations import ledger, lost
from sqlmig.migrations.events import (
    Finished,
    ServerNotice,
    Sink,
    Started,
    StatementRan,
    WaitingForLock,
)
from sqlmig.migrations.files import Script, SqlFile

if TYPE_CHECKING:
    from psycopg import Connection as _Connection
    from psycopg.errors import Diagnostic

    from sqlmig.migrations.executor import Finish, Prepared
    from sqlmig.migrations.statements import Statement

    Connection = _Connection[tuple[object, ...]]


@dataclass(frozen=True)
class Step:
    """One file to run and the ledger change that commits with it."""

    script: Script
    file: SqlFile  # the up file, or the down file
    finish: Finish
    on_start: sql.Composed | None = None  # no-transaction files: committed first
    on_failure: Callable[[int, bool], None] | None = None


def apply_steps(conn: Connection, scripts: Sequence[Script]) -> list[Step]:
    """Up files: each commits with its ledger row (no-transaction files: row first)."""
    return [
        Step(
            script,
            script.up,
            finish=_recorded(script),
            on_start=None
            if script.up.transactional
            else ledger.insert_query(script, execution_ms=sql.Literal(0), success=False),
            on_failure=_failure_recorder(conn, script),
        )
        for script in scripts
    ]


def rollback_steps(conn: Connection, scripts: Sequence[Script]) -> list[Step]:
    """Down files: each commits with the deletion of its ledger row."""
    steps = []
    for script in scripts:
        assert script.down is not None  # refused earlier
        steps.append(
            Step(
                script,
                script.down,
                finish=_forgotten(script.version),
                on_failure=_failure_recorder(conn, script, undo_to_applied=True),
            )
        )
    return steps


def prepare(steps: Sequence[Step]) -> list[Prepared]:
    """Parse every file before anything runs (raises ScriptError naming each bad file)."""
    from sqlmig.migrations import executor

    return executor.prepare([step.file for step in steps])


def run(
    conn: Connection,
    settings: Settings,
    steps: Sequence[Step],
    prepared: Sequence[Prepared],
    *,
    verb: str = "apply",
    sink: Sink | None = None,
    statement_timing: bool = False,
) -> list[tuple[Script, int]]:
    """Run the prepared steps in order; returns (script, ms) for each one that committed."""
    from sqlmig.migrations import executor

    done: list[tuple[Script, int]] = []
    current: list[Script] = []
    if sink:
        conn.add_notice_handler(_notices_to(sink, current))
    total = len(steps)
    for index, (step, ready) in enumerate(zip(steps, prepared, strict=True), start=1):
        current[:] = [step.script]
        if sink:
            sink(Started(step.script, index, total))
        try:
            ms = executor.run_file(
                conn,
                ready,
                finish=step.finish,
                on_start=step.on_start,
                on_failure=step.on_failure,
                verb=verb,
                on_statement=_timed(sink, step.script) if statement_timing else None,
            )
        except ConnectionLost as broken:
            raise lost.explain(settings, step.script, broken) from broken
        done.append((step.script, ms))
        if sink:
            sink(Finished(step.script, index, total, ms))
    return done


def waiting(sink: Sink | None, timeout_s: float) -> Callable[[], None] | None:
    """What the lock calls when it has to wait: tell the sink."""
    if sink is None:
        return None
    return lambda: sink(WaitingForLock(timeout_s))


def _notices_to(sink: Sink, current: list[Script]) -> Callable[[Diagnostic], None]:
    def handle(diag: Diagnostic) -> None:
        if current:
            sink(ServerNotice(current[0], diag.severity or "NOTICE", diag.message_primary or ""))

    return handle


def _timed(sink: Sink | None, script: Script) -> Callable[[Statement, int], None]:
    from sqlmig.migrations.statements import line_column

    def report(statement: Statement, ms: int) -> None:
        if sink:
            line, _ = line_column(script.body, statement.offset)
            sink(StatementRan(script, line, statement.text, ms))

    return report


def _recorded(script: Script) -> Finish:
    if script.up.transactional:
        return lambda ms, text: ledger.insert_query(
            script, execution_ms=ms, success=True, text=text
        )
    return lambda ms, _text: ledger.finish_query(script.version, execution_ms=ms)


def _forgotten(version: int) -> Finish:
    return lambda _ms, _text: ledger.delete_query(version)


def _failure_recorder(
    conn: Connection, script: Script, *, undo_to_applied: bool = False
) -> Callable[[int, bool], None]:
    """After a no-transaction file failed: mark it failed if it may be half done."""

    def record(ms: int, partial: bool) -> None:
        if partial:
            ledger.mark_failed(conn, script.version, ms)
        elif not undo_to_applied:
            ledger.delete(conn, script.version)  # nothing ran: forget the start marker

    return record
