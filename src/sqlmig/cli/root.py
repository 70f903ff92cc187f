"""The ``sqlmig`` command: parse options, call :mod:`sqlmig.migrations.api`, render results.

Imports of psycopg and friends happen inside the commands, so ``--help`` stays
instant. Every :class:`~sqlmig.core.errors.SqlmigError` is caught in one place
(:class:`_Group`) and printed redacted as ``Error: ...`` with its exit code.
"""

from __future__ import annotations

import json
import sys
from typing import TYPE_CHECKING, Any, ClassVar, NoReturn

import click

from sqlmig import __version__
from sqlmig.core.errors import SqlmigError

if TYPE_CHECKING:
    from sqlmig.core.config import Settings
    from sqlmig.core.connections import Notice
    from sqlmig.migrations.api import Refusal
    from sqlmig.migrations.events import Event
    from sqlmig.migrations.plan import Plan


class _Group(click.Group):
    """Turns library errors (and stray driver errors) into messages and exit codes.

    Command groups in their own modules load only when named (or listed by
    ``--help``), so ``sqlmig status`` never imports them.
    """

    lazy: ClassVar[dict[str, str]] = {
        "serve": "sqlmig.cli.progress:serve",
        "demo": "sqlmig.cli.progress:demo",
        "tasks": "sqlmig.cli.progress:tasks",
        "models": "sqlmig.cli.models:models",
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
            import psycopg

            if not isinstance(exc, psycopg.Error):
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
    "check": "verify",
    "version": "--version",
    "create": "new NAME",
}


def _store_global(ctx: click.Context, param: click.Parameter, value: str | bool | None) -> None:
    """A global option given after the sub-command: it wins over the one before."""
    if value is None or value is False:
        return
    obj = ctx.find_root().obj
    obj[str(param.name)] = value
    if param.name == "dsn":
        obj["secrets"].append(value)


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
            ["--dir", "dir"],
            metavar="DIR",
            expose_value=False,
            callback=_store_global,
            help="Migrations directory (as before the command).",
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
    """Let ``--dsn/--dir/--format`` follow the sub-command too, as people type them."""
    names = {p.name for p in command.params}
    command.params.extend(p for p in _global_params() if p.name not in names)
    if isinstance(command, click.Group):
        for sub in command.commands.values():
            _accept_global_options(sub)


def _fail(ctx: click.Context, message: str, code: int, exc: Exception) -> NoReturn:
    from sqlmig.core.redact import password_of, redact

    obj = ctx.find_root().obj or {}
    target = obj.get("target")
    secrets = (
        *(password_of(s) for s in obj.get("secrets", ())),
        *(target.secrets if target else ()),
    )
    message = redact(message, secrets)
    if obj.get("format") == "json":
        fields = exc.as_dict() if isinstance(exc, SqlmigError) else {}
        payload: dict[str, Any] = {**fields, "error": message, "exit_code": code}
        for key, value in payload.items():
            if isinstance(value, str):
                payload[key] = redact(value, secrets)
        _dump(ctx, payload)
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
    ctx.obj = {
        "dsn": dsn,
        "dir": directory,
        "format": fmt,
        "quiet": quiet,
        "verbose": verbose,
        "secrets": [dsn or ""],
    }


def _verbosity(ctx: click.Context) -> int:
    obj = ctx.find_root().obj
    return -1 if obj["quiet"] else 1 if obj["verbose"] else 0


def _settings(ctx: click.Context) -> Settings:
    from dataclasses import replace

    from sqlmig.core.config import resolve

    obj = ctx.find_root().obj
    settings = resolve(obj["dsn"], obj["dir"])
    obj["secrets"].append(settings.dsn or "")
    return replace(settings, notify=_Notices(obj))


class _Notices:
    """Renders what connecting reports: the target once (text mode; JSON gets a
    ``database`` field instead) and each failed attempt while --wait retries."""

    def __init__(self, obj: dict[str, Any]) -> None:
        self.obj = obj

    def __call__(self, notice: Notice) -> None:
        from sqlmig.core.connections import Target

        if self.obj["quiet"]:
            if isinstance(notice, Target):
                self.obj["target"] = notice  # still redacts and fills JSON
            return

        if not isinstance(notice, Target):
            click.echo(
                f"sqlmig: attempt {notice.attempt} failed ({notice.elapsed_s:.1f} s of "
                f"--wait {notice.wait_s:g}): {notice.reason}; "
                f"next attempt in {notice.delay_s:.1f} s",
                err=True,
            )
            return
        known = self.obj.get("target")
        if known is not None and (known.shown, known.source) == (notice.shown, notice.source):
            return
        self.obj["target"] = notice
        if self.obj["format"] == "json":
            return
        if notice.embedded is None:
            how = f"from {notice.source}"
        elif notice.embedded.started:
            how = "nothing configured; started it now, and it keeps running: `sqlmig db stop`"
        else:
            how = "nothing configured; already running; `sqlmig db stop` stops it"
        click.echo(f"sqlmig: target {notice.shown} ({how})", err=True)


