"""The demo pipeline: a MemStack-style episode that reports six stages (``sqlmig demo``).

Not part of the reporter API: it stands in for real work, so that the server,
the page and the terminal client can be seen (and tested) end to end. It also
writes the episode's ``memories`` row (``sqlmig progress install`` creates the table).
"""

from __future__ import annotations

import uuid
from collections.abc import Callable
from dataclasses import dataclass
from typing import TYPE_CHECKING
from uuid import UUID

from sqlmig.core.errors import SqlmigError
from sqlmig.progress import store
from sqlmig.progress.reporter import ProgressReporter, TaskCancelled

if TYPE_CHECKING:
    from sqlmig.progress.store import Connection


class TaskFailed(SqlmigError):
    """Raised by the demo pipeline on purpose (``--fail-at``), to show the error panel."""

    exit_code = 1


@dataclass(frozen=True)
class Stage:
    percent: float
    stage: str  # machine name (task_progress.stage)
    message: str  # what a person reads


EPISODE_STAGES: tuple[Stage, ...] = (
    Stage(10, "ingesting", "Starting ingestion"),
    Stage(20, "loading_schema", "Loading schema"),
    Stage(30, "extracting", "Extracting entities and relationships"),
    Stage(50, "syncing_schema", "Syncing schema"),
    Stage(75, "updating_communities", "Updating communities"),
    Stage(100, "completed", "Completed"),
)


def _create_memory(conn: Connection, project_id: UUID, title: str, task_id: UUID) -> UUID:
    row = conn.execute(
        "INSERT INTO memories (project_id, title, status, task_id)"
        " VALUES (%s, %s, 'PROCESSING', %s) RETURNING id",
        (project_id, title, task_id),
    ).fetchone()
    assert row is not None
    return UUID(str(row[0]))


def _set_memory_status(conn: Connection, memory_id: UUID, status: str) -> None:
    conn.execute("UPDATE memories SET status = %s WHERE id = %s", (status, memory_id))


def start_episode(
    conn: Connection, *, title: str = "Demo episode", project_id: UUID | None = None
) -> tuple[UUID, ProgressReporter]:
    """Create a memory and its PENDING task (linked both ways); returns (memory_id, reporter)."""
    project = project_id or uuid.uuid4()
    with conn.transaction():
        task_id = store.create_task(
            conn, "memory.episode", {"project_id": str(project), "title": title}
        )
        memory_id = _create_memory(conn, project, title, task_id)
    return memory_id, ProgressReporter(conn, task_id)


def run_episode(
    reporter: ProgressReporter,
    memory_id: UUID,
    *,
    delay_s: float = 1.0,
    fail_at: str | None = None,
    on_stage: Callable[[Stage], None] | None = None,
) -> None:
    """Run the six episode stages, ``delay_s`` apart (stand-ins for the real work).

    Cancellation stops it with :class:`TaskCancelled` (memory back to PENDING,
    so it can run again); a failure is recorded (memory FAILED) and re-raised.
    ``fail_at`` names a stage that raises :class:`TaskFailed`, to see a failure.
    """
    conn = reporter.conn
    try:
        for stage in EPISODE_STAGES:
            if fail_at == stage.stage:
                raise TaskFailed(f"{stage.message} failed: simulated failure (--fail-at).")
            if stage.percent < 100:
                reporter.report(stage.percent, stage.message, stage=stage.stage)
            else:
                with conn.transaction():
                    reporter.complete({"memory_id": str(memory_id)}, stage.message)
                    _set_memory_status(conn, memory_id, "READY")
            if on_stage:
                on_stage(stage)
            if stage.percent < 100:
                reporter.sleep(delay_s)
    except TaskCancelled:
        _set_memory_status(conn, memory_id, "PENDING")
        raise
    except Exception as exc:
        with conn.transaction():
            reporter.fail(exc)
            _set_memory_status(conn, memory_id, "FAILED")
        raise


def run_batch(
    conn: Connection,
    *,
    children: int = 5,
    delay_s: float = 0.5,
    fail_child: int | None = None,
    on_batch: Callable[[ProgressReporter], None] | None = None,
    on_child: Callable[[int, str], None] | None = None,
) -> ProgressReporter:
    """A batch import of ``children`` episodes (sizes 1, 2, 3 ...), run one after another.

    Each child reports the episode stages ``delay_s`` apart (without memories
    rows: the batch is about the roll-up). ``fail_child`` (1-based) fails that
    child on purpose; the others go on, so the batch ends FAILED. Cancelling
    the batch stops the run with :class:`TaskCancelled`.
    """
    batch = ProgressReporter.create_batch(
        conn, "memory.batch_import", input_data={"episodes": children}
    )
    reporters = batch.add_children(
        "memory.episode",
        [{"title": f"Episode {n}"} for n in range(1, children + 1)],
        sizes=[float(n) for n in range(1, children + 1)],
    )
    if on_batch:
        on_batch(batch)
    for n, child in enumerate(reporters, 1):
        try:
            for stage in EPISODE_STAGES[:-1]:
                if fail_child == n and stage.stage == "extracting":
                    raise TaskFailed(f"episode {n}: simulated failure (--fail-child).")
                child.report(stage.percent, stage.message, stage=stage.stage)
                child.sleep(delay_s)
            child.complete({"episode": n})
            outcome = "completed"
        except TaskFailed as exc:
            child.fail(exc)
            outcome = "failed"
        if on_child:
            on_child(n, outcome)
    return batch
