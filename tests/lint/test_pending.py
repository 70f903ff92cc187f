"""By default `sqlmig lint` lints only what is not applied yet, reading the ledger as `status`
does: applied files are history, and their tables are existing tables for the pending ones."""

from __future__ import annotations

import json


def test_only_pending_files_are_linted_and_applied_tables_are_existing(sqlmig, mig_dir):
    mig_dir.write("1-orders.sql", "CREATE TABLE orders (id bigint PRIMARY KEY, note text);\n")
    mig_dir.write("2-old-habit.sql", "ALTER TABLE orders DROP COLUMN note;\n")
    assert sqlmig("apply").exit_code == 0
    mig_dir.write("3-index.sql", "CREATE INDEX orders_id_idx ON orders (id);\n")
    mig_dir.write(
        "4-fresh.sql", "CREATE TABLE fresh (id bigint);\nCREATE INDEX fresh_idx ON fresh (id);\n"
    )

    result = sqlmig("lint", "--format", "json")
    payload = json.loads(result.stdout)
    assert result.exit_code == 1
    assert payload["files"] == 2
    assert [(f["path"].rsplit("/", 1)[-1], f["rule"], f["line"]) for f in payload["findings"]] == [
        ("3-index.sql", "require-concurrent-index-creation", 1)
    ]
    assert payload["database"] is not None  # it connected: the target is named

    every = sqlmig("lint", "--all", "--format", "json")
    rules = [f["rule"] for f in json.loads(every.stdout)["findings"]]
    assert every.exit_code == 0  # with every file in the run, orders is new: nothing locks
    assert rules == []


def test_nothing_pending_lints_nothing(sqlmig, mig_dir):
    mig_dir.write("1-drop.sql", "DROP TABLE IF EXISTS legacy;\n")
    assert sqlmig("apply").exit_code == 0
    result = sqlmig("lint")
    assert result.exit_code == 0
    assert result.stdout.strip() == "0 error(s), 0 warning(s) in 0 files linted."


def test_repeatables_apply_would_run_are_linted_after_the_versioned_files(sqlmig, mig_dir):
    mig_dir.write("1-orders.sql", "CREATE TABLE orders (id bigint PRIMARY KEY, note text);\n")
    mig_dir.write("R-grants.sql", "GRANT SELECT ON orders TO PUBLIC;\n")
    assert sqlmig("apply").exit_code == 0
    assert json.loads(sqlmig("lint", "--format", "json").stdout)["files"] == 0  # all ran

    mig_dir.write("R-grants.sql", "GRANT SELECT ON orders TO PUBLIC;\nDROP TABLE orders;\n")
    changed = sqlmig("lint", "--format", "json")
    payload = json.loads(changed.stdout)
    assert payload["files"] == 1
    assert [(f["path"].rsplit("/", 1)[-1], f["rule"]) for f in payload["findings"]] == [
        ("R-grants.sql", "ban-drop-table")
    ]
    every = json.loads(sqlmig("lint", "--all", "--format", "json").stdout)
    assert every["files"] == 2
