"""Serving one task's event stream: catch-up, live fan-out, heartbeats, re-sync, the end.

A stream, from request to close::

    subscribe(task) ─▶ task exists? (404) ─▶ catch-up: rows seq > Last-Event-ID
        ─▶ 200 + "retry:" ─▶ catch-up events ─▶ lend the socket to the hub, wait ─┐
        ▲     (the hub writes in-order events itself while this thread sleeps)   │
        └── write: heartbeat | queued event | rest of a partial write | re-read ◀┘
                   by seq (RESYNC: lagging, gap, truncated payload, DB restart)
    ends after the terminal event (completed / failed / cancelled); close() always
    detaches the socket and unsubscribes, whether the client vanished, the
    server stops or the task ended.
    A client that resumes after the terminal event gets 204, which tells
    EventSource to stop reconnecting.
"""

from __future__ import annotations

import logging
from collections.abc import Generator, Iterable, Iterator
from typing import Any
from uuid import UUID
from wsgiref.types import StartResponse, WSGIEnvironment

import psycopg

from sqlmig.core.errors import DatabaseUnavailable
from sqlmig.core.redact import redact
from sqlmig.progress import events, store
from sqlmig.progress.events import HEARTBEAT, ProgressEvent
from sqlmig.progress.hub import Hub
from sqlmig.progress.pool import Pool
from sqlmig.progress.subscription import CLOSED, ENDED, GONE, RESYNC, Partial, Subscription
from sqlmig.progress.web import ASCII_INT, SOCKET_KEY, HTTPError, query

log = logging.getLogger("sqlmig.progress")

MAX_SEQ = 2**31 - 1
_RESYNC_RETRY_S = 1.0


def open_stream(
    hub: Hub,
    pool: Pool,
    environ: WSGIEnvironment,
    task_id: UUID,
    cors: list[tuple[str, str]],
    start_response: StartResponse,
    *,
    heartbeat_s: float,
    retry_ms: int,
) -> Iterable[bytes]:
    """The response to ``GET .../tasks/ID/stream``: 200 and an :class:`EventStream`, 204, 404."""
    last = last_event_id(environ)
    # Subscribe first: a row committed during the catch-up query is then
    # queued as well (and dropped as a duplicate), never lost.
    sub = hub.subscribe(str(task_id))
    try:
        task = pool.run(lambda c: store.fetch_task(c, task_id))
        if task is None:
            raise HTTPError(404, f"no task {task_id}.")
        backlog = pool.run(lambda c: store.fetch_events(c, task_id, last))
        if task["terminal"] and not backlog and last > 0:
            # Finished and already seen: 204 makes EventSource stop reconnecting.
            hub.unsubscribe(sub)
            start_response("204 No Content", [*cors, ("Cache-Control", "no-store")])
            return []
    except BaseException:
        hub.unsubscribe(sub)
        raise
    start_response(
        "200 OK",
        [
            *cors,
            ("Content-Type", "text/event-stream; charset=utf-8"),
            ("Cache-Control", "no-store"),
            ("X-Accel-Buffering", "no"),
            ("X-Content-Type-Options", "nosniff"),
        ],
    )
    sock = environ.get(SOCKET_KEY)
    if sock is not None and sock.gettimeout() is not None:
        # Our server's socket, non-blocking underneath (it has a timeout):
        # the hub may write to it directly. Other WSGI servers: thread only.
        sub.attach(sock.fileno())
    return EventStream(
        hub, pool, sub, task_id, task, backlog, last, heartbeat_s=heartbeat_s, retry_ms=retry_ms
    )


