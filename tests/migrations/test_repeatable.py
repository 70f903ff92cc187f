"""Repeatable migrations (``R-<name>.sql``, issue 11): run after the versioned ones, in name
order, whenever their checksum changes; their own table beside the ledger; history rows with
a NULL version; status, verify, dry run, rollback, ``new --repeatable``; two runners at once.

Every repeatable here appends to ``log`` (not idempotent on purpose), so the tests count runs.
"""

from __future__ import annotations

import hashlib
import json
import threading
import time

import pytest
from migrations.test_rollback import HISTORY, ledger_rows, schema_dump
from support.db import named, query

from sqlmig.core.config import resolve
from sqlmig.core.errors import ConnectionLost, MigrationFailed
from sqlmig.migrations.api import apply

REPEATABLE = "schema_migrations_repeatable"
LOG = "create table log (seq serial primary key, what text not null);\n"


def digest(text):
    return hashlib.sha256(text.encode()).hexdigest()


def log(dsn):
    return [w for (w,) in query(dsn, "select what from log order by seq")]


def rep_rows(dsn):
    """(name, checksum, script, success, failed_checksum) per repeatable, by name."""
    if not query(dsn, "select to_regclass(%s) is not null", f"public.{REPEATABLE}")[0][0]:
        return []
    return query(
        dsn,
        named(
            "select name, checksum, script, success, failed_checksum from {r} order by name",
            r=REPEATABLE,
        ),
    )


def rep_history(dsn):
    """(name, action, outcome, before, after) of the repeatables' history rows, oldest first."""
    return query(
        dsn,
        named(
            "select name, action, outcome, checksum_before, checksum_after"
            " from {h} where version is null order by id",
            h=HISTORY,
        ),
    )


def logging_file(what):
    return f"insert into log (what) values ('{what}');\n"


def three(mig_dir):
    """Two versioned files and three repeatables, written out of name order, both spellings."""
    mig_dir.write("1-log.sql", LOG)
    mig_dir.write("2-more.sql", logging_file("v2"))
    texts = {"c": logging_file("c"), "a": logging_file("a"), "b": logging_file("b")}
    mig_dir.write("r-c.sql", texts["c"])
    mig_dir.write("R_a.sql", texts["a"])
    mig_dir.write("R-b.sql", texts["b"])
    return texts


def test_first_apply_runs_them_after_the_versioned_ones_in_name_order(dsn, sqlmig, mig_dir):
    texts = three(mig_dir)
    result = sqlmig("apply")
    assert result.exit_code == 0, result.output
    assert log(dsn) == ["v2", "a", "b", "c"]
    lines = result.stdout.splitlines()
    assert [line.split()[1] for line in lines[:-1]] == [
        "1-log.sql",
        "2-more.sql",
        "R_a.sql",
        "R-b.sql",
        "r-c.sql",
    ]
    assert lines[-1].startswith("Applied 2 migration(s) and 3 repeatable(s) in ")
    assert ledger_rows(dsn) == [(1, True), (2, True)]  # the ledger holds versions only
    assert rep_rows(dsn) == [(n, digest(t), t, True, None) for n, t in sorted(texts.items())]
    assert rep_history(dsn) == [
        (n, "apply", "success", None, digest(t)) for n, t in sorted(texts.items())
    ]
    stamps = query(
        dsn,
        named(
            "select bool_and(applied_at <= now() and applied_by = current_user"
            " and execution_ms >= 0) from {t}",
            t=REPEATABLE,
        ),
    )
    assert stamps == [(True,)]


def test_apply_again_runs_nothing(dsn, sqlmig, mig_dir):
    three(mig_dir)
    assert sqlmig("apply").exit_code == 0
    before = (rep_rows(dsn), query(dsn, named("select * from {h}", h=HISTORY)), log(dsn))
    again = sqlmig("apply")
    assert again.exit_code == 0
    assert again.stdout == "Nothing to apply: 2 migration(s) already applied.\n"
    assert (rep_rows(dsn), query(dsn, named("select * from {h}", h=HISTORY)), log(dsn)) == before


