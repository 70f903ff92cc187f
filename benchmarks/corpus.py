"""Generate a deterministic corpus of realistic PostgreSQL migration files.

    python benchmarks/corpus.py --n 1000 --out DIR [--seed 20240601]

Writes ``0001-<name>.sql`` ... ``NNNN-<name>.sql`` into DIR (created; existing
``*.sql`` files in it are removed first). The mix is modelled on a real
application's schema history:

* ``CREATE TYPE ... AS ENUM`` for status columns (later ``ALTER TYPE ... ADD VALUE``);
* ``CREATE TABLE`` with a uuid primary key ``DEFAULT gen_random_uuid()``,
  ``timestamptz`` audit columns, ``numeric(10,2)``, ``jsonb``, ``text`` with
  ``CHECK`` constraints, and foreign keys to earlier tables;
* ``CREATE INDEX`` and partial ``UNIQUE`` indexes (``WHERE status IN (...)``);
* a shared plpgsql ``set_updated_at()`` trigger function and one
  ``CREATE TRIGGER`` per table, plus occasional table-specific trigger functions;
* ``COMMENT ON TABLE/COLUMN/VIEW``;
* seed ``INSERT``s (a few to a few dozen rows) and backfill ``UPDATE``s;
* ``ALTER TABLE ... ADD COLUMN`` / ``ADD CONSTRAINT`` / ``SET NOT NULL`` on earlier tables;
* occasional ``CREATE VIEW`` and many-to-many link tables.

Every file has several statements (typically 5-20), no transaction control,
no psql meta-commands, no ``CREATE INDEX CONCURRENTLY``, and uses no
extension (``gen_random_uuid()`` is core since PostgreSQL 13). The files apply
cleanly, in order, each in its own transaction, on PostgreSQL 18. The same
``--n`` and ``--seed`` always produce byte-identical files.
"""

from __future__ import annotations

import argparse
import random
from dataclasses import dataclass, field
from pathlib import Path

DEFAULT_SEED = 20240601

# Domain vocabulary: first the core tables of a typical SaaS/e-commerce app,
# then compositions of these words for the long tail.
CORE_TABLES = [
    "organizations",
    "users",
    "teams",
    "projects",
    "customers",
    "products",
    "categories",
    "orders",
    "order_items",
    "invoices",
    "payments",
    "shipments",
    "warehouses",
    "suppliers",
    "subscriptions",
    "plans",
    "coupons",
    "reviews",
    "tickets",
    "messages",
    "notifications",
    "addresses",
    "api_keys",
    "webhooks",
]
PREFIXES = [
    "billing",
    "catalog",
    "inventory",
    "support",
    "marketing",
    "shipping",
    "audit",
    "partner",
    "tax",
    "pricing",
    "loyalty",
    "report",
    "crm",
    "hr",
    "payroll",
    "fleet",
    "booking",
    "content",
    "search",
    "risk",
    "compliance",
    "vendor",
    "store",
    "campaign",
    "forecast",
    "quality",
    "contract",
    "asset",
    "event",
    "survey",
]
NOUNS = [
    "accounts",
    "entries",
    "rules",
    "profiles",
    "settings",
    "batches",
    "records",
    "snapshots",
    "templates",
    "periods",
    "regions",
    "rates",
    "limits",
    "documents",
    "requests",
    "approvals",
    "schedules",
    "tags",
    "groups",
    "channels",
    "segments",
    "jobs",
    "runs",
    "attachments",
    "links",
    "notes",
    "targets",
    "items",
    "events",
    "locations",
    "credits",
    "adjustments",
    "allocations",
    "versions",
    "sources",
]
STATUS_SETS = [
    ["draft", "active", "archived"],
    ["pending", "active", "suspended", "closed"],
    ["new", "open", "in_progress", "resolved", "closed"],
    ["pending", "paid", "refunded", "void"],
    ["queued", "running", "succeeded", "failed"],
    ["requested", "approved", "rejected"],
]
EXTRA_STATUS = ["on_hold", "expired", "cancelled", "escalated", "disputed", "retired"]
WORDS = [
    "alpha",
    "bravo",
    "cedar",
    "delta",
    "ember",
    "falcon",
    "garnet",
    "harbor",
    "indigo",
    "juniper",
    "kestrel",
    "lumen",
    "maple",
    "nimbus",
    "onyx",
    "pioneer",
    "quartz",
    "raven",
    "sierra",
    "tundra",
    "umber",
    "violet",
    "willow",
    "zephyr",
]
ADDED_COLUMN_NAMES = [
    "external_ref",
    "notes",
    "priority",
    "is_archived",
    "archived_at",
    "settings",
    "discount",
    "locale",
    "timezone",
    "source",
    "score",
    "retries",
    "verified_at",
    "deleted_at",
    "sort_order",
    "label",
    "color",
    "weight",
    "tax_rate",
    "region_code",
    "approved_at",
    "owner_email",
    "public_note",
    "flags",
    "revision",
    "deadline",
]


