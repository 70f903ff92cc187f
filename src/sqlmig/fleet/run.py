"""One command over every target of a fleet: ``apply``, ``status``, ``verify``.

    load_fleet ─▶ select (--only) ─▶ assign_stages ─▶ run_stages (schedule.py)
        ─▶ per target, on a pool thread: sqlmig.migrations.apply / status / verify
           with that target's Settings (its own connection, advisory lock, ledger)
        ─▶ TargetResult (outcome, versions before/after, redacted error) ─▶ FleetResult

Each target runs exactly what ``sqlmig apply`` runs; the fleet adds only the
scheduling. The migration files are read once up front, so a bad file is a
usage error (exit 2) before any target is touched.
"""

from __future__ import annotations

import functools
import math
import time
from collections.abc import Callable, Sequence
from dataclasses import dataclass, replace
from typing import TYPE_CHECKING, Any

from sqlmig.core.config import Settings
from sqlmig.core.errors import SqlmigError, UsageError
from sqlmig.core.redact import redact, secrets_for
from sqlmig.fleet.schedule import (
    NOT_CLEAN,
    Event,
    Outcome,
    TargetResult,
    assign_stages,
    run_stages,
)
from sqlmig.fleet.targets import Fleet, FleetTarget

if TYPE_CHECKING:
    from sqlmig.fleet.report import FleetReport
    from sqlmig.migrations.events import Event as RunEvent

#: Most connections a fleet opens at once by default, whatever the servers.
MAX_DEFAULT_JOBS = 8
#: Default runners per server: one waits on a round trip or commit while the other works.
DEFAULT_PER_SERVER = 2

COMMANDS = ("apply", "status", "verify", "drift", "check")


@dataclass(frozen=True)
class FleetOptions:
    jobs: int | None = None
    per_server: int | None = None
    max_failures: int | None = None  # None: the fleet's, else 1 (apply only)
    canary: tuple[str, ...] = ()
    lock_timeout_s: float = 300.0
    wait_s: float = 0.0
    strict: bool = False  # verify --strict
    shadow_dsn: str | None = None  # drift, check: the throwaway database's server
    grants: bool = False  # drift --grants
    fail_on: frozenset[str] = frozenset()  # check --fail-on


@dataclass
class FleetResult:
    command: str
    results: list[TargetResult]
    jobs: int
    per_server: int
    stages: int
    duration_s: float

    def totals(self) -> dict[str, int]:
        return {o.value: sum(1 for r in self.results if r.outcome is o) for o in Outcome}

    @property
    def exit_code(self) -> int:
        """0 all clean; 1 a target failed, has problems, or was skipped; 3 only unreachable."""
        outcomes = {r.outcome for r in self.results}
        if outcomes & (NOT_CLEAN - {Outcome.UNREACHABLE}):
            return 1
        return 3 if Outcome.UNREACHABLE in outcomes else 0

    def as_dict(self) -> dict[str, Any]:
        return {
            "command": self.command,
            "ok": self.exit_code == 0,
            "exit_code": self.exit_code,
            "jobs": self.jobs,
            "per_server": self.per_server,
            "stages": self.stages,
            "duration_s": round(self.duration_s, 3),
            "totals": self.totals(),
            "targets": [r.as_dict() for r in self.results],
        }


def default_jobs(targets: Sequence[FleetTarget]) -> int:
    """min(8, 2 x distinct servers): two runners keep a server busy, eight bound the client."""
    servers = len({t.server for t in targets})
    return max(1, min(MAX_DEFAULT_JOBS, DEFAULT_PER_SERVER * servers, len(targets)))


