"""Schema drift: the schema the migration files build vs a live database.

    api.drift ─▶ migrations.shadow (the files' schema) ─▶ catalog.snapshot (both sides;
        _tables, _code, _others: the catalog SQL) ─▶ compare.compare ─▶ one line each

The library API is re-exported here, imported on first use::

    from sqlmig import schemadiff
    report = schemadiff.drift(settings)

Two snapshots are compared with :func:`sqlmig.schemadiff.compare.compare`.
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    from sqlmig.schemadiff.api import DriftReport, drift
    from sqlmig.schemadiff.catalog import Snapshot, snapshot
    from sqlmig.schemadiff.compare import Difference, Unsupported

__all__ = [
    "Difference",
    "DriftReport",
    "Snapshot",
    "Unsupported",
    "drift",
    "snapshot",
]

_HOMES = {
    "DriftReport": "api",
    "drift": "api",
    "Snapshot": "catalog",
    "snapshot": "catalog",
    "Difference": "compare",
    "Unsupported": "compare",
}


def __getattr__(name: str) -> Any:
    if name in _HOMES:
        import importlib

        return getattr(importlib.import_module(f"sqlmig.schemadiff.{_HOMES[name]}"), name)
    raise AttributeError(f"module {__name__!r} has no attribute {name!r}")
