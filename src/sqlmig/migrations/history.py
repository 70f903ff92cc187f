"""The history table beside the ledger: every apply, rollback, repair and baseline, appended.

All history SQL lives here. The ledger is the current state; this table is the
audit trail of how it got there, and sqlmig only ever INSERTs into it. A
transactional file's history row travels in the same message (and transaction)
as the file and its ledger change (:func:`insert_query`, composed into
``run.Step.finish``), so it commits with them or not at all. A failed run is
recorded after the failed transaction has been rolled back, as a separate
autocommit insert (:func:`record_failure`): a failure must be on record even
though nothing of the file stayed.

Who: the database role (``current_user``, filled in by the server) and the
person or job (``SQLMIG_ACTOR`` when set, else the OS user).

The table is ``<ledger>_history`` in the ledger's schema
(:attr:`~sqlmig.core.config.LedgerLocation.history`); every function takes the
ledger's location. A database migrated by an older sqlmig has no history table: :func:`ensure`
creates it (under the migration lock) before the next write, and reads treat a
missing table as empty history.
"""

from __future__ import annotations

import getpass
import os
from dataclasses import dataclass
from datetime import datetime
from typing import TYPE_CHECKING, Literal

import psycopg
from psycopg import sql
from psycopg.pq import TransactionStatus

if TYPE_CHECKING:
    from psycopg import Connection

    from sqlmig.core.config import LedgerLocation

Action = Literal["apply", "rollback", "repair", "baseline", "adopt"]
Outcome = Literal["success", "failed", "partial"]

#: Environment variable naming who runs sqlmig (a CI job, a deploy tool's user).
ACTOR_ENV = "SQLMIG_ACTOR"


@dataclass(frozen=True)
class HistoryRow:
    id: int
    version: int | None  # None: a repeatable migration (R-<name>.sql), named by ``name``
    name: str
    action: str
    outcome: str
    checksum_before: str | None
    checksum_after: str | None
    execution_ms: int
    db_user: str
    actor: str | None
    at: datetime
    detail: str | None


def actor() -> str | None:
    """``SQLMIG_ACTOR`` when set, else the OS user (None when neither is known)."""
    named = os.environ.get(ACTOR_ENV, "").strip()
    if named:
        return named
    try:
        return getpass.getuser()
    except (KeyError, OSError):  # no passwd entry (some containers)
        return None


def _exists(conn: Connection[tuple[object, ...]], loc: LedgerLocation) -> bool:
    row = conn.execute(
        "SELECT pg_catalog.to_regclass(%s) IS NOT NULL", (loc.regclass(loc.history),)
    ).fetchone()
    return bool(row and row[0])


def ensure(conn: Connection[tuple[object, ...]], loc: LedgerLocation) -> None:
    """Create the history table if missing (hold the migration lock; the schema exists)."""
    if _exists(conn, loc):
        _allow_repeatables(conn, loc)
        return
    conn.execute(
        sql.SQL(
            """
            CREATE TABLE {table} (
                id              bigint      GENERATED ALWAYS AS IDENTITY PRIMARY KEY,
                version         bigint,     -- NULL: a repeatable migration
                name            text        NOT NULL,
                action          text        NOT NULL
                                CHECK (action IN ('apply', 'rollback', 'repair', 'baseline',
                                                  'adopt')),
                outcome         text        NOT NULL
                                CHECK (outcome IN ('success', 'failed', 'partial')),
                checksum_before text,
                checksum_after  text,
                execution_ms    integer     NOT NULL DEFAULT 0,
                db_user         text        NOT NULL DEFAULT current_user,
                actor           text,
                at              timestamptz NOT NULL DEFAULT pg_catalog.clock_timestamp(),
                detail          text
            );
            COMMENT ON TABLE {table} IS
                'sqlmig history: every apply, rollback, repair and baseline (append-only)';
            """
        ).format(table=loc.identifier(loc.history))
    )


def _allow_repeatables(conn: Connection[tuple[object, ...]], loc: LedgerLocation) -> None:
    """A table from before repeatable migrations: their rows have no version."""
    row = conn.execute(
        "SELECT attnotnull FROM pg_catalog.pg_attribute"
        " WHERE attrelid = pg_catalog.to_regclass(%s) AND attname = 'version'",
        (loc.regclass(loc.history),),
    ).fetchone()
    if row and row[0]:
        conn.execute(
            sql.SQL("ALTER TABLE {table} ALTER COLUMN version DROP NOT NULL").format(
                table=loc.identifier(loc.history)
            )
        )


def insert_query(
    loc: LedgerLocation,
    version: int | None,
    name: str,
    *,
    action: Action,
    outcome: Outcome,
    before: str | None,
    after: str | None,
    execution_ms: sql.Composable,
    detail: str | None = None,
) -> sql.Composed:
    """One history row; schema-qualified, so a file that empties search_path cannot break it."""
    return sql.SQL(
        "INSERT INTO {table} (version, name, action, outcome, checksum_before, checksum_after,"
        " execution_ms, actor, detail) VALUES ({values})"
    ).format(
        table=loc.identifier(loc.history),
        values=sql.SQL(", ").join(
            [
                sql.Literal(version),
                sql.Literal(name),
                sql.Literal(action),
                sql.Literal(outcome),
                sql.Literal(before),
                sql.Literal(after),
                execution_ms,
                sql.Literal(actor()),
                sql.Literal(detail),
            ]
        ),
    )


def record(
    conn: Connection[tuple[object, ...]],
    loc: LedgerLocation,
    version: int | None,
    name: str,
    *,
    action: Action,
    outcome: Outcome = "success",
    before: str | None = None,
    after: str | None = None,
    execution_ms: int = 0,
    detail: str | None = None,
) -> None:
    conn.execute(
        insert_query(
            loc,
            version,
            name,
            action=action,
            outcome=outcome,
            before=before,
            after=after,
            execution_ms=sql.Literal(execution_ms),
            detail=detail,
        )
    )


def record_failure(
    conn: Connection[tuple[object, ...]],
    loc: LedgerLocation,
    version: int | None,
    name: str,
    *,
    action: Action,
    outcome: Outcome,
    before: str | None,
    after: str | None,
    execution_ms: int,
) -> None:
    """After a failed file (its transaction already rolled back): best effort, autocommit.

    The failure the user must see is the file's own: if this insert cannot be
    written (the connection is gone or mid-transaction), it is skipped.
    """
    if conn.broken or conn.info.transaction_status != TransactionStatus.IDLE:
        return
    try:
        record(
            conn,
            loc,
            version,
            name,
            action=action,
            outcome=outcome,
            before=before,
            after=after,
            execution_ms=execution_ms,
        )
    except psycopg.Error:
        if not conn.broken and conn.info.transaction_status != TransactionStatus.IDLE:
            conn.execute("ROLLBACK")


_SELECT = sql.SQL(
    "SELECT id, version, name, action, outcome, checksum_before, checksum_after,"
    " execution_ms, db_user, actor, at, detail FROM {table}"
)


def read(
    conn: Connection[tuple[object, ...]], loc: LedgerLocation, version: int | None = None
) -> list[HistoryRow]:
    """History rows, oldest first ([] when the table does not exist yet)."""
    if not _exists(conn, loc):
        return []
    query = _SELECT.format(table=loc.identifier(loc.history))
    if version is not None:
        query += sql.SQL(" WHERE version = {v}").format(v=sql.Literal(version))
    cur = conn.execute(query + sql.SQL(" ORDER BY id"))
    return [HistoryRow(*row) for row in cur]  # type: ignore[arg-type]