def run_fleet(
    command: str,
    fleet: Fleet,
    settings: Settings,
    options: FleetOptions = FleetOptions(),  # frozen: safe to share
    *,
    on_event: Callable[[Event], None] | None = None,
    report: FleetReport | None = None,
) -> FleetResult:
    """Run ``command`` on every target; apply in stages, the read-only ones all at once.

    ``report``: the run as a batch on the progress server (one child per target);
    cancelling the batch there stops new targets from starting.
    """
    from sqlmig.migrations.files import load_scripts

    if command not in COMMANDS:
        raise UsageError(f"unknown fleet command {command!r}; one of {', '.join(COMMANDS)}.")
    load_scripts(settings.directory)  # a bad file fails here, before any target
    targets = fleet.targets
    schema_targets = [t.name for t in targets if t.ledger is not None]
    if command in ("drift", "check") and schema_targets:
        # Their shadow database would be built in public and compared with every schema.
        raise UsageError(
            f"fleet {command} does not support schema targets yet ({schema_targets[0]}, ...); "
            "select the others with --only."
        )
    jobs = options.jobs or fleet.jobs or default_jobs(targets)
    servers = len({t.server for t in targets})
    per_server = options.per_server or fleet.per_server or math.ceil(jobs / servers)
    if command == "apply":
        stages = assign_stages(targets, fleet.stages, options.canary)
        max_failures = options.max_failures or fleet.max_failures or 1
    else:
        stages, max_failures = [list(targets)], None
    work = {
        "apply": _apply,
        "status": _status,
        "verify": _verify,
        "drift": _drift,
        "check": _check,
    }[command]
    should_stop = None
    if report is not None:
        report.begin(command, stages)
        if command == "apply":
            work = functools.partial(_apply, on_file=report.on_file)
        on_event = _both(on_event, report.on_event)
        should_stop = report.should_stop
    started = time.monotonic()
    results = run_stages(
        stages,
        lambda target, stage: _guarded(work, target, stage, settings, options),
        jobs=jobs,
        per_server=per_server,
        max_failures=max_failures,
        on_event=on_event,
        should_stop=should_stop,
    )
    return FleetResult(command, results, jobs, per_server, len(stages), time.monotonic() - started)


def _both(
    first: Callable[[Event], None] | None, then: Callable[[Event], None]
) -> Callable[[Event], None]:
    def both(event: Event) -> None:
        if first is not None:
            first(event)
        then(event)

    return both


def target_settings(settings: Settings, target: FleetTarget) -> Settings:
    """``settings`` pointed at one target (never the embedded server, nothing printed)."""
    return replace(
        settings,
        dsn=target.dsn,
        dsn_source=f"fleet target {target.name}",
        embedded=False,
        notify=None,
        ledger=target.ledger or settings.ledger,
    )


_ONE, _FLEET = "`sqlmig apply`", "`sqlmig fleet apply`"

Work = Callable[[FleetTarget, int, Settings, FleetOptions, float, list[int]], TargetResult]


def _guarded(
    work: Work, target: FleetTarget, stage: int, settings: Settings, options: FleetOptions
) -> TargetResult:
    """``work`` on one target; any error becomes the target's result, redacted."""
    import psycopg

    started = time.monotonic()
    one = target_settings(settings, target)
    secrets = secrets_for(target.dsn)
    done: list[int] = []  # versions applied by this run, also when it fails
    try:
        return work(target, stage, one, options, started, done)
    except SqlmigError as exc:
        outcome = Outcome.UNREACHABLE if exc.exit_code == 3 else Outcome.FAILED
        fields = exc.as_dict()
    except psycopg.Error as exc:  # what the CLI's root maps too: 3 for a lost server
        unreachable = isinstance(exc, psycopg.OperationalError)
        outcome = Outcome.UNREACHABLE if unreachable else Outcome.FAILED
        fields = {"error": f"database error: {exc}".strip(), "exit_code": 3 if unreachable else 1}
        fields["kind"] = type(exc).__name__
    except Exception as exc:  # a fleet keeps going; the error is this target's
        outcome, fields = Outcome.FAILED, {"error": f"unexpected error: {exc!r}", "exit_code": 1}
        fields["kind"] = type(exc).__name__
    # The hint to re-run is the fleet's: `sqlmig apply` would need this target's DSN.
    fields = {
        k: redact(v, secrets).replace(_ONE, _FLEET) if isinstance(v, str) else v
        for k, v in fields.items()
    }
    result = TargetResult(
        target,
        stage,
        outcome,
        duration_s=time.monotonic() - started,
        error=fields["error"],
        error_fields=fields,
        applied=tuple(done),
    )
    if outcome is Outcome.FAILED:
        _read_versions(result, one)
    return result


def _apply(
    target: FleetTarget,
    stage: int,
    settings: Settings,
    options: FleetOptions,
    started: float,
    done: list[int],
    on_file: Callable[[FleetTarget, RunEvent], None] | None = None,
) -> TargetResult:
    from sqlmig import migrations
    from sqlmig.migrations.events import Finished

    def sink(event: RunEvent) -> None:
        if isinstance(event, Finished):
            done.append(event.script.version)
        if on_file is not None:
            on_file(target, event)

    result = migrations.apply(
        settings, lock_timeout_s=options.lock_timeout_s, wait_s=options.wait_s, sink=sink
    )
    before = _top(result.plan)
    applied = tuple(s.version for s, _ in result.applied)
    return TargetResult(
        target,
        stage,
        Outcome.APPLIED if applied else Outcome.UP_TO_DATE,
        version_before=before,
        version_after=max(applied, default=before),
        applied=applied,
        duration_s=time.monotonic() - started,
    )


