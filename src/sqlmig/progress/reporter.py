"""The pipeline's side: report stages of a task, and learn that it was cancelled.

    pipeline ──report(30, "Extracting ...")──▶ one transaction:
        lock async_tasks row ─▶ check (range, order, not finished / cancelled)
        ─▶ INSERT task_progress (seq by trigger) ─▶ UPDATE async_tasks ─▶ COMMIT ─▶ NOTIFY

Usage::

    reporter = ProgressReporter.create(conn, "memory.episode", input_data={...})
    try:
        reporter.report(10, "Starting ingestion", stage="ingesting")
        ...
        reporter.complete({"memory_id": str(memory_id)})
    except TaskCancelled:
        ...  # someone pressed Cancel: stop, clean up; the task is already CANCELLED
    except Exception as exc:
        reporter.fail(exc)
        raise

Pass an autocommit connection: each call commits on its own, so browsers
see it at once. (Inside an outer transaction, psycopg makes the report a
savepoint and nothing is sent before the outer COMMIT.)

Batches (sql/init/14): a parent task whose children are reported on as
usual; the database rolls their status and size-weighted percent up into the
parent (so a batch has no reports of its own, and cancelling it cancels the
children, whose reporters then raise :class:`TaskCancelled`)::

    batch = ProgressReporter.create_batch(conn, "memory.batch_import")
    children = batch.add_children("memory.episode", [{"title": t} for t in titles],
                                  sizes=[len(text) for text in texts])
    for child in children:  # or in parallel, each on its own connection
        child.report(50, "Extracting")
        child.complete()

Add every child in one call (one transaction) before any child finishes: a
batch whose children have all finished is finished.

Cancellation needs no schema change: ``POST .../cancel`` sets the task
CANCELLED (with completed_at, as the table's CHECKs require) and appends a
CANCELLED row. The reporter's next call sees the status under the row lock
and raises :class:`TaskCancelled`; :attr:`ProgressReporter.cancelled` and
:meth:`ProgressReporter.sleep` let a pipeline notice between reports.
"""

from __future__ import annotations

import math
import time
import traceback
from collections.abc import Mapping, Sequence
from typing import TYPE_CHECKING, Any
from uuid import UUID

import psycopg

from sqlmig.core.errors import SqlmigError, UsageError
from sqlmig.core.redact import redact
from sqlmig.progress import store
from sqlmig.progress.events import TERMINAL_STATUSES

if TYPE_CHECKING:
    from sqlmig.progress.store import Connection


class ReportError(UsageError):
    """A bad reporter call: percent out of range or going backwards, a finished task."""


class TaskCancelled(SqlmigError):
    """The task was cancelled; the pipeline should stop (the task is already CANCELLED)."""

    exit_code = 1

    def __init__(self, task_id: UUID) -> None:
        super().__init__(f"task {task_id} was cancelled.")
        self.task_id = task_id


