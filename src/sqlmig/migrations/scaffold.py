"""``sqlmig new``: the next migration file (and its down file), or a repeatable one.

Only the folder is read (its numbering, width and separator); no database.
"""

from __future__ import annotations

import re
from pathlib import Path

from sqlmig.core.config import Settings
from sqlmig.core.errors import UsageError
from sqlmig.migrations import repeatable as repeatables
from sqlmig.migrations.files import Script, load_scripts


def new_script(
    settings: Settings,
    name: str,
    *,
    down: bool = False,
    timestamp: bool | None = None,
    repeatable: bool = False,
) -> list[Path]:
    """Scaffold the next file (and its down file), or with ``repeatable`` an ``R-<name>.sql``.

    Sequential versions continue the folder's numbering (its width and its
    separator, ``-`` or ``_``); ``timestamp`` (or ``[tool.sqlmig] versions =
    "timestamp"``) uses the UTC time, e.g. 20240101120000, so branches do not clash.
    """
    slug = re.sub(r"[^a-z0-9]+", "-", name.lower()).strip("-")
    if not slug:
        raise UsageError(f"{name!r} has no letters or digits to name a file with.")
    directory = settings.directory
    directory.mkdir(parents=True, exist_ok=True)
    scripts = load_scripts(directory)
    if repeatable:
        return [_new_repeatable(directory, scripts, name, slug, down)]
    last = max((s.version for s in scripts), default=0)
    separator = (
        "_" if scripts and scripts[-1].filename[len(_digits(scripts[-1])) :][:1] == "_" else "-"
    )
    if separator == "_":
        slug = slug.replace("-", "_")
    if timestamp if timestamp is not None else settings.versions == "timestamp":
        from datetime import UTC, datetime

        version = max(int(datetime.now(UTC).strftime("%Y%m%d%H%M%S")), last + 1)
        stem = f"{version}{separator}{slug}"
    else:
        width = max((len(_digits(s)) for s in scripts), default=4)
        stem = f"{last + 1:0{width}d}{separator}{slug}"
    up = directory / f"{stem}.sql"
    up.write_text(
        f"-- {name}\n"
        "-- Runs in one transaction with its ledger row. For CREATE INDEX CONCURRENTLY\n"
        "-- and the like, make the first line: -- sqlmig: no-transaction\n\n"
    )
    created = [up]
    if down:
        created.append(directory / f"{stem}.down.sql")
        created[-1].write_text(f"-- undo {name}\n\n")
    return created


def _new_repeatable(
    directory: Path, scripts: list[Script], name: str, slug: str, down: bool
) -> Path:
    if down:
        raise UsageError("a repeatable migration has no down file; drop --down.")
    taken = {r.name.lower() for r in repeatables.load(directory, scripts)}
    if slug in taken:
        raise UsageError(f"a repeatable named {slug!r} exists already; edit that file.")
    path = directory / f"R-{slug}.sql"
    path.write_text(
        f"-- {name} (repeatable)\n"
        "-- Runs after the versioned migrations whenever this file changes, in one\n"
        "-- transaction with its row. Write it to run again: CREATE OR REPLACE VIEW /\n"
        "-- FUNCTION, GRANT ...; never rolled back.\n\n"
    )
    return path


def _digits(script: Script) -> str:
    """The version as written in the file name (with its leading zeros)."""
    return re.match(r"\d+", script.filename)[0]  # type: ignore[index]  # the name matched
