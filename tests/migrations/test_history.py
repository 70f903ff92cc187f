"""The history table: every apply, rollback, repair and baseline appended, who, when, how
long and the outcome; ``sqlmig history`` in text and JSON; an old database without it.

Helpers (schema dump, ledger and history rows) come from test_rollback.py.
"""

from __future__ import annotations

import getpass
import json

from migrations.test_rollback import HISTORY, checksum, history_rows, ledger_rows, schema_dump
from support.db import named, query


def test_apply_appends_one_row_per_file_with_who_and_how_long(dsn, sqlmig, mig_dir, monkeypatch):
    monkeypatch.setenv("SQLMIG_ACTOR", "deploy-bot")
    mig_dir.write("1-a.sql", "create table a (id int);")
    mig_dir.write("2-b.sql", "-- sqlmig: no-transaction\ncreate table b (id int);")
    assert sqlmig("apply").exit_code == 0
    assert history_rows(dsn) == [
        (1, "apply", "success", None, checksum(dsn, 1)),
        (2, "apply", "success", None, checksum(dsn, 2)),
    ]
    rows = query(
        dsn, named("select db_user, actor, execution_ms >= 0, at <= now() from {h}", h=HISTORY)
    )
    user = query(dsn, "select current_user")[0][0]
    assert rows == [(user, "deploy-bot", True, True)] * 2


def test_actor_defaults_to_the_os_user(dsn, sqlmig, mig_dir, monkeypatch):
    monkeypatch.delenv("SQLMIG_ACTOR", raising=False)
    mig_dir.write("1-a.sql", "create table a (id int);")
    assert sqlmig("apply").exit_code == 0
    assert query(dsn, named("select actor from {h}", h=HISTORY)) == [(getpass.getuser(),)]


def test_history_row_commits_in_the_files_transaction(pg, dsn, sqlmig, mig_dir):
    """A file that makes its own history insert fail rolls back whole: no table, no row."""
    mig_dir.write("1-a.sql", "create table a (id int);")
    assert sqlmig("apply").exit_code == 0
    before = schema_dump(pg, dsn)
    mig_dir.write(
        "2-b.sql",
        "create table b (id int);\n"
        "create function no_history() returns trigger language plpgsql as\n"
        "$$ begin raise exception 'history refused'; end $$;\n"
        f"create trigger no_history before insert on {HISTORY}\n"
        "for each row execute function no_history();\n",
    )
    result = sqlmig("apply")
    assert result.exit_code == 1
    assert ledger_rows(dsn) == [(1, True)]
    assert schema_dump(pg, dsn) == before  # b, the function and the trigger rolled back
    # The failure itself is recorded after the rollback (the trigger is gone with it).
    assert history_rows(dsn)[-1] == (2, "apply", "failed", None, None)


def test_failed_transactional_file_leaves_a_failed_row_and_no_ledger_row(pg, dsn, sqlmig, mig_dir):
    mig_dir.write("1-a.sql", "create table a (id int);")
    assert sqlmig("apply").exit_code == 0
    before = schema_dump(pg, dsn)
    mig_dir.write("2-b.sql", "create table b (id int);\nselect 1/0;\n")
    assert sqlmig("apply").exit_code == 1
    assert ledger_rows(dsn) == [(1, True)]
    assert [r[:3] for r in history_rows(dsn)] == [(1, "apply", "success"), (2, "apply", "failed")]
    assert schema_dump(pg, dsn) == before


def test_refused_before_running_writes_no_history(dsn, sqlmig, mig_dir):
    mig_dir.write("1-a.sql", "create table a ();\ncommit;\n")
    assert sqlmig("apply").exit_code == 2
    assert history_rows(dsn) == [] and ledger_rows(dsn) == []
    assert query(dsn, "select to_regclass(%s)", f"public.{HISTORY}") == [(None,)]


def test_baseline_is_recorded(pg, dsn, sqlmig, mig_dir):
    query(dsn, "create table a (id int)")
    before = schema_dump(pg, dsn)
    mig_dir.write("1-a.sql", "create table a (id int);")
    mig_dir.write("2-b.sql", "create table b (id int);")
    assert sqlmig("baseline", "1").exit_code == 0
    assert ledger_rows(dsn) == [(1, True)]
    assert history_rows(dsn) == [(1, "baseline", "success", None, checksum(dsn, 1))]
    assert sqlmig("baseline", "1").exit_code == 2  # refused: no second row
    assert len(history_rows(dsn)) == 1
    dump = schema_dump(pg, dsn)
    assert "CREATE TABLE public.a" in before and "CREATE TABLE public.b" not in dump


