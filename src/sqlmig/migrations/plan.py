"""Files + ledger rows -> a plan: the state of every migration, what to run, what blocks.

Pure code: no database, no I/O. States:

    applied       in the ledger, file unchanged
    pending       not in the ledger, version above every applied one
    out-of-order  not in the ledger, version below the highest applied one
    modified      in the ledger, file text changed since it ran
    missing       in the ledger, file gone
    failed        ledger says it failed (a no-transaction file): repair first

Repeatable migrations (``R-<name>.sql``) have their own entries, in name order:
pending (never ran), applied, modified (changed since it last ran: it runs
again, that is its point), failed (its last run failed: it runs again),
missing (file gone; informational). They run after the versioned ones, and
only when the run leaves no versioned migration pending (Flyway's rule): with
``--target`` below the newest file they wait.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from enum import StrEnum

from sqlmig.migrations.files import Script
from sqlmig.migrations.ledger import LedgerRow
from sqlmig.migrations.repeatable import Repeatable, RepeatableRow


class State(StrEnum):
    APPLIED = "applied"
    PENDING = "pending"
    OUT_OF_ORDER = "out-of-order"
    MODIFIED = "modified"
    MISSING = "missing"
    FAILED = "failed"


#: States that stop ``apply`` (out-of-order only without ``--out-of-order``).
BLOCKING = frozenset({State.MODIFIED, State.MISSING, State.FAILED})


@dataclass(frozen=True)
class Entry:
    version: int
    name: str
    state: State
    script: Script | None
    row: LedgerRow | None

    @property
    def filename(self) -> str:
        return self.script.filename if self.script else f"{self.version}-{self.name}.sql"


@dataclass(frozen=True)
class RepeatableEntry:
    name: str
    state: State  # applied, pending, modified, failed or missing
    repeatable: Repeatable | None
    row: RepeatableRow | None

    @property
    def filename(self) -> str:
        return self.repeatable.filename if self.repeatable else f"R-{self.name}.sql"


#: Repeatable states that make ``apply`` run the file.
RERUN = frozenset({State.PENDING, State.MODIFIED, State.FAILED})


@dataclass(frozen=True)
class Plan:
    entries: tuple[Entry, ...]
    target: int | None = None
    repeatables: tuple[RepeatableEntry, ...] = ()

    def by_state(self, *states: State) -> list[Entry]:
        return [e for e in self.entries if e.state in states]

    def blockers(self, *, out_of_order: bool = False) -> list[Entry]:
        """Entries that forbid applying anything, in version order."""
        blocking = BLOCKING if out_of_order else BLOCKING | {State.OUT_OF_ORDER}
        return [e for e in self.entries if e.state in blocking and self._in_scope(e)]

    def to_apply(self) -> list[Script]:
        """Pending (and out-of-order) scripts up to the target, in version order."""
        return [
            e.script
            for e in self.entries
            if e.state in (State.PENDING, State.OUT_OF_ORDER)
            and e.script is not None
            and self._in_scope(e)
        ]

    def repeatables_to_run(self) -> list[RepeatableEntry]:
        """New, changed and failed repeatables, in name order; none while this run
        leaves a versioned migration pending (``--target``)."""
        waiting = self.by_state(State.PENDING, State.OUT_OF_ORDER)
        if len(self.to_apply()) < len(waiting):
            return []
        return [e for e in self.repeatables if e.state in RERUN and e.repeatable is not None]

    def repeatable_counts(self) -> dict[str, int]:
        return {s.value: n for s in State if (n := sum(e.state is s for e in self.repeatables))}

    def counts(self) -> dict[str, int]:
        return {s.value: sum(1 for e in self.entries if e.state is s) for s in State}

    def _in_scope(self, entry: Entry) -> bool:
        # Out-of-order files above the target are not this run's business;
        # modified/missing/failed always are: the ledger no longer matches.
        if entry.state in BLOCKING:
            return True
        return self.target is None or entry.version <= self.target


def build_plan(
    scripts: Sequence[Script],
    rows: Sequence[LedgerRow],
    *,
    target: int | None = None,
    repeatables: Sequence[Repeatable] = (),
    repeatable_rows: Sequence[RepeatableRow] = (),
) -> Plan:
    files = {s.version: s for s in scripts}
    ledger = {r.version: r for r in rows}
    highest_applied = max((r.version for r in rows if r.success), default=None)
    entries: list[Entry] = []
    for version in sorted(files.keys() | ledger.keys()):
        script, row = files.get(version), ledger.get(version)
        if row is None:
            assert script is not None
            late = highest_applied is not None and version < highest_applied
            state = State.OUT_OF_ORDER if late else State.PENDING
        elif not row.success:
            state = State.FAILED
        elif script is None:
            state = State.MISSING
        elif script.checksum != row.current_checksum:
            state = State.MODIFIED
        else:
            state = State.APPLIED
        name = script.name if script else row.name if row else ""
        entries.append(Entry(version, name, state, script, row))
    return Plan(tuple(entries), target, _repeatable_entries(repeatables, repeatable_rows))


def _repeatable_entries(
    repeatables: Sequence[Repeatable], rows: Sequence[RepeatableRow]
) -> tuple[RepeatableEntry, ...]:
    files = {r.name: r for r in repeatables}
    saved = {r.name: r for r in rows}
    entries = []
    for name in sorted(files.keys() | saved.keys()):
        rep, row = files.get(name), saved.get(name)
        if rep is None:
            state = State.MISSING
        elif row is None:
            state = State.PENDING
        elif not row.success:
            state = State.FAILED
        elif rep.checksum != row.checksum:
            state = State.MODIFIED
        else:
            state = State.APPLIED
        entries.append(RepeatableEntry(name, state, rep, row))
    return tuple(entries)
