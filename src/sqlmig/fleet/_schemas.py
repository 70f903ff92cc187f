"""Schema-per-tenant targets: one database, one target per schema.

    [[tool.sqlmig.fleet.schemas]]
    dsn = "postgresql://app@db1/tenants"
    name = "tenants"                  (optional: the database's name)
    schemas = ["acme", "globex"]      or  query = "SELECT nspname FROM ... ORDER BY 1"

Each schema ``s`` is a target ``<name>/<s>`` whose ledger is ``s.<table>``
(its own ledger, history and lock key) and whose sessions run with
``search_path`` set to ``s`` alone (libpq ``options``), so a file's unqualified
names land in the tenant's schema. Schema names follow the ledger location's
rules (lower-case letters, digits, ``_ $``), so they need no escaping in
``options``; they are double-quoted there all the same.
"""

from __future__ import annotations

from typing import Any

from sqlmig.core.config import LedgerLocation, Settings
from sqlmig.core.errors import UsageError

KEYS = frozenset({"dsn", "name", "schemas", "query", "password_env"})


def tenant_schemas(
    block: dict[str, Any], dsn: str, spot: str, settings: Settings
) -> list[tuple[LedgerLocation, str]]:
    """(ledger, dsn with search_path) per schema of a ``[[schemas]]`` block on ``dsn``."""
    from psycopg import conninfo

    from sqlmig.core.redact import parse_dsn

    listed, text = block.get("schemas"), block.get("query")
    if (listed is None) == (text is None):
        raise UsageError(f'{spot}: give either schemas = [...] or query = "SELECT ...".')
    if listed is not None:
        if not isinstance(listed, list) or not all(isinstance(s, str) for s in listed):
            raise UsageError(f"{spot}: schemas must be a list of schema names.")
        names: list[object] = list(listed)
    elif not isinstance(text, str) or not text:
        raise UsageError(f"{spot}: query must be a non-empty string.")
    else:
        names = _query(dsn, text, spot, settings)
    options = parse_dsn(dsn).get("options", "")
    found = []
    for schema in names:
        ledger = _ledger(schema, settings, spot)
        path = f'-c search_path="{ledger.schema}"'  # validated: no space, quote or backslash
        found.append((ledger, conninfo.make_conninfo(dsn, options=f"{options} {path}".strip())))
    return found


def _ledger(schema: object, settings: Settings, spot: str) -> LedgerLocation:
    """``schema.<table>`` (the table as ``--table`` names it), checked as ``--table`` is."""
    if not isinstance(schema, str):
        raise UsageError(f"{spot}: schema {schema!r} is not a string.")
    if schema == "public" or "." in schema:
        raise UsageError(f"{spot}: schema {schema!r} cannot be a tenant's schema.")
    return LedgerLocation.parse(f"{schema}.{settings.ledger.table}", f"{spot}: schema")


def _query(dsn: str, text: str, spot: str, settings: Settings) -> list[object]:
    """The schema names the query returns on the database itself, read only."""
    import psycopg

    from sqlmig.core import connections
    from sqlmig.core.redact import redact, secrets_for

    on = Settings(dsn, spot, settings.directory, settings.project_root, embedded=False)
    with connections.connect(on) as conn:
        try:
            with conn.transaction():
                conn.execute("SET TRANSACTION READ ONLY")
                cur = conn.execute(text.encode())
                rows = cur.fetchall() if cur.description else []
        except psycopg.Error as exc:
            reason = redact(str(exc).strip(), secrets_for(dsn))
            raise UsageError(f"{spot}: the query failed: {reason}") from None
    if any(len(row) != 1 for row in rows):
        raise UsageError(f"{spot}: the query must return one column: the schema names.")
    return [row[0] for row in rows]
