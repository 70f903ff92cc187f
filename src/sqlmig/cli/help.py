"""``sqlmig help [COMMAND...]``: the help of sqlmig or of any command, as ``--help`` shows it."""

from __future__ import annotations

import click


@click.command("help")
@click.argument("command", nargs=-1)
@click.pass_context
def help_(ctx: click.Context, command: tuple[str, ...]) -> None:
    """Show the help of sqlmig, or of a command: `sqlmig help models check`."""
    target_ctx = ctx.find_root()
    target: click.Command = target_ctx.command
    for name in command:
        found = target.get_command(target_ctx, name) if isinstance(target, click.Group) else None
        if found is None:
            raise click.UsageError(f"no such command: {' '.join(command)}", ctx)
        target_ctx = click.Context(found, info_name=name, parent=target_ctx)
        target = found
    click.echo(target.get_help(target_ctx))
