"""The migration commands: ``apply``, ``status``, ``verify``, ``rollback``, ``new``,
``baseline``, ``repair``: options in, :mod:`sqlmig.migrations` called, results rendered.

Only click is imported at module level; the library is imported inside each
command, so ``sqlmig --help`` never loads psycopg.
"""

from __future__ import annotations

from typing import TYPE_CHECKING

import click

from sqlmig.cli.render import (
    ProgressLines,
    plan_json,
    refusal_json,
    render_dry_run,
    render_plan,
    render_rollback_plan,
    repeatables_json,
)
from sqlmig.cli.state import CliState, pass_state

if TYPE_CHECKING:
    from sqlmig.migrations.events import Event, Sink
    from sqlmig.progress.runreport import ApplyReport

#: A templated file is shown as written: its variables' values never appear.


@click.command()
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
@click.option(
    "--report",
    "report_dsn",
    metavar="DSN",
    help="Also report the run as a task on the progress server of the database at DSN "
    "(its progress tables: sqlmig progress install), file by file.",
)
@pass_state
def apply(
    state: CliState,
    target: int | None,
    dry_run: bool,
    create_db: bool,
    wait_s: float,
    out_of_order: bool,
    lock_timeout_s: float,
    report_dsn: str | None,
) -> None:
    """Apply pending migrations, each in its own transaction.

    Then every repeatable migration (R-NAME.sql) that is new, changed or failed,
    in name order, each in its own transaction; with --target below the newest
    file, repeatables wait until every versioned migration is applied.
    """
    from sqlmig.migrations.api import apply as run

    as_json = state.as_json
    verbosity = state.verbosity
    sink: Sink | None = None if as_json or dry_run else ProgressLines(verbosity=verbosity)
    report = None
    if report_dsn and not dry_run:
        from sqlmig.progress.runreport import ApplyReport

        state.dsns.append(report_dsn)  # its password is masked like the target's
        report = ApplyReport(report_dsn, state.settings().directory)
        sink = _both(sink, report.on_event)
    try:
        result = run(
            state.settings(),
            target=target,
            dry_run=dry_run,
            create_db=create_db,
            wait_s=wait_s,
            out_of_order=out_of_order,
            lock_timeout_s=lock_timeout_s,
            sink=sink,
            statement_timing=verbosity > 0 and not as_json,
        )
    except BaseException as exc:
        if report is not None:
            report.failed(exc)
            _report_end(report)
        raise
    if report is not None:
        report.completed([s.filename for s, _ in [*result.applied, *result.repeatables_applied]])
        _report_end(report)
    if as_json:
        state.dump(
            {
                "dry_run": result.dry_run,
                "pending": [s.filename for s in result.to_apply],
                "applied": [
                    {"version": s.version, "name": s.name, "execution_ms": ms}
                    for s, ms in result.applied
                ],
                "repeatables": [e.filename for e in result.repeatables],
                "repeatables_applied": [
                    {"name": s.name, "file": s.filename, "execution_ms": ms}
                    for s, ms in result.repeatables_applied
                ],
            },
        )
        return
    if dry_run:
        render_dry_run(result)
        return
    done = len(result.applied)
    reps = len(result.repeatables_applied)
    if not done and not reps:
        counts = result.plan.counts()
        click.echo(f"Nothing to apply: {counts['applied']} migration(s) already applied.")
    else:
        total_ms = sum(ms for _, ms in result.applied + result.repeatables_applied)
        what = f"{done} migration(s)" + (f" and {reps} repeatable(s)" if reps else "")
        click.echo(f"Applied {what} in {total_ms / 1000:.2f} s.")


@click.command()
@pass_state
def status(state: CliState) -> None:
    """Show the state of every migration (applied, pending, modified, ...)."""
    from sqlmig.migrations.api import status as run

    plan = run(state.settings())
    if state.as_json:
        state.dump(
            {
                "migrations": plan_json(plan),
                "counts": plan.counts(),
                "repeatables": repeatables_json(plan),
                "repeatable_counts": plan.repeatable_counts(),
            }
        )
    else:
        render_plan(plan)