@dataclass
class Column:
    name: str
    kind: str  # how to produce a value for it in seeds (see _value)
    ddl: str
    required: bool = False  # must appear in INSERTs (NOT NULL without default)
    ref: str | None = None  # referenced table for kind == "fk"


@dataclass
class Table:
    name: str
    abbr: str
    columns: list[Column]
    enum: str | None = None
    rows: int = 0
    link: tuple[str, str] | None = None  # many-to-many link table: (left, right)
    views: int = 0
    has_code: bool = True

    def col(self, name: str) -> Column | None:
        return next((c for c in self.columns if c.name == name), None)


@dataclass
class Schema:
    rng: random.Random
    tables: list[Table] = field(default_factory=list)
    enums: dict[str, list[str]] = field(default_factory=dict)
    names: set[str] = field(default_factory=set)  # every relation/type/function name used
    index_count: int = 0

    def entities(self) -> list[Table]:
        return [t for t in self.tables if t.link is None]

    def fresh(self, base: str) -> str:
        name, n = base, 2
        while name in self.names:
            name, n = f"{base}_{n}", n + 1
        self.names.add(name)
        return name


def _q(text: str) -> str:
    return "'" + text.replace("'", "''") + "'"


def _ts(rng: random.Random) -> str:
    return (
        f"'2024-{rng.randint(1, 12):02d}-{rng.randint(1, 28):02d} "
        f"{rng.randint(0, 23):02d}:{rng.randint(0, 59):02d}:00+00'"
    )


# --------------------------------------------------------------------- tables


def _singular(name: str) -> str:
    if name.endswith("ies"):
        return name[:-3] + "y"
    if name.endswith(("sses", "ches", "shes", "xes")):
        return name[:-2]
    return name.removesuffix("s")


def _short(name: str, limit: int = 54) -> str:
    """Keep identifiers well under PostgreSQL's 63 bytes (fresh() may add _N)."""
    return name[:limit].rstrip("_")


def _abbr(name: str) -> str:
    parts = name.split("_")
    return "".join(p[:3] for p in parts).upper()[:9]


def _next_table_name(schema: Schema) -> str:
    rng = schema.rng
    for core in CORE_TABLES:
        if core not in schema.names:
            schema.names.add(core)
            return core
    return schema.fresh(f"{rng.choice(PREFIXES)}_{rng.choice(NOUNS)}")


