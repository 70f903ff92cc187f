"""Catalog SQL for types (enums, domains, composite types), domain constraints and
functions/procedures; the same ``(kind, name, attributes)`` rows as :mod:`._tables`."""

from __future__ import annotations

from sqlmig.schemadiff._tables import not_extension_member, query

TYPES = query(
    """
SELECT CASE t.typtype WHEN 'e' THEN 'enum' WHEN 'd' THEN 'domain' ELSE 'type' END,
       n.nspname || '.' || t.typname,
       CASE t.typtype
       WHEN 'e' THEN json_build_object(
           'labels', ARRAY(SELECT e.enumlabel FROM pg_enum e WHERE e.enumtypid = t.oid
                           ORDER BY e.enumsortorder),
           'comment', obj_description(t.oid, 'pg_type'))
       WHEN 'd' THEN json_build_object(
           'base type', format_type(t.typbasetype, t.typtypmod),
           'nullability', CASE WHEN t.typnotnull THEN 'not null' ELSE 'null' END,
           'default', t.typdefault,
           'collation', (SELECT co.collname FROM pg_collation co JOIN pg_type b
                         ON b.oid = t.typbasetype
                         WHERE co.oid = t.typcollation AND t.typcollation <> b.typcollation),
           'comment', obj_description(t.oid, 'pg_type'))
       ELSE json_build_object(
           'attributes', ARRAY(SELECT a.attname || ' ' || format_type(a.atttypid, a.atttypmod)
                               FROM pg_attribute a
                               WHERE a.attrelid = t.typrelid AND a.attnum > 0
                                 AND NOT a.attisdropped ORDER BY a.attnum),
           'comment', obj_description(t.oid, 'pg_type'))
       END
FROM pg_type t
JOIN pg_namespace n ON n.oid = t.typnamespace
LEFT JOIN pg_class c ON c.oid = t.typrelid
WHERE {user_schema} AND {not_extension}
  AND (t.typtype IN ('e', 'd') OR (t.typtype = 'c' AND c.relkind = 'c'))
""",
    not_extension=not_extension_member("pg_type", "t"),
)

# contype 'n' (PostgreSQL 17+ domain NOT NULL) is the domain's nullability.
DOMAIN_CONSTRAINTS = query(
    """
SELECT 'domain constraint', n.nspname || '.' || t.typname || '.' || con.conname,
       json_build_object(
           'validated', CASE WHEN con.convalidated THEN 'yes' ELSE 'no (NOT VALID)' END,
           'definition', pg_get_constraintdef(con.oid, true),
           'comment', obj_description(con.oid, 'pg_constraint'))
FROM pg_constraint con
JOIN pg_type t ON t.oid = con.contypid
JOIN pg_namespace n ON n.oid = t.typnamespace
WHERE con.contype = 'c' AND {user_schema} AND {not_extension}
""",
    not_extension=not_extension_member("pg_type", "t"),
)

# Bodies: prosrc as written (SQL-standard bodies: the server's deparse of them).
FUNCTIONS = query(
    """
SELECT CASE p.prokind WHEN 'p' THEN 'procedure' ELSE 'function' END,
       n.nspname || '.' || p.proname || '(' || pg_get_function_identity_arguments(p.oid) || ')',
       json_build_object(
           'arguments', pg_get_function_arguments(p.oid),
           'returns', pg_get_function_result(p.oid),
           'language', l.lanname,
           'body', CASE WHEN p.prosqlbody IS NOT NULL THEN pg_get_function_sqlbody(p.oid)
                        ELSE p.prosrc END,
           'volatility', CASE p.provolatile WHEN 'i' THEN 'immutable' WHEN 's' THEN 'stable'
                              ELSE 'volatile' END,
           'security', CASE WHEN p.prosecdef THEN 'definer' ELSE 'invoker' END,
           'strict', CASE WHEN p.proisstrict THEN 'yes' ELSE 'no' END,
           'leakproof', CASE WHEN p.proleakproof THEN 'yes' ELSE 'no' END,
           'parallel', CASE p.proparallel WHEN 's' THEN 'safe' WHEN 'r' THEN 'restricted'
                            ELSE 'unsafe' END,
           'window', CASE WHEN p.prokind = 'w' THEN 'yes' ELSE 'no' END,
           'cost', p.procost,
           'rows', p.prorows,
           'settings', array_to_string(p.proconfig, ', '),
           'comment', obj_description(p.oid, 'pg_proc'))
FROM pg_proc p
JOIN pg_namespace n ON n.oid = p.pronamespace
JOIN pg_language l ON l.oid = p.prolang
WHERE {user_schema} AND {not_extension}
  AND p.prokind IN ('f', 'p', 'w')
""",
    not_extension=not_extension_member("pg_proc", "p"),
)
