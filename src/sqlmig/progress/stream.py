"""Serving event streams: one task's (catch-up, live, heartbeats, re-sync, the end) and the
list stream of every matching task (:mod:`sqlmig.progress.feed`).

A one-task stream, from request to close::

    subscribe(task) ─▶ task exists? (404) ─▶ catch-up: rows seq > Last-Event-ID
        ─▶ 200 + "retry:" ─▶ catch-up events ─▶ our server? ──yes──▶ hand the socket and
        │                                                    the mailbox to the writer
        │                                                    (writer.py); thread freed
        └──no (another WSGI server): this thread waits on the mailbox ─┐
              ▲                                                     │
              └─ write: heartbeat | queued event | re-read by seq ◀─┘
                 (RESYNC: lagging, gap, truncated payload, DB restart)
    ends after the terminal event (completed / failed / cancelled).
    A client that resumes after the terminal event gets 204, which tells
    EventSource to stop reconnecting.

The list stream (``GET /api/v1/tasks/stream?status=&type=``): ids are row ids
(the resumable cursor of feed.py). Without Last-Event-ID it starts with the
latest event of each matching task (no ids), then ``id: <cursor>``; with it,
every matching row after it. It ends only when the server stops.
"""

from __future__ import annotations

import logging
import re
from collections.abc import Callable, Generator, Iterable, Iterator
from typing import Any
from uuid import UUID
from wsgiref.types import StartResponse, WSGIEnvironment

import psycopg

from sqlmig.core.errors import DatabaseUnavailable
from sqlmig.core.redact import redact
from sqlmig.progress import events, feed, store, web
from sqlmig.progress.events import HEARTBEAT, ProgressEvent
from sqlmig.progress.feed import ListFilter, Released
from sqlmig.progress.hub import Hub
from sqlmig.progress.pool import Pool
from sqlmig.progress.subscription import (
    CLOSED,
    LIST_KEY,
    RESYNC,
    RESYNC_BATCH,
    ListCursor,
    Subscription,
    TaskCursor,
)
from sqlmig.progress.web import ASCII_INT, HANDOFF_KEY, HTTPError, query
from sqlmig.progress.writer import Writer

log = logging.getLogger("sqlmig.progress")

MAX_SEQ = 2**31 - 1
MAX_ROW_ID = 2**63 - 1
_ROW_ID = re.compile(r"[0-9]{1,19}")
_RESYNC_RETRY_S = 1.0
_HEADERS = [
    ("Content-Type", "text/event-stream; charset=utf-8"),
    ("Cache-Control", "no-store"),
    ("X-Accel-Buffering", "no"),
    ("X-Content-Type-Options", "nosniff"),
]


