"""docker/entrypoint.sh, run directly (no Docker engine here): migrate, then exec the app."""

from __future__ import annotations

import os
import subprocess
import sys

from support.db import ROOT, query

ENTRYPOINT = ROOT / "docker" / "entrypoint.sh"


def run(dsn, mig_dir, *command, cwd=None, **extra):
    env = {
        **{k: v for k, v in os.environ.items() if not k.startswith(("SQLMIG_", "PG"))},
        **({"SQLMIG_DSN": dsn} if dsn else {}),
        "SQLMIG_DIR": str(mig_dir),
        "SQLMIG": f"{sys.executable} -m sqlmig",
        "SQLMIG_WAIT": "1",
        **extra,
    }
    return subprocess.run(
        ["sh", str(ENTRYPOINT), *command],
        env=env,
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


def test_failed_migration_keeps_the_app_down(dsn, mig_dir):
    mig_dir.write("1-a.sql", "create tabel a (id int);")
    result = run(dsn, mig_dir, "sh", "-c", "echo app started")
    assert result.returncode == 1
    assert "app started" not in result.stdout
    assert "1-a.sql:1:8" in result.stderr


def test_unreachable_database_exits_3_after_waiting(mig_dir):
    mig_dir.write("1-a.sql", "select 1;")
    result = run("postgresql://u:pw-secret@127.0.0.1:1/db", mig_dir, "true")
    assert result.returncode == 3 and "of --wait 1)" in result.stderr
    assert "the application was not started" in result.stderr
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