def _create_table(schema: Schema, version: int) -> tuple[str, list[str]]:
    rng = schema.rng
    name = _next_table_name(schema)
    abbr = _abbr(name) + str(version)
    statements: list[str] = []
    cols: list[Column] = [
        Column("id", "default", "id uuid PRIMARY KEY DEFAULT gen_random_uuid()"),
    ]
    parents = rng.sample(
        schema.entities(), k=min(len(schema.entities()), rng.choice([0, 1, 1, 2, 2, 3]))
    )
    for parent in parents:
        fk = f"{_singular(parent.name)}_id"
        if any(c.name == fk for c in cols):
            continue
        not_null = rng.random() < 0.6
        on_delete = "CASCADE" if not_null else rng.choice(["SET NULL", "RESTRICT"])
        if on_delete == "SET NULL":
            not_null = False
        ddl = f"{fk} uuid {'NOT NULL ' if not_null else ''}REFERENCES {parent.name} (id) ON DELETE {on_delete}"
        cols.append(Column(fk, "fk", ddl, required=not_null, ref=parent.name))
    cols.append(
        Column(
            "code",
            "code",
            "code text NOT NULL CHECK (code ~ '^[A-Z0-9_-]{2,40}$')",
            required=True,
        )
    )
    cols.append(
        Column(
            "name",
            "name",
            "name text NOT NULL CHECK (char_length(name) BETWEEN 1 AND 200)",
            required=True,
        )
    )
    enum = None
    if rng.random() < 0.75:
        enum = schema.fresh(f"{_singular(name)}_status")
        values = rng.choice(STATUS_SETS)
        schema.enums[enum] = list(values)
        statements.append(f"CREATE TYPE {enum} AS ENUM ({', '.join(_q(v) for v in values)});")
        cols.append(Column("status", "status", f"status {enum} NOT NULL DEFAULT {_q(values[0])}"))
    optional = [
        Column(
            "description",
            "text",
            "description text CHECK (description IS NULL OR char_length(description) <= 2000)",
        ),
        Column("email", "email", "email text CHECK (email IS NULL OR email LIKE '%_@_%')"),
        Column("amount", "money", "amount numeric(10,2) NOT NULL DEFAULT 0 CHECK (amount >= 0)"),
        Column(
            "currency",
            "currency",
            "currency text NOT NULL DEFAULT 'EUR' CHECK (currency ~ '^[A-Z]{3}$')",
        ),
        Column("quantity", "int", "quantity integer NOT NULL DEFAULT 1 CHECK (quantity > 0)"),
        Column("metadata", "json", "metadata jsonb NOT NULL DEFAULT '{}'::jsonb"),
        Column("is_active", "bool", "is_active boolean NOT NULL DEFAULT true"),
        Column("starts_at", "ts", "starts_at timestamptz"),
        Column("position", "int", "position integer NOT NULL DEFAULT 0"),
        Column(
            "unit_price",
            "money",
            "unit_price numeric(10,2) CHECK (unit_price IS NULL OR unit_price >= 0)",
        ),
    ]
    cols.extend(rng.sample(optional, k=rng.randint(2, 6)))
    cols.append(Column("created_at", "default", "created_at timestamptz NOT NULL DEFAULT now()"))
    cols.append(Column("updated_at", "default", "updated_at timestamptz NOT NULL DEFAULT now()"))
    table = Table(name, abbr, cols, enum=enum)
    schema.tables.append(table)

    lines = [f"    {c.ddl}" for c in cols]
    if table.col("starts_at") and rng.random() < 0.7:
        # ends_at + a table-level check, as real schemas do for periods
        c = Column("ends_at", "default", "ends_at timestamptz")
        cols.insert(-2, c)
        lines.insert(-2, f"    {c.ddl}")
        lines.append(
            f"    CONSTRAINT {name}_period_check CHECK (ends_at IS NULL OR ends_at > starts_at)"
        )
    statements.append(f"CREATE TABLE {name} (\n" + ",\n".join(lines) + "\n);")

    for c in cols:
        if c.kind == "fk":
            statements.append(_index(schema, name, [c.name]))
    if enum:
        active = [
            v
            for v in schema.enums[enum]
            if v not in ("archived", "closed", "void", "rejected", "failed")
        ]
        keep = active[: rng.randint(1, len(active))]
        statements.append(
            _index(
                schema,
                name,
                ["code"],
                unique=True,
                where=f"status IN ({', '.join(_q(v) for v in keep)})",
            )
        )
        if rng.random() < 0.5:
            statements.append(_index(schema, name, ["status", "created_at DESC"]))
    else:
        statements.append(_index(schema, name, ["code"], unique=True))
    if table.col("email") and rng.random() < 0.5:
        statements.append(_index(schema, name, ["lower(email)"], where="email IS NOT NULL"))
    if rng.random() < 0.4:
        statements.append(_index(schema, name, ["created_at"]))
    statements.append(
        f"CREATE TRIGGER {name}_set_updated_at\n"
        f"    BEFORE UPDATE ON {name}\n"
        f"    FOR EACH ROW EXECUTE FUNCTION set_updated_at();"
    )
    statements.append(f"COMMENT ON TABLE {name} IS {_q(_sentence(rng, name))};")
    for c in rng.sample(cols[1:-2], k=min(len(cols) - 3, rng.randint(1, 3))):
        statements.append(f"COMMENT ON COLUMN {name}.{c.name} IS {_q(_column_comment(rng, c))};")
    statements.extend(_seed(schema, table, rng.randint(3, 30)))
    return f"create-{name.replace('_', '-')}", statements


