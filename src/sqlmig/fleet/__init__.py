"""Fleets: one command over many databases, in stages, with bounded concurrency.

    targets.py (pyproject, --targets FILE, a control query) ─▶ run.py (per target:
        sqlmig.migrations' apply / status / verify) ─▶ schedule.py (stages, --jobs,
        the per-server cap, --max-failures) ─▶ results per target

The library API is re-exported here, imported on first use::

    from sqlmig import fleet
    result = fleet.run_fleet("apply", fleet.load_fleet(settings), settings)
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    from sqlmig.fleet.run import FleetOptions, FleetResult, default_jobs, run_fleet
    from sqlmig.fleet.schedule import Outcome, TargetResult, assign_stages
    from sqlmig.fleet.targets import Fleet, FleetTarget, load_fleet

__all__ = [
    "Fleet",
    "FleetOptions",
    "FleetResult",
    "FleetTarget",
    "Outcome",
    "TargetResult",
    "assign_stages",
    "default_jobs",
    "load_fleet",
    "run_fleet",
]

_HOMES = {
    "FleetOptions": "run",
    "FleetResult": "run",
    "default_jobs": "run",
    "run_fleet": "run",
    "Outcome": "schedule",
    "TargetResult": "schedule",
    "assign_stages": "schedule",
    "Fleet": "targets",
    "FleetTarget": "targets",
    "load_fleet": "targets",
}


def __getattr__(name: str) -> Any:
    if name in _HOMES:
        import importlib

        return getattr(importlib.import_module(f"sqlmig.fleet.{_HOMES[name]}"), name)
    raise AttributeError(f"module {__name__!r} has no attribute {name!r}")
