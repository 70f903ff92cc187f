"""The CI examples (docs/ci/, .pre-commit-hooks.yaml) are valid YAML and every sqlmig
command in them parses with today's CLI: a renamed option fails here, not in a user's CI."""

from __future__ import annotations

import re
import shlex
from pathlib import Path

import click
import pytest
import yaml

from sqlmig.cli import cli

ROOT = Path(__file__).resolve().parents[2]
EXAMPLES = [ROOT / "docs" / "ci" / "github-actions.yml", ROOT / "docs" / "ci" / "gitlab-ci.yml"]


def _shell_lines(node: object) -> list[str]:
    """Every string under a `run:` or `script:` key, split into lines."""
    found: list[str] = []
    if isinstance(node, dict):
        for key, value in node.items():
            if key in ("run", "script"):
                items = value if isinstance(value, list) else [value]
                found += [line for item in items for line in str(item).splitlines()]
            else:
                found += _shell_lines(value)
    elif isinstance(node, list):
        for item in node:
            found += _shell_lines(item)
    return found


def _sqlmig_commands(lines: list[str]) -> list[list[str]]:
    commands = []
    for line in lines:
        # `sqlmig ...` as a command: at the line start or after a shell separator
        for match in re.finditer(r"(?:^|[;&|]\s*|then\s+)sqlmig((?: [^;|&]*)?)", line.strip()):
            commands.append(shlex.split(match[1].split(" #")[0]))
    return commands


def _parse(args: list[str]) -> str:
    """Parse like the CLI would, without running anything; returns the command path."""
    ctx = cli.make_context("sqlmig", list(args))
    command: click.Command = cli
    rest = [*ctx._protected_args, *ctx.args]
    path = []
    while isinstance(command, click.Group) and rest:
        name, sub, rest = command.resolve_command(ctx, rest)
        assert sub is not None and name is not None
        path.append(name)
        ctx = sub.make_context(name, rest, parent=ctx)
        command, rest = sub, [*ctx._protected_args, *ctx.args]
    return " ".join(path)


@pytest.mark.parametrize("path", EXAMPLES, ids=lambda p: p.name)
def test_every_sqlmig_command_in_the_ci_examples_parses(path):
    commands = _sqlmig_commands(_shell_lines(yaml.safe_load(path.read_text())))
    seen = {_parse(args) for args in commands}
    assert {"apply", "lint", "check", "verify", "models check", "drift"} <= seen


def test_the_parser_of_this_test_rejects_a_wrong_option():
    with pytest.raises(click.UsageError):
        _parse(["check", "--no-such-option"])


def test_the_pre_commit_hook_lints_the_files_it_is_given():
    (hook,) = yaml.safe_load((ROOT / ".pre-commit-hooks.yaml").read_text())
    assert hook["id"] == "sqlmig-lint" and hook["language"] == "python"
    assert _parse([*shlex.split(hook["entry"].removeprefix("sqlmig")), "x.sql"]) == "lint"
