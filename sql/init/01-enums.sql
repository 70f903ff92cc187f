-- 01-enums.sql: enum types shared by the command, task, outbox, workflow and genesis tables.
--
-- Labels are UPPER_CASE and mirrored one to one (same names, same order) by the
-- Python enums in shared_types/enums.py.

CREATE TYPE command_status AS ENUM ('RECEIVED', 'PROCESSING', 'COMPLETED', 'FAILED');

COMMENT ON TYPE command_status IS
    'Lifecycle of a command in command_inbox: RECEIVED (stored, not yet picked up), '
    'PROCESSING (a handler is working on it), COMPLETED and FAILED (terminal).';

CREATE TYPE task_status AS ENUM ('PENDING', 'RUNNING', 'COMPLETED', 'FAILED', 'CANCELLED');

COMMENT ON TYPE task_status IS
    'Lifecycle of an asynchronous task (async_tasks, task_progress): PENDING (queued), '
    'RUNNING, and the terminal states COMPLETED, FAILED and CANCELLED.';

CREATE TYPE outbox_status AS ENUM ('PENDING', 'SENT');

COMMENT ON TYPE outbox_status IS
    'Delivery state of an event_outbox message: PENDING (still to be published to the broker) '
    'or SENT (published; sent_at is set).';

CREATE TYPE handle_status AS ENUM ('PENDING_PAUSE', 'PAUSED', 'RESUMED', 'EXPIRED');

COMMENT ON TYPE handle_status IS
    'State of a workflow resume handle (flow_resume_handles): PENDING_PAUSE (pause requested, '
    'the flow has not parked yet), PAUSED (the flow is parked waiting for the resume signal), '
    'RESUMED and EXPIRED (terminal). PENDING_PAUSE and PAUSED together are the "waiting" states.';

CREATE TYPE genesis_status AS ENUM ('IN_PROGRESS', 'COMPLETED', 'ABANDONED');

COMMENT ON TYPE genesis_status IS
    'Overall state of a creative genesis session: IN_PROGRESS, or the terminal states '
    'COMPLETED (all stages confirmed) and ABANDONED (given up by the user).';

CREATE TYPE genesis_stage AS ENUM (
    'CONCEPT_SELECTION',
    'STORY_CONCEPTION',
    'WORLDVIEW',
    'CHARACTERS',
    'PLOT_OUTLINE',
    'FINISHED'
);

COMMENT ON TYPE genesis_stage IS
    'Stage a genesis session is at, in the order the user goes through them: '
    'CONCEPT_SELECTION, STORY_CONCEPTION, WORLDVIEW, CHARACTERS, PLOT_OUTLINE, then FINISHED.';
