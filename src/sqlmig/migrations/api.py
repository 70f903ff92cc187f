"""The library API: what the CLI commands do, callable from tests and programs.

    load_scripts(dir) -> connect -> lock -> ledger.read -> build_plan
        -> refuse on blockers (with diffs) -> executor.run_file per script

Each function takes resolved :class:`~sqlmig.core.config.Settings` and returns data;
rendering is the caller's job. Progress goes to an optional sink.
"""

from __future__ import annotations

import re
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING

from psycopg import sql

from sqlmig.core import connections
from sqlmig.core.config import Settings
from sqlmig.core.errors import ConnectionLost, PlanRefused, SqlmigError, UsageError
from sqlmig.migrations import ledger
from sqlmig.migrations.events import (
    Finished,
    ServerNotice,
    Sink,
    Started,
    StatementRan,
    WaitingForLock,
)
from sqlmig.migrations.files import Script, load_scripts
from sqlmig.migrations.plan import Entry, Plan, State, build_plan

if TYPE_CHECKING:
    from psycopg import Connection as _Connection
    from psycopg.errors import Diagnostic

    from sqlmig.migrations.executor import Finish
    from sqlmig.migrations.statements import Statement

    Connection = _Connection[tuple[object, ...]]

DEFAULT_LOCK_TIMEOUT_S = 300.0


@dataclass(frozen=True)
class Refusal:
    """One reason a plan is refused, with a diff for modified files."""

    entry: Entry
    reason: str
    diff: str = ""


@dataclass
class ApplyResult:
    plan: Plan
    to_apply: list[Script]
    applied: list[tuple[Script, int]] = field(default_factory=list)
    dry_run: bool = False


def status(settings: Settings) -> Plan:
    scripts = load_scripts(settings.directory)
    with connections.connect(settings) as conn:
        return build_plan(scripts, ledger.read(conn))


def verify(settings: Settings, *, strict: bool = False) -> tuple[Plan, list[Refusal]]:
    """The plan and its problems: modified/missing/failed (+ pending when strict)."""
    scripts = load_scripts(settings.directory)
    with connections.connect(settings) as conn:
        plan = build_plan(scripts, ledger.read(conn))
        problems = _refusals(conn, plan.blockers(out_of_order=True))
    if strict:
        problems += [
            Refusal(e, "not applied yet") for e in plan.by_state(State.PENDING, State.OUT_OF_ORDER)
        ]
    return plan, problems


def apply(
    settings: Settings,
    *,
    target: int | None = None,
    dry_run: bool = False,
    create_db: bool = False,
    wait_s: float = 0,
    out_of_order: bool = False,
    lock_timeout_s: float = DEFAULT_LOCK_TIMEOUT_S,
    sink: Sink | None = None,
    statement_timing: bool = False,
) -> ApplyResult:
    """Apply pending migrations in version order, each in its own transaction.

    The sink also gets the server's notices; with ``statement_timing`` each
    statement is timed (one round trip per statement instead of per file).
    """
    scripts = load_scripts(settings.directory)
    with connections.connect(settings, wait_s=wait_s, create_db=create_db and not dry_run) as conn:
        if dry_run:
            plan = build_plan(scripts, ledger.read(conn), target=target)
            _refuse(conn, plan, out_of_order)
            return ApplyResult(plan, plan.to_apply(), dry_run=True)
        with ledger.locked(conn, lock_timeout_s, _waiting(sink, lock_timeout_s)):
            # Read under the lock: a runner that held it before us may have
            # applied some of these already.
            plan = build_plan(scripts, ledger.read(conn), target=target)
            _refuse(conn, plan, out_of_order)
            result = ApplyResult(plan, plan.to_apply())
            if not result.to_apply:
                return result
            from sqlmig.migrations import executor

            prepared = executor.prepare([s.up for s in result.to_apply])
            ledger.ensure(conn)
            total = len(result.to_apply)
            current: list[Script] = []
            if sink:
                conn.add_notice_handler(_notices_to(sink, current))
            for index, (script, ready) in enumerate(
                zip(result.to_apply, prepared, strict=True), start=1
            ):
                current[:] = [script]
                if sink:
                    sink(Started(script, index, total))
                try:
                    ms = executor.run_file(
                        conn,
                        ready,
                        finish=_recorded(script),
                        on_start=None
                        if script.up.transactional
                        else ledger.insert_query(
                            script, execution_ms=sql.Literal(0), success=False
                        ),
                        on_failure=_failure_recorder(conn, script),
                        on_statement=_timed(sink, script) if statement_timing else None,
                    )
                except ConnectionLost as lost:
                    raise _explain_lost(settings, script, lost) from lost
                result.applied.append((script, ms))
                if sink:
                    sink(Finished(script, index, total, ms))
            return result


