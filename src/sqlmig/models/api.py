"""The library API behind ``sqlmig models``: generate a module, check one for drift.

connect ─▶ introspect ─▶ Schema ─┬─▶ codegen.render ─▶ write / compare bytes
                                 └─▶ drift.compare(imported module)
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path

from sqlmig.core import connections
from sqlmig.core.config import Settings
from sqlmig.core.errors import UsageError
from sqlmig.models.drift import Drift
from sqlmig.models.schema import Schema


@dataclass(frozen=True)
class Generated:
    path: Path
    text: str
    changed: bool  # the file on disk differs (or is missing)
    enums: int
    models: int


def read_schema(
    settings: Settings,
    schemas: Sequence[str] = ("public",),
    tables: Sequence[str] | None = None,
    *,
    views: bool = False,
) -> Schema:
    """Introspect; an unknown schema or table is an error, never an empty module."""
    from sqlmig.models.introspect import introspect, schema_names

    with connections.connect(settings) as conn:
        existing = schema_names(conn)
        missing = [s for s in schemas if s not in existing]
        if missing:
            raise UsageError(
                f"no such schema: {', '.join(missing)}. The database has: "
                f"{', '.join(existing) or 'no schemas of its own'}; choose with --schema NAME."
            )
        schema = introspect(conn, schemas, tables=tables, views=views, ledger=settings.ledger)
    if tables:
        found = {t.name for t in schema.tables} | {t.qualified for t in schema.tables}
        unknown = sorted(set(tables) - found)
        if unknown:
            hint = "" if views else " (views and materialized views need --views)"
            raise UsageError(
                f"no such table in schema(s) {', '.join(schemas)}: {', '.join(unknown)}{hint}."
            )
    return schema


def generate(
    settings: Settings,
    out: Path,
    schemas: Sequence[str] = ("public",),
    tables: Sequence[str] | None = None,
    *,
    views: bool = False,
    write: bool = True,
) -> Generated:
    """Render the models module for the live schema; write it unless ``write`` is False."""
    from sqlmig.models.codegen import render

    target = out if out.is_absolute() else settings.project_root / out
    if not target.parent.is_dir():
        # A missing folder is most often a typo: say so rather than create it.
        folder = _display(target.parent, settings.project_root)
        raise UsageError(
            f"the folder of {out.as_posix()} does not exist: {folder}. "
            f"Create it first (mkdir -p {folder}) or choose another --out."
        )
    schema = read_schema(settings, schemas, tables, views=views)
    shown = _display(out, settings.project_root)
    ((_, text),) = render(schema, Path(shown)).items()
    changed = not target.exists() or target.read_text(encoding="utf-8") != text
    if write and changed:
        target.write_text(text, encoding="utf-8")
    return Generated(target, text, changed, len(schema.enums), len(schema.tables))


def check(
    settings: Settings,
    module: str,
    schemas: Sequence[str] = ("public",),
    tables: Sequence[str] | None = None,
    *,
    views: bool = False,
) -> list[Drift]:
    from sqlmig.models.drift import compare, load_module

    # Import first: a broken module is reported without touching the database.
    loaded = load_module(module, settings.project_root)
    schema = read_schema(settings, schemas, tables, views=views)
    return compare(schema, loaded)


def _display(out: Path, root: Path) -> str:
    """The path as written in the generated header: relative to the project when inside it."""
    try:
        return (
            (out if out.is_absolute() else root / out)
            .resolve()
            .relative_to(root.resolve())
            .as_posix()
        )
    except ValueError:
        return out.as_posix()
