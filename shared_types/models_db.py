"""Pydantic models of the tables of the bundled reference schema (sql/init).

One model per table, sorted by table name, fields in column order; a model mirrors a
row as read from the table: NOT NULL columns are required (even those with a server
default), nullable ones are ``X | None`` defaulting to None. Table comments are the
docstrings and column comments the field descriptions (kept equal to the database's
COMMENT ON text; tests/test_schema.py checks it).

Type mapping: uuid -> UUID, timestamptz -> AwareDatetime, numeric(p,s) -> Decimal with
max_digits/decimal_places, varchar(n) -> str with max_length, text -> str, integer and
bigint -> int, enum types -> the enums of shared_types.enums, jsonb -> dict[str, Any]
(every JSONB column of the schema holds a JSON object, enforced by a CHECK on
jsonb_typeof), memories.status (TEXT + CHECK) -> the MemoryStatus Literal.
"""

from decimal import Decimal
from typing import Any
from uuid import UUID

from pydantic import AwareDatetime, BaseModel, ConfigDict, Field

from shared_types.enums import (
    CommandStatus,
    GenesisStage,
    GenesisStatus,
    HandleStatus,
    MemoryStatus,
    OutboxStatus,
    TaskStatus,
)

__all__ = [
    "AsyncTask",
    "CommandInbox",
    "DomainEvent",
    "EventOutbox",
    "FlowResumeHandle",
    "GenesisSession",
    "Memory",
    "Novel",
    "TaskProgress",
]


class AsyncTask(BaseModel):
    """Background tasks (AI generation, extraction, indexing ...): status, progress, input, result
    or error, retries and timing of each task; task_progress holds its progress history.
    """

    model_config = ConfigDict(from_attributes=True)

    id: UUID = Field(description="Task id (random UUID).")
    task_type: str = Field(
        max_length=255,
        description="Kind of work, e.g. genesis.concept_generation; not blank.",
    )
    triggered_by_command_id: UUID | None = Field(
        default=None,
        description=(
            "Command that started the task; NULL when started otherwise or when that command was "
            "deleted."
        ),
    )
    status: TaskStatus = Field(
        description="PENDING, RUNNING, or terminal COMPLETED / FAILED / CANCELLED.",
    )
    progress: Decimal = Field(
        max_digits=5,
        decimal_places=2,
        description="Latest progress in percent, 0.00 to 100.00 (100 once COMPLETED).",
    )
    input_data: dict[str, Any] = Field(description="Task arguments (JSON object, {} when none).")
    result_data: dict[str, Any] | None = Field(
        default=None,
        description="Task result (JSON object); NULL until there is one.",
    )
    error_data: dict[str, Any] | None = Field(
        default=None,
        description=(
            "Error details such as type, message and traceback (JSON object); required when FAILED."
        ),
    )
    execution_node: str | None = Field(
        default=None,
        max_length=255,
        description="Worker or host that runs or ran the task; NULL while unassigned.",
    )
    retry_count: int = Field(description="Retries done so far; never above max_retries.")
    max_retries: int = Field(description="Retries allowed for this task (0 or more).")
    started_at: AwareDatetime | None = Field(
        default=None,
        description="When the task (last) started running; required when RUNNING or COMPLETED.",
    )
    completed_at: AwareDatetime | None = Field(
        default=None,
        description=(
            "When the task reached a terminal status; set exactly when COMPLETED, FAILED or "
            "CANCELLED."
        ),
    )
    created_at: AwareDatetime = Field(description="When the task was created.")
    updated_at: AwareDatetime = Field(
        description=(
            "When the row was last changed; maintained by trigger async_tasks_set_updated_at."
        ),
    )


class CommandInbox(BaseModel):
    """Inbox of commands sent by clients: guarantees idempotency (one row per idempotency key) and
    at most one unfinished command per (session, command type).
    """

    model_config = ConfigDict(from_attributes=True)

    id: UUID = Field(
        description="Command id (random UUID); async tasks refer to it as their trigger.",
    )
    session_id: UUID = Field(
        description="Session the command belongs to (e.g. a genesis session or a client session).",
    )
    command_type: str = Field(
        max_length=255,
        description="Command name, e.g. RequestConceptGeneration; not blank.",
    )
    idempotency_key: str = Field(
        max_length=255,
        description=(
            "Client-chosen key; a repeated request with the same key finds the existing row "
            "instead of creating a new one."
        ),
    )
    payload: dict[str, Any] = Field(description="Command arguments (JSON object).")
    status: CommandStatus = Field(
        description="RECEIVED, PROCESSING, or terminal COMPLETED / FAILED.",
    )
    error_message: str | None = Field(
        default=None,
        description="Why processing failed; required when status is FAILED.",
    )
    retry_count: int = Field(description="How many times processing was retried (0 or more).")
    created_at: AwareDatetime = Field(description="When the command was received.")
    updated_at: AwareDatetime = Field(
        description=(
            "When the row was last changed; maintained by trigger command_inbox_set_updated_at."
        ),
    )


