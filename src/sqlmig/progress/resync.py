"""Re-reads from the database for the writer, in their own thread: a slow query never
delays a write.

    writer: stream lagging / gap / truncated / RESYNC ─▶ submit(stream)
    reader thread: one read per (task, last seq) ─▶ post(Rows) per stream ─▶ writer's inbox
                   (after a database restart every stream re-reads: 10,000 streams of
                   100 tasks at the same seq are 100 queries, not 10,000)
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
        # Streams waiting, grouped by where they stand: one query serves a group.
        self._jobs: collections.OrderedDict[tuple[Any, ...], list[Any]] = collections.OrderedDict()
        self._ready = threading.Condition()
        self._stopped = False

    def start(self) -> None:
        threading.Thread(target=self._run, name="sqlmig-progress-resync", daemon=True).start()

    def submit(self, stream: Any) -> None:
        cursor = stream.cursor
        key = (cursor.task_id, cursor.last, getattr(cursor, "filter", None))
        with self._ready:
            self._jobs.setdefault(key, []).append(stream)
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
                _, streams = self._jobs.popitem(last=False)
            streams = [s for s in streams if not s.closed]
            if not streams:
                continue
            try:
                rows = streams[0].cursor.read(self._pool, self._watermark())
                error = False
            except (psycopg.Error, SqlmigError) as exc:
                log.info("re-sync postponed: %s", type(exc).__name__)
                time.sleep(_RETRY_S)
                rows, error = [], True
            for stream in streams:
                self._post(Rows(stream, rows, error=error))
