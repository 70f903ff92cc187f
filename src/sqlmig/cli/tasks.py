"""CLI commands that talk to the progress server: ``tasks list``, ``tasks watch``.

They use the server's HTTP API (like the page does), never the database:
:mod:`sqlmig.progress.watch` is the client. Only click is imported at module
level (``sqlmig --help`` stays fast).
"""

from __future__ import annotations

import click

from sqlmig.cli.progress import DEFAULT_URL
from sqlmig.cli.state import CliState, pass_state


@click.group()
def tasks() -> None:
    """Follow async tasks through the progress server."""


@tasks.command("list")
@click.option(
    "--status",
    type=click.Choice(
        ["PENDING", "RUNNING", "COMPLETED", "FAILED", "CANCELLED"], case_sensitive=False
    ),
    help="Only tasks in this status.",
)
@click.option("--type", "task_type", metavar="TYPE", help="Only tasks of this type.")
@click.option("--parent", metavar="ID", help="The children of this batch.")
@click.option(
    "--all", "everything", is_flag=True, help="Children of batches too (default: top level)."
)
@click.option(
    "--limit",
    type=click.IntRange(1, 500),
    default=50,
    show_default=True,
    help="Tasks per page, newest first.",
)
@click.option("--cursor", metavar="CURSOR", help="Start after this page (next_cursor of JSON).")
@click.option(
    "--url",
    default=DEFAULT_URL,
    show_default=True,
    envvar="SQLMIG_URL",
    help="Base URL of `sqlmig serve` [env: SQLMIG_URL].",
)
@click.option(
    "--token",
    envvar="SQLMIG_TOKEN",
    metavar="TOKEN",
    help="Bearer token of the server [env: SQLMIG_TOKEN].",
)
@pass_state
def list_tasks(
    state: CliState,
    status: str | None,
    task_type: str | None,
    parent: str | None,
    everything: bool,
    limit: int,
    cursor: str | None,
    url: str,
    token: str | None,
) -> None:
    """List tasks newest first: status, percent, ETA, type; a batch with its children's counts.

    With --format json: the API's answer, {"tasks": [...], "next_cursor": ...}.
    """

    from sqlmig.progress.watch import get_json, task_table

    state.keep_secret(token)
    params = {"limit": str(limit)}
    if status:
        params["status"] = status.upper()
    if task_type:
        params["type"] = task_type
    if parent:
        params["parent"] = parent
    elif not everything:
        params["parent"] = "none"
    if cursor:
        params["cursor"] = cursor
    body = get_json(url, "/tasks", token=token or None, params=params)
    if state.as_json:
        state.dump(body)
        return
    if not body["tasks"]:
        click.echo("No tasks.")
        return
    for line in task_table(body["tasks"]):
        click.echo(line)
    if body.get("next_cursor"):
        click.echo(f"(more: --cursor {body['next_cursor']})")


@tasks.command("watch")
@click.argument("task_id")
@click.option(
    "--url",
    default=DEFAULT_URL,
    show_default=True,
    envvar="SQLMIG_URL",
    help="Base URL of `sqlmig serve` [env: SQLMIG_URL].",
)
@click.option(
    "--token",
    envvar="SQLMIG_TOKEN",
    metavar="TOKEN",
    help="Bearer token of the server [env: SQLMIG_TOKEN].",
)
@pass_state
def watch(state: CliState, task_id: str, url: str, token: str | None) -> None:
    """Show a task's progress as a terminal bar until it finishes (exit 1 if it fails).

    Reconnects by itself (with Last-Event-ID) when the connection drops.
    """
    from sqlmig.progress.watch import watch as follow

    state.keep_secret(token)
    final = follow(url, task_id, token=token or None)
    if final is None:
        click.echo("The task had already finished.")
    else:
        click.echo("Completed.")
