"""Catalog SQL for what drift does not compare in detail: object kinds it does not
support (listed by name, so they are reported, never skipped silently) and grants.

Unsupported objects are matched by kind and name only: one present on one side is a
difference; one on both sides is reported as not compared.
"""

from __future__ import annotations

from psycopg import sql

from sqlmig.schemadiff._tables import not_extension_member, query


def _in_schema(
    kind: str, catalog: str, name: str, namespace: str, where: str = "true"
) -> sql.Composed:
    """Objects of ``catalog`` in the user's schemas (``name``, ``where``: over ``x``)."""
    return query(
        """
SELECT {kind}, n.nspname || '.' || {name}
FROM {catalog} x JOIN pg_namespace n ON n.oid = {namespace}
WHERE {user_schema} AND {not_extension} AND {where}""",
        kind=sql.Literal(kind), name=sql.SQL(name), catalog=sql.Identifier(catalog),
        namespace=sql.Identifier("x", namespace), where=sql.SQL(where),
        not_extension=not_extension_member(catalog, "x"),
    )  # fmt: skip


def _global(kind: str, catalog: str, name: str) -> sql.Composed:
    """Objects of a catalog without schemas that were not there in a new database."""
    # Objects PostgreSQL creates itself have OIDs below FirstNormalObjectId (16384).
    return query(
        "SELECT {kind}, {name} FROM {catalog} x WHERE x.oid >= 16384 AND {not_extension}",
        kind=sql.Literal(kind), name=sql.SQL(name), catalog=sql.Identifier(catalog),
        not_extension=not_extension_member(catalog, "x"),
    )  # fmt: skip


UNSUPPORTED = sql.SQL(" UNION ALL ").join(
    [
        _global("event trigger", "pg_event_trigger", "x.evtname"),
        _global("foreign-data wrapper", "pg_foreign_data_wrapper", "x.fdwname"),
        _global("foreign server", "pg_foreign_server", "x.srvname"),
        _global("publication", "pg_publication", "x.pubname"),
        sql.SQL("""
SELECT 'subscription', x.subname FROM pg_subscription x
WHERE x.subdbid = (SELECT oid FROM pg_database WHERE datname = current_database())"""),
        _global("cast", "pg_cast",
                "format('(%%s AS %%s)', x.castsource::regtype, x.casttarget::regtype)"),
        _global("language", "pg_language", "x.lanname"),
        _global("access method", "pg_am", "x.amname"),
        _global("transform", "pg_transform",
                "format('FOR %%s LANGUAGE %%s', x.trftype::regtype, x.trflang)"),
        _global("default privileges", "pg_default_acl",
                "pg_get_userbyid(x.defaclrole) || ' ' || x.defaclobjtype::text"),
        _in_schema("foreign table", "pg_class", "x.relname", "relnamespace", "x.relkind = 'f'"),
        _in_schema("aggregate", "pg_proc",
                   "x.proname || '(' || pg_get_function_identity_arguments(x.oid) || ')'",
                   "pronamespace", "x.prokind = 'a'"),
        _in_schema("operator", "pg_operator", "x.oid::regoperator::text", "oprnamespace"),
        _in_schema("operator class", "pg_opclass", "x.opcname", "opcnamespace"),
        _in_schema("operator family", "pg_opfamily", "x.opfname", "opfnamespace"),
        _in_schema("collation", "pg_collation", "x.collname", "collnamespace"),
        _in_schema("conversion", "pg_conversion", "x.conname", "connamespace"),
        _in_schema("statistics object", "pg_statistic_ext", "x.stxname", "stxnamespace"),
        _in_schema("text search configuration", "pg_ts_config", "x.cfgname", "cfgnamespace"),
        _in_schema("text search dictionary", "pg_ts_dict", "x.dictname", "dictnamespace"),
        _in_schema("text search parser", "pg_ts_parser", "x.prsname", "prsnamespace"),
        _in_schema("text search template", "pg_ts_template", "x.tmplname", "tmplnamespace"),
        # Range types (their multiranges come with them), base and shell types.
        _in_schema("type", "pg_type", "x.typname", "typnamespace",
                   "(x.typtype IN ('r', 'p') OR (x.typtype = 'b' AND x.typcategory <> 'A'))"),
        query("""
SELECT 'rule', n.nspname || '.' || c.relname || '.' || x.rulename
FROM pg_rewrite x JOIN pg_class c ON c.oid = x.ev_class
JOIN pg_namespace n ON n.oid = c.relnamespace
WHERE x.rulename <> '_RETURN' AND {user_schema} AND {not_extension}""",
              not_extension=not_extension_member("pg_class", "c")),
    ]
)  # fmt: skip

# Grants, opt-in: one row per object, its privileges as "PRIVILEGE to ROLE" strings.
# The owner's own privileges are left out: who owns the shadow database's objects
# depends on where it was built.
GRANTS = query("""{rel}, acl(kind, name, acl, owner, objtype) AS (
    SELECT CASE c.relkind WHEN 'v' THEN 'view' WHEN 'm' THEN 'materialized view'
                          WHEN 'S' THEN 'sequence' ELSE 'table' END,
           r.name, c.relacl, c.relowner, CASE c.relkind WHEN 'S' THEN 's' ELSE 'r' END
    FROM rel r JOIN pg_class c ON c.oid = r.oid WHERE c.relkind IN ('r', 'p', 'v', 'm', 'S')
    UNION ALL
    SELECT 'column', r.name || '.' || a.attname, a.attacl, c.relowner, 'c'
    FROM rel r JOIN pg_class c ON c.oid = r.oid JOIN pg_attribute a ON a.attrelid = c.oid
    WHERE c.relkind IN ('r', 'p') AND a.attnum > 0 AND NOT a.attisdropped
    UNION ALL
    SELECT 'schema', n.nspname, n.nspacl, n.nspowner, 'n' FROM pg_namespace n
    WHERE {user_schema}
    UNION ALL
    SELECT CASE p.prokind WHEN 'p' THEN 'procedure' ELSE 'function' END,
           n.nspname || '.' || p.proname || '(' || pg_get_function_identity_arguments(p.oid)
           || ')', p.proacl, p.proowner, 'f'
    FROM pg_proc p JOIN pg_namespace n ON n.oid = p.pronamespace
    WHERE {user_schema} AND p.prokind IN ('f', 'p', 'w')
    UNION ALL
    SELECT CASE t.typtype WHEN 'e' THEN 'enum' WHEN 'd' THEN 'domain' ELSE 'type' END,
           n.nspname || '.' || t.typname, t.typacl, t.typowner, 'T'
    FROM pg_type t JOIN pg_namespace n ON n.oid = t.typnamespace
    LEFT JOIN pg_class c ON c.oid = t.typrelid
    WHERE {user_schema} AND (t.typtype IN ('e', 'd') OR (t.typtype = 'c' AND c.relkind = 'c'))
)
SELECT kind, name, ARRAY(
    SELECT x.privilege_type || ' to '
           || CASE WHEN x.grantee = 0 THEN 'PUBLIC' ELSE pg_get_userbyid(x.grantee)::text END
           || CASE WHEN x.is_grantable THEN ' with grant option' ELSE '' END
    FROM aclexplode(coalesce(acl, acldefault(objtype::"char", owner))) x
    WHERE x.grantee <> owner ORDER BY 1)
FROM acl
""")
