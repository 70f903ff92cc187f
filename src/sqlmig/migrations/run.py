"""The run loop ``apply`` and ``rollback`` share: one file after another, each with its
ledger change and history row, reporting to a sink, telling the truth when the connection
breaks.

    steps (script, file, ledger change + history row) ─▶ prepare (parse every file first)
        ─▶ per file: Started ─▶ executor.run_file ─▶ Finished   (ConnectionLost ─▶ lost.explain)
                     failed ─▶ a "failed"/"partial" history row, after the rollback

The finish SQL writes to the history table: ``ledger.ensure`` (or, for rollback,
``history.ensure``) creates it after ``prepare`` and before the first file.
"""

from __future__ import annotations

import time
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from typing import TYPE_CHECKING

from psycopg import sql

from sqlmig.core.config import LedgerLocation, Settings
from sqlmig.core.errors import ConnectionLost, SqlmigError
from sqlmig.migrations import history, ledger, lost, repeatable, templates
from sqlmig.migrations.copy import THEN
from sqlmig.migrations.events import (
    CopyRows,
    Finished,
    ServerNotice,
    Sink,
    Started,
    StatementRan,
    WaitingForLock,
)
from sqlmig.migrations.files import Script, SqlFile
from sqlmig.migrations.repeatable import Repeatable

if TYPE_CHECKING:
    from psycopg import Connection as _Connection
    from psycopg.errors import Diagnostic

    from sqlmig.migrations.executor import Finish, Prepared
    from sqlmig.migrations.plan import RepeatableEntry
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
    action: history.Action = "apply"
    before: str | None = None  # a repeatable's checksum before this run (history)


def apply_steps(conn: Connection, loc: LedgerLocation, scripts: Sequence[Script]) -> list[Step]:
    """Up files: each commits with its row in the ledger at ``loc`` (no-transaction files:
    row first)."""
    return [
        Step(
            script,
            script.up,
            finish=_recorded(loc, script),
            on_start=None
            if script.up.transactional
            else ledger.insert_query(loc, script, execution_ms=sql.Literal(0), success=False),
            on_failure=_failure_recorder(conn, loc, script),
        )
        for script in scripts
    ]


def repeatable_steps(loc: LedgerLocation, entries: Sequence[RepeatableEntry]) -> list[Step]:
    """Repeatables: each commits with its row (no-transaction files: marked failed first)."""
    steps = []
    for entry in entries:
        rep = entry.repeatable
        assert rep is not None  # the plan runs only files that exist
        before = entry.row.checksum if entry.row else None
        steps.append(
            Step(
                rep,
                rep.up,
                finish=_rerun(loc, rep, before),
                on_start=None if rep.up.transactional else repeatable.failed_query(loc, rep),
                before=before,
            )
        )
    return steps


def rollback_steps(conn: Connection, loc: LedgerLocation, scripts: Sequence[Script]) -> list[Step]:
    """Down files: each commits with the deletion of its ledger row."""
    steps = []
    for script in scripts:
        assert script.down is not None  # refused earlier
        steps.append(
            Step(
                script,
                script.down,
                finish=_forgotten(loc, script),
                on_failure=_failure_recorder(conn, loc, script, undo_to_applied=True),
                action="rollback",
            )
        )
    return steps


def prepare(steps: Sequence[Step]) -> list[Prepared]:
    """Parse every file before anything runs (raises ScriptError naming each bad file)."""
    return prepare_files([step.file for step in steps])


def prepare_files(files: Sequence[SqlFile]) -> list[Prepared]:
    """:func:`prepare` for files alone (a dry run has no steps)."""
    from sqlmig.migrations import executor

    return executor.prepare(files)


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
        partial: list[bool] = []
        rows: list[int] = []
        began = time.perf_counter()
        try:
            ms = executor.run_file(
                conn,
                ready,
                finish=step.finish,
                loc=settings.ledger,
                on_start=step.on_start,
                on_failure=_noting(step.on_failure, partial),
                verb=verb,
                on_statement=_timed(sink, step.script, ready.file) if statement_timing else None,
                on_rows=_rows_to(sink, step.script, rows),
            )
        except ConnectionLost as broken:
            if isinstance(step.script, Repeatable):
                raise repeatable.lost(settings.ledger, step.script, broken) from broken
            raise lost.explain(settings, step.script, broken) from broken
        except SqlmigError:
            ms = round((time.perf_counter() - began) * 1000)
            _record_failure(conn, settings.ledger, step, any(partial), ms)
            raise
        done.append((step.script, ms))
        if sink:
            sink(Finished(step.script, index, total, ms, rows[-1] if rows else None))
    return done


