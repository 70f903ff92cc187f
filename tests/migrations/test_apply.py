"""apply / status / verify against a real server (acceptance 1-4, 8 of the runner issue)."""

from __future__ import annotations

import json

import pytest
from support.db import query

from sqlmig.migrations.files import checksum as file_checksum

LONG = """-- 10-c.sql: the error is on line 7
create table c (
  id int primary key
);

insert into c values (1);
create tabel oops (id int);
insert into c values (2);
"""


def tables(dsn):
    # The history table is sqlmig's audit trail, checked in test_history.py and test_rollback.py.
    rows = query(
        dsn,
        "select tablename from pg_tables where schemaname = 'public'"
        " and tablename <> 'schema_migrations_history' order by 1",
    )
    return [r[0] for r in rows]


def ledger(dsn):
    if not query(dsn, "select to_regclass('public.schema_migrations') is not null")[0][0]:
        return []
    return query(dsn, "select version, name, success from schema_migrations order by version")


def test_apply_then_noop_then_status(sqlmig, mig_dir, dsn):
    mig_dir.write("1-a.sql", "create table a (id int);")
    mig_dir.write("2-b.sql", "create table b (id int);\ninsert into b values (1);\n")
    result = sqlmig("apply")
    assert result.exit_code == 0, result.output
    assert "applied 1-a.sql" in result.output and "applied 2-b.sql" in result.output
    assert tables(dsn) == ["a", "b", "schema_migrations"]
    again = sqlmig("apply")
    assert again.exit_code == 0
    assert "Nothing to apply: 2 migration(s) already applied." in again.output
    status = sqlmig("status")
    assert status.stdout.splitlines()[0].startswith("[X] 1-a.sql")
    assert status.stdout.splitlines()[-1] == "2 migration(s): 2 applied"


def test_ledger_keeps_text_checksum_and_timing(sqlmig, mig_dir, dsn):
    mig_dir.write("1-a.sql", "create table a (id int);\r\n")
    assert sqlmig("apply").exit_code == 0
    ((script, checksum, ms, by, kind),) = query(
        dsn, "select script, checksum, execution_ms, applied_by, kind from schema_migrations"
    )
    # The text that ran, line endings included (issue 8, item 8); the checksum ignores them.
    assert script == "create table a (id int);\r\n"
    assert checksum == file_checksum("create table a (id int);\n")
    assert len(checksum) == 64 and ms >= 0 and by == "postgres" and kind == "migration"


def test_numeric_order(sqlmig, mig_dir, dsn):
    mig_dir.write("9-x.sql", "create table x (id int);")
    mig_dir.write("10-y.sql", "alter table x add column y int;")  # fails if run before 9
    assert sqlmig("apply").exit_code == 0
    assert [r[0] for r in ledger(dsn)] == [9, 10]


@pytest.mark.parametrize(
    ("files", "named"),
    [
        ({"1-a.sql": "create table a();", "01-b.sql": "create table b();"}, "01-b.sql"),
        ({"1-a.sql": "create table a();", "notes.sql": "x"}, "notes.sql"),
        ({"1-a.sql": "create table a();", "2-b.down.sql": "x"}, "2-b.down.sql"),
        ({"1-a.sql": "create table a();", "2-b.sql": b"select '\xff';"}, "2-b.sql:1:9"),
    ],
)
def test_bad_files_exit_2_and_touch_nothing(sqlmig, mig_dir, dsn, files, named):
    for name, text in files.items():
        mig_dir.write(name, text)
    result = sqlmig("apply")
    assert result.exit_code == 2
    assert named in result.stderr and result.stderr.startswith("Error: ")
    assert tables(dsn) == []


def test_syntax_error_reports_location_and_leaves_no_trace(sqlmig, mig_dir, dsn):
    mig_dir.write("1-a.sql", "create table a (id int);")
    path = mig_dir.write("10-c.sql", LONG)
    mig_dir.write("11-d.sql", "create table d (id int);")
    result = sqlmig("apply")
    assert result.exit_code == 1
    err = result.stderr
    assert f'{path}:7:8: ERROR 42601: syntax error at or near "tabel"' in err
    assert "> 7 | create tabel oops (id int);" in err
    assert "10-c.sql was rolled back" in err
    assert tables(dsn) == ["a", "schema_migrations"]
    assert [r[0] for r in ledger(dsn)] == [1]


