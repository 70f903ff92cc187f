"""Reports of many tasks written together: one transaction per interval, not one per row.

    report(task, 30, ...) ─▶ checked here (range, order, stage, JSON) ─▶ queue (memory)
    flusher thread, every interval_s (or flush()):
        queue ─▶ one transaction: lock the tasks (id order), then their batches
                 ─▶ drop the rows of tasks that are finished or cancelled (remembered)
                 ─▶ one INSERT of every row (seq numbered here, under the same locks
                    the seq trigger takes) ─▶ one UPDATE of the tasks ─▶ COMMIT ─▶ NOTIFY

Usage (one batcher per process or connection; reporters from any thread)::

    with ProgressBatcher(conn) as batcher:  # conn: autocommit, the batcher's alone
        rep = batcher.reporter(task_id)
        rep.report(10, "Extracting", stage="extracting")  # queued: returns at once
        ...
        rep.complete({"memory_id": ...})  # writes what is queued, then the end row

Why: each row costs the database its triggers (seq, ETA, NOTIFY) either way,
but a transaction per row adds a commit, a round trip and a lock per row. 200
tasks at 50 rows/s is 10,000 commits a second row by row, 10 batched
(benchmarks/bench_sse.py --burst-mode batch). A row waits at most interval_s.

What is written is what is reported: a row of a task that was cancelled before
its flush is not written (the task is over) and that task's next call raises
:class:`TaskCancelled`; a row of a task that finished meanwhile, or whose
percent the database has past, is not written and its next call raises
:class:`ReportError`, as is any such row nobody asked about at :meth:`close`.
A failed transaction (the server went away) writes none of its rows:
:class:`ProgressWriteError` says how many, on the next call.
"""

from __future__ import annotations

import json
import re
import threading
import time
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from decimal import Decimal
from typing import TYPE_CHECKING, Any
from uuid import UUID

import psycopg

from sqlmig.core.errors import SqlmigError
from sqlmig.core.redact import redact
from sqlmig.progress.events import TERMINAL_STATUSES
from sqlmig.progress.reporter import ProgressReporter, ReportError, TaskCancelled, check_percent

if TYPE_CHECKING:
    from sqlmig.progress.store import Connection

_STAGE = re.compile(r"[a-z][a-z0-9_.-]{0,63}")  # task_progress_stage_machine_name


class ProgressWriteError(SqlmigError):
    """A flush failed: none of its rows were written."""

    exit_code = 1


@dataclass(frozen=True, slots=True)
class _Row:
    task_id: UUID
    percent: float
    stage: str | None
    message: str
    data: str | None  # JSON text, checked when queued


_LOCK_TASKS = """
    SELECT id, status::text, progress, is_batch FROM async_tasks
     WHERE id = ANY(%s) ORDER BY id FOR NO KEY UPDATE
"""
# After the tasks, their batches (id order): the order of every writer is child, then batch.
_LOCK_BATCHES = """
    SELECT id FROM async_tasks
     WHERE id IN (SELECT parent_id FROM async_tasks WHERE id = ANY(%s)) ORDER BY id
       FOR NO KEY UPDATE
"""
# seq as task_progress_assign_seq numbers it (max + 1, under the task's lock), for a whole batch.
_INSERT_ROWS = """
    WITH rows AS (
        SELECT u.task_id, u.percent, u.stage, u.message, u.data::jsonb AS data, u.ord,
               row_number() OVER (PARTITION BY u.task_id ORDER BY u.ord) AS n
          FROM unnest(%s::uuid[], %s::numeric[], %s::text[], %s::text[], %s::text[])
               WITH ORDINALITY AS u(task_id, percent, stage, message, data, ord)
    ), last AS (
        SELECT t.id, (SELECT max(tp.seq) FROM task_progress AS tp WHERE tp.task_id = t.id) AS seq
          FROM (SELECT DISTINCT task_id AS id FROM rows) AS t
    )
    INSERT INTO task_progress (task_id, seq, status, percent, stage, message, data)
    SELECT r.task_id, coalesce(l.seq, 0) + r.n, 'RUNNING', r.percent, r.stage, r.message, r.data
      FROM rows AS r JOIN last AS l ON l.id = r.task_id
     ORDER BY r.ord
"""
_UPDATE_TASKS = """
    UPDATE async_tasks AS a
       SET status = 'RUNNING', progress = u.percent, started_at = coalesce(a.started_at, now())
      FROM unnest(%s::uuid[], %s::numeric[]) AS u(id, percent)
     WHERE a.id = u.id
"""


