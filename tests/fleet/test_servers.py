"""A fleet over both servers (PG 18 and PG 15): twenty databases brought to one ledger,
status and verify agree, a failing canary stops the rollout, a re-run finishes it, and two
fleet runs started at once apply every migration on every target exactly once."""

from __future__ import annotations

import json
import subprocess
import sys

import pytest
from support import fleet as helpers
from support.db import query

from sqlmig import fleet
from sqlmig.core import config

pytestmark = pytest.mark.slow


@pytest.fixture
def twenty(every_server):
    made = helpers.databases(every_server, 20)
    try:
        yield made
    finally:
        helpers.drop(made)


def test_twenty_databases_over_every_server(tmp_path, twenty, every_server):
    names = [n for n, _, _ in twenty]
    query(twenty[3][1], "CREATE TABLE c (other text)")
    path = helpers.targets_toml(
        tmp_path / "fleet.toml",
        [(n, d) for n, d, _ in twenty],
        stages=[[names[0]], ["t0*"], ["*"]],
    )
    settings = config.resolve("", helpers.write_files(tmp_path / "m"), cwd=tmp_path)
    found = fleet.load_fleet(settings, path)
    assert len({t.server for t in found.targets}) == len(every_server)
    result = fleet.run_fleet("apply", found, settings)
    assert result.jobs == fleet.default_jobs(found.targets) == min(8, 2 * len(every_server))
    by_name = {r.target.name: r for r in result.results}
    assert by_name[names[0]].outcome is fleet.Outcome.APPLIED  # the canary stage passed
    assert by_name[names[3]].outcome is fleet.Outcome.FAILED
    assert 'relation "c" already exists' in by_name[names[3]].error
    # Stage 2 (t01..t09) ran up to the failure; stage 3 (t10..t19) never started.
    assert all(by_name[n].outcome is fleet.Outcome.SKIPPED for n in names[10:])
    for name, dsn, _ in twenty:
        ledger = helpers.ledger(dsn)
        if name == names[3]:
            assert ledger == [1, 2]
        else:
            assert ledger in ([1, 2, 3, 4], []), name
            assert (ledger == []) == (by_name[name].outcome is fleet.Outcome.SKIPPED)
    query(twenty[3][1], "DROP TABLE c")
    again = fleet.run_fleet("apply", found, settings)
    assert again.exit_code == 0
    assert [helpers.ledger(d) for _, d, _ in twenty] == [[1, 2, 3, 4]] * 20
    status = fleet.run_fleet("status", found, settings)
    verify = fleet.run_fleet("verify", found, settings, fleet.FleetOptions(strict=True))
    assert [(r.outcome.value, r.version_after) for r in status.results] == [("up-to-date", 4)] * 20
    assert [(r.outcome.value, r.version_after) for r in verify.results] == [("ok", 4)] * 20


def test_two_fleet_runs_at_once_apply_each_migration_once(tmp_path, twenty):
    files = {
        name: text.replace(";\n", ";\nSELECT pg_sleep(0.02);\n")
        for name, text in helpers.FILES.items()
    }
    mig = helpers.write_files(tmp_path / "m", files)
    path = helpers.targets_toml(tmp_path / "fleet.toml", [(n, d) for n, d, _ in twenty])
    cmd = [sys.executable, "-m", "sqlmig", "--format", "json", "--dir", str(mig), "fleet", "apply"]
    cmd += ["--targets", str(path), "--jobs", "4"]
    runs = [
        subprocess.Popen(
            cmd, cwd=tmp_path, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True
        )
        for _ in range(2)
    ]
    outputs = [run.communicate(timeout=300) for run in runs]
    assert [run.returncode for run in runs] == [0, 0], outputs
    docs = [json.loads(out) for out, _ in outputs]
    # Between them the two runs applied each version once per target.
    for name, dsn, _ in twenty:
        applied = sorted(
            v for doc in docs for t in doc["targets"] if t["name"] == name for v in t["applied"]
        )
        assert applied == [1, 2, 3, 4], name
        assert helpers.ledger(dsn) == [1, 2, 3, 4]
        history = query(
            dsn,
            "SELECT version, count(*) FROM schema_migrations_history "
            "WHERE action = 'apply' GROUP BY version ORDER BY version",
        )
        assert history == [(1, 1), (2, 1), (3, 1), (4, 1)], name
