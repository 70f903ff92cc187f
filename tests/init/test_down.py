"""The bundled schema's down files (issue 11): ``apply``, ``rollback --to 0``, ``apply`` gives
a schema dump identical to the first apply, and stepping back one migration at a time passes
through exactly the schema each version had on the way up.

Dumps are the server's own ``pg_dump --schema-only`` (the run's servers come with their
binaries); only its comment lines and PG 18's per-dump random ``\\restrict`` key are left out.
"""

from __future__ import annotations

import subprocess

import pytest
from psycopg import conninfo
from support.cli import invoke
from support.db import INIT_DIR, query

UPS = sorted(p for p in INIT_DIR.glob("*.sql") if not p.name.endswith(".down.sql"))
LAST = int(UPS[-1].name.split("-", 1)[0])

#: What sqlmig itself keeps in the database: the ledger, its history, their key and sequence.
SQLMIG_OBJECTS = [
    "schema_migrations",
    "schema_migrations_history",
    "schema_migrations_history_id_seq",
    "schema_migrations_history_pkey",
    "schema_migrations_pkey",
]


def schema_dump(pg, dsn: str) -> str:
    if pg.bindir is None:
        pytest.skip("needs the server's own pg_dump (not with SQLMIG_TEST_DSN)")
    params = conninfo.conninfo_to_dict(dsn)
    cmd = [str(pg.bindir / "pg_dump"), "--schema-only", "--no-owner"]
    cmd += ["-h", str(params["host"]), "-p", str(params["port"]), "-U", str(params["user"])]
    dump = subprocess.run([*cmd, str(params["dbname"])], check=True, capture_output=True, text=True)
    skip = ("--", "\\restrict", "\\unrestrict")
    return "\n".join(line for line in dump.stdout.splitlines() if not line.startswith(skip))


def run(dsn: str, *args: str) -> None:
    result = invoke("--dsn", dsn, "--dir", str(INIT_DIR), *args)
    assert result.exit_code == 0, result.output


def user_objects(dsn: str) -> list[tuple[object, ...]]:
    """Every relation, type, function and extension outside the system schemas."""
    return query(
        dsn,
        "select 'relation', c.relname::text from pg_class c join pg_namespace n"
        " on n.oid = c.relnamespace where n.nspname not in ('pg_catalog', 'information_schema')"
        " and n.nspname !~ '^pg_toast'"
        " union all select 'type', t.typname::text from pg_type t join pg_namespace n"
        " on n.oid = t.typnamespace where n.nspname not in ('pg_catalog', 'information_schema')"
        " and t.typtype <> 'c' and t.typcategory <> 'A'"  # not a table's row or array type
        " union all select 'function', p.proname::text from pg_proc p join pg_namespace n"
        " on n.oid = p.pronamespace where n.nspname not in ('pg_catalog', 'information_schema')"
        " union all select 'extension', e.extname::text from pg_extension e"
        " where e.extname <> 'plpgsql'"
        " union all select 'schema', n.nspname::text from pg_namespace n"
        " where n.nspname not in ('public', 'pg_catalog', 'information_schema')"
        " and n.nspname !~ '^pg_(toast|temp)'"
        " order by 1, 2",
    )


def test_apply_rollback_to_0_apply_gives_the_same_schema(pg, dsn):
    run(dsn, "apply")
    first = schema_dump(pg, dsn)
    assert "CREATE TABLE public.task_progress" in first  # the dump is of the schema

    run(dsn, "rollback", "--to", "0")
    # Version 0 stays (--to V keeps V): its function is all that is left of the schema.
    kept = [("function", "trigger_set_timestamp")]
    assert user_objects(dsn) == kept + [("relation", name) for name in SQLMIG_OBJECTS]
    assert query(dsn, "select version from schema_migrations") == [(0,)]
    rolled_back = query(
        dsn,
        "select version from schema_migrations_history where action = 'rollback'"
        " and outcome = 'success' order by id",
    )
    assert rolled_back == [(v,) for v in range(LAST, 0, -1)]

    run(dsn, "apply")
    assert schema_dump(pg, dsn) == first
    assert query(dsn, "select count(*) from schema_migrations") == [(len(UPS),)]

    # Every version, 0 included: nothing is left but sqlmig's own tables.
    run(dsn, "rollback", "--steps", str(len(UPS)))
    assert user_objects(dsn) == [("relation", name) for name in SQLMIG_OBJECTS]
    assert query(dsn, "select count(*) from schema_migrations") == [(0,)]
    run(dsn, "apply")
    assert schema_dump(pg, dsn) == first


def test_rollback_step_by_step_retraces_each_version(pg, dsn):
    """Each ``--steps 1`` leaves the schema the way ``apply --target V`` had it."""
    on_the_way_up = {}
    for version in range(LAST + 1):
        run(dsn, "apply", "--target", str(version))
        on_the_way_up[version] = schema_dump(pg, dsn)
    for version in range(LAST - 1, -1, -1):
        run(dsn, "rollback", "--steps", "1")
        assert schema_dump(pg, dsn) == on_the_way_up[version], f"after undoing {version + 1}"
    # Version 0 has a down file too: nothing is left but sqlmig's own tables.
    run(dsn, "rollback", "--steps", "1")
    assert user_objects(dsn) == [("relation", name) for name in SQLMIG_OBJECTS]
    assert query(dsn, "select count(*) from schema_migrations") == [(0,)]
