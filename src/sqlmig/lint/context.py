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
    offset: int  # character offset into the file's text
    message: str


@dataclass
class Context:
    """One file's pass: its settings so far, the statement at hand, the findings."""

    run: RunState
    transactional: bool
    mentions_lock_timeout: bool = False  # the text has the word at all
    style: bool = False  # an opt-in style rule is enabled
    lock_timeout: bool = False
    lock_timeout_reported: bool = False
    start: int = 0  # the current statement's character offset in the file
    start_bytes: int = 0  # ... and its byte offset (parse-tree locations are bytes)
    text: str = ""  # the current statement's text
    reports: list[Report] = field(default_factory=list)

    def report(self, rule: str, location: int | None, message: str) -> None:
        """A finding at a parse-tree location (bytes into the file), else the statement's start."""
        if location is None or location < self.start_bytes:
            offset = 0
        elif self.text.isascii():
            offset = location - self.start_bytes
        else:
            head = self.text.encode("utf-8")[: location - self.start_bytes]
            offset = len(head.decode("utf-8", "ignore"))
        self.reports.append(Report(rule, self.start + offset, message))

    def report_at(self, rule: str, offset: int, message: str) -> None:
        """A finding at a character offset into the statement."""
        self.reports.append(Report(rule, self.start + offset, message))
