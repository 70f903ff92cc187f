"""Where a fleet's targets come from: pyproject, a TOML or plain targets file, a template,
a control query; names unique, globs, stages; no password ever written down."""

from __future__ import annotations

import json

import pytest
from support.cli import invoke
from support.db import query

from sqlmig import fleet
from sqlmig.core import config
from sqlmig.core.errors import UsageError

SECRET = "Fl33t-Secret-pw"


def settings(tmp_path):
    return config.resolve("", tmp_path / "migrations", cwd=tmp_path)


def test_plain_file_names_dsns_and_key_value_lines(tmp_path):
    path = tmp_path / "fleet.txt"
    path.write_text(
        "# tenants\n"
        "eu-1=postgresql://app@db1:5433/eu1\n"
        "\n"
        "postgresql://app@db2/us1   # named after its database\n"
        "host=db3 port=6000 dbname=apac1 user=app\n"
        "apac-2 = host=db3 port=6000 dbname=apac2\n"
    )
    found = fleet.load_fleet(settings(tmp_path), path, env={})
    assert [(t.name, t.server) for t in found.targets] == [
        ("eu-1", "db1:5433"),
        ("us1", "db2:5432"),
        ("apac1", "db3:6000"),
        ("apac-2", "db3:6000"),
    ]
    assert found.targets[0].shown == "database eu1 on db1:5433"
    assert [t.name for t in found.select(["apac*"]).targets] == ["apac1", "apac-2"]
    with pytest.raises(UsageError, match=r"--only nope matches no target"):
        found.select(["nope"])


@pytest.mark.parametrize(
    "line",
    [
        f"eu-1=postgresql://app:{SECRET}@db1/eu1",
        f"host=db1 dbname=eu1 password={SECRET}",
        f"eu-1=postgresql://app@db1/eu1?password={SECRET}",
    ],
)
def test_a_password_in_a_file_is_refused_without_showing_it(tmp_path, line):
    path = tmp_path / "fleet.txt"
    path.write_text(line + "\n")
    with pytest.raises(UsageError) as caught:
        fleet.load_fleet(settings(tmp_path), path, env={})
    message = str(caught.value)
    assert "fleet.txt:1: " in message and "contains a password" in message
    assert "password_env" in message and SECRET not in message


def test_toml_literal_template_password_env_and_stages(tmp_path):
    path = tmp_path / "fleet.toml"
    path.write_text(
        'stages = [["canary"], ["eu-*"]]\njobs = 3\nper_server = 2\nmax_failures = 2\n'
        "[targets]\n"
        'canary = "postgresql://app@db0/canary"\n'
        'eu-9 = { dsn = "postgresql://app@db9/eu9", password_env = "EU_PW" }\n'
        "[[template]]\n"
        'dsn = "postgresql://app@db1/tenant_{name}"\n'
        'names = ["eu-1", "us-1"]\n'
    )
    found = fleet.load_fleet(settings(tmp_path), path, env={"EU_PW": SECRET})
    assert [t.name for t in found.targets] == ["canary", "eu-9", "eu-1", "us-1"]
    assert (found.jobs, found.per_server, found.max_failures) == (3, 2, 2)
    assert "tenant_us-1" in found.targets[3].shown
    assert SECRET in found.secrets() and SECRET not in found.targets[1].shown
    assert SECRET not in repr(found.targets[1])
    stages = fleet.assign_stages(found.targets, found.stages)
    assert [[t.name for t in s] for s in stages] == [["canary"], ["eu-9", "eu-1"], ["us-1"]]
    stages = fleet.assign_stages(found.targets, found.stages, canary=["us-1"])
    assert [[t.name for t in s] for s in stages] == [["us-1"], ["canary"], ["eu-9", "eu-1"]]
    with pytest.raises(UsageError, match="--canary nope: no target"):
        fleet.assign_stages(found.targets, found.stages, canary=["nope"])
    with pytest.raises(UsageError, match="password_env names EU_PW, which is not set"):
        fleet.load_fleet(settings(tmp_path), path, env={})


