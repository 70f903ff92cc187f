"""Where the ledger lives: ``--table`` / ``SQLMIG_TABLE`` / ``[tool.sqlmig] table``.

The ledger (and its history beside it) may live in any schema, created with it when
missing; every ledger statement is schema-qualified, so no search_path breaks it. The
migration lock belongs to the ledger: two ledgers in one database never wait for each
other. Introspection, drift and models leave sqlmig's tables out wherever they are.
"""

from __future__ import annotations

import hashlib
import json
from pathlib import Path

import psycopg
import pytest
from psycopg import sql
from support.cli import invoke
from support.db import query
from support.folders import MigDir

from sqlmig.core import config
from sqlmig.core.config import DEFAULT_LEDGER, LedgerLocation
from sqlmig.core.errors import UsageError
from sqlmig.migrations.lock import LOCK_KEY, lock_key

OPS = ("--table", "ops.schema_migrations")


def relations(dsn: str, schema: str) -> list[str]:
    rows = query(
        dsn,
        "select c.relname from pg_class c join pg_namespace n on n.oid = c.relnamespace"
        " where n.nspname = %s and c.relkind in ('r', 'S') order by 1",
        schema,
    )
    return [str(name) for (name,) in rows]


def ops_ledger(dsn: str) -> list[tuple[object, ...]]:
    return query(dsn, "select version, success, kind from ops.schema_migrations order by 1")


def ops_history(dsn: str) -> list[tuple[object, ...]]:
    return query(
        dsn, "select version, action, outcome from ops.schema_migrations_history order by id"
    )


def run_sql(dsn: str, *statements: str) -> None:
    with psycopg.connect(dsn, autocommit=True) as conn:
        for statement in statements:
            conn.execute(statement)  # type: ignore[arg-type]  # fixed test SQL


def test_every_command_uses_the_configured_ledger_and_creates_its_schema(dsn, sqlmig, mig_dir):
    mig_dir.write("1-a.sql", "create table a (id int);")
    mig_dir.write("1-a.down.sql", "drop table a;")
    mig_dir.write("2-b.sql", "-- sqlmig: no-transaction\ncreate table b (id int);")
    mig_dir.write("2-b.down.sql", "drop table b;")
    assert query(dsn, "select count(*) from pg_namespace where nspname = 'ops'") == [(0,)]
    result = sqlmig(*OPS, "apply")
    assert result.exit_code == 0, result.output
    assert ops_ledger(dsn) == [(1, True, "migration"), (2, True, "migration")]
    assert relations(dsn, "ops") == [
        "schema_migrations",
        "schema_migrations_history",
        "schema_migrations_history_id_seq",
    ]
    assert relations(dsn, "public") == ["a", "b"]  # nothing of sqlmig's in public

    status = sqlmig("status", *OPS, "--format", "json")  # the option after the command too
    assert status.exit_code == 0, status.output
    assert [m["state"] for m in json.loads(status.output)["migrations"]] == ["applied"] * 2
    assert sqlmig(*OPS, "verify").exit_code == 0
    # The default ledger knows nothing of it: both files are pending there.
    assert "pending" in sqlmig("status").output

    result = sqlmig(*OPS, "rollback")
    assert result.exit_code == 0, result.output
    assert ops_ledger(dsn) == [(1, True, "migration")]
    history = sqlmig(*OPS, "history", "--format", "json")
    assert history.exit_code == 0, history.output
    assert [(r["version"], r["action"]) for r in json.loads(history.output)["history"]] == [
        (1, "apply"),
        (2, "apply"),
        (2, "rollback"),
    ]
    assert ops_history(dsn)[-1] == (2, "rollback", "success")
    assert relations(dsn, "public") == ["a"]


def test_baseline_and_repair_write_the_configured_ledger(dsn, sqlmig, mig_dir):
    run_sql(dsn, "create table a (id int)")
    mig_dir.write("1-a.sql", "create table a (id int);")
    assert sqlmig(*OPS, "baseline", "1").exit_code == 0
    assert ops_ledger(dsn) == [(1, True, "baseline")]
    mig_dir.write("1-a.sql", "create table a (id int); -- reviewed")
    assert sqlmig(*OPS, "verify").exit_code == 1
    assert sqlmig(*OPS, "repair").exit_code == 0
    assert sqlmig(*OPS, "verify").exit_code == 0
    assert [a for _, a, _ in ops_history(dsn)] == ["baseline", "repair"]
    assert relations(dsn, "public") == ["a"]


