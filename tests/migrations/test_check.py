"""`sqlmig check`: pending files rehearsed in a throwaway database, failures reported as
`apply` reports them, a lock report read from the server, and the target never written to.

The corpus of server-only pitfalls is tests/migrations/check_cases/<case>/: the files
(0001 is applied to the target first) and case.json (where and what the server says).
"""

from __future__ import annotations

import json
import shutil
import subprocess
import uuid
from pathlib import Path

import psycopg
import pytest
from psycopg import conninfo
from pytest_postgresql.janitor import DatabaseJanitor
from support.db import query

from sqlmig import migrations
from sqlmig.core import config
from sqlmig.core.errors import MigrationFailed, PlanRefused, ScriptError
from sqlmig.migrations.rehearse import rehearse

CASES = Path(__file__).parent / "check_cases"
CASE_NAMES = sorted(p.name for p in CASES.iterdir() if p.is_dir())


def shadows(pg) -> list[str]:
    rows = query(pg.dsn(), "select datname from pg_database where datname like 'sqlmig_shadow_%'")
    return [str(name) for (name,) in rows]


def schema_dump(pg, dsn: str) -> str:
    """pg_dump --schema-only where the server's own pg_dump is at hand, else the catalog."""
    if pg.bindir is not None:
        params = conninfo.conninfo_to_dict(dsn)
        cmd = [
            str(pg.bindir / "pg_dump"),
            "--schema-only",
            "--no-owner",
            "-h",
            str(params["host"]),
            "-p",
            str(params["port"]),
            "-U",
            str(params["user"]),
            str(params["dbname"]),
        ]
        dump = subprocess.run(cmd, check=True, capture_output=True, text=True).stdout
        # The per-dump random \restrict key (PG 18 pg_dump) is not schema.
        return "\n".join(
            line
            for line in dump.splitlines()
            if not line.startswith(("\\restrict", "\\unrestrict"))
        )
    rows = query(
        dsn,
        "select c.oid::regclass::text, c.relkind, c.relfilenode,"
        " pg_catalog.pg_get_viewdef(c.oid), (select string_agg(a.attname || ' '"
        " || pg_catalog.format_type(a.atttypid, a.atttypmod), ', ' order by a.attnum)"
        " from pg_attribute a where a.attrelid = c.oid and a.attnum > 0 and not a.attisdropped)"
        " from pg_class c where c.relnamespace = 'public'::regnamespace order by 1",
    )
    return repr(rows)


def ledger_rows(dsn: str) -> str:
    exists = query(dsn, "select to_regclass('public.schema_migrations') is not null")[0][0]
    if not exists:
        return "no ledger"
    return repr(query(dsn, "select * from schema_migrations order by version"))


def target_state(pg, dsn: str) -> tuple[str, str]:
    return schema_dump(pg, dsn), ledger_rows(dsn)


@pytest.fixture
def other_dsn(pg):
    """A second fresh database on the same server: where the real `apply` runs."""
    name = f"t_{uuid.uuid4().hex[:12]}"
    p = pg.params
    janitor = DatabaseJanitor(
        user=p["user"], host=p["host"], port=p["port"], dbname=name, password=p.get("password")
    )
    janitor.init()
    try:
        yield pg.dsn(name)
    finally:
        janitor.drop()


def copy_case(case: str, mig_dir) -> dict[str, object]:
    for path in sorted((CASES / case / "migrations").iterdir()):
        shutil.copyfile(path, mig_dir.path / path.name)
    return json.loads((CASES / case / "case.json").read_text())  # type: ignore[no-any-return]


# --- the server-only pitfalls ---------------------------------------------------------


@pytest.mark.parametrize("case", CASE_NAMES)
def test_server_only_pitfalls_are_reported_where_apply_reports_them(
    pg, dsn, other_dsn, mig_dir, case
):
    expected = copy_case(case, mig_dir)
    settings = config.resolve(dsn, mig_dir.path)
    migrations.apply(settings, target=1)
    before = target_state(pg, dsn)

    result = rehearse(settings)

    failure = result.failure
    assert failure is not None and result.failed_in == "rehearsal"
    assert failure.path.endswith(str(expected["file"]))
    assert (failure.line, failure.column) == (expected["line"], expected["column"])
    assert (failure.sqlstate, failure.server_message) == (expected["sqlstate"], expected["message"])
    assert failure.hint == expected.get("hint")
    assert [f.script.filename for f in result.files] == [expected["file"]]
    assert result.files[0].failed
    assert target_state(pg, dsn) == before
    assert shadows(pg) == []

    # The real thing, on another fresh database: the very same error text.
    other = config.resolve(other_dsn, mig_dir.path)
    migrations.apply(other, target=1)
    with pytest.raises(MigrationFailed) as applied:
        migrations.apply(other)
    assert str(applied.value) == str(failure)
    assert applied.value.as_dict() == failure.as_dict()


