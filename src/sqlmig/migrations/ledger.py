"""The ``schema_migrations`` table: what ran, when, by whom, and its text (see datafile).

All ledger SQL lives here. Reads for ``status``/``apply`` fetch one row per
migration in a single query and leave the (large) script text in the database;
the text is fetched only to show a diff.

Exactly once: a version has at most one row (the primary key), and rows are
never overwritten by an insert: a transactional file's row is a plain INSERT,
so a second runner's copy of the same file fails and rolls back whole. Every
write that marks a migration done also proves, inside the same transaction,
that this session still holds the migration lock (:data:`LOCK_HELD`): a file
that released it (``pg_advisory_unlock_all()``) cannot commit.

History is kept: ``repair`` never rewrites ``checksum`` or ``script`` (the
text that ran); accepting an edited file is recorded in the ``accepted_*``
columns.
"""

from __future__ import annotations

import hashlib
import time
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from datetime import datetime
from typing import TYPE_CHECKING

import psycopg
from psycopg import sql

from sqlmig.core.backoff import Backoff
from sqlmig.core.config import LEDGER_SCHEMA, LEDGER_TABLE
from sqlmig.core.errors import LockNotAcquired, UsageError
from sqlmig.migrations import datafile, history

if TYPE_CHECKING:
    from psycopg import Connection

    from sqlmig.migrations.files import Script

SCHEMA = LEDGER_SCHEMA
TABLE = LEDGER_TABLE
_QUALIFIED = sql.Identifier(SCHEMA, TABLE)

#: Session advisory lock key shared by every sqlmig runner on a database.
LOCK_KEY = int.from_bytes(
    hashlib.sha256(f"sqlmig:{SCHEMA}.{TABLE}".encode()).digest()[:8], "big", signed=True
)


#: The lock key as pg_locks shows a bigint advisory lock: two oids and objsubid 1.
_LOCK_CLASSID, _LOCK_OBJID = (LOCK_KEY >> 32) & 0xFFFFFFFF, LOCK_KEY & 0xFFFFFFFF

#: TRUE while this session holds the migration lock, else NULL. Written into the
#: NOT NULL ``success`` column, it makes a ledger write fail when the lock is gone.
LOCK_HELD = sql.SQL(
    sql.SQL(
        "(SELECT true FROM pg_catalog.pg_locks WHERE locktype = 'advisory'"
        " AND pid = pg_catalog.pg_backend_pid() AND classid = {classid} AND objid = {objid}"
        " AND objsubid = 1 AND granted LIMIT 1)"
    )
    .format(classid=sql.Literal(_LOCK_CLASSID), objid=sql.Literal(_LOCK_OBJID))
    .as_string()
)

#: Columns added after the first release; a ledger without them is upgraded by
#: :func:`ensure` (under the lock) and read with NULLs until then.
_LATER_COLUMNS = {
    "accepted_checksum": "text",
    "accepted_at": "timestamptz",
    "accepted_by": "text",
}


@dataclass(frozen=True)
class LedgerRow:
    version: int
    name: str
    checksum: str  # of the text that ran
    applied_at: datetime
    applied_by: str
    execution_ms: int
    success: bool
    kind: str
    accepted_checksum: str | None = None  # an edit accepted by `repair` (did not run)
    accepted_at: datetime | None = None
    accepted_by: str | None = None

    @property
    def current_checksum(self) -> str:
        """What the file must hash to now: the accepted edit, else the text that ran."""
        return self.accepted_checksum or self.checksum


def is_lock_lost(error: psycopg.Error) -> bool:
    """True when a ledger write failed because :data:`LOCK_HELD` found no lock."""
    diag = error.diag
    return (
        error.sqlstate == "23502"
        and diag.table_name == TABLE
        and diag.schema_name == SCHEMA
        and diag.column_name == "success"
    )


def is_duplicate_row(error: psycopg.Error) -> bool:
    """True when a ledger insert met a row for the same version (another runner's)."""
    return (
        error.sqlstate == "23505"
        and error.diag.table_name == TABLE
        and error.diag.schema_name == SCHEMA
    )


def is_ledger_error(error: psycopg.Error) -> bool:
    """True when the server blames the ledger table itself (a write to it failed)."""
    return error.diag.table_name == TABLE and error.diag.schema_name == SCHEMA


