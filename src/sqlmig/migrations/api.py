"""The library API: what the CLI commands do, callable from tests and programs.

    files.load_scripts(dir) ─▶ connect ─▶ ledger.locked ─▶ ledger.read ─▶ plan.build_plan
        ─▶ refusals.refuse (blockers, with diffs) ─▶ run.run (executor.run_file per file)

Each function takes resolved :class:`~sqlmig.core.config.Settings` and returns data;
rendering is the caller's job. Progress goes to an optional sink.
"""

from __future__ import annotations

import re
from dataclasses import dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING

from sqlmig.core import connections
from sqlmig.core.config import Settings
from sqlmig.core.errors import PlanRefused, UsageError
from sqlmig.migrations import history, ledger, refusals, run, templates
from sqlmig.migrations.events import Sink
from sqlmig.migrations.files import Script, load_scripts
from sqlmig.migrations.history import HistoryRow
from sqlmig.migrations.plan import Entry, Plan, State, build_plan
from sqlmig.migrations.refusals import Refusal

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


def status(settings: Settings) -> Plan:
    scripts = load_scripts(settings.directory)
    with connections.connect(settings) as conn:
        return build_plan(scripts, ledger.read(conn))


def verify(settings: Settings, *, strict: bool = False) -> tuple[Plan, list[Refusal]]:
    """The plan and its problems: modified/missing/failed (+ pending when strict)."""
    scripts = load_scripts(settings.directory)
    with connections.connect(settings) as conn:
        plan = build_plan(scripts, ledger.read(conn))
        problems = refusals.refusals(conn, plan.blockers(out_of_order=True))
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
            refusals.refuse(conn, plan, out_of_order)
            # a missing variable fails the dry run too; what it shows is the template text
            templates.render(plan.to_apply(), settings.variables)
            return ApplyResult(plan, plan.to_apply(), dry_run=True)
        with ledger.locked(conn, lock_timeout_s, run.waiting(sink, lock_timeout_s)):
            # Read under the lock: a runner that held it before us may have
            # applied some of these already.
            plan = build_plan(scripts, ledger.read(conn), target=target)
            refusals.refuse(conn, plan, out_of_order)
            result = ApplyResult(plan, plan.to_apply())
            if not result.to_apply:
                return result
            steps = run.apply_steps(conn, templates.render(result.to_apply, settings.variables))
            prepared = run.prepare(steps)
            ledger.ensure(conn)
            result.applied = run.run(
                conn, settings, steps, prepared, sink=sink, statement_timing=statement_timing
            )
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
        ledger.locked(conn, lock_timeout_s, run.waiting(sink, lock_timeout_s)),
    ):
        to_run = _undo(conn, scripts, to_version, steps)
        if not to_run:
            return []
        to_run = templates.render(to_run, settings.variables, part="down")
        undo_steps = run.rollback_steps(conn, to_run)
        prepared = run.prepare(undo_steps)
        history.ensure(conn)  # a ledger from before history: the table comes now
        return run.run(conn, settings, undo_steps, prepared, verb="rollback", sink=sink)


def rollback_plan(
    settings: Settings, to_version: int | None = None, *, steps: int | None = None
) -> list[Script]:
    """What ``rollback`` would run, newest first, with the same refusals; changes nothing."""
    scripts = load_scripts(settings.directory)
    with connections.connect(settings) as conn:
        to_run = _undo(conn, scripts, to_version, steps)
    rendered = templates.render(to_run, settings.variables, part="down")
    run.prepare_files([s.down for s in rendered if s.down is not None])
    return to_run


def _undo(
    conn: Connection[tuple[object, ...]],
    scripts: list[Script],
    to_version: int | None,
    steps: int | None,
) -> list[Script]:
    """The scripts to roll back, newest first; refused up front when any cannot be."""
    if to_version is not None and steps is not None:
        raise UsageError("give --to or --steps, not both.")
    if steps is not None and steps < 1:
        raise UsageError(f"--steps must be at least 1 (got {steps}).")
    plan = build_plan(scripts, ledger.read(conn))
    recorded = [e for e in reversed(plan.entries) if e.row is not None]
    if to_version is not None:
        undo = [e for e in recorded if e.version > to_version]
    else:
        count = 1 if steps is None else steps
        if recorded and count > len(recorded):
            raise UsageError(
                f"cannot roll back {count} steps: the ledger has {len(recorded)} migration(s); "
                "use --to 0 to roll back all of them."
            )
        undo = recorded[:count]
    blockers = [e for e in undo if e.state is not State.APPLIED]
    if blockers:
        raise PlanRefused(refusals.refusal_text(refusals.refusals(conn, blockers), "roll back"))
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
        return history.read(conn, version)


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
                history.record(
                    conn, script.version, script.name, action="baseline", after=script.checksum
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
    with connections.connect(settings) as conn, ledger.locked(conn, lock_timeout_s):
        plan = build_plan(scripts, ledger.read(conn))
        entries = plan.blockers(out_of_order=True)
        if entries and not dry_run:
            ledger.ensure(conn)  # older ledgers lack the accepted_* columns (and history)
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
                    before, after = entry.row.current_checksum, entry.script.checksum
                elif entry.state in (State.FAILED, State.MISSING):
                    assert entry.row is not None
                    ledger.delete(conn, entry.version)
                    what = "will run again" if entry.script else "file is gone"
                    actions.append((entry, f"removed the {entry.state.value} row ({what})"))
                    before, after = entry.row.current_checksum, None
                else:
                    continue
                if not dry_run:
                    history.record(
                        conn,
                        entry.version,
                        entry.name,
                        action="repair",
                        before=before,
                        after=after,
                        detail=actions[-1][1],
                    )
    return actions


def new_script(
    settings: Settings, name: str, *, down: bool = False, timestamp: bool | None = None
) -> list[Path]:
    """Scaffold the next file (and its down file).

    Sequential versions continue the folder's numbering (its width and its
    separator, ``-`` or ``_``); ``timestamp`` (or ``[tool.sqlmig] versions =
    "timestamp"``) uses the UTC time, e.g. 20240101120000, so branches do not clash.
    """
    slug = re.sub(r"[^a-z0-9]+", "-", name.lower()).strip("-")
    if not slug:
        raise UsageError(f"{name!r} has no letters or digits to name a file with.")
    directory = settings.directory
    directory.mkdir(parents=True, exist_ok=True)
    scripts = load_scripts(directory)
    last = max((s.version for s in scripts), default=0)
    separator = (
        "_" if scripts and scripts[-1].filename[len(_digits(scripts[-1])) :][:1] == "_" else "-"
    )
    if separator == "_":
        slug = slug.replace("-", "_")
    if timestamp if timestamp is not None else settings.versions == "timestamp":
        from datetime import UTC, datetime

        version = max(int(datetime.now(UTC).strftime("%Y%m%d%H%M%S")), last + 1)
        stem = f"{version}{separator}{slug}"
    else:
        width = max((len(_digits(s)) for s in scripts), default=4)
        stem = f"{last + 1:0{width}d}{separator}{slug}"
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


def _digits(script: Script) -> str:
    """The version as written in the file name (with its leading zeros)."""
    return re.match(r"\d+", script.filename)[0]  # type: ignore[index]  # the name matched