def _dump(ctx: click.Context, payload: dict[str, Any]) -> None:
    """Print a JSON result, with the (redacted) target it came from as ``database``."""
    target = ctx.find_root().obj.get("target")
    payload["database"] = target.as_json() if target else None
    click.echo(json.dumps(payload, indent=2, default=str))


def _json(ctx: click.Context) -> bool:
    return bool(ctx.find_root().obj["format"] == "json")


@cli.command()
@click.option("--target", type=int, metavar="V", help="Apply up to and including version V.")
@click.option("--dry-run", is_flag=True, help="Print the plan and the SQL; change nothing.")
@click.option("--create-db", is_flag=True, help="Create the target database if it is missing.")
@click.option(
    "--wait",
    "wait_s",
    type=float,
    default=0,
    metavar="SECONDS",
    help="Keep trying to connect until SECONDS have passed (container start-up); "
    "authentication errors fail at once.",
)
@click.option(
    "--out-of-order", is_flag=True, help="Also apply files older than the newest applied one."
)
@click.option(
    "--lock-timeout",
    "lock_timeout_s",
    type=float,
    default=300,
    show_default=True,
    metavar="SECONDS",
    help="How long to wait for another runner's lock.",
)
@click.pass_context
def apply(
    ctx: click.Context,
    target: int | None,
    dry_run: bool,
    create_db: bool,
    wait_s: float,
    out_of_order: bool,
    lock_timeout_s: float,
) -> None:
    """Apply pending migrations, each in its own transaction."""
    from sqlmig.migrations.api import apply as run

    as_json = _json(ctx)
    verbosity = _verbosity(ctx)
    sink = None if as_json or dry_run else _Progress(verbosity=verbosity)
    result = run(
        _settings(ctx),
        target=target,
        dry_run=dry_run,
        create_db=create_db,
        wait_s=wait_s,
        out_of_order=out_of_order,
        lock_timeout_s=lock_timeout_s,
        sink=sink,
        statement_timing=verbosity > 0 and not as_json,
    )
    if as_json:
        _dump(
            ctx,
            {
                "dry_run": result.dry_run,
                "pending": [s.filename for s in result.to_apply],
                "applied": [
                    {"version": s.version, "name": s.name, "execution_ms": ms}
                    for s, ms in result.applied
                ],
            },
        )
        return
    if dry_run:
        if not result.to_apply:
            click.echo("Nothing to apply (dry run).")
        for script in result.to_apply:
            mode = "" if script.up.transactional else " (no transaction)"
            click.echo(f"-- sqlmig dry run: would apply {script.filename}{mode}")
            click.echo(script.body.rstrip("\n") + "\n")
        if result.to_apply:
            click.echo(f"-- {len(result.to_apply)} migration(s) would run; nothing was changed.")
        return
    if not result.applied:
        counts = result.plan.counts()
        click.echo(f"Nothing to apply: {counts['applied']} migration(s) already applied.")
    else:
        total_ms = sum(ms for _, ms in result.applied)
        click.echo(f"Applied {len(result.applied)} migration(s) in {total_ms / 1000:.2f} s.")


