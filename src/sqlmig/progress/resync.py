"""Re-reads from the database for the writer, in their own thread: a slow query never
delays a write.

    writer: stream lagging / gap / truncated / RESYNC ─▶ submit(stream)
    reader thread: stream.cursor.read(pool, watermark) ─▶ post(Rows) ─▶ writer's inbox
                   database away ─▶ wait 1 s, post an empty Rows(error=True): the writer
                                    submits again (heartbeats go on meanwhile)
"""

from __future__ import annotations

import collections
import logging
import threading
import time
from collections.abc import Callable
from typing import TYPE_CHECKING, Any

import psycopg

from sqlmig.core.errors import SqlmigError
from sqlmig.progress.events import ProgressEvent

if TYPE_CHECKING:
    from sqlmig.progress.pool import Pool

log = logging.getLogger("sqlmig.progress")

_RETRY_S = 1.0


class Rows:
    """What a re-read found for one stream (``error``: nothing; the database was away)."""

    __slots__ = ("error", "rows", "stream")

    def __init__(self, stream: Any, rows: list[ProgressEvent], error: bool) -> None:
        self.stream, self.rows, self.error = stream, rows, error


class Reader:
    """One thread and a queue of streams (objects with ``cursor`` and ``closed``)."""

    def __init__(
        self, pool: Pool, watermark: Callable[[], int], post: Callable[[Rows], None]
    ) -> None:
        self._pool, self._watermark, self._post = pool, watermark, post
        self._jobs: collections.deque[Any] = collections.deque()
        self._ready = threading.Condition()
        self._stopped = False

    def start(self) -> None:
        threading.Thread(target=self._run, name="sqlmig-progress-resync", daemon=True).start()

    def submit(self, stream: Any) -> None:
        with self._ready:
            self._jobs.append(stream)
            self._ready.notify()

    def stop(self) -> None:
        with self._ready:
            self._stopped = True
            self._ready.notify_all()

    def _run(self) -> None:
        while True:
            with self._ready:
                while not self._jobs and not self._stopped:
                    self._ready.wait(1.0)
                if self._stopped:
                    return
                stream = self._jobs.popleft()
            if stream.closed:
                continue
            try:
                rows = stream.cursor.read(self._pool, self._watermark())
                self._post(Rows(stream, rows, error=False))
            except (psycopg.Error, SqlmigError) as exc:
                log.info("re-sync postponed: %s", type(exc).__name__)
                time.sleep(_RETRY_S)
                self._post(Rows(stream, [], error=True))
