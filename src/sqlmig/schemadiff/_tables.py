"""Catalog SQL for schemas, extensions and relations with what hangs off them: columns,
constraints, indexes, triggers, policies. One query per object kind, across all schemas.

Every query returns rows ``(kind, name, attributes)``: ``name`` is the object's
qualified name (no OIDs, so two databases can be matched), ``attributes`` a JSON
object (``json``, not ``jsonb``, to keep the order in which differences are shown).
Definitions come from the server's own deparse (pg_get_*), so formatting never differs.
"""

from __future__ import annotations

from psycopg import sql

#: Not PostgreSQL's own schemas (pg_catalog, pg_toast, temp schemas, information_schema).
USER_SCHEMA = sql.SQL("n.nspname !~ '^pg_' AND n.nspname <> 'information_schema'")


def not_extension_member(catalog: str, alias: str) -> sql.Composed:
    """An extension's own objects are covered by the extension and its version."""
    return sql.SQL(
        "NOT EXISTS (SELECT FROM pg_depend e WHERE e.classid = {catalog}::regclass "
        "AND e.objid = {oid} AND e.deptype = 'e')"
    ).format(catalog=sql.Literal(catalog), oid=sql.Identifier(alias, "oid"))


#: The relations compared (sqlmig's ledger table left out), for the queries below.
RELATIONS_CTE = sql.SQL("""
WITH rel AS (
    SELECT c.oid, c.relkind, n.nspname || '.' || c.relname AS name
    FROM pg_class c JOIN pg_namespace n ON n.oid = c.relnamespace
    WHERE {user_schema}
      AND NOT (n.nspname = %(ledger_schema)s AND c.relname = ANY(%(ledger_tables)s))
      AND {not_extension}
)
""").format(user_schema=USER_SCHEMA, not_extension=not_extension_member("pg_class", "c"))


def query(template: str, **parts: sql.Composable) -> sql.Composed:
    """``template`` with ``{rel}``, ``{user_schema}`` and ``parts`` filled in."""
    return sql.SQL(template).format(rel=RELATIONS_CTE, user_schema=USER_SCHEMA, **parts)


SCHEMAS = query(
    """
SELECT 'schema', n.nspname,
       json_build_object('comment', obj_description(n.oid, 'pg_namespace'))
FROM pg_namespace n
WHERE {user_schema} AND {not_extension}
""",
    not_extension=not_extension_member("pg_namespace", "n"),
)

EXTENSIONS = sql.SQL("""
SELECT 'extension', e.extname, json_build_object('version', e.extversion, 'schema', n.nspname)
FROM pg_extension e JOIN pg_namespace n ON n.oid = e.extnamespace
""")

_OPTIONS = sql.SQL("array_to_string(c.reloptions, ', ')")

RELATIONS = query(
    """{rel}
SELECT CASE c.relkind WHEN 'v' THEN 'view' WHEN 'm' THEN 'materialized view'
                      WHEN 'S' THEN 'sequence' ELSE 'table' END,
       r.name,
       CASE
       WHEN c.relkind IN ('r', 'p') THEN json_build_object(
           'partition key', CASE WHEN c.relkind = 'p' THEN pg_get_partkeydef(c.oid) END,
           'partition of', (SELECT pn.nspname || '.' || pc.relname
                            FROM pg_inherits i JOIN pg_class pc ON pc.oid = i.inhparent
                            JOIN pg_namespace pn ON pn.oid = pc.relnamespace
                            WHERE i.inhrelid = c.oid AND c.relispartition),
           'bound', CASE WHEN c.relispartition THEN pg_get_expr(c.relpartbound, c.oid) END,
           'inherits', (SELECT string_agg(pn.nspname || '.' || pc.relname, ', '
                                          ORDER BY i.inhseqno)
                        FROM pg_inherits i JOIN pg_class pc ON pc.oid = i.inhparent
                        JOIN pg_namespace pn ON pn.oid = pc.relnamespace
                        WHERE i.inhrelid = c.oid AND NOT c.relispartition),
           'persistence', CASE c.relpersistence WHEN 'u' THEN 'unlogged' ELSE 'logged' END,
           'row security', CASE WHEN c.relrowsecurity THEN 'enabled' ELSE 'disabled' END,
           'forced row security', CASE WHEN c.relforcerowsecurity THEN 'yes' ELSE 'no' END,
           'options', {options},
           'comment', obj_description(c.oid, 'pg_class'))
       WHEN c.relkind IN ('v', 'm') THEN json_build_object(
           'definition', pg_get_viewdef(c.oid, true),
           'options', {options},
           'comment', obj_description(c.oid, 'pg_class'))
       ELSE json_build_object(
           'type', format_type(s.seqtypid, NULL),
           'start', s.seqstart, 'increment', s.seqincrement,
           'minimum', s.seqmin, 'maximum', s.seqmax, 'cache', s.seqcache,
           'cycle', CASE WHEN s.seqcycle THEN 'yes' ELSE 'no' END,
           'owned by', (SELECT dn.nspname || '.' || dc.relname || '.' || a.attname
                        FROM pg_depend d JOIN pg_class dc ON dc.oid = d.refobjid
                        JOIN pg_namespace dn ON dn.oid = dc.relnamespace
                        JOIN pg_attribute a ON a.attrelid = d.refobjid
                                           AND a.attnum = d.refobjsubid
                        WHERE d.classid = 'pg_class'::regclass AND d.objid = c.oid
                          AND d.refclassid = 'pg_class'::regclass
                          AND d.deptype IN ('a', 'i') LIMIT 1),
           'comment', obj_description(c.oid, 'pg_class'))
       END
FROM rel r JOIN pg_class c ON c.oid = r.oid LEFT JOIN pg_sequence s ON s.seqrelid = c.oid
WHERE c.relkind IN ('r', 'p', 'v', 'm', 'S')
""",
    options=_OPTIONS,
)

