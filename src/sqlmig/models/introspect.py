"""The live catalog -> :class:`~sqlmig.models.schema.Schema`, in four queries.

All catalog SQL lives here. The number of queries does not depend on the
number of tables: relations, columns, types (with enum labels, following
domains and array elements), constraints. Partitions are folded into their
partitioned parent; sqlmig's own tables (the ledger and those beside it, wherever
``ledger`` says it lives) are left out.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

from psycopg.rows import tuple_row

from sqlmig.core.config import DEFAULT_LEDGER, LedgerLocation
from sqlmig.models.schema import (
    Check,
    Column,
    ColumnType,
    CompositeType,
    EnumType,
    ForeignKey,
    Schema,
    Table,
)

if TYPE_CHECKING:
    from psycopg import Connection

_KINDS = {
    "r": "table",
    "p": "partitioned table",
    "v": "view",
    "m": "materialized view",
    "f": "foreign table",
}

_RELATIONS = """
SELECT c.oid, n.nspname, c.relname, c.relkind, obj_description(c.oid, 'pg_class')
FROM pg_class c
JOIN pg_namespace n ON n.oid = c.relnamespace
WHERE n.nspname = ANY(%(schemas)s)
  AND c.relkind = ANY(%(kinds)s)
  AND NOT c.relispartition
  AND NOT (n.nspname = %(ledger_schema)s AND c.relname = ANY(%(ledger_tables)s))
ORDER BY n.nspname, c.relname
"""

_COLUMNS = """
SELECT a.attrelid, a.attname, a.atttypid, a.atttypmod, a.attndims, a.attnotnull,
       a.attidentity, a.attgenerated, pg_get_expr(d.adbin, d.adrelid),
       col_description(a.attrelid, a.attnum), format_type(a.atttypid, a.atttypmod)
FROM pg_attribute a
LEFT JOIN pg_attrdef d ON d.adrelid = a.attrelid AND d.adnum = a.attnum
WHERE a.attrelid = ANY(%(oids)s) AND a.attnum > 0 AND NOT a.attisdropped
ORDER BY a.attrelid, a.attnum
"""

# Types used by the columns, plus every enum and composite type of the chosen
# schemas, following array elements, domain base types and the attributes of
# standalone composite types (relkind 'c'; a table's row type stays opaque).
_TYPES = """
WITH RECURSIVE wanted(oid) AS (
    SELECT unnest(%(type_oids)s::oid[])
    UNION
    SELECT t.oid FROM pg_type t JOIN pg_namespace n ON n.oid = t.typnamespace
    LEFT JOIN pg_class c ON c.oid = t.typrelid
    WHERE (t.typtype = 'e' OR (t.typtype = 'c' AND c.relkind = 'c'))
      AND n.nspname = ANY(%(schemas)s)
    UNION
    SELECT next.oid
    FROM wanted w
    JOIN pg_type t ON t.oid = w.oid
    CROSS JOIN LATERAL (
        SELECT CASE WHEN t.typcategory = 'A' THEN t.typelem END
        UNION ALL SELECT NULLIF(t.typbasetype, 0)
        UNION ALL SELECT a.atttypid FROM pg_attribute a JOIN pg_class c ON c.oid = a.attrelid
        WHERE a.attrelid = t.typrelid AND c.relkind = 'c' AND a.attnum > 0 AND NOT a.attisdropped
    ) AS next(oid)
    WHERE next.oid IS NOT NULL
)
SELECT t.oid, n.nspname, t.typname, t.typtype, t.typcategory, t.typelem, t.typbasetype,
       t.typtypmod, t.typnotnull, t.typndims, obj_description(t.oid, 'pg_type'),
       CASE WHEN t.typtype = 'e' THEN ARRAY(
           SELECT e.enumlabel FROM pg_enum e WHERE e.enumtypid = t.oid ORDER BY e.enumsortorder
       ) END,
       (SELECT json_agg(json_build_array(a.attname, a.atttypid::int8, a.atttypmod, a.attndims,
                                         format_type(a.atttypid, a.atttypmod),
                                         col_description(a.attrelid, a.attnum))
                        ORDER BY a.attnum)
        FROM pg_attribute a JOIN pg_class c ON c.oid = a.attrelid
        WHERE a.attrelid = t.typrelid AND c.relkind = 'c' AND a.attnum > 0
          AND NOT a.attisdropped)
