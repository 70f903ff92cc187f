"""ONE listening connection, fanned out to every subscriber.

    PostgreSQL ──NOTIFY task_progress──▶ hub thread (LISTEN, one connection)
                                            │ parse JSON once, encode SSE once
                                            ▼
                              subscriptions of that task_id
                   idle and caught up?  ──yes──▶ hub writes the socket itself (non-blocking)
                                        ──no───▶ bounded queue ──▶ the stream's thread writes

Rules that keep it honest:

* Subscribe BEFORE the catch-up query. Rows committed in between arrive
  twice (query and queue); the stream drops seq <= last sent. Nothing is lost.
* Delivery never blocks the hub thread. A subscriber whose queue is full
  (its client reads too slowly) is marked *lagging*: its queue is dropped,
  and it re-reads what it missed from the database by seq (the rows are
  there; NOTIFY is only a wake-up call). Other subscribers never wait for it.
* When the listening connection breaks (database restart), the hub
  reconnects with capped exponential backoff. Rows committed while nobody
  listened produced notifications nobody received, so after re-LISTEN every
  subscriber is told to re-sync from the database by seq.
* Waking a thread per subscriber per event is what limits a threaded
  server (GIL hand-offs), so the common case wakes none: see
  :class:`Subscription` ("direct mode") and benchmarks/README.md.

        connect ─▶ LISTEN ─▶ [resync all] ─▶ wait for notifies ─┐
           ▲                                                     │ connection lost
           └──────────── sleep backoff (0.1 s … 5 s) ◀───────────┘
"""

from __future__ import annotations

import contextlib
import logging
import os
import queue
import select
import socket
import threading
import time
from collections.abc import Callable
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any, Final

import psycopg
from psycopg import sql

from sqlmig.core.backoff import Backoff
from sqlmig.core.errors import DatabaseUnavailable, SqlmigError
from sqlmig.core.redact import redact
from sqlmig.progress.events import ProgressEvent

if TYPE_CHECKING:
    from sqlmig.progress.store import Connection

log = logging.getLogger("sqlmig.progress")

CHANNEL = "task_progress"


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