def _status(
    target: FleetTarget,
    stage: int,
    settings: Settings,
    options: FleetOptions,
    started: float,
    done: list[int],
) -> TargetResult:
    from sqlmig import migrations

    plan = migrations.status(settings)
    pending = tuple(s.filename for s in plan.to_apply())
    problems = tuple(f"{e.state.value} {e.filename}" for e in plan.blockers())
    outcome = Outcome.PROBLEMS if problems else Outcome.PENDING if pending else Outcome.UP_TO_DATE
    top = _top(plan)
    return TargetResult(
        target,
        stage,
        outcome,
        version_before=top,
        version_after=top,
        pending=pending,
        problems=problems,
        duration_s=time.monotonic() - started,
    )


def _verify(
    target: FleetTarget,
    stage: int,
    settings: Settings,
    options: FleetOptions,
    started: float,
    done: list[int],
) -> TargetResult:
    from sqlmig import migrations

    plan, problems = migrations.verify(settings, strict=options.strict)
    top = _top(plan)
    return TargetResult(
        target,
        stage,
        Outcome.PROBLEMS if problems else Outcome.OK,
        version_before=top,
        version_after=top,
        pending=tuple(s.filename for s in plan.to_apply()),
        problems=tuple(f"{r.entry.state.value} {r.entry.filename}: {r.reason}" for r in problems),
        duration_s=time.monotonic() - started,
    )


def _drift(
    target: FleetTarget,
    stage: int,
    settings: Settings,
    options: FleetOptions,
    started: float,
    done: list[int],
) -> TargetResult:
    """``sqlmig drift`` on one target: its own shadow database, built from its ledger."""
    from sqlmig import schemadiff
    from sqlmig.progress.install import shadow_tracks

    tracks, drift = shadow_tracks(settings), schemadiff.drift
    report = drift(settings, shadow_dsn=options.shadow_dsn, grants=options.grants, tracks=tracks)
    top = max(report.versions, default=None)
    return TargetResult(
        target,
        stage,
        Outcome.OK if report.ok else Outcome.PROBLEMS,
        version_before=top,
        version_after=top,
        problems=tuple(d.line for d in report.differences),
        duration_s=time.monotonic() - started,
    )


def _check(
    target: FleetTarget,
    stage: int,
    settings: Settings,
    options: FleetOptions,
    started: float,
    done: list[int],
) -> TargetResult:
    """``sqlmig check`` on one target: its pending files rehearsed in a throwaway database."""
    from sqlmig.migrations.rehearse import rehearse
    from sqlmig.progress.install import shadow_tracks

    rehearsal = rehearse(settings, shadow_dsn=options.shadow_dsn, tracks=shadow_tracks(settings))
    if rehearsal.failure is not None:
        raise rehearsal.failure  # apply's own error: the target's result says it
    failing = rehearsal.failing(options.fail_on)
    built = max((s.version for s in rehearsal.built_from), default=None)
    return TargetResult(
        target,
        stage,
        Outcome.PROBLEMS if failing else Outcome.OK,
        version_before=built,
        version_after=built,
        pending=tuple(f.script.filename for f in rehearsal.files),
        problems=tuple(
            f"{f.path}:{r.line}:{r.column}: "
            + ", ".join(x for x in r.findings if x in options.fail_on)
            for f, r in failing
        ),
        duration_s=time.monotonic() - started,
    )


def _top(plan: Any) -> int | None:
    """The newest version with a successful ledger row (None: an empty ledger)."""
    from sqlmig.migrations.plan import State

    kept = (State.APPLIED, State.MODIFIED, State.MISSING)
    return max((e.version for e in plan.entries if e.state in kept), default=None)


def _read_versions(result: TargetResult, settings: Settings) -> None:
    """After a failure: where the ledger stands now, best effort (it may be gone too)."""
    from sqlmig import migrations

    try:
        plan = migrations.status(settings)
    except Exception:  # the failure itself is what the result reports
        return
    from sqlmig.migrations.plan import State

    kept = (State.APPLIED, State.MODIFIED, State.MISSING)
    result.version_after = _top(plan)
    result.version_before = max(
        (e.version for e in plan.entries if e.state in kept and e.version not in result.applied),
        default=None,
    )
