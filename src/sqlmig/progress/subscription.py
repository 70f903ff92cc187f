"""One stream's mailbox between the hub thread and the request thread, and the markers
that travel through it (re-sync, closed, gone, ended).

See :mod:`sqlmig.progress.hub` for who fills it and :mod:`sqlmig.progress.stream`
for who empties it; :class:`Subscription` explains "direct mode", the fast path
where the hub writes an idle, caught-up client's socket itself.
"""

from __future__ import annotations

import os
import queue
import threading
from dataclasses import dataclass
from typing import Final

from sqlmig.progress.events import ProgressEvent


class _Marker:
    def __init__(self, name: str) -> None:
        self.name = name

    def __repr__(self) -> str:
        return self.name


RESYNC: Final = _Marker("RESYNC")  # re-read from the database by seq
CLOSED: Final = _Marker("CLOSED")  # the hub stopped: end the stream
GONE: Final = _Marker("GONE")  # a direct write found the client gone: end the stream
ENDED: Final = _Marker("ENDED")  # the terminal event was written directly: end the stream
_ENDINGS = (CLOSED, GONE, ENDED)


@dataclass(frozen=True)
class Partial:
    """A direct write that got only part of the event out: the thread writes the rest."""

    event: ProgressEvent
    rest: bytes


Item = ProgressEvent | _Marker | Partial


class Subscription:
    """One stream's mailbox: filled by the hub thread, emptied by the request thread.

    Direct mode (the fast path). Waking 1,000 threads per event costs more
    than the events themselves (GIL hand-offs: see benchmarks/README.md). So
    while a stream is idle and caught up, its thread lends the socket to the
    hub (:meth:`go_direct`), which writes the next in-order event itself with
    one non-blocking ``os.write``. Anything else goes back through the queue
    and wakes the thread: a full socket (slow client), a partial write, a
    gap, a truncated row, a marker. Exactly one side writes at a time: the
    hub only while ``direct`` is set, under the lock; the thread only after
    :meth:`leave_direct`.

        thread: go_direct ─▶ wait on queue ─▶ leave_direct ─▶ write (heartbeat, resync, rest)
        hub:    direct? ─yes─▶ os.write ─ all sent ─▶ done (no thread woken)
                   │                └── EAGAIN / partial / error ─▶ queue (direct off)
                   └─no──▶ queue (bounded; overflow ─▶ lagging ─▶ RESYNC)
    """

    def __init__(self, task_id: str, maxsize: int) -> None:
        self.task_id = task_id
        self.maxsize = maxsize
        self.lagging = False
        self.resyncs = 0
        self.direct = False
        self.direct_writes = 0
        self._fd: int | None = None
        self._last = 0  # last seq on the wire while direct
        self._queue: queue.SimpleQueue[Item] = queue.SimpleQueue()
        self._lock = threading.Lock()

    def deliver(self, item: Item) -> bool:
        """Hub side: never blocks. On overflow, switch to re-sync from the database.

        Returns True when this delivery overflowed the queue.
        """
        with self._lock:
            overflow = False
            if isinstance(item, ProgressEvent):
                if self.lagging:
                    return False  # its resync will read this row from the database
                if self.direct and self._write_direct(item):
                    return False
                if self._queue.qsize() >= self.maxsize:
                    self.lagging = overflow = True
                    item = RESYNC
            else:
                self.direct = False
            self._queue.put(item)
            return overflow

    def _write_direct(self, event: ProgressEvent) -> bool:
        """Under the lock, in direct mode: True when the event needs nothing more."""
        if event.seq <= self._last:
            return True  # already on the wire
        if event.truncated or event.seq != self._last + 1 or self._fd is None:
            self.direct = False  # the thread reads the row (or the gap) from the database
            return False
        data = event.sse()
        try:
            written = os.write(self._fd, data)
        except BlockingIOError:
            self.direct = False  # socket full: a slow client; its thread takes over
            return False
        except OSError:
            self.direct = False
            self._queue.put(GONE)
            return True
        self.direct_writes += 1
        if written < len(data):
            self.direct = False
            self._queue.put(Partial(event, data[written:]))
            return True
        self._last = event.seq
        if event.terminal:
            self.direct = False
            self._queue.put(ENDED)
        return True

    def attach(self, fd: int) -> None:
        """Request side: the non-blocking socket the hub may write to in direct mode."""
        with self._lock:
            self._fd = fd

    def detach(self) -> None:
        """Request side, before the socket is closed (its number could be reused)."""
        with self._lock:
            self.direct = False
            self._fd = None

    def go_direct(self, last: int) -> None:
        """Request side, about to wait: lend the socket to the hub if nothing is pending."""
        with self._lock:
            if self._fd is not None and not self.lagging and self._queue.empty():
                self._last = last
                self.direct = True

    def leave_direct(self, last: int) -> int:
        """Request side, after waking: take the socket back; returns the last seq sent."""
        with self._lock:
            self.direct = False
            return max(last, self._last)

    def get(self, timeout_s: float) -> Item | None:
        """Request side: the next item, or None after ``timeout_s`` (time for a heartbeat)."""
        try:
            return self._queue.get(timeout=timeout_s)
        except queue.Empty:
            return None

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
                if any(item is ending for ending in _ENDINGS):
                    kept.append(item)
            self.lagging = False
            self.resyncs += 1
            for item in kept:
                self._queue.put(item)
