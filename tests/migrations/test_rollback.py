"""``sqlmig rollback``: the last migration, ``--steps N``, ``--to V``, ``--dry-run``, and
the up-front refusals; each checked in the ledger, the history table and a schema dump.

``schema_dump``, ``ledger_rows`` and ``history_rows`` are reused by test_history.py.
"""

from __future__ import annotations

import json
import subprocess

import psycopg
from support.db import query

HISTORY = "schema_migrations_history"


def schema_dump(pg, dsn):
    """pg_dump --schema-only of the test database, without comments and restrict keys."""
    dbname = psycopg.conninfo.conninfo_to_dict(dsn)["dbname"]
    p = pg.params
    cmd = [str(pg.bindir / "pg_dump"), "--schema-only", "--no-owner"]
    cmd += ["-h", p["host"], "-p", p["port"], "-U", p["user"], dbname]
    dump = subprocess.run(cmd, check=True, capture_output=True, text=True).stdout
    skip = ("--", "\\restrict", "\\unrestrict")
    return "\n".join(line for line in dump.splitlines() if not line.startswith(skip))


def ledger_rows(dsn):
    if not query(dsn, "select to_regclass('public.schema_migrations') is not null")[0][0]:
        return []
    return query(dsn, "select version, success from schema_migrations order by version")


def history_rows(dsn):
    """(version, action, outcome, checksum_before, checksum_after) per row, oldest first."""
    if not query(dsn, "select to_regclass(%s) is not null", f"public.{HISTORY}")[0][0]:
        return []
    return query(
        dsn,
        f"select version, action, outcome, checksum_before, checksum_after from {HISTORY}"
        " order by id",
    )


def checksum(dsn, version):
    return query(dsn, "select checksum from schema_migrations where version = %s", version)[0][0]


def three_with_downs(mig_dir):
    for v, name in ((1, "a"), (2, "b"), (3, "c")):
        mig_dir.write(f"{v}-{name}.sql", f"create table {name} (id int);")
        mig_dir.write(f"{v}-{name}.down.sql", f"drop table {name};")


def dump_after_applying(pg, dsn, sqlmig, target):
    """The schema dump of a database with versions up to ``target`` applied (then undone)."""
    assert sqlmig("apply", "--target", str(target)).exit_code == 0
    dump = schema_dump(pg, dsn)
    return dump


def test_rollback_without_argument_undoes_the_last_one(pg, dsn, sqlmig, mig_dir):
    three_with_downs(mig_dir)
    expected = dump_after_applying(pg, dsn, sqlmig, 2)
    assert sqlmig("apply").exit_code == 0
    c_sum = checksum(dsn, 3)
    result = sqlmig("rollback")
    assert result.exit_code == 0, result.output
    assert "rolled back 3-c.sql" in result.output
    assert "Rolled back 1 migration(s)." in result.output
    assert ledger_rows(dsn) == [(1, True), (2, True)]
    assert history_rows(dsn)[-1] == (3, "rollback", "success", c_sum, None)
    assert schema_dump(pg, dsn) == expected


def test_rollback_steps(pg, dsn, sqlmig, mig_dir):
    three_with_downs(mig_dir)
    expected = dump_after_applying(pg, dsn, sqlmig, 1)
    assert sqlmig("apply").exit_code == 0
    result = sqlmig("rollback", "--steps", "2")
    assert result.exit_code == 0, result.output
    assert result.output.index("3-c.sql") < result.output.index("2-b.sql")
    assert ledger_rows(dsn) == [(1, True)]
    assert [r[:3] for r in history_rows(dsn)] == [
        (1, "apply", "success"),
        (2, "apply", "success"),
        (3, "apply", "success"),
        (3, "rollback", "success"),
        (2, "rollback", "success"),
    ]
    assert schema_dump(pg, dsn) == expected


def test_rollback_to_version_json(pg, dsn, sqlmig, mig_dir):
    three_with_downs(mig_dir)
    expected = dump_after_applying(pg, dsn, sqlmig, 1)
    assert sqlmig("apply").exit_code == 0
    result = sqlmig("--format", "json", "rollback", "--to", "1")
    assert result.exit_code == 0, result.output
    out = json.loads(result.stdout)
    assert out["dry_run"] is False
    assert [r["version"] for r in out["rolled_back"]] == [3, 2]
    assert ledger_rows(dsn) == [(1, True)]
    assert [r[:2] for r in history_rows(dsn)][-2:] == [(3, "rollback"), (2, "rollback")]
    assert schema_dump(pg, dsn) == expected


def test_rollback_to_zero_then_apply_gives_the_same_schema(pg, dsn, sqlmig, mig_dir):
    three_with_downs(mig_dir)
    assert sqlmig("apply").exit_code == 0
    first = schema_dump(pg, dsn)
    assert sqlmig("rollback", "--to", "0").exit_code == 0
    assert ledger_rows(dsn) == []
    assert query(dsn, "select count(*) from pg_tables where tablename in ('a', 'b', 'c')") == [(0,)]
    assert sqlmig("apply").exit_code == 0
    assert schema_dump(pg, dsn) == first
    assert [r[:2] for r in history_rows(dsn)] == [
        *((v, "apply") for v in (1, 2, 3)),
        *((v, "rollback") for v in (3, 2, 1)),
        *((v, "apply") for v in (1, 2, 3)),
    ]


