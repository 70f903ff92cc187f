"""Fleet runs on one server: every target migrated, status and verify agree, a failing
target stops its stage and names itself, --max-failures, --jobs 1 order, the per-server
cap, a re-run that resumes, and no password anywhere."""

from __future__ import annotations

import json

import pytest
from support import fleet as helpers
from support.cli import invoke
from support.db import query
from support.secrets import SECRET, USER

from sqlmig import fleet
from sqlmig.core import config


@pytest.fixture
def six(pg):
    made = helpers.databases([pg], 6)
    try:
        yield made
    finally:
        helpers.drop(made)


def load(tmp_path, made, **table):
    path = helpers.targets_toml(tmp_path / "fleet.toml", [(n, d) for n, d, _ in made], **table)
    settings = config.resolve("", helpers.write_files(tmp_path / "m"), cwd=tmp_path)
    return fleet.load_fleet(settings, path), settings


def break_target(dsn):
    """Migration 3 fails here: its table is already there."""
    query(dsn, "CREATE TABLE c (other text)")


def test_apply_status_verify_and_a_rerun(tmp_path, six):
    found, settings = load(tmp_path, six)
    result = fleet.run_fleet("apply", found, settings)
    assert result.exit_code == 0
    assert {r.outcome for r in result.results} == {fleet.Outcome.APPLIED}
    assert [(r.version_before, r.version_after, r.applied) for r in result.results] == [
        (None, 4, (1, 2, 3, 4))
    ] * 6
    for _, dsn, _ in six:
        assert helpers.ledger(dsn) == [1, 2, 3, 4]
    status = fleet.run_fleet("status", found, settings)
    verify = fleet.run_fleet("verify", found, settings)
    assert [(r.outcome, r.version_after) for r in status.results] == [("up-to-date", 4)] * 6
    assert [(r.outcome, r.version_after) for r in verify.results] == [("ok", 4)] * 6
    again = fleet.run_fleet("apply", found, settings)
    assert [(r.outcome, r.applied) for r in again.results] == [("up-to-date", ())] * 6
    # A file edited after it ran: every target says so, and verify fails.
    (tmp_path / "m" / "0002-b.sql").write_text("CREATE TABLE b (id bigint);\n")
    verify = fleet.run_fleet("verify", found, settings)
    assert verify.exit_code == 1
    assert {r.problems[0].split(":")[0] for r in verify.results} == {"modified 0002-b.sql"}


def test_a_failing_target_stops_its_stage_and_a_rerun_finishes(tmp_path, six):
    names = [n for n, _, _ in six]
    break_target(six[1][1])
    load(tmp_path, six, stages=[[names[0], names[1]], ["*"]])
    result = invoke(
        "--dir",
        str(tmp_path / "m"),
        "fleet",
        "apply",
        "--targets",
        str(tmp_path / "fleet.toml"),
        "--jobs",
        "1",
        cwd=tmp_path,
    )
    assert result.exit_code == 1, result.output
    lines = result.output.splitlines()
    assert lines[0].split()[:4] == ["applied", names[0], "-", "->"]
    assert lines[1].split()[:2] == ["failed", names[1]]
    assert "m/0003-c.sql:2:1: ERROR 42P07" in lines[1] and 'relation "c" already exists' in lines[1]
    assert lines[6].startswith("fleet apply: 6 target(s), 2 stage(s), --jobs 1, --per-server 1")
    assert "1 applied, 1 failed, 4 skipped." in lines[6]
    assert lines[7].startswith(f"failed {names[1]} (database fleet_")
    assert lines[8] == '  m/0003-c.sql:2:1: ERROR 42P07: relation "c" already exists'
    assert (
        f"skipped 4: {', '.join(names[2:])} (not started: stage 1 did not end clean)"
        in result.output
    )
    # Every other target is fully migrated or untouched; the failed one kept 1 and 2.
    assert [helpers.ledger(d) for _, d, _ in six] == [[1, 2, 3, 4], [1, 2]] + [[]] * 4
    assert [helpers.tables(d) for _, d, _ in six[2:]] == [[]] * 4
    query(six[1][1], "DROP TABLE c")
    result = invoke(
        "--format",
        "json",
        "--dir",
        str(tmp_path / "m"),
        "fleet",
        "apply",
        "--targets",
        str(tmp_path / "fleet.toml"),
        cwd=tmp_path,
    )
    assert result.exit_code == 0, result.output
    doc = json.loads(result.output)
    assert doc["ok"] is True and doc["totals"]["applied"] == 5 and doc["totals"]["up-to-date"] == 1
    by_name = {t["name"]: t for t in doc["targets"]}
    assert (by_name[names[1]]["version_before"], by_name[names[1]]["applied"]) == (2, [3, 4])
    assert [helpers.ledger(d) for _, d, _ in six] == [[1, 2, 3, 4]] * 6


