"""One thread (epoll) writes every caught-up stream: a socket and two small objects each.

    request thread: catch-up ─▶ adopt(fd, cursor, mailbox) ─▶ returns (thread freed)
    hub thread:     NOTIFY ─▶ post(event) ─▶ inbox (a deque; one wake-up byte per batch)
    writer thread:
        inbox ─▶ the rows queued, to each stream of their task (or each list stream
                 they pass) in order, one os.write per stream per pass, non-blocking
                     └─ EAGAIN / partial ─▶ pending bytes, wait for EPOLLOUT
                          └─ more than max_pending events or bytes ─▶ lagging: live
                             events dropped; once drained, re-read by seq (or id)
                   gap / truncated / RESYNC ─▶ re-read from the database (resync thread);
                                               live events held meanwhile, then replayed
        EPOLLIN ─▶ the client closed (or sent something): close
        tick ─▶ heartbeat on streams idle for heartbeat_s; close a stream whose
                pending bytes did not move for stall_s (a client that stopped reading)
        terminal event on the wire ─▶ close

Adoption and the mailbox: the stream's request thread subscribed to the hub
before its catch-up query. The writer, in its own thread and in inbox order,
registers the stream, unsubscribes the mailbox and replays what it holds;
every event posted after that reaches the stream through the inbox. Overlap is dropped
by the cursor (seq <= last, id <= last): nothing is lost or repeated. Re-syncs read the
database in a second thread, so a slow query never delays a write. A hand-over racing
the stop is ended (closed), never left open.
"""

from __future__ import annotations

import collections
import contextlib
import functools
import logging
import os
import selectors
import threading
import time
from collections.abc import Callable
from typing import TYPE_CHECKING, Any

import psycopg

from sqlmig.core.errors import SqlmigError
from sqlmig.progress import outbox, store
from sqlmig.progress.events import HEARTBEAT, ProgressEvent
from sqlmig.progress.feed import Matcher, Released
from sqlmig.progress.outbox import GONE, OVER, PENDING, SENT, Adoption, Held, runs
from sqlmig.progress.resync import Reader, Rows
from sqlmig.progress.subscription import (
    CLOSED,
    RESYNC,
    RESYNC_BATCH,
    Cursor,
    Item,
    Subscription,
)

if TYPE_CHECKING:
    from sqlmig.progress.hub import Hub
    from sqlmig.progress.pool import Pool

log = logging.getLogger("sqlmig.progress")


