"""All SQL of the progress feature: tasks and their progress rows.

Every statement is a constant with bound parameters (never string formatting;
list_tasks joins constant conditions with psycopg.sql). Batches are rolled up
by the database (sql/init/14: a batch's counts are its task_batches row), not
here; cancel_task cascades to a batch's children, locking them before the
batch (the lock order of every writer).
Functions take a connection and return plain data; the caller decides the
transaction (the reporter wraps lock → append → update in one, so the NOTIFY
of the appended row fires when that transaction commits).

    reporter ──▶ lock_task / append_progress / mark_* ──▶ commit ──▶ NOTIFY task_progress
    server   ──▶ fetch_task / list_tasks / fetch_events (catch-up) / cancel_task

The server runs these on :class:`sqlmig.progress.pool.Pool`'s few
connections, never on the hub's listening connection (that one only LISTENs).
"""

from __future__ import annotations

from dataclasses import dataclass, replace
from datetime import datetime
from decimal import Decimal
from typing import TYPE_CHECKING, Any
from uuid import UUID, uuid4

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
    t.result_data, t.error_data, t.parent_id, t.is_batch, t.size,
    t.created_at, t.started_at, t.completed_at, t.updated_at,
    extract(epoch FROM coalesce(t.completed_at, now()) - t.started_at)::float8 AS elapsed_s,
    p.seq AS last_seq, p.stage, p.message, p.eta_seconds,
    k.total, k.pending, k.running, k.completed, k.failed, k.cancelled
""")
_LAST_ROW = sql.SQL("""
    LEFT JOIN LATERAL (
        SELECT tp.seq, tp.stage, tp.message, tp.eta_seconds
          FROM task_progress AS tp
         WHERE tp.task_id = t.id
         ORDER BY tp.seq DESC
         LIMIT 1
    ) AS p ON true
    LEFT JOIN task_batches AS k ON k.task_id = t.id
""")
_FETCH_TASK = sql.SQL("SELECT {} FROM async_tasks AS t {} WHERE t.id = %s").format(
    _TASK_COLUMNS, _LAST_ROW
)
CHILD_STATUSES = ("pending", "running", "completed", "failed", "cancelled")
_FETCH_EVENTS = """
    SELECT id, task_id, seq, status::text AS status, percent, stage, message, data, created_at,
           eta_seconds, parent_id
      FROM task_progress
     WHERE task_id = %s AND seq > %s
     ORDER BY seq
     LIMIT %s
"""
_FETCH_EVENT = """
    SELECT id, task_id, seq, status::text AS status, percent, stage, message, data, created_at,
           eta_seconds, parent_id
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
        "eta_seconds": float(row["eta_seconds"]) if row["eta_seconds"] is not None else None,
        "parent_id": str(row["parent_id"]) if row["parent_id"] else None,
        "is_batch": row["is_batch"],
        "size": float(row["size"]) if row["size"] is not None else None,
        # a batch's children by status (null for other tasks)
        "children": (
            {"total": row["total"], **{name: row[name] for name in CHILD_STATUSES}}
            if row["is_batch"]
            else None
        ),
    }


def fetch_task(conn: Connection, task_id: UUID) -> dict[str, Any] | None:
    """The task as JSON-ready data (with its latest stage/message), or None."""
    with conn.cursor(row_factory=dict_row) as cur:
        row = cur.execute(_FETCH_TASK, (task_id,)).fetchone()
    return _task_json(row) if row else None


@dataclass(frozen=True)
class TaskFilter:
    """What GET /api/v1/tasks and ``tasks list`` select; None: any."""

    status: str | None = None
    task_type: str | None = None
    parent: UUID | None = None  # the children of this batch
    top_level: bool = False  # only tasks without a parent (batches and lone tasks)


