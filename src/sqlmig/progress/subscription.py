"""One stream's mailbox between the hub thread and the request thread, and the markers
that travel through it (re-sync, closed).

See :mod:`sqlmig.progress.hub` for who fills it and :mod:`sqlmig.progress.stream`
for who empties it. A stream holds a mailbox while its request thread catches
up (or, under a WSGI server that does not lend the socket, for its whole life);
once caught up on our server it is handed to :mod:`sqlmig.progress.writer`,
which takes the mailbox's contents and drops it.
"""

from __future__ import annotations

import queue
import threading
from collections.abc import Callable
from typing import TYPE_CHECKING, Final

from sqlmig.progress import feed, store
from sqlmig.progress.events import ProgressEvent
from sqlmig.progress.feed import ListFilter, Released

if TYPE_CHECKING:
    from sqlmig.progress.pool import Pool


class _Marker:
    def __init__(self, name: str) -> None:
        self.name = name

    def __repr__(self) -> str:
        return self.name


RESYNC: Final = _Marker("RESYNC")  # re-read from the database by seq (or by row id)
CLOSED: Final = _Marker("CLOSED")  # the hub stopped: end the stream

Item = ProgressEvent | Released | _Marker

LIST_KEY = "*"  # the key of list-stream mailboxes: they get every released row
RESYNC_BATCH = 64  # rows per writer re-read: bounds what a re-sync puts in a pending buffer


class Subscription:
    """One stream's mailbox: filled by the hub thread, emptied by the request thread.

    ``key`` is the task id, or :data:`LIST_KEY` for a list stream (which gets
    :class:`~sqlmig.progress.feed.Released` rows in id order). The queue is
    bounded by ``maxsize``: when full, the subscriber is marked *lagging*, its
    queued events are dropped and it re-reads from the database instead.
    """

    def __init__(self, key: str, maxsize: int) -> None:
        self.task_id = key
        self.maxsize = maxsize
        self.lagging = False
        self.resyncs = 0
        self._queue: queue.SimpleQueue[Item] = queue.SimpleQueue()
        self._lock = threading.Lock()

    def deliver(self, item: Item) -> bool:
        """Hub side: never blocks. On overflow, switch to re-sync from the database.

        Returns True when this delivery overflowed the queue.
        """
        with self._lock:
            overflow = False
            if not isinstance(item, _Marker):
                if self.lagging:
                    return False  # its resync will read this row from the database
                if self._queue.qsize() >= self.maxsize:
                    self.lagging = overflow = True
                    item = RESYNC
            self._queue.put(item)
            return overflow

    def get(self, timeout_s: float) -> Item | None:
        """Request side: the next item, or None after ``timeout_s`` (time for a heartbeat)."""
        try:
            return self._queue.get(timeout=timeout_s)
        except queue.Empty:
            return None

    def drain(self) -> list[Item]:
        """Everything queued now (the writer, when it adopts the stream)."""
        with self._lock:
            out: list[Item] = []
            while True:
                try:
                    out.append(self._queue.get_nowait())
                except queue.Empty:
                    break
            if self.lagging:
                out.append(RESYNC)
            return out

    def start_resync(self) -> None:
        """Request side, before re-reading from the database: drop queued events.

        Emptying the queue before clearing ``lagging`` matters: if the hub
        marks it lagging again in between, its RESYNC marker stays queued and
        triggers one more (harmless) re-sync instead of being swallowed.
        Anything dropped here was committed before the re-read starts.
        """
        with self._lock:
            kept: list[Item] = []
            while True:
                try:
                    item = self._queue.get_nowait()
                except queue.Empty:
                    break
                if item is CLOSED:
                    kept.append(item)
            self.lagging = False
            self.resyncs += 1
            for item in kept:
                self._queue.put(item)


# -- where a stream stands (the writer's, or a stream thread's) -----------------------


class TaskCursor:
    """Where a one-task stream stands: the last seq on the wire (or pending)."""

    __slots__ = ("done", "last", "task_id")
    is_list = False

    def __init__(self, task_id: str, last: int) -> None:
        self.task_id, self.last, self.done = task_id, last, False

    def admit(self, event: ProgressEvent, *, from_db: bool = False) -> bytes | bool | None:
        """The bytes to send, None to skip, or True: re-read from the database."""
        if self.done or event.seq <= self.last:
            return None
        if not from_db and (event.seq != self.last + 1 or event.truncated):
            return True  # a gap (a notification went missing) or a cut payload
        self.last, self.done = event.seq, event.terminal
        return event.sse()

    def read(self, pool: Pool, upto: int) -> list[ProgressEvent]:
        tid, after = self.task_id, self.last
        return pool.run(lambda c: store.fetch_events(c, tid, after, limit=RESYNC_BATCH))


_MAX_SEQS = 100_000  # tasks a list stream remembers the last seq of


class ListCursor:
    """Where a list stream stands: the last row id sent, and its filters.

    ``seqs``: each task's last seq sent. A row released late (no id) may be one the
    catch-up query already sent; a task's rows commit in seq order, so a seq at or
    below the last one sent is that repeat, and is dropped.
    """

    __slots__ = ("done", "filter", "last", "seqs")
    is_list = True
    task_id = LIST_KEY

    def __init__(self, flt: ListFilter, last: int, seqs: dict[str, int] | None = None) -> None:
        self.filter, self.last, self.done = flt, last, False
        self.seqs: dict[str, int] = seqs if seqs is not None else {}

    def sent(self, event: ProgressEvent) -> None:
        if len(self.seqs) >= _MAX_SEQS:
            self.seqs.clear()  # bounded; only a repeat of a forgotten task could then pass
        self.seqs[event.task_id] = max(event.seq, self.seqs.get(event.task_id, 0))

    def admit(
        self,
        item: Released,
        matcher: feed.Matcher,
        full_row: Callable[[ProgressEvent], ProgressEvent] | None = None,
    ) -> bytes | bool | None:
        """The bytes to send, None to skip, or True: re-read (a cut payload, no ``full_row``)."""
        event = item.event
        if not item.late and event.row_id <= self.last:
            return None
        if event.seq <= self.seqs.get(event.task_id, 0):
            return None  # sent already (by the catch-up, or released twice)
        if event.truncated:
            if full_row is None:
                return True
            item = Released(full_row(event), item.late, item.prev_status, item.prev_known)
        if not item.late:
            self.last = event.row_id
        if not matcher.passes(self.filter, item):
            return None
        self.sent(event)
        return item.sse()

    def read(self, pool: Pool, upto: int) -> list[ProgressEvent]:
        flt, after = self.filter, self.last
        return pool.run(lambda c: feed.rows_after(c, flt, after, upto, limit=RESYNC_BATCH))


Cursor = TaskCursor | ListCursor
