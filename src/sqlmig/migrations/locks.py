"""The lock report of a rehearsal: what each statement locked, rewrote or scanned, read from
the server itself on the throwaway database.

    snapshot(conn)  before the file, then after each statement, inside the file's
        |           transaction (before COMMIT): the backend's granted relation locks
        |           (pg_locks), every relation's relfilenode (pg_class), the seq scans
        v           this transaction counted (pg_stat_xact_user_tables), lock_timeout
    compare(before, after, existing) ─▶ the statement's Locks and findings

What counts (only relations that existed when the file started: what a file creates
is invisible to others until it commits):

    rewrite          a table's relfilenode changed (a new heap: ALTER COLUMN TYPE,
                     ADD COLUMN with a volatile default, VACUUM FULL, ...); shows on
                     empty tables too, since the server decides by the statement
    scan             the transaction's seq-scan counter of a table rose while the
                     statement held a lock that blocks writes, without a rewrite:
                     validation (ADD CONSTRAINT without NOT VALID, SET NOT NULL) or
                     an index build; the server counts the scan on empty tables too
    access-exclusive, exclusive, share-row-exclusive, share
                     the strongest lock the statement took first on a relation
    blocking         any of those four (they block writes, and while queued, every
                     later reader or writer of the table)
    no-lock-timeout  a blocking lock taken while lock_timeout was 0

A lock is reported at the statement that first takes it; in a transactional file it is
held until COMMIT. In a no-transaction file each statement commits on its own, before
its locks can be read: rewrites are still seen (relfilenode), and locks are given by
the statement's kind (CONCURRENTLY, VACUUM), marked ``source="statement kind"``.
"""

from __future__ import annotations

import functools
import json
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any

from psycopg import sql

from sqlmig.core.errors import UsageError

if TYPE_CHECKING:
    from psycopg import Connection

    from sqlmig.core.config import LedgerLocation
    from sqlmig.migrations.statements import Statement

#: pg_locks modes, weakest first.
MODES = (
    "AccessShareLock",
    "RowShareLock",
    "RowExclusiveLock",
    "ShareUpdateExclusiveLock",
    "ShareLock",
    "ShareRowExclusiveLock",
    "ExclusiveLock",
    "AccessExclusiveLock",
)
_RANK = {mode: rank for rank, mode in enumerate(MODES)}
#: SHARE and stronger conflict with ROW EXCLUSIVE: they block INSERT/UPDATE/DELETE.
_BLOCKING = _RANK["ShareLock"]

FINDINGS = (
    "rewrite",
    "scan",
    "access-exclusive",
    "exclusive",
    "share-row-exclusive",
    "share",
    "blocking",
    "no-lock-timeout",
)
_MODE_FINDING = {
    "AccessExclusiveLock": "access-exclusive",
    "ExclusiveLock": "exclusive",
    "ShareRowExclusiveLock": "share-row-exclusive",
    "ShareLock": "share",
}

# Tables, partitioned tables, materialized views, foreign tables, views, sequences:
# an index's locks follow its table's.
_KINDS = ("r", "p", "m", "f", "v", "S")
# One round trip per statement: relations (tagged by their oid), this backend's relation
# locks (mode set), and lock_timeout (oid NULL).
_SNAPSHOT = sql.SQL(
    "SELECT c.oid::int8, pg_catalog.format('%I.%I', n.nspname, c.relname), n.nspname,"
    " c.relname::text, c.relkind::text, c.relfilenode::int8,"
    " pg_catalog.pg_stat_get_xact_numscans(c.oid), NULL::text"
    " FROM pg_catalog.pg_class c JOIN pg_catalog.pg_namespace n ON n.oid = c.relnamespace"
    " WHERE c.relkind::text = ANY({kinds})"
    " AND n.nspname NOT IN ('pg_catalog', 'information_schema')"
    " AND n.nspname !~ '^pg_(toast|temp_|toast_temp_)'"
    " AND NOT (n.nspname = {schema} AND c.relname = ANY({own}))"
    " UNION ALL"
    " SELECT l.relation::int8, NULL, NULL, NULL, NULL, NULL, NULL, l.mode"
    " FROM pg_catalog.pg_locks l"
    " WHERE l.pid = pg_catalog.pg_backend_pid() AND l.locktype = 'relation' AND l.granted"
    " AND l.database = (SELECT oid FROM pg_catalog.pg_database"
    " WHERE datname = pg_catalog.current_database())"
    " UNION ALL"
    " SELECT NULL, pg_catalog.current_setting('lock_timeout'), NULL, NULL, NULL, NULL, NULL, NULL"
)