def test_runtime_error_reports_statement_detail_and_hint(sqlmig, mig_dir, dsn):
    mig_dir.write(
        "1-a.sql",
        "create table a (id int primary key);\n"
        "insert into a values (1);\n"
        "  insert into a values (1);\n",
    )
    result = sqlmig("--format", "json", "apply")
    assert result.exit_code == 1
    payload = json.loads(result.stdout)
    assert (payload["line"], payload["column"], payload["sqlstate"]) == (3, 3, "23505")
    assert payload["detail"] == "Key (id)=(1) already exists."
    assert "DETAIL: Key (id)=(1) already exists." in result.stderr
    assert tables(dsn) == ["schema_migrations"] and ledger(dsn) == []


def test_hint_from_server_is_shown(sqlmig, mig_dir):
    mig_dir.write("1-a.sql", "select 1;\nselect lenght('x');\n")
    result = sqlmig("apply")
    assert result.exit_code == 1
    assert "1-a.sql:2:8: ERROR 42883: function lenght(unknown) does not exist" in result.stderr
    assert "HINT: No function matches the given name and argument types." in result.stderr


def test_error_inside_function_body_maps_to_file(sqlmig, mig_dir):
    mig_dir.write(
        "1-a.sql",
        "create function f() returns int language plpgsql as $$\nbegin\n  retrun 1;\nend $$;\n",
    )
    result = sqlmig("apply")
    assert result.exit_code == 1
    assert "1-a.sql:3:3: ERROR 42601" in result.stderr


def test_percent_and_unicode_pass_through(sqlmig, mig_dir, dsn):
    mig_dir.write("1-a.sql", "create table a (t text);\ninsert into a values ('100% é');\n")
    assert sqlmig("apply").exit_code == 0
    assert query(dsn, "select t from a") == [("100% é",)]


def test_commit_inside_transactional_file_is_refused_before_running(sqlmig, mig_dir, dsn):
    mig_dir.write("1-a.sql", "create table a ();")
    mig_dir.write("2-b.sql", "create table b ();\ncommit;\n")
    result = sqlmig("apply")
    assert result.exit_code == 2
    assert "2-b.sql:2:1: COMMIT inside a migration" in result.stderr
    assert tables(dsn) == []


def test_no_transaction_file_runs_concurrently_index(sqlmig, mig_dir, dsn):
    mig_dir.write("1-a.sql", "create table a (id int);")
    mig_dir.write(
        "2-idx.sql",
        "-- sqlmig: no-transaction\ncreate index concurrently a_id on a (id);\n",
    )
    result = sqlmig("apply")
    assert result.exit_code == 0, result.output
    assert query(dsn, "select indexname from pg_indexes where tablename = 'a'") == [("a_id",)]


def test_concurrently_in_transactional_file_suggests_directive(sqlmig, mig_dir):
    mig_dir.write("1-a.sql", "create table a (id int);\ncreate index concurrently i on a (id);\n")
    result = sqlmig("apply")
    assert result.exit_code == 1
    assert "ERROR 25001" in result.stderr and "-- sqlmig: no-transaction" in result.stderr


def test_failed_no_transaction_file_blocks_until_repair(sqlmig, mig_dir, dsn):
    mig_dir.write("1-a.sql", "create table a (id int);")
    path = mig_dir.write(
        "2-b.sql",
        "-- sqlmig: no-transaction\ncreate table b (id int);\nselect 1 / 0;\n",
    )
    mig_dir.write("3-c.sql", "create table d (id int);")
    first = sqlmig("apply")
    assert first.exit_code == 1
    assert "runs without a transaction" in first.stderr and "sqlmig repair" in first.stderr
    assert ledger(dsn) == [(1, "a", True), (2, "b", False)]
    assert "[!] 2-b.sql" in sqlmig("status").output
    second = sqlmig("apply")
    assert second.exit_code == 1 and "failed" in second.stderr and "3-c.sql" not in second.output
    assert sqlmig("verify").exit_code == 1
    # Fix by hand, repair, re-run.
    query(dsn, "drop table b")
    path.write_text("-- sqlmig: no-transaction\ncreate table b (id int);\n")
    repaired = sqlmig("repair")
    assert repaired.exit_code == 0 and "2-b.sql: removed the failed row" in repaired.output
    assert sqlmig("apply").exit_code == 0
    assert [r[0] for r in ledger(dsn)] == [1, 2, 3]


def test_no_transaction_syntax_error_applies_nothing_and_records_nothing(sqlmig, mig_dir, dsn):
    mig_dir.write(
        "1-b.sql", "-- sqlmig: no-transaction\ncreate table b (id int);\ncreate tabel c ();\n"
    )
    result = sqlmig("apply")
    assert result.exit_code == 1
    assert "1-b.sql:3:8: ERROR 42601" in result.stderr and "rolled back" in result.stderr
    assert tables(dsn) == ["schema_migrations"] and ledger(dsn) == []


