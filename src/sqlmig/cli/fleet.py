"""``sqlmig fleet apply / status / verify / targets``: one command over many databases.

Options in, :func:`sqlmig.fleet.run_fleet` called, results rendered: one line per
target as each ends (a live line on stderr instead when it is a terminal), then a
summary naming every failure, or one JSON document. Every line is redacted with
the passwords of every target. Only click is imported at module level.
"""

from __future__ import annotations

import json
from collections.abc import Callable
from typing import TYPE_CHECKING, Any

import click

from sqlmig.cli.fleet_lines import FleetLines, echo, live_line, summary, target_line
from sqlmig.cli.state import CliState, pass_state

__all__ = ["FleetLines", "fleet", "live_line", "target_line"]

if TYPE_CHECKING:
    from sqlmig.fleet.run import FleetOptions
    from sqlmig.fleet.targets import Fleet


def _common(command: Callable[..., Any]) -> Callable[..., Any]:
    for option in reversed(
        [
            click.option(
                "--targets",
                "targets_file",
                metavar="FILE",
                help="Targets file: TOML with the [tool.sqlmig.fleet] keys, or one "
                "[NAME=]DSN a line [default: [tool.sqlmig.fleet] in pyproject.toml].",
            ),
            click.option(
                "--only", multiple=True, metavar="GLOB", help="Only targets whose name matches."
            ),
            click.option(
                "--jobs",
                type=click.IntRange(min=1),
                metavar="N",
                help="Targets at once [default: min(8, 2 x servers)].",
            ),
            click.option(
                "--per-server",
                type=click.IntRange(min=1),
                metavar="M",
                help="Targets at once on one host:port [default: jobs / servers, rounded up].",
            ),
        ]
    ):
        command = option(command)
    return command


@click.group()
def fleet() -> None:
    """Run apply, status, verify, drift or check on every database of a fleet.

    Targets come from [tool.sqlmig.fleet] in pyproject.toml or --targets FILE
    (docs/fleet.md). Exit codes: 0 every target clean, 1 a target failed, has
    problems or was skipped, 3 some targets unreachable and none failed,
    2 usage or configuration error (nothing ran).
    """


@fleet.command("apply")
@_common
@click.option(
    "--canary",
    multiple=True,
    metavar="NAME",
    help="Run these targets (names or globs) first, as a stage of their own.",
)
@click.option(
    "--max-failures",
    type=click.IntRange(min=1),
    metavar="K",
    help="Start no new target after K failures [default: 1].",
)
@click.option(
    "--lock-timeout",
    "lock_timeout_s",
    type=float,
    default=300,
    show_default=True,
    metavar="SECONDS",
    help="How long each target waits for another runner's lock.",
)
@click.option(
    "--wait",
    "wait_s",
    type=float,
    default=0,
    metavar="SECONDS",
    help="Keep trying to connect to each target until SECONDS have passed.",
)
@click.option(
    "--report",
    "report_dsn",
    metavar="DSN",
    help="Report the run as a batch task (a child per target) to the progress tables "
    "of DSN; cancelling the batch there stops new targets.",
)
@pass_state
def apply_(
    state: CliState,
    targets_file: str | None,
    only: tuple[str, ...],
    jobs: int | None,
    per_server: int | None,
    canary: tuple[str, ...],
    max_failures: int | None,
    lock_timeout_s: float,
    wait_s: float,
    report_dsn: str | None,
) -> None:
    """Apply pending migrations on every target, stage by stage.

    A stage starts only when every target of the one before ended clean; after
    --max-failures failures no new target starts (running ones finish). Each
    target runs exactly `sqlmig apply`: its own connection, lock and ledger. A
    re-run resumes: targets with nothing pending are a quick no-op.
    """
    from sqlmig.fleet.run import FleetOptions

    names = tuple(n.strip() for c in canary for n in c.split(",") if n.strip())
    options = FleetOptions(jobs, per_server, max_failures, names, lock_timeout_s, wait_s)
    _run(state, "apply", targets_file, only, options, report_dsn)


@fleet.command("status")
@_common
@pass_state
def status_(
    state: CliState,
    targets_file: str | None,
    only: tuple[str, ...],
    jobs: int | None,
    per_server: int | None,
) -> None:
    """Where every target stands: up to date, pending files, or problems (read only)."""
    from sqlmig.fleet.run import FleetOptions

    _run(state, "status", targets_file, only, FleetOptions(jobs, per_server))


@fleet.command("verify")
@_common
@click.option("--strict", is_flag=True, help="Pending migrations fail the check too.")
@pass_state
def verify_(
    state: CliState,
    targets_file: str | None,
    only: tuple[str, ...],
    jobs: int | None,
    per_server: int | None,
    strict: bool,
) -> None:
    """Exit 1 when any target has a modified, missing or failed migration (read only)."""
    from sqlmig.fleet.run import FleetOptions

    _run(state, "verify", targets_file, only, FleetOptions(jobs, per_server, strict=strict))