def _columns(conn: Connection[tuple[object, ...]]) -> set[str]:
    """The ledger's column names; empty when the ledger does not exist (one query).

    A table of that name that is not sqlmig's (dbmate and golang-migrate use the
    same name) is refused: reading it as a ledger, or adding columns to it, would
    misread or damage the other tool's history.
    """
    cur = conn.execute(
        "SELECT attname FROM pg_catalog.pg_attribute"
        " WHERE attrelid = pg_catalog.to_regclass(%s) AND attnum > 0 AND NOT attisdropped",
        (f"{SCHEMA}.{TABLE}",),
    )
    columns = {str(name) for (name,) in cur}
    if columns and not columns >= _CORE_COLUMNS:
        tool = "golang-migrate" if "dirty" in columns else "dbmate"
        raise UsageError(
            f"{SCHEMA}.{TABLE} exists but is not sqlmig's ledger (its columns: "
            f"{', '.join(sorted(columns))}; it looks like {tool}'s). sqlmig leaves it alone: "
            f"`sqlmig adopt --from {tool} --dry-run` shows how sqlmig would take over its "
            "history (the table is kept, renamed)."
        )
    return columns


_CORE_COLUMNS = frozenset({"version", "name", "checksum", "script", "success"})


def ensure(conn: Connection[tuple[object, ...]]) -> None:
    """Create the ledger if missing, or add columns newer releases need; hold the lock.

    The history table comes with it: every ledger write also appends history.
    """
    history.ensure(conn)
    columns = _columns(conn)
    if not columns:
        conn.execute(
            sql.SQL(
                """
                CREATE TABLE {table} (
                    version           bigint      PRIMARY KEY,
                    name              text        NOT NULL,
                    checksum          text        NOT NULL,
                    script            text        NOT NULL,
                    applied_at        timestamptz NOT NULL DEFAULT clock_timestamp(),
                    applied_by        text        NOT NULL DEFAULT current_user,
                    execution_ms      integer     NOT NULL DEFAULT 0,
                    success           boolean     NOT NULL,
                    kind              text        NOT NULL DEFAULT 'migration'
                                      CONSTRAINT schema_migrations_kind_check
                                      CHECK (kind IN ('migration', 'baseline', 'adopted')),
                    accepted_checksum text,
                    accepted_at       timestamptz,
                    accepted_by       text
                );
                COMMENT ON TABLE {table} IS
                    'sqlmig ledger: one row per applied migration, with the text that ran';
                """
            ).format(table=_QUALIFIED)
        )
        return
    missing = [name for name in _LATER_COLUMNS if name not in columns]
    if missing:
        conn.execute(
            sql.SQL("ALTER TABLE {table} ").format(table=_QUALIFIED)
            + sql.SQL(", ").join(
                sql.SQL("ADD COLUMN {} {}").format(
                    sql.Identifier(name), sql.SQL(_LATER_COLUMNS[name])
                )
                for name in missing
            )
        )


_READ_COLUMNS = (
    "version",
    "name",
    "checksum",
    "applied_at",
    "applied_by",
    "execution_ms",
    "success",
    "kind",
    *_LATER_COLUMNS,
)


def read(conn: Connection[tuple[object, ...]]) -> list[LedgerRow]:
    """Every ledger row, by version; [] when the ledger does not exist yet."""
    columns = _columns(conn)
    if not columns:
        return []
    selected = sql.SQL(", ").join(
        sql.Identifier(c) if c in columns else sql.SQL("NULL") for c in _READ_COLUMNS
    )
    cur = conn.execute(
        sql.SQL("SELECT {columns} FROM {table} ORDER BY version").format(
            columns=selected, table=_QUALIFIED
        )
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
    "pg_catalog.round(extract(epoch FROM pg_catalog.clock_timestamp()"
    " - pg_catalog.statement_timestamp()) * 1000)::int"
)


# Rendered once (no connection needed): these go into every file's message.
_INSERT_HEAD = sql.SQL(
    sql.SQL(
        "INSERT INTO {table} (version, name, checksum, script, execution_ms, success, kind)"
        " VALUES ("
    )
    .format(table=_QUALIFIED)
    .as_string()
)
_COMMA, _CLOSE = sql.SQL(", "), sql.SQL(")")


def insert_query(
    script: Script,
    *,
    execution_ms: sql.Composable,
    success: bool,
    kind: str = "migration",
    text: sql.Composable | None = None,
) -> sql.Composed:
    """A plain INSERT of the row for ``script``: it fails if the version has a row.

    A successful row carries :data:`LOCK_HELD`, so it cannot be written once
    the lock is gone. ``text`` is an SQL expression for the script's text (the
    executor takes it from the message that carried the file); by default the
    text travels as a literal. Either way the statement goes in one message
    with the migration itself (one round trip per file). Composed from parts
    made once, since this runs for every file.
    """
    return sql.Composed(
        [
            _INSERT_HEAD,
            sql.Literal(script.version),
            _COMMA,
            sql.Literal(script.name),
            _COMMA,
            sql.Literal(script.checksum),
            _COMMA,
            text if text is not None else sql.Literal(datafile.stored_text(script.up)),
            _COMMA,
            execution_ms,
            _COMMA,
            LOCK_HELD if success else sql.Literal(False),
            _COMMA,
            sql.Literal(kind),
            _CLOSE,
        ]
    )


