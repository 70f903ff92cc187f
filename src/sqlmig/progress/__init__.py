"""Live task progress: a reporter for pipelines, and an SSE server for browsers and terminals.

    pipeline ─▶ reporter.py ─▶ task_progress row + NOTIFY (one transaction)
                                   │
    server.py (threads) ◀─ app.py ◀─ hub.py: ONE LISTEN connection, fan-out ◀─┘
        │                     └── store.py: catch-up / task / list / cancel (a small pool)
        ▼
    EventSource (page.html) · ``sqlmig tasks watch`` (watch.py) · any SSE client
                                   events.py: the bytes on the wire

The reporter API is re-exported here::

    from sqlmig.progress import ProgressReporter, TaskCancelled
"""

from .reporter import (
    EPISODE_STAGES,
    ProgressReporter,
    ReportError,
    Stage,
    TaskCancelled,
    TaskFailed,
    run_episode,
    start_episode,
)

__all__ = [
    "EPISODE_STAGES",
    "ProgressReporter",
    "ReportError",
    "Stage",
    "TaskCancelled",
    "TaskFailed",
    "run_episode",
    "start_episode",
]
