"""Enums of the bundled reference schema, and the value sets SQL expresses otherwise.

The enum classes are generated into :mod:`shared_types.models_db` (one StrEnum
per PostgreSQL enum type, members and values equal to the SQL labels, in SQL
order) and re-exported here. What lives only in this file is hand-written:

- ``WAITING_HANDLE_STATUSES``: the handle statuses the partial unique index
  ``uq_flow_resume_handles_correlation_waiting`` treats as waiting;
- ``MemoryStatus``: memories.status is TEXT with the CHECK constraint
  ``memories_status_check`` (sql/init/11-memories.sql), not an enum type, so
  the generated model types it ``str``; this Literal names the allowed values.
"""

from typing import Literal, TypeAlias

from shared_types.models_db import (
    CommandStatus,
    GenesisStage,
    GenesisStatus,
    HandleStatus,
    OutboxStatus,
    TaskStatus,
)

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

WAITING_HANDLE_STATUSES: frozenset[HandleStatus] = frozenset(
    {HandleStatus.PENDING_PAUSE, HandleStatus.PAUSED}
)
"""Handle statuses that count as "waiting" (the partial unique index's predicate)."""

MemoryStatus: TypeAlias = Literal["PENDING", "PROCESSING", "READY", "FAILED"]
"""Allowed values of memories.status (TEXT + CHECK memories_status_check)."""