def test_dry_run_prints_the_down_sql_and_changes_nothing(pg, dsn, sqlmig, mig_dir):
    three_with_downs(mig_dir)
    assert sqlmig("apply").exit_code == 0
    before = (schema_dump(pg, dsn), ledger_rows(dsn), history_rows(dsn))
    result = sqlmig("rollback", "--steps", "2", "--dry-run")
    assert result.exit_code == 0, result.output
    assert result.stdout.splitlines() == [
        "-- sqlmig dry run: would roll back 3-c.sql with 3-c.down.sql",
        "drop table c;",
        "",
        "-- sqlmig dry run: would roll back 2-b.sql with 2-b.down.sql",
        "drop table b;",
        "",
        "-- 2 migration(s) would be rolled back; nothing was changed.",
    ]
    as_json = sqlmig("--format", "json", "rollback", "--dry-run")
    out = json.loads(as_json.stdout)
    assert (out["dry_run"], out["to_roll_back"]) == (True, ["3-c.sql"])
    assert (schema_dump(pg, dsn), ledger_rows(dsn), history_rows(dsn)) == before


def test_nothing_to_roll_back(dsn, sqlmig, mig_dir):
    three_with_downs(mig_dir)
    result = sqlmig("rollback")
    assert result.exit_code == 0 and "Nothing to roll back." in result.output
    dry = sqlmig("rollback", "--dry-run")
    assert dry.exit_code == 0 and "Nothing to roll back (dry run)." in dry.output
    assert ledger_rows(dsn) == [] and history_rows(dsn) == []


def refused_and_unchanged(pg, dsn, sqlmig, args, code, message):
    before = (schema_dump(pg, dsn), ledger_rows(dsn), history_rows(dsn))
    for extra in ((), ("--dry-run",)):
        result = sqlmig("rollback", *args, *extra)
        assert result.exit_code == code, result.output
        assert message in result.stderr
    assert (schema_dump(pg, dsn), ledger_rows(dsn), history_rows(dsn)) == before


def test_to_and_steps_together_are_refused(pg, dsn, sqlmig, mig_dir):
    three_with_downs(mig_dir)
    assert sqlmig("apply").exit_code == 0
    refused_and_unchanged(
        pg, dsn, sqlmig, ("--to", "1", "--steps", "1"), 2, "give --to or --steps, not both."
    )


def test_more_steps_than_applied_are_refused(pg, dsn, sqlmig, mig_dir):
    three_with_downs(mig_dir)
    assert sqlmig("apply", "--target", "2").exit_code == 0
    refused_and_unchanged(
        pg,
        dsn,
        sqlmig,
        ("--steps", "3"),
        2,
        "cannot roll back 3 steps: the ledger has 2 migration(s); --steps 2 rolls back all",
    )
    zero = sqlmig("rollback", "--steps", "0")
    assert zero.exit_code == 2 and "--steps" in zero.stderr


def test_a_step_without_a_down_file_refuses_all(pg, dsn, sqlmig, mig_dir):
    three_with_downs(mig_dir)
    (mig_dir.path / "2-b.down.sql").unlink()
    assert sqlmig("apply").exit_code == 0
    refused_and_unchanged(
        pg, dsn, sqlmig, ("--steps", "2"), 2, "cannot roll back: no down file for 2-b.sql"
    )
    # One step does not reach 2: it runs.
    assert sqlmig("rollback").exit_code == 0
    assert ledger_rows(dsn) == [(1, True), (2, True)]


def test_a_modified_file_refuses_the_rollback(pg, dsn, sqlmig, mig_dir):
    three_with_downs(mig_dir)
    assert sqlmig("apply").exit_code == 0
    mig_dir.write("3-c.sql", "create table c (id int, x int);")
    refused_and_unchanged(pg, dsn, sqlmig, (), 1, "3-c.sql")


def test_a_failed_row_refuses_the_rollback(pg, dsn, sqlmig, mig_dir):
    three_with_downs(mig_dir)
    mig_dir.write("4-d.sql", "-- sqlmig: no-transaction\ncreate table d (id int);\nselect 1/0;\n")
    mig_dir.write("4-d.down.sql", "drop table d;")
    assert sqlmig("apply").exit_code == 1
    assert ledger_rows(dsn)[-1] == (4, False)
    assert history_rows(dsn)[-1] == (4, "apply", "partial", None, checksum(dsn, 4))
    refused_and_unchanged(pg, dsn, sqlmig, (), 1, "4-d.sql")


def test_a_failing_down_file_keeps_its_row_and_records_the_failure(pg, dsn, sqlmig, mig_dir):
    three_with_downs(mig_dir)
    mig_dir.write("3-c.down.sql", "drop table c;\nselect 1/0;\n")
    assert sqlmig("apply").exit_code == 0
    before = schema_dump(pg, dsn)
    c_sum = checksum(dsn, 3)
    result = sqlmig("rollback")
    assert result.exit_code == 1
    assert "division by zero" in result.stderr
    assert ledger_rows(dsn) == [(1, True), (2, True), (3, True)]
    # Written after the rollback of the down file's transaction: still applied.
    assert history_rows(dsn)[-1] == (3, "rollback", "failed", c_sum, c_sum)
    assert schema_dump(pg, dsn) == before