class DomainEvent(BaseModel):
    """Append-only event store and single source of truth for business events; UPDATE and DELETE
    are rejected by trigger domain_events_append_only.
    """

    model_config = ConfigDict(from_attributes=True)

    event_id: UUID = Field(
        description="Unique id of the event (random UUID); consumers use it to de-duplicate.",
    )
    correlation_id: UUID | None = Field(
        default=None,
        description=(
            "Id shared by every event and command of one business flow (e.g. the originating "
            "command); NULL when unknown."
        ),
    )
    causation_id: UUID | None = Field(
        default=None,
        description=(
            "Id of the event or command that directly caused this event; NULL for a flow's first "
            "event."
        ),
    )
    event_type: str = Field(
        max_length=255,
        description="Event name, e.g. Genesis.Session.Started; not blank.",
    )
    event_version: int = Field(
        description="Schema version of the event type's payload (starts at 1).",
    )
    aggregate_type: str = Field(
        max_length=255,
        description="Type of the aggregate the event belongs to, e.g. novel or genesis_session.",
    )
    aggregate_id: UUID = Field(description="Id of the aggregate the event belongs to.")
    payload: dict[str, Any] = Field(description="Event data (JSON object).")
    metadata: dict[str, Any] = Field(
        description="Technical context such as user id, source service or trace ids (JSON object).",
    )
    created_at: AwareDatetime = Field(
        description=(
            "When the event was appended (clock_timestamp(): increasing within a transaction)."
        ),
    )


class EventOutbox(BaseModel):
    """Transactional outbox: messages written atomically with the state change that produced them,
    then published to the broker by a relay that marks them SENT.
    """

    model_config = ConfigDict(from_attributes=True)

    id: UUID = Field(description="Message id (random UUID).")
    topic: str = Field(max_length=255, description="Broker topic to publish to; not blank.")
    key: str | None = Field(
        default=None,
        max_length=255,
        description="Message key given to the broker (e.g. the aggregate id); NULL for none.",
    )
    partition_key: str | None = Field(
        default=None,
        max_length=255,
        description=(
            "Explicit partitioning key when it differs from key; NULL to let the broker use key."
        ),
    )
    payload: dict[str, Any] = Field(description="Message body (JSON object).")
    headers: dict[str, Any] = Field(
        description=(
            "Message headers such as event type, correlation id, trace ids (JSON object, {} when "
            "none)."
        ),
    )
    status: OutboxStatus = Field(description="PENDING until published, then SENT.")
    retry_count: int = Field(description="Failed publish attempts so far; never above max_retries.")
    max_retries: int = Field(
        description="Publish attempts allowed before the message needs an operator.",
    )
    last_error: str | None = Field(
        default=None,
        description="Error of the last failed publish attempt; NULL when none failed.",
    )
    scheduled_at: AwareDatetime = Field(
        description="Earliest time to publish (now by default; later for a retry back-off).",
    )
    sent_at: AwareDatetime | None = Field(
        default=None,
        description="When the message was published; set exactly when status is SENT.",
    )
    created_at: AwareDatetime = Field(description="When the message was written.")


class FlowResumeHandle(BaseModel):
    """Resume handles of paused workflow runs: what the orchestrator needs to resume a flow run
    waiting for an answer, looked up by correlation id.
    """

    model_config = ConfigDict(from_attributes=True)

    id: UUID = Field(description="Handle id (random UUID).")
    correlation_id: UUID = Field(
        description=(
            "Business id the answer will carry (e.g. the command or session id); unique among "
            "waiting handles."
        ),
    )
    flow_run_id: str = Field(max_length=255, description="Orchestrator id of the paused flow run.")
    task_name: str = Field(max_length=255, description="Name of the flow step that waits.")
    resume_handle: dict[str, Any] = Field(
        description="Opaque data the orchestrator needs to resume the run (JSON object).",
    )
    resume_payload: dict[str, Any] | None = Field(
        default=None,
        description=(
            "Answer the run was (or will be) resumed with (JSON object); NULL until it arrives."
        ),
    )
    status: HandleStatus = Field(
        description="PENDING_PAUSE and PAUSED (waiting), or terminal RESUMED / EXPIRED.",
    )
    timeout_seconds: int | None = Field(
        default=None,
        description="How long the step is willing to wait, in seconds; NULL for no timeout.",
    )
    context_data: dict[str, Any] = Field(
        description=(
            "Extra context for whoever answers, e.g. the question shown to the user (JSON object)."
        ),
    )
    expires_at: AwareDatetime | None = Field(
        default=None,
        description="When the handle stops being valid; NULL for never. Required once EXPIRED.",
    )
    resumed_at: AwareDatetime | None = Field(
        default=None,
        description="When the run was resumed; set exactly when status is RESUMED.",
    )
    created_at: AwareDatetime = Field(description="When the handle was registered.")
    updated_at: AwareDatetime = Field(
        description=(
            "When the row was last changed; maintained by trigger "
            "flow_resume_handles_set_updated_at."
        ),
    )