def test_a_runtime_error_without_a_position_is_located_as_apply_locates_it(
    pg, dsn, other_dsn, mig_dir
):
    mig_dir.write("1-a.sql", "create table a (id int);\n")
    mig_dir.write("2-b.sql", "insert into a values (1);\n\ninsert into a select 1 / 0;\n")
    settings = config.resolve(dsn, mig_dir.path)
    failure = rehearse(settings).failure
    assert failure is not None and (failure.line, failure.sqlstate) == (3, "22012")
    with pytest.raises(MigrationFailed) as applied:
        migrations.apply(config.resolve(other_dsn, mig_dir.path))
    assert str(applied.value) == str(failure)


def test_cli_reports_the_failure_as_apply_does_and_exits_1(pg, dsn, other_dsn, mig_dir, sqlmig):
    copy_case("unknown-enum-label-in-partial-index", mig_dir)
    assert sqlmig("apply", "--target", "1").exit_code == 0
    before = target_state(pg, dsn)

    checked = sqlmig("check")

    assert checked.exit_code == 1
    applied = sqlmig("apply", dsn_=other_dsn)
    assert applied.exit_code == 1
    error = applied.stderr[applied.stderr.index("Error: ") :]
    assert error.startswith("Error: ") and "0002-one-waiting.sql:3:20: ERROR 22P02" in error
    assert error in checked.stderr
    assert "the target was not written to" in checked.stdout
    assert target_state(pg, dsn) == before
    assert shadows(pg) == []

    as_json = sqlmig("check", "--format", "json")
    assert as_json.exit_code == 1
    payload = json.loads(as_json.stdout)
    assert payload["ok"] is False and payload["built_from"] == ["0001-base.sql"]
    assert payload["failure"]["phase"] == "rehearsal"
    assert (payload["failure"]["line"], payload["failure"]["column"]) == (3, 20)
    assert payload["failure"]["server_message"] == (
        'invalid input value for enum task_status: "WAITING"'
    )
    assert payload["files"][0]["ok"] is False
    assert target_state(pg, dsn) == before
    assert shadows(pg) == []


# --- the target is only read ----------------------------------------------------------


def test_the_target_schema_dump_and_ledger_are_byte_identical_afterwards(pg, dsn, mig_dir, sqlmig):
    mig_dir.write("1-a.sql", "create table t (id int primary key, v text);\n")
    mig_dir.write(
        "2-b.sql",
        "alter table t add column seen timestamptz default clock_timestamp();\n"
        "alter table t alter column v type varchar(20);\n"
        "create table more (id int);\n",
    )
    mig_dir.write("3-c.sql", "-- sqlmig: no-transaction\ncreate index concurrently t_v on t (v);\n")
    assert sqlmig("apply", "--target", "1").exit_code == 0
    query(dsn, "insert into t values (1, 'one')")
    before = target_state(pg, dsn)
    rows = query(dsn, "select * from t")

    result = sqlmig("check")

    assert result.exit_code == 0, result.output
    assert "OK: 2 file(s) rehearsed clean" in result.stdout
    assert target_state(pg, dsn) == before
    assert query(dsn, "select * from t") == rows
    assert shadows(pg) == []
    # and apply would indeed change it: the dump can tell
    assert sqlmig("apply").exit_code == 0
    assert target_state(pg, dsn) != before


def test_the_shadow_is_gone_when_a_file_fails_and_later_files_do_not_run(pg, dsn, mig_dir):
    mig_dir.write("1-a.sql", "create table a (id int);\n")
    mig_dir.write("2-b.sql", "create table b (id int);\ncreate tabel c (id int);\n")
    mig_dir.write("3-c.sql", "create table d (id int);\n")
    result = rehearse(config.resolve(dsn, mig_dir.path))
    assert result.failure is not None and (result.failure.line, result.failure.column) == (2, 8)
    assert [f.script.version for f in result.files] == [1, 2]
    assert [f.failed for f in result.files] == [False, True]
    assert shadows(pg) == []
    assert ledger_rows(dsn) == "no ledger"


