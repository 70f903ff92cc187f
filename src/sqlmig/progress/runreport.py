"""``sqlmig apply --report DSN``: one apply as a task on the progress server.

    begin ─▶ a PENDING task ``sqlmig.apply`` (input: the folder's name, never a DSN)
    Started(file i of n) ─▶ RUNNING at (i - 1) / n   "applying 0003-orders.sql (3/14)"
    Finished(file i of n) ─▶ RUNNING at i / n        "applied 0003-orders.sql (3/14)"
    the apply returns ─▶ COMPLETED (what it applied)  ·  raises ─▶ FAILED (redacted error)

The dashboard then shows a deploy's migrations file by file, as ``fleet apply
--report`` shows a fleet. Writes go over their own autocommit connection: a
reporting error never fails the apply (reporting stops, :attr:`broken` says why).
"""

from __future__ import annotations

from pathlib import Path
from typing import TYPE_CHECKING, Any

from sqlmig.core.errors import UsageError
from sqlmig.core.redact import redact, secrets_for

if TYPE_CHECKING:
    from sqlmig.migrations.events import Event
    from sqlmig.progress.reporter import ProgressReporter

TASK_TYPE = "sqlmig.apply"


class ApplyReport:
    """The task one ``apply`` reports to, on the progress tables of ``dsn``."""

    def __init__(self, dsn: str, directory: Path) -> None:
        import psycopg

        from sqlmig.core import connections
        from sqlmig.progress import store
        from sqlmig.progress.reporter import ProgressReporter

        self.secrets = secrets_for(dsn)
        try:
            self.conn = psycopg.connect(dsn, autocommit=True)
        except psycopg.OperationalError as exc:
            reason = redact(str(exc).strip().splitlines()[0], self.secrets)
            raise UsageError(f"--report: cannot connect: {reason}") from None
        if not store.has_progress_tables(self.conn):
            self.conn.close()
            raise UsageError(
                f"--report: {connections.describe(dsn)} has no progress tables: install them "
                "first (sqlmig progress install)."
            )
        self.broken = ""
        self.task: ProgressReporter = ProgressReporter.create(
            self.conn,
            TASK_TYPE,
            input_data={"title": f"apply {directory.name}", "directory": directory.name},
        )

    @property
    def task_id(self) -> str:
        return str(self.task.task_id)

    def on_event(self, event: Event) -> None:
        """The apply's sink: each file moves the task's percent."""
        from sqlmig.migrations.events import Finished, Started

        if isinstance(event, Started):
            done, verb = event.index - 1, "applying"
        elif isinstance(event, Finished):
            done, verb = event.index, "applied"
        else:
            return
        message = f"{verb} {event.script.filename} ({event.index}/{event.total})"
        percent = min(99.0, round(100.0 * done / max(event.total, 1), 2))  # 100: completed
        self._call("report", percent, message, stage=verb)

    def completed(self, applied: list[str]) -> None:
        count = len(applied)
        self._call("complete", {"applied": applied}, f"applied {count} file(s)")

    def failed(self, error: BaseException) -> None:
        # The error's own type name, its text with passwords masked, and no traceback
        # (the CLI's message is the whole story; a traceback would show file paths only).
        named = type(type(error).__name__, (Exception,), {})(redact(str(error), self.secrets))
        self._call("fail", named)

    def close(self) -> None:
        self.conn.close()

    def _call(self, method: str, *args: Any, **kwargs: Any) -> None:
        import psycopg

        from sqlmig.core.errors import SqlmigError

        if self.broken:
            return
        try:
            getattr(self.task, method)(*args, **kwargs)
        except (psycopg.Error, SqlmigError) as exc:
            self.broken = redact(str(exc).strip().splitlines()[0], self.secrets)