COLUMNS = query(
    """{rel}
-- A view's columns: only their comments (their types are the view's definition).
SELECT 'column', r.name || '.' || a.attname, CASE WHEN r.relkind IN ('v', 'm')
THEN json_build_object('comment', dsc.description)
ELSE json_build_object(
    'type', format_type(a.atttypid, a.atttypmod),
    'nullability', CASE WHEN a.attnotnull THEN 'not null' ELSE 'null' END,
    'default', CASE WHEN a.attgenerated = '' THEN pg_get_expr(d.adbin, d.adrelid) END,
    'identity', CASE a.attidentity WHEN 'a' THEN 'always' WHEN 'd' THEN 'by default' END,
    'generated', CASE WHEN a.attgenerated <> '' THEN pg_get_expr(d.adbin, d.adrelid)
                      || CASE a.attgenerated WHEN 'v' THEN ' (virtual)' ELSE ' (stored)' END END,
    'collation', CASE WHEN a.attcollation <> t.typcollation THEN co.collname END,
    'comment', dsc.description) END
FROM rel r
JOIN pg_attribute a ON a.attrelid = r.oid
-- a join, not col_description(): one function call per column costs more
LEFT JOIN pg_description dsc ON dsc.objoid = a.attrelid AND dsc.objsubid = a.attnum
                            AND dsc.classoid = 'pg_class'::regclass
JOIN pg_type t ON t.oid = a.atttypid
LEFT JOIN pg_attrdef d ON d.adrelid = a.attrelid AND d.adnum = a.attnum
LEFT JOIN pg_collation co ON co.oid = a.attcollation
WHERE r.relkind IN ('r', 'p', 'v', 'm') AND a.attnum > 0 AND NOT a.attisdropped
""",
)


def _fk_action(column: str) -> sql.Composed:
    return sql.SQL(
        "CASE {col} WHEN 'a' THEN 'no action' WHEN 'r' THEN 'restrict' WHEN 'c' THEN 'cascade' "
        "WHEN 'n' THEN 'set null' WHEN 'd' THEN 'set default' END"
    ).format(col=sql.Identifier("con", column))


# contype 'n' (PostgreSQL 18's NOT NULL constraints) is the column's nullability;
# 't' (constraint triggers) is listed with the triggers.
CONSTRAINTS = query(
    """{rel}
SELECT 'constraint', r.name || '.' || con.conname, json_build_object(
    'type', CASE con.contype WHEN 'p' THEN 'primary key' WHEN 'u' THEN 'unique'
                 WHEN 'f' THEN 'foreign key' WHEN 'c' THEN 'check' ELSE 'exclusion' END,
    'references', CASE WHEN con.contype = 'f' THEN fn.nspname || '.' || fc.relname END,
    'on update', CASE WHEN con.contype = 'f' THEN {on_update} END,
    'on delete', CASE WHEN con.contype = 'f' THEN {on_delete} END,
    'validated', CASE WHEN con.convalidated THEN 'yes' ELSE 'no (NOT VALID)' END,
    'deferrable', CASE WHEN NOT con.condeferrable THEN 'no'
                       WHEN con.condeferred THEN 'initially deferred'
                       ELSE 'initially immediate' END,
    'definition', pg_get_constraintdef(con.oid, true),
    'comment', dsc.description)
FROM rel r
JOIN pg_constraint con ON con.conrelid = r.oid
LEFT JOIN pg_description dsc ON dsc.objoid = con.oid AND dsc.objsubid = 0
                            AND dsc.classoid = 'pg_constraint'::regclass
LEFT JOIN pg_class fc ON fc.oid = con.confrelid
LEFT JOIN pg_namespace fn ON fn.oid = fc.relnamespace
WHERE con.contype IN ('p', 'u', 'f', 'c', 'x')
""",
    on_update=_fk_action("confupdtype"),
    on_delete=_fk_action("confdeltype"),
)