def rollback(
    settings: Settings,
    to_version: int,
    *,
    lock_timeout_s: float = DEFAULT_LOCK_TIMEOUT_S,
    sink: Sink | None = None,
) -> list[tuple[Script, int]]:
    """Run down files, newest first, for every applied version above ``to_version``."""
    scripts = load_scripts(settings.directory)
    with (
        connections.connect(settings) as conn,
        ledger.locked(conn, lock_timeout_s, _waiting(sink, lock_timeout_s)),
    ):
        plan = build_plan(scripts, ledger.read(conn))
        undo = [e for e in reversed(plan.entries) if e.row is not None and e.version > to_version]
        blockers = [e for e in undo if e.state is not State.APPLIED]
        if blockers:
            raise PlanRefused(_refusal_text(_refusals(conn, blockers), "roll back"))
        no_down = [e.filename for e in undo if e.script is None or e.script.down is None]
        if no_down:
            raise UsageError(
                "cannot roll back: no down file for "
                + ", ".join(no_down)
                + "; write <version>-<name>.down.sql for each, or choose a later --to."
            )
        to_run = [e.script for e in undo if e.script is not None]
        from sqlmig.migrations import executor

        prepared = executor.prepare([s.down for s in to_run if s.down is not None])
        done: list[tuple[Script, int]] = []
        for index, (script, ready) in enumerate(zip(to_run, prepared, strict=True), start=1):
            if sink:
                sink(Started(script, index, len(to_run)))
            try:
                ms = executor.run_file(
                    conn,
                    ready,
                    finish=_forgotten(script.version),
                    on_failure=_failure_recorder(conn, script, undo_to_applied=True),
                    verb="rollback",
                )
            except ConnectionLost as lost:
                raise _explain_lost(settings, script, lost) from lost
            done.append((script, ms))
            if sink:
                sink(Finished(script, index, len(to_run), ms))
        return done


def baseline(
    settings: Settings, version: int, *, lock_timeout_s: float = DEFAULT_LOCK_TIMEOUT_S
) -> list[Script]:
    """Adopt an existing database: record files up to ``version`` as applied, running nothing."""
    scripts = load_scripts(settings.directory)
    adopted = [s for s in scripts if s.version <= version]
    if not adopted:
        raise UsageError(f"no migration file has a version <= {version}; nothing to baseline.")
    with connections.connect(settings) as conn, ledger.locked(conn, lock_timeout_s):
        if ledger.read(conn):
            raise UsageError(
                "the ledger already has rows: baseline adopts a database sqlmig has never "
                "migrated. Use `sqlmig status` to see where it stands."
            )
        ledger.ensure(conn)
        with conn.transaction():
            for script in adopted:
                ledger.record(conn, script, execution_ms=0, success=True, kind="baseline")
    return adopted


def repair(
    settings: Settings, *, dry_run: bool = False, lock_timeout_s: float = DEFAULT_LOCK_TIMEOUT_S
) -> list[tuple[Entry, str]]:
    """Accept reviewed edits and forget failed and missing rows; run no migration SQL.

    An accepted edit keeps the row's text and checksum (what actually ran) and
    records the new checksum, who and when; ``dry_run`` only says what it would do.
    """
    scripts = load_scripts(settings.directory)
    actions: list[tuple[Entry, str]] = []
    with connections.connect(settings) as conn, ledger.locked(conn, lock_timeout_s):
        plan = build_plan(scripts, ledger.read(conn))
        entries = plan.blockers(out_of_order=True)
        if entries and not dry_run:
            ledger.ensure(conn)  # older ledgers lack the accepted_* columns
        with conn.transaction(force_rollback=dry_run):
            for entry in entries:
                if entry.state is State.MODIFIED and entry.script is not None:
                    assert entry.row is not None
                    ledger.accept_edit(conn, entry.version, entry.script.checksum)
                    actions.append(
                        (
                            entry,
                            f"accepted the edited file as applied (checksum "
                            f"{entry.row.current_checksum[:12]} -> {entry.script.checksum[:12]}); "
                            "the edited SQL did not run, the ledger keeps the text that did",
                        )
                    )
                elif entry.state in (State.FAILED, State.MISSING):
                    ledger.delete(conn, entry.version)
                    what = "will run again" if entry.script else "file is gone"
                    actions.append((entry, f"removed the {entry.state.value} row ({what})"))
    return actions


def new_script(settings: Settings, name: str, *, down: bool = False) -> list[Path]:
    """Scaffold the next numbered file (and its down file)."""
    slug = re.sub(r"[^a-z0-9]+", "-", name.lower()).strip("-")
    if not slug:
        raise UsageError(f"{name!r} has no letters or digits to name a file with.")
    directory = settings.directory
    directory.mkdir(parents=True, exist_ok=True)
    scripts = load_scripts(directory)
    version = max((s.version for s in scripts), default=0) + 1
    width = max((len(s.filename.split("-", 1)[0]) for s in scripts), default=4)
    stem = f"{version:0{width}d}-{slug}"
    up = directory / f"{stem}.sql"
    up.write_text(
        f"-- {name}\n"
        "-- Runs in one transaction with its ledger row. For CREATE INDEX CONCURRENTLY\n"
        "-- and the like, make the first line: -- sqlmig: no-transaction\n\n"
    )
    created = [up]
    if down:
        created.append(directory / f"{stem}.down.sql")
        created[-1].write_text(f"-- undo {name}\n\n")
    return created


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