def test_a_changed_repeatable_runs_again_alone(dsn, sqlmig, mig_dir):
    texts = three(mig_dir)
    assert sqlmig("apply").exit_code == 0
    changed = logging_file("b2")
    mig_dir.write("R-b.sql", changed)
    mig_dir.write("R_a.sql", texts["a"].replace("\n", "\r\n"))  # CRLF only: not a change
    result = sqlmig("apply")
    assert result.exit_code == 0, result.output
    assert log(dsn) == ["v2", "a", "b", "c", "b2"]
    assert result.stdout.splitlines()[-1].startswith("Applied 0 migration(s) and 1 repeatable(s)")
    assert rep_rows(dsn)[1] == ("b", digest(changed), changed, True, None)
    assert rep_history(dsn)[-1] == ("b", "apply", "success", digest(texts["b"]), digest(changed))
    assert len(rep_history(dsn)) == 4


def test_status_text_and_json(dsn, sqlmig, mig_dir):
    texts = three(mig_dir)
    assert sqlmig("apply").exit_code == 0
    mig_dir.write("R-b.sql", logging_file("b2"))
    mig_dir.write("R-d.sql", logging_file("d"))
    (mig_dir.path / "r-c.sql").unlink()
    status = sqlmig("status")
    assert status.exit_code == 0, status.output
    lines = status.stdout.splitlines()
    assert lines[2] == "2 migration(s): 2 applied"  # the versioned summary as before
    assert lines[3] == "repeatable:"
    assert lines[4].startswith("[X] R_a.sql") and " applied " in lines[4]
    assert lines[4].endswith(digest(texts["a"])[:12])
    assert lines[5].startswith("[~] R-b.sql") and " modified " in lines[5]
    assert lines[5].endswith(digest(texts["b"])[:12])  # the checksum that last ran
    assert lines[6].startswith("[?] R-c.sql") and " missing " in lines[6]
    assert lines[7].split() == ["[", "]", "R-d.sql", "pending"]
    assert lines[8] == "4 repeatable(s): 1 applied, 1 pending, 1 modified, 1 missing"
    payload = json.loads(sqlmig("--format", "json", "status").stdout)
    assert payload["counts"]["applied"] == 2
    assert payload["repeatable_counts"] == {"applied": 1, "pending": 1, "modified": 1, "missing": 1}
    by_name = {r["name"]: r for r in payload["repeatables"]}
    assert by_name["b"]["state"] == "modified"
    assert by_name["b"]["applied_checksum"] == digest(texts["b"])
    assert by_name["b"]["checksum"] == digest(logging_file("b2"))
    assert by_name["b"]["applied_at"] is not None and by_name["d"]["applied_at"] is None
    assert (by_name["d"]["state"], by_name["d"]["file"]) == ("pending", "R-d.sql")


def test_a_failing_repeatable_leaves_nothing_and_is_reported(pg, dsn, sqlmig, mig_dir):
    mig_dir.write("1-log.sql", LOG)
    good = "create view v as select 1 as x;\n" + logging_file("v")
    mig_dir.write("R-v.sql", good)
    assert sqlmig("apply").exit_code == 0
    before = schema_dump(pg, dsn)
    mig_dir.write("2-more.sql", logging_file("v2"))
    bad = (
        "create or replace view v as select 1 as x, 2 as y;\n"
        + logging_file("v")
        + ("select lenght('x');\n")
    )
    mig_dir.write("R-v.sql", bad)
    result = sqlmig("apply")
    assert result.exit_code == 1
    assert "R-v.sql:3:8: ERROR 42883: function lenght(unknown) does not exist" in result.stderr
    assert "HINT: No function matches the given name and argument types." in result.stderr
    assert "R-v.sql was rolled back" in result.stderr
    # 2-more.sql committed before; nothing of the repeatable's run stayed.
    assert ledger_rows(dsn) == [(1, True), (2, True)] and log(dsn) == ["v", "v2"]
    assert schema_dump(pg, dsn) == before  # the view keeps its one column
    assert rep_rows(dsn) == [("v", digest(good), good, False, digest(bad))]
    assert rep_history(dsn)[-1] == ("v", "apply", "failed", digest(good), None)
    status = sqlmig("status").stdout.splitlines()
    assert status[-2].startswith("[!] R-v.sql") and "(last run failed " in status[-2]
    verify = sqlmig("verify")
    assert verify.exit_code == 1
    assert verify.stdout.startswith("failed       R-v.sql: its last run at ")
    payload = json.loads(sqlmig("--format", "json", "verify").stdout)
    assert payload["problems"][0]["version"] is None
    assert payload["problems"][0]["state"] == "failed"
    # Fixed, it runs again, and the row forgets the failure.
    fixed = "create or replace view v as select 1 as x, 2 as y;\n"
    mig_dir.write("R-v.sql", fixed)
    assert sqlmig("apply").exit_code == 0
    assert rep_rows(dsn) == [("v", digest(fixed), fixed, True, None)]
    assert sqlmig("verify").exit_code == 0