@pytest.mark.parametrize(
    ("text", "error"),
    [
        (
            '[targets]\na = "postgresql://x@h/a"\n[[template]]\ndsn = "host=h dbname={name}"\nnames = ["a"]\n',
            "target name 'a' is used twice",
        ),
        ('[targets]\n"bad name" = "postgresql://x@h/a"\n', "target name 'bad name' is not letters"),
        (
            '[targets]\na = "postgresql://x@h/a"\nparallel = 3\n',
            "targets.parallel: give a DSN string",
        ),
        ('jobs = 0\n[targets]\na = "postgresql://x@h/a"\n', "jobs must be a whole number"),
        ('jobz = 2\n[targets]\na = "postgresql://x@h/a"\n', "unknown key(s) jobz"),
        ('[[template]]\ndsn = "postgresql://x@h/a"\nnames = ["a"]\n', "has no {name}"),
        ('stages = ["a"]\n[targets]\na = "postgresql://x@h/a"\n', "stages must be a list of lists"),
        ("jobs = 2\n", "the fleet has no targets"),
    ],
)
def test_toml_mistakes_are_usage_errors(tmp_path, text, error):
    path = tmp_path / "fleet.toml"
    path.write_text(text)
    with pytest.raises(UsageError) as caught:
        fleet.load_fleet(settings(tmp_path), path, env={})
    assert error in str(caught.value)


def test_pyproject_table_and_the_targets_command(tmp_path):
    (tmp_path / "pyproject.toml").write_text(
        '[tool.sqlmig]\ndir = "m"\n[tool.sqlmig.fleet]\nstages = [["b"]]\n'
        '[tool.sqlmig.fleet.targets]\na = "postgresql://app@db1/a"\nb = "postgresql://app@db2:6/b"\n'
    )
    result = invoke("--format", "json", "fleet", "targets", cwd=tmp_path)
    assert result.exit_code == 0, result.output
    assert json.loads(result.output)["targets"] == [
        {"name": "b", "stage": 1, "server": "db2:6", "target": "database b on db2:6"},
        {"name": "a", "stage": 2, "server": "db1:5432", "target": "database a on db1"},
    ]
    (tmp_path / "pyproject.toml").write_text('[tool.sqlmig]\ndir = "m"\n')
    result = invoke("fleet", "targets", cwd=tmp_path)
    assert result.exit_code == 2
    assert "no fleet configured: add a [tool.sqlmig.fleet] table" in result.output


def test_query_on_a_control_database(tmp_path, dsn):
    query(dsn, "CREATE TABLE tenants (tenant text, dsn text, active bool)")
    query(
        dsn,
        "INSERT INTO tenants VALUES ('acme', 'postgresql://app@db1/acme', true),"
        " ('gone', 'postgresql://app@db1/gone', false), ('zeta', 'host=db2 dbname=zeta', true)",
    )
    path = tmp_path / "fleet.toml"
    block = {"dsn": dsn, "sql": "SELECT tenant, dsn FROM tenants WHERE active ORDER BY 1"}
    path.write_text("[[query]]\n" + "".join(f"{k} = {json.dumps(v)}\n" for k, v in block.items()))
    found = fleet.load_fleet(settings(tmp_path), path, env={})
    assert [(t.name, t.server) for t in found.targets] == [
        ("acme", "db1:5432"),
        ("zeta", "db2:5432"),
    ]
    # Read only: a query that writes is refused by the server, and says so.
    block["sql"] = "INSERT INTO tenants VALUES ('x', 'y', true) RETURNING tenant, dsn"
    path.write_text("[[query]]\n" + "".join(f"{k} = {json.dumps(v)}\n" for k, v in block.items()))
    with pytest.raises(UsageError, match="the query failed: cannot execute INSERT in a read-only"):
        fleet.load_fleet(settings(tmp_path), path, env={})
    # A row with a password is refused like a file's.
    query(
        dsn,
        "UPDATE tenants SET dsn = %s WHERE tenant = 'acme'",
        f"postgresql://app:{SECRET}@db1/acme",
    )
    block["sql"] = "SELECT tenant, dsn FROM tenants WHERE active"
    path.write_text("[[query]]\n" + "".join(f"{k} = {json.dumps(v)}\n" for k, v in block.items()))
    with pytest.raises(UsageError) as caught:
        fleet.load_fleet(settings(tmp_path), path, env={})
    assert "row acme: the DSN of acme contains a password" in str(caught.value)
    assert SECRET not in str(caught.value)
    # So is the control database's own DSN with one.
    block["dsn"] = f"postgresql://app:{SECRET}@db1/control"
    path.write_text("[[query]]\n" + "".join(f"{k} = {json.dumps(v)}\n" for k, v in block.items()))
    with pytest.raises(UsageError) as caught:
        fleet.load_fleet(settings(tmp_path), path, env={})
    assert "query[0]: the control database's DSN contains a password" in str(caught.value)
    assert SECRET not in str(caught.value)