def test_modified_file_verify_diff_and_apply_refuses(sqlmig, mig_dir, dsn):
    path = mig_dir.write("1-a.sql", "create table a (\n  id int\n);\n")
    mig_dir.write("2-b.sql", "create table b ();")
    assert sqlmig("apply").exit_code == 0
    path.write_text("create table a (\n  id bigint\n);\n")
    mig_dir.write("3-c.sql", "create table c ();")
    verify = sqlmig("verify")
    assert verify.exit_code == 1
    assert "modified     1-a.sql: changed since it was applied" in verify.output
    assert "-  id int\n+  id bigint" in verify.output
    assert "--- 1-a.sql (applied)" in verify.output
    refused = sqlmig("apply")
    assert refused.exit_code == 1
    assert "refusing to apply" in refused.stderr and "+  id bigint" in refused.stderr
    assert "c" not in tables(dsn)
    assert "[~] 1-a.sql" in sqlmig("status").output


def test_crlf_only_change_is_not_a_modification(sqlmig, mig_dir):
    path = mig_dir.write("1-a.sql", "create table a (\n  id int\n);\n")
    assert sqlmig("apply").exit_code == 0
    path.write_bytes(b"\xef\xbb\xbfcreate table a (\r\n  id int\r\n);\r\n")
    assert sqlmig("verify").exit_code == 0
    assert sqlmig("apply").exit_code == 0


def test_missing_file(sqlmig, mig_dir):
    path = mig_dir.write("1-a.sql", "create table a ();")
    mig_dir.write("2-b.sql", "create table b ();")
    assert sqlmig("apply").exit_code == 0
    path.unlink()
    verify = sqlmig("verify")
    assert verify.exit_code == 1 and "missing      1-a.sql" in verify.output
    assert sqlmig("apply").exit_code == 1


def test_verify_strict_and_json(sqlmig, mig_dir):
    mig_dir.write("1-a.sql", "create table a ();")
    assert sqlmig("apply").exit_code == 0
    mig_dir.write("2-b.sql", "create table b ();")
    ok = sqlmig("verify")
    assert ok.exit_code == 0 and "1 pending" in ok.output
    assert sqlmig("verify", "--strict").exit_code == 1
    payload = json.loads(sqlmig("--format", "json", "verify", "--strict").stdout)
    assert payload["ok"] is False and payload["problems"][0]["file"] == "2-b.sql"


def test_status_json_fields(sqlmig, mig_dir):
    mig_dir.write("1-a.sql", "create table a ();")
    assert sqlmig("apply").exit_code == 0
    mig_dir.write("2-b.sql", "create table b ();")
    payload = json.loads(sqlmig("--format", "json", "status").stdout)
    first, second = payload["migrations"]
    assert set(first) >= {"version", "name", "state", "checksum", "applied_at", "execution_ms"}
    assert (first["state"], second["state"]) == ("applied", "pending")
    assert second["applied_at"] is None
    assert payload["counts"]["applied"] == 1


def test_out_of_order_is_shown_and_refused(sqlmig, mig_dir, dsn):
    mig_dir.write("1-a.sql", "create table a ();")
    mig_dir.write("3-c.sql", "create table c ();")
    assert sqlmig("apply").exit_code == 0
    mig_dir.write("2-b.sql", "create table b ();")  # merged from a branch
    assert "[<] 2-b.sql                                  out-of-order" in sqlmig("status").output
    refused = sqlmig("apply")
    assert refused.exit_code == 1
    assert "2-b.sql: not applied, but a later version is" in refused.stderr
    assert "--out-of-order" in refused.stderr
    assert "b" not in tables(dsn)
    assert sqlmig("apply", "--out-of-order").exit_code == 0
    assert [r[0] for r in ledger(dsn)] == [1, 2, 3]


def test_target_and_dry_run(sqlmig, mig_dir, dsn):
    mig_dir.write("1-a.sql", "create table a ();")
    mig_dir.write("2-b.sql", "create table b ();")
    mig_dir.write("3-c.sql", "create table c ();")
    dry = sqlmig("apply", "--dry-run")
    assert dry.exit_code == 0
    assert "-- sqlmig dry run: would apply 2-b.sql" in dry.output
    assert "create table c ();" in dry.output
    assert tables(dsn) == []  # not even the ledger
    assert sqlmig("apply", "--target", "2").exit_code == 0
    assert tables(dsn) == ["a", "b", "schema_migrations"]


