"""Plan states from files and ledger rows: pure, no database."""

from __future__ import annotations

from datetime import UTC, datetime
from pathlib import Path

from sqlmig.migrations.files import Script, SqlFile, checksum
from sqlmig.migrations.ledger import LedgerRow
from sqlmig.migrations.plan import State, build_plan


def script(version: int, text: str = "select 1;") -> Script:
    return Script(
        version, f"m{version}", SqlFile(Path(f"{version}-m{version}.sql"), text, checksum(text))
    )


def row(version: int, text: str = "select 1;", success: bool = True) -> LedgerRow:
    return LedgerRow(
        version, f"m{version}", checksum(text), datetime.now(UTC), "me", 1, success, "migration"
    )


def states(plan):
    return {e.version: e.state for e in plan.entries}


def test_every_state():
    plan = build_plan(
        [script(1), script(2, "changed"), script(3), script(5), script(7)],
        [row(1), row(2), row(4), row(5, success=False), row(6)],
    )
    assert states(plan) == {
        1: State.APPLIED,
        2: State.MODIFIED,
        3: State.OUT_OF_ORDER,
        4: State.MISSING,
        5: State.FAILED,
        6: State.MISSING,
        7: State.PENDING,
    }
    assert [e.version for e in plan.blockers()] == [2, 3, 4, 5, 6]
    assert [e.version for e in plan.blockers(out_of_order=True)] == [2, 4, 5, 6]


def test_target_limits_what_runs():
    plan = build_plan([script(1), script(2), script(3)], [row(1)], target=2)
    assert [s.version for s in plan.to_apply()] == [2]


def test_fresh_database_everything_pending_in_order():
    plan = build_plan([script(10), script(9)], [])
    assert [s.version for s in plan.to_apply()] == [9, 10]
    assert plan.counts()["pending"] == 2