class ProgressBatcher:
    """Queues the reports of many tasks and writes them in one transaction per interval."""

    def __init__(
        self,
        conn: Connection,
        *,
        interval_s: float = 0.1,
        on_flush: Callable[[int], None] | None = None,
    ) -> None:
        if not interval_s > 0:
            raise ReportError(f"interval_s must be positive, not {interval_s!r}.")
        self.conn, self.interval_s, self._on_flush = conn, interval_s, on_flush
        self._queue: list[_Row] = []
        self._queue_lock = threading.Lock()  # report() against the flusher taking the queue
        self._conn_lock = threading.Lock()  # one transaction at a time on the connection
        self._last: dict[UUID, float] = {}  # the last percent queued or written, per task
        self._problems: dict[UUID, SqlmigError] = {}
        self._told: set[UUID] = set()  # problems a caller has been given
        self._failed: ProgressWriteError | None = None
        self._wake = threading.Event()
        self._closed = False
        self.rows_written = self.flushes = self.deadlocks = 0
        self._thread = threading.Thread(target=self._run, name="sqlmig-progress-batcher")
        self._thread.daemon = True
        self._thread.start()

    def __enter__(self) -> ProgressBatcher:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()

    def reporter(self, task_id: UUID | str) -> BatchedReporter:
        return BatchedReporter(self, task_id if isinstance(task_id, UUID) else UUID(str(task_id)))

    def report(
        self,
        task_id: UUID,
        percent: float,
        message: str = "",
        *,
        stage: str | None = None,
        data: Mapping[str, Any] | None = None,
    ) -> None:
        """Queue a RUNNING row (written within ``interval_s``); checked now, not at the flush."""
        self._raise_for(task_id)
        check_percent(percent)
        if stage is not None and not _STAGE.fullmatch(stage):
            raise ReportError(f"stage must be a lower-case machine name, not {stage[:70]!r}.")
        if "\0" in message:  # (a stage with one fails the pattern above)
            raise ReportError("a progress message cannot contain NUL characters.")
        try:
            text = json.dumps(dict(data), allow_nan=False) if data is not None else None
        except (TypeError, ValueError) as exc:
            raise ReportError(f"data must be a JSON object: {exc}.") from None
        with self._queue_lock:
            if self._closed:
                raise ReportError("the progress batcher is closed.")
            last = self._last.get(task_id, 0.0)
            if percent < last:
                raise ReportError(
                    f"progress cannot go backwards: task {task_id} is at {last:g} %, "
                    f"reported {percent:g} %."
                )
            self._last[task_id] = percent
            self._queue.append(_Row(task_id, percent, stage, message, text))

    def flush(self) -> int:
        """Write what is queued now, in this thread; returns the number of rows written."""
        with self._conn_lock:
            written = self._flush_locked()
        if self._failed is not None:
            raise self._failed
        return written

    def close(self) -> None:
        """Write what is queued and stop; raises a problem no caller was told of yet."""
        with self._queue_lock:
            self._closed = True
        self._wake.set()
        self._thread.join()
        self.flush()
        untold = [p for task, p in self._problems.items() if task not in self._told]
        if untold:
            raise untold[0]

    def finish(self, task_id: UUID, end: Callable[[ProgressReporter], int]) -> int:
        """Write the queued rows, then ``end`` the task through a plain reporter, now."""
        self.flush()
        self._raise_for(task_id)
        with self._conn_lock:
            seq = end(ProgressReporter(self.conn, task_id))
        with self._queue_lock:
            self._last.pop(task_id, None)
        return seq

    def is_cancelled(self, task_id: UUID) -> bool:
        if isinstance(self._problems.get(task_id), TaskCancelled):
            return True
        with self._conn_lock:
            return ProgressReporter(self.conn, task_id).cancelled

    # -- internals --------------------------------------------------------------------------

    def _raise_for(self, task_id: UUID) -> None:
        if self._failed is not None:
            raise self._failed
        problem = self._problems.get(task_id)
        if problem is not None:
            self._told.add(task_id)
            raise problem

    def _run(self) -> None:
        # A fixed rate, not a pause after each flush: a row waits at most one interval
        # (plus the flush itself), however long the previous flush took.
        next_at = time.monotonic() + self.interval_s
        while not self._closed:
            self._wake.wait(max(0.0, next_at - time.monotonic()))
            self._wake.clear()
            if self._closed:
                return
            next_at = max(next_at + self.interval_s, time.monotonic())
            with self._conn_lock:
                try:
                    self._flush_locked()
                except Exception as exc:  # on_flush raised (its rows were written): stop
                    self._failed = ProgressWriteError(
                        f"the progress batcher stopped: on_flush raised {type(exc).__name__}: {exc}"
                    )
                    return

    def _flush_locked(self) -> int:
        if self._failed is not None:
            return 0
        with self._queue_lock:
            rows, self._queue = self._queue, []
        if not rows:
            return 0
        for attempt in range(3):
            try:
                written = self._write(rows)
                break
            except psycopg.errors.DeadlockDetected:
                self.deadlocks += 1
                if attempt < 2:  # nothing was written: the same rows again
                    time.sleep(0.01 * (attempt + 1))
                    continue
                self._fail(rows, "deadlock detected three times")
                return 0
            except psycopg.Error as exc:
                self._fail(rows, redact(exc.diag.message_primary or str(exc).strip()))
                return 0
            except Exception as exc:  # a bug, not the database: the same promise holds
                self._fail(rows, f"{type(exc).__name__}: {exc}")
                return 0
        self.rows_written += written
        self.flushes += 1
        if self._on_flush is not None:
            self._on_flush(written)
        return written

    def _fail(self, rows: list[_Row], message: str) -> None:
        self._failed = ProgressWriteError(
            f"{len(rows)} progress row(s) were not written: {message}; "
            "the batcher stopped (make a new one on a working connection)."
        )

    def _write(self, rows: list[_Row]) -> int:
        tasks = sorted({row.task_id for row in rows})
        with self.conn.transaction():
            states = {r[0]: r for r in self.conn.execute(_LOCK_TASKS, (tasks,)).fetchall()}
            self.conn.execute(_LOCK_BATCHES, (tasks,))
            keep = [row for row in rows if self._writable(row, states.get(row.task_id))]
            if keep:
                self.conn.execute(
                    _INSERT_ROWS,
                    (
                        [r.task_id for r in keep],
                        [Decimal(str(r.percent)) for r in keep],
                        [r.stage for r in keep],
                        [r.message for r in keep],
                        [r.data for r in keep],
                    ),
                )
                last = {r.task_id: r.percent for r in keep}
                self.conn.execute(
                    _UPDATE_TASKS, (list(last), [Decimal(str(p)) for p in last.values()])
                )
        return len(keep)

    def _writable(self, row: _Row, state: tuple[Any, ...] | None) -> bool:
        task = row.task_id
        if task in self._problems:
            return False
        if state is None:
            self._problems[task] = ReportError(f"no task {task}.")
        elif state[1] == "CANCELLED":
            self._problems[task] = TaskCancelled(task)
        elif state[1] in TERMINAL_STATUSES:
            self._problems[task] = ReportError(
                f"task {task} is already {state[1]}; its queued progress was not written."
            )
        elif state[3]:
            self._problems[task] = ReportError(
                f"task {task} is a batch: its progress comes from its children."
            )
        elif row.percent < float(state[2]):
            self._problems[task] = ReportError(
                f"progress cannot go backwards: task {task} is at {float(state[2]):g} % in the "
                f"database; {row.percent:g} % was not written."
            )
        else:
            return True
        return False


