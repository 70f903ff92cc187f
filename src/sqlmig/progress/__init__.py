"""Live task progress: a reporter for pipelines, and an SSE server for browsers and terminals.

    pipeline ─▶ reporter.py ─▶ task_progress row + NOTIFY (one transaction)
                                   │
    server.py (threads) ◀─ app.py ◀─ hub.py: ONE LISTEN connection, fan-out ◀─┘
        │          ├── auth.py (token, cookie), web.py (HTTP errors, JSON, parsing)
        │          └── stream.py (SSE)  └── store.py: task SQL;  pool.py: its connections
        ▼
    EventSource (page.html) · ``sqlmig tasks watch`` (watch.py) · any SSE client
                                   events.py: the bytes on the wire (no driver needed)

The reporter API is re-exported here, imported on first use (so that
``import sqlmig.progress.events`` needs no database driver)::

    from sqlmig.progress import ProgressReporter, TaskCancelled
    from sqlmig.progress import ProgressBatcher  # many tasks' rows, a transaction per 100 ms

The demo episode is :mod:`sqlmig.progress.demo`.
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    from sqlmig.progress.batcher import ProgressBatcher, ProgressWriteError
    from sqlmig.progress.reporter import ProgressReporter, ReportError, TaskCancelled

__all__ = [
    "ProgressBatcher",
    "ProgressReporter",
    "ProgressWriteError",
    "ReportError",
    "TaskCancelled",
]


def __getattr__(name: str) -> Any:
    if name in ("ProgressBatcher", "ProgressWriteError"):
        from sqlmig.progress import batcher

        return getattr(batcher, name)
    if name in __all__:
        from sqlmig.progress import reporter

        return getattr(reporter, name)
    raise AttributeError(f"module {__name__!r} has no attribute {name!r}")
