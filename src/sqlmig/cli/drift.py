"""``sqlmig drift``: the schema the migration files build vs the live database.

Only click is imported here; the library loads inside the command.
"""

from __future__ import annotations

from dataclasses import replace

import click

from sqlmig.cli.state import CliState, pass_state


@click.command()
@click.option(
    "--against",
    metavar="DSN",
    help="Compare with this database instead of the target (its ledger says what is applied).",
)
@click.option(
    "--all", "all_files", is_flag=True, help="Build from every file, not only the applied ones."
)
@click.option(
    "--shadow-dsn",
    metavar="DSN",
    help="Server for the throwaway database [default: the target's server when the role "
    "may create databases, else the embedded server].",
)
@click.option("--grants", is_flag=True, help="Also compare privileges (GRANT/REVOKE).")
@pass_state
def drift(
    state: CliState,
    against: str | None,
    all_files: bool,
    shadow_dsn: str | None,
    grants: bool,
) -> None:
    """Exit 1 when the live schema differs from what the migration files build.

    Applies the files (exactly the versions the database's ledger shows applied;
    --all: every file) to a throwaway database, always dropped afterwards, reads
    both schemas with the same catalog queries and prints one line per
    difference: `missing` is in the files but not in the database, `extra` the
    reverse, and `A -> B` reads files -> database.
    """
    from sqlmig.progress.install import shadow_tracks
    from sqlmig.schemadiff.api import drift as run

    for dsn in (against, shadow_dsn):
        if dsn:
            state.dsns.append(dsn)
    settings = state.settings()
    compared = replace(settings, dsn=against) if against else settings
    report = run(
        settings, against=against, all_files=all_files, shadow_dsn=shadow_dsn,
        grants=grants, tracks=shadow_tracks(compared),
    )  # fmt: skip
    if state.as_json:
        state.dump(report.as_dict())
    else:
        for difference in report.differences:
            click.echo(state.mask(difference.line))  # a default may hold a template's value
        for unsupported in report.unsupported:
            click.echo(unsupported.line)
        if not state.quiet:
            built = f"{len(report.versions)} migration file(s), built {report.shadow}"
            if report.ok:
                click.echo(f"no drift: the database matches {built}.", err=True)
            else:
                click.echo(
                    f"drift: {len(report.differences)} difference(s), files -> database "
                    f"(the files: {built}).",
                    err=True,
                )
    if not report.ok:
        raise click.exceptions.Exit(1)
