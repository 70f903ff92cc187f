"""CLI commands of the progress feature: ``progress install / status``, ``serve``,
``demo episode|batch``.

The server's terminal clients (``tasks watch|list``) are in :mod:`sqlmig.cli.tasks`.

Only click is imported at module level (``sqlmig --help`` stays fast); the
library (:mod:`sqlmig.progress`, psycopg) is imported inside the commands.
Errors are :class:`~sqlmig.core.errors.SqlmigError` subclasses, printed redacted by
the main group.
"""

from __future__ import annotations

from typing import TYPE_CHECKING

import click

from sqlmig.cli.state import CliState, pass_state

if TYPE_CHECKING:
    from sqlmig.core.config import Settings
    from sqlmig.progress.store import Connection

DEFAULT_URL = "http://127.0.0.1:8000"
_LOOPBACK = ("127.0.0.1", "localhost", "::1")


def _connect_checked(settings: Settings, *, wait_s: float = 0) -> Connection:
    """A connection to a database that has the progress tables (exit 2 otherwise).

    ``wait_s``: keep trying while the server may still be starting (``--wait``).
    """
    from sqlmig.core import connections
    from sqlmig.core.errors import UsageError
    from sqlmig.progress import store

    conn = connections.connect(settings, wait_s=wait_s)
    if not store.has_progress_tables(conn):
        conn.close()
        raise UsageError(
            f"{connections.describe(connections.target_dsn(settings))} has no async_tasks/"
            "task_progress tables: install them first (sqlmig progress install)."
        )
    return conn


@click.command()
@click.option(
    "--host",
    default="127.0.0.1",
    show_default=True,
    help="Address to bind. In a container use 0.0.0.0: loopback is unreachable from outside it.",
)
@click.option(
    "--port",
    type=click.IntRange(0, 65535),
    default=8000,
    show_default=True,
    help="Port to bind (0: any free port).",
)
@click.option(
    "--cors-origin",
    "cors_origins",
    multiple=True,
    metavar="ORIGIN",
    help="Allow a front-end on this origin (e.g. http://localhost:5173); repeatable; '*' for any.",
)
@click.option(
    "--token",
    envvar="SQLMIG_TOKEN",
    metavar="TOKEN",
    help="Require 'Authorization: Bearer TOKEN' (or ?token=); browsers open /tasks/ID?token="
    "TOKEN once and get a session cookie instead [env: SQLMIG_TOKEN].",
)
@click.option(
    "--heartbeat",
    "heartbeat_s",
    type=click.FloatRange(min=0.1),
    default=15.0,
    show_default=True,
    metavar="SECONDS",
    help="Interval of heartbeat comments on idle streams.",
)
@click.option(
    "--max-connections",
    type=click.IntRange(min=1),
    default=10_000,
    show_default=True,
    metavar="N",
    help="Connections served at once (streams included; an idle stream holds no thread); "
    "more get 503. Raises the open-file limit to fit, as far as the hard limit allows.",
)
@click.option("--access-log", is_flag=True, help="Log every request to stderr (tokens masked).")
@click.option(
    "--wait",
    "wait_s",
    type=click.FloatRange(min=0),
    default=0,
    metavar="SECONDS",
    help="Keep trying to connect until SECONDS have passed (a database still starting, "
    "e.g. in compose); authentication errors fail at once.",
)
@pass_state
def serve(
    state: CliState,
    host: str,
    port: int,
    cors_origins: tuple[str, ...],
    token: str | None,
    heartbeat_s: float,
    max_connections: int,
    access_log: bool,
    wait_s: float,
) -> None:
    """Serve live task progress: SSE streams, a JSON API and the progress page.

    One listening database connection feeds every stream. Endpoints:
    /api/v1/tasks[/ID[/stream|/cancel]], /api/v1/tasks/stream (every matching
    task's events), /api/v1/health, and the page /tasks/ID. Several processes
    (behind a load balancer) may serve one database: each holds its own LISTEN.
    """
    import logging
    import signal
    import sys
    import threading

    from sqlmig.core import connections
    from sqlmig.progress.app import Options, ProgressApp
    from sqlmig.progress.hub import Hub
    from sqlmig.progress.pool import Pool, connector
    from sqlmig.progress.server import fit_open_file_limit, make_server

    state.keep_secret(token)
    for origin in cors_origins:
        if origin != "*" and not origin.startswith(("http://", "https://")):
            from sqlmig.core.errors import UsageError

            raise UsageError(
                f"--cors-origin must look like http://host:port or '*', not {origin!r}."
            )

    logger = logging.getLogger("sqlmig.progress")
    if not logger.handlers:
        handler = logging.StreamHandler(sys.stderr)
        handler.setFormatter(logging.Formatter("%(asctime)s %(levelname)s %(message)s"))
        logger.addHandler(handler)
    logger.setLevel(logging.INFO)

    settings = state.settings()
    _connect_checked(settings, wait_s=wait_s).close()
    dsn = connections.target_dsn(settings)
    connect = connector(dsn)
    hub = Hub(connect)
    hub.start()
    pool = Pool(connect)
    try:
        app = ProgressApp(
            hub,
            pool,
            Options(cors_origins=cors_origins, token=token or None, heartbeat_s=heartbeat_s),
        )
        fitted = fit_open_file_limit(max_connections)
        if fitted < max_connections:
            click.echo(
                f"  warning: the open-file limit (ulimit -n) allows {fitted} connections, "
                f"not {max_connections}: serving at most {fitted}.",
                err=True,
            )
        try:
            server = make_server(app, host, port, access_log=access_log, max_connections=fitted)
        except OSError as exc:
            from sqlmig.core.errors import UsageError

            raise UsageError(f"cannot listen on {host}:{port}: {exc.strerror or exc}.") from None
        bound_host, bound_port = server.server_address[:2]
        shown = f"[{bound_host!s}]" if ":" in str(bound_host) else str(bound_host)
        url = f"http://{shown}:{bound_port}"
        click.echo(f"sqlmig progress server listening on {url}", err=False)
        click.echo(f"  database: {connections.describe(dsn)} (one LISTEN connection)")
        click.echo(f"  page:     {url}/tasks/<task id>   API: {url}/api/v1/tasks")
        if host not in _LOOPBACK and not token:
            click.echo("  warning: listening beyond loopback without --token.", err=True)
        sys.stdout.flush()

        def stop(*_: object) -> None:
            threading.Thread(target=server.shutdown, daemon=True).start()

        previous = None
        if threading.current_thread() is threading.main_thread():
            previous = signal.signal(signal.SIGTERM, stop)
        try:
            server.serve_forever(poll_interval=0.2)
        except KeyboardInterrupt:
            pass
        finally:
            if previous is not None:
                signal.signal(signal.SIGTERM, previous)
            server.server_close()
    finally:
        hub.stop()
        pool.close()
    click.echo("sqlmig progress server stopped.")


