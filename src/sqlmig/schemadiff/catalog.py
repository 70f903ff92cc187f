"""One snapshot of a database's schema as plain data: what drift compares.

    snapshot(conn) ─▶ one query per object kind (_tables, _code), across all schemas
                  ─▶ {kind: {qualified name: {attribute: value}}}
                  ─▶ + unsupported kinds by name, + grants (opt-in) (_others)

Everything is read in one REPEATABLE READ, READ ONLY transaction with an empty
``search_path``, so the server qualifies every name it deparses the same way in
both databases. PostgreSQL's own schemas, objects that belong to an extension
(covered by the extension and its version) and sqlmig's own tables (the ledger and
those beside it, wherever ``ledger`` says it lives) are left out.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any

from psycopg.rows import tuple_row

from sqlmig.core.config import DEFAULT_LEDGER, LedgerLocation
from sqlmig.schemadiff import _code, _others, _tables

if TYPE_CHECKING:
    from psycopg import Connection

#: The kinds compared, in the order differences are listed.
KINDS = (
    "schema",
    "extension",
    "enum",
    "domain",
    "domain constraint",
    "type",
    "sequence",
    "table",
    "view",
    "materialized view",
    "column",
    "constraint",
    "index",
    "function",
    "procedure",
    "trigger",
    "policy",
)

_QUERIES = (
    _tables.SCHEMAS,
    _tables.EXTENSIONS,
    _code.TYPES,
    _code.DOMAIN_CONSTRAINTS,
    _tables.RELATIONS,
    _tables.COLUMNS,
    _tables.CONSTRAINTS,
    _tables.INDEXES,
    _code.FUNCTIONS,
    _tables.TRIGGERS,
    _tables.POLICIES,
)

Attributes = dict[str, Any]


@dataclass(frozen=True)
class Snapshot:
    """A database's schema: ``objects[kind][name]`` is that object's attributes."""

    server_major: int
    objects: dict[str, dict[str, Attributes]] = field(default_factory=dict)
    #: (kind, name) of objects present whose kind drift does not compare.
    unsupported: frozenset[tuple[str, str]] = frozenset()
    grants: bool = False

    def get(self, kind: str, name: str) -> Attributes | None:
        return self.objects.get(kind, {}).get(name)

    def count(self) -> int:
        return sum(len(names) for names in self.objects.values())


def snapshot(
    conn: Connection[Any], *, grants: bool = False, ledger: LedgerLocation = DEFAULT_LEDGER
) -> Snapshot:
    """Read the schema of ``conn``'s database (``grants``: also every object's ACL)."""
    params = {
        "ledger_schema": ledger.schema,
        "ledger_tables": list(ledger.relations),
    }
    objects: dict[str, dict[str, Attributes]] = {kind: {} for kind in KINDS}
    with conn.transaction():
        cur = conn.cursor(row_factory=tuple_row)
        cur.execute("SET TRANSACTION ISOLATION LEVEL REPEATABLE READ, READ ONLY")
        cur.execute("SELECT set_config('search_path', '', true)")
        for query in _QUERIES:
            for kind, name, attributes in cur.execute(query, params):
                objects[kind][name] = attributes
        unsupported = frozenset(
            (str(kind), str(name)) for kind, name in cur.execute(_others.UNSUPPORTED, params)
        )
        if grants:
            for kind, name, privileges in cur.execute(_others.GRANTS, params):
                if name in objects[kind]:
                    objects[kind][name]["grants"] = list(privileges)
    return Snapshot(conn.info.server_version // 10000, objects, unsupported, grants)
