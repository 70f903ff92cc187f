"""The library API: what the CLI commands do, callable from tests and programs.

    files.load_scripts(dir) ─▶ connect ─▶ ledger.locked ─▶ ledger.read ─▶ plan.build_plan
        ─▶ refusals.refuse (blockers, with diffs) ─▶ run.run (executor.run_file per file)

Each function takes resolved :class:`~sqlmig.core.config.Settings` and returns data;
rendering is the caller's job. Progress goes to an optional sink.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field, replace
from typing import TYPE_CHECKING, cast

from sqlmig.core import connections
from sqlmig.core.config import LedgerLocation, Settings
from sqlmig.core.errors import PlanRefused, UsageError
from sqlmig.migrations import history, ledger, refusals, repeatable, run, templates
from sqlmig.migrations.events import Sink
from sqlmig.migrations.files import Script, load_scripts
from sqlmig.migrations.history import HistoryRow
from sqlmig.migrations.plan import Entry, Plan, RepeatableEntry, State, build_plan
from sqlmig.migrations.refusals import Refusal
from sqlmig.migrations.scaffold import new_script

if TYPE_CHECKING:
    from psycopg import Connection

__all__ = [
    "ApplyResult",
    "Refusal",
    "apply",
    "baseline",
    "history_rows",
    "new_script",
    "repair",
    "rollback",
    "rollback_plan",
    "status",
    "verify",
]

DEFAULT_LOCK_TIMEOUT_S = 300.0


@dataclass
class ApplyResult:
    plan: Plan
    to_apply: list[Script]
    applied: list[tuple[Script, int]] = field(default_factory=list)
    dry_run: bool = False
    #: Repeatables this run runs (ran, unless dry), after ``to_apply``, in name order.
    repeatables: list[RepeatableEntry] = field(default_factory=list)
    repeatables_applied: list[tuple[Script, int]] = field(default_factory=list)


def _plan(
    conn: Connection[tuple[object, ...]],
    loc: LedgerLocation,
    scripts: list[Script],
    reps: list[repeatable.Repeatable],
    target: int | None = None,
) -> Plan:
    rows = ledger.read(conn, loc)
    return build_plan(
        scripts, rows, target=target, repeatables=reps, repeatable_rows=repeatable.read(conn, loc)
    )


def _rendered(
    result: ApplyResult, variables: Mapping[str, str]
) -> tuple[list[Script], list[RepeatableEntry]]:
    """What apply runs: templated files rendered (every problem of every file at once)."""
    reps: list[Script] = []
    for e in result.repeatables:
        assert e.repeatable is not None  # the plan runs only files that exist
        reps.append(e.repeatable)
    rendered = templates.render([*result.to_apply, *reps], variables)
    scripts, rendered_reps = rendered[: len(result.to_apply)], rendered[len(result.to_apply) :]
    # replace() keeps each file's class: a rendered repeatable is still a Repeatable.
    entries = [
        replace(e, repeatable=cast(repeatable.Repeatable, r))
        for e, r in zip(result.repeatables, rendered_reps, strict=True)
    ]
    return scripts, entries


def _load(settings: Settings) -> tuple[list[Script], list[repeatable.Repeatable]]:
    scripts = load_scripts(settings.directory)
    return scripts, repeatable.load(settings.directory, scripts)


def status(settings: Settings) -> Plan:
    scripts, reps = _load(settings)
    with connections.connect(settings) as conn:
        return _plan(conn, settings.ledger, scripts, reps)


def verify(settings: Settings, *, strict: bool = False) -> tuple[Plan, list[Refusal]]:
    """The plan and its problems: modified/missing/failed (+ pending when strict).

    A changed repeatable is no problem (it runs again on the next apply); one whose
    last run failed is, and with ``strict`` so is one that has not run yet."""
    scripts, reps = _load(settings)
    with connections.connect(settings) as conn:
        plan = _plan(conn, settings.ledger, scripts, reps)
        problems = refusals.refusals(conn, settings.ledger, plan.blockers(out_of_order=True))
    if strict:
        problems += [
            Refusal(e, "not applied yet") for e in plan.by_state(State.PENDING, State.OUT_OF_ORDER)
        ]
    for r in plan.repeatables:
        if r.state is State.FAILED or (strict and r.state in (State.PENDING, State.MODIFIED)):
            problems.append(_repeatable_refusal(r))
    return plan, problems


def _repeatable_refusal(entry: RepeatableEntry) -> Refusal:
    """A repeatable as a verify problem (its entry's version is ``repeatable.NO_VERSION``)."""
    if entry.state is State.FAILED:
        row = entry.row
        when = f" at {row.failed_at:%Y-%m-%d %H:%M:%S}" if row and row.failed_at else ""
        reason = (
            f"its last run{when} failed (nothing of that run stayed, unless it runs without "
            "a transaction); fix the file and run `sqlmig apply`: it runs again"
        )
    elif entry.state is State.MODIFIED:
        reason = "changed since it last ran; `sqlmig apply` runs it again"
    else:
        reason = "not applied yet"
    versioned = Entry(repeatable.NO_VERSION, entry.name, entry.state, entry.repeatable, None)
    return Refusal(versioned, reason)


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
    scripts, reps = _load(settings)
    with connections.connect(settings, wait_s=wait_s, create_db=create_db and not dry_run) as conn:
        if dry_run:
            plan = _plan(conn, settings.ledger, scripts, reps, target)
            refusals.refuse(conn, settings.ledger, plan, out_of_order)
            result = ApplyResult(
                plan, plan.to_apply(), dry_run=True, repeatables=plan.repeatables_to_run()
            )
            # a missing variable fails the dry run too; what it shows is the template text
            _rendered(result, settings.variables)
            return result
        with ledger.locked(
            conn, settings.ledger, lock_timeout_s, run.waiting(sink, lock_timeout_s)
        ):
            # Read under the lock: a runner that held it before us may have
            # applied some of these already (repeatables too).
            plan = _plan(conn, settings.ledger, scripts, reps, target)
            refusals.refuse(conn, settings.ledger, plan, out_of_order)
            result = ApplyResult(plan, plan.to_apply(), repeatables=plan.repeatables_to_run())
            if not result.to_apply and not result.repeatables:
                return result
            scripts_to_run, repeatables_to_run = _rendered(result, settings.variables)
            steps = run.apply_steps(conn, settings.ledger, scripts_to_run)
            steps += run.repeatable_steps(settings.ledger, repeatables_to_run)
            prepared = run.prepare(steps)  # every file, repeatables too, before any runs
            ledger.ensure(conn, settings.ledger)
            if result.repeatables:
                repeatable.ensure(conn, settings.ledger)
            done = run.run(
                conn, settings, steps, prepared, sink=sink, statement_timing=statement_timing
            )
            result.applied = [d for d in done if not isinstance(d[0], repeatable.Repeatable)]
            result.repeatables_applied = [
                d for d in done if isinstance(d[0], repeatable.Repeatable)
            ]
            return result


def rollback(
    settings: Settings,
    to_version: int | None = None,
    *,
    steps: int | None = None,
    lock_timeout_s: float = DEFAULT_LOCK_TIMEOUT_S,
    sink: Sink | None = None,
) -> list[tuple[Script, int]]:
    """Run down files, newest first: every applied version above ``to_version``, or the
    newest ``steps`` applied ones (neither: the newest one)."""
    scripts = load_scripts(settings.directory)
    with (
        connections.connect(settings) as conn,
        ledger.locked(conn, settings.ledger, lock_timeout_s, run.waiting(sink, lock_timeout_s)),
    ):
        to_run = _undo(conn, settings.ledger, scripts, to_version, steps)
        if not to_run:
            return []
        to_run = templates.render(to_run, settings.variables, part="down")
        undo_steps = run.rollback_steps(conn, settings.ledger, to_run)
        prepared = run.prepare(undo_steps)
        history.ensure(conn, settings.ledger)  # a ledger from before history: the table comes now
        return run.run(conn, settings, undo_steps, prepared, verb="rollback", sink=sink)


def rollback_plan(
    settings: Settings, to_version: int | None = None, *, steps: int | None = None
) -> list[Script]:
    """What ``rollback`` would run, newest first, with the same refusals; changes nothing."""
    scripts = load_scripts(settings.directory)
    with connections.connect(settings) as conn:
        to_run = _undo(conn, settings.ledger, scripts, to_version, steps)
    rendered = templates.render(to_run, settings.variables, part="down")
    run.prepare_files([s.down for s in rendered if s.down is not None])
    return to_run


def _undo(
    conn: Connection[tuple[object, ...]],
    loc: LedgerLocation,
    scripts: list[Script],
    to_version: int | None,
    steps: int | None,
) -> list[Script]:
    """The scripts to roll back, newest first; refused up front when any cannot be."""
    if to_version is not None and steps is not None:
        raise UsageError("give --to or --steps, not both.")
    if steps is not None and steps < 1:
        raise UsageError(f"--steps must be at least 1 (got {steps}).")
    plan = build_plan(scripts, ledger.read(conn, loc))
    recorded = [e for e in reversed(plan.entries) if e.row is not None]
    if to_version is not None:
        undo = [e for e in recorded if e.version > to_version]
    else:
        count = 1 if steps is None else steps
        if recorded and count > len(recorded):
            raise UsageError(
                f"cannot roll back {count} steps: the ledger has {len(recorded)} migration(s); "
                f"--steps {len(recorded)} rolls back all of them (--to V keeps V itself)."
            )
        undo = recorded[:count]
    blockers = [e for e in undo if e.state is not State.APPLIED]
    if blockers:
        raise PlanRefused(
            refusals.refusal_text(refusals.refusals(conn, loc, blockers), "roll back")
        )
    no_down = [e.filename for e in undo if e.script is None or e.script.down is None]
    if no_down:
        raise UsageError(
            "cannot roll back: no down file for "
            + ", ".join(no_down)
            + "; write <version>-<name>.down.sql for each, or choose a later --to."
        )
    return [e.script for e in undo if e.script is not None]


def history_rows(settings: Settings, *, version: int | None = None) -> list[HistoryRow]:
    """The history table, oldest first (empty before the first write that keeps history)."""
    with connections.connect(settings) as conn:
        return history.read(conn, settings.ledger, version)


def baseline(
    settings: Settings, version: int, *, lock_timeout_s: float = DEFAULT_LOCK_TIMEOUT_S
) -> list[Script]:
    """Adopt an existing database: record files up to ``version`` as applied, running nothing."""
    scripts = load_scripts(settings.directory)
    adopted = [s for s in scripts if s.version <= version]
    if not adopted:
        raise UsageError(f"no migration file has a version <= {version}; nothing to baseline.")
    with (
        connections.connect(settings) as conn,
        ledger.locked(conn, settings.ledger, lock_timeout_s),
    ):
        if ledger.read(conn, settings.ledger):
            raise UsageError(
                "the ledger already has rows: baseline adopts a database sqlmig has never "
                "migrated. Use `sqlmig status` to see where it stands."
            )
        ledger.ensure(conn, settings.ledger)
        with conn.transaction():
            for script in adopted:
                ledger.record(
                    conn, settings.ledger, script, execution_ms=0, success=True, kind="baseline"
                )
                history.record(
                    conn,
                    settings.ledger,
                    script.version,
                    script.name,
                    action="baseline",
                    after=script.checksum,
                )
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
    with (
        connections.connect(settings) as conn,
        ledger.locked(conn, settings.ledger, lock_timeout_s),
    ):
        plan = build_plan(scripts, ledger.read(conn, settings.ledger))
        entries = plan.blockers(out_of_order=True)
        if entries and not dry_run:
            ledger.ensure(
                conn, settings.ledger
            )  # older ledgers lack the accepted_* columns (and history)
        with conn.transaction(force_rollback=dry_run):
            for entry in entries:
                if entry.state is State.MODIFIED and entry.script is not None:
                    assert entry.row is not None
                    ledger.accept_edit(conn, settings.ledger, entry.version, entry.script.checksum)
                    actions.append(
                        (
                            entry,
                            f"accepted the edited file as applied (checksum "
                            f"{entry.row.current_checksum[:12]} -> {entry.script.checksum[:12]}); "
                            "the edited SQL did not run, the ledger keeps the text that did",
                        )
                    )
                    before, after = entry.row.current_checksum, entry.script.checksum
                elif entry.state in (State.FAILED, State.MISSING):
                    assert entry.row is not None
                    ledger.delete(conn, settings.ledger, entry.version)
                    what = "will run again" if entry.script else "file is gone"
                    actions.append((entry, f"removed the {entry.state.value} row ({what})"))
                    before, after = entry.row.current_checksum, None
                else:
                    continue
                if not dry_run:
                    history.record(
                        conn,
                        settings.ledger,
                        entry.version,
                        entry.name,
                        action="repair",
                        before=before,
                        after=after,
                        detail=actions[-1][1],
                    )
    return actions