@click.group()
def demo() -> None:
    """Demonstrations of the progress stream (run `serve` in another terminal)."""


@demo.command("episode")
@click.option(
    "--delay",
    "delay_s",
    type=click.FloatRange(min=0),
    default=1.5,
    show_default=True,
    metavar="S",
    help="Seconds between stages.",
)
@click.option(
    "--url",
    default=DEFAULT_URL,
    show_default=True,
    help="Base URL of `sqlmig serve`, for the page link.",
)
@click.option("--title", default="Demo episode", show_default=True, help="Title of the memory.")
@click.option(
    "--fail-at",
    type=click.Choice(
        ["ingesting", "loading_schema", "extracting", "syncing_schema", "updating_communities"]
    ),
    help="Fail on purpose at this stage (to see the error panel).",
)
@pass_state
def episode(state: CliState, delay_s: float, url: str, title: str, fail_at: str | None) -> None:
    """Create a memory and its task, then run the six episode stages through the reporter.

    Prints the progress page's URL first; open it (or `sqlmig tasks watch ID`)
    to follow along, and press Cancel there to stop the pipeline.
    """
    import os

    from sqlmig.progress import demo

    with _connect_checked(state.settings()) as conn:
        memory_id, rep = demo.start_episode(conn, title=title)
        base = url.rstrip("/")
        click.echo(f"task {rep.task_id} (memory {memory_id})")
        click.echo(f"progress page: {base}/tasks/{rep.task_id}")
        if os.environ.get("SQLMIG_TOKEN"):
            click.echo("  (the server wants a token: open that URL once with ?token=...)")
        click.echo(f"in a terminal: sqlmig tasks watch {rep.task_id} --url {base}", nl=True)

        def shown(stage: demo.Stage) -> None:
            click.echo(f"{stage.percent:>5.0f} %  {stage.message}")

        demo.run_episode(rep, memory_id, delay_s=delay_s, fail_at=fail_at, on_stage=shown)


