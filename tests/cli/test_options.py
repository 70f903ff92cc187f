"""The CLI as people type it: global options before or after the command, `help`,
other tools' command names, SQLMIG_URL (issue 9, "The CLI people expect")."""

from __future__ import annotations

import json

import click
import pytest
from click.testing import CliRunner
from support.db import query

from sqlmig.cli import cli


def invoke(*args: str, env: dict[str, str] | None = None):  # type: ignore[no-untyped-def]
    return CliRunner().invoke(cli, list(args), env=env, prog_name="sqlmig")


@pytest.mark.parametrize("after", [False, True], ids=["before", "after"])
def test_global_options_before_or_after_the_command(dsn, mig_dir, after):
    mig_dir.write("1-a.sql", "create table a (id int);\n")
    options = ["--dsn", dsn, "--dir", str(mig_dir)]
    applied = invoke(*(["apply", *options] if after else [*options, "apply"]))
    assert applied.exit_code == 0, applied.output
    assert query(dsn, "select version from schema_migrations") == [(1,)]
    status_args = ["status", "--format", "json"] if after else ["--format", "json", "status"]
    status = invoke(*options, *status_args)
    assert status.exit_code == 0, status.output
    assert json.loads(status.stdout)["counts"]["applied"] == 1
    verify = invoke(*(["verify", *options] if after else [*options, "verify"]))
    assert verify.exit_code == 0 and "OK: every applied migration" in verify.stdout


def test_an_option_after_the_command_wins(dsn, mig_dir, tmp_path):
    mig_dir.write("1-a.sql", "create table a (id int);\n")
    empty = tmp_path / "empty"
    empty.mkdir()
    result = invoke("--dsn", dsn, "--dir", str(empty), "status", "--dir", str(mig_dir))
    assert result.exit_code == 0 and "1-a.sql" in result.stdout


def test_nested_commands_take_global_options_too(dsn, tmp_path):
    out = tmp_path / "m.py"
    result = invoke("models", "generate", "--out", str(out), "--dsn", dsn)
    assert result.exit_code == 0, result.output
    assert out.is_file()


def test_every_command_accepts_the_global_options():
    def walk(group: click.Group, ctx: click.Context, prefix: str = ""):  # type: ignore[no-untyped-def]
        for name in group.list_commands(ctx):
            command = group.get_command(ctx, name)
            assert command is not None
            yield prefix + name, command
            if isinstance(command, click.Group):
                yield from walk(command, click.Context(command, parent=ctx), f"{prefix}{name} ")

    for name, command in walk(cli, click.Context(cli)):
        options = {o for p in command.params for o in getattr(p, "opts", [])}
        assert {"--dsn", "--dir", "--format"} <= options, name


def test_help_command():
    assert invoke("help").stdout == invoke("--help").stdout
    nested = invoke("help", "models", "check")
    assert nested.exit_code == 0 and "Usage: sqlmig models check" in nested.stdout
    unknown = invoke("help", "nope")
    assert unknown.exit_code == 2 and "no such command: nope" in unknown.stderr


@pytest.mark.parametrize(
    ("typed", "ours"),
    [
        ("up", "apply"),
        ("migrate", "apply"),
        ("upgrade", "apply"),
        ("down", "rollback"),
        ("info", "status"),
        ("current", "status"),
        ("validate", "verify"),
        ("version", "--version"),
    ],
)
def test_other_tools_habits_get_sqlmigs_word(typed, ours):
    result = invoke(typed)
    assert result.exit_code == 2
    assert f"No such command '{typed}'; sqlmig's is `sqlmig {ours}`." in result.stderr


def test_tasks_watch_reads_the_url_from_the_environment():
    # Nothing listens on port 9: the error names the URL it was given.
    result = invoke(
        "tasks",
        "watch",
        "00000000-0000-0000-0000-000000000000",
        env={"SQLMIG_URL": "http://127.0.0.1:9"},
    )
    assert result.exit_code == 3
    assert "127.0.0.1:9" in result.stderr


def test_verbose_times_each_statement_and_shows_notices(dsn, mig_dir):
    mig_dir.write(
        "1-a.sql",
        "create table a (id int);\n"
        "do $$ begin raise notice 'hello from a'; end $$;\n"
        "create table if not exists a (id int);\n",
    )
    result = invoke("--dsn", dsn, "--dir", str(mig_dir), "apply", "-v")
    assert result.exit_code == 0, result.output
    lines = result.stdout.splitlines()
    assert [line.split()[0] for line in lines[:5]] == [
        "1-a.sql:1",
        "1-a.sql:",
        "1-a.sql:2",
        "1-a.sql:",
        "1-a.sql:3",
    ]
    assert "1-a.sql: NOTICE: hello from a" in result.stdout
    assert 'NOTICE: relation "a" already exists, skipping' in result.stdout
    # Still one transaction with its ledger row, the text as it ran.
    assert query(dsn, "select version, success, script from schema_migrations") == [
        (1, True, mig_dir.path.joinpath("1-a.sql").read_text())
    ]


def test_verbose_failure_points_at_the_same_place(dsn, mig_dir):
    mig_dir.write("1-a.sql", "create table a (id int);\ninsert into a values (1 / 0);\n")
    plain = invoke("--dsn", dsn, "--dir", str(mig_dir), "apply")
    verbose = invoke("--dsn", dsn, "--dir", str(mig_dir), "apply", "--verbose")
    for result in (plain, verbose):
        assert result.exit_code == 1
        assert "1-a.sql:2:1: ERROR 22012: division by zero" in result.stderr
        assert "nothing of it was applied" in result.stderr
    assert query(dsn, "select to_regclass('a')") == [(None,)]


def test_quiet_prints_only_the_result(dsn, mig_dir):
    mig_dir.write("1-a.sql", "create table a (id int);\n")
    result = invoke("-q", "--dsn", dsn, "--dir", str(mig_dir), "apply")
    assert result.exit_code == 0
    assert result.stdout.startswith("Applied 1 migration(s)") and result.stderr == ""
    status = invoke("--dsn", dsn, "--dir", str(mig_dir), "status", "--quiet")
    assert status.stderr == "" and "1 migration(s): 1 applied" in status.stdout
