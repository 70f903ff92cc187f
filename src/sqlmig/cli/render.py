"""How migration results look in a terminal: progress lines and bars, the status table, JSON.

Only click is imported at module level (``sqlmig --help`` stays fast).
"""

from __future__ import annotations

import sys
import time
from typing import TYPE_CHECKING, Any

import click

if TYPE_CHECKING:
    from sqlmig.migrations.api import ApplyResult, Refusal
    from sqlmig.migrations.events import Event
    from sqlmig.migrations.files import Script
    from sqlmig.migrations.history import HistoryRow
    from sqlmig.migrations.plan import Plan


class ProgressLines:
    """One line per migration; on a terminal, a bar redrawn in place below them.

    ``verbosity``: -1 (``-q``) prints nothing but the waiting notice, 1 (``-v``)
    adds each statement's line and time and the server's notices.
    """

    #: Seconds between redraws of the bar's COPY row count.
    ROWS_EVERY = 0.2

    def __init__(self, verb: str = "applied", verbosity: int = 0) -> None:
        self.out = sys.stdout
        self.tty = self.out.isatty() and verbosity == 0
        self.verb = verb
        self.verbosity = verbosity
        self._at = (0, 1)  # the running file's index and the total, for the bar
        self._drawn = 0.0

    def __call__(self, event: Event) -> None:
        from sqlmig.migrations.events import (
            CopyRows,
            Finished,
            ServerNotice,
            Started,
            StatementRan,
            WaitingForLock,
        )

        if isinstance(event, WaitingForLock):
            click.echo(
                "waiting for the migration lock: another sqlmig run holds it "
                f"(up to {event.timeout_s:g} s, --lock-timeout)"
            )
        elif self.verbosity < 0:
            return
        elif isinstance(event, StatementRan):
            first = " ".join(event.text.split())[:60]
            self._line(
                f"  {event.script.filename}:{event.line:<5} {event.execution_ms:>7} ms  {first}"
            )
        elif isinstance(event, ServerNotice):
            if self.verbosity > 0:
                self._line(f"  {event.script.filename}: {event.severity}: {event.message}")
        elif isinstance(event, CopyRows):
            now = time.monotonic()
            if self.tty and now - self._drawn >= self.ROWS_EVERY:
                self._drawn = now
                label = f"{event.script.filename}  {event.rows:,} rows"
                self._bar(self._at[0] - 1, self._at[1], label)
        elif isinstance(event, Finished):
            line = f"{self.verb} {event.script.filename:<40} {event.execution_ms:>7} ms"
            if event.rows is not None:
                line += f"  {event.rows:,} rows"
            if self.tty:
                click.echo("\r\x1b[K" + line)
                if event.index < event.total:
                    self._bar(event.index, event.total, "")
            else:
                self._line(line)
        elif isinstance(event, Started) and self.tty:
            self._at = (event.index, event.total)
            self._bar(event.index - 1, event.total, event.script.filename)

    def _line(self, line: str) -> None:
        # Plain writes (click.echo probes the stream each time), flushed so
        # container logs show each line as it happens.
        self.out.write(line + "\n")
        self.out.flush()

    @staticmethod
    def _bar(done: int, total: int, label: str) -> None:
        width = 30
        filled = width * done // total
        bar = "#" * filled + "-" * (width - filled)
        click.echo(f"\r\x1b[K[{bar}] {done}/{total} {label}", nl=False)


_MARK = {
    "applied": "[X]",
    "pending": "[ ]",
    "out-of-order": "[<]",
    "modified": "[~]",
    "missing": "[?]",
    "failed": "[!]",
}


def plan_json(plan: Plan) -> list[dict[str, Any]]:
    return [
        {
            "version": e.version,
            "name": e.name,
            "file": e.filename,
            "state": e.state.value,
            "checksum": e.script.checksum if e.script else e.row.checksum if e.row else None,
            "applied_at": e.row.applied_at.isoformat() if e.row else None,
            "execution_ms": e.row.execution_ms if e.row else None,
            "edit_accepted": (
                {
                    "applied_checksum": e.row.checksum,
                    "accepted_checksum": e.row.accepted_checksum,
                    "accepted_at": e.row.accepted_at.isoformat() if e.row.accepted_at else None,
                    "accepted_by": e.row.accepted_by,
                }
                if e.row and e.row.accepted_checksum
                else None
            ),
        }
        for e in plan.entries
    ]


def render_plan(plan: Plan) -> None:
    lines = []
    for e in plan.entries:
        line = f"{_MARK[e.state.value]} {e.filename:<40} {e.state.value:<12}"
        if e.row and e.state.value != "pending":
            line += f" {e.row.applied_at:%Y-%m-%d %H:%M:%S} {e.row.execution_ms:>7} ms"
            if e.row.accepted_checksum and e.row.accepted_at:
                line += (
                    f"  (edit accepted {e.row.accepted_at:%Y-%m-%d %H:%M:%S} by "
                    f"{e.row.accepted_by}; the edited SQL did not run)"
                )
        lines.append(line.rstrip())
    counts = {k: v for k, v in plan.counts().items() if v}
    summary = ", ".join(f"{v} {k}" for k, v in counts.items()) or "no migrations"
    lines.append(f"{len(plan.entries)} migration(s): {summary}")
    if plan.repeatables:
        lines += _repeatable_lines(plan)
    click.echo("\n".join(lines))  # one write: status of 1000 files stays instant


