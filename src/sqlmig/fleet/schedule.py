"""Which target runs when: stages, ``--jobs``, the per-server cap, ``--max-failures``.

    stages ─▶ for each stage: queue ─▶ pool (≤ jobs, ≤ per_server per host:port)
        ─▶ a result per target ─▶ a failure? count it; at max_failures stop scheduling
    a stage starts only when every target of the one before ended clean

Pure scheduling over a ``work`` callable: no database here (:mod:`sqlmig.fleet.run`
supplies the work). Events are delivered on the caller's thread, one at a time,
so a renderer needs no locks.
"""

from __future__ import annotations

import time
from collections import Counter
from collections.abc import Callable, Sequence
from concurrent.futures import FIRST_COMPLETED, Future, ThreadPoolExecutor, wait
from dataclasses import dataclass, field
from enum import StrEnum
from fnmatch import fnmatchcase
from typing import Any

from sqlmig.core.errors import UsageError
from sqlmig.fleet.targets import FleetTarget

#: How often a waiting scheduler wakes to report progress (the live line's clock).
TICK_S = 0.5


class Outcome(StrEnum):
    APPLIED = "applied"  # apply ran files
    UP_TO_DATE = "up-to-date"  # nothing to do (status: nothing pending)
    PENDING = "pending"  # status: files to apply
    OK = "ok"  # verify: no problems
    PROBLEMS = (
        "problems"  # status/verify: modified, missing, failed rows (verify --strict: pending)
    )
    FAILED = "failed"  # the command failed on this target (exit 1 or 2 there)
    UNREACHABLE = "unreachable"  # cannot connect, or the lock was not acquired (exit 3 there)
    SKIPPED = "skipped"  # not started: failures, a failed stage, an interrupt


#: Outcomes that count towards --max-failures and stop the next stage.
FAILURES = frozenset({Outcome.FAILED, Outcome.UNREACHABLE})
#: Outcomes that are not clean (the fleet command exits non-zero).
NOT_CLEAN = FAILURES | {Outcome.PROBLEMS, Outcome.SKIPPED}


@dataclass
class TargetResult:
    """What one target ended with. ``error`` and ``error_fields`` are redacted."""

    target: FleetTarget
    stage: int  # 1-based
    outcome: Outcome
    version_before: int | None = None
    version_after: int | None = None
    applied: tuple[int, ...] = ()
    pending: tuple[str, ...] = ()  # file names (status)
    problems: tuple[str, ...] = ()  # one line each (status, verify)
    duration_s: float = 0.0
    error: str = ""
    error_fields: dict[str, Any] = field(default_factory=dict)

    def as_dict(self) -> dict[str, Any]:
        return {
            "name": self.target.name,
            "server": self.target.server,
            "target": self.target.shown,
            "stage": self.stage,
            "outcome": self.outcome.value,
            "version_before": self.version_before,
            "version_after": self.version_after,
            "applied": list(self.applied),
            "pending": list(self.pending),
            "problems": list(self.problems),
            "duration_s": round(self.duration_s, 3),
            "error": self.error_fields or None,
        }


@dataclass(frozen=True)
class Progress:
    total: int
    done: int
    running: int
    failed: int
    elapsed_s: float

    @property
    def eta_s(self) -> float | None:
        """Seconds left at the pace so far (None before the first target ends)."""
        if not self.done:
            return None
        return self.elapsed_s / self.done * (self.total - self.done)


@dataclass(frozen=True)
class Started:
    target: FleetTarget
    progress: Progress


@dataclass(frozen=True)
class Done:
    result: TargetResult
    progress: Progress


@dataclass(frozen=True)
class Tick:
    progress: Progress


Event = Started | Done | Tick