class _Progress:
    """One line per migration; on a terminal, a bar redrawn in place below them.

    ``verbosity``: -1 (``-q``) prints nothing but the waiting notice, 1 (``-v``)
    adds each statement's line and time and the server's notices.
    """

    def __init__(self, verb: str = "applied", verbosity: int = 0) -> None:
        self.out = sys.stdout
        self.tty = self.out.isatty() and verbosity == 0
        self.verb = verb
        self.verbosity = verbosity

    def __call__(self, event: Event) -> None:
        from sqlmig.migrations.events import (
            Finished,
            ServerNotice,
            Started,
            StatementRan,
            WaitingForLock,
        )

        if isinstance(event, WaitingForLock):
            click.echo(
                "waiting for the migration lock: another sqlmig run holds it "
                f"(up to {event.timeout_s:g} s, --lock-timeout)"
            )
        elif self.verbosity < 0:
            return
        elif isinstance(event, StatementRan):
            first = " ".join(event.text.split())[:60]
            self._line(
                f"  {event.script.filename}:{event.line:<5} {event.execution_ms:>7} ms  {first}"
            )
        elif isinstance(event, ServerNotice):
            if self.verbosity > 0:
                self._line(f"  {event.script.filename}: {event.severity}: {event.message}")
        elif isinstance(event, Finished):
            line = f"{self.verb} {event.script.filename:<40} {event.execution_ms:>7} ms"
            if self.tty:
                click.echo("\r\x1b[K" + line)
                if event.index < event.total:
                    self._bar(event.index, event.total, "")
            else:
                self._line(line)
        elif isinstance(event, Started) and self.tty:
            self._bar(event.index - 1, event.total, event.script.filename)

    def _line(self, line: str) -> None:
        # Plain writes (click.echo probes the stream each time), flushed so
        # container logs show each line as it happens.
        self.out.write(line + "\n")
        self.out.flush()

    @staticmethod
    def _bar(done: int, total: int, label: str) -> None:
        width = 30
        filled = width * done // total
        bar = "#" * filled + "-" * (width - filled)
        click.echo(f"\r\x1b[K[{bar}] {done}/{total} {label}", nl=False)


_MARK = {
    "applied": "[X]",
    "pending": "[ ]",
    "out-of-order": "[<]",
    "modified": "[~]",
    "missing": "[?]",
    "failed": "[!]",
}


def _plan_json(plan: Plan) -> list[dict[str, Any]]:
    return [
        {
            "version": e.version,
            "name": e.name,
            "file": e.filename,
            "state": e.state.value,
            "checksum": e.script.checksum if e.script else e.row.checksum if e.row else None,
            "applied_at": e.row.applied_at.isoformat() if e.row else None,
            "execution_ms": e.row.execution_ms if e.row else None,
            "edit_accepted": (
                {
                    "applied_checksum": e.row.checksum,
                    "accepted_checksum": e.row.accepted_checksum,
                    "accepted_at": e.row.accepted_at.isoformat() if e.row.accepted_at else None,
                    "accepted_by": e.row.accepted_by,
                }
                if e.row and e.row.accepted_checksum
                else None
            ),
        }
        for e in plan.entries
    ]


def _render_plan(plan: Plan) -> None:
    lines = []
    for e in plan.entries:
        line = f"{_MARK[e.state.value]} {e.filename:<40} {e.state.value:<12}"
        if e.row and e.state.value != "pending":
            line += f" {e.row.applied_at:%Y-%m-%d %H:%M:%S} {e.row.execution_ms:>7} ms"
            if e.row.accepted_checksum and e.row.accepted_at:
                line += (
                    f"  (edit accepted {e.row.accepted_at:%Y-%m-%d %H:%M:%S} by "
                    f"{e.row.accepted_by}; the edited SQL did not run)"
                )
        lines.append(line.rstrip())
    counts = {k: v for k, v in plan.counts().items() if v}
    summary = ", ".join(f"{v} {k}" for k, v in counts.items()) or "no migrations"
    lines.append(f"{len(plan.entries)} migration(s): {summary}")
    click.echo("\n".join(lines))  # one write: status of 1000 files stays instant


@cli.command()
@click.pass_context
def status(ctx: click.Context) -> None:
    """Show the state of every migration (applied, pending, modified, ...)."""
    from sqlmig.migrations.api import status as run

    plan = run(_settings(ctx))
    if _json(ctx):
        _dump(ctx, {"migrations": _plan_json(plan), "counts": plan.counts()})
    else:
        _render_plan(plan)


@cli.command()
@click.option("--strict", is_flag=True, help="Pending migrations fail the check too.")
@click.pass_context
def verify(ctx: click.Context, strict: bool) -> None:
    """Exit 1 when an applied file was modified, is missing, or failed."""
    from sqlmig.migrations.api import verify as run

    plan, problems = run(_settings(ctx), strict=strict)
    if _json(ctx):
        _dump(
            ctx,
            {
                "ok": not problems,
                "problems": [_refusal_json(r) for r in problems],
                "counts": plan.counts(),
            },
        )
    else:
        for r in problems:
            click.echo(f"{r.entry.state.value:<12} {r.entry.filename}: {r.reason}")
            if r.diff:
                click.echo(r.diff.rstrip("\n"))
        pending = len(plan.to_apply())
        if not problems:
            note = f" ({pending} pending; --strict fails on those)" if pending else ""
            click.echo(f"OK: every applied migration matches its file{note}.")
    if problems:
        ctx.exit(1)