class EventStream:
    """The response iterable of one stream; ``close()`` always unsubscribes.

    A class rather than a bare generator: a generator that was never started
    does not run its ``finally`` on close(), and the server may close the
    response before the first iteration (client gone while headers were sent).
    """

    def __init__(
        self,
        hub: Hub,
        pool: Pool,
        sub: Subscription,
        task_id: UUID,
        task: dict[str, Any],
        backlog: list[ProgressEvent],
        last: int,
        *,
        heartbeat_s: float,
        retry_ms: int,
    ) -> None:
        self._hub, self._pool, self._sub, self._task_id = hub, pool, sub, task_id
        self._heartbeat_s, self._retry_ms = heartbeat_s, retry_ms
        self._gen = self._events(task, backlog, last)

    def __iter__(self) -> Iterator[bytes]:
        return self._gen

    def close(self) -> None:
        # Detach first: once the server closes the socket its number may be reused.
        self._sub.detach()
        try:
            self._gen.close()
        finally:
            self._hub.unsubscribe(self._sub)

    def _events(
        self, task: dict[str, Any], backlog: list[ProgressEvent], last: int
    ) -> Generator[bytes, None, None]:
        sub, pool = self._sub, self._pool

        def rows_after(seq: int) -> list[ProgressEvent]:
            return pool.run(lambda c: store.fetch_events(c, self._task_id, seq))

        yield events.encode(comment=f"task {self._task_id}", retry_ms=self._retry_ms)
        done = False

        def emit(batch: Iterable[ProgressEvent]) -> Iterator[bytes]:
            nonlocal last, done
            for event in batch:
                if done or event.seq <= last:
                    continue  # already sent (catch-up and queue overlap)
                yield event.sse()
                last = event.seq
                done = event.terminal

        # Catch-up, in batches so a long history does not sit in memory at once.
        while backlog:
            yield from emit(backlog)
            if done or len(backlog) < store.CATCH_UP_BATCH:
                break
            backlog = rows_after(last)
        if not done and task["terminal"]:
            # Finished without a terminal row (written by other code): say so, then end.
            yield _synthesized_end(task)
            return

        resync = False
        while not done:
            if not resync:
                sub.go_direct(last)  # the hub may now write in-order events itself
            item = sub.get(_RESYNC_RETRY_S if resync else self._heartbeat_s)
            last = sub.leave_direct(last)
            if item is CLOSED or item is GONE or item is ENDED:
                return
            if isinstance(item, Partial):
                yield item.rest
                last, done = item.event.seq, item.event.terminal
                continue
            if isinstance(item, ProgressEvent):
                if item.seq <= last:
                    continue
                if item.seq == last + 1 and not item.truncated:
                    yield from emit((item,))
                    continue
                # A gap (a notification went missing) or a cut payload: read the
                # rows from the database instead.
                resync = True
            elif item is RESYNC:
                resync = True
            if resync:
                sub.start_resync()
                try:
                    while True:
                        batch = rows_after(last)
                        yield from emit(batch)
                        if done or len(batch) < store.CATCH_UP_BATCH:
                            break
                    resync = False
                except (psycopg.OperationalError, DatabaseUnavailable) as exc:
                    log.info("re-sync of task %s postponed: %s", self._task_id, redact(str(exc)))
                    yield HEARTBEAT  # also notices a vanished client while we wait
                continue
            if item is None:
                yield HEARTBEAT


def last_event_id(environ: WSGIEnvironment) -> int:
    """The resume point: the Last-Event-ID header, else ``?last_event_id=``; 0 for none."""
    text = environ.get("HTTP_LAST_EVENT_ID", "").strip()
    if not text:
        text = query(environ).get("last_event_id", "").strip()
    if not text:
        return 0
    if not ASCII_INT.fullmatch(text) or int(text) > MAX_SEQ:
        raise HTTPError(400, f"malformed Last-Event-ID {text[:32]!r}: expected a row number.")
    return int(text)


def _synthesized_end(task: dict[str, Any]) -> bytes:
    payload = {
        "task_id": task["id"],
        "seq": task["last_seq"],
        "status": task["status"],
        "percent": task["progress"],
        "stage": task["stage"],
        "message": task["message"] or task["status"].lower(),
        "data": {"error": task["error"]} if task["error"] else None,
        "created_at": task["completed_at"] or task["updated_at"],
    }
    # No id: the client's Last-Event-ID stays on the last real row.
    return events.encode(events.dumps(payload), event=events.event_name(task["status"]))