@pytest.mark.parametrize("verbose", [False, True], ids=["one-message", "statementwise"])
def test_a_file_that_empties_or_breaks_search_path_still_gets_its_ledger_row(
    dsn, sqlmig, mig_dir, verbose
):
    """The database's own search_path is empty too: after the session reset, an
    unqualified ledger or history write would find no table, whichever ledger is used."""
    with psycopg.connect(dsn, autocommit=True) as conn:
        name = conn.info.dbname
        conn.execute(sql.SQL("alter database {} set search_path = ''").format(sql.Identifier(name)))
    mig_dir.write(
        "1-a.sql", "create table public.a (id int);\nselect set_config('search_path', '', false);\n"
    )
    mig_dir.write("2-b.sql", "set search_path = nothing_here;\ncreate table public.b (id int);\n")
    mig_dir.write(
        "3-c.sql",
        "-- sqlmig: no-transaction\nset search_path = nothing_here;\ncreate table public.c (id int);\n",
    )
    mig_dir.write("3-c.down.sql", "set search_path = '';\ndrop table public.c;\n")
    flags = ["-v"] if verbose else []
    for ledger in ([], list(OPS)):
        result = sqlmig(*ledger, *flags, "apply")
        assert result.exit_code == 0, result.output
        assert sqlmig(*ledger, "verify").exit_code == 0
        result = sqlmig(*ledger, "rollback")
        assert result.exit_code == 0, result.output
        assert sqlmig(*ledger, *flags, "apply").exit_code == 0
        run_sql(dsn, "drop table public.a, public.b, public.c")
    assert query(dsn, "select version from public.schema_migrations order by 1") == [
        (1,),
        (2,),
        (3,),
    ]
    assert [v for v, _, _ in ops_ledger(dsn)] == [1, 2, 3]
    assert [a for _, a, _ in ops_history(dsn)] == ["apply"] * 3 + ["rollback", "apply"]
    public = query(dsn, "select action from public.schema_migrations_history order by id")
    assert [a for (a,) in public] == ["apply"] * 3 + ["rollback", "apply"]


def test_two_ledgers_in_one_database_keep_separate_histories_and_locks(dsn, tmp_path):
    first, second = MigDir(tmp_path / "one"), MigDir(tmp_path / "two")
    for folder in (first, second):
        folder.path.mkdir()
    first.write("1-users.sql", "create table users (id int);")
    second.write("1-jobs.sql", "create table ops.jobs (id int);")
    second.write("2-runs.sql", "create table ops.runs (id int);")

    def run(folder: MigDir, table: str, *args: str):  # type: ignore[no-untyped-def]
        return invoke("--dsn", dsn, "--dir", str(folder), "--table", table, *args)

    run_sql(dsn, "create schema ops")
    assert run(first, "schema_migrations", "apply").exit_code == 0
    assert run(second, "ops.jobs_ledger", "apply").exit_code == 0
    assert query(dsn, "select version, name from public.schema_migrations") == [(1, "users")]
    assert query(dsn, "select version, name from ops.jobs_ledger order by 1") == [
        (1, "jobs"),
        (2, "runs"),
    ]
    assert query(dsn, "select count(*) from ops.jobs_ledger_history") == [(2,)]
    assert run(first, "public.schema_migrations", "verify").exit_code == 0
    assert run(second, "ops.jobs_ledger", "verify").exit_code == 0

    # While the first project's lock is held, the second applies; the first waits and gives up.
    first.write("2-more.sql", "create table more (id int);")
    second.write("3-more.sql", "create table ops.more (id int);")
    with psycopg.connect(dsn, autocommit=True) as holder:
        holder.execute("select pg_advisory_lock(%s)", (lock_key(DEFAULT_LEDGER),))
        assert run(second, "ops.jobs_ledger", "apply", "--lock-timeout", "1").exit_code == 0
        blocked = run(first, "schema_migrations", "apply", "--lock-timeout", "1")
        assert blocked.exit_code == 3, blocked.output
    assert query(dsn, "select max(version) from ops.jobs_ledger") == [(3,)]
    assert query(dsn, "select max(version) from public.schema_migrations") == [(1,)]