def assign_stages(
    targets: Sequence[FleetTarget], stages: Sequence[Sequence[str]], canary: Sequence[str] = ()
) -> list[list[FleetTarget]]:
    """Each target in the first stage with a glob that matches its name.

    ``canary`` globs make a first stage ahead of ``stages``; targets no stage
    matches make a last one. Stages left empty (``--only``) are dropped.
    """
    globs = [list(canary)] if canary else []
    globs += [list(s) for s in stages]
    for glob in canary:
        if not any(fnmatchcase(t.name, glob) for t in targets):
            raise UsageError(f"--canary {glob}: no target of the fleet has that name.")
    out: list[list[FleetTarget]] = [[] for _ in range(len(globs) + 1)]
    for target in targets:
        index = next(
            (i for i, g in enumerate(globs) if any(fnmatchcase(target.name, p) for p in g)),
            len(globs),
        )
        out[index].append(target)
    return [stage for stage in out if stage]


def run_stages(
    stages: Sequence[Sequence[FleetTarget]],
    work: Callable[[FleetTarget, int], TargetResult],
    *,
    jobs: int,
    per_server: int,
    max_failures: int | None,
    on_event: Callable[[Event], None] | None = None,
    should_stop: Callable[[], str] | None = None,
) -> list[TargetResult]:
    """Run ``work`` on every target, stage by stage; results in the targets' order.

    Targets already running when the run stops (max_failures, a failed stage,
    Ctrl-C, a reason from ``should_stop``) finish; those not started are SKIPPED
    with the reason.
    """
    emit = on_event or (lambda _event: None)
    total = sum(len(s) for s in stages)
    results: dict[str, TargetResult] = {}
    started = time.monotonic()
    failures = 0
    stop_reason = ""

    def progress(running: int) -> Progress:
        failed = sum(1 for r in results.values() if r.outcome in FAILURES)
        return Progress(total, len(results), running, failed, time.monotonic() - started)

    def skip(target: FleetTarget, stage: int, reason: str, running: int = 0) -> None:
        results[target.name] = TargetResult(target, stage, Outcome.SKIPPED, error=reason)
        results[target.name].error_fields = {"error": reason, "kind": "Skipped"}
        emit(Done(results[target.name], progress(running)))

    with ThreadPoolExecutor(max_workers=jobs, thread_name_prefix="sqlmig-fleet") as pool:
        for number, stage in enumerate(stages, start=1):
            if stop_reason:
                for target in stage:
                    skip(target, number, stop_reason)
                continue
            queue = list(stage)
            running: dict[Future[TargetResult], FleetTarget] = {}
            per: Counter[str] = Counter()
            while queue or running:
                if max_failures is not None and failures >= max_failures and not stop_reason:
                    stop_reason = (
                        f"not started: {failures} failure(s) reached --max-failures {max_failures}"
                    )
                if should_stop is not None and not stop_reason:
                    stop_reason = should_stop()
                if stop_reason:
                    for target in queue:
                        skip(target, number, stop_reason, len(running))
                    queue = []
                index = 0
                while len(running) < jobs and index < len(queue):
                    target = queue[index]
                    if per[target.server] >= per_server:
                        index += 1
                        continue
                    queue.pop(index)
                    per[target.server] += 1
                    running[pool.submit(work, target, number)] = target
                    emit(Started(target, progress(len(running))))
                if not running:
                    continue
                try:
                    done, _ = wait(running, timeout=TICK_S, return_when=FIRST_COMPLETED)
                except KeyboardInterrupt:
                    stop_reason = "not started: interrupted (Ctrl-C); running targets finished"
                    continue
                for future in done:
                    target = running.pop(future)
                    per[target.server] -= 1
                    result = future.result()
                    results[target.name] = result
                    if result.outcome in FAILURES:
                        failures += 1
                    emit(Done(result, progress(len(running))))
                if not done:
                    emit(Tick(progress(len(running))))
            if not stop_reason and any(results[t.name].outcome in FAILURES for t in stage):
                stop_reason = f"not started: stage {number} did not end clean"
    order = [t.name for s in stages for t in s]
    return [results[name] for name in order]
