"""The ``sqlmig`` root group: global options (before or after the command), lazy commands,
and the one place errors become messages and exit codes.

Each command lives in its own module and is loaded only when named, and those
modules import psycopg and friends inside the commands, so ``--help`` stays
instant. Every :class:`~sqlmig.core.errors.SqlmigError` is caught in one place
(:class:`_Group`) and printed redacted as ``Error: ...`` with its exit code.
"""

from __future__ import annotations

import sys
from typing import Any, ClassVar, NoReturn

import click

from sqlmig import __version__
from sqlmig.cli.state import CliState
from sqlmig.core.errors import SqlmigError


class _Group(click.Group):
    """Turns library errors (and stray driver errors) into messages and exit codes.

    Every command lives in its own module (``lazy``), loaded only when named
    (or listed by ``--help``), so ``sqlmig status`` imports none of the others.
    """

    lazy: ClassVar[dict[str, str]] = {
        "apply": "sqlmig.cli.migrate:apply",
        "status": "sqlmig.cli.migrate:status",
        "verify": "sqlmig.cli.migrate:verify",
        "rollback": "sqlmig.cli.migrate:rollback",
        "new": "sqlmig.cli.migrate:new",
        "baseline": "sqlmig.cli.migrate:baseline",
        "adopt": "sqlmig.cli.adopt:adopt",
        "check": "sqlmig.cli.check:check",
        "repair": "sqlmig.cli.migrate:repair",
        "drift": "sqlmig.cli.drift:drift",
        "db": "sqlmig.cli.db:db",
        "models": "sqlmig.cli.models:models",
        "serve": "sqlmig.cli.progress:serve",
        "progress": "sqlmig.cli.progress:progress",
        "demo": "sqlmig.cli.progress:demo",
        "tasks": "sqlmig.cli.tasks:tasks",
        "help": "sqlmig.cli.help:help_",
        "history": "sqlmig.cli.history:history",
        "lint": "sqlmig.cli.lint:lint",
        "fleet": "sqlmig.cli.fleet:fleet",
    }

    def list_commands(self, ctx: click.Context) -> list[str]:
        return sorted({*super().list_commands(ctx), *self.lazy})

    def get_command(self, ctx: click.Context, cmd_name: str) -> click.Command | None:
        if cmd_name in self.lazy and cmd_name not in self.commands:
            import importlib

            module, name = self.lazy[cmd_name].split(":")
            self.add_command(getattr(importlib.import_module(module), name), cmd_name)
        command = super().get_command(ctx, cmd_name)
        if command is None and cmd_name in _HABITS:
            ctx.fail(f"No such command {cmd_name!r}; sqlmig's is `sqlmig {_HABITS[cmd_name]}`.")
        if command is not None:
            _accept_global_options(command)
        return command

    def invoke(self, ctx: click.Context) -> Any:
        try:
            return super().invoke(ctx)
        except SqlmigError as exc:
            _fail(ctx, str(exc), exc.exit_code, exc)
        except Exception as exc:
            # Not imported means not a driver error (click's Exit for --help is one
            # such exception: importing psycopg here would slow every --help).
            psycopg = sys.modules.get("psycopg")
            if psycopg is None or not isinstance(exc, psycopg.Error):
                raise
            code = 3 if isinstance(exc, psycopg.OperationalError) else 1
            _fail(ctx, f"database error: {exc}".strip(), code, exc)


#: Other tools' words for sqlmig's commands, for the "No such command" error.
_HABITS = {
    "up": "apply",
    "migrate": "apply",
    "upgrade": "apply",
    "deploy": "apply",
    "down": "rollback",
    "downgrade": "rollback",
    "revert": "rollback",
    "info": "status",
    "current": "status",
    "list": "status",
    "validate": "verify",
    "version": "--version",
    "create": "new NAME",
}


def _store_global(ctx: click.Context, param: click.Parameter, value: str | bool | None) -> None:
    """A global option given after the sub-command: it wins over the one before."""
    if value is None or value is False:
        return
    state = ctx.find_object(CliState)
    assert state is not None  # the root group made it
    setattr(state, str(param.name), value)
    if param.name == "dsn" and isinstance(value, str):
        state.dsns.append(value)


