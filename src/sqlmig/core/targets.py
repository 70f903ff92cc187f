"""What connecting reports to the caller: the target it chose, and each failed attempt.

Plain data (no driver): the CLI renders these; ``Settings.notify`` carries them.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from pathlib import Path
from typing import Any


@dataclass(frozen=True)
class EmbeddedInfo:
    data_dir: Path
    major: str
    started: bool  # this command started it; it keeps running afterwards


@dataclass(frozen=True)
class Target:
    """Where a command connects. ``shown`` is safe to print; ``dsn`` is not."""

    dsn: str = field(repr=False)
    source: str  # "--dsn", "SQLMIG_DSN", ..., "embedded default"
    shown: str  # a URL without its password, or the embedded server's folder
    secrets: tuple[str, ...] = field(default=(), repr=False)
    embedded: EmbeddedInfo | None = None

    def as_json(self) -> dict[str, Any]:
        server = self.embedded
        return {
            "target": self.shown,
            "source": self.source,
            "embedded": None
            if server is None
            else {
                "data_dir": str(server.data_dir),
                "version": server.major,
                "started_now": server.started,
            },
        }


@dataclass(frozen=True)
class Retrying:
    """An attempt failed with something that may pass (the server is starting)."""

    attempt: int
    elapsed_s: float
    wait_s: float
    delay_s: float  # until the next attempt
    reason: str  # redacted, one line


Notice = Target | Retrying
