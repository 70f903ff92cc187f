"""``sqlmig db``: the project-local embedded PostgreSQL (used when nothing is configured)."""

from __future__ import annotations

import click

from sqlmig.cli.state import CliState, pass_state


@click.group()
def db() -> None:
    """The project-local embedded PostgreSQL (used when no database is configured)."""


@db.command("url")
@pass_state
def db_url(state: CliState) -> None:
    """Print the embedded server's URL, starting it if needed."""
    from sqlmig.core.connections import embedded_server

    click.echo(embedded_server(state.settings().project_root).url)


@db.command("start")
@pass_state
def db_start(state: CliState) -> None:
    """Start the embedded server (reuses a running one)."""
    from sqlmig.core.connections import embedded_server

    server = embedded_server(state.settings().project_root)
    click.echo(f"embedded PostgreSQL running: {server.url}\ndata: {server.data_dir}")


@db.command("stop")
@pass_state
def db_stop(state: CliState) -> None:
    """Stop the embedded server."""
    from sqlmig.core.embedded import stop

    stopped = stop(state.settings().project_root)
    click.echo(
        "embedded PostgreSQL stopped." if stopped else "embedded PostgreSQL was not running."
    )
