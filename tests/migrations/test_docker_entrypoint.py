"""docker/entrypoint.sh, run directly (no Docker engine here): wait, create the
database if asked, migrate, then exec the app; every variable it reads is documented."""

from __future__ import annotations

import os
import re
import subprocess
import sys
import uuid
from collections.abc import Iterator

import psycopg
import pytest
from psycopg import conninfo, sql
from support import servers
from support.db import ROOT, query

ENTRYPOINT = ROOT / "docker" / "entrypoint.sh"
ATTEMPT = re.compile(
    r"^sqlmig: attempt (\d+) failed \([\d.]+ s of --wait [\d.]+\): .+; next attempt in [\d.]+ s$"
)


def entrypoint_env(dsn, mig_dir, **extra):
    return {
        **{k: v for k, v in os.environ.items() if not k.startswith(("SQLMIG_", "PG", "DATABASE_"))},
        **({"SQLMIG_DSN": dsn} if dsn else {}),
        "SQLMIG_DIR": str(mig_dir),
        "SQLMIG": f"{sys.executable} -m sqlmig",
        "SQLMIG_WAIT": "1",
        **extra,
    }


def run(dsn, mig_dir, *command, cwd=None, **extra):
    return subprocess.run(
        ["sh", str(ENTRYPOINT), *command],
        env=entrypoint_env(dsn, mig_dir, **extra),
        capture_output=True,
        text=True,
        timeout=60,
        cwd=cwd,
    )


def test_migrates_then_execs_the_command(dsn, mig_dir):
    mig_dir.write("1-a.sql", "create table a (id int);")
    result = run(dsn, mig_dir, "sh", "-c", "echo app started as pid $$")
    assert result.returncode == 0, result.stderr
    assert "applied 1-a.sql" in result.stdout and "app started" in result.stdout
    assert query(dsn, "select count(*) from schema_migrations") == [(1,)]


def test_the_command_replaces_the_entrypoint(dsn, mig_dir, tmp_path):
    """exec: the app gets the entrypoint's PID (signals reach it), its arguments intact."""
    mig_dir.write("1-a.sql", "select 1;")
    script = 'echo "$$" > pids; echo "$PPID" >> pids; printf "<%s>" "$@"'
    result = subprocess.run(
        ["sh", "-c", f'echo "$$" > outer; exec sh {ENTRYPOINT} sh -c \'{script}\' app "a b" ""'],
        env=entrypoint_env(dsn, mig_dir),
        capture_output=True,
        text=True,
        timeout=60,
        cwd=tmp_path,
    )
    assert result.returncode == 0, result.stderr
    assert result.stdout.endswith("<a b><>")
    outer = (tmp_path / "outer").read_text().strip()
    assert (tmp_path / "pids").read_text().split()[0] == outer  # same process, exec'd twice


def test_no_command_migrates_and_exits_0(dsn, mig_dir):
    mig_dir.write("1-a.sql", "create table a (id int);")
    result = run(dsn, mig_dir)
    assert result.returncode == 0, result.stderr
    assert "applied 1-a.sql" in result.stdout
    again = run(dsn, mig_dir)
    assert (
        again.returncode == 0
        and "Nothing to apply: 1 migration(s) already applied." in again.stdout
    )
    assert query(dsn, "select count(*) from schema_migrations") == [(1,)]


def test_failed_migration_keeps_the_app_down(dsn, mig_dir):
    mig_dir.write("1-a.sql", "create tabel a (id int);")
    result = run(dsn, mig_dir, "sh", "-c", "echo app started")
    assert result.returncode == 1
    assert "app started" not in result.stdout
    assert "1-a.sql:1:8" in result.stderr
    assert "migrating failed (exit 1: a migration failed)" in result.stderr


def test_unreachable_database_exits_3_after_waiting(mig_dir):
    mig_dir.write("1-a.sql", "select 1;")
    result = run("postgresql://u:pw-secret@127.0.0.1:1/db", mig_dir, "sh", "-c", "echo app started")
    assert result.returncode == 3 and "of --wait 1)" in result.stderr
    assert "app started" not in result.stdout
    lines = result.stderr.splitlines()
    attempts = [line for line in lines if line.startswith("sqlmig: attempt ")]
    assert len(attempts) >= 2 and all(ATTEMPT.match(line) for line in attempts), lines
    tried = re.search(
        r"Error: cannot connect to database db on 127.0.0.1:1 \(from SQLMIG_DSN; "
        r"tried (\d+) time\(s\) over [\d.]+ s of --wait 1\)",
        result.stderr,
    )
    assert tried and int(tried[1]) == len(attempts) + 1, result.stderr
    assert lines[-1] == (
        "sqlmig-entrypoint: migrating failed (exit 3: the database was unreachable for "
        "SQLMIG_WAIT=1s, or another runner held the migration lock); "
        "the application was not started."
    )
    assert "pw-secret" not in result.stderr


def test_no_database_configured_refuses_instead_of_starting_embedded(mig_dir, tmp_path):
    """Even SQLMIG_EMBEDDED=1 from the environment cannot bring the fallback back."""
    mig_dir.write("1-a.sql", "select 1;")
    result = run(None, mig_dir, "sh", "-c", "echo app started", SQLMIG_EMBEDDED="1", cwd=tmp_path)
    assert result.returncode == 2
    assert "app started" not in result.stdout
    assert "Error: no database configured, and the embedded server is off (SQLMIG_EMBEDDED=0)" in (
        result.stderr
    )
    assert "set SQLMIG_DSN (or DATABASE_URL" in result.stderr
    assert not (tmp_path / ".sqlmig").exists()


