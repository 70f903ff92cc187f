"""``sqlmig lint [FILES]``: migration hazards, found with PostgreSQL's own parser.

A thin layer over :mod:`sqlmig.lint`: choose the files, print the findings in
the chosen format, exit 1 when an error-severity finding remains.
"""

from __future__ import annotations

from pathlib import Path

import click

from sqlmig.cli.state import CliState, pass_state


@click.command()
@click.argument("files", nargs=-1, type=click.Path(path_type=Path))
@click.option(
    "--all", "every", is_flag=True, help="Every migration in the directory; no database needed."
)
@click.option(
    "--format",
    "format",
    type=click.Choice(["text", "json", "github", "sarif"]),
    default=None,
    help="text, json, github (workflow annotations) or sarif (code scanning). "
    "[default: the global --format]",
)
@click.option("--rules", "list_rules", is_flag=True, help="List the rules and exit.")
@pass_state
def lint(
    state: CliState, files: tuple[Path, ...], every: bool, format: str | None, list_rules: bool
) -> None:
    """Report migration hazards as file:line:col: rule-id message, with a fix.

    By default lints the files not applied yet and the repeatables apply would
    run (it connects, as `status` does, to read the ledger: applied files are
    history). --all lints every file and FILES lints those files, without a
    database. A templated file is linted with each variable read as its name.
    Waive a finding with
    `-- sqlmig: lint-ignore RULE reason="..."` on the line above the statement
    (or at the top of the file); configure rules in [tool.sqlmig.lint].
    Exit 1 when an error-severity finding remains. Rules: docs/lint.md.
    """
    from sqlmig.core.errors import UsageError
    from sqlmig.lint import api, formats

    chosen = format or state.format
    if list_rules:
        click.echo(_rules_table())
        return
    if files and every:
        raise UsageError("give FILES or --all, not both.")
    if files:
        result = api.lint_files(list(files))
    elif every:
        result = api.lint_all(state.settings())
    else:
        result = api.lint_pending(state.settings())
    found, count = result.findings, len(result.files)
    if chosen == "json":
        state.dump(formats.as_json(found, count))
    elif chosen == "sarif":
        click.echo(formats.dumps(formats.sarif(found, Path.cwd())))
    elif chosen == "github":
        if found:
            click.echo(formats.github(found))
    else:
        click.echo(formats.text(found, count))
    if result.failed:
        click.get_current_context().exit(1)


def _rules_table() -> str:
    from sqlmig.lint.config import load
    from sqlmig.lint.rules import RULES

    config = load(Path.cwd())
    width = max(map(len, RULES))
    return "\n".join(
        f"{rule.id:<{width}}  {config.severity(rule.id) or 'off':<7}  {rule.summary}"
        for rule in RULES.values()
    )