def _repeatable_lines(plan: Plan) -> list[str]:
    """Repeatables after the versioned ones: state, last applied checksum (short) and time."""
    lines = ["repeatable:"]
    for e in plan.repeatables:
        line = f"{_MARK[e.state.value]} {e.filename:<40} {e.state.value:<12}"
        row = e.row
        if row and row.applied_at:
            line += f" {row.applied_at:%Y-%m-%d %H:%M:%S} {row.execution_ms:>7} ms"
            line += f"  {(row.checksum or '')[:12]}"
        if row and row.failed_at:
            line += f"  (last run failed {row.failed_at:%Y-%m-%d %H:%M:%S})"
        lines.append(line.rstrip())
    summary = ", ".join(f"{v} {k}" for k, v in plan.repeatable_counts().items())
    lines.append(f"{len(plan.repeatables)} repeatable(s): {summary}")
    return lines


def repeatables_json(plan: Plan) -> list[dict[str, Any]]:
    return [
        {
            "name": e.name,
            "file": e.filename,
            "state": e.state.value,
            "checksum": e.repeatable.checksum if e.repeatable else None,
            "applied_checksum": e.row.checksum if e.row else None,
            "applied_at": e.row.applied_at.isoformat() if e.row and e.row.applied_at else None,
            "applied_by": e.row.applied_by if e.row else None,
            "execution_ms": e.row.execution_ms if e.row and e.row.applied_at else None,
            "failed_checksum": e.row.failed_checksum if e.row else None,
            "failed_at": e.row.failed_at.isoformat() if e.row and e.row.failed_at else None,
        }
        for e in plan.repeatables
    ]


def render_dry_run(result: ApplyResult) -> None:
    """``apply --dry-run``: each file that would run, in order, and its SQL."""
    runs: list[tuple[Script | None, str]] = [(s, "") for s in result.to_apply]
    runs += [(e.repeatable, f" (repeatable, {e.state.value})") for e in result.repeatables]
    if not runs:
        click.echo("Nothing to apply (dry run).")
        return
    for script, what in runs:
        assert script is not None  # the plan runs only files that exist
        mode = "" if script.up.transactional else " (no transaction)"
        mode += " (a template, shown unrendered)" if script.up.templated else ""
        click.echo(f"-- sqlmig dry run: would apply {script.filename}{what}{mode}")
        click.echo(script.body.rstrip("\n") + "\n")
    count = f"{len(result.to_apply)} migration(s)"
    if result.repeatables:
        count += f" and {len(result.repeatables)} repeatable(s)"
    click.echo(f"-- {count} would run; nothing was changed.")


def refusal_json(r: Refusal) -> dict[str, Any]:
    return {
        "version": r.entry.version if r.entry.version >= 0 else None,  # None: a repeatable
        "file": r.entry.filename,
        "state": r.entry.state.value,
        "reason": r.reason,
        "diff": r.diff or None,
    }


def render_rollback_plan(scripts: list[Script]) -> None:
    """``rollback --dry-run``: each down file that would run, newest first, and its SQL."""
    if not scripts:
        click.echo("Nothing to roll back (dry run).")
        return
    for script in scripts:
        assert script.down is not None  # refused earlier
        mode = "" if script.down.transactional else " (no transaction)"
        mode += " (a template, shown unrendered)" if script.down.templated else ""
        click.echo(
            f"-- sqlmig dry run: would roll back {script.filename} "
            f"with {script.down.path.name}{mode}"
        )
        click.echo(script.down.body.rstrip("\n") + "\n")
    click.echo(f"-- {len(scripts)} migration(s) would be rolled back; nothing was changed.")


def history_json(rows: list[HistoryRow]) -> list[dict[str, Any]]:
    return [
        {
            "id": r.id,
            "version": r.version,
            "name": r.name,
            "action": r.action,
            "outcome": r.outcome,
            "checksum_before": r.checksum_before,
            "checksum_after": r.checksum_after,
            "execution_ms": r.execution_ms,
            "db_user": r.db_user,
            "actor": r.actor,
            "at": r.at.isoformat(),
            "detail": r.detail,
        }
        for r in rows
    ]


def render_history(rows: list[HistoryRow]) -> None:
    """One line per history row, oldest first: when, what, outcome, checksums, who."""
    if not rows:
        click.echo("No history yet.")
        return
    lines = [
        f"{'when':<19}  {'version':>7}  {'name':<24} {'action':<8} {'outcome':<7} {'ms':>7}"
        f"  {'checksum':<28}  who"
    ]
    for r in rows:
        before = (r.checksum_before or "-")[:12]
        after = (r.checksum_after or "-")[:12]
        who = r.db_user + (f" ({r.actor})" if r.actor else "")
        lines.append(
            f"{r.at:%Y-%m-%d %H:%M:%S}  {'R' if r.version is None else r.version:>7}"
            f"  {r.name[:24]:<24} {r.action:<8}"
            f" {r.outcome:<7} {r.execution_ms:>7}  {before:>12} -> {after:<12}  {who}"
        )
    lines.append(f"{len(rows)} history row(s)")
    click.echo("\n".join(lines))
