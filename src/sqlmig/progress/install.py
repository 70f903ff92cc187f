"""``sqlmig progress install``: the progress tables as a migration track of their own.

    sqlmig/progress/sql/NN-name.sql (package data, in the wheel)
        ─▶ migrations.api.apply with the track's own ledger, sqlmig.progress_migrations
           (the normal runner: lock, one transaction per file, checksums, history)

The track is self-sufficient: in an empty database it creates everything the
server, the reporter and the demo need (task_status, the shared trigger
functions, async_tasks, memories, task_progress with its NOTIFY trigger).
Running it again applies only files added by a newer sqlmig, so the same
command upgrades.

A database that already has the tables (built from this repository's
``sql/init``, which holds the same files) has no rows in the track's ledger:
``install`` asks the catalog which files' objects are there (:data:`PRESENT`,
one probe per file), records that leading run of files as ``baseline`` (nothing
runs), and applies the rest. Objects of a later file without those of an
earlier one are refused: that schema is not the track's.
"""

from __future__ import annotations

from dataclasses import dataclass, field, replace
from importlib import resources
from pathlib import Path
from typing import TYPE_CHECKING

from psycopg import sql

from sqlmig.core import connections
from sqlmig.core.config import LedgerLocation, Settings
from sqlmig.core.errors import UsageError
from sqlmig.migrations import api, ledger, shadow
from sqlmig.migrations.files import Script, load_scripts

if TYPE_CHECKING:
    from sqlmig.migrations.events import Sink
    from sqlmig.migrations.plan import Plan

#: The track's ledger: a schema of sqlmig's own, apart from the project's ledger.
TRACK_LEDGER = LedgerLocation("sqlmig", "progress_migrations")

#: Per track file: true when the database already has what the file creates (names
#: resolved on the search_path, as the files create them). Every file needs one.
PRESENT: dict[int, str] = {
    1: "pg_catalog.to_regtype('task_status') IS NOT NULL"
    " AND pg_catalog.to_regprocedure('trigger_set_timestamp()') IS NOT NULL"
    " AND pg_catalog.to_regprocedure('trigger_reject_modification()') IS NOT NULL",
    2: "pg_catalog.to_regclass('async_tasks') IS NOT NULL",
    3: "pg_catalog.to_regclass('memories') IS NOT NULL",
    4: "EXISTS (SELECT FROM pg_catalog.pg_attribute WHERE attrelid ="
    " pg_catalog.to_regclass('memories') AND attname = 'task_id' AND NOT attisdropped)",
    5: "pg_catalog.to_regclass('task_progress') IS NOT NULL"
    " AND pg_catalog.to_regprocedure('task_progress_notify()') IS NOT NULL",
    6: "pg_catalog.to_regclass('task_batches') IS NOT NULL",
    7: "EXISTS (SELECT FROM pg_catalog.pg_proc WHERE oid ="
    " pg_catalog.to_regprocedure('task_progress_fill()')"
    " AND prosrc LIKE '%seq = greatest(NEW.seq - 20, 1)%')",
}


@dataclass
class Installation:
    """What ``install`` did (or, with ``dry_run``, would do)."""

    baselined: list[Script] = field(default_factory=list)  # found in place, recorded
    to_apply: list[Script] = field(default_factory=list)
    applied: list[tuple[Script, int]] = field(default_factory=list)
    dry_run: bool = False


def track_directory() -> Path:
    """The track's folder inside the installed package."""
    folder = resources.files("sqlmig.progress").joinpath("sql")
    if not isinstance(folder, Path):  # a zipped install: the runner reads real files
        raise UsageError("sqlmig is installed zipped: install it unpacked to use the track.")
    return folder


def track_settings(settings: Settings) -> Settings:
    """``settings`` with the track's folder and ledger (the target stays the same)."""
    return replace(settings, directory=track_directory(), ledger=TRACK_LEDGER)


def shadow_tracks(settings: Settings) -> list[shadow.Track]:
    """The track as the target has it, for the shadow database of ``drift`` and ``check``
    (read only): its ledger and the files it ran. Files it recorded as baseline came
    with the project's own files (this repository's sql/init), which build them; then
    the track's own files go after the project's."""
    with connections.connect(settings) as conn:
        row = conn.execute(
            "SELECT pg_catalog.to_regclass(%s) IS NOT NULL", (TRACK_LEDGER.regclass(),)
        ).fetchone()
        if not (row and row[0]):
            return []
        rows = [r for r in ledger.read(conn, TRACK_LEDGER) if r.success]
    ran = frozenset(r.version for r in rows if r.kind != "baseline")
    first = not any(r.kind == "baseline" for r in rows)
    return [shadow.Track(track_directory(), TRACK_LEDGER, ran, first=first)]


def status(settings: Settings) -> Plan:
    return api.status(track_settings(settings))


def install(settings: Settings, *, dry_run: bool = False, sink: Sink | None = None) -> Installation:
    """Apply the track to the target; baseline the files whose objects are already there."""
    track = track_settings(settings)
    result = Installation(dry_run=dry_run)
    plan = api.status(track)
    if not any(entry.row is not None for entry in plan.entries):
        result.baselined = _found(track, load_scripts(track.directory))
    if result.baselined and not dry_run:
        try:
            api.baseline(track, result.baselined[-1].version)
        except UsageError:
            # Another install recorded them first (baseline refuses a ledger with rows).
            if not any(entry.row is not None for entry in api.status(track).entries):
                raise
    applied = api.apply(track, dry_run=dry_run, sink=sink)
    found = {script.version for script in result.baselined}
    result.to_apply = [s for s in applied.to_apply if s.version not in found]
    result.applied = applied.applied
    return result


def _found(track: Settings, scripts: list[Script]) -> list[Script]:
    """The leading files whose objects the database has (their probes, in one query)."""
    unprobed = [s.filename for s in scripts if s.version not in PRESENT]
    if unprobed:  # a packaging mistake, caught by the tests
        raise AssertionError(f"no PRESENT probe for {', '.join(unprobed)}")
    probes = sql.SQL(", ").join(sql.SQL(PRESENT[s.version]) for s in scripts)
    with connections.connect(track) as conn:
        row = conn.execute(sql.SQL("SELECT ARRAY[{}]").format(probes)).fetchone()
    found: list[object] = list(row[0]) if row else []  # type: ignore[call-overload]
    present = [bool(there) for there in found]
    leading = next((i for i, there in enumerate(present) if not there), len(present))
    pairs = list(zip(scripts, present, strict=True))
    stray = [s.filename for s, there in pairs[leading:] if there]
    if stray:
        missing = ", ".join(s.filename for s, there in pairs if not there)
        raise UsageError(
            "the database has part of the progress schema but not all of it: the objects of "
            f"{', '.join(stray)} are there, those of {missing} are not, so sqlmig cannot tell "
            "which version it is and changes nothing. Make it match the track's files "
            f"({track.directory}) by hand, or install into a database without these tables."
        )
    return scripts[:leading]