def test_the_lock_key_depends_on_the_ledger_only():
    ops = LedgerLocation.parse("ops.schema_migrations")
    assert ops == LedgerLocation("ops", "schema_migrations")
    assert lock_key(ops) == lock_key(LedgerLocation("ops", "schema_migrations"))
    assert lock_key(ops) != lock_key(DEFAULT_LEDGER)
    assert lock_key(LedgerLocation.parse("schema_migrations")) == LOCK_KEY
    # The key every earlier sqlmig took: an old and a new runner still exclude each other.
    earlier = hashlib.sha256(b"sqlmig:public.schema_migrations").digest()[:8]
    assert int.from_bytes(earlier, "big", signed=True) == LOCK_KEY


@pytest.mark.parametrize(
    ("value", "problem"),
    [
        ("a.b.c", "has more than one dot"),
        ("", "is not lower-case letters"),
        ("ops.", "is not lower-case letters"),
        (".ledger", "is not lower-case letters"),
        ("Ops.Ledger", "is not lower-case letters"),
        ("ops.my-ledger", "is not lower-case letters"),
        ('"ops".ledger', "is not lower-case letters"),
        ("1ledger", "is not lower-case letters"),
        ("pg_ops.ledger", "uses a pg_ schema"),
        ("ops." + "x" * 49, "has a table name longer than 48 bytes"),
        ("s" * 64 + ".ledger", "has a schema name longer than 63 bytes"),
    ],
)
def test_bad_table_values_are_usage_errors(tmp_path, value, problem):
    result = invoke(
        "--dsn", "postgresql://nobody@127.0.0.1:1/x", "--table", value, "status", cwd=tmp_path
    )
    assert result.exit_code == 2, result.output
    assert f"Error: --table {value!r} {problem}" in result.output
    assert "give `name` (in schema public) or `schema.name`" in result.output


def test_bad_values_from_the_environment_and_pyproject_name_their_source(tmp_path):
    result = invoke(
        "--dsn",
        "postgresql://x@127.0.0.1:1/x",
        "status",
        env={"SQLMIG_TABLE": "a.b.c"},
        cwd=tmp_path,
    )
    assert result.exit_code == 2
    assert "Error: SQLMIG_TABLE 'a.b.c' has more than one dot" in result.output
    (tmp_path / "pyproject.toml").write_text('[tool.sqlmig]\ntable = "A.b"\n')
    result = invoke("--dsn", "postgresql://x@127.0.0.1:1/x", "status", cwd=tmp_path)
    assert result.exit_code == 2
    assert (
        f"Error: {tmp_path / 'pyproject.toml'}: [tool.sqlmig] table 'A.b' is not" in result.output
    )


def test_precedence_flag_then_environment_then_pyproject_then_default(tmp_path: Path):
    assert config.resolve("x", cwd=tmp_path, env={}).ledger == LedgerLocation(
        "public", "schema_migrations"
    )
    (tmp_path / "pyproject.toml").write_text('[tool.sqlmig]\ntable = "ops.from_toml"\n')
    assert config.resolve("x", cwd=tmp_path, env={}).ledger == LedgerLocation("ops", "from_toml")
    env = {"SQLMIG_TABLE": "from_env"}
    assert config.resolve("x", cwd=tmp_path, env=env).ledger == LedgerLocation("public", "from_env")
    flagged = config.resolve("x", cwd=tmp_path, env=env, table="ops.flag")
    assert flagged.ledger == LedgerLocation("ops", "flag")
    with pytest.raises(UsageError):
        config.resolve("x", cwd=tmp_path, env={}, table="a.b.c")


def test_sibling_tables_are_named_beside_the_ledger():
    ops = LedgerLocation.parse("ops.ledger")
    assert ops.sibling("repeatable") == "ledger_repeatable"
    assert ops.history == "ledger_history"
    assert ops.identifier(ops.sibling("repeatable")).as_string() == '"ops"."ledger_repeatable"'
    assert ops.identifier().as_string() == '"ops"."ledger"'
    assert ops.relations == (
        "ledger",
        "ledger_history",
        "ledger_repeatable",
        "ledger_history_id_seq",
    )
    assert str(ops) == "ops.ledger"