class Streams:
    """What every stream needs: the hub, the pool, the writer, heartbeat and retry."""

    def __init__(self, hub: Hub, pool: Pool, *, heartbeat_s: float, retry_ms: int) -> None:
        self.hub, self.pool = hub, pool
        self.heartbeat_s, self.retry_ms = heartbeat_s, retry_ms
        self.writer = Writer(hub, pool, heartbeat_s=heartbeat_s)

    def task(
        self,
        environ: WSGIEnvironment,
        task_id: UUID,
        cors: list[tuple[str, str]],
        start_response: StartResponse,
    ) -> Iterable[bytes]:
        """``GET .../tasks/ID/stream``: 200 and an :class:`EventStream`, 204, 404."""
        last = last_event_id(environ)
        # Subscribe first: a row committed during the catch-up query is then
        # queued as well (and dropped as a duplicate), never lost.
        sub = self.hub.subscribe(str(task_id))
        try:
            task = self.pool.run(lambda c: store.fetch_task(c, task_id))
            if task is None:
                raise HTTPError(404, f"no task {task_id}.")
            backlog = self.pool.run(lambda c: store.fetch_events(c, task_id, last))
            if task["terminal"] and not backlog and last > 0:
                # Finished and already seen: 204 makes EventSource stop reconnecting.
                self.hub.unsubscribe(sub)
                start_response("204 No Content", [*cors, ("Cache-Control", "no-store")])
                return []
        except BaseException:
            self.hub.unsubscribe(sub)
            raise
        start_response("200 OK", [*cors, *_HEADERS])
        gen = self._task_events(sub, task_id, task, backlog, last)
        return EventStream(self, sub, environ.get(HANDOFF_KEY), gen)

    def tasks(
        self, environ: WSGIEnvironment, cors: list[tuple[str, str]], start_response: StartResponse
    ) -> Iterable[bytes]:
        """``GET /api/v1/tasks/stream?status=&type=``: the list stream."""
        flt = list_filter(query(environ))
        last = last_event_id(environ, list_stream=True)
        sub = self.hub.subscribe(LIST_KEY)
        upto = self.hub.watermark()  # after subscribing: later rows reach the mailbox
        try:  # the first query before the headers: a database that is away is a 503
            if last == 0:
                first = self.pool.run(lambda c: feed.snapshot(c, flt, upto))
            else:
                first = self._rows_after(flt, last, upto)
        except BaseException:
            self.hub.unsubscribe(sub)
            raise
        start_response("200 OK", [*cors, *_HEADERS])
        gen = self._list_events(sub, flt, last, upto, first)
        return EventStream(self, sub, environ.get(HANDOFF_KEY), gen)

    # -- one task -------------------------------------------------------------------------

    def _task_events(
        self,
        sub: Subscription,
        task_id: UUID,
        task: dict[str, Any],
        backlog: list[ProgressEvent],
        last: int,
    ) -> Generator[bytes | _Handoff, bool, None]:
        yield events.encode(comment=f"task {task_id}", retry_ms=self.retry_ms)
        loop = _TaskLoop(self.pool, task_id, last)
        # Catch-up, in batches so a long history does not sit in memory at once.
        while backlog:
            yield from loop.emit(backlog)
            if loop.done or len(backlog) < store.CATCH_UP_BATCH:
                break
            backlog = loop.rows_after()
        if not loop.done and task["terminal"]:
            # Finished without a terminal row (written by other code): say so, then end.
            yield _synthesized_end(task)
            return
        if not loop.done:
            # Caught up: on our server the writer takes over from here.
            if (yield _Handoff(TaskCursor(str(task_id), loop.last))):
                return
            yield from self._live(sub, loop)

    # -- the list ---------------------------------------------------------------------------

    def _list_events(
        self, sub: Subscription, flt: ListFilter, last: int, upto: int, first: list[ProgressEvent]
    ) -> Generator[bytes | _Handoff, bool, None]:
        yield events.encode(comment="tasks", retry_ms=self.retry_ms)
        cursor = ListCursor(flt, last)
        if last == 0:
            for event in first:
                cursor.sent(event)
                yield Released(event, late=True).sse()  # no id: these are not a cursor
            last = upto
            yield events.encode(id=last)
        else:
            batch = first
            while True:
                for event in batch:
                    cursor.sent(event)
                    yield Released(event).sse()
                    last = event.row_id
                if len(batch) < store.CATCH_UP_BATCH:
                    break
                batch = self._rows_after(flt, last, upto)
            last = max(last, upto)
        cursor.last = last
        if (yield _Handoff(cursor)):
            return
        yield from self._live(sub, _ListLoop(self, cursor))

    def _rows_after(self, flt: ListFilter, after: int, upto: int) -> list[ProgressEvent]:
        return self.pool.run(lambda c: feed.rows_after(c, flt, after, upto))

    # -- live, in this thread (a WSGI server that does not lend its sockets) ----------------

    def _live(self, sub: Subscription, loop: _TaskLoop | _ListLoop) -> Iterator[bytes]:
        resync = False
        while not loop.done:
            item = sub.get(_RESYNC_RETRY_S if resync else self.heartbeat_s)
            if item is CLOSED:
                return
            if item is RESYNC:
                resync = True
            elif item is not None:
                out = loop.live(item)
                if out is True:
                    resync = True
                elif out:
                    yield out
            elif not resync:
                yield HEARTBEAT
            if resync:
                sub.start_resync()
                try:
                    yield from loop.reread()
                    resync = False
                except (psycopg.OperationalError, DatabaseUnavailable) as exc:
                    log.info("stream re-sync postponed: %s", redact(str(exc)))
                    yield HEARTBEAT  # also notices a vanished client while we wait


class _Handoff:
    """Yielded where the writer may take the stream over, with where it stands."""

    def __init__(self, cursor: TaskCursor | ListCursor) -> None:
        self.cursor = cursor