_SHADOW = click.option(
    "--shadow-dsn",
    metavar="DSN",
    help="Server for each target's throwaway database [default: the target's server when "
    "the role may create databases, else the embedded server].",
)


@fleet.command("drift")
@_common
@_SHADOW
@click.option("--grants", is_flag=True, help="Also compare privileges (GRANT/REVOKE).")
@pass_state
def drift_(
    state: CliState,
    targets_file: str | None,
    only: tuple[str, ...],
    jobs: int | None,
    per_server: int | None,
    shadow_dsn: str | None,
    grants: bool,
) -> None:
    """Exit 1 when any target's schema differs from what its applied files build (read only).

    Each target gets its own throwaway database, built from the versions its
    ledger shows applied, as `sqlmig drift` builds it; one line per difference.
    """
    from sqlmig.fleet.run import FleetOptions

    if shadow_dsn:
        state.dsns.append(shadow_dsn)
    options = FleetOptions(jobs, per_server, shadow_dsn=shadow_dsn, grants=grants)
    _run(state, "drift", targets_file, only, options)


@fleet.command("check")
@_common
@_SHADOW
@click.option(
    "--fail-on",
    metavar="FINDINGS",
    help="Comma-separated lock findings that fail a target, as for `sqlmig check`.",
)
@pass_state
def check_(
    state: CliState,
    targets_file: str | None,
    only: tuple[str, ...],
    jobs: int | None,
    per_server: int | None,
    shadow_dsn: str | None,
    fail_on: str | None,
) -> None:
    """Rehearse every target's pending files in a throwaway database (read only).

    A target fails with the error `sqlmig apply` would print there; --fail-on
    findings are its problems. Lock reports themselves: `sqlmig check` per target.
    """
    from sqlmig.fleet.run import FleetOptions
    from sqlmig.migrations.locks import parse_fail_on

    if shadow_dsn:
        state.dsns.append(shadow_dsn)
    options = FleetOptions(jobs, per_server, shadow_dsn=shadow_dsn, fail_on=parse_fail_on(fail_on))
    _run(state, "check", targets_file, only, options)


@fleet.command("targets")
@click.option("--targets", "targets_file", metavar="FILE", help="Targets file (as for apply).")
@click.option("--only", multiple=True, metavar="GLOB", help="Only targets whose name matches.")
@pass_state
def targets_(state: CliState, targets_file: str | None, only: tuple[str, ...]) -> None:
    """List the fleet's targets: name, stage, server and database (no password)."""
    from sqlmig.fleet.schedule import assign_stages

    chosen = _load(state, targets_file, only)
    stages = assign_stages(chosen.targets, chosen.stages)
    rows = [(n, t) for n, stage in enumerate(stages, start=1) for t in stage]
    if state.as_json:
        items = [
            {"name": t.name, "stage": n, "server": t.server, "target": t.shown} for n, t in rows
        ]
        echo(state, json.dumps({"targets": items}, indent=2))
        return
    width = max(len(t.name) for _, t in rows)
    for number, target in rows:
        echo(state, f"{target.name:<{width}}  stage {number}  {target.shown}")


def _load(state: CliState, targets_file: str | None, only: tuple[str, ...]) -> Fleet:
    from sqlmig.core.errors import UsageError
    from sqlmig.fleet.targets import load_fleet

    if state.dsn:
        raise UsageError(
            "--dsn names one database; a fleet command takes its targets from "
            "[tool.sqlmig.fleet] or --targets FILE (docs/fleet.md)."
        )
    chosen = load_fleet(state.settings(), targets_file).select(only)
    for target in chosen.targets:
        state.dsns.append(target.dsn)  # the root's error path masks these too
    for secret in chosen.secrets():
        state.keep_secret(secret)
    return chosen


def _run(
    state: CliState,
    command: str,
    targets_file: str | None,
    only: tuple[str, ...],
    options: FleetOptions,
    report_dsn: str | None = None,
) -> None:
    from sqlmig.fleet.report import FleetReport
    from sqlmig.fleet.run import run_fleet

    chosen = _load(state, targets_file, only)
    settings = state.settings()
    lines = None if state.as_json else FleetLines(state, command)
    report = None
    if report_dsn:
        state.dsns.append(report_dsn)  # masked in every line, as --dsn is
        report = FleetReport(report_dsn, settings)
    try:
        result = run_fleet(command, chosen, settings, options, on_event=lines, report=report)
    finally:
        if report is not None:
            report.close()
    if lines is not None:
        lines.clear()
    if report is not None:
        echo(state, f"fleet {command}: reported as batch {report.task_id}", err=True)
        if report.broken:
            echo(state, f"fleet {command}: --report stopped: {report.broken}", err=True)
    if state.as_json:
        echo(state, json.dumps(result.as_dict(), indent=2, default=str))
    else:
        summary(state, result)
    if result.exit_code:
        raise click.exceptions.Exit(result.exit_code)