def test_a_new_repeatable_that_fails_has_a_failed_row_and_runs_again(dsn, sqlmig, mig_dir):
    mig_dir.write("1-log.sql", LOG)
    bad = logging_file("x") + "select 1/0;\n"
    mig_dir.write("R-x.sql", bad)
    result = sqlmig("--format", "json", "apply")
    assert result.exit_code == 1
    payload = json.loads(result.stdout)
    assert (payload["path"].endswith("R-x.sql"), payload["sqlstate"]) == (True, "22012")
    assert log(dsn) == [] and ledger_rows(dsn) == [(1, True)]
    assert rep_rows(dsn) == [("x", None, None, False, digest(bad))]
    assert sqlmig("apply").exit_code == 1  # failed: tried again, unchanged or not
    assert [r[2] for r in rep_history(dsn)] == ["failed", "failed"]
    fixed = logging_file("x")
    mig_dir.write("R-x.sql", fixed)
    assert sqlmig("apply").exit_code == 0
    assert rep_rows(dsn) == [("x", digest(fixed), fixed, True, None)] and log(dsn) == ["x"]
    assert rep_history(dsn)[-1] == ("x", "apply", "success", None, digest(fixed))


def test_verify_accepts_a_changed_repeatable_and_strict_wants_it_run(dsn, sqlmig, mig_dir):
    three(mig_dir)
    assert sqlmig("apply").exit_code == 0
    mig_dir.write("R-b.sql", logging_file("b2"))
    verify = sqlmig("verify")
    assert verify.exit_code == 0, verify.output
    strict = sqlmig("verify", "--strict")
    assert strict.exit_code == 1
    assert "modified     R-b.sql: changed since it last ran" in strict.stdout


def test_target_below_the_newest_file_leaves_repeatables_for_later(dsn, sqlmig, mig_dir):
    three(mig_dir)
    dry = sqlmig("apply", "--target", "1", "--dry-run")
    assert "R-" not in dry.stdout and "r-c" not in dry.stdout
    assert sqlmig("apply", "--target", "1").exit_code == 0
    assert rep_rows(dsn) == [] and log(dsn) == []
    assert sqlmig("apply", "--target", "2").exit_code == 0  # the last one: now they run
    assert log(dsn) == ["v2", "a", "b", "c"]


def test_dry_run_lists_them_after_the_versioned_files_and_changes_nothing(dsn, sqlmig, mig_dir):
    three(mig_dir)
    assert sqlmig("apply").exit_code == 0
    mig_dir.write("3-late.sql", logging_file("v3"))
    mig_dir.write("R-b.sql", logging_file("b2"))
    mig_dir.write("R-d.sql", "-- sqlmig: no-transaction\n" + logging_file("d"))
    before = (rep_rows(dsn), log(dsn))
    dry = sqlmig("apply", "--dry-run")
    assert dry.exit_code == 0
    heads = [line for line in dry.stdout.splitlines() if line.startswith("-- sqlmig dry run")]
    assert heads == [
        "-- sqlmig dry run: would apply 3-late.sql",
        "-- sqlmig dry run: would apply R-b.sql (repeatable, modified)",
        "-- sqlmig dry run: would apply R-d.sql (repeatable, pending) (no transaction)",
    ]
    assert dry.stdout.splitlines()[-1] == (
        "-- 1 migration(s) and 2 repeatable(s) would run; nothing was changed."
    )
    payload = json.loads(sqlmig("--format", "json", "apply", "--dry-run").stdout)
    assert payload["pending"] == ["3-late.sql"] and payload["repeatables"] == ["R-b.sql", "R-d.sql"]
    assert (rep_rows(dsn), log(dsn)) == before


def test_apply_json_lists_the_repeatables_it_ran(dsn, sqlmig, mig_dir):
    three(mig_dir)
    payload = json.loads(sqlmig("--format", "json", "apply").stdout)
    assert [a["version"] for a in payload["applied"]] == [1, 2]
    assert [(r["name"], r["file"]) for r in payload["repeatables_applied"]] == [
        ("a", "R_a.sql"),
        ("b", "R-b.sql"),
        ("c", "r-c.sql"),
    ]


