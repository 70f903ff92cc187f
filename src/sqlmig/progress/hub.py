"""ONE listening connection, fanned out to every subscriber.

    PostgreSQL ──NOTIFY task_progress──▶ hub thread (LISTEN, one connection)
                                            │ parse JSON once, encode SSE once
                                            ▼
                     ├──▶ mailboxes of that task_id (streams still catching up, or
                     │    served by their own thread) ──▶ the stream's thread writes
                     ├──▶ sinks: the writer (writer.py), which holds every caught-up stream
                     └──▶ feed.Sequencer: rows in id order ──▶ list streams (mailboxes, sinks)

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
  server (GIL hand-offs), so the common case wakes none: one post to the
  writer per event, which writes every caught-up stream itself (see
  :mod:`sqlmig.progress.writer` and benchmarks/README.md).

        connect ─▶ LISTEN ─▶ [resync all] ─▶ wait for notifies ─┐
           ▲                                                     │ connection lost
           └──────────── sleep backoff (0.1 s … 5 s) ◀───────────┘
"""

from __future__ import annotations

import contextlib
import logging
import select
import socket
import threading
import time
from collections.abc import Callable
from typing import TYPE_CHECKING, Any

import psycopg
from psycopg import sql

from sqlmig.core.backoff import Backoff
from sqlmig.core.errors import DatabaseUnavailable, SqlmigError
from sqlmig.core.redact import redact
from sqlmig.progress import feed
from sqlmig.progress.events import ProgressEvent
from sqlmig.progress.subscription import CLOSED, LIST_KEY, RESYNC, Item, Subscription

if TYPE_CHECKING:
    from sqlmig.progress.store import Connection

log = logging.getLogger("sqlmig.progress")

CHANNEL = "task_progress"


class Hub:
    """The listener thread and the subscription registry (see the module docstring)."""

    def __init__(
        self,
        connect: Callable[[], Connection],
        *,
        queue_size: int = 256,
        backoff_s: tuple[float, float] = (0.1, 5.0),
        idle_check_s: float = 10.0,
        hold_s: float = 1.0,
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
        self._sinks: list[Any] = []  # objects with post(item) and stats(): the writer
        self._sequencer = feed.Sequencer(hold_s)
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
        for sink in self._sinks:
            sink.post(CLOSED)

    def __enter__(self) -> Hub:
        self.start()
        return self

    def __exit__(self, *exc: object) -> None:
        self.stop()

    # -- subscriptions ------------------------------------------------------------------

    def add_sink(self, sink: Any) -> None:
        """Every event, released row and marker also goes to ``sink.post`` (the writer)."""
        self._sinks.append(sink)

    def watermark(self) -> int:
        """Every row with an id up to this one was released to list streams (feed.py)."""
        return self._sequencer.watermark

    def subscribe(self, task_id: str) -> Subscription:
        """A mailbox for one task's events, or for list streams (``LIST_KEY``)."""
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
        """Counts over mailboxes and sinks (a stream being adopted may count twice briefly)."""
        with self._lock:
            subs = [s for group in self._subs.values() for s in group]
        sinks = [sink.stats() for sink in self._sinks]
        tasks = {s.task_id for s in subs}.union(*(s["task_ids"] for s in sinks))
        tasks.discard(LIST_KEY)
        return {
            "listener": "connected" if self.connected else "reconnecting",
            "subscribers": len(subs) + sum(s["subscribers"] for s in sinks),
            "tasks": len(tasks),
            "lagging": sum(1 for s in subs if s.lagging) + sum(s["lagging"] for s in sinks),
            "notifications": self.notifications,
            "overflows": self.overflows + sum(s["overflows"] for s in sinks),
            "reconnects": self.reconnects,
            "watermark": self._sequencer.watermark,
        }

    # -- the listener thread --------------------------------------------------------------

    def _listen(self) -> Connection:
        conn = self._connect()
        try:
            listen = sql.SQL("LISTEN {}").format(sql.Identifier(CHANNEL))
            conn.execute(listen)
            # After LISTEN: a row committed from here on is notified, so the
            # list streams' cursor can start at what is in the table now.
            self._sequencer.reset(feed.max_row_id(conn))
            conn.execute(listen)  # a no-op, so pg_stat_activity shows the listener as such
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
            self._release(self._sequencer.expire(now))
            if got:
                quiet_since = now
            elif now - quiet_since >= self._idle_check_s:
                # A silent socket may be a dead peer (no FIN after a host crash).
                conn.execute("SELECT 1")
                quiet_since = now
                continue
            # Wake for the server's bytes or stop()'s, not at a fixed poll interval.
            wait = self._idle_check_s - (now - quiet_since)
            if (deadline := self._sequencer.deadline()) is not None:
                wait = min(wait, deadline - now)
            select.select(waits_on, [], [], max(0.0, wait))

    def _dispatch(self, payload: str) -> None:
        self.notifications += 1
        try:
            event = ProgressEvent.from_notify(payload)
        except (ValueError, KeyError, TypeError) as exc:
            log.warning("ignoring a malformed task_progress notification: %s", exc)
            return
        with self._lock:
            subs = list(self._subs.get(event.task_id, ()))
        if not event.truncated:
            event.sse()  # encode once here, not once per subscriber or stream
        for sub in subs:
            if sub.deliver(event):
                self.overflows += 1
        for sink in self._sinks:
            sink.post(event)
        self._release(self._sequencer.push(event, time.monotonic()))

    def _release(self, rows: list[feed.Released]) -> None:
        if not rows:
            return
        with self._lock:
            subs = list(self._subs.get(LIST_KEY, ()))
        for row in rows:
            for sub in subs:
                if sub.deliver(row):
                    self.overflows += 1
            for sink in self._sinks:
                sink.post(row)

    def _broadcast(self, item: Item) -> None:
        with self._lock:
            subs = [s for group in self._subs.values() for s in group]
        for sub in subs:
            sub.deliver(item)
        for sink in self._sinks:
            sink.post(item)