class Writer:
    """The selector-based writer of caught-up streams (see the module docstring)."""

    def __init__(
        self,
        hub: Hub,
        pool: Pool,
        *,
        heartbeat_s: float = 15.0,
        stall_s: float = 60.0,
        max_pending: int | None = None,
        max_pending_bytes: int = 1 << 20,
    ) -> None:
        self._hub, self._pool = hub, pool
        self.heartbeat_s, self.stall_s = heartbeat_s, stall_s
        self.max_pending = max_pending or hub.queue_size
        self.max_pending_bytes = max_pending_bytes
        self.matcher = Matcher(pool.run)
        self._inbox: collections.deque[Any] = collections.deque()
        self._reader = Reader(pool, hub.watermark, self.post)
        self._woken = False
        self._by_task: dict[str, set[Held]] = {}
        self._lists: set[Held] = set()
        self._sel: selectors.BaseSelector | None = None
        self._wake: tuple[int, int] | None = None
        self._start_lock = threading.RLock()  # also orders an adoption against the stop
        self._threads: list[threading.Thread] = []
        self._stopped = False
        self.streams = self.overflows = self.resyncs = 0
        hub.add_sink(self)

    # -- other threads ----------------------------------------------------------------------

    def adopt(
        self, fd: int, cursor: Cursor, release: Callable[[], None], sub: Subscription | None
    ) -> None:
        """Take a caught-up stream's socket (non-blocking, ours to close) and its mailbox."""
        adopt = Adoption(Held(fd, cursor, release, time.monotonic()), sub)
        with self._start_lock:  # either before the stop (in the inbox) or after it (ended)
            if not self._stopped:
                self._start()
                self.post(adopt)
                return
        adopt.abandon(self._hub.unsubscribe)  # the hub stopped: end the stream now

    def post(self, item: Any) -> None:
        """From any thread (the hub's): never blocks."""
        if self._wake is None:
            return  # not started: no stream to write to (a mailbox holds the adopting one's)
        self._inbox.append(item)
        if not self._woken:
            self._woken = True
            with contextlib.suppress(OSError):
                os.write(self._wake[1], b"\0")

    def stats(self) -> dict[str, Any]:
        """Read from another thread: copies, retried if the writer changed a set meanwhile."""
        lagging = 0
        for _ in range(3):
            with contextlib.suppress(RuntimeError):
                lagging = sum(1 for s in self._all() if s.lagging)
                break
        return {
            "subscribers": self.streams,
            "task_ids": list(self._by_task),
            "lagging": lagging,
            "overflows": self.overflows,
        }

    def _start(self) -> None:
        with self._start_lock:
            if self._threads:
                return
            self._sel = selectors.DefaultSelector()
            r, w = os.pipe()
            os.set_blocking(r, False)
            os.set_blocking(w, False)
            self._wake = (r, w)
            self._sel.register(r, selectors.EVENT_READ, None)
            thread = threading.Thread(target=self._run, name="sqlmig-progress-writer", daemon=True)
            self._threads.append(thread)
            thread.start()
            self._reader.start()

    # -- the writer thread ------------------------------------------------------------------

    def _run(self) -> None:
        assert self._sel is not None and self._wake is not None
        tick_s = min(1.0, self.heartbeat_s / 2)
        next_tick = time.monotonic() + tick_s
        while not self._stopped:
            try:
                next_tick = self._step(next_tick, tick_s)
            except Exception:  # one bad stream must not end every other one
                log.exception("error in the stream writer")
        for stream in self._all():
            self._close(stream)
        for item in (i for i in self._inbox if isinstance(i, Adoption)):  # just before the stop
            item.abandon(self._hub.unsubscribe)
        self._reader.stop()

    def _step(self, next_tick: float, tick_s: float) -> float:
        assert self._sel is not None and self._wake is not None
        timeout = max(0.0, next_tick - time.monotonic())
        for key, mask in self._sel.select(timeout):
            stream = key.data
            if stream is None:
                with contextlib.suppress(OSError):
                    while os.read(self._wake[0], 4096):
                        pass
                # Only after emptying the pipe: a post that came in between then
                # writes its own byte (the next select wakes at once) instead of
                # finding the flag set and writing none.
                self._woken = False
                continue
            if stream.closed:
                continue  # closed earlier in this batch (its number may be reused)
            if mask & selectors.EVENT_READ:
                self._readable(stream)
            if mask & selectors.EVENT_WRITE and not stream.closed:
                self._flush(stream)
        self._drain_inbox()
        now = time.monotonic()
        if now >= next_tick:
            self._tick(now)
            next_tick = now + tick_s
        return next_tick

    def _drain_inbox(self) -> None:
        while not self._stopped:
            try:
                item = self._inbox.popleft()
            except IndexError:
                return
            if isinstance(item, ProgressEvent | Released):
                events, released = outbox.take_batch(self._inbox, item)
                for run in runs(events):
                    self._fan_out(run)
                if released:
                    self._to_lists(released)
            elif isinstance(item, Adoption):
                self._register(item)
            elif isinstance(item, Rows):
                self._apply_rows(item)
            elif item is RESYNC:
                for stream in self._all():
                    self._resync(stream)
            elif item is CLOSED:
                with self._start_lock:
                    self._stopped = True

    def _to_lists(self, rows: list[Released]) -> None:
        """List rows to each list stream: an idle one gets what it admits in one write."""
        now = time.monotonic()
        for stream in list(self._lists):
            if not stream.idle():
                for row in rows:
                    self._deliver(stream, row)
                continue
            chunks, cut = outbox.admitted(rows, functools.partial(self._admit, stream))
            if chunks:
                self._send_at(stream, b"".join(chunks), now, len(chunks))
            if cut is not None:  # a cut payload: re-read; the rows after it wait for that
                self._resync(stream)
                for rest in rows[cut + 1 :]:
                    self._deliver(stream, rest)

    def _fan_out(self, run: list[ProgressEvent]) -> None:
        """One task's consecutive rows (see ``outbox.runs``) to each of its streams."""
        group = self._by_task.get(run[0].task_id)
        if not group:
            return
        first, last = run[0], run[-1]
        data = b"" if first.truncated else b"".join(event.sse() for event in run)
        now = time.monotonic()
        for stream in list(group):
            cursor = stream.cursor
            # The common case, inline: an idle stream that expects exactly these rows.
            if data and stream.idle() and cursor.last + 1 == first.seq:
                cursor.last, cursor.done = last.seq, last.terminal
                self._send_at(stream, data, now, len(run))
            else:
                for event in run:
                    self._deliver(stream, event)

    def _all(self) -> list[Held]:
        return [s for group in self._by_task.values() for s in group] + list(self._lists)

    def _register(self, adopt: Adoption) -> None:
        stream = adopt.stream
        assert self._sel is not None
        self._sel.register(stream.fd, selectors.EVENT_READ, stream)
        if stream.cursor.is_list:
            self._lists.add(stream)
        else:
            self._by_task.setdefault(stream.cursor.task_id, set()).add(stream)
        self.streams += 1
        if adopt.sub is not None:
            self._hub.unsubscribe(adopt.sub)
            for item in adopt.sub.drain():
                self._deliver(stream, item)

    def _deliver(self, stream: Held, item: Item) -> None:
        if stream.closed:
            return
        if stream.resyncing:
            assert stream.held is not None
            if len(stream.held) >= self.max_pending:
                stream.again, stream.held = True, []  # re-read once more instead
            else:
                stream.held.append(item)
            return
        if item is CLOSED:
            self._close(stream)
            return
        if item is RESYNC:
            self._resync(stream)
            return
        if stream.lagging:
            return  # read from the database once the socket has drained
        data = self._admit(stream, item)
        if data is True:
            self._resync(stream)
        elif data:
            self._send_at(stream, data, time.monotonic())

    def _admit(self, stream: Held, item: Item) -> bytes | bool | None:
        return outbox.admit(stream.cursor, item, self.matcher, self._full_row)

    def _full_row(self, event: ProgressEvent) -> ProgressEvent:
        try:
            full = self._pool.run(lambda c: store.fetch_event(c, event.row_id))
        except (psycopg.Error, SqlmigError):
            full = None
        return full or event

    def _send_at(self, stream: Held, data: bytes, now: float, events: int = 1) -> None:
        sent = stream.send(data, now, self.max_pending, self.max_pending_bytes, events)
        if sent is SENT:
            if stream.cursor.done:
                self._close(stream)
        elif sent is PENDING:
            self._watch(stream, writable=True)
        elif sent is OVER:
            self._lag(stream)
        elif sent is GONE:
            self._close(stream)

    def _lag(self, stream: Held) -> None:
        """The client is behind (bytes pending): drop live events, re-read once drained."""
        if not stream.lagging:
            stream.lagging = True
            self.overflows += 1

    def _flush(self, stream: Held) -> None:
        flushed = stream.flush(time.monotonic())
        if flushed is GONE:
            self._close(stream)
        elif flushed is SENT:
            self._watch(stream, writable=False)
            if stream.cursor.done:
                self._close(stream)
            elif stream.lagging:
                stream.lagging = False
                self._resync(stream)

    def _watch(self, stream: Held, *, writable: bool) -> None:
        assert self._sel is not None
        mask = selectors.EVENT_READ | (selectors.EVENT_WRITE if writable else 0)
        self._sel.modify(stream.fd, mask, stream)

    def _readable(self, stream: Held) -> None:
        if stream.peer_closed():
            self._close(stream)

    def _tick(self, now: float) -> None:
        for stream in self._all():
            if stream.out is not None:
                if now - stream.moved_at >= self.stall_s:
                    log.info("dropping a stream whose client stopped reading")
                    self._close(stream)
            elif now - stream.last_write >= self.heartbeat_s:
                self._send_at(stream, HEARTBEAT, now)

    def _close(self, stream: Held) -> None:
        if stream.closed:
            return
        stream.closed = True
        assert self._sel is not None
        with contextlib.suppress(KeyError, ValueError, OSError):
            self._sel.unregister(stream.fd)
        stream.close_fd()
        cursor = stream.cursor
        if cursor.is_list:
            self._lists.discard(stream)
        else:
            group = self._by_task.get(cursor.task_id)
            if group is not None:
                group.discard(stream)
                if not group:
                    del self._by_task[cursor.task_id]
        self.streams -= 1
        stream.release()

    # -- re-reads from the database ----------------------------------------------------------

    def _resync(self, stream: Held) -> None:
        if stream.closed:
            return
        if stream.resyncing:
            stream.again = True
            return
        if stream.out is not None:
            self._lag(stream)  # re-read when the pending bytes are out
            return
        stream.resyncing, stream.again = True, False
        if stream.held is None:
            stream.held = []
        self.resyncs += 1
        self._reader.submit(stream)

    def _apply_rows(self, result: Rows) -> None:
        stream = result.stream
        if stream.closed:
            return
        data, count = outbox.reread(stream.cursor, result.rows)
        if data:
            self._send_at(stream, data, time.monotonic(), count)
        stream.resyncing = False
        if result.error or len(result.rows) >= RESYNC_BATCH or stream.again:
            self._resync(stream)  # more rows, or live items were dropped meanwhile
            return
        held, stream.held = stream.held or [], None
        for item in held:
            self._deliver(stream, item)