class _TaskLoop:
    def __init__(self, pool: Pool, task_id: UUID, last: int) -> None:
        self._pool, self._task_id = pool, task_id
        self.last, self.done = last, False

    def rows_after(self) -> list[ProgressEvent]:
        tid, after = self._task_id, self.last
        return self._pool.run(lambda c: store.fetch_events(c, tid, after))

    def emit(self, batch: Iterable[ProgressEvent]) -> Iterator[bytes]:
        for event in batch:
            if self.done or event.seq <= self.last:
                continue  # already sent (catch-up and queue overlap)
            yield event.sse()
            self.last, self.done = event.seq, event.terminal

    def live(self, item: object) -> bytes | bool | None:
        if not isinstance(item, ProgressEvent) or item.seq <= self.last:
            return None
        if item.seq == self.last + 1 and not item.truncated:
            return b"".join(self.emit((item,)))
        return True  # a gap (a notification went missing) or a cut payload: re-read

    def reread(self) -> Iterator[bytes]:
        while True:
            batch = self.rows_after()
            yield from self.emit(batch)
            if self.done or len(batch) < store.CATCH_UP_BATCH:
                return


class _ListLoop:
    done = False  # a list stream ends only when the server stops

    def __init__(self, streams: Streams, cursor: ListCursor) -> None:
        self._streams, self._cursor = streams, cursor

    def live(self, item: object) -> bytes | bool | None:
        if not isinstance(item, Released):
            return None
        return self._cursor.admit(item, self._streams.writer.matcher)

    def reread(self) -> Iterator[bytes]:
        cursor, pool = self._cursor, self._streams.pool
        while True:
            upto = self._streams.hub.watermark()
            batch = cursor.read(pool, upto)
            for event in batch:
                yield Released(event).sse()
                cursor.last = event.row_id
            if len(batch) < RESYNC_BATCH:
                cursor.last = max(cursor.last, upto)
                return


Handoff = Callable[[], tuple[int, Callable[[], None]]]


class EventStream:
    """The response iterable of a stream; ``close()`` always unsubscribes (or the writer does).

    A class rather than a bare generator: a generator that was never started
    does not run its ``finally`` on close(), and the server may close the
    response before the first iteration (client gone while headers were sent).
    At the generator's :class:`_Handoff`, a server that lends sockets
    (``HANDOFF_KEY``: our server) gives the socket to the writer, with the
    mailbox, and the iteration ends; under any other server the generator
    goes on in this thread.
    """

    def __init__(
        self,
        streams: Streams,
        sub: Subscription,
        handoff: Handoff | None,
        gen: Generator[bytes | _Handoff, bool, None],
    ) -> None:
        self._streams, self._sub, self._handoff, self._gen = streams, sub, handoff, gen
        self._adopted = False

    def __iter__(self) -> Iterator[bytes]:
        return self

    def __next__(self) -> bytes:
        chunk = next(self._gen)
        while isinstance(chunk, _Handoff):
            if self._handoff is None:
                chunk = self._gen.send(False)
                continue
            fd, release = self._handoff()
            self._adopted = True
            self._streams.writer.adopt(fd, chunk.cursor, release, self._sub)
            raise StopIteration
        return chunk

    def close(self) -> None:
        try:
            self._gen.close()
        finally:
            if not self._adopted:
                self._streams.hub.unsubscribe(self._sub)


def list_filter(params: dict[str, str]) -> ListFilter:
    status = web.status(params)
    task_type = params.get("type") or None
    if task_type is not None and len(task_type) > 200:
        raise HTTPError(400, "type is too long (at most 200 characters).")
    return ListFilter(status=status, task_type=task_type)


def last_event_id(environ: WSGIEnvironment, *, list_stream: bool = False) -> int:
    """The resume point: the Last-Event-ID header, else ``?last_event_id=``; 0 for none."""
    text = environ.get("HTTP_LAST_EVENT_ID", "").strip()
    if not text:
        text = query(environ).get("last_event_id", "").strip()
    if not text:
        return 0
    pattern, limit = (_ROW_ID, MAX_ROW_ID) if list_stream else (ASCII_INT, MAX_SEQ)
    if not pattern.fullmatch(text) or int(text) > limit:
        raise HTTPError(400, f"malformed Last-Event-ID {text[:32]!r}: expected a row number.")
    return int(text)


def _synthesized_end(task: dict[str, Any]) -> bytes:
    """A task that ended without a terminal row: its terminal event, made from the task
    (schema-valid, like every other event). No id: the client's Last-Event-ID stays on
    the last real row."""
    payload = ProgressEvent.from_task(task).payload()
    return events.encode(events.dumps(payload), event=events.event_name(task["status"]))
