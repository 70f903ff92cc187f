"""What the checks see: the run so far, the file so far, and the statement at hand."""

from __future__ import annotations

from dataclasses import dataclass, field


@dataclass
class RunState:
    """What earlier statements of this run (every file linted together) did."""

    #: Tables created in this run: nobody else can be using them yet.
    created: set[str] = field(default_factory=set)
    #: (table, column) pairs a validated ``CHECK (col IS NOT NULL)`` covers.
    proven_not_null: set[tuple[str, str]] = field(default_factory=set)
    #: NOT VALID checks waiting for VALIDATE: (table, constraint) -> columns.
    unvalidated: dict[tuple[str, str], set[str]] = field(default_factory=dict)

    def existing(self, table: str | None) -> bool:
        """A table this run did not create (a real, possibly busy, table)."""
        return table is not None and table not in self.created


@dataclass(frozen=True)
class Report:
    rule: str
    offset: int  # byte offset into the file's UTF-8 text (pglast's locations)
    message: str


@dataclass
class Context:
    """One file's pass: its settings so far and the findings of its statements."""

    run: RunState
    body: bytes
    transactional: bool
    mentions_lock_timeout: bool = False  # the text has the word at all
    lock_timeout: bool = False
    lock_timeout_reported: bool = False
    start: int = 0  # the current statement's byte offset
    end: int = 0
    reports: list[Report] = field(default_factory=list)

    def report(self, rule: str, location: int | None, message: str) -> None:
        """A finding at a node's location, or at the statement's start."""
        offset = self.start if location is None or location < 0 else location
        self.reports.append(Report(rule, offset, message))

    @property
    def text(self) -> str:
        """The current statement's text."""
        return self.body[self.start : self.end].decode("utf-8")
