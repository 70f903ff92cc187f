"""The library API behind ``sqlmig drift``: the migration files vs a live database.

applied versions (the target's ledger; --all: every file)
  ─▶ migrations.shadow: a throwaway database built from those files
  ─▶ catalog.snapshot of the shadow and of the target (the same code, both sides)
  ─▶ compare.compare ─▶ DriftReport (one line per difference)
"""

from __future__ import annotations

import time
from collections.abc import Sequence
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass, field, replace
from typing import Any

from psycopg import sql

from sqlmig.core import connections
from sqlmig.core.config import Settings
from sqlmig.migrations import shadow
from sqlmig.schemadiff import catalog
from sqlmig.schemadiff.compare import Difference, Unsupported, compare, unsupported_in_both


@dataclass(frozen=True)
class DriftReport:
    differences: list[Difference]
    #: Objects of unsupported kinds present in both databases (not compared).
    unsupported: list[Unsupported]
    #: The versions the shadow database was built from.
    versions: list[int]
    #: Where the shadow database was (safe to print).
    shadow: str
    expected_major: int
    actual_major: int
    #: Seconds per step: build (the shadow), introspect (both sides), compare, total.
    timings: dict[str, float] = field(default_factory=dict)

    @property
    def ok(self) -> bool:
        return not self.differences

    def as_dict(self) -> dict[str, Any]:
        return {
            "ok": self.ok,
            "differences": [d.as_dict() for d in self.differences],
            "unsupported": [u.as_dict() for u in self.unsupported],
            "versions": self.versions,
            "shadow": self.shadow,
            "servers": {"files": self.expected_major, "database": self.actual_major},
        }


def drift(
    settings: Settings,
    *,
    against: str | None = None,
    all_files: bool = False,
    shadow_dsn: str | None = None,
    grants: bool = False,
    tracks: Sequence[shadow.Track] = (),
) -> DriftReport:
    """Compare the schema the migration files build with the live one.

    ``against``: compare with that database instead of the target (its ledger
    says which files are applied). ``all_files``: build from every file, not
    only the applied ones. ``shadow_dsn``: the server for the throwaway
    database. ``grants``: also compare privileges. ``tracks``: other migration tracks the
    target has, built into the shadow too (``progress.install.shadow_tracks``). The
    target is only read.
    """
    started = time.perf_counter()
    if against:
        settings = replace(settings, dsn=against, dsn_source="--against")
    versions = None if all_files else shadow.applied_versions(settings)
    names = () if all_files else shadow.applied_repeatables(settings)
    with ThreadPoolExecutor(1) as pool, shadow.throwaway(settings, shadow_dsn=shadow_dsn) as db:
        # The target is read while the shadow is built: it is off the critical path.
        live = pool.submit(_read, settings, grants)
        _quick_commits(db)
        built_at = time.perf_counter()
        scripts = shadow.build(settings, db, versions, names, tracks=tracks)
        build_s = time.perf_counter() - built_at
        read_at = time.perf_counter()
        quiet = replace(settings, dsn=db.dsn, dsn_source="shadow database", notify=None)
        expected = _read(quiet, grants)
        introspect_s = time.perf_counter() - read_at
        actual = live.result()
    compared_at = time.perf_counter()
    differences = compare(expected, actual)
    done = time.perf_counter()
    return DriftReport(
        differences=differences,
        unsupported=unsupported_in_both(expected, actual),
        versions=[s.version for s in scripts],
        shadow=db.where,
        expected_major=expected.server_major,
        actual_major=actual.server_major,
        timings={
            "build_s": build_s,
            "introspect_s": introspect_s,  # the shadow's; the target's overlaps the build
            "compare_s": done - compared_at,
            "total_s": done - started,
        },
    )


def _read(settings: Settings, grants: bool) -> catalog.Snapshot:
    with connections.connect(settings) as conn:
        return catalog.snapshot(conn, grants=grants, ledger=settings.ledger)


def _quick_commits(db: shadow.Shadow) -> None:
    """The throwaway database need not wait for its WAL at each file's commit."""
    with connections.open_connection(db.dsn) as conn:
        conn.execute(
            sql.SQL("ALTER DATABASE {} SET synchronous_commit = off").format(
                sql.Identifier(db.name)
            )
        )
