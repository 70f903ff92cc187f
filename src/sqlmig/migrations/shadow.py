"""A throwaway database built from the migration files: what ``drift`` compares the target
with, and where ``check`` rehearses pending files. The target is only read.

    where:   --shadow-dsn (any server) ─▶ else the target's server, when the role may
             CREATE DATABASE ─▶ else the project's embedded server
    build:   exactly the versions the target's ledger shows applied (or every file),
             then the repeatables the target has run (or every one), applied with the
             same run loop as ``apply`` (a ledger, the lock, one transaction per file);
             other tracks the target has (sqlmig's progress tables: ``Track``) too
    always:  DROP DATABASE ... WITH (FORCE) afterwards, also after an error or Ctrl-C

Usage::

    with shadow.throwaway(settings) as db:
        shadow.build(settings, db, shadow.applied_versions(settings),
                     shadow.applied_repeatables(settings))
        ... connect to db.dsn ...
"""

from __future__ import annotations

import uuid
from collections.abc import Collection, Iterator, Sequence
from contextlib import contextmanager
from dataclasses import dataclass, field, replace
from pathlib import Path

import psycopg

from sqlmig.core import connections
from sqlmig.core.config import LedgerLocation, Settings
from sqlmig.core.errors import DatabaseUnavailable, UsageError
from sqlmig.core.redact import redact, secrets_for
from sqlmig.migrations import ledger, repeatable, run, templates
from sqlmig.migrations.events import Sink
from sqlmig.migrations.files import Script, load_scripts
from sqlmig.migrations.plan import RepeatableEntry, State

PREFIX = "sqlmig_shadow_"


@dataclass(frozen=True)
class Shadow:
    """A throwaway database. ``dsn`` holds secrets; ``where`` is safe to print."""

    dsn: str = field(repr=False)
    name: str
    where: str  # "on --shadow-dsn's server", "on the target's server", "on the embedded server"


@dataclass(frozen=True)
class Track:
    """Another migration track of the target, with its own folder and ledger (the progress
    tables of ``sqlmig progress install``): the shadow gets the files it ran there, before
    the project's files (``first``) or after them, when the project's files made part
    of it (the track recorded those as baseline)."""

    directory: Path
    ledger: LedgerLocation
    versions: frozenset[int]
    first: bool = True


@contextmanager
def throwaway(settings: Settings, *, shadow_dsn: str | None = None) -> Iterator[Shadow]:
    """Create a uniquely named empty database, yield it, and always drop it."""
    name = PREFIX + uuid.uuid4().hex[:12]
    server, where = _server_for(settings, shadow_dsn, name)
    try:
        yield Shadow(connections.with_database(server, name), name, where)
    finally:
        connections.drop_database(server, name)


def applied_versions(settings: Settings) -> set[int]:
    """The versions the target's ledger shows applied (read only)."""
    with connections.connect(settings) as conn:
        return {row.version for row in ledger.read(conn, settings.ledger) if row.success}


def applied_repeatables(settings: Settings) -> set[str]:
    """The repeatables the target has run to a commit at least once (read only)."""
    with connections.connect(settings) as conn:
        return {r.name for r in repeatable.read(conn, settings.ledger) if r.checksum is not None}


def build(
    settings: Settings,
    db: Shadow,
    versions: Collection[int] | None = None,
    repeatable_names: Collection[str] = (),
    *,
    sink: Sink | None = None,
    tracks: Sequence[Track] = (),
) -> list[Script]:
    """Apply the files of ``versions`` (None: every file) to ``db``, in version order,
    then the repeatables named (with ``versions`` None: every one), in name order;
    ``tracks`` before or after them. Returns the project's files that were applied.

    Repeatables run as their files are now, like the versioned files.

    Raises what ``apply`` raises (MigrationFailed with file:line:col) when a file
    fails there; ScriptError when an applied version has no file any more.
    """
    for track in (t for t in tracks if t.first):
        build(replace(settings, directory=track.directory, ledger=track.ledger), db, track.versions)
    scripts = load_scripts(settings.directory)
    reps = repeatable.load(settings.directory, scripts)
    if versions is not None:
        reps = [r for r in reps if r.name in set(repeatable_names)]
        missing = sorted(set(versions) - {s.version for s in scripts})
        if missing:
            raise UsageError(
                f"the target's ledger shows version(s) {', '.join(map(str, missing))} applied, "
                "but no migration file has them: the shadow database cannot be built from the "
                "files. Restore the files (`sqlmig verify` lists them)."
            )
        scripts = [s for s in scripts if s.version in set(versions)]
    shadow_settings = replace(settings, dsn=db.dsn, dsn_source="shadow database", notify=None)
    with (
        connections.connect(shadow_settings) as conn,
        ledger.locked(conn, shadow_settings.ledger, 0),
    ):
        loc = shadow_settings.ledger
        rendered = templates.render([*scripts, *reps], settings.variables)
        steps = run.apply_steps(conn, loc, rendered[: len(scripts)])
        steps += run.repeatable_steps(
            loc,
            [
                RepeatableEntry(r.name, State.PENDING, r, None)
                for r in rendered[len(scripts) :]
                if isinstance(r, repeatable.Repeatable)
            ],
        )
        prepared = run.prepare(steps)
        ledger.ensure(conn, loc)
        if reps:
            repeatable.ensure(conn, loc)
        run.run(conn, shadow_settings, steps, prepared, sink=sink)
    for track in (t for t in tracks if not t.first):
        build(replace(settings, directory=track.directory, ledger=track.ledger), db, track.versions)
    return scripts


def _server_for(settings: Settings, shadow_dsn: str | None, name: str) -> tuple[str, str]:
    """Create ``name`` where the rules say; returns (a DSN of that server, where)."""
    if shadow_dsn:
        try:
            connections.create_database(shadow_dsn, name)
        except psycopg.OperationalError as exc:
            reason = redact(str(exc).strip().splitlines()[0], secrets_for(shadow_dsn))
            raise DatabaseUnavailable(
                f"cannot create the shadow database on --shadow-dsn's server: {reason}. "
                "Check that DSN (a server where this role may CREATE DATABASE), or leave "
                "--shadow-dsn out to use the target's server or the embedded one."
            ) from None
        return shadow_dsn, "on --shadow-dsn's server"
    if settings.dsn is not None:
        target = connections.target_dsn(settings)
        try:
            connections.create_database(target, name)
            return target, "on the target's server"
        except psycopg.errors.InsufficientPrivilege:
            pass  # the role may not CREATE DATABASE: fall back to the embedded server
    if not settings.embedded:
        raise UsageError(
            "no place for the shadow database: the target's role may not CREATE DATABASE and "
            "the embedded server is off; pass --shadow-dsn (a server where sqlmig may create "
            "and drop a database)."
        )
    server = connections.embedded_server(settings.project_root).url
    connections.create_database(server, name)
    return server, "on the embedded server"
