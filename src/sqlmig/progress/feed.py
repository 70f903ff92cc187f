"""The list stream's order: every task's events as one feed with a resumable cursor.

Per-task ``seq`` numbers are no global order. ``task_progress.id`` (an
identity) is, but ids are taken at INSERT and transactions commit in another
order: a client that saw id 11 may not yet have seen id 10, committed later.
So the hub releases rows to list streams in id order (:class:`Sequencer`)::

    NOTIFY (commit order) ─▶ id == watermark + 1? ──yes──▶ release (and every
                                 │                          waiting successor)
                                 └─no──▶ wait for the missing id, at most hold_s;
                                         then it is taken as rolled back: skip it

The released row's id is then a cursor: every row at or below the watermark
was released before, so ``Last-Event-ID: N`` resumes with the rows ``id > N``.
A row whose transaction stayed open longer than ``hold_s`` after its INSERT
arrives *late* (below the watermark): it is still sent live, but without an
``id:`` line, so the client's cursor does not move back. Only a client that
was disconnected in that very window misses it (documented in README).

A list stream sends the events of the tasks that match its filters:
``type`` (the task's type) and ``status``: an event whose status is that
status (the task is in it), or the first event after one (the event with which
the task leaves it, e.g. its terminal event).
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any

import psycopg
from psycopg import sql
from psycopg.rows import dict_row

from sqlmig.core.errors import SqlmigError
from sqlmig.progress import events
from sqlmig.progress.events import ProgressEvent

if TYPE_CHECKING:
    from sqlmig.progress.store import Connection

SNAPSHOT_LIMIT = 1000  # a fresh list stream starts with the latest event of at most this many tasks
_COLUMNS = sql.SQL("""tp.id, tp.task_id, tp.seq, tp.status::text AS status, tp.percent, tp.stage,
              tp.message, tp.data, tp.created_at, tp.eta_seconds, tp.parent_id""")
_ROWS_AFTER = sql.SQL("""
    SELECT {columns}
      FROM task_progress AS tp
      JOIN async_tasks AS t ON t.id = tp.task_id
      LEFT JOIN task_progress AS prev ON prev.task_id = tp.task_id AND prev.seq = tp.seq - 1
     WHERE tp.id > %(after)s AND tp.id <= %(upto)s
       AND (%(type)s::text IS NULL OR t.task_type = %(type)s::text)
       AND (%(status)s::task_status IS NULL OR tp.status = %(status)s::task_status
            OR prev.status = %(status)s::task_status)
     ORDER BY tp.id
     LIMIT %(limit)s
""").format(columns=_COLUMNS)
_SNAPSHOT = sql.SQL("""
    SELECT * FROM (
        SELECT {columns}
          FROM async_tasks AS t
         CROSS JOIN LATERAL (
                SELECT * FROM task_progress AS p
                 WHERE p.task_id = t.id AND p.id <= %(upto)s
                 ORDER BY p.seq DESC LIMIT 1) AS tp
         WHERE (%(type)s::text IS NULL OR t.task_type = %(type)s::text)
           AND (%(status)s::task_status IS NULL OR t.status = %(status)s::task_status)
         ORDER BY tp.id DESC
         LIMIT %(limit)s) AS latest
     ORDER BY id