@functools.cache
def _snapshot_query(loc: LedgerLocation) -> sql.Composed:
    """The snapshot query, leaving out sqlmig's own relations (composed once per ledger)."""
    return _SNAPSHOT.format(
        kinds=sql.Literal(list(_KINDS)),
        schema=sql.Literal(loc.schema),
        own=sql.Literal(list(loc.relations)),
    )


@dataclass(frozen=True)
class Relation:
    name: str  # schema-qualified, quoted where the server would (format %I.%I)
    schema: str
    table: str
    kind: str  # pg_class.relkind
    filenode: int
    scans: int  # seq scans counted in the current transaction


@dataclass(frozen=True)
class Snapshot:
    relations: dict[int, Relation]
    locks: frozenset[tuple[int, str]]  # (oid, mode): the server keeps one per mode held
    lock_timeout: str


@dataclass(frozen=True)
class Lock:
    """What one statement did to one relation that existed before the file."""

    relation: str
    mode: str | None  # pg_locks' name, e.g. AccessExclusiveLock; None: no new lock seen
    rewrite: bool = False
    scan: bool = False
    dropped: bool = False
    #: "pg_locks"; in no-transaction files "autocommit" (gone before they could be read)
    #: or "statement kind"
    source: str = "pg_locks"

    @property
    def level(self) -> str:
        """The mode as the documentation writes it: ACCESS EXCLUSIVE."""
        if self.mode is None:
            return "-"
        words = self.mode.removesuffix("Lock")
        return "".join(f" {c}" if c.isupper() else c for c in words).strip().upper()


@dataclass(frozen=True)
class StatementReport:
    line: int
    column: int
    text: str
    ms: int
    lock_timeout: str  # in effect when the statement started
    locks: list[Lock] = field(default_factory=list)

    @property
    def findings(self) -> list[str]:
        found: set[str] = set()
        for lock in self.locks:
            if lock.rewrite:
                found.add("rewrite")
            if lock.scan:
                found.add("scan")
            if lock.mode in _MODE_FINDING:
                found.update((_MODE_FINDING[lock.mode], "blocking"))
                if _no_timeout(self.lock_timeout):
                    found.add("no-lock-timeout")
        return [f for f in FINDINGS if f in found]

    def as_dict(self) -> dict[str, object]:
        return {
            "line": self.line,
            "column": self.column,
            "statement": self.text,
            "ms": self.ms,
            "lock_timeout": self.lock_timeout,
            "findings": self.findings,
            "locks": [
                {
                    "relation": lock.relation,
                    "mode": lock.mode,
                    "level": lock.level,
                    "rewrite": lock.rewrite,
                    "scan": lock.scan,
                    "dropped": lock.dropped,
                    "source": lock.source,
                }
                for lock in self.locks
            ],
        }


def snapshot(conn: Connection[tuple[object, ...]], loc: LedgerLocation) -> Snapshot:
    """The backend's relation locks, every relation's storage and this transaction's scans
    (sqlmig's own tables beside the ledger at ``loc`` left out)."""
    relations: dict[int, Relation] = {}
    locks: set[tuple[int, str]] = set()
    timeout = "0"
    rows = conn.execute(_snapshot_query(loc), prepare=False)
    for oid, name, schema, table, kind, filenode, scans, mode in rows:
        if oid is None:
            timeout = str(name)
        elif mode is not None:
            locks.add((_int(oid), str(mode)))
        else:
            relations[_int(oid)] = Relation(
                str(name), str(schema), str(table), str(kind), _int(filenode), _int(scans)
            )
    return Snapshot(relations, frozenset(locks), timeout)