class Hub:
    """The listener thread and the subscription registry (see the module docstring)."""

    def __init__(
        self,
        connect: Callable[[], Connection],
        *,
        queue_size: int = 256,
        backoff_s: tuple[float, float] = (0.1, 5.0),
        idle_check_s: float = 10.0,
    ) -> None:
        self._connect = connect
        self.queue_size = queue_size
        self._backoff = Backoff(*backoff_s, jitter=0.2)
        self._idle_check_s = idle_check_s
        self._wake: tuple[socket.socket, socket.socket] | None = None  # stop() -> listener
        self._subs: dict[str, set[Subscription]] = {}
        self._lock = threading.Lock()
        self._stop = threading.Event()
        self._ready = threading.Event()
        self._thread: threading.Thread | None = None
        self.connected = False
        self.reconnects = 0
        self.notifications = 0
        self.overflows = 0  # times a slow subscriber was switched to re-sync
        self.last_error = ""

    # -- lifecycle ------------------------------------------------------------------------

    def start(self, *, timeout_s: float = 10.0) -> None:
        """Start listening; the first connection's error (if any) is raised here."""
        conn = self._listen()  # first connection in the caller: errors surface at start-up
        self._wake = socket.socketpair()
        self._thread = threading.Thread(
            target=self._run, args=(conn,), name="sqlmig-progress-hub", daemon=True
        )
        self._thread.start()
        if not self._ready.wait(timeout_s):
            self.stop()
            raise DatabaseUnavailable("the progress listener did not start.")

    def stop(self) -> None:
        """Stop the thread, close the connection, end every stream."""
        self._stop.set()
        wake = self._wake
        if wake is not None:
            with contextlib.suppress(OSError):
                wake[1].send(b"x")
        if self._thread is not None:
            self._thread.join(timeout=10)
        if wake is not None and not (self._thread and self._thread.is_alive()):
            self._wake = None
            for end in wake:
                end.close()
        with self._lock:
            subs = [s for group in self._subs.values() for s in group]
        for sub in subs:
            sub.deliver(CLOSED)

    def __enter__(self) -> Hub:
        self.start()
        return self

    def __exit__(self, *exc: object) -> None:
        self.stop()

    # -- subscriptions ------------------------------------------------------------------

    def subscribe(self, task_id: str) -> Subscription:
        sub = Subscription(task_id, self.queue_size)
        with self._lock:
            self._subs.setdefault(task_id, set()).add(sub)
        if self._stop.is_set():
            sub.deliver(CLOSED)
        return sub

    def unsubscribe(self, sub: Subscription) -> None:
        with self._lock:
            group = self._subs.get(sub.task_id)
            if group is not None:
                group.discard(sub)
                if not group:
                    del self._subs[sub.task_id]

    def stats(self) -> dict[str, Any]:
        with self._lock:
            subs = [s for group in self._subs.values() for s in group]
        return {
            "listener": "connected" if self.connected else "reconnecting",
            "subscribers": len(subs),
            "tasks": len({s.task_id for s in subs}),
            "lagging": sum(1 for s in subs if s.lagging),
            "notifications": self.notifications,
            "overflows": self.overflows,
            "reconnects": self.reconnects,
        }

    # -- the listener thread --------------------------------------------------------------

    def _listen(self) -> Connection:
        conn = self._connect()
        try:
            conn.execute(sql.SQL("LISTEN {}").format(sql.Identifier(CHANNEL)))
        except BaseException:
            conn.close()
            raise
        return conn

    def _run(self, conn: Connection | None) -> None:
        first = True
        while not self._stop.is_set():
            try:
                if conn is None:
                    conn = self._listen()
                    self.reconnects += 1
                    log.warning("progress listener reconnected; subscribers re-sync by seq")
                self.connected = True
                if not first:
                    self._broadcast(RESYNC)
                first = False
                self._ready.set()
                self._backoff.reset()
                self._pump(conn)
            except Exception as exc:
                # Any failure (usually psycopg.OperationalError from a restart) must
                # not end the thread: every stream depends on it.
                self.connected = False
                self.last_error = redact(str(exc).strip()) or type(exc).__name__
                expected = isinstance(exc, psycopg.Error | SqlmigError | OSError)
                pause = self._backoff.next()
                log.log(
                    logging.WARNING if expected else logging.ERROR,
                    "progress listener lost the database (%s); retrying in %.1f s",
                    self.last_error,
                    pause,
                    exc_info=not expected,
                )
                self._stop.wait(pause)
            finally:
                if conn is not None and (self._stop.is_set() or not self.connected):
                    with contextlib.suppress(Exception):
                        conn.close()
                    conn = None
        self.connected = False

    def _pump(self, conn: Connection) -> None:
        assert self._wake is not None  # made before the thread starts, kept while it runs
        waits_on = [conn.fileno(), self._wake[0].fileno()]
        quiet_since = time.monotonic()
        while not self._stop.is_set():
            got = False
            # timeout=0: what has arrived (or was queued during SELECT 1), without waiting.
            for notify in conn.notifies(timeout=0):
                got = True
                self._dispatch(notify.payload)
                if self._stop.is_set():
                    return
            now = time.monotonic()
            if got:
                quiet_since = now
            elif now - quiet_since >= self._idle_check_s:
                # A silent socket may be a dead peer (no FIN after a host crash).
                conn.execute("SELECT 1")
                quiet_since = now
                continue
            # Wake for the server's bytes or stop()'s, not at a fixed poll interval.
            select.select(waits_on, [], [], max(0.0, self._idle_check_s - (now - quiet_since)))

    def _dispatch(self, payload: str) -> None:
        self.notifications += 1
        try:
            event = ProgressEvent.from_notify(payload)
        except (ValueError, KeyError, TypeError) as exc:
            log.warning("ignoring a malformed task_progress notification: %s", exc)
            return
        with self._lock:
            group = self._subs.get(event.task_id)
            if not group:
                return
            subs = list(group)
        if not event.truncated:
            event.sse()  # encode once here, not once per subscriber thread
        for sub in subs:
            if sub.deliver(event):
                self.overflows += 1

    def _broadcast(self, item: Item) -> None:
        with self._lock:
            subs = [s for group in self._subs.values() for s in group]
        for sub in subs:
            sub.deliver(item)