FROM pg_type t
JOIN pg_namespace n ON n.oid = t.typnamespace
WHERE t.oid IN (SELECT oid FROM wanted)
"""

_CONSTRAINTS = """
SELECT con.conrelid, con.conname, con.contype,
       ARRAY(SELECT a.attname FROM unnest(con.conkey) WITH ORDINALITY AS k(num, i)
             JOIN pg_attribute a ON a.attrelid = con.conrelid AND a.attnum = k.num
             ORDER BY k.i),
       fn.nspname, fc.relname,
       ARRAY(SELECT a.attname FROM unnest(con.confkey) WITH ORDINALITY AS k(num, i)
             JOIN pg_attribute a ON a.attrelid = con.confrelid AND a.attnum = k.num
             ORDER BY k.i),
       pg_get_constraintdef(con.oid)
FROM pg_constraint con
LEFT JOIN pg_class fc ON fc.oid = con.confrelid
LEFT JOIN pg_namespace fn ON fn.oid = fc.relnamespace
WHERE con.conrelid = ANY(%(oids)s) AND con.contype IN ('p', 'u', 'f', 'c')
ORDER BY con.conrelid, con.conname
"""


_SCHEMAS = """
SELECT nspname FROM pg_namespace
WHERE nspname NOT IN ('pg_catalog', 'information_schema', 'pg_toast')
  AND nspname !~ '^pg_(temp|toast_temp)_'
ORDER BY nspname
"""


def schema_names(conn: Connection[Any]) -> list[str]:
    """The database's schemas, without PostgreSQL's own (pg_catalog, temp schemas...)."""
    return [row[0] for row in conn.cursor(row_factory=tuple_row).execute(_SCHEMAS)]


@dataclass(frozen=True)
class _Type:
    schema: str
    name: str
    typtype: str
    category: str
    elem: int
    base: int
    typmod: int
    notnull: bool
    ndims: int
    comment: str | None
    labels: list[str] | None
    # standalone composites: [name, type oid, typmod, ndims, format_type, comment] per attribute
    attributes: list[list[Any]] | None


def introspect(
    conn: Connection[Any],
    schemas: Sequence[str] = ("public",),
    *,
    tables: Sequence[str] | None = None,
    views: bool = False,
    ledger: LedgerLocation = DEFAULT_LEDGER,
) -> Schema:
    """Read the chosen schemas (optionally only ``tables``) into a Schema, without
    sqlmig's own tables beside ``ledger``."""
    kinds = ["r", "p", "f"] + (["v", "m"] if views else [])
    params: dict[str, Any] = {
        "schemas": list(schemas),
        "kinds": kinds,
        "ledger_schema": ledger.schema,
        "ledger_tables": list(ledger.relations),
    }
    # Pin tuple rows: the caller's connection may use another row factory.
    cur = conn.cursor(row_factory=tuple_row)
    relations = cur.execute(_RELATIONS, params).fetchall()
    if tables is not None:
        wanted = set(tables)
        relations = [r for r in relations if r[2] in wanted or f"{r[1]}.{r[2]}" in wanted]
    oids = [r[0] for r in relations]
    columns = cur.execute(_COLUMNS, {"oids": oids}).fetchall()
    type_oids = sorted({c[2] for c in columns})
    types = {
        row[0]: _Type(*row[1:])
        for row in cur.execute(_TYPES, {"type_oids": type_oids, "schemas": list(schemas)})
    }
    constraints = cur.execute(_CONSTRAINTS, {"oids": oids}).fetchall()

    by_rel: dict[int, list[Column]] = {oid: [] for oid in oids}
    for (
        relid,
        name,
        typid,
        typmod,
        ndims,
        notnull,
        identity,
        generated,
        default,
        comment,
        sql,
    ) in columns:
        column_type, domain_notnull = _resolve(types, typid, typmod, ndims, sql)
        by_rel[relid].append(
            Column(
                name=name,
                type=column_type,
                nullable=not (notnull or domain_notnull),
                default=None if generated else default,
                identity={"a": "always", "d": "by default"}.get(identity),  # type: ignore[arg-type]
                generated=bool(generated),
                comment=comment,
            )
        )
    keys: dict[int, dict[str, Any]] = {
        oid: {"pk": (), "unique": [], "fks": [], "checks": []} for oid in oids
    }
    for relid, name, contype, cols, ref_schema, ref_table, ref_cols, definition in constraints:
        slot = keys[relid]
        if contype == "p":
            slot["pk"] = tuple(cols)
        elif contype == "u":
            slot["unique"].append(tuple(cols))
        elif contype == "f":
            slot["fks"].append(
                ForeignKey(
                    name=name,
                    columns=tuple(cols),
                    ref_schema=ref_schema,
                    ref_table=ref_table,
                    ref_columns=tuple(ref_cols),
                )
            )
        else:
            slot["checks"].append(Check(name=name, definition=definition))

    enums = sorted(
        (
            EnumType(
                schema_name=t.schema, name=t.name, values=tuple(t.labels or ()), comment=t.comment
            )
            for t in types.values()
            if t.typtype == "e"
        ),
        key=lambda e: (e.schema_name, e.name),
    )
    return Schema(
        schemas=tuple(schemas),
        enums=tuple(enums),
        composites=_composites(types),
        tables=tuple(
            Table(
                schema_name=schema,
                name=name,
                kind=_KINDS[kind],  # type: ignore[arg-type]
                comment=comment,
                columns=tuple(by_rel[oid]),
                primary_key=keys[oid]["pk"],
                unique=tuple(keys[oid]["unique"]),
                foreign_keys=tuple(keys[oid]["fks"]),
                checks=tuple(keys[oid]["checks"]),
            )
            for oid, schema, name, kind, comment in relations
        ),
    )


