"""No password in any output (acceptance 7): wrong password, unreachable host,
malformed DSN, failing migration -- text and JSON, in-process and as a process."""

from __future__ import annotations

import subprocess
import sys

import psycopg
import pytest
from psycopg import sql

SECRET = "S3cr3t-Pa55word"
USER = "sqlmig_pw"


@pytest.fixture(scope="session")
def password_user(pg):
    """A role that must log in with a password (scram), on the test server."""
    if pg.pgdata is None:
        pytest.skip("needs a server whose pg_hba.conf this run controls")
    with psycopg.connect(pg.dsn(), autocommit=True) as conn:
        if not conn.execute("select 1 from pg_roles where rolname = %s", (USER,)).fetchone():
            conn.execute(
                sql.SQL("create role {} login superuser password {}").format(
                    sql.Identifier(USER), sql.Literal(SECRET)
                )
            )
        hba = pg.pgdata / "pg_hba.conf"
        rule = f"local all {USER} scram-sha-256\n"
        text = hba.read_text()
        if rule not in text:
            hba.write_text(rule + text)
            conn.execute("select pg_reload_conf()")
    return pg


def url(pg, password, dbname):
    host = pg.params["host"]
    return f"postgresql://{USER}:{password}@/{dbname}?host={host}&port={pg.params['port']}"


def run(*args):
    return subprocess.run(
        [sys.executable, "-m", "sqlmig", *args], capture_output=True, text=True, timeout=60
    )


def assert_clean(result, *secrets):
    for secret in secrets:
        assert secret not in result.stdout
        assert secret not in result.stderr


def test_wrong_password(password_user, mig_dir):
    mig_dir.write("1-a.sql", "select 1;")
    dsn = url(password_user, "Wr0ng-" + SECRET, "postgres")
    for fmt in ("text", "json"):
        result = run("--format", fmt, "--dsn", dsn, "--dir", str(mig_dir), "apply")
        assert result.returncode == 3
        assert "password authentication failed" in result.stderr
        assert "check the user and password" in result.stderr
        assert_clean(result, SECRET)


def test_unreachable_host_with_password_and_wait(mig_dir):
    mig_dir.write("1-a.sql", "select 1;")
    dsn = f"postgresql://bob:{SECRET}@127.0.0.1:1/app"
    result = run("--dsn", dsn, "--dir", str(mig_dir), "apply", "--wait", "0.3")
    assert result.returncode == 3
    assert "cannot connect to database app on 127.0.0.1:1" in result.stderr
    assert_clean(result, SECRET)


@pytest.mark.parametrize(
    "dsn",
    [
        f"host=127.0.0.1 port=1 password={SECRET} dbname",  # malformed key=value
        f"postgresql://bob:{SECRET}@127.0.0.1:notaport/app",  # malformed URL
    ],
)
def test_malformed_dsn(mig_dir, dsn):
    mig_dir.write("1-a.sql", "select 1;")
    result = run("--dsn", dsn, "--dir", str(mig_dir), "status")
    assert result.returncode == 2
    assert result.stderr.splitlines()[-1].startswith("Error: invalid DSN")
    assert_clean(result, SECRET)


def test_password_from_environment_is_not_printed(mig_dir, monkeypatch):
    mig_dir.write("1-a.sql", "select 1;")
    env_dsn = f"postgresql://bob:{SECRET}@127.0.0.1:1/app?connect_timeout=2"
    result = subprocess.run(
        [sys.executable, "-m", "sqlmig", "--dir", str(mig_dir), "status"],
        capture_output=True,
        text=True,
        env={**__import__("os").environ, "DATABASE_URL": env_dsn},
    )
    assert result.returncode == 3 and "(from DATABASE_URL)" in result.stderr
    assert_clean(result, SECRET)


def test_failing_migration_with_password_dsn(password_user, dsn, mig_dir):
    dbname = psycopg.conninfo.conninfo_to_dict(dsn)["dbname"]
    mig_dir.write("1-a.sql", f"select '{USER}' as who;\nselect current_setting('no.such');\n")
    target = url(password_user, SECRET, dbname)
    for fmt in ("text", "json"):
        result = run("--format", fmt, "--dsn", target, "--dir", str(mig_dir), "apply")
        assert result.returncode == 1
        assert "1-a.sql:2:1: ERROR 42704" in result.stderr
        assert_clean(result, SECRET)
    status = run("--dsn", target, "--dir", str(mig_dir), "status")
    assert status.returncode == 0
    assert_clean(status, SECRET)