def test_refused_and_malformed_plans_stop_check_as_they_stop_apply(pg, dsn, mig_dir):
    mig_dir.write("1-a.sql", "create table a (id int);\n")
    settings = config.resolve(dsn, mig_dir.path)
    migrations.apply(settings)
    mig_dir.write("1-a.sql", "create table a (id bigint);\n")
    with pytest.raises(PlanRefused, match=r"1-a\.sql"):
        rehearse(settings)
    mig_dir.write("1-a.sql", "create table a (id int);\n")
    mig_dir.write("2-b.sql", "begin;\ncreate table b (id int);\ncommit;\n")
    with pytest.raises(ScriptError, match=r"2-b.sql:1:1: BEGIN"):
        rehearse(settings)
    assert shadows(pg) == []


def test_all_rehearses_every_file_from_an_empty_database(pg, dsn, mig_dir):
    mig_dir.write("1-a.sql", "create table a (id int);\n")
    mig_dir.write("2-b.sql", "create index on a (id);\n")
    settings = config.resolve(dsn, mig_dir.path)
    migrations.apply(settings)
    assert rehearse(settings).files == []  # nothing pending
    result = rehearse(settings, all_files=True)
    assert result.failure is None and result.built_from == []
    assert [f.script.version for f in result.files] == [1, 2]
    assert shadows(pg) == []


def test_shadow_dsn_picks_the_server(pg, dsn, mig_dir, sqlmig):
    mig_dir.write("1-a.sql", "create table a (id int);\n")
    result = sqlmig("check", "--shadow-dsn", pg.dsn(), "--format", "json")
    assert result.exit_code == 0, result.output
    payload = json.loads(result.stdout)
    assert payload["shadow"] == "on --shadow-dsn's server" and payload["ok"] is True
    assert shadows(pg) == []


# --- the lock report --------------------------------------------------------------------


def lock_of(report, relation: str):
    (lock,) = [lock for lock in report.locks if lock.relation == relation]
    return lock


def test_lock_report_names_table_level_rewrite_and_scan(dsn, mig_dir):
    mig_dir.write(
        "1-base.sql",
        "create table t (id int primary key, v text);\n"
        "create table u (id int, name text);\n"
        "create table w (id int);\n",
    )
    mig_dir.write(
        "2-change.sql",
        "-- a volatile default: every row gets its own value\n"
        "alter table t add column seen timestamptz default clock_timestamp();\n"
        "create index u_name on u (name);\n"
        "alter table w add column n int default 5;\n"
        "create table fresh (id int);\n"
        "create index on fresh (id);\n",
    )
    mig_dir.write(
        "3-validate.sql",
        "set lock_timeout = '2s';\n"
        "alter table w add constraint w_pos check (id > 0) not valid;\n"
        "alter table u alter column name set not null;\n"
        "alter table w alter column id type bigint;\n",
    )
    settings = config.resolve(dsn, mig_dir.path)
    migrations.apply(settings, target=1)

    result = rehearse(settings)

    assert result.failure is None
    change, validate = result.files
    add, index, constant, create, index_fresh = change.statements
    assert (add.line, add.column) == (2, 1)
    assert add.text == "alter table t add column seen timestamptz default clock_timestamp()"
    seen = lock_of(add, "public.t")
    assert (seen.mode, seen.level, seen.rewrite) == (
        "AccessExclusiveLock",
        "ACCESS EXCLUSIVE",
        True,
    )
    assert add.findings == ["rewrite", "access-exclusive", "blocking", "no-lock-timeout"]
    built = lock_of(index, "public.u")
    assert (built.mode, built.level, built.rewrite, built.scan) == (
        "ShareLock",
        "SHARE",
        False,
        True,
    )
    assert index.findings == ["scan", "share", "blocking", "no-lock-timeout"]
    # a constant default is catalog-only since PG 11: locked, not rewritten
    fast = lock_of(constant, "public.w")
    assert (fast.mode, fast.rewrite, fast.scan) == ("AccessExclusiveLock", False, False)
    # what the file itself creates is invisible to others until COMMIT: not reported
    assert create.locks == [] and index_fresh.locks == []

    set_timeout, not_valid, not_null, retype = validate.statements
    assert set_timeout.locks == [] and not_valid.lock_timeout == "2s"
    assert not lock_of(not_valid, "public.w").scan  # NOT VALID: no scan
    assert "no-lock-timeout" not in not_valid.findings
    assert lock_of(not_null, "public.u").scan and "scan" in not_null.findings
    assert lock_of(retype, "public.w").rewrite
    assert result.failing({"rewrite"}) == [(change, add), (validate, retype)]
    assert result.failing({"exclusive"}) == []


