"""What a migration run reports while it goes: the events a caller's sink receives.

Plain data, no database driver: the CLI renders them, other callers do what
they like (dbmate's injected ``Log io.Writer``).
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from typing import TYPE_CHECKING

if TYPE_CHECKING:
    from .scripts import Script


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


@dataclass(frozen=True)
class WaitingForLock:
    """Another runner holds the migration lock; this one waits up to ``timeout_s``."""

    timeout_s: float


Event = Started | Finished | WaitingForLock
Sink = Callable[[Event], None]