def _composites(types: dict[int, _Type]) -> tuple[CompositeType, ...]:
    """Standalone composite types, each after the composites its attributes use."""
    found: dict[int, CompositeType] = {}
    uses: dict[int, set[int]] = {}
    oid_of = {f"{t.schema}.{t.name}": oid for oid, t in types.items()}
    for oid, t in types.items():
        if t.attributes is None:
            continue
        attributes = []
        for name, typid, typmod, ndims, sql, comment in t.attributes:
            column_type, _ = _resolve(types, typid, typmod, ndims, sql)
            attributes.append(Column(name=name, type=column_type, nullable=True, comment=comment))
        found[oid] = CompositeType(
            schema_name=t.schema, name=t.name, attributes=tuple(attributes), comment=t.comment
        )
        uses[oid] = {oid_of[a.type.name] for a in attributes if a.type.kind == "composite"}
    ordered: list[CompositeType] = []
    done: set[int] = set()

    def visit(oid: int) -> None:  # PostgreSQL forbids cycles among composite types
        if oid in done:
            return
        done.add(oid)
        for dependency in sorted(uses[oid], key=lambda o: found[o].qualified):
            visit(dependency)
        ordered.append(found[oid])

    for oid in sorted(found, key=lambda o: found[o].qualified):
        visit(oid)
    return tuple(ordered)


def _resolve(
    types: dict[int, _Type], typid: int, typmod: int, ndims: int, sql: str
) -> tuple[ColumnType, bool]:
    """Follow arrays and domains down to a base or enum type."""
    t = types[typid]
    dims, domain, notnull = 0, None, False
    element_domain: tuple[str, str] | None = None
    if t.category == "A" and t.elem:
        dims, t = max(ndims, 1), types[t.elem]
        if t.typtype == "d":
            element_domain = (t.schema, t.name)
    while t.typtype == "d":
        domain = domain or f"{t.schema}.{t.name}"
        notnull = notnull or t.notnull
        if typmod == -1:
            typmod = t.typmod
        base = types[t.base]
        if base.category == "A" and base.elem:
            dims, base = max(t.ndims, 1), types[base.elem]
        t = base
    if t.typtype == "e":
        kind = "enum"
    elif t.typtype == "b":
        kind = "base"
    elif t.typtype == "c" and t.attributes is not None:
        kind = "composite"
    else:
        kind = "other"
    length = precision = scale = None
    if typmod >= 0:
        if t.name in ("varchar", "bpchar"):
            length = typmod - 4
        elif t.name in ("bit", "varbit"):
            length = typmod
        elif t.name == "numeric":
            precision = ((typmod - 4) >> 16) & 0xFFFF
            scale = (((typmod - 4) & 0x7FF) ^ 1024) - 1024  # signed since PostgreSQL 15
    name = f"{t.schema}.{t.name}" if kind in ("enum", "composite") else t.name
    return (
        ColumnType(
            kind=kind,  # type: ignore[arg-type]
            name=name,
            sql=sql,
            array_dims=dims,
            length=length,
            precision=precision,
            scale=scale,
            domain=domain,
            element_domain=(*element_domain, t.schema, t.name) if element_domain else None,
        ),
        notnull,
    )