class GenesisSession(BaseModel):
    """Creative genesis sessions: the staged dialogue (concept, story, worldview, characters, plot
    outline) in which a user sets up a novel. One row per session.
    """

    model_config = ConfigDict(from_attributes=True)

    id: UUID = Field(description="Session id (random UUID).")
    novel_id: UUID = Field(
        description="Novel this session sets up; sessions are deleted with their novel.",
    )
    user_id: UUID = Field(
        description=(
            "User who runs the session (id from the identity service; no local users table)."
        ),
    )
    status: GenesisStatus = Field(description="IN_PROGRESS, or terminal COMPLETED / ABANDONED.")
    current_stage: GenesisStage = Field(
        description="Stage the session is at; FINISHED only once COMPLETED.",
    )
    initial_input: dict[str, Any] = Field(
        description="What the user gave when starting the session (JSON object, {} when nothing).",
    )
    final_settings: dict[str, Any] | None = Field(
        default=None,
        description=(
            "Settings confirmed at the end of the session (JSON object); required once COMPLETED, "
            "NULL before."
        ),
    )
    finished_at: AwareDatetime | None = Field(
        default=None,
        description=(
            "When the session reached a terminal status (COMPLETED or ABANDONED); NULL while "
            "IN_PROGRESS."
        ),
    )
    created_at: AwareDatetime = Field(description="When the session was started.")
    updated_at: AwareDatetime = Field(
        description=(
            "When the row was last changed; maintained by trigger genesis_sessions_set_updated_at."
        ),
    )


class Memory(BaseModel):
    """Memories (episodes) built by the memory pipeline for a project; each one is processed by an
    async task whose progress is streamed to browsers (see task_progress).
    """

    model_config = ConfigDict(from_attributes=True)

    id: UUID = Field(description="Memory id (random UUID).")
    project_id: UUID = Field(description="Project (e.g. novel) the memory belongs to.")
    title: str = Field(description="Short title of the memory; not blank.")
    content: str = Field(
        description="Text of the memory; empty until the pipeline has produced it.",
    )
    status: MemoryStatus = Field(
        description=(
            "Pipeline state: PENDING (queued), PROCESSING, READY (content usable) or FAILED; a "
            "TEXT column checked by memories_status_check."
        ),
    )
    created_at: AwareDatetime = Field(description="When the memory was created.")
    updated_at: AwareDatetime = Field(
        description="When the row was last changed; maintained by trigger memories_set_updated_at.",
    )
    task_id: UUID | None = Field(
        default=None,
        description=(
            "Async task that processes (or last processed) this memory; its progress is in "
            "task_progress. NULL when there is none or the task was deleted."
        ),
    )


class Novel(BaseModel):
    """Core novel aggregate (kept minimal here): one row per novel; genesis sessions and domain
    events refer to it by id.
    """

    model_config = ConfigDict(from_attributes=True)

    id: UUID = Field(description="Novel id (random UUID).")
    title: str = Field(max_length=255, description="Working title shown to the author; not blank.")
    created_at: AwareDatetime = Field(description="When the novel row was created.")
    updated_at: AwareDatetime = Field(
        description="When the row was last changed; maintained by trigger novels_set_updated_at.",
    )


class TaskProgress(BaseModel):
    """Append-only progress history of async tasks (one row per progress report); each insert is
    announced with NOTIFY on channel task_progress for live streaming.
    """

    model_config = ConfigDict(from_attributes=True)

    id: int = Field(description="Row id (identity); global insertion order.")
    task_id: UUID = Field(description="Task reported on; rows are deleted with their task.")
    seq: int = Field(
        description=(
            "Per-task sequence number starting at 1, unique per task; the SSE event id. Assigned "
            "as max(seq) + 1 when inserted as NULL."
        ),
    )
    status: TaskStatus = Field(description="Task status at the time of the report.")
    percent: Decimal = Field(
        max_digits=5,
        decimal_places=2,
        description="Progress in percent, 0.00 to 100.00.",
    )
    stage: str | None = Field(
        default=None,
        description=(
            "Short machine name of the current step, e.g. extracting (lower case, at most 64 "
            "characters); NULL when not staged."
        ),
    )
    message: str = Field(description="Human-readable progress message; empty string when none.")
    data: dict[str, Any] | None = Field(
        default=None,
        description="Structured extra data for the client (JSON object); NULL when none.",
    )
    created_at: AwareDatetime = Field(
        description=(
            "When the row was inserted (clock_timestamp(): increasing within a transaction)."
        ),
    )
