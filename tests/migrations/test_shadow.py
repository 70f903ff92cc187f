"""The throwaway database behind drift and check: built from exactly the applied files,
always dropped, never a write to the target."""

from __future__ import annotations

import psycopg
import pytest
from psycopg import conninfo, sql
from support.db import query

from sqlmig import migrations
from sqlmig.core import config
from sqlmig.core.errors import MigrationFailed, UsageError
from sqlmig.migrations import shadow


def shadows(pg) -> list[str]:
    rows = query(pg.dsn(), "select datname from pg_database where datname like 'sqlmig_shadow_%'")
    return [str(name) for (name,) in rows]


def tables(dsn: str) -> list[str]:
    # The history table is sqlmig's audit trail, checked in test_history.py.
    rows = query(
        dsn,
        "select tablename from pg_tables where schemaname = 'public'"
        " and tablename <> 'schema_migrations_history' order by tablename",
    )
    return [str(name) for (name,) in rows]


@pytest.fixture
def corpus(mig_dir):
    mig_dir.write("1-a.sql", "create table a (id int);\n")
    mig_dir.write("2-b.sql", "create table b (id int);\n")
    mig_dir.write("3-c.sql", "create table c (id int);\n")
    return mig_dir


def test_built_from_exactly_the_applied_versions_and_dropped(pg, dsn, corpus):
    settings = config.resolve(dsn, corpus.path)
    migrations.apply(settings, target=2)
    before = tables(dsn), query(dsn, "select version, checksum from schema_migrations")
    versions = shadow.applied_versions(settings)
    assert versions == {1, 2}
    with shadow.throwaway(settings) as db:
        assert db.name in shadows(pg) and db.where == "on the target's server"
        built = shadow.build(settings, db, versions)
        assert [s.version for s in built] == [1, 2]
        assert tables(db.dsn) == ["a", "b", "schema_migrations"]
    assert db.name not in shadows(pg)
    assert (tables(dsn), query(dsn, "select version, checksum from schema_migrations")) == before


def test_dropped_after_an_error_inside(pg, dsn, corpus):
    settings = config.resolve(dsn, corpus.path)
    with pytest.raises(RuntimeError), shadow.throwaway(settings) as db:
        raise RuntimeError("boom")
    assert db.name not in shadows(pg)


def test_a_failing_file_reports_as_apply_would(pg, dsn, mig_dir):
    mig_dir.write("1-a.sql", "create table a (id int);\ncreate tabel b (id int);\n")
    settings = config.resolve(dsn, mig_dir.path)
    with shadow.throwaway(settings) as db, pytest.raises(MigrationFailed) as failed:
        shadow.build(settings, db)
    assert (failed.value.line, failed.value.column, failed.value.sqlstate) == (2, 8, "42601")
    assert db.name not in shadows(pg)


def test_an_applied_version_without_a_file_is_a_usage_error(dsn, corpus):
    settings = config.resolve(dsn, corpus.path)
    migrations.apply(settings)
    (corpus.path / "2-b.sql").unlink()
    with shadow.throwaway(settings) as db, pytest.raises(UsageError, match=r"version\(s\) 2"):
        shadow.build(settings, db, shadow.applied_versions(settings))


def test_shadow_dsn_names_the_server_to_use(pg, dsn, corpus):
    settings = config.resolve(dsn, corpus.path)
    with shadow.throwaway(settings, shadow_dsn=pg.dsn()) as db:
        assert db.where == "on --shadow-dsn's server"
        assert conninfo.conninfo_to_dict(db.dsn)["dbname"] == db.name
        shadow.build(settings, db)
        assert tables(db.dsn) == ["a", "b", "c", "schema_migrations"]
    assert db.name not in shadows(pg)


@pytest.mark.slow
def test_a_role_that_may_not_create_databases_uses_the_embedded_server(pg, dsn, corpus, tmp_path):
    role = "sqlmig_nocreatedb"
    with psycopg.connect(pg.dsn(), autocommit=True) as conn:
        conn.execute(sql.SQL("drop role if exists {}").format(sql.Identifier(role)))
        conn.execute(sql.SQL("create role {} login nocreatedb").format(sql.Identifier(role)))
    try:
        limited = conninfo.make_conninfo(dsn, user=role)
        settings = config.resolve(limited, corpus.path, cwd=tmp_path)
        with shadow.throwaway(settings) as db:
            assert db.where == "on the embedded server"
            shadow.build(settings, db)
            assert tables(db.dsn) == ["a", "b", "c", "schema_migrations"]
        from sqlmig.core import embedded

        embedded.stop(tmp_path)
    finally:
        with psycopg.connect(pg.dsn(), autocommit=True) as conn:
            conn.execute(sql.SQL("drop role if exists {}").format(sql.Identifier(role)))


def test_an_unreachable_shadow_dsn_is_a_clear_exit_3(dsn, corpus):
    from sqlmig.core.errors import DatabaseUnavailable

    settings = config.resolve(dsn, corpus.path)
    bad = "postgresql://bob:S3cretPw99@127.0.0.1:1/x"
    with pytest.raises(DatabaseUnavailable) as failed, shadow.throwaway(settings, shadow_dsn=bad):
        pass
    assert "--shadow-dsn" in str(failed.value) and "S3cretPw99" not in str(failed.value)
    assert failed.value.exit_code == 3
