"""All SQL of the progress feature: tasks, progress rows, memories, and a small pool.

Every statement is a constant with bound parameters (never string formatting).
Functions take a connection and return plain data; the caller decides the
transaction (the reporter wraps lock → append → update in one, so the NOTIFY
of the appended row fires when that transaction commits).

    reporter ──▶ lock_task / append_progress / mark_* ──▶ commit ──▶ NOTIFY task_progress
    server   ──▶ fetch_task / list_tasks / fetch_events (catch-up) / cancel_task

The server runs these on a :class:`Pool` of a few connections, never on the
hub's listening connection (that one only LISTENs).
"""

from __future__ import annotations

import threading
from collections.abc import Callable
from dataclasses import dataclass
from decimal import Decimal
from typing import TYPE_CHECKING, Any, TypeVar
from uuid import UUID

import psycopg
from psycopg import sql
from psycopg.rows import dict_row
from psycopg.types.json import Jsonb

from sqlmig.core.errors import DatabaseUnavailable
from sqlmig.progress.events import TERMINAL_STATUSES, ProgressEvent

if TYPE_CHECKING:
    from psycopg import Connection as _Connection

    Connection = _Connection[Any]

T = TypeVar("T")

TASK_STATUSES = ("PENDING", "RUNNING", "COMPLETED", "FAILED", "CANCELLED")
CATCH_UP_BATCH = 500

# -- reading ------------------------------------------------------------------------

_TASK_COLUMNS = sql.SQL("""
    t.id, t.task_type, t.status::text AS status, t.progress,
    t.result_data, t.error_data,
    t.created_at, t.started_at, t.completed_at, t.updated_at,
    extract(epoch FROM coalesce(t.completed_at, now()) - t.started_at)::float8 AS elapsed_s,
    p.seq AS last_seq, p.stage, p.message
""")
_LAST_ROW = sql.SQL("""
    LEFT JOIN LATERAL (
        SELECT tp.seq, tp.stage, tp.message
          FROM task_progress AS tp
         WHERE tp.task_id = t.id
         ORDER BY tp.seq DESC
         LIMIT 1
    ) AS p ON true
""")
_FETCH_TASK = sql.SQL("SELECT {} FROM async_tasks AS t {} WHERE t.id = %s").format(
    _TASK_COLUMNS, _LAST_ROW
)
_LIST_TASKS = sql.SQL("""
    SELECT {} FROM async_tasks AS t {}
     WHERE (%(status)s::task_status IS NULL OR t.status = %(status)s::task_status)
     ORDER BY t.created_at DESC, t.id
     LIMIT %(limit)s
""").format(_TASK_COLUMNS, _LAST_ROW)
_FETCH_EVENTS = """
    SELECT id, task_id, seq, status::text AS status, percent, stage, message, data, created_at
      FROM task_progress
     WHERE task_id = %s AND seq > %s
     ORDER BY seq
     LIMIT %s
"""
_FETCH_EVENT = """
    SELECT id, task_id, seq, status::text AS status, percent, stage, message, data, created_at
      FROM task_progress
     WHERE id = %s
"""


def _task_json(row: dict[str, Any]) -> dict[str, Any]:
    def iso(value: Any) -> str | None:
        return value.isoformat() if value is not None else None

    return {
        "id": str(row["id"]),
        "task_type": row["task_type"],
        "status": row["status"],
        "terminal": row["status"] in TERMINAL_STATUSES,
        "progress": float(row["progress"]),
        "stage": row["stage"],
        "message": row["message"] or "",
        "last_seq": row["last_seq"] or 0,
        "result": row["result_data"],
        "error": row["error_data"],
        "created_at": iso(row["created_at"]),
        "started_at": iso(row["started_at"]),
        "completed_at": iso(row["completed_at"]),
        "updated_at": iso(row["updated_at"]),
        "elapsed_s": row["elapsed_s"],
    }


def fetch_task(conn: Connection, task_id: UUID) -> dict[str, Any] | None:
    """The task as JSON-ready data (with its latest stage/message), or None."""
    with conn.cursor(row_factory=dict_row) as cur:
        row = cur.execute(_FETCH_TASK, (task_id,)).fetchone()
    return _task_json(row) if row else None