def compare(before: Snapshot, after: Snapshot, existing: Snapshot) -> list[Lock]:
    """What the statement between ``before`` and ``after`` did to ``existing``'s relations."""
    out = []
    new = after.locks - before.locks
    for oid, first in existing.relations.items():
        was, now = before.relations.get(oid), after.relations.get(oid)
        if was is None:
            continue  # dropped by an earlier statement
        taken = [m for o, m in new if o == oid and m in _RANK]
        mode = max(taken, key=_RANK.__getitem__) if taken else None
        held = [m for o, m in after.locks if o == oid and m in _RANK]
        strong = any(_RANK[m] >= _BLOCKING for m in held)
        rewrite = now is not None and first.kind in ("r", "m") and now.filenode != was.filenode
        scan = now is not None and now.scans > was.scans and strong and not rewrite
        dropped = now is None
        if mode or rewrite or scan or dropped:
            out.append(Lock(first.name, mode, rewrite, scan, dropped))
    return sorted(out, key=lambda lock: (-_RANK.get(lock.mode or "", -1), lock.relation))


def by_kind(statement: Statement, existing: Snapshot) -> list[Lock]:
    """Locks of the statements that cannot run in a transaction, from the statement's kind
    (they commit before sqlmig can read pg_locks)."""
    from pglast import parser

    try:
        tree = json.loads(parser.parse_sql_json(statement.text))
    except parser.ParseError:
        return []
    stmts: list[dict[str, Any]] = tree.get("stmts") or [{}]
    first: dict[str, dict[str, Any]] = stmts[0].get("stmt") or {"": {}}
    kind, node = next(iter(first.items()))
    if kind == "IndexStmt" and node.get("concurrent"):
        return _named(existing, [node.get("relation", {})], "ShareUpdateExclusiveLock")
    if kind == "ReindexStmt" and any(
        o.get("DefElem", {}).get("defname") == "concurrently" for o in node.get("params", [])
    ):
        return _named(existing, [node.get("relation") or {}], "ShareUpdateExclusiveLock")
    if kind == "VacuumStmt":
        full = any(o.get("DefElem", {}).get("defname") == "full" for o in node.get("options", []))
        relations = [r.get("VacuumRelation", {}).get("relation", {}) for r in node.get("rels", [])]
        mode = "AccessExclusiveLock" if full else "ShareUpdateExclusiveLock"
        return _named(existing, relations, mode)
    return []


def _named(existing: Snapshot, relations: list[dict[str, Any]], mode: str) -> list[Lock]:
    out = []
    for rel in relations:
        if not rel.get("relname"):
            continue
        for old in existing.relations.values():
            if old.table == rel["relname"] and rel.get("schemaname", old.schema) == old.schema:
                out.append(Lock(old.name, mode, source="statement kind"))
    return out


def parse_fail_on(text: str | None) -> frozenset[str]:
    """``--fail-on rewrite,access-exclusive`` -> the findings that fail the check."""
    if not text:
        return frozenset()
    wanted = {word.strip().lower() for word in text.split(",") if word.strip()}
    unknown = sorted(wanted - set(FINDINGS))
    if unknown:
        raise UsageError(
            f"--fail-on: unknown finding(s) {', '.join(unknown)}; choose from "
            + ", ".join(FINDINGS)
            + "."
        )
    return frozenset(wanted)


def _int(value: object) -> int:
    assert isinstance(value, int)  # int8 columns
    return value


def _no_timeout(value: str) -> bool:
    return value.strip() in ("0", "0ms", "0s", "")