def _refusal_json(r: Refusal) -> dict[str, Any]:
    return {
        "version": r.entry.version,
        "file": r.entry.filename,
        "state": r.entry.state.value,
        "reason": r.reason,
        "diff": r.diff or None,
    }


@cli.command()
@click.option(
    "--to",
    "to_version",
    type=int,
    required=True,
    metavar="V",
    help="Roll back every applied version above V (V itself stays).",
)
@click.option(
    "--lock-timeout",
    "lock_timeout_s",
    type=float,
    default=300,
    show_default=True,
    metavar="SECONDS",
    help="How long to wait for another runner's lock.",
)
@click.pass_context
def rollback(ctx: click.Context, to_version: int, lock_timeout_s: float) -> None:
    """Run down files in reverse, down to but not including version V."""
    from sqlmig.migrations.api import rollback as run

    done = run(
        _settings(ctx),
        to_version,
        lock_timeout_s=lock_timeout_s,
        sink=_Progress("rolled back", _verbosity(ctx)),
    )
    click.echo(f"Rolled back {len(done)} migration(s)." if done else "Nothing to roll back.")


@cli.command()
@click.argument("name")
@click.option("--down", is_flag=True, help="Also create the .down.sql file.")
@click.pass_context
def new(ctx: click.Context, name: str, down: bool) -> None:
    """Scaffold the next numbered migration file named NAME."""
    from sqlmig.migrations.api import new_script

    for path in new_script(_settings(ctx), name, down=down):
        click.echo(f"created {path}")


@cli.command()
@click.argument("version", type=int)
@click.pass_context
def baseline(ctx: click.Context, version: int) -> None:
    """Adopt an existing database: mark files up to VERSION applied without running them."""
    from sqlmig.migrations.api import baseline as run

    adopted = run(_settings(ctx), version)
    click.echo(f"Baselined {len(adopted)} migration(s) up to version {version}; nothing ran.")


@cli.command()
@click.option("--dry-run", is_flag=True, help="Say what would be repaired; change nothing.")
@click.pass_context
def repair(ctx: click.Context, dry_run: bool) -> None:
    """Accept reviewed edits (recorded as such; no SQL runs), drop failed and missing rows."""
    from sqlmig.migrations.api import repair as run

    actions = run(_settings(ctx), dry_run=dry_run)
    prefix = "would have " if dry_run else ""
    for entry, what in actions:
        click.echo(f"{entry.filename}: {prefix}{what}")
    if not actions:
        click.echo("Nothing to repair.")
    elif dry_run:
        click.echo(f"Would repair {len(actions)} row(s) (dry run: nothing was changed).")
    else:
        click.echo(f"Repaired {len(actions)} row(s).")


@cli.command("help")
@click.argument("command", nargs=-1)
@click.pass_context
def help_(ctx: click.Context, command: tuple[str, ...]) -> None:
    """Show the help of sqlmig, or of a command: `sqlmig help models check`."""
    target: click.Command = cli
    target_ctx = ctx.find_root()
    for name in command:
        found = target.get_command(target_ctx, name) if isinstance(target, click.Group) else None
        if found is None:
            raise click.UsageError(f"no such command: {' '.join(command)}", ctx)
        target_ctx = click.Context(found, info_name=name, parent=target_ctx)
        target = found
    click.echo(target.get_help(target_ctx))


@cli.group()
def db() -> None:
    """The project-local embedded PostgreSQL (used when no database is configured)."""


@db.command("url")
@click.pass_context
def db_url(ctx: click.Context) -> None:
    """Print the embedded server's URL, starting it if needed."""
    from sqlmig.core.embedded import start

    click.echo(start(_settings(ctx).project_root))


@db.command("start")
@click.pass_context
def db_start(ctx: click.Context) -> None:
    """Start the embedded server (reuses a running one)."""
    from sqlmig.core.embedded import data_dir, start

    root = _settings(ctx).project_root
    url = start(root)
    click.echo(f"embedded PostgreSQL running: {url}\ndata: {data_dir(root)}")


@db.command("stop")
@click.pass_context
def db_stop(ctx: click.Context) -> None:
    """Stop the embedded server."""
    from sqlmig.core.embedded import stop

    stopped = stop(_settings(ctx).project_root)
    click.echo(
        "embedded PostgreSQL stopped." if stopped else "embedded PostgreSQL was not running."
    )


def main() -> None:
    cli(prog_name="sqlmig")