def test_drift_check_and_models_leave_the_ledger_out_wherever_it_is(dsn, sqlmig, mig_dir, tmp_path):
    mig_dir.write("1-a.sql", "create schema app;\ncreate table app.items (id int primary key);")
    mig_dir.write(
        "2-b.sql", "create schema if not exists ops;\ncreate table ops.audit (id int primary key);"
    )
    assert sqlmig(*OPS, "apply").exit_code == 0
    drift = sqlmig(*OPS, "drift", "--format", "json")
    assert drift.exit_code == 0, drift.output
    assert json.loads(drift.output)["differences"] == []
    mig_dir.write("3-c.sql", "alter table ops.audit add column note text;")
    check = sqlmig(*OPS, "check")
    assert check.exit_code == 0, check.output

    from sqlmig.models import api as models_api
    from sqlmig.schemadiff import catalog

    settings = config.resolve(dsn, str(mig_dir), env={}, table="ops.schema_migrations")
    schema = models_api.read_schema(settings, ["ops", "app"])
    assert sorted(t.qualified for t in schema.tables) == ["app.items", "ops.audit"]
    out = tmp_path / "models.py"
    generated = sqlmig(*OPS, "models", "generate", "--schema", "ops", "--out", str(out))
    assert generated.exit_code == 0, generated.output
    assert "schema_migrations" not in out.read_text()
    with psycopg.connect(dsn) as conn:
        names = set(catalog.snapshot(conn, ledger=settings.ledger).objects["table"])
    assert names == {"app.items", "ops.audit"}
    # Under the default location, the ops tables are the user's own and would be compared.
    with psycopg.connect(dsn) as conn:
        names = set(catalog.snapshot(conn).objects["table"])
    assert "ops.schema_migrations" in names


def test_a_foreign_public_table_is_refused_only_when_it_is_the_ledger(dsn, sqlmig, mig_dir):
    run_sql(dsn, "create table public.schema_migrations (version varchar(128) primary key)")
    mig_dir.write("1-a.sql", "create table a (id int);")
    refused = sqlmig("status")
    assert refused.exit_code == 2
    assert "public.schema_migrations exists but is not sqlmig's ledger" in refused.output
    assert "sqlmig adopt --from dbmate --dry-run" in refused.output
    # With the ledger elsewhere, dbmate's table is simply someone else's.
    assert sqlmig(*OPS, "apply").exit_code == 0
    run_sql(dsn, "create table ops.foreign_ledger (version bigint primary key, dirty boolean)")
    refused = sqlmig("--table", "ops.foreign_ledger", "status")
    assert refused.exit_code == 2
    assert "ops.foreign_ledger exists but is not sqlmig's ledger" in refused.output


def test_adopt_writes_the_configured_ledger_and_leaves_the_tools_table(dsn, sqlmig, mig_dir):
    run_sql(
        dsn,
        "create table public.schema_migrations (version varchar(128) primary key)",
        "insert into public.schema_migrations values ('1'), ('2')",
        "create table a (id int)",
        "create table b (id int)",
    )
    mig_dir.write("1_a.sql", "create table a (id int);")
    mig_dir.write("2_b.sql", "create table b (id int);")
    mig_dir.write("3_c.sql", "create table c (id int);")
    result = sqlmig(*OPS, "adopt", "--from", "dbmate")
    assert result.exit_code == 0, result.output
    assert ops_ledger(dsn) == [(1, True, "adopted"), (2, True, "adopted")]
    assert [a for _, a, _ in ops_history(dsn)] == ["adopt", "adopt"]
    # Not in the ledger's way, so not renamed: dbmate keeps working on its own table.
    assert query(dsn, "select version from public.schema_migrations order by 1") == [("1",), ("2",)]
    assert query(dsn, "select to_regclass('public.schema_migrations_dbmate')") == [(None,)]
    assert sqlmig(*OPS, "verify").exit_code == 0
    assert sqlmig(*OPS, "apply").exit_code == 0
    assert [v for v, _, _ in ops_ledger(dsn)] == [1, 2, 3]