@demo.command("batch")
@click.option(
    "--children",
    type=click.IntRange(1, 1000),
    default=5,
    show_default=True,
    metavar="N",
    help="Episodes in the batch (sizes 1, 2, 3 ... weigh them).",
)
@click.option(
    "--delay",
    "delay_s",
    type=click.FloatRange(min=0),
    default=0.5,
    show_default=True,
    metavar="S",
    help="Seconds between a child's stages.",
)
@click.option(
    "--url",
    default=DEFAULT_URL,
    show_default=True,
    help="Base URL of `sqlmig serve`, for the page link.",
)
@click.option(
    "--fail-child", type=click.IntRange(min=1), metavar="K", help="Fail the K-th child on purpose."
)
@pass_state
def batch(state: CliState, children: int, delay_s: float, url: str, fail_child: int | None) -> None:
    """Run a batch import: a parent task whose children run the episode stages in turn.

    The database rolls the children up into the parent (percent weighted by
    size, status, ETA); follow it with `sqlmig tasks watch ID` or its page,
    and cancel the parent there to cancel every child. Exit 1 if it fails.
    """
    from sqlmig.core.errors import SqlmigError
    from sqlmig.progress import demo, store
    from sqlmig.progress.reporter import ProgressReporter

    base = url.rstrip("/")

    def started(parent: ProgressReporter) -> None:
        click.echo(f"batch {parent.task_id} ({children} children)")
        click.echo(f"progress page: {base}/tasks/{parent.task_id}")
        click.echo(f"in a terminal: sqlmig tasks watch {parent.task_id} --url {base}")

    def finished(n: int, outcome: str) -> None:
        click.echo(f"child {n}/{children} {outcome}")

    with _connect_checked(state.settings()) as conn:
        parent = demo.run_batch(
            conn,
            children=children,
            delay_s=delay_s,
            fail_child=fail_child,
            on_batch=started,
            on_child=finished,
        )
        status = store.task_status(conn, parent.task_id)
    click.echo(f"batch {status}")
    if status != "COMPLETED":
        raise SqlmigError(f"batch {parent.task_id} ended {status}.")


@click.group()
def progress() -> None:
    """The progress tables in any database: a migration track shipped with sqlmig."""


@progress.command("install")
@click.option("--dry-run", is_flag=True, help="Print what would run; change nothing.")
@pass_state
def install(state: CliState, dry_run: bool) -> None:
    """Create or upgrade the progress tables (async_tasks, task_progress, memories).

    The files ship inside sqlmig and are applied like migrations, with their own
    ledger (sqlmig.progress_migrations): run it again after upgrading sqlmig. Tables
    already there (a database built from sql/init) are recorded, not re-created.
    """
    from sqlmig.cli.render import ProgressLines
    from sqlmig.progress import install as track

    sink = None if state.as_json or dry_run else ProgressLines(verbosity=state.verbosity)
    result = track.install(state.settings(), dry_run=dry_run, sink=sink)
    if state.as_json:
        state.dump(
            {
                "dry_run": dry_run,
                "ledger": str(track.TRACK_LEDGER),
                "baselined": [s.filename for s in result.baselined],
                "pending": [s.filename for s in result.to_apply],
                "applied": [
                    {"version": s.version, "name": s.name, "execution_ms": ms}
                    for s, ms in result.applied
                ],
            }
        )
        return
    verb = "would be recorded" if dry_run else "recorded"
    for script in result.baselined:
        click.echo(f"{script.filename}: already in the database, {verb} as applied")
    if dry_run:
        for script in result.to_apply:
            click.echo(f"-- sqlmig dry run: would apply {script.filename}")
        click.echo(f"-- {len(result.to_apply)} file(s) would run; nothing was changed.")
    elif result.applied:
        click.echo(f"Installed: {len(result.applied)} file(s) applied ({track.TRACK_LEDGER}).")
    else:
        click.echo(f"The progress tables are up to date ({track.TRACK_LEDGER}).")


@progress.command("status")
@pass_state
def track_status(state: CliState) -> None:
    """Show which progress-track files the database has."""
    from sqlmig.cli.render import plan_json, render_plan
    from sqlmig.progress import install as track

    plan = track.status(state.settings())
    if state.as_json:
        state.dump({"migrations": plan_json(plan), "counts": plan.counts()})
    else:
        render_plan(plan)
