"""``sqlmig models``: generate Pydantic models from the live schema; check them for drift.

Only click is imported here; pydantic, jinja2 and pglast load inside the commands.
"""

from __future__ import annotations

import json
from pathlib import Path

import click

from sqlmig.cli.state import CliState, pass_state
from sqlmig.core.errors import UsageError

_schema_option = click.option(
    "--schema", "schemas", multiple=True, default=("public",), show_default=True,
    metavar="NAME", help="Schema to read (repeatable).",
)  # fmt: skip
_tables_option = click.option(
    "--tables", multiple=True, metavar="NAME[,NAME...]",
    help="Only these tables (repeatable or comma-separated).",
)  # fmt: skip
_views_option = click.option("--views", is_flag=True, help="Also views and materialized views.")


def _tables(values: tuple[str, ...]) -> list[str] | None:
    names = [n.strip() for v in values for n in v.split(",") if n.strip()]
    return names or None


@click.group()
def models() -> None:
    """Pydantic models of the tables: generate them; fail CI when they drift."""


@models.command()
@click.option(
    "--out",
    type=click.Path(dir_okay=False, path_type=Path),
    metavar="PATH",
    help="Module to write [default: [tool.sqlmig] models_out].",
)
@_schema_option
@_tables_option
@_views_option
@click.option(
    "--check",
    "check_only",
    is_flag=True,
    help="Write nothing; exit 1 if PATH differs from a fresh generation.",
)
@pass_state
def generate(
    state: CliState,
    out: Path | None,
    schemas: tuple[str, ...],
    tables: tuple[str, ...],
    views: bool,
    check_only: bool,
) -> None:
    """Generate a module with one StrEnum per enum type and one BaseModel per table."""
    from sqlmig.models.api import generate as run

    settings = state.settings()
    target = out or (Path(settings.models_out) if settings.models_out else None)
    if target is None:
        raise UsageError("say where to write: --out PATH, or [tool.sqlmig] models_out.")
    result = run(settings, target, schemas, _tables(tables), views=views, write=not check_only)
    if state.as_json:
        click.echo(
            json.dumps(
                {
                    "path": str(result.path),
                    "changed": result.changed,
                    "enums": result.enums,
                    "models": result.models,
                },
                indent=2,
            )
        )
    elif check_only:
        click.echo(f"{result.path} {'differs from' if result.changed else 'matches'} the schema.")
    else:
        what = f"{result.enums} enum(s), {result.models} model(s)"
        click.echo(f"{'wrote' if result.changed else 'unchanged:'} {result.path} ({what})")
    if check_only and result.changed:
        raise click.exceptions.Exit(1)


@models.command()
@click.option(
    "--module",
    "module",
    metavar="MODULE",
    help="Dotted module or .py file [default: [tool.sqlmig] models_module].",
)
@_schema_option
@_tables_option
@_views_option
@pass_state
def check(
    state: CliState,
    module: str | None,
    schemas: tuple[str, ...],
    tables: tuple[str, ...],
    views: bool,
) -> None:
    """Exit 1 when the models and the live schema differ, one line per difference."""
    from sqlmig.models.api import check as run

    settings = state.settings()
    module = module or settings.models_module
    if not module:
        raise UsageError("say which models: --module NAME, or [tool.sqlmig] models_module.")
    drift = run(settings, module, schemas, _tables(tables), views=views)
    if state.as_json:
        click.echo(
            json.dumps(
                {"ok": not drift, "module": module, "drift": [d.as_dict() for d in drift]}, indent=2
            )
        )
    else:
        for item in drift:
            click.echo(str(item))
        click.echo(
            f"{module}: {len(drift)} difference(s) from the schema."
            if drift
            else f"{module} matches the schema."
        )
    if drift:
        raise click.exceptions.Exit(1)
