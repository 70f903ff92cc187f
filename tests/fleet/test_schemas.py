"""Schema-per-tenant targets: one database, 20 schemas, each its own ledger, tables,
lock and search_path; status and verify agree; a failing schema is reported and the
others are migrated or untouched; a re-run finishes; names and schemas are checked."""

from __future__ import annotations

import json

import pytest
from support import fleet as helpers
from support.db import named, query

from sqlmig import fleet
from sqlmig.core import config
from sqlmig.core.errors import UsageError

SCHEMAS = [f"tenant_{i:02d}" for i in range(20)]


@pytest.fixture
def tenants(pg):
    made = helpers.databases([pg], 1)
    try:
        yield made[0][1]
    finally:
        helpers.drop(made)


def write(tmp_path, dsn, **block):
    block = {"dsn": dsn, "name": "tenants", **block}
    lines = ["[[schemas]]"] + [f"{k} = {json.dumps(v)}" for k, v in block.items()]
    path = tmp_path / "fleet.toml"
    path.write_text("\n".join(lines) + "\n")
    settings = config.resolve("", helpers.write_files(tmp_path / "m"), cwd=tmp_path)
    return path, settings


def ledger(dsn, schema):
    if not query(dsn, "SELECT to_regclass(%s) IS NOT NULL", f"{schema}.schema_migrations")[0][0]:
        return []
    rows = query(
        dsn,
        named(
            "SELECT version FROM {t} WHERE success ORDER BY version",
            t=f"{schema}.schema_migrations",
        ),
    )
    return [int(v) for (v,) in rows]


def tables(dsn, schema):
    rows = query(
        dsn,
        "SELECT relname FROM pg_class c JOIN pg_namespace n ON n.oid = relnamespace "
        "WHERE nspname = %s AND relkind = 'r' AND relname IN ('a', 'b', 'c', 'd') "
        "ORDER BY relname",
        schema,
    )
    return [str(r[0]) for r in rows]


def test_twenty_schemas_each_its_own_ledger_and_a_failing_one(tmp_path, tenants):
    path, settings = write(tmp_path, tenants, schemas=SCHEMAS)
    found = fleet.load_fleet(settings, path)
    assert [t.name for t in found.targets] == [f"tenants/{s}" for s in SCHEMAS]
    assert len({t.server for t in found.targets}) == 1  # one server for the per-server cap
    assert found.targets[0].shown.startswith("schema tenant_00 of database ")
    # tenant_05 already has a table c (in its own schema): migration 3 fails there only.
    query(tenants, "CREATE SCHEMA tenant_05; CREATE TABLE tenant_05.c (other text)")
    query(tenants, "CREATE TABLE public.c (other text)")  # not seen through search_path
    result = fleet.run_fleet("apply", found, settings, fleet.FleetOptions(jobs=4))
    assert result.exit_code == 1
    by = {r.target.name.split("/")[1]: r for r in result.results}
    assert by["tenant_05"].outcome is fleet.Outcome.FAILED
    assert "0003-c.sql" in by["tenant_05"].error and "already exists" in by["tenant_05"].error
    assert "Fix the file, then run `sqlmig fleet apply` again." in by["tenant_05"].error
    assert ledger(tenants, "tenant_05") == [1, 2]
    for schema, r in by.items():
        if r.outcome is fleet.Outcome.APPLIED:
            assert (ledger(tenants, schema), tables(tenants, schema)) == (
                [1, 2, 3, 4],
                ["a", "b", "c", "d"],
            )
        elif schema != "tenant_05":
            assert r.outcome is fleet.Outcome.SKIPPED
            assert (ledger(tenants, schema), tables(tenants, schema)) == ([], [])
    assert tables(tenants, "public") == ["c"] and helpers.ledger(tenants) == []
    status = fleet.run_fleet("status", found, settings)
    verify = fleet.run_fleet("verify", found, settings)
    for s, v in zip(status.results, verify.results, strict=True):
        schema = s.target.name.split("/")[1]
        assert s.version_after == v.version_after == max(ledger(tenants, schema), default=None)
        assert (s.outcome == "up-to-date") == (v.outcome == "ok" and not v.pending)
    query(tenants, "DROP TABLE tenant_05.c")
    again = fleet.run_fleet("apply", found, settings, fleet.FleetOptions(jobs=4))
    assert again.exit_code == 0
    for r in again.results:  # the applied ones have nothing left; the rest ran now
        was = by[r.target.name.split("/")[1]].outcome
        assert r.outcome == ("up-to-date" if was is fleet.Outcome.APPLIED else "applied")
    for schema in SCHEMAS:
        assert (ledger(tenants, schema), tables(tenants, schema)) == (
            [1, 2, 3, 4],
            ["a", "b", "c", "d"],
        )
    final = fleet.run_fleet("verify", found, settings)
    assert [(r.outcome, r.version_after) for r in final.results] == [("ok", 4)] * 20


def test_schemas_from_a_query_on_the_database(tmp_path, tenants):
    query(tenants, "CREATE SCHEMA tenant_b; CREATE SCHEMA tenant_a; CREATE SCHEMA other")
    sql = "SELECT nspname FROM pg_namespace WHERE nspname LIKE 'tenant\\_%' ORDER BY 1"
    path, settings = write(tmp_path, tenants, query=sql)
    found = fleet.load_fleet(settings, path)
    assert [t.name for t in found.targets] == ["tenants/tenant_a", "tenants/tenant_b"]
    assert fleet.run_fleet("apply", found, settings).exit_code == 0
    assert ledger(tenants, "tenant_a") == [1, 2, 3, 4] and tables(tenants, "other") == []


@pytest.mark.parametrize(
    ("block", "message"),
    [
        ({"schemas": ["Bad Name"]}, "is not lower-case letters"),
        ({"schemas": ["public"]}, "cannot be a tenant's schema"),
        ({"schemas": ['x" -c role=postgres']}, "is not lower-case letters"),
        ({}, "give either schemas"),
        ({"schemas": ["a"], "query": "SELECT 'a'"}, "give either schemas"),
        ({"query": "SELECT 1, 2"}, "one column"),
    ],
)
def test_bad_schema_blocks_are_refused(tmp_path, tenants, block, message):
    path, settings = write(tmp_path, tenants, **block)
    with pytest.raises(UsageError, match=message):
        fleet.load_fleet(settings, path)


def test_a_password_in_the_dsn_is_refused(tmp_path, tenants):
    path, settings = write(tmp_path, "postgresql://u:hunter2@localhost/x", schemas=["a"])
    with pytest.raises(UsageError, match="contains a password") as caught:
        fleet.load_fleet(settings, path)
    assert "hunter2" not in str(caught.value)


def test_drift_and_check_refuse_schema_targets(tmp_path, tenants):
    path, settings = write(tmp_path, tenants, schemas=["a"])
    found = fleet.load_fleet(settings, path)
    for command in ("drift", "check"):
        with pytest.raises(UsageError, match="does not support schema targets"):
            fleet.run_fleet(command, found, settings)


def test_search_path_joins_the_dsns_own_options(tmp_path, tenants):
    from psycopg import conninfo

    dsn = conninfo.make_conninfo(tenants, options="-c statement_timeout=5s")
    path, settings = write(tmp_path, dsn, schemas=["acme"])
    (target,) = fleet.load_fleet(settings, path).targets
    options = conninfo.conninfo_to_dict(target.dsn)["options"]
    assert options == '-c statement_timeout=5s -c search_path="acme"'
    assert query(target.dsn, "SHOW search_path") == [('"acme"',)]
    assert query(target.dsn, "SHOW statement_timeout") == [("5s",)]
