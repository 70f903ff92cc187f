"""Issue 13, acceptance 1 at full size: three servers (PG 18, PG 15 and one more PG 15 on
another port) with 60 databases between them plus one database with 20 tenant schemas;
`fleet apply` brings all 80 to one ledger; status and verify agree; a target where
migration 3 fails stops its stage and the summary names it, every other target is fully
migrated or untouched; a re-run after the fix finishes."""

from __future__ import annotations

import json

import pytest
from support import fleet as helpers
from support import servers
from support.cli import invoke
from support.db import named, query

pytestmark = pytest.mark.slow

SCHEMAS = [f"tenant_{i:02d}" for i in range(20)]


@pytest.fixture(scope="module")
def third():
    if "pg15" not in servers.available():
        pytest.skip("needs the system PostgreSQL 15 for the third server")
    server = servers.start_extra("pg15-third", "5439")
    try:
        yield server
    finally:
        servers.stop(server)


@pytest.fixture
def fleet_of_80(every_server, third):
    everyone = [*every_server, third]
    assert len({s.params["port"] for s in everyone}) == 3 == len(everyone)
    made = helpers.databases(everyone, 60)
    tenants = helpers.databases([every_server[0]], 1)
    try:
        yield made, tenants[0][1]
    finally:
        helpers.drop(made + tenants)


def schema_ledger(dsn, schema):
    exists = query(dsn, "SELECT to_regclass(%s) IS NOT NULL", f"{schema}.schema_migrations")
    if not exists[0][0]:
        return []
    rows = query(
        dsn, named("SELECT version FROM {t} WHERE success", t=f"{schema}.schema_migrations")
    )
    return sorted(int(v) for (v,) in rows)  # type: ignore[call-overload]


def test_eighty_targets_on_three_servers(tmp_path, fleet_of_80):
    made, tenants = fleet_of_80
    path = tmp_path / "fleet.toml"
    stages = [["t00"], ["t0*", "t1*"], ["*"]]  # t05 fails in stage 2: stage 3 never starts
    lines = [f"stages = {json.dumps(stages)}", "[targets]"]
    lines += [f"{name} = {json.dumps(dsn)}" for name, dsn, _ in made]
    lines += ["[[schemas]]", f"dsn = {json.dumps(tenants)}", 'name = "tenants"']
    lines.append(f"schemas = {json.dumps(SCHEMAS)}")
    path.write_text("\n".join(lines) + "\n")
    helpers.write_files(tmp_path / "m")
    query(made[5][1], "CREATE TABLE c (other text)")  # migration 3 fails on t05

    def fleet(*args):
        return invoke("--dir", str(tmp_path / "m"), *args, "--targets", str(path), cwd=tmp_path)

    listed = json.loads(fleet("--format", "json", "fleet", "targets").output)["targets"]
    assert len(listed) == 80 and len({t["server"] for t in listed}) == 3
    first = fleet("--format", "json", "fleet", "apply", "--jobs", "8")
    assert first.exit_code == 1, first.output
    doc = json.loads(first.output)
    by = {t["name"]: t for t in doc["targets"]}
    assert by["t05"]["outcome"] == "failed"
    assert "0003-c.sql" in by["t05"]["error"]["error"]
    assert by["t05"]["error"]["path"].endswith("0003-c.sql")
    assert {by[n]["outcome"] for n in by if n.startswith("tenants/")} == {"skipped"}
    for name, dsn, _ in made:
        ledger = helpers.ledger(dsn)
        if name == "t05":
            assert ledger == [1, 2]
        else:  # fully migrated or untouched, as its outcome says
            expected = [] if by[name]["outcome"] == "skipped" else [1, 2, 3, 4]
            assert ledger == expected, name
    assert all(by[f"t{i}"]["outcome"] == "skipped" for i in range(20, 60))
    assert [schema_ledger(tenants, s) for s in SCHEMAS] == [[]] * 20
    text = fleet("fleet", "apply", "--jobs", "8")  # the same state, as lines: the summary
    assert "failed t05 (database " in text.output
    assert 'relation "c" already exists' in text.output

    query(made[5][1], "DROP TABLE c")
    again = fleet("--format", "json", "fleet", "apply", "--jobs", "8")
    assert again.exit_code == 0, again.output
    assert [helpers.ledger(d) for _, d, _ in made] == [[1, 2, 3, 4]] * 60
    assert [schema_ledger(tenants, s) for s in SCHEMAS] == [[1, 2, 3, 4]] * 20
    status = json.loads(fleet("--format", "json", "fleet", "status").output)["targets"]
    verify = json.loads(fleet("--format", "json", "fleet", "verify").output)["targets"]
    assert [(t["outcome"], t["version_after"]) for t in status] == [("up-to-date", 4)] * 80
    assert [(t["outcome"], t["version_after"]) for t in verify] == [("ok", 4)] * 80
    assert [t["name"] for t in status] == [t["name"] for t in verify]