def test_no_transaction_repeatable(dsn, sqlmig, mig_dir):
    mig_dir.write("1-t.sql", "create table t (id int, v text);\n" + LOG)
    text = "-- sqlmig: no-transaction\ncreate index concurrently if not exists t_v on t (v);\n"
    mig_dir.write("R-ix.sql", text)
    assert sqlmig("apply").exit_code == 0
    assert rep_rows(dsn) == [("ix", digest(text), text, True, None)]
    bad = text + logging_file("half") + "select 1/0;\n"
    mig_dir.write("R-ix.sql", bad)
    result = sqlmig("apply")
    assert result.exit_code == 1
    assert "R-ix.sql:4:" in result.stderr and "division by zero" in result.stderr
    assert log(dsn) == ["half"]  # no transaction: what ran before the error stays
    assert rep_rows(dsn) == [("ix", digest(text), text, False, digest(bad))]
    assert rep_history(dsn)[-1] == ("ix", "apply", "partial", digest(text), digest(bad))


def test_a_repeatable_that_releases_the_lock_cannot_commit(dsn, sqlmig, mig_dir):
    mig_dir.write("1-log.sql", LOG)
    text = logging_file("x") + "select pg_advisory_unlock_all();\n"
    mig_dir.write("R-x.sql", text)
    result = sqlmig("apply")
    assert result.exit_code == 1
    assert "migration lock was released while R-x.sql ran" in result.stderr
    assert log(dsn) == [] and rep_rows(dsn) == [("x", None, None, False, digest(text))]


@pytest.mark.parametrize("change", [False, True], ids=["new", "changed"])
def test_a_row_written_meanwhile_rolls_the_file_back(dsn, sqlmig, mig_dir, change):
    """The row write checks the checksum the plan read: a row another runner wrote in the
    meantime (here: the file itself, in its transaction) makes the file roll back whole."""
    mig_dir.write("1-log.sql", LOG)
    if change:
        mig_dir.write("R-x.sql", logging_file("first"))
        assert sqlmig("apply").exit_code == 0
    mig_dir.write(
        "R-x.sql",
        logging_file("again")
        + f"insert into {REPEATABLE} (name, checksum, success) values ('x', 'theirs', true)"
        " on conflict (name) do update set checksum = 'theirs';\n",
    )
    result = sqlmig("apply")
    assert result.exit_code == 1
    assert "R-x.sql ran, but recording it in the ledger failed: ERROR 23505" in result.stderr
    assert "R-x.sql was rolled back: nothing of it was applied." in result.stderr
    assert log(dsn) == (["first"] if change else [])
    # "theirs" rolled back with the file; the row is marked failed after the rollback.
    kept = (
        ("x", digest(logging_file("first")), logging_file("first")) if change else ("x", None, None)
    )
    assert [r[:4] for r in rep_rows(dsn)] == [(*kept, False)]


def test_verbose_runs_and_copy_blocks(dsn, sqlmig, mig_dir):
    """Statement by statement (-v) and with a COPY block (the text bound as a parameter)."""
    mig_dir.write("1-log.sql", LOG + "create table colour (id int primary key, name text);\n")
    seed = "truncate colour;\ncopy colour (id, name) from stdin;\n1\tred\n2\t100%\n\\.\n"
    mig_dir.write("R-colours.sql", seed)
    mig_dir.write("R-log.sql", logging_file("x"))
    result = sqlmig("-v", "apply")
    assert result.exit_code == 0, result.output
    assert "  R-log.sql:1 " in result.stdout
    assert query(dsn, "select id, name from colour order by id") == [(1, "red"), (2, "100%")]
    assert rep_rows(dsn) == [
        ("colours", digest(seed), seed, True, None),
        ("log", digest(logging_file("x")), logging_file("x"), True, None),
    ]


def settings_for(dsn, mig_dir):
    return resolve(dsn=dsn, directory=mig_dir.path)


