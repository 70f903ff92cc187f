"""The CLI surface: help text, README coverage, python -m, the embedded default."""

from __future__ import annotations

import os
import shutil
import subprocess
import sys
from pathlib import Path

import click
import pytest
from click.testing import CliRunner
from support.db import INIT_DIR, ROOT

from sqlmig.cli import cli


def all_commands(group: click.Group, prefix: str = "") -> list[tuple[str, click.Command]]:
    out = []
    ctx = click.Context(group)
    for name in group.list_commands(ctx):  # lazy command groups included
        command = group.get_command(ctx, name)
        assert command is not None, name
        out.append((f"{prefix}{name}", command))
        if isinstance(command, click.Group):
            out += all_commands(command, f"{prefix}{name} ")
    return out


@pytest.mark.parametrize(("name", "command"), all_commands(cli))
def test_every_command_has_help_and_is_in_the_readme(name, command):
    assert command.help and len(command.help) > 20
    result = CliRunner().invoke(cli, [*name.split(), "--help"])
    assert result.exit_code == 0 and "Usage: " in result.output
    readme = (ROOT / "README.md").read_text()
    assert f"`{name}" in readme or f"`db {name.split()[-1]}" in readme, name


def test_usage_error_exits_2():
    result = CliRunner().invoke(cli, ["apply", "--target", "x"])
    assert result.exit_code == 2


def test_python_dash_m_and_version():
    result = subprocess.run(
        [sys.executable, "-m", "sqlmig", "--version"], capture_output=True, text=True
    )
    assert result.returncode == 0 and result.stdout.startswith("sqlmig, version ")


def test_help_does_not_import_heavy_modules():
    # Every command's --help (which loads every command module), then the list.
    code = """
import sys
from click.testing import CliRunner
from sqlmig.cli import cli
runner = CliRunner()
names = cli.list_commands(None)
for name in names:
    assert runner.invoke(cli, [name, "--help"]).exit_code == 0, name
assert runner.invoke(cli, ["--help"]).exit_code == 0
print(len(names), sorted(m for m in ('psycopg', 'pydantic', 'jinja2', 'pglast') if m in sys.modules))
"""
    result = subprocess.run(
        [sys.executable, "-c", code], capture_output=True, text=True, check=True
    )
    count, heavy = result.stdout.split(" ", 1)
    assert int(count) >= 14 and heavy.strip() == "[]"


def clean_env(**extra: str) -> dict[str, str]:
    env = {
        k: v
        for k, v in os.environ.items()
        if not k.startswith(("SQLMIG_", "PG")) and k != "DATABASE_URL"
    }
    return {**env, **extra}


@pytest.mark.slow
def test_embedded_default_applies_bundled_schema(tmp_path: Path):
    """README command 1, in a copy of the project: nothing configured, no server installed."""
    project = tmp_path / "project"
    project.mkdir()
    (project / "pyproject.toml").write_text('[tool.sqlmig]\ndir = "sql/init"\n')
    shutil.copytree(INIT_DIR, project / "sql" / "init")

    def sqlmig(*args: str) -> subprocess.CompletedProcess[str]:
        return subprocess.run(
            [sys.executable, "-m", "sqlmig", *args],
            cwd=project,
            env=clean_env(),
            capture_output=True,
            text=True,
            timeout=120,
        )

    try:
        first = sqlmig("apply")
        assert first.returncode == 0, first.stderr
        ups = (project / "sql" / "init").glob("*.sql")
        count = len([p for p in ups if not p.name.endswith(".down.sql")])
        assert count >= 14 and first.stdout.count("applied ") == count
        status = sqlmig("status")
        assert status.returncode == 0
        assert status.stdout.splitlines()[-1] == f"{count} migration(s): {count} applied"
        again = sqlmig("apply")
        assert again.returncode == 0 and "Nothing to apply" in again.stdout
        url = sqlmig("db", "url").stdout.strip()
        assert url.startswith("postgresql://postgres@/sqlmig?host=") and str(project) in url
        assert (project / ".sqlmig" / ".gitignore").exists()
    finally:
        stopped = sqlmig("db", "stop")
    assert stopped.returncode == 0 and "stopped" in stopped.stdout
    assert stopped.stderr == ""  # no library warnings on the user's terminal
    assert "not running" in sqlmig("db", "stop").stdout


@pytest.mark.parametrize(("name", "command"), all_commands(cli))
def test_every_option_is_in_the_readme_reference(name, command):
    readme = (ROOT / "README.md").read_text()
    reference = readme.split("\n## Command reference\n", 1)[1].split("\n## ", 1)[0]
    assert f"#### `sqlmig {name}`" in reference, name
    for param in command.params:
        if isinstance(param, click.Option):
            for opt in param.opts:
                assert opt in reference, f"{name} {opt}"


def test_new_continues_the_folders_style_or_uses_a_timestamp(tmp_path):
    from support.cli import invoke

    folder = tmp_path / "m"
    folder.mkdir()
    (folder / "007_first.sql").write_text("select 1;\n")
    result = invoke("--dir", str(folder), "new", "Add users")
    assert result.exit_code == 0, result.output
    assert (folder / "008_add_users.sql").is_file()
    result = invoke("--dir", str(folder), "new", "later", "--timestamp")
    assert result.exit_code == 0, result.output
    (stamped,) = [p.name for p in folder.iterdir() if p.name.endswith("_later.sql")]
    assert len(stamped.split("_", 1)[0]) == 14 and stamped.startswith("20")
    (tmp_path / "pyproject.toml").write_text('[tool.sqlmig]\nversions = "timestamp"\n')
    result = invoke("--dir", str(folder), "new", "third", cwd=tmp_path)
    assert result.exit_code == 0, result.output
    assert any(p.name.endswith("_third.sql") and len(p.name) > 20 for p in folder.iterdir())
    (tmp_path / "pyproject.toml").write_text('[tool.sqlmig]\nversions = "random"\n')
    result = invoke("--dir", str(folder), "new", "fourth", cwd=tmp_path)
    assert result.exit_code == 2 and "versions must be" in result.output
