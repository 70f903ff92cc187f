"""Shared types of the bundled reference schema: enums and Pydantic row models.

Everything is re-exported here: ``from shared_types import AsyncTask, TaskStatus``.
"""

from shared_types.enums import (
    WAITING_HANDLE_STATUSES,
    CommandStatus,
    GenesisStage,
    GenesisStatus,
    HandleStatus,
    MemoryStatus,
    OutboxStatus,
    TaskStatus,
)
from shared_types.models_db import (
    AsyncTask,
    CommandInbox,
    DomainEvent,
    EventOutbox,
    FlowResumeHandle,
    GenesisSession,
    Memory,
    Novel,
    TaskBatch,
    TaskProgress,
)

__all__ = [
    "WAITING_HANDLE_STATUSES",
    "AsyncTask",
    "CommandInbox",
    "CommandStatus",
    "DomainEvent",
    "EventOutbox",
    "FlowResumeHandle",
    "GenesisSession",
    "GenesisStage",
    "GenesisStatus",
    "HandleStatus",
    "Memory",
    "MemoryStatus",
    "Novel",
    "OutboxStatus",
    "TaskBatch",
    "TaskProgress",
    "TaskStatus",
]