def test_repair_records_accepted_edits_and_removed_rows(dsn, sqlmig, mig_dir):
    mig_dir.write("1-a.sql", "create table a (id int);")
    mig_dir.write("2-b.sql", "-- sqlmig: no-transaction\ncreate table b (id int);\nselect 1/0;\n")
    assert sqlmig("apply").exit_code == 1
    old = checksum(dsn, 1)
    failed = checksum(dsn, 2)
    mig_dir.write("1-a.sql", "create table a (id int); -- reviewed")
    dry = sqlmig("repair", "--dry-run")
    assert dry.exit_code == 0 and len(history_rows(dsn)) == 2  # a dry run records nothing
    assert sqlmig("repair").exit_code == 0
    assert ledger_rows(dsn) == [(1, True)]
    new = query(dsn, "select accepted_checksum from schema_migrations")[0][0]
    assert history_rows(dsn)[2:] == [
        (1, "repair", "success", old, new),
        (2, "repair", "success", failed, None),
    ]
    details = query(
        dsn, named("select detail from {h} where action = 'repair' order by id", h=HISTORY)
    )
    assert "accepted the edited file" in details[0][0]
    assert "removed the failed row" in details[1][0]


def test_history_is_append_only(dsn, sqlmig, mig_dir):
    mig_dir.write("1-a.sql", "create table a (id int);")
    mig_dir.write("1-a.down.sql", "drop table a;")
    for command in ("apply", "rollback", "apply"):
        assert sqlmig(command).exit_code == 0
    rows = query(dsn, named("select id, action from {h} order by id", h=HISTORY))
    assert [a for _, a in rows] == ["apply", "rollback", "apply"]
    assert [i for i, _ in rows] == sorted({i for i, _ in rows})
    assert ledger_rows(dsn) == [(1, True)]


def test_history_command_text_json_and_version(dsn, sqlmig, mig_dir, monkeypatch):
    monkeypatch.setenv("SQLMIG_ACTOR", "ci")
    empty = sqlmig("history")
    assert empty.exit_code == 0 and "No history yet." in empty.stdout
    mig_dir.write("1-a.sql", "create table a (id int);")
    mig_dir.write("2-b.sql", "create table b (id int);")
    mig_dir.write("2-b.down.sql", "drop table b;")
    assert sqlmig("apply").exit_code == 0
    assert sqlmig("rollback").exit_code == 0
    text = sqlmig("history")
    assert text.exit_code == 0
    lines = text.stdout.splitlines()
    header = "when version name action outcome ms checksum who"
    assert lines[0].split() == header.split()
    assert [line.split()[2:6] for line in lines[1:4]] == [
        ["1", "a", "apply", "success"],
        ["2", "b", "apply", "success"],
        ["2", "b", "rollback", "success"],
    ]
    assert lines[-1] == "3 history row(s)" and "(ci)" in lines[1]
    one = sqlmig("--format", "json", "history", "--version", "2")
    rows = json.loads(one.stdout)["history"]
    assert [(r["version"], r["action"], r["outcome"], r["actor"]) for r in rows] == [
        (2, "apply", "success", "ci"),
        (2, "rollback", "success", "ci"),
    ]
    assert rows[0]["checksum_after"] == rows[1]["checksum_before"] is not None
    assert rows[1]["checksum_after"] is None


def test_an_old_database_without_history_keeps_working(pg, dsn, sqlmig, mig_dir):
    mig_dir.write("1-a.sql", "create table a (id int);")
    mig_dir.write("2-b.sql", "create table b (id int);")
    mig_dir.write("2-b.down.sql", "drop table b;")
    assert sqlmig("apply", "--target", "1").exit_code == 0
    query(dsn, named("drop table {h}", h=HISTORY))  # as an older sqlmig left it
    for command in ("status", "verify", "history"):
        assert sqlmig(command).exit_code == 0
    assert "No history yet." in sqlmig("history").stdout
    assert sqlmig("apply").exit_code == 0  # the next write creates the table
    assert history_rows(dsn) == [(2, "apply", "success", None, checksum(dsn, 2))]
    query(dsn, named("drop table {h}", h=HISTORY))
    assert sqlmig("rollback").exit_code == 0  # rollback creates it too
    assert [r[:3] for r in history_rows(dsn)] == [(2, "rollback", "success")]
    assert ledger_rows(dsn) == [(1, True)]
    assert "CREATE TABLE public.b" not in schema_dump(pg, dsn)