def list_tasks(
    conn: Connection, *, limit: int = 50, status: str | None = None
) -> list[dict[str, Any]]:
    """The most recently created tasks, newest first, optionally of one status."""
    with conn.cursor(row_factory=dict_row) as cur:
        rows = cur.execute(_LIST_TASKS, {"status": status, "limit": limit}).fetchall()
    return [_task_json(r) for r in rows]


def fetch_events(
    conn: Connection, task_id: UUID | str, after_seq: int, *, limit: int = CATCH_UP_BATCH
) -> list[ProgressEvent]:
    """The task's rows with seq > after_seq, in order (the catch-up query)."""
    with conn.cursor(row_factory=dict_row) as cur:
        rows = cur.execute(_FETCH_EVENTS, (task_id, after_seq, limit)).fetchall()
    return [ProgressEvent.from_row(r) for r in rows]


def fetch_event(conn: Connection, row_id: int) -> ProgressEvent | None:
    """One row by id: the full text of a row whose NOTIFY payload was truncated."""
    with conn.cursor(row_factory=dict_row) as cur:
        row = cur.execute(_FETCH_EVENT, (row_id,)).fetchone()
    return ProgressEvent.from_row(row) if row else None


# -- writing (inside the caller's transaction) --------------------------------------------


@dataclass(frozen=True)
class TaskState:
    status: str
    progress: float
    task_type: str


def create_task(conn: Connection, task_type: str, input_data: dict[str, Any]) -> UUID:
    row = conn.execute(
        "INSERT INTO async_tasks (task_type, input_data) VALUES (%s, %s) RETURNING id",
        (task_type, Jsonb(input_data)),
    ).fetchone()
    assert row is not None
    return UUID(str(row[0]))


def lock_task(conn: Connection, task_id: UUID) -> TaskState | None:
    """Lock the task row until commit (the same lock the seq trigger takes)."""
    row = conn.execute(
        "SELECT status::text, progress, task_type FROM async_tasks WHERE id = %s FOR NO KEY UPDATE",
        (task_id,),
    ).fetchone()
    if row is None:
        return None
    return TaskState(str(row[0]), float(row[1]), str(row[2]))


def append_progress(
    conn: Connection,
    task_id: UUID,
    *,
    status: str,
    percent: float,
    stage: str | None,
    message: str,
    data: dict[str, Any] | None,
) -> int:
    """Insert a progress row (seq assigned by trigger); returns its seq."""
    row = conn.execute(
        "INSERT INTO task_progress (task_id, status, percent, stage, message, data)"
        " VALUES (%s, %s, %s, %s, %s, %s) RETURNING seq",
        (
            task_id,
            status,
            Decimal(str(percent)),
            stage,
            message,
            Jsonb(data) if data is not None else None,
        ),
    ).fetchone()
    assert row is not None
    return int(row[0])


def mark_running(conn: Connection, task_id: UUID, percent: float) -> None:
    conn.execute(
        "UPDATE async_tasks SET status = 'RUNNING', progress = %s,"
        " started_at = coalesce(started_at, now()) WHERE id = %s",
        (Decimal(str(percent)), task_id),
    )


def mark_completed(conn: Connection, task_id: UUID, result: dict[str, Any] | None) -> None:
    conn.execute(
        "UPDATE async_tasks SET status = 'COMPLETED', progress = 100,"
        " started_at = coalesce(started_at, now()),"
        " completed_at = greatest(now(), started_at),"
        " result_data = coalesce(%s, result_data) WHERE id = %s",
        (Jsonb(result) if result is not None else None, task_id),
    )


def mark_failed(conn: Connection, task_id: UUID, error: dict[str, Any]) -> None:
    conn.execute(
        "UPDATE async_tasks SET status = 'FAILED', completed_at = greatest(now(), started_at),"
        " error_data = %s WHERE id = %s",
        (Jsonb(error), task_id),
    )


def mark_cancelled(conn: Connection, task_id: UUID) -> None:
    conn.execute(
        "UPDATE async_tasks SET status = 'CANCELLED', completed_at = greatest(now(), started_at)"
        " WHERE id = %s",
        (task_id,),
    )


