"""``sqlmig check``: rehearse the pending migrations in a throwaway database and print the
lock report; exit 1 when a file fails (apply's own error) or a ``--fail-on`` finding shows.

Only click is imported at module level; the library is imported inside the command.
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

import click

from sqlmig.cli.state import CliState, pass_state

if TYPE_CHECKING:
    from sqlmig.migrations.rehearse import FileReport, Rehearsal

_FAIL_ON_HELP = (
    "Comma-separated findings that fail the check (exit 1): rewrite, scan, access-exclusive, "
    "exclusive, share-row-exclusive, share, blocking, no-lock-timeout."
)

_UNSEEN = {
    "pg_locks": "(its lock was held already)",
    "autocommit": "(lock not readable: the statement committed on its own)",
}


@click.command()
@click.option(
    "--shadow-dsn",
    metavar="DSN",
    help="Server for the throwaway database (default: the target's server when the role "
    "may CREATE DATABASE, else the embedded server).",
)
@click.option(
    "--all",
    "all_files",
    is_flag=True,
    help="Rehearse every file, from an empty database (the target is not read).",
)
@click.option("--fail-on", metavar="FINDINGS", help=_FAIL_ON_HELP)
@pass_state
def check(state: CliState, shadow_dsn: str | None, all_files: bool, fail_on: str | None) -> None:
    """Rehearse pending migrations in a throwaway database; report failures and locks.

    Each pending file runs as `apply` would run it, one statement at a time, in a
    database built from the applied files; after each statement, inside its
    transaction, the report reads which tables it locked (pg_locks), rewrote
    (relfilenode) or scanned, and whether lock_timeout was set. The target is
    only read. Exit 1 when a file fails (the error `apply` would print) or a
    --fail-on finding shows.
    """
    from sqlmig.migrations import locks
    from sqlmig.migrations.rehearse import rehearse
    from sqlmig.progress.install import shadow_tracks

    wanted = locks.parse_fail_on(fail_on)
    if shadow_dsn:
        state.dsns.append(shadow_dsn)  # its password is masked like the target's
    settings = state.settings()
    tracks = [] if all_files else shadow_tracks(settings)
    result = rehearse(settings, shadow_dsn=shadow_dsn, all_files=all_files, tracks=tracks)
    failing = result.failing(wanted)
    if state.as_json:
        _dump(state, result, wanted, failing, all_files)
    else:
        _render(result, all_files, bool(failing))
        if result.failure is None and failing:
            click.echo(
                f"check failed: --fail-on {','.join(sorted(wanted))} names findings of "
                f"{len(failing)} statement(s):"
            )
            for file, report in failing:
                named = [f for f in report.findings if f in wanted]
                click.echo(f"  {file.path}:{report.line}:{report.column}: {', '.join(named)}")
    if result.failure is not None:
        if state.as_json:
            raise click.exceptions.Exit(result.failure.exit_code)
        raise result.failure  # the root prints it as apply would, with its exit code
    if failing:
        raise click.exceptions.Exit(1)


def _render(result: Rehearsal, all_files: bool, failing: bool) -> None:
    base = (
        "every file (--all), from an empty database"
        if all_files
        else f"pending files on {len(result.built_from)} applied one(s)"
    )
    click.echo(
        f"Rehearsed {base}, in a throwaway database {result.where} (dropped); "
        "the target was not written to."
    )
    if result.failed_in == "build":
        click.echo("The applied files do not build a database from scratch: see the error.")
    for file in result.files:
        _render_file(file)
    if result.failure is not None:
        return
    if not result.files:
        click.echo("OK: nothing pending to rehearse.")
        return
    found = result.findings
    note = f"; findings: {', '.join(found)}" if found else ", no findings"
    head = "" if failing else "OK: "
    click.echo(f"{head}{len(result.files)} file(s) rehearsed clean{note}.")


def _render_file(file: FileReport) -> None:
    mode = (
        "one transaction: locks held until COMMIT"
        if file.transactional
        else "no transaction: each statement commits"
    )
    status = "FAILED (below)" if file.failed else f"{file.ms} ms"
    click.echo(f"{file.path}: {status} ({mode})")
    quiet = 0
    for report in file.statements:
        if not report.locks:
            quiet += 1
            continue
        findings = f"  [{', '.join(report.findings)}]" if report.findings else ""
        click.echo(f"  {file.path}:{report.line}:{report.column}: {report.text}{findings}")
        for lock in report.locks:
            what = [lock.level if lock.mode else _UNSEEN.get(lock.source, "")]
            if lock.rewrite:
                what.append("rewrote the table (relfilenode changed)")
            if lock.scan:
                what.append("scanned the whole table under that lock")
            if lock.dropped:
                what.append("dropped")
            if lock.source == "statement kind":
                what.append("lock from the statement kind")
            click.echo(f"      {lock.relation}: {', '.join(what)}")
        if "no-lock-timeout" in report.findings:
            click.echo("      lock_timeout was 0: it would wait behind other sessions forever")
    if quiet:
        click.echo(f"  ({quiet} statement(s) locked no existing table)")


def _dump(
    state: CliState,
    result: Rehearsal,
    wanted: frozenset[str],
    failing: list[tuple[FileReport, Any]],
    all_files: bool,
) -> None:
    from sqlmig.core.redact import redact

    failure: dict[str, Any] | None = None
    if result.failure is not None:
        secrets = state.secrets()
        failure = {
            k: redact(v, secrets) if isinstance(v, str) else v
            for k, v in result.failure.as_dict().items()
        }
        failure["phase"] = result.failed_in
        click.echo(f"Error: {failure['error']}", err=True)
    state.dump(
        {
            "ok": result.failure is None and not failing,
            "all": all_files,
            "shadow": result.where,
            "built_from": [s.filename for s in result.built_from],
            "files": [f.as_dict() for f in result.files],
            "findings": result.findings,
            "fail_on": sorted(wanted),
            "failing": [
                {"file": f.path, "line": r.line, "column": r.column, "findings": r.findings}
                for f, r in failing
            ],
            "failure": failure,
        }
    )
