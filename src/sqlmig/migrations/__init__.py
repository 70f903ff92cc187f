"""Migrations: plain-SQL files applied with checksums, a lock and one transaction per file.

    files.py ─▶ plan.py (+ ledger.py) ─▶ run.py ─▶ executor.py (statements.py) ─▶ ledger row
                                              └── events.py: what a run reports

The library API (:mod:`sqlmig.migrations.api`) is re-exported here, imported on
first use so that ``import sqlmig.migrations.files`` stays cheap::

    from sqlmig import migrations
    migrations.apply(settings)
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    from sqlmig.migrations.api import (
        ApplyResult,
        Refusal,
        apply,
        baseline,
        history_rows,
        new_script,
        repair,
        rollback,
        rollback_plan,
        status,
        verify,
    )

__all__ = [
    "ApplyResult",
    "Refusal",
    "apply",
    "baseline",
    "history_rows",
    "new_script",
    "repair",
    "rollback",
    "rollback_plan",
    "status",
    "verify",
]


def __getattr__(name: str) -> Any:
    if name in __all__:
        from sqlmig.migrations import api

        return getattr(api, name)
    raise AttributeError(f"module {__name__!r} has no attribute {name!r}")