def list_tasks(
    conn: Connection,
    *,
    limit: int = 50,
    status: str | None = None,
    where: TaskFilter | None = None,
    after: tuple[datetime, UUID] | None = None,
) -> list[dict[str, Any]]:
    """Tasks newest first (created_at, then id, both descending), optionally filtered.

    ``after`` is a keyset cursor, the (created_at, id) of the last task of the
    previous page: the next page starts right after it, so tasks created in
    the meantime shift nothing (no task is skipped or shown twice).
    """
    where = where or TaskFilter()
    if status is not None:  # the keyword of earlier versions
        where = replace(where, status=status)
    conditions: list[sql.Composable] = []
    params: list[Any] = []
    if where.status is not None:
        conditions.append(sql.SQL("t.status = %s::task_status"))
        params.append(where.status)
    if where.task_type is not None:
        conditions.append(sql.SQL("t.task_type = %s"))
        params.append(where.task_type)
    if where.parent is not None:
        conditions.append(sql.SQL("t.parent_id = %s"))
        params.append(where.parent)
    if where.top_level:
        conditions.append(sql.SQL("t.parent_id IS NULL"))
    if after is not None:
        conditions.append(sql.SQL("(t.created_at, t.id) < (%s, %s)"))
        params += [after[0], after[1]]
    query = sql.SQL(
        "SELECT {} FROM async_tasks AS t {} {} ORDER BY t.created_at DESC, t.id DESC LIMIT %s"
    ).format(
        _TASK_COLUMNS,
        _LAST_ROW,
        sql.SQL("WHERE ") + sql.SQL(" AND ").join(conditions) if conditions else sql.SQL(""),
    )
    with conn.cursor(row_factory=dict_row) as cur:
        rows = cur.execute(query, [*params, limit]).fetchall()
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
    is_batch: bool = False


def create_task(
    conn: Connection,
    task_type: str,
    input_data: dict[str, Any],
    *,
    parent_id: UUID | None = None,
    size: float | None = None,
    is_batch: bool = False,
) -> UUID:
    """Insert a PENDING task (a batch, a batch's child, or a task on its own)."""
    row = conn.execute(
        "INSERT INTO async_tasks (task_type, input_data, parent_id, size, is_batch)"
        " VALUES (%s, %s, %s, %s, %s) RETURNING id",
        (
            task_type,
            Jsonb(input_data),
            parent_id,
            Decimal(str(size)) if size is not None else None,
            is_batch,
        ),
    ).fetchone()
    assert row is not None
    return UUID(str(row[0]))


def create_children(
    conn: Connection,
    parent_id: UUID,
    task_type: str,
    inputs: list[dict[str, Any]],
    sizes: list[float | None],
) -> list[UUID]:
    """Insert a batch's PENDING children in ONE statement (the roll-up runs once); their ids."""
    ids = [uuid4() for _ in inputs]
    conn.execute(
        "INSERT INTO async_tasks (id, task_type, input_data, parent_id, size)"
        " SELECT u.id, %s, u.input_data, %s, u.size"
        " FROM unnest(%s::uuid[], %s::jsonb[], %s::numeric[]) AS u (id, input_data, size)",
        (
            task_type,
            parent_id,
            ids,
            [Jsonb(i) for i in inputs],
            [Decimal(str(size)) if size is not None else None for size in sizes],
        ),
    )
    return ids


def lock_task(conn: Connection, task_id: UUID) -> TaskState | None:
    """Lock the task row until commit (the same lock the seq trigger takes)."""
    row = conn.execute(
        "SELECT status::text, progress, task_type, is_batch FROM async_tasks WHERE id = %s"
        " FOR NO KEY UPDATE",
        (task_id,),
    ).fetchone()
    if row is None:
        return None
    return TaskState(str(row[0]), float(row[1]), str(row[2]), bool(row[3]))


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
        # A batch's children first: the lock order of every writer is child, then parent.
        children = conn.execute(_LOCK_CHILDREN, (task_id,)).fetchall()
        state = lock_task(conn, task_id)
        if state is None:
            return CancelOutcome(found=False, cancelled=False, status="")
        if state.status in TERMINAL_STATUSES:
            return CancelOutcome(found=True, cancelled=False, status=state.status)
        seq = _cancel_one(conn, task_id, state.progress, message)
        for child_id, child_status, child_progress in children:
            if child_status not in TERMINAL_STATUSES:
                _cancel_one(conn, child_id, float(child_progress), "Cancelled with its batch.")
    return CancelOutcome(found=True, cancelled=True, status="CANCELLED", seq=seq)


_LOCK_CHILDREN = """
    SELECT id, status::text, progress FROM async_tasks
     WHERE parent_id = %s ORDER BY id FOR NO KEY UPDATE
"""


def _cancel_one(conn: Connection, task_id: UUID, percent: float, message: str) -> int:
    mark_cancelled(conn, task_id)
    return append_progress(
        conn,
        task_id,
        status="CANCELLED",
        percent=percent,
        stage="cancelled",
        message=message,
        data=None,
    )


# -- the schema ---------------------------------------------------------------------------


def has_progress_tables(conn: Connection) -> bool:
    row = conn.execute(
        "SELECT to_regclass('async_tasks') IS NOT NULL AND to_regclass('task_progress') IS NOT NULL"
        " AND to_regclass('task_batches') IS NOT NULL"
    ).fetchone()
    return bool(row and row[0])
