"""What a migration run reports while it goes: the events a caller's sink receives.

Plain data, no database driver: the CLI renders them, other callers do what
they like (dbmate's injected ``Log io.Writer``).
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from typing import TYPE_CHECKING

if TYPE_CHECKING:
    from sqlmig.migrations.files import Script


@dataclass(frozen=True)
class Started:
    script: Script
    index: int
    total: int


@dataclass(frozen=True)
class Finished:
    script: Script
    index: int
    total: int
    execution_ms: int
    #: Rows loaded by the file's ``COPY ... FROM stdin`` blocks (None: it has none).
    rows: int | None = None


@dataclass(frozen=True)
class CopyRows:
    """A file's COPY rows so far, after each chunk sent (and each block's final count)."""

    script: Script
    rows: int


@dataclass(frozen=True)
class WaitingForLock:
    """Another runner holds the migration lock; this one waits up to ``timeout_s``."""

    timeout_s: float


@dataclass(frozen=True)
class StatementRan:
    """Verbose runs only (``statement_timing``): one statement of a file, timed."""

    script: Script
    line: int
    text: str
    execution_ms: int


@dataclass(frozen=True)
class ServerNotice:
    """A NOTICE/WARNING the server sent while a file ran (RAISE NOTICE, IF NOT EXISTS ...)."""

    script: Script
    severity: str
    message: str


Event = Started | Finished | WaitingForLock | StatementRan | ServerNotice | CopyRows
Sink = Callable[[Event], None]