def task_status(conn: Connection, task_id: UUID) -> str | None:
    row = conn.execute("SELECT status::text FROM async_tasks WHERE id = %s", (task_id,)).fetchone()
    return str(row[0]) if row else None


@dataclass(frozen=True)
class CancelOutcome:
    found: bool
    cancelled: bool  # False: it had already finished
    status: str  # the task's status after the call
    seq: int | None = None  # the CANCELLED row's seq


def cancel_task(
    conn: Connection, task_id: UUID, message: str = "Cancelled on request."
) -> CancelOutcome:
    """Mark an unfinished task CANCELLED and append the terminal row, in one transaction.

    The running pipeline learns about it at its next report (the reporter
    checks the status under the same row lock) or by polling ``cancelled``.
    """
    with conn.transaction():
        state = lock_task(conn, task_id)
        if state is None:
            return CancelOutcome(found=False, cancelled=False, status="")
        if state.status in TERMINAL_STATUSES:
            return CancelOutcome(found=True, cancelled=False, status=state.status)
        mark_cancelled(conn, task_id)
        seq = append_progress(
            conn,
            task_id,
            status="CANCELLED",
            percent=state.progress,
            stage="cancelled",
            message=message,
            data=None,
        )
    return CancelOutcome(found=True, cancelled=True, status="CANCELLED", seq=seq)


# -- memories (the episode pipeline's rows) -----------------------------------------------


# -- connections ------------------------------------------------------------------------------


def connector(dsn: str, *, application_name: str = "sqlmig-serve") -> Callable[[], Connection]:
    """A factory of autocommit connections to ``dsn`` (for the hub and the pool)."""
    from psycopg import conninfo

    params: dict[str, Any] = {"autocommit": True, "application_name": application_name}
    if "connect_timeout" not in conninfo.conninfo_to_dict(dsn):
        params["connect_timeout"] = 5

    def connect() -> Connection:
        return psycopg.connect(dsn, **params)

    return connect


def has_progress_tables(conn: Connection) -> bool:
    row = conn.execute(
        "SELECT to_regclass('async_tasks') IS NOT NULL AND to_regclass('task_progress') IS NOT NULL"
    ).fetchone()
    return bool(row and row[0])


# -- a small connection pool ---------------------------------------------------------------


class Pool:
    """At most ``size`` autocommit connections shared by the request threads.

    psycopg_pool is not a dependency; this is all the server needs: bounded
    concurrency, reuse, and one transparent retry when an idle connection
    turns out dead (the database restarted since it was last used).
    """

    def __init__(
        self, connect: Callable[[], Connection], *, size: int = 4, timeout_s: float = 30.0
    ) -> None:
        self._connect = connect
        self._idle: list[Connection] = []
        self._lock = threading.Lock()
        self._slots = threading.BoundedSemaphore(size)
        self._timeout_s = timeout_s
        self._closed = False

    def run(self, fn: Callable[[Connection], T]) -> T:
        if not self._slots.acquire(timeout=self._timeout_s):
            raise DatabaseUnavailable(
                f"no database connection became free within {self._timeout_s:g} s."
            )
        try:
            return self._run(fn)
        finally:
            self._slots.release()

    def _run(self, fn: Callable[[Connection], T]) -> T:
        while True:
            conn, reused = self._take()
            try:
                result = fn(conn)
            except psycopg.OperationalError:
                conn.close()
                if reused:
                    continue  # stale; the next one is fresh or also stale, then new
                raise
            except BaseException:
                self._give(conn)
                raise
            self._give(conn)
            return result

    def _take(self) -> tuple[Connection, bool]:
        with self._lock:
            while self._idle:
                conn = self._idle.pop()
                if not conn.closed and not conn.broken:
                    return conn, True
                conn.close()
        return self._connect(), False

    def _give(self, conn: Connection) -> None:
        if conn.closed or conn.broken:
            conn.close()
            return
        if conn.info.transaction_status != psycopg.pq.TransactionStatus.IDLE:
            conn.close()  # a caller left a transaction open: do not hand it on
            return
        with self._lock:
            if not self._closed:
                self._idle.append(conn)
                return
        conn.close()

    def close(self) -> None:
        with self._lock:
            self._closed = True
            idle, self._idle = self._idle, []
        for conn in idle:
            conn.close()