class ProgressReporter:
    """Reports progress of one async task; see the module docstring."""

    def __init__(self, conn: Connection, task_id: UUID | str) -> None:
        self.conn = conn
        self.task_id = task_id if isinstance(task_id, UUID) else UUID(str(task_id))

    @classmethod
    def create(
        cls,
        conn: Connection,
        task_type: str,
        *,
        input_data: Mapping[str, Any] | None = None,
    ) -> ProgressReporter:
        """Insert a PENDING task and return its reporter."""
        if not task_type.strip():
            raise ReportError("task_type must not be blank.")
        with conn.transaction():
            task_id = store.create_task(conn, task_type, dict(input_data or {}))
        return cls(conn, task_id)

    @classmethod
    def create_batch(
        cls,
        conn: Connection,
        task_type: str,
        *,
        input_data: Mapping[str, Any] | None = None,
    ) -> ProgressReporter:
        """Insert a PENDING batch (a parent for :meth:`add_children`); returns its reporter."""
        if not task_type.strip():
            raise ReportError("task_type must not be blank.")
        with conn.transaction():
            task_id = store.create_task(conn, task_type, dict(input_data or {}), is_batch=True)
        return cls(conn, task_id)

    def add_children(
        self,
        task_type: str,
        inputs: Sequence[Mapping[str, Any] | None],
        *,
        sizes: Sequence[float | None] | None = None,
        conn: Connection | None = None,
    ) -> list[ProgressReporter]:
        """Add PENDING children to this batch in one transaction; their reporters, in order.

        ``sizes`` weigh the children in the batch's percent (None: 1 each).
        The reporters use ``conn`` (default: the batch's connection).
        """
        if not task_type.strip():
            raise ReportError("task_type must not be blank.")
        if sizes is not None and len(sizes) != len(inputs):
            raise ReportError(f"{len(sizes)} sizes for {len(inputs)} children.")
        for size in sizes or ():
            if size is not None and (
                isinstance(size, bool) or not isinstance(size, int | float) or not size > 0
            ):
                raise ReportError(f"a child's size must be a positive number, not {size!r}.")
        try:
            with self.conn.transaction():
                ids = store.create_children(
                    self.conn,
                    self.task_id,
                    task_type,
                    [dict(i or {}) for i in inputs],
                    list(sizes) if sizes is not None else [None] * len(inputs),
                )
        except (psycopg.errors.CheckViolation, psycopg.errors.ForeignKeyViolation) as exc:
            raise ReportError(
                f"cannot add children to {self.task_id}: {exc.diag.message_primary}."
            ) from None
        return [ProgressReporter(conn or self.conn, task_id) for task_id in ids]

    def add_child(
        self,
        task_type: str,
        input_data: Mapping[str, Any] | None = None,
        *,
        size: float | None = None,
        conn: Connection | None = None,
    ) -> ProgressReporter:
        """One child (see :meth:`add_children`)."""
        return self.add_children(task_type, [input_data], sizes=[size], conn=conn)[0]

    def report(
        self,
        percent: float,
        message: str = "",
        *,
        stage: str | None = None,
        data: Mapping[str, Any] | None = None,
    ) -> int:
        """Append a RUNNING row and move the task to ``percent``; returns the row's seq.

        ``percent`` may stay the same (several messages in one stage) but not
        go down. 100 here means "almost done": only :meth:`complete` finishes.
        """
        check_percent(percent)
        with self.conn.transaction():
            state = self._lock(own_progress=True)
            if percent < state.progress:
                raise ReportError(
                    f"progress cannot go backwards: task {self.task_id} is at "
                    f"{state.progress:g} %, reported {percent:g} %."
                )
            seq = store.append_progress(
                self.conn,
                self.task_id,
                status="RUNNING",
                percent=percent,
                stage=stage,
                message=message,
                data=dict(data) if data is not None else None,
            )
            store.mark_running(self.conn, self.task_id, percent)
        return seq

    def complete(self, result: Mapping[str, Any] | None = None, message: str = "Completed") -> int:
        """Finish the task at 100 % with an optional result (a JSON object)."""
        with self.conn.transaction():
            self._lock(own_progress=True)
            seq = store.append_progress(
                self.conn,
                self.task_id,
                status="COMPLETED",
                percent=100,
                stage="completed",
                message=message,
                data={"result": dict(result)} if result is not None else None,
            )
            store.mark_completed(self.conn, self.task_id, dict(result) if result else None)
        return seq

    def fail(self, error: BaseException | str, *, stage: str | None = None) -> int:
        """Mark the task FAILED with the error (type and message; traceback in error_data)."""
        details = error_details(error)
        with self.conn.transaction():
            state = self._lock()
            seq = store.append_progress(
                self.conn,
                self.task_id,
                status="FAILED",
                percent=state.progress,
                stage=stage,
                message=details["message"],
                data={"error": {"type": details["type"], "message": details["message"]}},
            )
            store.mark_failed(self.conn, self.task_id, details)
        return seq

    @property
    def cancelled(self) -> bool:
        """True once the task was cancelled (one cheap query)."""
        return store.task_status(self.conn, self.task_id) == "CANCELLED"

    def check_cancelled(self) -> None:
        """Raise :class:`TaskCancelled` if the task was cancelled."""
        if self.cancelled:
            raise TaskCancelled(self.task_id)

    def sleep(self, seconds: float, *, poll_s: float = 0.2) -> None:
        """Wait (simulated or real work), waking early to raise on cancellation."""
        deadline = time.monotonic() + seconds
        while True:
            self.check_cancelled()
            left = deadline - time.monotonic()
            if left <= 0:
                return
            time.sleep(min(poll_s, left))

    def _lock(self, *, own_progress: bool = False) -> store.TaskState:
        state = store.lock_task(self.conn, self.task_id)
        if state is None:
            raise ReportError(f"no task {self.task_id}.")
        if state.status == "CANCELLED":
            raise TaskCancelled(self.task_id)
        if state.status in TERMINAL_STATUSES:
            raise ReportError(f"task {self.task_id} is already {state.status}; cannot report.")
        if own_progress and state.is_batch:
            raise ReportError(
                f"task {self.task_id} is a batch: its progress comes from its children."
            )
        return state


def check_percent(percent: float) -> None:
    if isinstance(percent, bool) or not isinstance(percent, int | float):
        raise ReportError(f"percent must be a number, not {percent!r}.")
    if not math.isfinite(percent) or not 0 <= percent <= 100:
        raise ReportError(f"percent must be between 0 and 100, not {percent!r}.")
    if round(percent, 2) != percent:
        raise ReportError(f"percent has at most two decimals (NUMERIC(5,2)), not {percent!r}.")


def error_details(error: BaseException | str) -> dict[str, Any]:
    """error_data for a failure: type, a redacted message, and the traceback if any."""
    if isinstance(error, BaseException):
        details: dict[str, Any] = {
            "type": type(error).__name__,
            "message": redact(str(error)) or type(error).__name__,
        }
        if error.__traceback__ is not None:
            details["traceback"] = redact("".join(traceback.format_exception(error)))
        return details
    return {"type": "Error", "message": redact(error) or "failed"}