def test_database_url_and_pg_variables_are_targets_too(pg, dsn, mig_dir):
    mig_dir.write("1-a.sql", "create table a (id int);")
    by_url = run(None, mig_dir, DATABASE_URL=dsn)
    assert by_url.returncode == 0, by_url.stderr
    params = conninfo.conninfo_to_dict(dsn)
    mig_dir.write("2-b.sql", "create table b (id int);")
    pg_vars = {"PGHOST": params["host"], "PGPORT": params["port"], "PGUSER": params["user"],
               "PGDATABASE": params["dbname"]}  # fmt: skip
    by_pg = run(None, mig_dir, **pg_vars)
    assert by_pg.returncode == 0, by_pg.stderr
    assert "applied 2-b.sql" in by_pg.stdout
    assert query(dsn, "select version from schema_migrations order by 1") == [(1,), (2,)]


@pytest.fixture
def missing_db(pg) -> Iterator[str]:
    name = f"t_new_{uuid.uuid4().hex[:10]}"
    yield pg.dsn(name)
    with psycopg.connect(pg.dsn(), autocommit=True) as conn:
        conn.execute(
            sql.SQL("DROP DATABASE IF EXISTS {} WITH (FORCE)").format(sql.Identifier(name))
        )


def test_create_db_creates_a_missing_database(missing_db, mig_dir):
    mig_dir.write("1-a.sql", "create table a (id int);")
    refused = run(missing_db, mig_dir)
    assert refused.returncode == 3 and "does not exist" in refused.stderr
    result = run(missing_db, mig_dir, "true", SQLMIG_CREATE_DB="1")
    assert result.returncode == 0, result.stderr
    assert query(missing_db, "select count(*) from schema_migrations") == [(1,)]


def test_apply_args_pass_through_and_skip_skips(dsn, mig_dir):
    mig_dir.write("1-a.sql", "create table a (id int);")
    mig_dir.write("2-b.sql", "create table b (id int);")
    result = run(dsn, mig_dir, "true", SQLMIG_APPLY_ARGS="--target 1 --lock-timeout 5")
    assert result.returncode == 0, result.stderr
    assert "applied 1-a.sql" in result.stdout and "2-b.sql" not in result.stdout
    skipped = run(dsn, mig_dir, "sh", "-c", "echo app started", SQLMIG_SKIP="1")
    assert skipped.returncode == 0 and "app started" in skipped.stdout
    assert query(dsn, "select version from schema_migrations") == [(1,)]


@pytest.mark.parametrize("name", ["SQLMIG_CREATE_DB", "SQLMIG_SKIP"])
def test_a_flag_that_is_not_0_or_1_is_a_usage_error(dsn, mig_dir, name):
    result = run(dsn, mig_dir, "sh", "-c", "echo app started", **{name: "maybe"})
    assert result.returncode == 2
    assert result.stderr == (
        f"sqlmig-entrypoint: {name} must be 0 or 1, not 'maybe'; the application was not started.\n"
    )
    assert query(dsn, "select to_regclass('schema_migrations')") == [(None,)]


def test_every_variable_read_is_documented_in_the_header():
    text = ENTRYPOINT.read_text()
    header = text.split("set -eu", 1)[0]
    read = set(re.findall(r"\$\{?([A-Z][A-Z0-9_]+)", text))
    assert read >= {"SQLMIG", "SQLMIG_WAIT", "SQLMIG_CREATE_DB", "SQLMIG_APPLY_ARGS", "SQLMIG_SKIP"}
    documented = set(re.findall(r"^#\s+([A-Z][A-Z0-9_]+)\b", header, re.M))
    assert read <= documented, read - documented
    # and what sqlmig reads from the environment for it
    assert {"SQLMIG_DSN", "DATABASE_URL", "SQLMIG_DIR", "SQLMIG_EMBEDDED"} <= documented


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
def test_waits_for_a_server_that_is_not_started_yet_then_applies_and_execs(late_server, mig_dir):
    """Acceptance 5 of issue 11: one line per attempt, then apply, then the command."""
    mig_dir.write("1-a.sql", "create table came_up ();")
    dsn = late_server.dsn("postgres")
    proc = subprocess.Popen(
        ["sh", str(ENTRYPOINT), "sh", "-c", "echo app started; exit 7"],
        env=entrypoint_env(dsn, mig_dir, SQLMIG_WAIT="120"),
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
    )
    assert proc.stderr is not None
    seen = []
    try:
        while not any(line.startswith("sqlmig: attempt 2 failed") for line in seen):
            line = proc.stderr.readline()
            assert line, f"the entrypoint ended early: {seen}"
            seen.append(line.rstrip("\n"))
        # -l: without a log file the new postmaster keeps pg_ctl's stdout open.
        # restart, not start: it reuses the first start's options (port, socket folder).
        late_server.pg_ctl("-w", "-l", str(late_server.pgdata / "late.log"), "restart")
        out, err = proc.communicate(timeout=120)
    finally:
        if proc.poll() is None:
            proc.kill()
            proc.communicate()
    assert proc.returncode == 7, err  # the command's own exit code: it was exec'd
    lines = seen + err.splitlines()
    assert lines[0].startswith("sqlmig: target postgresql://postgres@/postgres?host=")
    attempts = lines[1:]
    assert attempts and all(ATTEMPT.match(line) for line in attempts), attempts
    numbers = [int(ATTEMPT.match(line)[1]) for line in attempts]
    assert numbers == list(range(1, len(numbers) + 1))
    assert out.splitlines()[-1] == "app started"
    assert "applied 1-a.sql" in out
    assert query(dsn, "select to_regclass('came_up') is not null") == [(True,)]
