"""`sqlmig adopt --from TOOL` on real databases: each tool's ledger table created exactly as
that tool creates it, then adopted; afterwards `verify` passes and a new migration applies."""

from __future__ import annotations

import json

import psycopg
import pytest
from psycopg import sql
from support.db import query

# The tables as each tool creates them (dbmate 2.x, golang-migrate v4, flyway 10, yoyo 9).
DBMATE = "CREATE TABLE public.schema_migrations (version varchar(128) PRIMARY KEY)"
GOLANG = "CREATE TABLE public.schema_migrations (version bigint NOT NULL PRIMARY KEY, dirty boolean NOT NULL)"
FLYWAY = """CREATE TABLE public.flyway_schema_history (
    installed_rank integer NOT NULL PRIMARY KEY, version varchar(50), description varchar(200) NOT NULL,
    type varchar(20) NOT NULL, script varchar(1000) NOT NULL, checksum integer,
    installed_by varchar(100) NOT NULL, installed_on timestamp NOT NULL DEFAULT now(),
    execution_time integer NOT NULL, success boolean NOT NULL)"""
YOYO = """CREATE TABLE public._yoyo_migration (migration_hash varchar(64) PRIMARY KEY,
    migration_id varchar(255), applied_at_utc timestamp)"""


def run_sql(dsn: str, *statements: str) -> None:
    with psycopg.connect(dsn, autocommit=True) as conn:
        for statement in statements:
            conn.execute(statement)  # type: ignore[arg-type]  # fixed test DDL


@pytest.fixture
def files(mig_dir):
    mig_dir.write("20240101000001_users.sql", "create table users (id int);\n")
    mig_dir.write("20240101000002_orders.sql", "create table orders (id int);\n")
    return mig_dir


def _tool_state(dsn: str, tool: str) -> None:
    """The schema and the history the tool would have left after applying both files."""
    run_sql(dsn, "create table users (id int)", "create table orders (id int)")
    if tool == "dbmate":
        run_sql(
            dsn,
            DBMATE,
            "insert into schema_migrations values ('20240101000001'), ('20240101000002')",
        )
    elif tool == "golang-migrate":
        run_sql(dsn, GOLANG, "insert into schema_migrations values (20240101000002, false)")
    elif tool == "flyway":
        run_sql(
            dsn,
            FLYWAY,
            "insert into flyway_schema_history (installed_rank, version, description, type, script,"
            " installed_by, execution_time, success) values"
            " (1, '20240101000001', 'users', 'SQL', 'V1__users.sql', 'me', 1, true),"
            " (2, '20240101000002', 'orders', 'SQL', 'V2__orders.sql', 'me', 1, true)",
        )
    else:
        run_sql(
            dsn,
            YOYO,
            "insert into _yoyo_migration values ('a', '20240101000001_users', now()),"
            " ('b', '20240101000002_orders', now())",
        )


@pytest.mark.parametrize("tool", ["dbmate", "golang-migrate", "flyway", "yoyo"])
def test_adopt_then_verify_passes_and_a_new_migration_applies(sqlmig, files, dsn, tool):
    _tool_state(dsn, tool)
    dry = sqlmig("--format", "json", "adopt", "--from", tool, "--dry-run")
    assert dry.exit_code == 0, dry.output
    assert [a["version"] for a in json.loads(dry.stdout)["adopted"]] == [
        20240101000001,
        20240101000002,
    ]
    assert query(
        dsn, "select to_regclass('public.schema_migrations_' || %s)::text", tool.replace("-", "_")
    ) == [(None,)]

    result = sqlmig("adopt", "--from", tool)
    assert result.exit_code == 0, result.output
    rows = query(dsn, "select version, kind, success from schema_migrations order by version")
    assert rows == [(20240101000001, "adopted", True), (20240101000002, "adopted", True)]
    logged = query(
        dsn, "select version, action, outcome, detail from schema_migrations_history order by id"
    )
    assert logged == [
        (20240101000001, "adopt", "success", f"from {tool}"),
        (20240101000002, "adopt", "success", f"from {tool}"),
    ]
    if tool in ("dbmate", "golang-migrate"):
        kept = f"schema_migrations_{tool.replace('-', '_')}"
        count = sql.SQL("select count(*) from {}").format(sql.Identifier(kept))
        with psycopg.connect(dsn) as conn:
            (row,) = conn.execute(count).fetchall()
        assert row[0] >= 1  # their history is kept
    assert sqlmig("verify", "--strict").exit_code == 0

    files.write("20240101000003_items.sql", "create table items (id int);\n")
    assert sqlmig("apply").exit_code == 0
    assert query(dsn, "select to_regclass('public.items')::text") == [("items",)]


