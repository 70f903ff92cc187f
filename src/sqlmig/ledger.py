"""The ``schema_migrations`` table: what ran, when, by whom, and its exact text.

All ledger SQL lives here. Reads for ``status``/``apply`` fetch one row per
migration in a single query and leave the (large) script text in the database;
the text is fetched only to show a diff.
"""

from __future__ import annotations

import hashlib
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from datetime import datetime
from typing import TYPE_CHECKING

from psycopg import errors, sql

from .errors import DatabaseUnavailable

if TYPE_CHECKING:
    from psycopg import Connection

    from .scripts import Script

SCHEMA = "public"
TABLE = "schema_migrations"
_QUALIFIED = sql.Identifier(SCHEMA, TABLE)

#: Session advisory lock key shared by every sqlmig runner on a database.
LOCK_KEY = int.from_bytes(
    hashlib.sha256(f"sqlmig:{SCHEMA}.{TABLE}".encode()).digest()[:8], "big", signed=True
)


@dataclass(frozen=True)
class LedgerRow:
    version: int
    name: str
    checksum: str
    applied_at: datetime
    applied_by: str
    execution_ms: int
    success: bool
    kind: str


def exists(conn: Connection[tuple[object, ...]]) -> bool:
    row = conn.execute("SELECT to_regclass(%s) IS NOT NULL", (f"{SCHEMA}.{TABLE}",)).fetchone()
    return bool(row and row[0])


def ensure(conn: Connection[tuple[object, ...]]) -> None:
    """Create the ledger if missing; call with the advisory lock held."""
    if exists(conn):
        return
    conn.execute(
        sql.SQL(
            """
            CREATE TABLE {table} (
                version      bigint      PRIMARY KEY,
                name         text        NOT NULL,
                checksum     text        NOT NULL,
                script       text        NOT NULL,
                applied_at   timestamptz NOT NULL DEFAULT clock_timestamp(),
                applied_by   text        NOT NULL DEFAULT current_user,
                execution_ms integer     NOT NULL DEFAULT 0,
                success      boolean     NOT NULL,
                kind         text        NOT NULL DEFAULT 'migration'
                             CHECK (kind IN ('migration', 'baseline'))
            );
            COMMENT ON TABLE {table} IS
                'sqlmig ledger: one row per applied migration, with the exact text that ran';
            """
        ).format(table=_QUALIFIED)
    )


def read(conn: Connection[tuple[object, ...]]) -> list[LedgerRow]:
    """Every ledger row, by version; [] when the ledger does not exist yet."""
    if not exists(conn):
        return []
    cur = conn.execute(
        sql.SQL(
            "SELECT version, name, checksum, applied_at, applied_by, execution_ms,"
            " success, kind FROM {table} ORDER BY version"
        ).format(table=_QUALIFIED)
    )
    return [LedgerRow(*row) for row in cur]  # type: ignore[arg-type]


def applied_texts(conn: Connection[tuple[object, ...]], versions: list[int]) -> dict[int, str]:
    if not versions:
        return {}
    cur = conn.execute(
        sql.SQL("SELECT version, script FROM {table} WHERE version = ANY(%s)").format(
            table=_QUALIFIED
        ),
        (versions,),
    )
    return {int(v): str(s) for v, s in cur}  # type: ignore[call-overload]


#: Server-side milliseconds since the current query message arrived: the run time
#: of a migration sent in the same message as its ledger row.
ELAPSED_MS = sql.SQL(
    "round(extract(epoch FROM clock_timestamp() - statement_timestamp()) * 1000)::int"
)


def record_query(
    script: Script,
    *,
    execution_ms: sql.Composable,
    success: bool,
    kind: str = "migration",
) -> sql.Composed:
    """Insert or overwrite the row for ``script`` (overwrite: a no-transaction run).

    Values are literals, so the statement can travel in one message with the
    migration itself (one round trip per file).
    """
    return sql.SQL(
        "INSERT INTO {table} (version, name, checksum, script, execution_ms, success, kind)"
        " VALUES ({values}, {execution_ms}, {success}, {kind})"
        " ON CONFLICT (version) DO UPDATE SET name = EXCLUDED.name,"
        " checksum = EXCLUDED.checksum, script = EXCLUDED.script,"
        " applied_at = clock_timestamp(), applied_by = current_user,"
        " execution_ms = EXCLUDED.execution_ms, success = EXCLUDED.success,"
        " kind = EXCLUDED.kind"
    ).format(
        table=_QUALIFIED,
        values=sql.SQL(", ").join(
            map(sql.Literal, (script.version, script.name, script.checksum, script.body))
        ),
        execution_ms=execution_ms,
        success=sql.Literal(success),
        kind=sql.Literal(kind),
    )


def record(
    conn: Connection[tuple[object, ...]],
    script: Script,
    *,
    execution_ms: int,
    success: bool,
    kind: str = "migration",
) -> None:
    conn.execute(
        record_query(script, execution_ms=sql.Literal(execution_ms), success=success, kind=kind)
    )


def delete_query(version: int) -> sql.Composed:
    return sql.SQL("DELETE FROM {table} WHERE version = {version}").format(
        table=_QUALIFIED, version=sql.Literal(version)
    )


def delete(conn: Connection[tuple[object, ...]], version: int) -> None:
    conn.execute(delete_query(version))


@contextmanager
def locked(
    conn: Connection[tuple[object, ...]],
    timeout_s: float,
    on_wait: Callable[[], None] | None = None,
) -> Iterator[None]:
    """Hold the migration lock for the block: one runner per database at a time.

    A session-level advisory lock: tried once without waiting; if another
    runner holds it, ``on_wait`` is told and the wait happens in a short
    transaction whose ``SET LOCAL lock_timeout`` bounds it without leaking
    into the migrations. The server releases the lock if this process dies.
    """
    row = conn.execute("SELECT pg_try_advisory_lock(%s)", (LOCK_KEY,)).fetchone()
    if not (row and row[0]):
        if on_wait is not None:
            on_wait()
        _wait_for_lock(conn, timeout_s)
    try:
        yield
    finally:
        if not conn.closed and not conn.broken:
            conn.execute("SELECT pg_advisory_unlock(%s)", (LOCK_KEY,))


def _wait_for_lock(conn: Connection[tuple[object, ...]], timeout_s: float) -> None:
    try:
        with conn.transaction():
            conn.execute(
                "SELECT set_config('lock_timeout', %s, true)", (f"{max(int(timeout_s * 1000), 1)}",)
            )
            conn.execute("SELECT pg_advisory_lock(%s)", (LOCK_KEY,))
    except errors.LockNotAvailable as exc:
        raise DatabaseUnavailable(
            f"another sqlmig run has held the migration lock for {timeout_s:g} s; "
            "wait for it to finish or raise --lock-timeout "
            f"(pg_locks shows the holder: advisory lock objid {LOCK_KEY & 0xFFFFFFFF})."
        ) from exc