@click.command()
@click.option("--strict", is_flag=True, help="Pending migrations fail the check too.")
@pass_state
def verify(state: CliState, strict: bool) -> None:
    """Exit 1 when an applied file was modified, is missing, or failed."""
    from sqlmig.migrations.api import verify as run

    plan, problems = run(state.settings(), strict=strict)
    if state.as_json:
        state.dump(
            {
                "ok": not problems,
                "problems": [refusal_json(r) for r in problems],
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
        raise click.exceptions.Exit(1)


@click.command()
@click.option(
    "--to",
    "to_version",
    type=int,
    metavar="V",
    help="Roll back every applied version above V (V itself stays).",
)
@click.option(
    "--steps",
    type=click.IntRange(min=1),
    metavar="N",
    help="Roll back the newest N applied migrations (default: 1).",
)
@click.option("--dry-run", is_flag=True, help="Print the plan and the down SQL; change nothing.")
@click.option(
    "--lock-timeout",
    "lock_timeout_s",
    type=float,
    default=300,
    show_default=True,
    metavar="SECONDS",
    help="How long to wait for another runner's lock.",
)
@pass_state
def rollback(
    state: CliState,
    to_version: int | None,
    steps: int | None,
    dry_run: bool,
    lock_timeout_s: float,
) -> None:
    """Run down files, newest first: the last applied migration, --steps N, or --to V.

    Repeatable migrations (R-*.sql) are never rolled back: undo one by editing it
    (or with a versioned file); the next apply runs it again.
    """
    from sqlmig.core.errors import UsageError
    from sqlmig.migrations.api import rollback as run
    from sqlmig.migrations.api import rollback_plan

    if to_version is not None and steps is not None:
        raise UsageError("give --to or --steps, not both.")
    if dry_run:
        scripts = rollback_plan(state.settings(), to_version, steps=steps)
        if state.as_json:
            state.dump({"dry_run": True, "to_roll_back": [s.filename for s in scripts]})
        else:
            render_rollback_plan(scripts)
        return
    done = run(
        state.settings(),
        to_version,
        steps=steps,
        lock_timeout_s=lock_timeout_s,
        sink=None if state.as_json else ProgressLines("rolled back", state.verbosity),
    )
    if state.as_json:
        state.dump(
            {
                "dry_run": False,
                "rolled_back": [
                    {"version": s.version, "name": s.name, "execution_ms": ms} for s, ms in done
                ],
            }
        )
        return
    click.echo(f"Rolled back {len(done)} migration(s)." if done else "Nothing to roll back.")


@click.command()
@click.argument("name")
@click.option("--down", is_flag=True, help="Also create the .down.sql file.")
@click.option(
    "--repeatable",
    is_flag=True,
    help="Create R-NAME.sql: a repeatable migration, run again whenever it changes.",
)
@click.option(
    "--timestamp/--sequential",
    default=None,
    help="Version from the UTC time (20240101120000), so branches never clash; "
    "default: [tool.sqlmig] versions, else sequential.",
)
@pass_state
def new(state: CliState, name: str, down: bool, repeatable: bool, timestamp: bool | None) -> None:
    """Scaffold the next migration file named NAME.

    With --repeatable: R-NAME.sql, run after the versioned files whenever it changes.
    """
    from sqlmig.migrations.scaffold import new_script

    created = new_script(
        state.settings(), name, down=down, timestamp=timestamp, repeatable=repeatable
    )
    for path in created:
        click.echo(f"created {path}")


@click.command()
@click.argument("version", type=int)
@pass_state
def baseline(state: CliState, version: int) -> None:
    """Adopt an existing database: mark files up to VERSION applied without running them."""
    from sqlmig.migrations.api import baseline as run

    adopted = run(state.settings(), version)
    click.echo(f"Baselined {len(adopted)} migration(s) up to version {version}; nothing ran.")


@click.command()
@click.option("--dry-run", is_flag=True, help="Say what would be repaired; change nothing.")
@pass_state
def repair(state: CliState, dry_run: bool) -> None:
    """Accept reviewed edits (recorded as such; no SQL runs), drop failed and missing rows."""
    from sqlmig.migrations.api import repair as run

    actions = run(state.settings(), dry_run=dry_run)
    prefix = "would have " if dry_run else ""
    for entry, what in actions:
        click.echo(f"{entry.filename}: {prefix}{what}")
    if not actions:
        click.echo("Nothing to repair.")
    elif dry_run:
        click.echo(f"Would repair {len(actions)} row(s) (dry run: nothing was changed).")
    else:
        click.echo(f"Repaired {len(actions)} row(s).")


def _both(first: Sink | None, second: Sink) -> Sink:
    def sink(event: Event) -> None:
        if first is not None:
            first(event)
        second(event)

    return sink


def _report_end(report: ApplyReport) -> None:
    if report.broken:
        click.echo(f"sqlmig: --report stopped: {report.broken}", err=True)
    click.echo(f"sqlmig: reported as task {report.task_id}", err=True)
    report.close()