def waiting(sink: Sink | None, timeout_s: float) -> Callable[[], None] | None:
    """What the lock calls when it has to wait: tell the sink."""
    if sink is None:
        return None
    return lambda: sink(WaitingForLock(timeout_s))


def _notices_to(sink: Sink, current: list[Script]) -> Callable[[Diagnostic], None]:
    def handle(diag: Diagnostic) -> None:
        if current:
            text = templates.mask(current[0].up, diag.message_primary or "")
            if current[0].down is not None:  # a rollback runs the down file
                text = templates.mask(current[0].down, text)
            sink(ServerNotice(current[0], diag.severity or "NOTICE", text))

    return handle


def _rows_to(sink: Sink | None, script: Script, rows: list[int]) -> Callable[[int], None]:
    """COPY rows as they stream: kept for the Finished event, and told to the sink."""

    def report(count: int) -> None:
        rows[:] = [count]
        if sink:
            sink(CopyRows(script, count))

    return report


def _timed(sink: Sink | None, script: Script, file: SqlFile) -> Callable[[Statement, int], None]:
    """``file``: as it runs (a template's rendering, whose values are masked here)."""

    def report(statement: Statement, ms: int) -> None:
        if sink:
            line, _ = templates.location(file, statement.offset)
            sink(StatementRan(script, line, templates.mask(file, statement.text), ms))

    return report


def _noting(
    on_failure: Callable[[int, bool], None] | None, partial: list[bool]
) -> Callable[[int, bool], None]:
    """The step's failure recorder, also noting whether the file may be half done."""

    def record(ms: int, may_be_partial: bool) -> None:
        partial.append(may_be_partial)
        if on_failure is not None:
            on_failure(ms, may_be_partial)

    return record


def _record_failure(
    conn: Connection, loc: LedgerLocation, step: Step, partial: bool, ms: int
) -> None:
    """Before/after are the ledger's: a half-done file keeps its (failed) row."""
    script = step.script
    if isinstance(script, Repeatable):
        repeatable.mark_failed(conn, loc, script, ms)
        history.record_failure(
            conn,
            loc,
            None,
            script.name,
            action="apply",
            outcome="partial" if partial else "failed",
            before=step.before,
            after=script.checksum if partial else None,
            execution_ms=ms,
        )
        return
    undo = step.action == "rollback"
    history.record_failure(
        conn,
        loc,
        script.version,
        script.name,
        action=step.action,
        outcome="partial" if partial else "failed",
        before=script.checksum if undo else None,
        after=script.checksum if undo or partial else None,
        execution_ms=ms,
    )


_THEN = THEN  # the executor splits a change there when it binds the text


def _recorded(loc: LedgerLocation, script: Script) -> Finish:
    def done(ms: sql.Composable) -> sql.Composed:
        return history.insert_query(
            loc,
            script.version,
            script.name,
            action="apply",
            outcome="success",
            before=None,
            after=script.checksum,
            execution_ms=ms,
        )

    if script.up.transactional:
        return lambda ms, text: (
            ledger.insert_query(loc, script, execution_ms=ms, success=True, text=text)
            + _THEN
            + done(ms)
        )
    return lambda ms, _text: (
        ledger.finish_query(loc, script.version, execution_ms=ms) + _THEN + done(ms)
    )


def _rerun(loc: LedgerLocation, rep: Repeatable, before: str | None) -> Finish:
    def finish(ms: sql.Composable, text: sql.Composable | None) -> sql.Composed:
        return (
            repeatable.finish_query(loc, rep, before, execution_ms=ms, text=text)
            + _THEN
            + history.insert_query(
                loc,
                None,
                rep.name,
                action="apply",
                outcome="success",
                before=before,
                after=rep.checksum,
                execution_ms=ms,
            )
        )

    return finish


def _forgotten(loc: LedgerLocation, script: Script) -> Finish:
    def finish(ms: sql.Composable, _text: sql.Composable | None) -> sql.Composed:
        return (
            ledger.delete_query(loc, script.version)
            + _THEN
            + history.insert_query(
                loc,
                script.version,
                script.name,
                action="rollback",
                outcome="success",
                before=script.checksum,
                after=None,
                execution_ms=ms,
            )
        )

    return finish


def _failure_recorder(
    conn: Connection, loc: LedgerLocation, script: Script, *, undo_to_applied: bool = False
) -> Callable[[int, bool], None]:
    """After a no-transaction file failed: mark it failed if it may be half done."""

    def record(ms: int, partial: bool) -> None:
        if partial:
            ledger.mark_failed(conn, loc, script.version, ms)
        elif not undo_to_applied:
            ledger.delete(conn, loc, script.version)  # nothing ran: forget the start marker

    return record
