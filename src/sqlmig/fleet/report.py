"""``fleet apply --report DSN``: the run as a batch task on the progress server.

    begin ─▶ one batch (task_type sqlmig.fleet.<command>) + one child per target
    Started ─▶ child RUNNING 0 %     a file applied ─▶ child at files done / files pending
    Done ─▶ child COMPLETED (applied, up to date) / FAILED (the redacted error) /
            CANCELLED (skipped, with the reason)
    the batch cancelled on the dashboard ─▶ should_stop() says so: no new target starts

The database rolls the children up into the batch (sql/init/14). Task rows hold
target names, stages and outcomes only, never a DSN. Every write runs on one
autocommit connection behind a lock (the pool's threads report on it too); a
reporting error never fails a target: reporting stops, and :attr:`broken` says why.
"""

from __future__ import annotations

import threading
import time
from collections.abc import Sequence
from typing import TYPE_CHECKING, Any

from sqlmig.core.config import Settings
from sqlmig.core.errors import UsageError
from sqlmig.core.redact import redact, secrets_for
from sqlmig.fleet.schedule import Done, Event, Outcome, Started
from sqlmig.fleet.targets import FleetTarget

if TYPE_CHECKING:
    from sqlmig.migrations.events import Event as RunEvent
    from sqlmig.progress.reporter import ProgressReporter

#: Least seconds between two looks at the batch's status (the scheduler asks often).
POLL_S = 0.5
#: The children's task type; the batch's is ``sqlmig.fleet.<command>``.
CHILD_TYPE = "sqlmig.fleet.target"


class FleetReport:
    """One fleet run's batch on the progress tables of ``dsn``; see the module docstring."""

    def __init__(self, dsn: str, settings: Settings) -> None:
        from sqlmig.core import connections
        from sqlmig.progress import store

        self.secrets = secrets_for(dsn)
        on = Settings(dsn, "--report", settings.directory, settings.project_root, embedded=False)
        self.conn = connections.connect(on)
        if not store.has_progress_tables(self.conn):
            self.conn.close()
            raise UsageError(
                f"--report: {connections.describe(dsn)} has no progress tables: install them "
                "first (sqlmig progress install)."
            )
        self.lock = threading.Lock()
        self.batch: ProgressReporter | None = None
        self.children: dict[str, ProgressReporter] = {}
        self.broken = ""  # why reporting stopped (redacted), "" while it works
        self.cancelled = False
        self._looked = 0.0

    def begin(self, command: str, stages: Sequence[Sequence[FleetTarget]]) -> None:
        """The batch and every child (one transaction: none may finish before all exist)."""
        from sqlmig.progress.reporter import ProgressReporter

        rows = [(t.name, n) for n, stage in enumerate(stages, start=1) for t in stage]
        with self.lock:
            self.batch = ProgressReporter.create_batch(
                self.conn,
                f"sqlmig.fleet.{command}",
                input_data={"command": command, "targets": len(rows), "stages": len(stages)},
            )
            made = self.batch.add_children(
                CHILD_TYPE, [{"name": name, "stage": stage} for name, stage in rows]
            )
        self.children = {name: child for (name, _), child in zip(rows, made, strict=True)}

    @property
    def task_id(self) -> str:
        return str(self.batch.task_id) if self.batch else ""

    def on_event(self, event: Event) -> None:
        """The scheduler's events (on its thread): a child starts or ends."""
        if isinstance(event, Started):
            self._call(event.target.name, "report", 0, "started")
        elif isinstance(event, Done):
            self._done(event.result.target.name, event.result)

    def on_file(self, target: FleetTarget, event: RunEvent) -> None:
        """A migration's events (on a pool thread): the child's percent, files done / pending."""
        from sqlmig.migrations.events import Finished
        from sqlmig.migrations.events import Started as FileStarted

        if isinstance(event, FileStarted):
            percent = 100 * (event.index - 1) / event.total
            text = f"applying {event.script.filename} ({event.index}/{event.total})"
        elif isinstance(event, Finished):
            percent = 100 * event.index / event.total
            text = f"applied {event.script.filename} ({event.index}/{event.total})"
        else:
            return
        self._call(target.name, "report", percent, text, stage="applying")

    def should_stop(self) -> str:
        """A reason once the batch was cancelled (looked up at most every POLL_S)."""
        if not self.cancelled and self.batch is not None and not self.broken:
            now = time.monotonic()
            if now - self._looked >= POLL_S:
                self._looked = now
                with self.lock:
                    try:
                        self.cancelled = self.batch.cancelled
                    except Exception as exc:  # the progress database went away
                        self._break(exc)
        if self.cancelled:
            return "not started: the batch was cancelled on the progress server"
        return ""

    def close(self) -> None:
        self.conn.close()

    def _done(self, name: str, result: Any) -> None:
        outcome = result.outcome
        if outcome in (Outcome.APPLIED, Outcome.UP_TO_DATE):
            summary = {
                "outcome": outcome.value,
                "version_before": result.version_before,
                "version_after": result.version_after,
                "applied": list(result.applied),
            }
            self._call(name, "complete", summary, f"{outcome.value}: {len(result.applied)} file(s)")
        elif outcome is Outcome.SKIPPED:
            self._cancel(name, result.error)
        else:
            self._call(name, "fail", f"{outcome.value}: {result.error}")

    def _cancel(self, name: str, reason: str) -> None:
        from sqlmig.progress import store

        child = self.children.get(name)
        if child is None or self.broken:
            return
        with self.lock:
            try:
                store.cancel_task(self.conn, child.task_id, reason)
            except Exception as exc:
                self._break(exc)

    def _call(self, name: str, method: str, *args: Any, **kwargs: Any) -> None:
        from sqlmig.progress.reporter import TaskCancelled

        child = self.children.get(name)
        if child is None or self.broken:
            return
        args = tuple(redact(a, self.secrets) if isinstance(a, str) else a for a in args)
        with self.lock:
            try:
                getattr(child, method)(*args, **kwargs)
            except TaskCancelled:  # the child (or its batch) was cancelled: the target goes on
                self._looked = 0.0  # should_stop looks at the batch next time
            except Exception as exc:
                self._break(exc)

    def _break(self, exc: BaseException) -> None:
        self.broken = redact(f"{type(exc).__name__}: {exc}".strip(), self.secrets)