def _global_params() -> list[click.Parameter]:
    return [
        click.Option(
            ["--dsn"],
            metavar="DSN",
            expose_value=False,
            callback=_store_global,
            help="Database URL or libpq string (as before the command).",
        ),
        click.Option(
            ["--dir", "directory"],
            metavar="DIR",
            expose_value=False,
            callback=_store_global,
            help="Migrations directory (as before the command).",
        ),
        click.Option(
            ["--table", "table"],
            metavar="TABLE",
            expose_value=False,
            callback=_store_global,
            help="The ledger table (as before the command).",
        ),
        click.Option(
            ["--format", "format"],
            type=click.Choice(["text", "json"]),
            expose_value=False,
            callback=_store_global,
            help="Output format (as before the command).",
        ),
        click.Option(
            ["-q", "--quiet", "quiet"],
            is_flag=True,
            default=None,
            expose_value=False,
            callback=_store_global,
            help="Only results and errors (as before the command).",
        ),
        click.Option(
            ["-v", "--verbose", "verbose"],
            is_flag=True,
            default=None,
            expose_value=False,
            callback=_store_global,
            help="Statement timings and server notices (as before the command).",
        ),
    ]


def _accept_global_options(command: click.Command) -> None:
    """Let ``--dsn/--dir/--table/--format`` follow the sub-command too, as people type them."""
    names = {p.name for p in command.params}
    command.params.extend(p for p in _global_params() if p.name not in names)
    if isinstance(command, click.Group):
        for sub in command.commands.values():
            _accept_global_options(sub)


def _fail(ctx: click.Context, message: str, code: int, exc: Exception) -> NoReturn:
    from sqlmig.core.redact import redact

    state = ctx.find_object(CliState) or CliState()
    secrets = state.secrets()
    message = redact(message, secrets)
    if state.as_json:
        fields = exc.as_dict() if isinstance(exc, SqlmigError) else {}
        payload: dict[str, Any] = {**fields, "error": message, "exit_code": code}
        for key, value in payload.items():
            if isinstance(value, str):
                payload[key] = redact(value, secrets)
        state.dump(payload)
    click.echo(f"Error: {message}", err=True)
    ctx.exit(code)
    raise AssertionError  # unreachable: ctx.exit raises


@click.group(cls=_Group, context_settings={"help_option_names": ["-h", "--help"]})
@click.option(
    "--dsn",
    metavar="DSN",
    help="Database URL or libpq string [env: SQLMIG_DSN, DATABASE_URL, PG*].",
)
@click.option("--dir", "directory", metavar="DIR", help="Migrations directory [env: SQLMIG_DIR].")
@click.option(
    "--table",
    metavar="TABLE",
    help="The ledger: NAME (in schema public) or SCHEMA.NAME, created with its schema "
    "when missing [env: SQLMIG_TABLE; default: public.schema_migrations].",
)
@click.option(
    "--format",
    "fmt",
    type=click.Choice(["text", "json"]),
    default="text",
    show_default=True,
    help="Output format.",
)
@click.option("-q", "--quiet", is_flag=True, help="Only results and errors: no progress lines.")
@click.option(
    "-v", "--verbose", is_flag=True, help="Each statement's line and time, and server notices."
)
@click.version_option(__version__, prog_name="sqlmig")
@click.pass_context
def cli(
    ctx: click.Context,
    dsn: str | None,
    directory: str | None,
    table: str | None,
    fmt: str,
    quiet: bool,
    verbose: bool,
) -> None:
    """Plain-SQL PostgreSQL migrations, applied with checksums, a lock and
    one transaction per file.

    With no database configured, sqlmig starts a project-local embedded
    PostgreSQL (see `sqlmig db`; SQLMIG_EMBEDDED=0 turns that off). Each
    command names its target on stderr. Exit codes: 0 ok, 1 a migration failed or a
    check found problems, 2 usage or configuration error, 3 database
    unreachable or lock not acquired.
    """
    ctx.obj = CliState(dsn, directory, fmt, quiet, verbose, dsns=[dsn] if dsn else [], table=table)


def main() -> None:
    cli(prog_name="sqlmig")