@pytest.mark.parametrize("change", [False, True], ids=["new", "changed"])
def test_two_runners_at_once_run_it_exactly_once(dsn, sqlmig, mig_dir, change):
    mig_dir.write("1-log.sql", LOG)
    if change:
        mig_dir.write("R-slow.sql", logging_file("first"))
        assert sqlmig("apply").exit_code == 0
    text = "select pg_sleep(0.5);\n" + logging_file("slow")
    mig_dir.write("R-slow.sql", text)
    settings = settings_for(dsn, mig_dir)
    results, errors = [], []

    def runner():
        try:
            results.append(apply(settings))
        except Exception as exc:
            errors.append(exc)

    first = threading.Thread(target=runner)
    first.start()
    deadline = time.monotonic() + 30
    while not query(dsn, "select count(*) from pg_stat_activity where wait_event = 'PgSleep'")[0][
        0
    ]:
        assert time.monotonic() < deadline, "the first runner never started the file"
        time.sleep(0.02)
    second = threading.Thread(target=runner)
    second.start()
    first.join(60)
    second.join(60)
    assert errors == []
    assert sorted(len(r.repeatables_applied) for r in results) == [0, 1]
    assert log(dsn).count("slow") == 1
    assert rep_rows(dsn) == [("slow", digest(text), text, True, None)]
    assert [r[0] for r in rep_history(dsn)].count("slow") == 1 + change


def test_files_that_cannot_be_repeatables(dsn, sqlmig, mig_dir):
    mig_dir.write("1-log.sql", LOG)
    mig_dir.write("R-x.sql", logging_file("x"))
    mig_dir.write("R-x.down.sql", "select 1;")
    result = sqlmig("apply")
    assert result.exit_code == 2
    assert "R-x.down.sql: a repeatable migration has no down file" in result.stderr
    (mig_dir.path / "R-x.down.sql").unlink()
    mig_dir.write("R_x.sql", logging_file("x"))
    result = sqlmig("apply")
    assert result.exit_code == 2
    assert "repeatable 'x' is defined by more than one file" in result.stderr
    (mig_dir.path / "R_x.sql").unlink()
    mig_dir.write("R-y.sql", "-- sqlmig: requires 7\n" + logging_file("y"))
    result = sqlmig("apply")
    assert result.exit_code == 2
    assert "R-y.sql: requires version 7, but no migration file has it" in result.stderr
    mig_dir.write("R-y.sql", "-- sqlmig: requires 1\n-- sqlmig: bogus\n" + logging_file("y"))
    assert "unknown directive 'bogus'" in sqlmig("apply").stderr
    mig_dir.write("R-y.sql", "-- sqlmig: requires 1\n" + logging_file("y"))
    mig_dir.write("R-z.sql", "-- nothing here yet\n")
    result = sqlmig("apply")
    assert result.exit_code == 2 and "R-z.sql:1:1: the file has no statements" in result.stderr
    assert ledger_rows(dsn) == [] and rep_rows(dsn) == []  # every file checked before any ran
    (mig_dir.path / "R-z.sql").unlink()
    assert sqlmig("apply").exit_code == 0
    assert log(dsn) == ["x", "y"]


def test_rollback_leaves_repeatables_alone(dsn, sqlmig, mig_dir):
    mig_dir.write("1-log.sql", LOG)
    mig_dir.write("2-more.sql", logging_file("v2"))
    mig_dir.write("2-more.down.sql", "delete from log where what = 'v2';")
    mig_dir.write("R-x.sql", logging_file("x"))
    assert sqlmig("apply").exit_code == 0
    rows = rep_rows(dsn)
    result = sqlmig("rollback")
    assert result.exit_code == 0, result.output
    assert ledger_rows(dsn) == [(1, True)] and rep_rows(dsn) == rows and log(dsn) == ["x"]
    assert "never rolled back" in sqlmig("rollback", "--help").stdout


def test_new_repeatable(dsn, sqlmig, mig_dir):
    mig_dir.write("0001-log.sql", LOG)
    result = sqlmig("new", "--repeatable", "Reporting Views")
    assert result.exit_code == 0, result.output
    path = mig_dir.path / "R-reporting-views.sql"
    assert result.stdout == f"created {path}\n"
    assert path.read_text().startswith("-- Reporting Views (repeatable)\n")
    again = sqlmig("new", "--repeatable", "reporting views")
    assert again.exit_code == 2 and "exists already" in again.stderr
    assert sqlmig("new", "--repeatable", "--down", "x").exit_code == 2
    assert sqlmig("new", "next").stdout.endswith("0002-next.sql\n")  # not counted as a version