def test_no_transaction_files_run_statement_by_statement_in_autocommit(dsn, mig_dir):
    mig_dir.write("1-a.sql", "create table t (id int, v text);\n")
    mig_dir.write(
        "2-b.sql",
        "-- sqlmig: no-transaction\n"
        "create index concurrently t_v on t (v);\n"
        "alter table t alter column id type bigint;\n"
        "vacuum full t;\n"
        "reindex table concurrently t;\n",
    )
    settings = config.resolve(dsn, mig_dir.path)
    migrations.apply(settings, target=1)
    (file,) = rehearse(settings).files
    assert not file.transactional and not file.failed
    concurrently, retype, vacuum, reindex = file.statements
    lock = lock_of(concurrently, "public.t")
    assert (lock.mode, lock.source) == ("ShareUpdateExclusiveLock", "statement kind")
    assert concurrently.findings == []
    assert (
        lock_of(retype, "public.t").rewrite and lock_of(retype, "public.t").source == "autocommit"
    )
    full = lock_of(vacuum, "public.t")
    assert (full.mode, full.rewrite, full.source) == ("AccessExclusiveLock", True, "autocommit")
    assert vacuum.findings == ["rewrite", "access-exclusive", "blocking", "no-lock-timeout"]
    assert lock_of(reindex, "public.t").mode == "ShareUpdateExclusiveLock"


def test_the_targets_own_lock_timeout_is_the_rehearsals(pg, dsn, mig_dir):
    mig_dir.write("1-a.sql", "create table t (id int);\n")
    mig_dir.write("2-b.sql", "alter table t add column n int;\n")
    settings = config.resolve(dsn, mig_dir.path)
    migrations.apply(settings, target=1)
    dbname = conninfo.conninfo_to_dict(dsn)["dbname"]
    with psycopg.connect(dsn, autocommit=True) as conn:
        conn.execute(
            psycopg.sql.SQL("alter database {} set lock_timeout = '3s'").format(
                psycopg.sql.Identifier(str(dbname))
            )
        )
    (file,) = rehearse(settings).files
    (statement,) = file.statements
    assert statement.lock_timeout == "3s"
    assert "no-lock-timeout" not in statement.findings


def test_cli_lock_report_text_json_and_fail_on(dsn, mig_dir, sqlmig):
    mig_dir.write("1-a.sql", "create table t (id int primary key);\ncreate table u (v text);\n")
    mig_dir.write(
        "2-b.sql",
        "alter table t add column seen timestamptz default clock_timestamp();\n"
        "create index on u (v);\n",
    )
    assert sqlmig("apply", "--target", "1").exit_code == 0

    text = sqlmig("check")
    assert text.exit_code == 0, text.output
    out = text.stdout
    assert "2-b.sql:1:1: alter table t add column seen timestamptz default clock_timestamp()" in out
    assert "public.t: ACCESS EXCLUSIVE, rewrote the table (relfilenode changed)" in out
    assert "2-b.sql:2:1: create index on u (v)  [scan, share, blocking, no-lock-timeout]" in out
    assert "public.u: SHARE, scanned the whole table under that lock" in out

    as_json = sqlmig("check", "--format", "json")
    assert as_json.exit_code == 0
    payload = json.loads(as_json.stdout)
    assert payload["ok"] is True and payload["failure"] is None
    (file,) = payload["files"]
    first, second = file["statements"]
    assert (first["line"], first["locks"][0]["relation"], first["locks"][0]["level"]) == (
        1,
        "public.t",
        "ACCESS EXCLUSIVE",
    )
    assert first["locks"][0]["rewrite"] is True
    assert (second["line"], second["locks"][0]["relation"], second["locks"][0]["level"]) == (
        2,
        "public.u",
        "SHARE",
    )

    failing = sqlmig("check", "--fail-on", "rewrite,access-exclusive")
    assert failing.exit_code == 1
    assert "check failed: --fail-on access-exclusive,rewrite names findings of 1" in failing.stdout
    assert "2-b.sql:1:1: rewrite, access-exclusive" in failing.stdout
    assert "OK:" not in failing.stdout
    assert sqlmig("check", "--fail-on", "exclusive").exit_code == 0
    failing_json = sqlmig("check", "--fail-on", "share", "--format", "json")
    assert failing_json.exit_code == 1
    failed = json.loads(failing_json.stdout)
    assert failed["ok"] is False and [f["line"] for f in failed["failing"]] == [2]
    bad = sqlmig("check", "--fail-on", "slow")
    assert bad.exit_code == 2 and "unknown finding(s) slow" in bad.stderr


def test_check_is_no_longer_a_habit_word(sqlmig):
    result = sqlmig("check", "--help")
    assert result.exit_code == 0 and "Rehearse pending migrations" in result.output