def _waiting(sink: Sink | None, timeout_s: float) -> Callable[[], None] | None:
    if sink is None:
        return None
    return lambda: sink(WaitingForLock(timeout_s))


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


def _explain_lost(settings: Settings, script: Script, lost: ConnectionLost) -> ConnectionLost:
    """Reconnect and say what the database shows after the connection broke mid-file."""
    name = script.filename
    try:
        with connections.connect(settings, wait_s=_RECONNECT_S) as conn:
            row = conn.execute(
                "SELECT state FROM pg_catalog.pg_stat_activity WHERE pid = %s",
                (lost.backend_pid,),
            ).fetchone()
            ledger_row = next((r for r in ledger.read(conn) if r.version == script.version), None)
    except SqlmigError:
        truth = (
            f"sqlmig could not reconnect to check what stuck. Once the server is back, "
            f"`sqlmig status` shows it: {name} commits together with its ledger row."
        )
        return _lost_error(lost, truth)
    if row is not None:
        truth = (
            f"The server is still running {name} in session {lost.backend_pid}: whether it "
            f"commits is not known yet. Wait for it (or end it: SELECT "
            f"pg_terminate_backend({lost.backend_pid})), then run `sqlmig status`."
        )
    elif lost.verb == "rollback":
        undone = ledger_row is None
        if lost.transactional:
            truth = (
                f"{name} committed before the connection broke: its down file ran and its "
                "ledger row is gone."
                if undone
                else f"The server rolled {name}'s down file back: the migration is still applied."
            )
        else:
            truth = (
                f"{name}'s down file runs without a transaction: what ran before the break "
                "stays. Check the database, then `sqlmig status`."
            )
        truth += " Run `sqlmig rollback` again to go on."
    elif ledger_row is not None and ledger_row.success:
        truth = (
            f"{name} committed before the connection broke: the ledger shows it applied. "
            "Later files did not run: run `sqlmig apply` again."
        )
    elif lost.transactional:
        truth = (
            f"The server rolled {name} back: nothing of it was applied (the ledger has no row "
            "for it and its session is gone). Run `sqlmig apply` again."
        )
    else:
        truth = (
            f"{name} runs without a transaction: the statements before this one stay applied, "
            "this one may or may not have completed, and the ledger marks the file failed "
            "(its row was committed before it ran). Check the database by hand, then run "
            "`sqlmig repair` and `sqlmig apply`."
        )
    return _lost_error(lost, truth)


#: How long to keep trying to reconnect after a connection broke mid-file.
_RECONNECT_S = 10.0


def _lost_error(lost: ConnectionLost, truth: str) -> ConnectionLost:
    return ConnectionLost(
        f"{lost}\n{truth}",
        path=lost.path,
        backend_pid=lost.backend_pid,
        transactional=lost.transactional,
        verb=lost.verb,
    )


def _refuse(conn: Connection, plan: Plan, out_of_order: bool) -> None:
    blockers = plan.blockers(out_of_order=out_of_order)
    if blockers:
        raise PlanRefused(_refusal_text(_refusals(conn, blockers), "apply"))


def _refusals(conn: Connection, entries: list[Entry]) -> list[Refusal]:
    modified = [e.version for e in entries if e.state is State.MODIFIED]
    texts = ledger.applied_texts(conn, modified)
    out = []
    for e in entries:
        applied_at = f"{e.row.applied_at:%Y-%m-%d %H:%M:%S}" if e.row else ""
        if e.state is State.MODIFIED and e.script is not None:
            from sqlmig.migrations.diffs import unified

            diff = unified(texts.get(e.version, ""), e.script.body, e.filename)
            out.append(Refusal(e, f"changed since it was applied at {applied_at}", diff))
        elif e.state is State.MISSING:
            out.append(Refusal(e, f"applied at {applied_at}, but the file is gone"))
        elif e.state is State.FAILED:
            out.append(
                Refusal(e, f"failed at {applied_at} (a no-transaction file, partly applied)")
            )
        elif e.state is State.OUT_OF_ORDER:
            out.append(
                Refusal(
                    e,
                    "not applied, but a later version is (a merged branch?); "
                    "renumber it, or apply with --out-of-order",
                )
            )
    return out


def _refusal_text(refusals: list[Refusal], action: str) -> str:
    lines = [f"refusing to {action}: the ledger and the migration files disagree."]
    for r in refusals:
        lines.append(f"  {r.entry.state.value:<12} {r.entry.filename}: {r.reason}")
        if r.diff:
            lines.extend("    " + line for line in r.diff.rstrip("\n").split("\n"))
    states = {r.entry.state for r in refusals}
    if states & {State.MODIFIED, State.MISSING}:
        lines.append(
            "Applied migrations are history: restore them (e.g. `git checkout -- <file>`) and "
            "put changes in a new migration; or, once reviewed, `sqlmig repair` accepts the "
            "files as they are now."
        )
    if State.FAILED in states:
        lines.append(
            "A failed no-transaction migration may have left part of its work: finish or undo "
            "it by hand, then `sqlmig repair` lets it run again."
        )
    return "\n".join(lines)