def _link_table(schema: Schema, version: int) -> tuple[str, list[str]]:
    rng = schema.rng
    left, right = rng.sample(schema.entities(), k=2)
    name = schema.fresh(_short(f"{_singular(left.name)}_{right.name}", 40))
    lcol, rcol = f"{_singular(left.name)}_id", f"{_singular(right.name)}_id"
    if lcol == rcol:
        rcol = "other_" + rcol
    cols = [
        Column(
            lcol,
            "fk",
            f"{lcol} uuid NOT NULL REFERENCES {left.name} (id) ON DELETE CASCADE",
            True,
            left.name,
        ),
        Column(
            rcol,
            "fk",
            f"{rcol} uuid NOT NULL REFERENCES {right.name} (id) ON DELETE CASCADE",
            True,
            right.name,
        ),
        Column(
            "role",
            "role",
            "role text NOT NULL DEFAULT 'member' CHECK (role IN ('owner', 'member', 'viewer'))",
        ),
        Column("created_at", "default", "created_at timestamptz NOT NULL DEFAULT now()"),
        Column("updated_at", "default", "updated_at timestamptz NOT NULL DEFAULT now()"),
    ]
    table = Table(
        name, _abbr(name) + str(version), cols, link=(left.name, right.name), has_code=False
    )
    schema.tables.append(table)
    body = ",\n".join(f"    {c.ddl}" for c in cols)
    statements = [
        f"CREATE TABLE {name} (\n{body},\n    PRIMARY KEY ({lcol}, {rcol})\n);",
        _index(schema, name, [rcol]),
        f"CREATE TRIGGER {name}_set_updated_at\n    BEFORE UPDATE ON {name}\n"
        "    FOR EACH ROW EXECUTE FUNCTION set_updated_at();",
        f"COMMENT ON TABLE {name} IS {_q(f'Links {left.name} to {right.name} (many-to-many).')};",
        f"COMMENT ON COLUMN {name}.role IS 'What the link grants: owner, member or viewer.';",
    ]
    pairs = min(left.rows * right.rows, rng.randint(4, 24))
    values = []
    for i in range(pairs):
        li, ri = i % left.rows, (i // left.rows) % right.rows
        values.append(
            f"    ((SELECT id FROM {left.name} ORDER BY code LIMIT 1 OFFSET {li}),"
            f" (SELECT id FROM {right.name} ORDER BY code LIMIT 1 OFFSET {ri}),"
            f" {_q(rng.choice(['owner', 'member', 'member', 'viewer']))})"
        )
    if values:
        statements.append(
            f"INSERT INTO {name} ({lcol}, {rcol}, role) VALUES\n" + ",\n".join(values) + ";"
        )
    table.rows = pairs
    return f"create-{name.replace('_', '-')}", statements


def _index(
    schema: Schema, table: str, cols: list[str], *, unique: bool = False, where: str | None = None
) -> str:
    schema.index_count += 1
    suffix = "_".join(c.split()[0].replace("(", "_").replace(")", "") for c in cols)
    name = f"{table}_{suffix}_{'key' if unique else 'idx'}"[:50] + f"_{schema.index_count}"
    head = f"CREATE {'UNIQUE ' if unique else ''}INDEX {name} ON {table} ({', '.join(cols)})"
    return head + (f"\n    WHERE {where};" if where else ";")


# ---------------------------------------------------------------------- seeds


def _value(schema: Schema, table: Table, c: Column, i: int) -> str:
    rng = schema.rng
    if c.kind == "fk":
        parent = next(t for t in schema.tables if t.name == c.ref)
        return f"(SELECT id FROM {parent.name} ORDER BY code LIMIT 1 OFFSET {rng.randrange(parent.rows)})"
    if c.kind == "code":
        return _q(f"{table.abbr}-{i:05d}")
    if c.kind == "name":
        return _q(f"{rng.choice(WORDS).title()} {rng.choice(WORDS)} {i}")
    if c.kind == "status":
        assert table.enum
        return _q(rng.choice(schema.enums[table.enum]))
    if c.kind == "text":
        return _q(f"{rng.choice(WORDS)} {rng.choice(WORDS)}, it's #{i}")
    if c.kind == "email":
        return _q(f"{rng.choice(WORDS)}.{i}@{table.abbr.lower()}.example.com")
    if c.kind == "money":
        return f"{rng.randint(0, 99999)}.{rng.randint(0, 99):02d}"
    if c.kind == "currency":
        return _q(rng.choice(["EUR", "USD", "GBP", "CHF"]))
    if c.kind == "int":
        return str(rng.randint(1, 500))
    if c.kind == "json":
        return _q(f'{{"source": "seed", "rank": {i}, "tags": ["{rng.choice(WORDS)}"]}}') + "::jsonb"
    if c.kind == "bool":
        return rng.choice(["true", "false"])
    if c.kind == "ts":
        return _ts(rng)
    if c.kind == "role":
        return _q(rng.choice(["owner", "member", "viewer"]))
    raise AssertionError(c.kind)


def _seed(schema: Schema, table: Table, count: int) -> list[str]:
    rng = schema.rng
    cols = [c for c in table.columns if c.kind != "default" and (c.required or rng.random() < 0.7)]
    out: list[str] = []
    remaining = count
    while remaining > 0:
        batch = min(remaining, rng.randint(3, 15))
        rows = []
        for _ in range(batch):
            values = ", ".join(_value(schema, table, c, table.rows) for c in cols)
            rows.append(f"    ({values})")
            table.rows += 1
        out.append(
            f"INSERT INTO {table.name} ({', '.join(c.name for c in cols)}) VALUES\n"
            + ",\n".join(rows)
            + ";"
        )
        remaining -= batch
    return out


def _seed_migration(schema: Schema, version: int) -> tuple[str, list[str]]:
    rng = schema.rng
    targets = rng.sample(schema.entities(), k=min(len(schema.entities()), rng.randint(2, 4)))
    statements: list[str] = []
    for t in targets:
        statements.extend(_seed(schema, t, rng.randint(3, 36)))
        statements.append(f"ANALYZE {t.name};")
        if t.col("is_active") and rng.random() < 0.5:
            statements.append(
                f"UPDATE {t.name} SET is_active = false WHERE code LIKE {_q(t.abbr + '-%3')};"
            )
    statements.append(
        f"COMMENT ON TABLE {targets[0].name} IS {_q(_sentence(rng, targets[0].name) + ' Seeded in ' + str(version) + '.')};"
    )
    return f"seed-{targets[0].name.replace('_', '-')}", statements


# -------------------------------------------------------------- alterations


def _add_columns(schema: Schema, version: int) -> tuple[str, list[str]]:
    rng = schema.rng
    statements: list[str] = []
    targets = rng.sample(schema.entities(), k=min(len(schema.entities()), rng.randint(1, 3)))
    first = None
    for t in targets:
        for _ in range(rng.randint(1, 3)):
            base = rng.choice(ADDED_COLUMN_NAMES)
            name, n = base, 2
            while t.col(name):
                name, n = f"{base}_{n}", n + 1
            first = first or (t, name)
            kind = rng.choice(["text", "int", "bool", "json", "ts", "money", "fk", "enum"])
            if kind == "text":
                c = Column(
                    name,
                    "text",
                    f"{name} text CHECK ({name} IS NULL OR char_length({name}) <= 500)",
                )
                statements.append(f"ALTER TABLE {t.name} ADD COLUMN {c.ddl};")
                statements.append(
                    f"UPDATE {t.name} SET {name} = 'backfilled ' || code WHERE {name} IS NULL;"
                )
            elif kind == "int":
                c = Column(name, "int", f"{name} integer NOT NULL DEFAULT 0")
                statements.append(f"ALTER TABLE {t.name} ADD COLUMN {c.ddl};")
                statements.append(
                    f"ALTER TABLE {t.name} ADD CONSTRAINT {_short(f'{t.name}_{name}_check_{version}')} CHECK ({name} >= 0);"
                )
            elif kind == "bool":
                c = Column(name, "bool", f"{name} boolean NOT NULL DEFAULT false")
                statements.append(f"ALTER TABLE {t.name} ADD COLUMN {c.ddl};")
            elif kind == "json":
                c = Column(name, "json", f"{name} jsonb NOT NULL DEFAULT '{{}}'::jsonb")
                statements.append(f"ALTER TABLE {t.name} ADD COLUMN {c.ddl};")
            elif kind == "ts":
                c = Column(name, "ts", f"{name} timestamptz")
                statements.append(f"ALTER TABLE {t.name} ADD COLUMN {c.ddl};")
                statements.append(f"UPDATE {t.name} SET {name} = created_at WHERE {name} IS NULL;")
                statements.append(f"ALTER TABLE {t.name} ALTER COLUMN {name} SET NOT NULL;")
                statements.append(f"ALTER TABLE {t.name} ALTER COLUMN {name} SET DEFAULT now();")
                c.ddl = f"{name} timestamptz NOT NULL DEFAULT now()"
            elif kind == "money":
                c = Column(
                    name, "money", f"{name} numeric(10,2) NOT NULL DEFAULT 0 CHECK ({name} >= 0)"
                )
                statements.append(f"ALTER TABLE {t.name} ADD COLUMN {c.ddl};")
            elif kind == "fk":
                others = [o for o in schema.entities() if o is not t and o.rows]
                ref = rng.choice(others)
                base = f"{_singular(ref.name)}_ref"
                name, n = base, 2
                while t.col(name):
                    name, n = f"{base}_{n}", n + 1
                c = Column(
                    name,
                    "fk",
                    f"{name} uuid REFERENCES {ref.name} (id) ON DELETE SET NULL",
                    ref=ref.name,
                )
                statements.append(f"ALTER TABLE {t.name} ADD COLUMN {c.ddl};")
                statements.append(_index(schema, t.name, [name], where=f"{name} IS NOT NULL"))
            else:  # a new enum-typed column
                enum = schema.fresh(f"{_singular(t.name)}_{name}_kind")
                values = rng.sample(WORDS, k=rng.randint(3, 5))
                schema.enums[enum] = values
                statements.append(
                    f"CREATE TYPE {enum} AS ENUM ({', '.join(_q(v) for v in values)});"
                )
                c = Column(name, "default", f"{name} {enum} NOT NULL DEFAULT {_q(values[0])}")
                statements.append(f"ALTER TABLE {t.name} ADD COLUMN {c.ddl};")
            t.columns.insert(-2, c)
            if rng.random() < 0.5:
                statements.append(
                    f"COMMENT ON COLUMN {t.name}.{c.name} IS {_q(_column_comment(rng, c))};"
                )
        if rng.random() < 0.3:
            statements.append(_index(schema, t.name, [t.columns[-3].name]))
    while len(statements) < 5:
        t = rng.choice(targets)
        statements.append(f"COMMENT ON TABLE {t.name} IS {_q(_sentence(rng, t.name))};")
    assert first is not None
    return f"add-{first[1].replace('_', '-')}-to-{first[0].name.replace('_', '-')}", statements


def _indexes(schema: Schema, version: int) -> tuple[str, list[str]]:
    rng = schema.rng
    statements: list[str] = []
    targets = rng.sample(schema.entities(), k=min(len(schema.entities()), rng.randint(2, 5)))
    for t in targets:
        cols = [
            c for c in t.columns if c.kind in ("int", "ts", "money", "bool", "fk", "status", "name")
        ]
        if not cols:
            cols = [t.columns[-1]]
        picked = rng.sample(cols, k=min(len(cols), rng.randint(1, 2)))
        if t.enum and rng.random() < 0.6:
            values = schema.enums[t.enum]
            keep = rng.sample(values, k=rng.randint(1, len(values)))
            statements.append(
                _index(
                    schema,
                    t.name,
                    [c.name for c in picked],
                    where=f"status IN ({', '.join(_q(v) for v in keep)})",
                )
            )
            if rng.random() < 0.5:
                statements.append(
                    _index(
                        schema,
                        t.name,
                        ["lower(name)", "code"],
                        unique=True,
                        where=f"status IN ({', '.join(_q(v) for v in keep)})",
                    )
                )
        else:
            statements.append(_index(schema, t.name, [c.name for c in picked]))
        if t.col("metadata") and rng.random() < 0.3:
            schema.index_count += 1
            statements.append(
                f"CREATE INDEX {t.name}_metadata_gin_{schema.index_count} ON {t.name} USING gin (metadata jsonb_path_ops);"
            )
    while len(statements) < 5:
        t = rng.choice(targets)
        statements.append(_index(schema, t.name, ["updated_at DESC"]))
    statements.append(f"ANALYZE {targets[0].name};")
    return f"index-{targets[0].name.replace('_', '-')}", statements


def _view(schema: Schema, version: int) -> tuple[str, list[str]]:
    rng = schema.rng
    with_fk = [
        t for t in schema.entities() if any(c.kind == "fk" and c.required for c in t.columns)
    ]
    t = rng.choice(with_fk or schema.entities())
    t.views += 1
    name = schema.fresh(f"{t.name}_overview" if t.views == 1 else f"{t.name}_summary")
    select = ["t.id", "t.code", "t.name"]
    joins = []
    for n, c in enumerate(c for c in t.columns if c.kind == "fk" and c.required):
        alias = f"p{n}"
        joins.append(f"JOIN {c.ref} {alias} ON {alias}.id = t.{c.name}")
        select.append(f"{alias}.name AS {c.name.removesuffix('_id')}_name")
    where = []
    if t.enum:
        select.append("t.status")
        where.append(f"t.status <> {_q(schema.enums[t.enum][-1])}")
    if t.col("amount"):
        select.append("t.amount")
    select.append("t.updated_at")
    sql = f"CREATE VIEW {name} AS\nSELECT {', '.join(select)}\nFROM {t.name} t"
    if joins:
        sql += "\n" + "\n".join(joins)
    if where:
        sql += "\nWHERE " + " AND ".join(where)
    statements = [
        sql + ";",
        f"COMMENT ON VIEW {name} IS {_q('Read model for ' + t.name.replace('_', ' ') + ' screens.')};",
    ]
    # a reporting view with an aggregate over a child table, when one exists
    children = [
        (c_t, c)
        for c_t in schema.entities()
        for c in c_t.columns
        if c.kind == "fk" and c.ref == t.name
    ]
    if children:
        child, c = rng.choice(children)
        agg = schema.fresh(_short(f"{t.name}_{child.name}_counts"))
        statements.append(
            f"CREATE VIEW {agg} AS\nSELECT t.id, t.code, count(c.*) AS {child.name}_count, max(c.created_at) AS last_{child.name}_at\n"
            f"FROM {t.name} t\nLEFT JOIN {child.name} c ON c.{c.name} = t.id\nGROUP BY t.id, t.code;"
        )
        statements.append(
            f"COMMENT ON VIEW {agg} IS {_q('Per-' + _singular(t.name) + ' totals of ' + child.name + '.')};"
        )
    statements.append(_index(schema, t.name, ["updated_at"]))
    if t.col("amount"):
        statements.append(_index(schema, t.name, ["amount"], where="amount > 0"))
    while len(statements) < 5:
        statements.append(
            f"COMMENT ON TABLE {t.name} IS {_q(_sentence(rng, t.name) + ' See view ' + name + '.')};"
        )
    return f"view-{name.replace('_', '-')}", statements


def _trigger_function(schema: Schema, version: int) -> tuple[str, list[str]]:
    rng = schema.rng
    targets = rng.sample(schema.entities(), k=min(len(schema.entities()), rng.randint(1, 3)))
    statements: list[str] = []
    kind = rng.choice(["normalize", "audit"])
    if kind == "normalize":
        fn = schema.fresh(f"normalize_code_v{version}")
        statements.append(
            f"CREATE OR REPLACE FUNCTION {fn}() RETURNS trigger\n"
            "LANGUAGE plpgsql AS $$\n"
            "BEGIN\n"
            "    NEW.code := upper(btrim(NEW.code));\n"
            "    IF NEW.name IS NOT NULL THEN\n"
            "        NEW.name := btrim(NEW.name);\n"
            "    END IF;\n"
            "    RETURN NEW;\n"
            "END;\n"
            "$$;"
        )
        when = "BEFORE INSERT OR UPDATE OF code, name"
    else:
        fn = schema.fresh(f"stamp_metadata_v{version}")
        statements.append(
            f"CREATE OR REPLACE FUNCTION {fn}() RETURNS trigger\n"
            "LANGUAGE plpgsql AS $fn$\n"
            "DECLARE\n"
            "    changed_by text := current_user;\n"
            "BEGIN\n"
            "    IF TG_OP = 'UPDATE' AND NEW IS NOT DISTINCT FROM OLD THEN\n"
            "        RETURN NEW;  -- nothing changed: keep updated_at as it is\n"
            "    END IF;\n"
            "    NEW.updated_at := now();\n"
            "    RAISE DEBUG '% % on % by %', TG_OP, TG_WHEN, TG_TABLE_NAME, changed_by;\n"
            "    RETURN NEW;\n"
            "END;\n"
            "$fn$;"
        )
        when = "BEFORE INSERT OR UPDATE"
    statements.append(
        f"COMMENT ON FUNCTION {fn}() IS {_q('Trigger function added in migration ' + str(version) + '.')};"
    )
    for t in targets:
        trig = schema.fresh(_short(f"{t.name}_{fn}"))
        statements.append(
            f"CREATE TRIGGER {trig}\n    {when} ON {t.name}\n    FOR EACH ROW EXECUTE FUNCTION {fn}();"
        )
        statements.append(
            f"UPDATE {t.name} SET name = name WHERE code LIKE {_q(t.abbr + '-0000%')};"
        )
    while len(statements) < 5:
        statements.append(
            f"COMMENT ON TABLE {targets[0].name} IS {_q(_sentence(rng, targets[0].name))};"
        )
    return f"trigger-{fn.replace('_', '-')}", statements


def _enum_value(schema: Schema, version: int) -> tuple[str, list[str]]:
    rng = schema.rng
    with_enum = [t for t in schema.entities() if t.enum]
    t = rng.choice(with_enum)
    assert t.enum
    values = schema.enums[t.enum]
    extra = [v for v in EXTRA_STATUS if v not in values]
    statements: list[str] = []
    if extra:
        new = rng.choice(extra)
        # ADD VALUE is allowed in a transaction; the value is usable once committed.
        statements.append(
            f"ALTER TYPE {t.enum} ADD VALUE IF NOT EXISTS {_q(new)} AFTER {_q(values[0])};"
        )
        values.insert(1, new)
    statements.append(
        f"COMMENT ON TYPE {t.enum} IS {_q('Lifecycle of ' + t.name + ': ' + ', '.join(values) + '.')};"
    )
    statements.append(f"ALTER TABLE {t.name} ADD COLUMN status_changed_at_{version} timestamptz;")
    t.columns.insert(-2, Column(f"status_changed_at_{version}", "ts", "timestamptz"))
    statements.append(f"UPDATE {t.name} SET status_changed_at_{version} = updated_at;")
    statements.append(_index(schema, t.name, ["status", f"status_changed_at_{version}"]))
    statements.append(
        f"COMMENT ON COLUMN {t.name}.status_changed_at_{version} IS 'When status last changed.';"
    )
    return f"{t.enum.replace('_', '-')}-add-value", statements


# --------------------------------------------------------------------- prose


def _sentence(rng: random.Random, table: str) -> str:
    what = table.replace("_", " ")
    return rng.choice(
        [
            f"One row per {_singular(what)}; owned by the {rng.choice(PREFIXES)} service.",
            f"{what.capitalize()}: soft state, kept for {rng.randint(1, 7)} years.",
            f"Source of truth for {what}. Written by the API, read by reports.",
            f"{what.capitalize()} (see ADR-{rng.randint(1, 99):03d}).",
        ]
    )


def _column_comment(rng: random.Random, c: Column) -> str:
    return rng.choice(
        [
            f"{c.name.replace('_', ' ').capitalize()}; set by the application.",
            f"Added for ticket {rng.choice(['APP', 'OPS', 'BILL'])}-{rng.randint(100, 9999)}.",
            f"{c.name} -- keep in sync with the API schema.",
            "Nullable on purpose: unknown for legacy rows.",
        ]
    )


# ---------------------------------------------------------------------- main


def _bootstrap(schema: Schema) -> tuple[str, list[str]]:
    schema.names.add("set_updated_at")
    return "bootstrap", [
        "CREATE OR REPLACE FUNCTION set_updated_at() RETURNS trigger\n"
        "LANGUAGE plpgsql AS $$\n"
        "BEGIN\n"
        "    NEW.updated_at := now();\n"
        "    RETURN NEW;\n"
        "END;\n"
        "$$;",
        "COMMENT ON FUNCTION set_updated_at() IS 'BEFORE UPDATE trigger: keeps updated_at current.';",
        "COMMENT ON SCHEMA public IS 'Application schema (generated benchmark corpus).';",
        "CREATE TABLE app_settings (\n"
        "    key text PRIMARY KEY CHECK (key ~ '^[a-z][a-z0-9_.]*$'),\n"
        "    value jsonb NOT NULL,\n"
        "    updated_at timestamptz NOT NULL DEFAULT now()\n"
        ");",
        "CREATE TRIGGER app_settings_set_updated_at\n"
        "    BEFORE UPDATE ON app_settings\n"
        "    FOR EACH ROW EXECUTE FUNCTION set_updated_at();",
        "INSERT INTO app_settings (key, value) VALUES\n"
        "    ('signup.enabled', 'true'),\n"
        "    ('billing.currency', '\"EUR\"'),\n"
        "    ('limits.max_projects', '25');",
    ]


KINDS = [
    (_create_table, 40),
    (_add_columns, 18),
    (_seed_migration, 10),
    (_indexes, 10),
    (_view, 7),
    (_trigger_function, 6),
    (_link_table, 5),
    (_enum_value, 4),
]


def generate(n: int, out: Path, seed: int = DEFAULT_SEED) -> list[Path]:
    """Write ``n`` migration files into ``out``; returns their paths in order."""
    rng = random.Random(seed)
    schema = Schema(rng)
    schema.names.add("app_settings")
    out.mkdir(parents=True, exist_ok=True)
    for old in out.glob("*.sql"):
        old.unlink()
    paths = []
    for version in range(1, n + 1):
        if version == 1:
            slug, statements = _bootstrap(schema)
        elif version <= 6 or len(schema.entities()) < 3:
            slug, statements = _create_table(schema, version)
        else:
            kinds = [k for k, _ in KINDS]
            weights = [w for _, w in KINDS]
            if not any(t.enum for t in schema.entities()):
                weights[kinds.index(_enum_value)] = 0
            slug, statements = rng.choices(kinds, weights)[0](schema, version)
        header = f"-- {version:04d} {slug.replace('-', ' ')}\n-- generated by benchmarks/corpus.py (seed {seed})\n\n"
        path = out / f"{version:04d}-{slug[:60].rstrip('-')}.sql"
        path.write_text(header + "\n\n".join(statements) + "\n", encoding="utf-8")
        paths.append(path)
    return paths


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument(
        "--n", type=int, default=1000, help="number of migration files (default 1000)"
    )
    parser.add_argument("--out", type=Path, required=True, help="directory to write them to")
    parser.add_argument(
        "--seed", type=int, default=DEFAULT_SEED, help="random seed (default %(default)s)"
    )
    args = parser.parse_args()
    if not 1 <= args.n <= 9999:
        parser.error("--n must be between 1 and 9999 (4-digit versions)")
    paths = generate(args.n, args.out, args.seed)
    size = sum(p.stat().st_size for p in paths)
    print(f"wrote {len(paths)} migrations ({size / 1024:.0f} KiB) to {args.out}")


if __name__ == "__main__":
    main()
