"""``sqlmig adopt --from TOOL``: take over another migration tool's history (no SQL runs)."""

from __future__ import annotations

import click

from sqlmig.cli.state import CliState, pass_state


@click.command()
@click.option(
    "--from",
    "tool",
    required=True,
    type=click.Choice(["dbmate", "golang-migrate", "flyway", "yoyo"]),
    help="The tool whose history table is in the target database.",
)
@click.option("--dry-run", is_flag=True, help="Say what would be adopted; change nothing.")
@pass_state
def adopt(state: CliState, tool: str, dry_run: bool) -> None:
    """Record every file another tool applied as applied (kind 'adopted'), running nothing.

    Refused when that tool's history is dirty or failed, or names a version no
    file has. dbmate's and golang-migrate's table (public.schema_migrations, the
    same name as sqlmig's ledger) is kept, renamed to schema_migrations_<tool>.
    """
    from sqlmig.migrations.adopt import adopt as run

    result = run(state.settings(), tool, dry_run=dry_run)
    if state.as_json:
        state.dump(
            {
                "tool": result.tool,
                "table": result.table,
                "renamed_to": result.renamed_to,
                "dry_run": result.dry_run,
                "adopted": [{"version": s.version, "file": s.filename} for s in result.adopted],
            }
        )
        return
    prefix = "would adopt" if dry_run else "adopted"
    for script in result.adopted:
        click.echo(f"{prefix} {script.filename}")
    if result.renamed_to:
        verb = "would keep" if dry_run else "kept"
        click.echo(f"{verb} {tool}'s table {result.table} as {result.renamed_to}")
    done = "nothing was changed (dry run)" if dry_run else "nothing ran"
    click.echo(f"{len(result.adopted)} migration(s) from {tool}; {done}.")