def test_max_failures_and_jobs_1_order(tmp_path, six):
    names = [n for n, _, _ in six]
    break_target(six[1][1])
    break_target(six[3][1])
    found, settings = load(tmp_path, six)
    order = []

    def seen(event):
        if type(event).__name__ == "Started":
            order.append(event.target.name)

    options = fleet.FleetOptions(jobs=1, max_failures=2)
    result = fleet.run_fleet("apply", found, settings, options, on_event=seen)
    assert order == names[:4]
    assert [r.outcome.value for r in result.results] == [
        "applied", "failed", "applied", "failed", "skipped", "skipped"
    ]  # fmt: skip
    assert result.results[4].error == "not started: 2 failure(s) reached --max-failures 2"
    assert result.exit_code == 1
    assert result.results[1].error_fields["kind"] == "MigrationFailed"
    assert result.results[1].error_fields["line"] == 2
    assert (result.results[1].version_before, result.results[1].version_after) == (None, 2)
    assert result.results[1].applied == (1, 2)
    assert [helpers.ledger(d) for _, d, _ in six] == [[1, 2, 3, 4], [1, 2]] * 2 + [[]] * 2


def test_per_server_cap_and_canary(tmp_path, six):
    names = [n for n, _, _ in six]
    found, settings = load(tmp_path, six)
    running = []

    def seen(event):
        running.append(event.progress.running)

    options = fleet.FleetOptions(jobs=4, per_server=1, canary=(names[5],))
    result = fleet.run_fleet("apply", found, settings, options, on_event=seen)
    assert result.exit_code == 0 and result.stages == 2
    assert max(running) == 1  # one server: the cap, not --jobs, bounds it
    assert [(r.target.name, r.stage) for r in result.results[:2]] == [(names[5], 1), (names[0], 2)]
    assert [r.stage for r in result.results] == [1, 2, 2, 2, 2, 2]


def test_unreachable_target_is_exit_3(tmp_path, six, pg):
    pairs = [(n, d) for n, d, _ in six[:2]]
    pairs.append(("gone", pg.dsn("fleet_no_such_database")))
    path = helpers.targets_toml(tmp_path / "fleet.toml", pairs)
    helpers.write_files(tmp_path / "m")
    result = invoke(
        "--dir",
        str(tmp_path / "m"),
        "fleet",
        "apply",
        "--targets",
        str(path),
        "--max-failures",
        "5",
        cwd=tmp_path,
    )
    assert result.exit_code == 3, result.output
    assert "unreachable gone" in result.output
    assert 'database "fleet_no_such_database" does not exist' in result.output
    assert "2 applied, 1 unreachable." in result.output


def test_a_password_never_shows(tmp_path, password_user):
    made = helpers.databases([password_user], 2)
    try:
        pairs = []
        for name, dsn, _ in made:
            dbname = dsn.rsplit("dbname=", 1)[1]
            host, port = password_user.params["host"], password_user.params["port"]
            pairs.append((name, f"postgresql://{USER}@/{dbname}?host={host}&port={port}"))
        pairs.append(("wrong", pairs[0][1]))
        path = tmp_path / "fleet.toml"
        path.write_text(
            'password_env = "FLEET_PW"\n[targets]\n'
            + "".join(f'{n} = "{d}"\n' for n, d in pairs[:2])
            + f'wrong = {{ dsn = "{pairs[2][1]}", password_env = "WRONG_PW" }}\n'
        )
        # The server echoes the password back in its error: value masking must catch it.
        helpers.write_files(tmp_path / "m", {"0001-a.sql": f"SELECT '{SECRET}'::int;\n"})
        env = {"FLEET_PW": SECRET, "WRONG_PW": "Wr0ng-" + SECRET}
        for fmt in ("text", "json"):
            result = invoke(
                "--format",
                fmt,
                "--dir",
                str(tmp_path / "m"),
                "fleet",
                "apply",
                "--targets",
                str(path),
                "--max-failures",
                "9",
                env=env,
                cwd=tmp_path,
            )
            assert result.exit_code == 1, result.output
            assert SECRET not in result.output
            assert "invalid input syntax for type integer" in result.output
            assert "password authentication failed" in result.output
        doc = json.loads(result.output)
        assert [t["outcome"] for t in doc["targets"]] == ["failed", "failed", "unreachable"]
        assert "***" in doc["targets"][0]["error"]["server_message"]
    finally:
        helpers.drop(made)


def test_drift_and_check_per_target(tmp_path, six):
    found, settings = load(tmp_path, six[:3])
    assert fleet.run_fleet("apply", found, settings).exit_code == 0
    query(six[1][1], "ALTER TABLE b ADD COLUMN extra text")
    drift = fleet.run_fleet("drift", found, settings)
    assert drift.exit_code == 1
    assert [(r.outcome.value, r.problems) for r in drift.results] == [
        ("ok", ()),
        ("problems", ("column public.b.extra: extra",)),
        ("ok", ()),
    ]
    # check rehearses each target's pending files in a database built from its files.
    (tmp_path / "m" / "0005-e.sql").write_text("ALTER TABLE b ADD COLUMN note text;\n")
    check = fleet.run_fleet("check", found, settings)
    assert [(r.outcome.value, r.pending) for r in check.results] == [("ok", ("0005-e.sql",))] * 3
    (tmp_path / "m" / "0005-e.sql").write_text("ALTER TABLE b ADD COLUMN id int;\n")
    check = fleet.run_fleet("check", found, settings)
    assert check.exit_code == 1
    assert [r.outcome.value for r in check.results] == ["failed"] * 3
    assert "0005-e.sql:1:" in check.results[0].error
    assert 'column "id" of relation "b" already exists' in check.results[0].error
    assert [helpers.ledger(d) for _, d, _ in six[:3]] == [[1, 2, 3, 4]] * 3  # only read