def finish_query(version: int, *, execution_ms: sql.Composable) -> sql.Composed:
    """Mark a no-transaction file's start row done (only while the lock is held)."""
    return sql.SQL(
        "UPDATE {table} SET success = {held}, execution_ms = {ms},"
        " applied_at = pg_catalog.clock_timestamp()"
        " WHERE version = {version} AND NOT success"
    ).format(table=_QUALIFIED, held=LOCK_HELD, ms=execution_ms, version=sql.Literal(version))


def mark_failed(conn: Connection[tuple[object, ...]], version: int, execution_ms: int) -> None:
    """Mark a half-done no-transaction file (up or down) failed, with how long it ran."""
    conn.execute(
        sql.SQL(
            "UPDATE {table} SET success = false, execution_ms = {ms} WHERE version = {version}"
        ).format(table=_QUALIFIED, ms=sql.Literal(execution_ms), version=sql.Literal(version))
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
        insert_query(script, execution_ms=sql.Literal(execution_ms), success=success, kind=kind)
    )


def accept_edit(conn: Connection[tuple[object, ...]], version: int, checksum: str) -> None:
    """Record that the edited file with ``checksum`` is accepted as applied (it did not run)."""
    conn.execute(
        sql.SQL(
            "UPDATE {table} SET accepted_checksum = {checksum},"
            " accepted_at = pg_catalog.clock_timestamp(), accepted_by = current_user"
            " WHERE version = {version}"
        ).format(table=_QUALIFIED, checksum=sql.Literal(checksum), version=sql.Literal(version))
    )


def delete_query(version: int) -> sql.Composed:
    """Forget a version, proving first that the lock is still held (rollback)."""
    return sql.SQL(
        "UPDATE {table} SET success = {held} WHERE version = {version};"
        " DELETE FROM {table} WHERE version = {version}"
    ).format(table=_QUALIFIED, held=LOCK_HELD, version=sql.Literal(version))


def delete(conn: Connection[tuple[object, ...]], version: int) -> None:
    conn.execute(
        sql.SQL("DELETE FROM {table} WHERE version = {version}").format(
            table=_QUALIFIED, version=sql.Literal(version)
        )
    )


#: Poll intervals while another runner holds the lock: short at first (most
#: waits end in a moment), then at most one query a second.
_FIRST_POLL_S, _MAX_POLL_S = 0.05, 1.0


@contextmanager
def locked(
    conn: Connection[tuple[object, ...]],
    timeout_s: float,
    on_wait: Callable[[], None] | None = None,
) -> Iterator[None]:
    """Hold the migration lock for the block: one runner per database at a time.

    A session-level advisory lock. A runner that finds it taken polls
    ``pg_try_advisory_lock`` with backoff, in autocommit, so while it waits it
    holds no transaction and no snapshot: a ``CREATE INDEX CONCURRENTLY`` in
    the holder's no-transaction file never waits for (or deadlocks with) the
    waiters. The server releases the lock if this process dies.
    """
    if not _try_lock(conn):
        if on_wait is not None:
            on_wait()
        _wait_for_lock(conn, timeout_s)
    try:
        yield
    finally:
        if not conn.closed and not conn.broken:
            conn.execute("SELECT pg_catalog.pg_advisory_unlock(%s)", (LOCK_KEY,))


def _try_lock(conn: Connection[tuple[object, ...]]) -> bool:
    row = conn.execute("SELECT pg_catalog.pg_try_advisory_lock(%s)", (LOCK_KEY,)).fetchone()
    return bool(row and row[0])


def _wait_for_lock(conn: Connection[tuple[object, ...]], timeout_s: float) -> None:
    deadline = time.monotonic() + timeout_s
    backoff = Backoff(_FIRST_POLL_S, _MAX_POLL_S, factor=1.5)
    while True:
        left = deadline - time.monotonic()
        if left <= 0:
            raise LockNotAcquired(
                f"another sqlmig run has held the migration lock for {timeout_s:g} s; "
                "wait for it to finish or raise --lock-timeout "
                f"(pg_locks shows the holder: advisory lock objid {_LOCK_OBJID})."
            )
        time.sleep(backoff.next(left))
        if _try_lock(conn):
            return
