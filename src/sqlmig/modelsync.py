"""The library API behind ``sqlmig models``: generate a module, check one for drift.

connect ─▶ introspect ─▶ Schema ─┬─▶ codegen.render ─▶ write / compare bytes
                                 └─▶ drift.compare(imported module)
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path

from . import database
from .config import Settings
from .drift import Drift
from .errors import UsageError
from .schema import Schema


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
    from .introspect import introspect

    with database.connect(settings) as conn:
        schema = introspect(conn, schemas, tables=tables, views=views)
    if tables:
        found = {t.name for t in schema.tables} | {t.qualified for t in schema.tables}
        unknown = sorted(set(tables) - found)
        if unknown:
            raise UsageError(
                f"no such table in schema(s) {', '.join(schemas)}: {', '.join(unknown)}."
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
    from .codegen import render

    schema = read_schema(settings, schemas, tables, views=views)
    shown = _display(out, settings.project_root)
    ((_, text),) = render(schema, Path(shown)).items()
    target = out if out.is_absolute() else settings.project_root / out
    changed = not target.exists() or target.read_text(encoding="utf-8") != text
    if write and changed:
        target.parent.mkdir(parents=True, exist_ok=True)
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
    from .drift import compare, load_module

    schema = read_schema(settings, schemas, tables, views=views)
    return compare(schema, load_module(module, settings.project_root))


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
