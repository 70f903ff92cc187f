"""All SQL of the progress feature: tasks and their progress rows.

Every statement is a constant with bound parameters (never string formatting).
Functions take a connection and return plain data; the caller decides the
transaction (the reporter wraps lock → append → update in one, so the NOTIFY
of the appended row fires when that transaction commits).

    reporter ──▶ lock_task / append_progress / mark_* ──▶ commit ──▶ NOTIFY task_progress
    server   ──▶ fetch_task / list_tasks / fetch_events (catch-up) / cancel_task

The server runs these on :class:`sqlmig.progress.pool.Pool`'s few
connections, never on the hub's listening connection (that one only LISTENs).
"""

from __future__ import annotations

from dataclasses import dataclass
from decimal import Decimal
from typing import TYPE_CHECKING, Any
from uuid import UUID

from psycopg import sql
from psycopg.rows import dict_row
from psycopg.types.json import Jsonb

from sqlmig.progress.events import TERMINAL_STATUSES, ProgressEvent

if TYPE_CHECKING:
    from psycopg import Connection as _Connection

    Connection = _Connection[Any]

TASK_STATUSES = ("PENDING", "RUNNING", "COMPLETED", "FAILED", "CANCELLED")
CATCH_UP_BATCH = 500

# -- reading ------------------------------------------------------------------------

_TASK_COLUMNS = sql.SQL("""
    t.id, t.task_type, t.status::text AS status, t.progress,
    coalesce(nullif(btrim(t.input_data ->> 'title'), ''), t.task_type) AS title,
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
        "title": row["title"],
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


# -- the schema ---------------------------------------------------------------------------


def has_progress_tables(conn: Connection) -> bool:
    row = conn.execute(
        "SELECT to_regclass('async_tasks') IS NOT NULL AND to_regclass('task_progress') IS NOT NULL"
    ).fetchone()
    return bool(row and row[0])
