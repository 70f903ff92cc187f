"""--wait: keep trying until the deadline (the last attempt at it), one stderr line
per failed attempt, a true message; authentication, a missing role and a missing
database fail at once."""

from __future__ import annotations

import re
import subprocess
import sys
from collections.abc import Iterator
from dataclasses import replace

import pytest
from psycopg import conninfo
from support import servers
from support.cli import invoke
from support.db import query
from support.secrets import SECRET, url

from sqlmig.core import config, connections, targets
from sqlmig.core.errors import DatabaseUnavailable

ATTEMPT = re.compile(
    r"^sqlmig: attempt (\d+) failed \([\d.]+ s of --wait [\d.]+\): .+; next attempt in [\d.]+ s$"
)


@pytest.fixture
def late_server() -> Iterator[servers.Server]:
    """A private server (never the session's), stopped; the test starts it."""
    names = servers.available()
    if names == ["external"]:
        pytest.skip("needs a server this run can stop and start")
    server = servers.start("pg15" if "pg15" in names else "pg18")
    try:
        server.pg_ctl("-w", "-m", "fast", "stop")
        yield server
    finally:
        servers.stop(server)


@pytest.mark.slow
def test_wait_reaches_a_server_that_starts_after_the_command(late_server, mig_dir):
    mig_dir.write("1-a.sql", "create table came_up ();")
    dsn = late_server.dsn("postgres")
    proc = subprocess.Popen(
        [
            sys.executable,
            "-m",
            "sqlmig",
            "--dsn",
            dsn,
            "--dir",
            str(mig_dir),
            "apply",
            "--wait",
            "120",
        ],
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
    )
    assert proc.stderr is not None
    seen = []
    try:
        while not any(line.startswith("sqlmig: attempt 2 failed") for line in seen):
            line = proc.stderr.readline()
            assert line, f"sqlmig ended early: {seen}"
            seen.append(line.rstrip("\n"))
        # -l: without a log file the new postmaster keeps pg_ctl's stdout open.
        late_server.pg_ctl("-w", "-l", str(late_server.pgdata / "late.log"), "restart")
        out, err = proc.communicate(timeout=120)
    finally:
        if proc.poll() is None:
            proc.kill()
            proc.communicate()
    assert proc.returncode == 0, err
    assert "applied 1-a.sql" in out
    lines = seen + err.splitlines()
    assert lines[0].startswith("sqlmig: target postgresql://postgres@/postgres?host=")
    attempts = [line for line in lines[1:]]
    assert attempts and all(ATTEMPT.match(line) for line in attempts), attempts
    numbers = [int(ATTEMPT.match(line)[1]) for line in attempts]
    assert numbers == list(range(1, len(numbers) + 1))
    assert query(dsn, "select to_regclass('came_up') is not null") == [(True,)]


def test_wait_tries_until_the_deadline_and_says_so(mig_dir):
    mig_dir.write("1-a.sql", "select 1;")
    result = invoke(
        "--dsn", "postgresql://u@127.0.0.1:1/db", "--dir", str(mig_dir), "apply", "--wait", "1.5"
    )
    assert result.exit_code == 3
    lines = result.stderr.splitlines()
    attempts = [line for line in lines if line.startswith("sqlmig: attempt ")]
    assert all(ATTEMPT.match(line) for line in attempts)
    error = result.stderr.split("Error: ", 1)[1]
    tried = re.match(
        r"cannot connect to database db on 127.0.0.1:1 "
        r"\(from --dsn; tried (\d+) time\(s\) over ([\d.]+) s of --wait 1\.5\): ",
        error,
    )
    assert tried, error
    # one line per failed attempt before the last, whose failure is the error
    assert len(attempts) == int(tried[1]) - 1 >= 2
    assert float(tried[2]) >= 1.5  # it stops at the deadline, not before
    assert "Connection refused" in error


def test_the_library_reports_each_attempt_and_the_last_is_at_the_deadline(mig_dir):
    notices: list[targets.Notice] = []
    settings = replace(
        config.resolve("postgresql://u@127.0.0.1:1/db", mig_dir.path), notify=notices.append
    )
    with pytest.raises(DatabaseUnavailable) as info:
        connections.connect(settings, wait_s=1.0)
    target, *retries = notices
    assert isinstance(target, targets.Target) and target.shown == "postgresql://u@127.0.0.1:1/db"
    assert retries and all(isinstance(n, targets.Retrying) for n in retries)
    assert [n.attempt for n in retries] == list(range(1, len(retries) + 1))
    last = retries[-1]
    # the pause before the final attempt is cut to end exactly at the deadline
    assert last.elapsed_s + last.delay_s == pytest.approx(1.0, abs=1e-6)
    assert f"; tried {len(retries) + 1} time(s) over" in str(info.value)


def test_wrong_password_is_not_retried(password_user, mig_dir):
    mig_dir.write("1-a.sql", "select 1;")
    dsn = url(password_user, "Wr0ng-" + SECRET, "postgres")
    result = invoke("--dsn", dsn, "--dir", str(mig_dir), "apply", "--wait", "300")
    assert result.exit_code == 3
    assert "sqlmig: attempt" not in result.stderr
    error = result.stderr.splitlines()
    assert "; not retried: waiting does not change this)" in result.stderr
    assert "password authentication failed" in result.stderr
    assert (
        error[-1] == "check the user and password (PGPASSWORD, ~/.pgpass and service files count)."
    )
    assert SECRET not in result.output


def test_missing_role_is_not_retried_and_gets_no_create_db_hint(pg, mig_dir):
    mig_dir.write("1-a.sql", "select 1;")
    params = {**pg.params, "user": "no_such_role_qz"}
    dsn = conninfo.make_conninfo(**params, dbname="postgres")
    for extra in ((), ("--create-db",)):
        result = invoke("--dsn", dsn, "--dir", str(mig_dir), "apply", "--wait", "300", *extra)
        assert result.exit_code == 3
        assert 'role "no_such_role_qz" does not exist' in result.stderr
        assert "sqlmig: attempt" not in result.stderr
        assert result.stderr.splitlines()[-1] == "check the user name, or create the role."
        assert "--create-db" not in result.stderr


def test_missing_database_fails_at_once_unless_create_db(pg, mig_dir):
    mig_dir.write("1-a.sql", "create table made ();")
    name = "t_missing_qz_connect"
    connections.drop_database(pg.dsn(), name)
    dsn = pg.dsn(name)
    result = invoke("--dsn", dsn, "--dir", str(mig_dir), "apply", "--wait", "300")
    assert result.exit_code == 3
    assert f'database "{name}" does not exist' in result.stderr
    assert "sqlmig: attempt" not in result.stderr
    assert result.stderr.splitlines()[-1] == "create it, or run with --create-db."
    try:
        created = invoke(
            "--dsn", dsn, "--dir", str(mig_dir), "apply", "--wait", "300", "--create-db"
        )
        assert created.exit_code == 0, created.output
        assert query(dsn, "select to_regclass('made') is not null") == [(True,)]
    finally:
        connections.drop_database(pg.dsn(), name)
