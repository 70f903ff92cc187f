"""Running sqlmig as a user would: in-process with a clean environment, or as a process."""

from __future__ import annotations

import os
import sys
from pathlib import Path

from click.testing import CliRunner

from sqlmig.cli import cli


def invoke(*args: str, env: dict[str, str | None] | None = None, cwd: Path | None = None):
    clean: dict[str, str | None] = {
        k: None for k in os.environ if k.startswith(("SQLMIG_", "PG")) or k == "DATABASE_URL"
    }
    old = Path.cwd()
    if cwd:
        os.chdir(cwd)
    try:
        return CliRunner().invoke(cli, list(args), env={**clean, **(env or {})})
    finally:
        os.chdir(old)


def sqlmig_cmd(dsn, directory, *args):
    return [sys.executable, "-m", "sqlmig", "--dsn", dsn, "--dir", str(directory), *args]
