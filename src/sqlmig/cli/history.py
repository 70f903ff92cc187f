"""``sqlmig history [--version V]``: the audit trail beside the ledger, as text or JSON.

Only click is imported at module level; the library is imported inside the command.
"""

from __future__ import annotations

import click

from sqlmig.cli.render import history_json, render_history
from sqlmig.cli.state import CliState, pass_state


@click.command()
@click.option("--version", "version", type=int, metavar="V", help="Only the rows of version V.")
@pass_state
def history(state: CliState, version: int | None) -> None:
    """Show every apply, rollback, repair and baseline: who, when, how long, the outcome."""
    from sqlmig.migrations.api import history_rows

    rows = history_rows(state.settings(), version=version)
    if state.as_json:
        state.dump({"history": history_json(rows)})
    else:
        render_history(rows)
