"""The migration lock: one runner per ledger at a time, and the proof that it is still held.

A session-level advisory lock whose key is derived from the ledger's location
(:func:`lock_key`): runners of the same ledger always share it, and two
projects with their own ledgers in one database never wait for each other.
The default ledger (``public.schema_migrations``) keeps the key sqlmig always
used, so an older runner and this one still exclude each other.
"""

from __future__ import annotations

import functools
import hashlib
import time
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from typing import TYPE_CHECKING

from psycopg import sql

from sqlmig.core.backoff import Backoff
from sqlmig.core.config import DEFAULT_LEDGER, LedgerLocation
from sqlmig.core.errors import LockNotAcquired

if TYPE_CHECKING:
    from psycopg import Connection


def lock_key(loc: LedgerLocation) -> int:
    """The advisory lock key (a bigint) of the ledger at ``loc``."""
    digest = hashlib.sha256(f"sqlmig:{loc}".encode()).digest()
    return int.from_bytes(digest[:8], "big", signed=True)


#: The default ledger's key (public.schema_migrations).
LOCK_KEY = lock_key(DEFAULT_LEDGER)


def _objid(key: int) -> int:
    return key & 0xFFFFFFFF


@functools.cache
def lock_held(loc: LedgerLocation) -> sql.SQL:
    """TRUE while this session holds ``loc``'s migration lock, else NULL.

    Written into the ledger's NOT NULL ``success`` column, it makes a ledger
    write fail when the lock is gone. Rendered once per ledger: it goes into
    every file's message.
    """
    key = lock_key(loc)
    # A bigint advisory lock shows in pg_locks as two oids and objsubid 1.
    return sql.SQL(
        sql.SQL(
            "(SELECT true FROM pg_catalog.pg_locks WHERE locktype = 'advisory'"
            " AND pid = pg_catalog.pg_backend_pid() AND classid = {classid}"
            " AND objid = {objid} AND objsubid = 1 AND granted LIMIT 1)"
        )
        .format(classid=sql.Literal((key >> 32) & 0xFFFFFFFF), objid=sql.Literal(_objid(key)))
        .as_string()
    )


#: Poll intervals while another runner holds the lock: short at first (most
#: waits end in a moment), then at most one query a second.
_FIRST_POLL_S, _MAX_POLL_S = 0.05, 1.0


@contextmanager
def locked(
    conn: Connection[tuple[object, ...]],
    loc: LedgerLocation,
    timeout_s: float,
    on_wait: Callable[[], None] | None = None,
) -> Iterator[None]:
    """Hold ``loc``'s migration lock for the block.

    A runner that finds it taken polls ``pg_try_advisory_lock`` with backoff,
    in autocommit, so while it waits it holds no transaction and no snapshot: a
    ``CREATE INDEX CONCURRENTLY`` in the holder's no-transaction file never
    waits for (or deadlocks with) the waiters. The server releases the lock if
    this process dies.
    """
    key = lock_key(loc)
    if not _try_lock(conn, key):
        if on_wait is not None:
            on_wait()
        _wait_for_lock(conn, key, timeout_s)
    try:
        yield
    finally:
        if not conn.closed and not conn.broken:
            conn.execute("SELECT pg_catalog.pg_advisory_unlock(%s)", (key,))


def _try_lock(conn: Connection[tuple[object, ...]], key: int) -> bool:
    row = conn.execute("SELECT pg_catalog.pg_try_advisory_lock(%s)", (key,)).fetchone()
    return bool(row and row[0])


def _wait_for_lock(conn: Connection[tuple[object, ...]], key: int, timeout_s: float) -> None:
    deadline = time.monotonic() + timeout_s
    backoff = Backoff(_FIRST_POLL_S, _MAX_POLL_S, factor=1.5)
    while True:
        left = deadline - time.monotonic()
        if left <= 0:
            raise LockNotAcquired(
                f"another sqlmig run has held the migration lock for {timeout_s:g} s; "
                "wait for it to finish or raise --lock-timeout "
                f"(pg_locks shows the holder: advisory lock objid {_objid(key)})."
            )
        time.sleep(backoff.next(left))
        if _try_lock(conn, key):
            return