def test_create_db(sqlmig, mig_dir, pg):
    import uuid

    from pytest_postgresql.janitor import DatabaseJanitor

    name = f"t_new_{uuid.uuid4().hex[:8]}"
    mig_dir.write("1-a.sql", "create table a ();")
    target = pg.dsn(name)
    missing = sqlmig("apply", dsn_=target)
    assert missing.exit_code == 3 and "--create-db" in missing.stderr
    try:
        assert sqlmig("apply", "--create-db", dsn_=target).exit_code == 0
        assert tables(target) == ["a", "schema_migrations"]
    finally:
        p = pg.params
        DatabaseJanitor(user=p["user"], host=p["host"], port=p["port"], dbname=name).drop()


def test_unreachable_exits_3(sqlmig, mig_dir):
    mig_dir.write("1-a.sql", "select 1;")
    result = sqlmig("status", dsn_="postgresql://u@127.0.0.1:1/db?connect_timeout=2")
    assert result.exit_code == 3
    assert "cannot connect to database db on 127.0.0.1:1 (from --dsn)" in result.stderr
    assert "--wait SECONDS" in result.stderr


def test_wait_retries_then_gives_up(sqlmig, mig_dir):
    mig_dir.write("1-a.sql", "select 1;")
    result = sqlmig("apply", "--wait", "0.5", dsn_="postgresql://u@127.0.0.1:1/db")
    assert result.exit_code == 3 and "of --wait 0.5)" in result.stderr


def test_baseline_adopts_existing_database(sqlmig, mig_dir, dsn):
    query(dsn, "create table a (id int)")
    mig_dir.write("1-a.sql", "create table a (id int);")
    mig_dir.write("2-b.sql", "create table b (id int);")
    result = sqlmig("baseline", "1")
    assert result.exit_code == 0 and "Baselined 1 migration(s)" in result.output
    assert sqlmig("apply").exit_code == 0
    assert query(dsn, "select version, kind from schema_migrations order by 1") == [
        (1, "baseline"),
        (2, "migration"),
    ]
    assert sqlmig("baseline", "1").exit_code == 2


def test_rollback_runs_down_files_in_reverse(sqlmig, mig_dir, dsn):
    mig_dir.write("1-a.sql", "create table a ();")
    mig_dir.write("2-b.sql", "create table b ();")
    mig_dir.write("2-b.down.sql", "drop table b;")
    mig_dir.write("3-c.sql", "create table c (b int);")
    mig_dir.write("3-c.down.sql", "drop table c;")
    assert sqlmig("apply").exit_code == 0
    result = sqlmig("rollback", "--to", "1")
    assert result.exit_code == 0, result.output
    assert result.output.index("3-c.sql") < result.output.index("2-b.sql")
    assert tables(dsn) == ["a", "schema_migrations"]
    assert [r[0] for r in ledger(dsn)] == [1]
    no_down = sqlmig("rollback", "--to", "0")
    assert no_down.exit_code == 2 and "no down file for 1-a.sql" in no_down.stderr


def test_new_scaffolds_next_version(sqlmig, mig_dir):
    mig_dir.write("0009-a.sql", "select 1;")
    result = sqlmig("new", "Add Users!", "--down")
    assert result.exit_code == 0
    assert (mig_dir.path / "0010-add-users.sql").exists()
    assert (mig_dir.path / "0010-add-users.down.sql").exists()


def test_last_statement_without_semicolon_or_after_a_comment(sqlmig, mig_dir, dsn):
    mig_dir.write("1-a.sql", "create table a (id int)")
    mig_dir.write("2-b.sql", "create table b (id int); -- trailing comment, no newline")
    assert sqlmig("apply").exit_code == 0
    assert tables(dsn) == ["a", "b", "schema_migrations"]


def test_failure_that_does_not_reproduce_is_reported_without_a_guess(sqlmig, mig_dir, dsn):
    # Fails only on the first run: sequences are not rolled back, so the re-run
    # used to locate the statement succeeds. The report must not invent a location.
    query(dsn, "create sequence once")
    mig_dir.write(
        "1-a.sql",
        "create table a (id int);\nselect 1 / (nextval('once') - 1);\n",
    )
    result = sqlmig("apply")
    assert result.exit_code == 1
    assert "1-a.sql: ERROR 22012: division by zero" in result.stderr
    assert "could not be located" in result.stderr
    assert tables(dsn) == ["schema_migrations"] and ledger(dsn) == []
