"""How a fleet run prints: a line per finished target, a live line, the summary.

Every line is redacted with the passwords of every target (and --report's).
Only click is imported at module level.
"""

from __future__ import annotations

import functools
import sys
from typing import TYPE_CHECKING

import click

from sqlmig.cli.state import CliState

if TYPE_CHECKING:
    from sqlmig.fleet.run import FleetResult
    from sqlmig.fleet.schedule import Event, Progress, TargetResult


def echo(state: CliState, text: str, *, err: bool = False, nl: bool = True) -> None:
    from sqlmig.core.redact import redact

    secrets = _secrets(tuple(state.dsns), tuple(state.tokens))
    click.echo(redact(text, secrets), err=err, nl=nl)


@functools.lru_cache(maxsize=4)
def _secrets(dsns: tuple[str, ...], tokens: tuple[str, ...]) -> tuple[str, ...]:
    """What ``CliState.secrets`` gives, once per fleet (not once per line of hundreds)."""
    from sqlmig.core.redact import password_of

    return (*(password_of(dsn) for dsn in dsns), *tokens)


def target_line(result: TargetResult, width: int = 0) -> str:
    """One finished target: outcome, name, versions, what happened, how long."""
    from sqlmig.fleet.schedule import Outcome

    def shown(version: int | None) -> str:
        return "-" if version is None else str(version)

    versions = shown(result.version_before)
    if result.version_after != result.version_before:
        versions += f" -> {shown(result.version_after)}"
    if result.outcome is Outcome.SKIPPED:
        detail = result.error
    elif result.error:
        detail = result.error.splitlines()[0]
    elif result.applied:
        detail = f"applied {len(result.applied)} file(s)"
    elif result.problems:
        detail = f"{len(result.problems)} problem(s): {result.problems[0]}"
    elif result.pending:
        detail = f"{len(result.pending)} pending"
    else:
        detail = ""
    took = "" if result.outcome is Outcome.SKIPPED else f" ({result.duration_s:.2f} s)"
    return f"{result.outcome.value:<11} {result.target.name:<{width}}  {versions:<9} {detail}{took}"


def live_line(command: str, progress: Progress) -> str:
    """The terminal's one redrawn line: done, running, failed, ETA."""
    eta = progress.eta_s
    left = "" if eta is None else f", ETA {int(eta) // 60}:{int(eta) % 60:02d}"
    return (
        f"fleet {command}: {progress.done}/{progress.total} done, {progress.running} running, "
        f"{progress.failed} failed, {progress.elapsed_s:.0f} s{left}"
    )


class FleetLines:
    """Events to lines: one per finished target, or on a terminal a live line on stderr
    (with failures printed above it as they happen)."""

    def __init__(self, state: CliState, command: str) -> None:
        self.state, self.command = state, command
        self.tty = sys.stderr.isatty() and not state.quiet
        self.width = 0
        self.drawn = False

    def __call__(self, event: Event) -> None:
        from sqlmig.fleet.schedule import FAILURES, Done, Started

        if isinstance(event, Started):
            self.width = max(self.width, len(event.target.name))
        if isinstance(event, Done):
            result = event.result
            failure = result.outcome in FAILURES
            if (failure or not self.tty) and not (self.state.quiet and not failure):
                self.clear()
                echo(self.state, target_line(result, self.width))
        if self.tty:
            echo(
                self.state, "\r\x1b[K" + live_line(self.command, event.progress), err=True, nl=False
            )
            self.drawn = True

    def clear(self) -> None:
        if self.drawn:
            click.echo("\r\x1b[K", err=True, nl=False)
            self.drawn = False


def summary(state: CliState, result: FleetResult) -> None:
    from sqlmig.fleet.schedule import FAILURES, Outcome

    totals = ", ".join(f"{n} {o}" for o, n in result.totals().items() if n)
    echo(
        state,
        f"fleet {result.command}: {len(result.results)} target(s), {result.stages} stage(s), "
        f"--jobs {result.jobs}, --per-server {result.per_server}, "
        f"{result.duration_s:.1f} s: {totals}.",
    )
    for r in result.results:
        if r.outcome in FAILURES:
            echo(state, f"{r.outcome.value} {r.target.name} ({r.target.shown}):")
            echo(state, "\n".join(f"  {line}" for line in r.error.splitlines()))
        elif r.outcome is Outcome.PROBLEMS:
            echo(state, f"problems {r.target.name} ({r.target.shown}):")
            echo(state, "\n".join(f"  {line}" for line in r.problems))
    skipped = [r.target.name for r in result.results if r.outcome is Outcome.SKIPPED]
    if skipped:
        reasons = sorted({r.error for r in result.results if r.outcome is Outcome.SKIPPED})
        echo(state, f"skipped {len(skipped)}: {', '.join(skipped)} ({'; '.join(reasons)})")