INDEXES = query(
    """{rel}
SELECT 'index', n.nspname || '.' || ic.relname, json_build_object(
    'table', r.name,
    -- the constraint it implements (primary key, unique, exclusion), if any
    'constraint', (SELECT r.name || '.' || con.conname FROM pg_constraint con
                   WHERE con.conindid = i.indexrelid AND con.conrelid = i.indrelid
                     AND con.contype IN ('p', 'u', 'x')),
    'method', am.amname,
    'unique', CASE WHEN i.indisunique THEN 'yes' ELSE 'no' END,
    'columns', (SELECT string_agg(pg_get_indexdef(i.indexrelid, k, true), ', ' ORDER BY k)
                FROM generate_series(1, i.indnkeyatts) k),
    'include', (SELECT string_agg(pg_get_indexdef(i.indexrelid, k, true), ', ' ORDER BY k)
                FROM generate_series(i.indnkeyatts + 1, i.indnatts) k),
    'predicate', pg_get_expr(i.indpred, i.indrelid, true),
    'valid', CASE WHEN i.indisvalid THEN 'yes' ELSE 'no (INVALID)' END,
    'definition', pg_get_indexdef(i.indexrelid),
    'comment', dsc.description)
FROM rel r
JOIN pg_index i ON i.indrelid = r.oid
LEFT JOIN pg_description dsc ON dsc.objoid = i.indexrelid AND dsc.objsubid = 0
                            AND dsc.classoid = 'pg_class'::regclass
JOIN pg_class ic ON ic.oid = i.indexrelid
JOIN pg_namespace n ON n.oid = ic.relnamespace
JOIN pg_am am ON am.oid = ic.relam
""",
)


def _bit(bit: int, word: str) -> sql.Composed:
    return sql.SQL("CASE WHEN tg.tgtype & {bit} <> 0 THEN {word} END").format(
        bit=sql.Literal(bit), word=sql.Literal(word)
    )


TRIGGERS = query(
    """{rel}
SELECT 'trigger', r.name || '.' || tg.tgname, json_build_object(
    'timing', CASE WHEN tg.tgtype & 2 <> 0 THEN 'before'
                   WHEN tg.tgtype & 64 <> 0 THEN 'instead of' ELSE 'after' END,
    'events', concat_ws(' or ', {insert},
                        {update},
                        {delete},
                        {truncate}),
    'level', CASE WHEN tg.tgtype & 1 <> 0 THEN 'row' ELSE 'statement' END,
    'function', tg.tgfoid::regprocedure::text,
    'state', CASE tg.tgenabled WHEN 'O' THEN 'enabled' WHEN 'D' THEN 'disabled'
                  WHEN 'R' THEN 'enabled replica' ELSE 'enabled always' END,
    'definition', pg_get_triggerdef(tg.oid, true),
    'comment', obj_description(tg.oid, 'pg_trigger'))
FROM rel r JOIN pg_trigger tg ON tg.tgrelid = r.oid
WHERE NOT tg.tgisinternal
""",
    insert=_bit(4, "insert"),
    update=_bit(16, "update"),
    delete=_bit(8, "delete"),
    truncate=_bit(32, "truncate"),
)

POLICIES = query(
    """{rel}
SELECT 'policy', r.name || '.' || pol.polname, json_build_object(
    'command', CASE pol.polcmd WHEN 'r' THEN 'select' WHEN 'a' THEN 'insert'
                    WHEN 'w' THEN 'update' WHEN 'd' THEN 'delete' ELSE 'all' END,
    'mode', CASE WHEN pol.polpermissive THEN 'permissive' ELSE 'restrictive' END,
    'roles', (SELECT string_agg(role, ', ' ORDER BY role)
              FROM (SELECT CASE WHEN x = 0 THEN 'public' ELSE pg_get_userbyid(x)::text END
                    FROM unnest(pol.polroles) x) AS roles(role)),
    'using', pg_get_expr(pol.polqual, pol.polrelid, true),
    'with check', pg_get_expr(pol.polwithcheck, pol.polrelid, true),
    'comment', obj_description(pol.oid, 'pg_policy'))
FROM rel r JOIN pg_policy pol ON pol.polrelid = r.oid
""",
)