""").format(columns=_COLUMNS)
_TASK_TYPE = "SELECT task_type FROM async_tasks WHERE id = %s"
_STATUS_AT = "SELECT status::text FROM task_progress WHERE task_id = %s AND seq = %s"
_MAX_TRACKED = 100_000
_MAX_ID = "SELECT coalesce(max(id), 0) FROM task_progress"


@dataclass(frozen=True, slots=True)
class Released:
    """A row as the list streams get it: in id order, or ``late`` (sent without an id)."""

    event: ProgressEvent
    late: bool = False
    prev_status: str | None = None  # the task's status before this row, if the hub knew it
    prev_known: bool = False
    _sse: bytes = field(default=b"", compare=False, repr=False)

    def sse(self) -> bytes:
        """Encoded once, shared by every list stream (the id is the row id)."""
        if not self._sse:
            e = self.event
            data = events.encode(e.json(), event=e.name, id=None if self.late else e.row_id)
            object.__setattr__(self, "_sse", data)
        return self._sse


class Sequencer:
    """Releases rows in id order (see the module docstring); used by the hub thread only."""

    def __init__(self, hold_s: float = 1.0) -> None:
        self.hold_s = hold_s
        self.watermark = 0
        self.skipped = 0  # ids given up on (rolled back, or committed after hold_s)
        self._waiting: dict[int, ProgressEvent] = {}
        self._blocked_since: float | None = None
        self._status: dict[str, str] = {}  # last released status of each unfinished task

    def reset(self, watermark: int) -> None:
        """After (re)connecting: everything up to ``watermark`` is in the database."""
        self.watermark = watermark
        self._waiting = {k: v for k, v in self._waiting.items() if k > watermark}
        self._blocked_since = None
        self._status.clear()  # rows were missed while disconnected

    def push(self, event: ProgressEvent, now: float) -> list[Released]:
        if event.row_id <= self.watermark:
            return [Released(event, late=True)]
        self._waiting[event.row_id] = event
        return self._release(now)

    def deadline(self) -> float | None:
        """When the current wait gives up (monotonic), or None."""
        return None if self._blocked_since is None else self._blocked_since + self.hold_s

    def expire(self, now: float) -> list[Released]:
        if self._blocked_since is None or now < self._blocked_since + self.hold_s:
            return []
        first = min(self._waiting)
        self.skipped += first - self.watermark - 1
        self.watermark = first - 1
        return self._release(now)

    def _with_prev(self, event: ProgressEvent) -> Released:
        prev = self._status.pop(event.task_id, None)
        known = prev is not None or event.seq == 1
        if not event.terminal:
            if len(self._status) >= _MAX_TRACKED:
                self._status.clear()  # bounded: forgotten statuses are looked up instead
            self._status[event.task_id] = event.status
        return Released(event, prev_status=prev, prev_known=known)

    def _release(self, now: float) -> list[Released]:
        out = []
        while (event := self._waiting.pop(self.watermark + 1, None)) is not None:
            self.watermark += 1
            out.append(self._with_prev(event))
        if not self._waiting:
            self._blocked_since = None
        elif out or self._blocked_since is None:
            self._blocked_since = now  # a new gap: its wait starts now
        return out


def max_row_id(conn: Connection) -> int:
    row = conn.execute(_MAX_ID).fetchone()
    return int(row[0]) if row else 0


@dataclass(frozen=True)
class ListFilter:
    status: str | None = None
    task_type: str | None = None

    def params(self, **extra: Any) -> dict[str, Any]:
        return {"status": self.status, "type": self.task_type, **extra}


def rows_after(
    conn: Connection, flt: ListFilter, after: int, upto: int, *, limit: int = 500
) -> list[ProgressEvent]:
    """Matching rows with ``after < id <= upto``, in id order (catch-up and re-sync)."""
    with conn.cursor(row_factory=dict_row) as cur:
        rows = cur.execute(_ROWS_AFTER, flt.params(after=after, upto=upto, limit=limit)).fetchall()
    return [ProgressEvent.from_row(r) for r in rows]


def snapshot(conn: Connection, flt: ListFilter, upto: int) -> list[ProgressEvent]:
    """The latest row (id <= upto) of each task matching now, oldest first."""
    with conn.cursor(row_factory=dict_row) as cur:
        rows = cur.execute(_SNAPSHOT, flt.params(upto=upto, limit=SNAPSHOT_LIMIT)).fetchall()
    return [ProgressEvent.from_row(r) for r in rows]


def task_type(conn: Connection, task_id: str) -> str | None:
    row = conn.execute(_TASK_TYPE, (task_id,)).fetchone()
    return str(row[0]) if row else None


def status_at(conn: Connection, task_id: str, seq: int) -> str | None:
    row = conn.execute(_STATUS_AT, (task_id, seq)).fetchone()
    return str(row[0]) if row else None


class Matcher:
    """Which list filters a released row passes; looks up what the row does not say.

    The task's type is not in the NOTIFY payload: it is read once per task
    (``run`` is :meth:`sqlmig.progress.pool.Pool.run`) and cached. The status
    before the row comes from the hub, or from the database when the hub did
    not know it (a task silent since the server started).
    """

    def __init__(self, run: Callable[[Callable[[Connection], Any]], Any]) -> None:
        self._run = run
        self._types: dict[str, str | None] = {}

    def type_of(self, task_id: str) -> str | None:
        if task_id not in self._types:
            if len(self._types) >= _MAX_TRACKED:
                self._types.clear()
            self._types[task_id] = self._run(lambda c: task_type(c, task_id))
        return self._types[task_id]

    def passes(self, flt: ListFilter, rel: Released) -> bool:
        """Database errors count as a pass: a spurious event rather than a lost one."""
        e = rel.event
        try:
            if flt.task_type is not None and self.type_of(e.task_id) != flt.task_type:
                return False
            if flt.status is None or e.status == flt.status:
                return True
            prev = rel.prev_status
            if not rel.prev_known:
                prev = self._run(lambda c: status_at(c, e.task_id, e.seq - 1))
        except (psycopg.Error, SqlmigError):
            return True
        return prev == flt.status