def test_a_dirty_golang_migrate_history_is_refused_and_nothing_changes(sqlmig, files, dsn):
    run_sql(dsn, GOLANG, "insert into schema_migrations values (20240101000002, true)")
    result = sqlmig("adopt", "--from", "golang-migrate")
    assert (
        result.exit_code == 1
        and "dirty" in result.output
        and "nothing was changed" in result.output
    )
    assert query(dsn, "select version, dirty from schema_migrations") == [(20240101000002, True)]


def test_a_version_without_a_file_is_refused(sqlmig, files, dsn):
    run_sql(
        dsn, DBMATE, "insert into schema_migrations values ('20240101000001'), ('20230101000000')"
    )
    result = sqlmig("adopt", "--from", "dbmate")
    assert result.exit_code == 1 and "20230101000000" in result.output
    assert query(dsn, "select to_regclass('public.schema_migrations_dbmate')") == [(None,)]


def test_a_failed_flyway_row_is_refused(sqlmig, files, dsn):
    _tool_state(dsn, "flyway")
    run_sql(dsn, "update flyway_schema_history set success = false where installed_rank = 2")
    result = sqlmig("adopt", "--from", "flyway")
    assert result.exit_code == 1 and "failed version(s) 20240101000002" in result.output
    assert query(dsn, "select to_regclass('public.schema_migrations')") == [(None,)]


def test_apply_leaves_another_tools_table_of_the_ledgers_name_alone(sqlmig, files, dsn):
    run_sql(dsn, DBMATE, "insert into schema_migrations values ('20240101000001')")
    result = sqlmig("apply")
    assert result.exit_code == 2 and "adopt --from dbmate" in result.output
    columns = query(
        dsn,
        "select attname from pg_attribute where attrelid = 'schema_migrations'::regclass and attnum > 0",
    )
    assert columns == [("version",)]


def test_no_history_of_that_tool_is_a_usage_error(sqlmig, files):
    result = sqlmig("adopt", "--from", "yoyo")
    assert result.exit_code == 2 and "_yoyo_migration does not exist" in result.output


def test_a_database_built_by_psql_from_sql_init_is_adopted_with_baseline(dsn, tmp_path):
    """As the docker init did before sqlmig: plain psql, then `baseline` takes it over."""
    import shutil
    import subprocess
    from pathlib import Path

    from support.cli import invoke
    from support.db import INIT_DIR

    psql = shutil.which("psql") or "/usr/lib/postgresql/15/bin/psql"
    if not Path(psql).exists():
        pytest.skip("no psql binary")
    files = sorted(p for p in INIT_DIR.glob("*.sql") if not p.name.endswith(".down.sql"))
    for path in files:
        subprocess.run(
            [psql, "-X", "-q", "-v", "ON_ERROR_STOP=1", "-d", dsn, "-f", str(path)],
            check=True,
            capture_output=True,
        )
    folder = tmp_path / "migrations"
    shutil.copytree(INIT_DIR, folder)
    last = max(int(p.name.split("-", 1)[0]) for p in files)
    result = invoke("--dsn", dsn, "--dir", str(folder), "baseline", str(last))
    assert result.exit_code == 0, result.output
    assert invoke("--dsn", dsn, "--dir", str(folder), "verify", "--strict").exit_code == 0
    (folder / f"{last + 1}-extra.sql").write_text("create table extra (id int);\n")
    applied = invoke("--dsn", dsn, "--dir", str(folder), "apply")
    assert applied.exit_code == 0, applied.output
    assert query(dsn, "select count(*) from schema_migrations where kind = 'baseline'") == [
        (len(files),)
    ]
    assert query(dsn, "select to_regclass('public.extra')::text") == [("extra",)]