def test_flyway_names(dsn, sqlmig, mig_dir):
    """Flyway's R__<name>.sql: the name is what follows the double underscore."""
    mig_dir.write("1-log.sql", LOG)
    mig_dir.write("R__views.sql", logging_file("views"))
    mig_dir.write("R-_x.sql", logging_file("x"))
    assert sqlmig("apply").exit_code == 0
    assert [r[0] for r in rep_rows(dsn)] == ["_x", "views"]  # "R-" then "_x"


def test_history_shows_repeatables_and_an_old_history_table_is_upgraded(dsn, sqlmig, mig_dir):
    mig_dir.write("1-log.sql", LOG)
    assert sqlmig("apply").exit_code == 0
    query(
        dsn, named("alter table {h} alter column version set not null", h=HISTORY)
    )  # as before R- files
    mig_dir.write("R-x.sql", logging_file("x"))
    assert sqlmig("apply").exit_code == 0
    assert query(
        dsn,
        "select attnotnull from pg_attribute"
        f" where attrelid = '{HISTORY}'::regclass and attname = 'version'",
    ) == [(False,)]
    text = sqlmig("history").stdout.splitlines()
    assert text[2].split()[2:6] == ["R", "x", "apply", "success"]
    rows = json.loads(sqlmig("--format", "json", "history").stdout)["history"]
    assert [(r["version"], r["name"]) for r in rows] == [(1, "log"), (None, "x")]


def test_the_library_raises_the_files_own_error(dsn, mig_dir):
    """The library raises the file's own error (not a wrapper) for a failing repeatable."""
    mig_dir.write("1-log.sql", LOG)
    mig_dir.write("R-x.sql", "select 1/0;\n")
    with pytest.raises(MigrationFailed) as failed:
        apply(settings_for(dsn, mig_dir))
    assert failed.value.as_dict()["sqlstate"] == "22012"


def test_a_connection_lost_mid_file_says_how_to_find_out(dsn, mig_dir):
    mig_dir.write("1-log.sql", LOG)
    mig_dir.write("R-slow.sql", "select pg_sleep(30);\n" + logging_file("slow"))
    settings = settings_for(dsn, mig_dir)
    errors = []

    def runner():
        try:
            apply(settings)
        except ConnectionLost as exc:
            errors.append(exc)

    thread = threading.Thread(target=runner)
    thread.start()
    deadline = time.monotonic() + 30
    while not query(dsn, "select count(*) from pg_stat_activity where wait_event = 'PgSleep'")[0][
        0
    ]:
        assert time.monotonic() < deadline, "the runner never started the file"
        time.sleep(0.02)
    query(
        dsn, "select pg_terminate_backend(pid) from pg_stat_activity where wait_event = 'PgSleep'"
    )
    thread.join(60)
    assert len(errors) == 1
    assert "the connection to the server was lost while R-slow.sql ran" in str(errors[0])
    assert "`sqlmig status` shows whether it did" in str(errors[0])
    assert log(dsn) == [] and [r[3] for r in rep_rows(dsn)] == []


def test_drift_and_check_build_the_repeatables_the_target_ran(dsn, sqlmig, mig_dir):
    """The shadow database gets the repeatables too, so their views are not 'extra'."""
    mig_dir.write("1-t.sql", "create table t (id int primary key, name text);\n")
    mig_dir.write("R-views.sql", "create or replace view t_names as select name from t;\n")
    assert sqlmig("apply").exit_code == 0
    same = sqlmig("drift")
    assert same.exit_code == 0, same.output
    # A change made outside the migrations is still drift.
    query(dsn, "create or replace view t_names as select name, id from t")
    changed = sqlmig("drift")
    assert changed.exit_code == 1 and "t_names" in changed.output, changed.output
    query(dsn, "drop view t_names; create view t_names as select name from t")
    # check rehearses a pending file against a shadow with the view: the view depends on
    # the column, so dropping it fails there as it would on the target.
    mig_dir.write("2-drop.sql", "alter table t drop column name;\n")
    rehearsed = sqlmig("check")
    assert rehearsed.exit_code == 1, rehearsed.output
    assert "2-drop.sql" in rehearsed.output and "depend" in rehearsed.output
    # A repeatable the target has not run is not in the shadow: drift reports the gap.
    mig_dir.write("R-more.sql", "create or replace view t_ids as select id from t;\n")
    (mig_dir.path / "2-drop.sql").unlink()
    assert sqlmig("drift").exit_code == 0
    all_files = sqlmig("drift", "--all")
    assert all_files.exit_code == 1 and "t_ids" in all_files.output, all_files.output
