"""Every command names its target (redacted): a stderr line in text mode, a
``database`` field in JSON; the embedded fallback says so, and can be turned off."""

from __future__ import annotations

import json
import os
import subprocess
import sys

import pytest
from psycopg import conninfo
from support.cli import invoke


def shown(dsn: str) -> str:
    p = conninfo.conninfo_to_dict(dsn)
    return f"postgresql://{p['user']}@/{p['dbname']}?host={p['host']}&port={p['port']}"


def test_text_mode_names_the_target_on_stderr_only(sqlmig, mig_dir, dsn):
    mig_dir.write("1-a.sql", "create table a (id int);")
    result = sqlmig("status")
    assert result.exit_code == 0
    assert result.stderr == f"sqlmig: target {shown(dsn)} (from --dsn)\n"
    assert (
        result.stdout
        == "[ ] 1-a.sql                                  pending\n1 migration(s): 1 pending\n"
    )


def test_the_target_comes_from_the_environment_and_says_which(mig_dir, dsn):
    p = conninfo.conninfo_to_dict(dsn)
    env = {"PGHOST": p["host"], "PGPORT": p["port"], "PGUSER": p["user"], "PGDATABASE": p["dbname"]}
    result = invoke("--dir", str(mig_dir), "status", env=env)
    assert result.exit_code == 0, result.output
    assert result.stderr == f"sqlmig: target {shown(dsn)} (from PG* environment)\n"
    via_url = invoke("--dir", str(mig_dir), "status", env={"SQLMIG_DSN": dsn})
    assert via_url.stderr == f"sqlmig: target {shown(dsn)} (from SQLMIG_DSN)\n"


def test_json_outputs_carry_a_database_field_and_no_stderr_line(sqlmig, mig_dir, dsn):
    mig_dir.write("1-a.sql", "create table a (id int);")
    expected = {"target": shown(dsn), "source": "--dsn", "embedded": None}
    for command in (["apply"], ["status"], ["verify"]):
        result = sqlmig("--format", "json", *command)
        assert result.exit_code == 0, result.output
        assert json.loads(result.stdout)["database"] == expected
        assert result.stderr == ""


def test_json_error_names_the_target_without_its_password(mig_dir):
    dsn = "postgresql://bob:Pw-Qz-Secret@127.0.0.1:1/app"
    result = invoke("--format", "json", "--dsn", dsn, "--dir", str(mig_dir), "status")
    assert result.exit_code == 3
    payload = json.loads(result.stdout)
    assert payload["database"] == {
        "target": "postgresql://bob@127.0.0.1:1/app",
        "source": "--dsn",
        "embedded": None,
    }
    assert "Pw-Qz" not in result.output


def test_text_error_names_the_target_first(mig_dir):
    dsn = "host=127.0.0.1 port=1 user=bob password='Pw Qz Secret' dbname=app"
    result = invoke("--dsn", dsn, "--dir", str(mig_dir), "status")
    assert result.exit_code == 3
    first, second = result.stderr.splitlines()[:2]
    assert first == "sqlmig: target postgresql://bob@127.0.0.1:1/app (from --dsn)"
    assert second.startswith("Error: cannot connect to database app on 127.0.0.1:1 (from --dsn)")
    assert "Pw Qz" not in result.output


def test_commands_that_touch_no_database_name_no_target(mig_dir):
    result = invoke(
        "--dsn", "postgresql://bob:x@127.0.0.1:1/app", "--dir", str(mig_dir), "new", "a"
    )
    assert result.exit_code == 0 and result.stderr == ""
    assert invoke("--help").stderr == ""


@pytest.mark.parametrize(
    ("pyproject", "env", "why"),
    [
        ("", {"SQLMIG_EMBEDDED": "0"}, "(SQLMIG_EMBEDDED=0)"),
        ("[tool.sqlmig]\nembedded = false\n", {}, "[tool.sqlmig] embedded = false)"),
    ],
)
def test_embedded_off_means_no_database_configured_exit_2(tmp_path, pyproject, env, why):
    (tmp_path / "pyproject.toml").write_text(pyproject)
    (tmp_path / "migrations").mkdir()
    for fmt in ("text", "json"):
        result = invoke("--format", fmt, "status", env=env, cwd=tmp_path)
        assert result.exit_code == 2
        message = result.stderr.splitlines()[-1]
        assert message.startswith("Error: no database configured, and the embedded server is off")
        assert why in message and "set SQLMIG_DSN (or DATABASE_URL" in message
        assert "--dsn" in message
    assert not (tmp_path / ".sqlmig").exists()  # never started
    assert invoke("new", "first", env=env, cwd=tmp_path).exit_code == 0


@pytest.mark.slow
def test_embedded_default_says_it_started_a_server_and_left_it_running(tmp_path):
    (tmp_path / "pyproject.toml").write_text("[tool.sqlmig]\n")
    (tmp_path / "migrations").mkdir()
    env = {
        k: v
        for k, v in os.environ.items()
        if not k.startswith(("SQLMIG_", "PG")) and k != "DATABASE_URL"
    }

    def sqlmig(*args: str) -> subprocess.CompletedProcess[str]:
        return subprocess.run(
            [sys.executable, "-m", "sqlmig", *args],
            cwd=tmp_path,
            env=env,
            capture_output=True,
            text=True,
            timeout=120,
        )

    where = f"embedded PostgreSQL 18, database sqlmig in {tmp_path / '.sqlmig'}"
    try:
        first = sqlmig("status")
        assert first.returncode == 0, first.stderr
        assert first.stderr == (
            f"sqlmig: target {where} (nothing configured; started it now, "
            "and it keeps running: `sqlmig db stop`)\n"
        )
        again = sqlmig("status")
        assert again.stderr == (
            f"sqlmig: target {where} (nothing configured; already running; "
            "`sqlmig db stop` stops it)\n"
        )
        payload = json.loads(sqlmig("--format", "json", "status").stdout)
        assert payload["database"] == {
            "target": where,
            "source": "embedded default",
            "embedded": {
                "data_dir": str(tmp_path / ".sqlmig" / "pgdata"),
                "version": "18",
                "started_now": False,
            },
        }
    finally:
        assert sqlmig("db", "stop").returncode == 0