class BatchedReporter:
    """:class:`~sqlmig.progress.reporter.ProgressReporter`'s calls, through a batcher."""

    def __init__(self, batcher: ProgressBatcher, task_id: UUID) -> None:
        self.batcher, self.task_id = batcher, task_id

    def report(
        self,
        percent: float,
        message: str = "",
        *,
        stage: str | None = None,
        data: Mapping[str, Any] | None = None,
    ) -> None:
        self.batcher.report(self.task_id, percent, message, stage=stage, data=data)

    def complete(self, result: Mapping[str, Any] | None = None, message: str = "Completed") -> int:
        """Write the queued rows, then finish the task (one more transaction, now)."""
        return self.batcher.finish(self.task_id, lambda rep: rep.complete(result, message))

    def fail(self, error: BaseException | str, *, stage: str | None = None) -> int:
        """Write the queued rows, then mark the task FAILED (as ProgressReporter.fail)."""
        return self.batcher.finish(self.task_id, lambda rep: rep.fail(error, stage=stage))

    @property
    def cancelled(self) -> bool:
        """True once the task was cancelled (known from a flush, or one cheap query)."""
        return self.batcher.is_cancelled(self.task_id)

    def check_cancelled(self) -> None:
        if self.cancelled:
            raise TaskCancelled(self.task_id)
