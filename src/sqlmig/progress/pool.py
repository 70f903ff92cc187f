"""The progress server's database connections: a factory, and a small pool of them.

    connector(dsn) ─▶ core.connections.open_connection (autocommit, application_name)
         ├──▶ hub.py: its ONE listening connection (reopened after a restart)
         └──▶ Pool: a few connections shared by the request threads (store.py's queries)

Connections are opened only by :mod:`sqlmig.core.connections` (its default
connect_timeout, 10 s, unless the DSN sets one).
"""

from __future__ import annotations

import threading
from collections.abc import Callable
from typing import TYPE_CHECKING, TypeVar

import psycopg

from sqlmig.core.connections import open_connection
from sqlmig.core.errors import DatabaseUnavailable

if TYPE_CHECKING:
    from sqlmig.progress.store import Connection

T = TypeVar("T")


def connector(dsn: str, *, application_name: str = "sqlmig-serve") -> Callable[[], Connection]:
    """A factory of autocommit connections to ``dsn`` (for the hub and the pool)."""

    def connect() -> Connection:
        return open_connection(dsn, application_name=application_name)

    return connect


class Pool:
    """At most ``size`` autocommit connections shared by the request threads.

    psycopg_pool is not a dependency; this is all the server needs: bounded
    concurrency, reuse, and one transparent retry when an idle connection
    turns out dead (the database restarted since it was last used).
    """

    def __init__(
        self, connect: Callable[[], Connection], *, size: int = 4, timeout_s: float = 30.0
    ) -> None:
        self._connect = connect
        self._idle: list[Connection] = []
        self._lock = threading.Lock()
        self._slots = threading.BoundedSemaphore(size)
        self._timeout_s = timeout_s
        self._closed = False

    def run(self, fn: Callable[[Connection], T]) -> T:
        if not self._slots.acquire(timeout=self._timeout_s):
            raise DatabaseUnavailable(
                f"no database connection became free within {self._timeout_s:g} s."
            )
        try:
            return self._run(fn)
        finally:
            self._slots.release()

    def _run(self, fn: Callable[[Connection], T]) -> T:
        while True:
            conn, reused = self._take()
            try:
                result = fn(conn)
            except psycopg.OperationalError:
                conn.close()
                if reused:
                    continue  # stale; the next one is fresh or also stale, then new
                raise
            except BaseException:
                self._give(conn)
                raise
            self._give(conn)
            return result

    def _take(self) -> tuple[Connection, bool]:
        with self._lock:
            while self._idle:
                conn = self._idle.pop()
                if not conn.closed and not conn.broken:
                    return conn, True
                conn.close()
        return self._connect(), False

    def _give(self, conn: Connection) -> None:
        if conn.closed or conn.broken:
            conn.close()
            return
        if conn.info.transaction_status != psycopg.pq.TransactionStatus.IDLE:
            conn.close()  # a caller left a transaction open: do not hand it on
            return
        with self._lock:
            if not self._closed:
                self._idle.append(conn)
                return
        conn.close()

    def close(self) -> None:
        with self._lock:
            self._closed = True
            idle, self._idle = self._idle, []
        for conn in idle:
            conn.close()
