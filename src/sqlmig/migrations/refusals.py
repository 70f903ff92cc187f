"""Why a plan is refused: modified, missing, failed and out-of-order files, with diffs.

Used by ``apply`` and ``rollback`` (refuse before anything runs) and ``verify``
(report). Each reason says what to do next.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import TYPE_CHECKING

from sqlmig.core.errors import PlanRefused
from sqlmig.migrations import ledger
from sqlmig.migrations.plan import Entry, Plan, State

if TYPE_CHECKING:
    from psycopg import Connection as _Connection

    from sqlmig.core.config import LedgerLocation

    Connection = _Connection[tuple[object, ...]]


@dataclass(frozen=True)
class Refusal:
    """One reason a plan is refused, with a diff for modified files."""

    entry: Entry
    reason: str
    diff: str = ""


def refuse(conn: Connection, loc: LedgerLocation, plan: Plan, out_of_order: bool) -> None:
    blockers = plan.blockers(out_of_order=out_of_order)
    if blockers:
        raise PlanRefused(refusal_text(refusals(conn, loc, blockers), "apply"))


def refusals(conn: Connection, loc: LedgerLocation, entries: list[Entry]) -> list[Refusal]:
    modified = [e.version for e in entries if e.state is State.MODIFIED]
    texts = ledger.applied_texts(conn, loc, modified)
    out = []
    for e in entries:
        applied_at = f"{e.row.applied_at:%Y-%m-%d %H:%M:%S}" if e.row else ""
        if e.state is State.MODIFIED and e.script is not None:
            from sqlmig.migrations.datafile import stored_text
            from sqlmig.migrations.diffs import unified

            # As the ledger keeps it: a large data file's rows as marker lines.
            diff = unified(texts.get(e.version, ""), stored_text(e.script.up), e.filename)
            out.append(Refusal(e, f"changed since it was applied at {applied_at}", diff))
        elif e.state is State.MISSING:
            out.append(Refusal(e, f"applied at {applied_at}, but the file is gone"))
        elif e.state is State.FAILED:
            out.append(
                Refusal(e, f"failed at {applied_at} (a no-transaction file, partly applied)")
            )
        elif e.state is State.OUT_OF_ORDER:
            out.append(
                Refusal(
                    e,
                    "not applied, but a later version is (a merged branch?); "
                    "renumber it, or apply with --out-of-order",
                )
            )
    return out


def refusal_text(refusals: list[Refusal], action: str) -> str:
    lines = [f"refusing to {action}: the ledger and the migration files disagree."]
    for r in refusals:
        lines.append(f"  {r.entry.state.value:<12} {r.entry.filename}: {r.reason}")
        if r.diff:
            lines.extend("    " + line for line in r.diff.rstrip("\n").split("\n"))
    states = {r.entry.state for r in refusals}
    if states & {State.MODIFIED, State.MISSING}:
        lines.append(
            "Applied migrations are history: restore them (e.g. `git checkout -- <file>`) and "
            "put changes in a new migration; or, once reviewed, `sqlmig repair` accepts the "
            "files as they are now."
        )
    if State.FAILED in states:
        lines.append(
            "A failed no-transaction migration may have left part of its work: finish or undo "
            "it by hand, then `sqlmig repair` lets it run again."
        )
    return "\n".join(lines)
