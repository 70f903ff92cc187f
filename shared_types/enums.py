"""Python mirrors of the enum types of the bundled reference schema (sql/init/01-enums.sql).

One ``(str, enum.Enum)`` class per PostgreSQL enum type, sorted by type name; member
names and values are the SQL labels, in the SQL order (tests/test_schema.py compares
them with pg_enum). The ``str`` mix-in keeps values usable wherever a string is
expected (JSON, query parameters); ``enum.StrEnum`` (ruff UP042) is not used because it
changes ``str()``/``format()`` of members, and these classes keep the plain
``(str, enum.Enum)`` behaviour.

``MemoryStatus`` is not an enum type in SQL: memories.status is TEXT with the CHECK
constraint memories_status_check (see sql/init/11-memories.sql), mirrored as a Literal.
"""

import enum
from typing import Literal, TypeAlias

__all__ = [
    "WAITING_HANDLE_STATUSES",
    "CommandStatus",
    "GenesisStage",
    "GenesisStatus",
    "HandleStatus",
    "MemoryStatus",
    "OutboxStatus",
    "TaskStatus",
]


class CommandStatus(str, enum.Enum):  # noqa: UP042
    """SQL type command_status: lifecycle of a command in command_inbox."""

    RECEIVED = "RECEIVED"
    PROCESSING = "PROCESSING"
    COMPLETED = "COMPLETED"
    FAILED = "FAILED"


class GenesisStage(str, enum.Enum):  # noqa: UP042
    """SQL type genesis_stage: stage a genesis session is at, in order."""

    CONCEPT_SELECTION = "CONCEPT_SELECTION"
    STORY_CONCEPTION = "STORY_CONCEPTION"
    WORLDVIEW = "WORLDVIEW"
    CHARACTERS = "CHARACTERS"
    PLOT_OUTLINE = "PLOT_OUTLINE"
    FINISHED = "FINISHED"


class GenesisStatus(str, enum.Enum):  # noqa: UP042
    """SQL type genesis_status: overall state of a genesis session."""

    IN_PROGRESS = "IN_PROGRESS"
    COMPLETED = "COMPLETED"
    ABANDONED = "ABANDONED"


class HandleStatus(str, enum.Enum):  # noqa: UP042
    """SQL type handle_status: state of a workflow resume handle.

    PENDING_PAUSE and PAUSED are the "waiting" states (see WAITING_HANDLE_STATUSES);
    RESUMED and EXPIRED are terminal.
    """

    PENDING_PAUSE = "PENDING_PAUSE"
    PAUSED = "PAUSED"
    RESUMED = "RESUMED"
    EXPIRED = "EXPIRED"


class OutboxStatus(str, enum.Enum):  # noqa: UP042
    """SQL type outbox_status: delivery state of an event_outbox message."""

    PENDING = "PENDING"
    SENT = "SENT"


class TaskStatus(str, enum.Enum):  # noqa: UP042
    """SQL type task_status: lifecycle of an asynchronous task."""

    PENDING = "PENDING"
    RUNNING = "RUNNING"
    COMPLETED = "COMPLETED"
    FAILED = "FAILED"
    CANCELLED = "CANCELLED"


WAITING_HANDLE_STATUSES: frozenset[HandleStatus] = frozenset(
    {HandleStatus.PENDING_PAUSE, HandleStatus.PAUSED}
)
"""Handle statuses that count as "waiting".

The predicate of the partial unique index uq_flow_resume_handles_correlation_waiting.
"""

MemoryStatus: TypeAlias = Literal["PENDING", "PROCESSING", "READY", "FAILED"]
"""Allowed values of memories.status (TEXT + CHECK memories_status_check, not an enum type)."""
