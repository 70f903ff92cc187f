"""The bundled reference schema (sql/init) and its Pydantic models (shared_types).

Every constraint is proven against a real server (each test gets a fresh database with
sql/init applied: the ``init_dsn`` fixture), on every server of the run (PostgreSQL 18
and 15). The models are checked against the catalog (names, order, nullability, types,
comments) and round-tripped through every table.
"""

from __future__ import annotations

import datetime as dt
import json
import re
import typing
import uuid
from collections.abc import Callable, Iterator
from decimal import Decimal
from pathlib import Path
from typing import Any

import psycopg
import pytest
from psycopg import errors, sql
from psycopg.rows import DictRow, dict_row
from psycopg.types.json import JsonbDumper
from pydantic import BaseModel, ValidationError
from pydantic.fields import FieldInfo

import shared_types
from shared_types import (
    WAITING_HANDLE_STATUSES,
    AsyncTask,
    CommandInbox,
    CommandStatus,
    DomainEvent,
    EventOutbox,
    FlowResumeHandle,
    GenesisSession,
    GenesisStage,
    GenesisStatus,
    HandleStatus,
    Memory,
    MemoryStatus,
    Novel,
    OutboxStatus,
    TaskBatch,
    TaskProgress,
    TaskStatus,
)

INIT_DIR = Path(__file__).resolve().parents[2] / "sql" / "init"

EXPECTED_FILES = [
    "00-init.sql",
    "01-enums.sql",
    "02-novels.sql",
    "03-append-only.sql",
    "04-genesis.sql",
    "05-domain-events.sql",
    "06-command-inbox.sql",
    "07-async-tasks.sql",
    "08-event-outbox.sql",
    "09-flow-resume-handles.sql",
    "10-indexes.sql",
    "11-memories.sql",
    "12-memories-task-id.sql",
    "13-task-progress.sql",
    "14-task-batches.sql",
    "15-task-progress-eta-probe.sql",
]
#: Every up file has its down file (rollback to 0 undoes the schema: test_down.py).
DOWN_FILES = [name.removesuffix(".sql") + ".down.sql" for name in EXPECTED_FILES]

MODELS: dict[str, type[BaseModel]] = {
    "async_tasks": AsyncTask,
    "command_inbox": CommandInbox,
    "domain_events": DomainEvent,
    "event_outbox": EventOutbox,
    "flow_resume_handles": FlowResumeHandle,
    "genesis_sessions": GenesisSession,
    "memories": Memory,
    "novels": Novel,
    "task_batches": TaskBatch,
    "task_progress": TaskProgress,
}

ENUMS: dict[str, type[Any]] = {
    "command_status": CommandStatus,
    "genesis_stage": GenesisStage,
    "genesis_status": GenesisStatus,
    "handle_status": HandleStatus,
    "outbox_status": OutboxStatus,
    "task_status": TaskStatus,
}

TABLES_WITH_UPDATED_AT = [
    "async_tasks",
    "command_inbox",
    "flow_resume_handles",
    "genesis_sessions",
    "memories",
    "novels",
]

PAST = dt.datetime(2000, 1, 1, tzinfo=dt.UTC)

#: The runner's own ledger table; not part of the reference schema.
LEDGER = "schema_migrations"
# sqlmig's own tables (the ledger and its history) are not the bundled schema's.
SQLMIG_TABLES = [LEDGER, f"{LEDGER}_history", f"{LEDGER}_history_id_seq"]

Row = dict[str, Any]
Conn = psycopg.Connection[DictRow]


# --------------------------------------------------------------------------- helpers


@pytest.fixture
def conn(init_dsn: str) -> Iterator[Conn]:
    """Autocommit connection to a fresh sql/init database; dicts are sent as jsonb."""
    with psycopg.connect(init_dsn, autocommit=True, row_factory=dict_row) as c:
        c.adapters.register_dumper(dict, JsonbDumper)
        yield c


def insert(conn: Conn, table: str, **values: Any) -> Row:
    query = sql.SQL("INSERT INTO {} ({}) VALUES ({}) RETURNING *").format(
        sql.Identifier(table),
        sql.SQL(", ").join(map(sql.Identifier, values)),
        sql.SQL(", ").join(sql.Placeholder() * len(values)),
    )
    row = conn.execute(query, list(values.values())).fetchone()
    assert row is not None
    return dict(row)


def fetch(conn: Conn, table: str, key: str, value: object) -> Row:
    query = sql.SQL("SELECT * FROM {} WHERE {} = %s").format(
        sql.Identifier(table), sql.Identifier(key)
    )
    row = conn.execute(query, [value]).fetchone()
    assert row is not None
    return dict(row)


def new_novel(conn: Conn, **kw: Any) -> Row:
    return insert(conn, "novels", **{"title": "The Long Night", **kw})


def new_genesis(conn: Conn, **kw: Any) -> Row:
    if "novel_id" not in kw:
        kw["novel_id"] = new_novel(conn)["id"]
    return insert(conn, "genesis_sessions", **{"user_id": uuid.uuid4(), **kw})


def new_event(conn: Conn, **kw: Any) -> Row:
    values = {
        "event_type": "Genesis.Session.Started",
        "aggregate_type": "genesis_session",
        "aggregate_id": uuid.uuid4(),
        "correlation_id": uuid.uuid4(),
        "payload": {"stage": "CONCEPT_SELECTION"},
        **kw,
    }
    return insert(conn, "domain_events", **values)


def new_command(conn: Conn, **kw: Any) -> Row:
    values = {
        "session_id": uuid.uuid4(),
        "command_type": "RequestConceptGeneration",
        "idempotency_key": uuid.uuid4().hex,
        "payload": {"n": 3},
        **kw,
    }
    return insert(conn, "command_inbox", **values)


def new_task(conn: Conn, **kw: Any) -> Row:
    return insert(conn, "async_tasks", **{"task_type": "memory.extract", **kw})


def new_outbox(conn: Conn, **kw: Any) -> Row:
    return insert(conn, "event_outbox", **{"topic": "genesis.events", "payload": {"a": 1}, **kw})


def new_handle(conn: Conn, **kw: Any) -> Row:
    values = {
        "correlation_id": uuid.uuid4(),
        "flow_run_id": f"run-{uuid.uuid4()}",
        "task_name": "await_user_choice",
        "resume_handle": {"flow_run_id": "x", "key": "k"},
        **kw,
    }
    return insert(conn, "flow_resume_handles", **values)


def new_memory(conn: Conn, **kw: Any) -> Row:
    return insert(conn, "memories", **{"project_id": uuid.uuid4(), "title": "Chapter 1", **kw})


def new_progress(conn: Conn, **kw: Any) -> Row:
    if "task_id" not in kw:
        kw["task_id"] = new_task(conn)["id"]
    return insert(conn, "task_progress", **{"status": "RUNNING", "percent": Decimal("10"), **kw})


def batch_counters(conn: Conn) -> Row:
    """A batch with one sized child at 40 %: its task_batches row, kept by the roll-up."""
    batch = new_task(conn, is_batch=True)["id"]
    new_task(
        conn,
        parent_id=batch,
        size=Decimal("2"),
        status="RUNNING",
        progress=Decimal("40"),
        started_at=dt.datetime.now(dt.UTC),
    )
    return fetch(conn, "task_batches", "task_id", batch)


def full_rows() -> dict[str, Callable[[Conn], Row]]:
    """A row per table with every nullable column filled (the round trip covers them)."""

    def task(conn: Conn) -> Row:
        command = new_command(conn)
        return new_task(
            conn,
            parent_id=new_task(conn, is_batch=True)["id"],
            size=Decimal("2.5"),
            triggered_by_command_id=command["id"],
            status="COMPLETED",
            progress=Decimal("100"),
            input_data={"memory": "m1"},
            result_data={"episodes": [1, 2], "nested": {"ok": True}},
            error_data={"previous_attempt": "timeout"},
            execution_node="worker-1",
            retry_count=1,
            started_at=dt.datetime(2024, 5, 1, 10, 0, tzinfo=dt.UTC),
            completed_at=dt.datetime(2024, 5, 1, 10, 5, tzinfo=dt.UTC),
        )

    return {
        "async_tasks": task,
        "command_inbox": lambda c: new_command(c, status="FAILED", error_message="boom"),
        "domain_events": lambda c: new_event(c, causation_id=uuid.uuid4(), metadata={"u": 1}),
        "event_outbox": lambda c: new_outbox(
            c,
            key="k1",
            partition_key="p1",
            headers={"event_type": "X"},
            status="SENT",
            last_error="timeout",
            retry_count=1,
            sent_at=dt.datetime.now(dt.UTC),
        ),
        "flow_resume_handles": lambda c: new_handle(
            c,
            status="RESUMED",
            resume_payload={"choice": 2},
            timeout_seconds=600,
            context_data={"question": "Which one?"},
            expires_at=dt.datetime(2030, 1, 1, tzinfo=dt.UTC),
            resumed_at=dt.datetime.now(dt.UTC),
        ),
        "genesis_sessions": lambda c: new_genesis(
            c,
            status="COMPLETED",
            current_stage="FINISHED",
            initial_input={"idea": "space opera"},
            final_settings={"title": "Stars"},
            finished_at=dt.datetime.now(dt.UTC),
        ),
        "memories": lambda c: new_memory(
            c, content="It was a dark night.", status="READY", task_id=new_task(c)["id"]
        ),
        "novels": new_novel,
        "task_batches": batch_counters,
        "task_progress": lambda c: new_progress(
            c,
            task_id=new_task(c, parent_id=new_task(c, is_batch=True)["id"])["id"],
            stage="extracting",
            message="half way",
            data={"chunk": 5},
            percent=Decimal("50.5"),
            eta_seconds=Decimal("12.5"),
        ),
    }


def columns(conn: Conn, table: str) -> list[Row]:
    return [
        dict(r)
        for r in conn.execute(
            """
            SELECT a.attname AS name, t.typname AS typname, a.attnotnull AS notnull,
                   format_type(a.atttypid, a.atttypmod) AS formatted,
                   col_description(a.attrelid, a.attnum) AS comment,
                   pg_get_expr(d.adbin, d.adrelid) AS default
              FROM pg_attribute a JOIN pg_type t ON t.oid = a.atttypid
              LEFT JOIN pg_attrdef d ON d.adrelid = a.attrelid AND d.adnum = a.attnum
             WHERE a.attrelid = %s::regclass AND a.attnum > 0 AND NOT a.attisdropped
             ORDER BY a.attnum
            """,
            [table],
        )
    ]


def one_line(text: str) -> str:
    return " ".join(text.split())


def meta_value(field: FieldInfo, name: str) -> Any:
    """A constraint (max_length, max_digits ...) from a field's metadata, or None."""
    return next((getattr(m, name) for m in field.metadata if hasattr(m, name)), None)


# ----------------------------------------------------------------------- the files


def test_files_are_the_expected_ones_in_order() -> None:
    names = sorted(p.name for p in INIT_DIR.glob("*.sql"))
    assert [n for n in names if not n.endswith(".down.sql")] == EXPECTED_FILES
    assert [n for n in names if n.endswith(".down.sql")] == DOWN_FILES


@pytest.mark.parametrize("name", EXPECTED_FILES + DOWN_FILES)
def test_file_format(name: str) -> None:
    raw = (INIT_DIR / name).read_bytes()
    text = raw.decode("utf-8")  # plain UTF-8 ...
    assert not raw.startswith(b"\xef\xbb\xbf"), "no BOM"
    assert b"\r" not in raw, "LF line endings only"
    assert text.endswith("\n") and not text.endswith("\n\n")
    assert text.startswith("-- "), "starts with a -- comment header saying what it is for"
    assert text.splitlines()[0].startswith(f"-- {name}:")
    for number, line in enumerate(text.splitlines(), 1):
        assert not line.lstrip().startswith("\\"), f"psql backslash command at line {number}"
        assert line == line.rstrip(), f"trailing whitespace at line {number}"


@pytest.mark.parametrize("name", EXPECTED_FILES + DOWN_FILES)
def test_file_is_one_transaction_of_terminated_statements(name: str) -> None:
    from pglast import parse_sql
    from pglast.ast import IndexStmt, TransactionStmt

    text = (INIT_DIR / name).read_text(encoding="utf-8")
    statements = parse_sql(text)
    assert statements, "at least one statement"
    for raw in statements:
        assert not isinstance(raw.stmt, TransactionStmt), "no BEGIN/COMMIT inside files"
        if isinstance(raw.stmt, IndexStmt):
            assert not raw.stmt.concurrent, "no CREATE INDEX CONCURRENTLY"
    code = [ln for ln in text.splitlines() if ln.strip() and not ln.lstrip().startswith("--")]
    assert code[-1].rstrip().endswith(";"), "the last statement is terminated by ;"
    assert not re.search(r"\b(pgcrypto|uuid-ossp|uuid_generate_v4)\b", "\n".join(code))


# ------------------------------------------------------------------- the catalog


def test_every_object_has_a_comment(conn: Conn) -> None:
    missing = conn.execute(
        """
        WITH ledger AS (SELECT oid FROM pg_class WHERE oid = ANY(%s::regclass[]))
        SELECT 'relation ' || c.relname AS what
          FROM pg_class c JOIN pg_namespace n ON n.oid = c.relnamespace
         WHERE n.nspname = 'public' AND c.relkind IN ('r', 'v', 'i', 'S')
           AND obj_description(c.oid, 'pg_class') IS NULL
           AND c.oid <> ALL (SELECT l.oid FROM ledger l
                             UNION ALL SELECT indexrelid FROM pg_index, ledger l
                                        WHERE indrelid = l.oid)
        UNION ALL
        SELECT 'column ' || c.relname || '.' || a.attname
          FROM pg_attribute a JOIN pg_class c ON c.oid = a.attrelid
          JOIN pg_namespace n ON n.oid = c.relnamespace
         WHERE n.nspname = 'public' AND c.relkind IN ('r', 'v') AND a.attnum > 0
           AND NOT a.attisdropped AND col_description(c.oid, a.attnum) IS NULL
           AND c.oid NOT IN (SELECT oid FROM ledger)
        UNION ALL
        SELECT 'type ' || t.typname
          FROM pg_type t JOIN pg_namespace n ON n.oid = t.typnamespace
         WHERE n.nspname = 'public' AND t.typtype = 'e'
           AND obj_description(t.oid, 'pg_type') IS NULL
        UNION ALL
        SELECT 'function ' || p.proname
          FROM pg_proc p JOIN pg_namespace n ON n.oid = p.pronamespace
         WHERE n.nspname = 'public' AND obj_description(p.oid, 'pg_proc') IS NULL
        UNION ALL
        SELECT 'trigger ' || t.tgname
          FROM pg_trigger t JOIN pg_class c ON c.oid = t.tgrelid
          JOIN pg_namespace n ON n.oid = c.relnamespace
         WHERE n.nspname = 'public' AND NOT t.tgisinternal
           AND obj_description(t.oid, 'pg_trigger') IS NULL
        UNION ALL
        SELECT 'constraint ' || k.conname
          FROM pg_constraint k JOIN pg_namespace n ON n.oid = k.connamespace
         WHERE n.nspname = 'public' AND k.contype IN ('c', 'f', 'u', 'x')
           AND obj_description(k.oid, 'pg_constraint') IS NULL
           AND k.conrelid NOT IN (SELECT oid FROM ledger)
        """,
        [[f"public.{name}" for name in SQLMIG_TABLES]],
    ).fetchall()
    assert [r["what"] for r in missing] == []


def test_no_uuid_extension_and_uuid_keys_use_gen_random_uuid(conn: Conn) -> None:
    extensions = {r["extname"] for r in conn.execute("SELECT extname FROM pg_extension")}
    assert not extensions & {"pgcrypto", "uuid-ossp"}
    keys = conn.execute(
        """
        SELECT c.relname AS tbl, a.attname AS col, format_type(a.atttypid, a.atttypmod) AS typ,
               pg_get_expr(d.adbin, d.adrelid) AS dflt
          FROM pg_constraint k
          JOIN pg_class c ON c.oid = k.conrelid
          JOIN pg_attribute a ON a.attrelid = k.conrelid AND a.attnum = ANY (k.conkey)
          LEFT JOIN pg_attrdef d ON d.adrelid = a.attrelid AND d.adnum = a.attnum
         WHERE k.contype = 'p' AND c.relnamespace = 'public'::regnamespace
           AND c.relname <> ALL(%s)
        """,
        [SQLMIG_TABLES],
    ).fetchall()
    assert {r["tbl"] for r in keys} == set(MODELS)
    for r in keys:
        if r["tbl"] == "task_progress":  # bigint identity, as designed
            assert r["typ"] == "bigint"
        else:
            assert (r["typ"], r["dflt"]) == ("uuid", "gen_random_uuid()"), r


def test_every_timestamp_is_timestamptz(conn: Conn) -> None:
    naive = conn.execute(
        """
        SELECT table_name, column_name FROM information_schema.columns
         WHERE table_schema = 'public' AND data_type = 'timestamp without time zone'
        """
    ).fetchall()
    assert naive == []


def test_updated_at_trigger_on_every_table_that_has_it(conn: Conn) -> None:
    with_column = {
        r["table_name"]
        for r in conn.execute(
            """
            SELECT c.table_name FROM information_schema.columns c
              JOIN information_schema.tables t USING (table_schema, table_name)
             WHERE c.table_schema = 'public' AND c.column_name = 'updated_at'
               AND t.table_type = 'BASE TABLE'
            """
        )
    }
    with_trigger = {
        r["relname"]
        for r in conn.execute(
            """
            SELECT c.relname FROM pg_trigger t JOIN pg_class c ON c.oid = t.tgrelid
             WHERE t.tgfoid = 'trigger_set_timestamp'::regproc AND NOT t.tgisinternal
            """
        )
    }
    assert with_column == with_trigger == set(TABLES_WITH_UPDATED_AT)


def test_views_have_concrete_column_types(conn: Conn) -> None:
    rows = conn.execute(
        """
        SELECT c.relname AS view, a.attname AS col, t.typname, t.typtype
          FROM pg_class c JOIN pg_attribute a ON a.attrelid = c.oid
          JOIN pg_type t ON t.oid = a.atttypid
         WHERE c.relkind = 'v' AND c.relnamespace = 'public'::regnamespace AND a.attnum > 0
         ORDER BY c.relname, a.attnum
        """
    ).fetchall()
    assert {r["view"] for r in rows} == {"v_async_task_stats", "v_outbox_backlog"}
    assert [r for r in rows if r["typtype"] == "p" or r["typname"] in ("unknown", "record")] == []


def test_enum_types_match_python_enums(conn: Conn) -> None:
    labels: dict[str, list[str]] = {}
    for r in conn.execute(
        """
        SELECT t.typname, e.enumlabel FROM pg_enum e JOIN pg_type t ON t.oid = e.enumtypid
         WHERE t.typnamespace = 'public'::regnamespace ORDER BY t.typname, e.enumsortorder
        """
    ):
        labels.setdefault(r["typname"], []).append(r["enumlabel"])
    assert set(labels) == set(ENUMS)
    for typname, enum_cls in ENUMS.items():
        assert [m.name for m in enum_cls] == labels[typname]
        assert [m.value for m in enum_cls] == labels[typname]
        assert all(isinstance(m, str) for m in enum_cls)


def test_memory_status_literal_matches_check(conn: Conn) -> None:
    definition = conn.execute(
        "SELECT pg_get_constraintdef(oid) AS d FROM pg_constraint"
        " WHERE conname = 'memories_status_check'"
    ).fetchone()
    assert definition is not None
    assert re.findall(r"'([A-Z_]+)'", definition["d"]) == list(typing.get_args(MemoryStatus))


def test_waiting_handle_statuses_match_index_predicate(conn: Conn) -> None:
    row = conn.execute(
        """
        SELECT pg_get_expr(i.indpred, i.indrelid) AS pred, i.indisunique
          FROM pg_index i WHERE i.indexrelid = 'uq_flow_resume_handles_correlation_waiting'::regclass
        """
    ).fetchone()
    assert row is not None and row["indisunique"]
    assert set(re.findall(r"'([A-Z_]+)'", row["pred"])) == {
        s.value for s in WAITING_HANDLE_STATUSES
    }
    assert "WAITING" not in [s.value for s in HandleStatus]


@pytest.mark.parametrize("table", sorted(MODELS))
def test_model_mirrors_table(conn: Conn, table: str) -> None:
    model = MODELS[table]
    table_comment = conn.execute(
        "SELECT obj_description(%s::regclass, 'pg_class') AS c", [table]
    ).fetchone()
    assert table_comment is not None
    assert one_line(model.__doc__ or "") == table_comment["c"]
    assert model.model_config.get("from_attributes") is True
    assert model.__table__ == f"public.{table}"  # type: ignore[attr-defined]

    cols = columns(conn, table)
    fields = model.model_fields
    assert list(fields) == [c["name"] for c in cols], "same names, column order"
    for col in cols:
        field = fields[col["name"]]
        assert field.description == col["comment"], col["name"]
        if not col["notnull"]:
            assert not field.is_required() and field.default is None, col["name"]
        elif field.is_required():
            # NOT NULL and required: no default, or one the database computes.
            default = col["default"] or ""
            assert not default or "(" in default or "nextval" in default, col["name"]
        else:
            assert col["default"], f"{col['name']}: a model default needs a constant SQL default"


def test_models_match_the_live_schema(conn: Conn) -> None:
    """Types, constraints, nullability and enum values: the drift check finds nothing."""
    import shared_types.models_db as generated
    from sqlmig.models.drift import compare
    from sqlmig.models.introspect import introspect

    assert compare(introspect(conn), generated) == []


# ------------------------------------------------------------ command_inbox rules


def test_one_unfinished_command_per_session_and_type(conn: Conn) -> None:
    session = uuid.uuid4()
    first = new_command(conn, session_id=session)
    with pytest.raises(errors.UniqueViolation, match="uq_command_inbox_session_type_active"):
        new_command(conn, session_id=session)
    conn.execute("UPDATE command_inbox SET status = 'PROCESSING' WHERE id = %s", [first["id"]])
    with pytest.raises(errors.UniqueViolation):
        new_command(conn, session_id=session, status="PROCESSING")
    # other sessions and other command types are independent
    new_command(conn, session_id=session, command_type="ConfirmStage")
    new_command(conn, session_id=uuid.uuid4())
    # allowed again once the first one is finished
    conn.execute("UPDATE command_inbox SET status = 'COMPLETED' WHERE id = %s", [first["id"]])
    second = new_command(conn, session_id=session)
    conn.execute(
        "UPDATE command_inbox SET status = 'FAILED', error_message = 'x' WHERE id = %s",
        [second["id"]],
    )
    new_command(conn, session_id=session)


def test_idempotency_key_is_unique(conn: Conn) -> None:
    new_command(conn, idempotency_key="key-1")
    with pytest.raises(errors.UniqueViolation, match="command_inbox_idempotency_key_key"):
        new_command(conn, idempotency_key="key-1", session_id=uuid.uuid4())


def test_failed_command_needs_an_error(conn: Conn) -> None:
    with pytest.raises(errors.CheckViolation, match="command_inbox_failed_has_error"):
        new_command(conn, status="FAILED")
    with pytest.raises(errors.CheckViolation, match="command_inbox_retry_count_non_negative"):
        new_command(conn, retry_count=-1)


# ---------------------------------------------------------- flow_resume_handles rules


@pytest.mark.parametrize("waiting", ["PENDING_PAUSE", "PAUSED"])
@pytest.mark.parametrize("finished", ["RESUMED", "EXPIRED"])
def test_one_waiting_handle_per_correlation_id(conn: Conn, waiting: str, finished: str) -> None:
    correlation = uuid.uuid4()
    first = new_handle(conn, correlation_id=correlation, status=waiting)
    for other in ("PENDING_PAUSE", "PAUSED"):
        with pytest.raises(
            errors.UniqueViolation, match="uq_flow_resume_handles_correlation_waiting"
        ):
            new_handle(conn, correlation_id=correlation, status=other)
    new_handle(conn, correlation_id=uuid.uuid4(), status=waiting)
    conn.execute(
        """
        UPDATE flow_resume_handles
           SET status = %s,
               resumed_at = CASE WHEN %s = 'RESUMED' THEN now() END,
               expires_at = now()
         WHERE id = %s
        """,
        [finished, finished, first["id"]],
    )
    again = new_handle(conn, correlation_id=correlation, status=waiting)
    assert again["id"] != first["id"]
    # finished handles do not count among themselves either
    new_handle(conn, correlation_id=correlation, status="EXPIRED", expires_at=PAST)


def test_handle_terminal_states_have_their_timestamps(conn: Conn) -> None:
    with pytest.raises(errors.CheckViolation, match="flow_resume_handles_resumed_at_iff_resumed"):
        new_handle(conn, status="RESUMED")
    with pytest.raises(errors.CheckViolation, match="flow_resume_handles_resumed_at_iff_resumed"):
        new_handle(conn, status="PAUSED", resumed_at=dt.datetime.now(dt.UTC))
    with pytest.raises(errors.CheckViolation, match="flow_resume_handles_expired_has_expires_at"):
        new_handle(conn, status="EXPIRED")
    with pytest.raises(errors.CheckViolation, match="flow_resume_handles_timeout_positive"):
        new_handle(conn, timeout_seconds=0)
    with pytest.raises(errors.InvalidTextRepresentation):
        new_handle(conn, status="WAITING")


# ------------------------------------------------------------------ async_tasks rules


@pytest.mark.parametrize("progress", ["101", "100.01", "-0.01", "-1"])
def test_task_progress_out_of_range_is_rejected(conn: Conn, progress: str) -> None:
    with pytest.raises(errors.CheckViolation, match="async_tasks_progress_range"):
        new_task(conn, progress=Decimal(progress))


def test_task_progress_in_range(conn: Conn) -> None:
    task = new_task(conn, progress=Decimal("12.5"))
    assert task["progress"] == Decimal("12.50")
    conn.execute("UPDATE async_tasks SET progress = 100 WHERE id = %s", [task["id"]])
    with pytest.raises(errors.CheckViolation):
        conn.execute("UPDATE async_tasks SET progress = 101 WHERE id = %s", [task["id"]])


def test_task_retries_within_max(conn: Conn) -> None:
    new_task(conn, retry_count=3, max_retries=3)
    with pytest.raises(errors.CheckViolation, match="async_tasks_retries_within_max"):
        new_task(conn, retry_count=4, max_retries=3)
    with pytest.raises(errors.CheckViolation, match="async_tasks_retries_within_max"):
        new_task(conn, retry_count=-1)
    with pytest.raises(errors.CheckViolation, match="async_tasks_retries_within_max"):
        new_task(conn, max_retries=-1, retry_count=0)


def test_task_terminal_states_have_their_timestamps(conn: Conn) -> None:
    now = dt.datetime.now(dt.UTC)
    earlier = now - dt.timedelta(minutes=5)
    for status in ("COMPLETED", "FAILED", "CANCELLED"):
        with pytest.raises(errors.CheckViolation, match="async_tasks_completed_at_iff_terminal"):
            new_task(conn, status=status, progress=100, started_at=earlier, error_data={"e": 1})
    for status in ("PENDING", "RUNNING"):
        with pytest.raises(errors.CheckViolation, match="async_tasks_completed_at_iff_terminal"):
            new_task(conn, status=status, started_at=earlier, completed_at=now)
    with pytest.raises(errors.CheckViolation, match="async_tasks_started_when_running"):
        new_task(conn, status="RUNNING")
    with pytest.raises(errors.CheckViolation, match="async_tasks_completed_after_started"):
        new_task(conn, status="CANCELLED", started_at=now, completed_at=earlier)
    with pytest.raises(errors.CheckViolation, match="async_tasks_completed_is_full"):
        new_task(conn, status="COMPLETED", progress=99, started_at=earlier, completed_at=now)
    with pytest.raises(errors.CheckViolation, match="async_tasks_failed_has_error"):
        new_task(conn, status="FAILED", completed_at=now)

    # the coherent life of a task
    task = new_task(conn)
    conn.execute(
        "UPDATE async_tasks SET status = 'RUNNING', started_at = now() WHERE id = %s", [task["id"]]
    )
    conn.execute(
        """UPDATE async_tasks SET status = 'COMPLETED', progress = 100, completed_at = now(),
                  result_data = '{"ok": true}' WHERE id = %s""",
        [task["id"]],
    )
    new_task(conn, status="CANCELLED", completed_at=now)  # cancelled before it started
    new_task(conn, status="FAILED", completed_at=now, error_data={"type": "Timeout"})


def test_jsonb_columns_hold_objects(conn: Conn) -> None:
    with pytest.raises(errors.CheckViolation, match="async_tasks_input_data_object"):
        conn.execute("INSERT INTO async_tasks (task_type, input_data) VALUES ('t', '[1, 2]')")
    with pytest.raises(errors.CheckViolation, match="domain_events_payload_object"):
        conn.execute(
            "INSERT INTO domain_events (event_type, aggregate_type, aggregate_id, payload)"
            " VALUES ('E', 'a', gen_random_uuid(), '\"text\"')"
        )


# ---------------------------------------------------------- event_outbox / genesis


def test_outbox_sent_has_sent_at(conn: Conn) -> None:
    with pytest.raises(errors.CheckViolation, match="event_outbox_sent_at_iff_sent"):
        new_outbox(conn, status="SENT")
    with pytest.raises(errors.CheckViolation, match="event_outbox_sent_at_iff_sent"):
        new_outbox(conn, sent_at=dt.datetime.now(dt.UTC))
    with pytest.raises(errors.CheckViolation, match="event_outbox_retries_within_max"):
        new_outbox(conn, retry_count=6, max_retries=5)
    message = new_outbox(conn)
    conn.execute(
        "UPDATE event_outbox SET status = 'SENT', sent_at = now() WHERE id = %s", [message["id"]]
    )


def test_genesis_terminal_states(conn: Conn) -> None:
    now = dt.datetime.now(dt.UTC)
    with pytest.raises(errors.CheckViolation, match="genesis_sessions_finished_at_iff_terminal"):
        new_genesis(conn, status="ABANDONED")
    with pytest.raises(errors.CheckViolation, match="genesis_sessions_finished_at_iff_terminal"):
        new_genesis(conn, finished_at=now)
    with pytest.raises(errors.CheckViolation, match="genesis_sessions_completed_is_finished"):
        new_genesis(conn, status="COMPLETED", finished_at=now, final_settings={"a": 1})
    with pytest.raises(errors.CheckViolation, match="genesis_sessions_completed_is_finished"):
        new_genesis(conn, status="COMPLETED", current_stage="FINISHED", finished_at=now)
    with pytest.raises(errors.CheckViolation, match="genesis_sessions_finished_stage_is_completed"):
        new_genesis(conn, current_stage="FINISHED")
    new_genesis(conn, status="ABANDONED", current_stage="WORLDVIEW", finished_at=now)


def test_one_genesis_session_in_progress_per_novel(conn: Conn) -> None:
    novel = new_novel(conn)
    first = new_genesis(conn, novel_id=novel["id"])
    with pytest.raises(errors.UniqueViolation, match="uq_genesis_sessions_novel_in_progress"):
        new_genesis(conn, novel_id=novel["id"])
    conn.execute(
        "UPDATE genesis_sessions SET status = 'ABANDONED', finished_at = now() WHERE id = %s",
        [first["id"]],
    )
    new_genesis(conn, novel_id=novel["id"])
    conn.execute("DELETE FROM novels WHERE id = %s", [novel["id"]])
    left = conn.execute("SELECT count(*) AS n FROM genesis_sessions").fetchone()
    assert left is not None and left["n"] == 0, "sessions are deleted with their novel"


# ------------------------------------------------------------------------ updated_at


@pytest.mark.parametrize("table", TABLES_WITH_UPDATED_AT)
def test_updated_at_moves_on_update(conn: Conn, table: str) -> None:
    row = full_rows()[table](conn)
    key = "id"
    conn.execute(sql.SQL("ALTER TABLE {} DISABLE TRIGGER USER").format(sql.Identifier(table)))
    conn.execute(
        sql.SQL("UPDATE {} SET created_at = %s, updated_at = %s WHERE id = %s").format(
            sql.Identifier(table)
        ),
        [PAST, PAST, row[key]],
    )
    conn.execute(sql.SQL("ALTER TABLE {} ENABLE TRIGGER USER").format(sql.Identifier(table)))
    assert fetch(conn, table, key, row[key])["updated_at"] == PAST

    with conn.transaction():
        # even an explicit value is overridden: the trigger owns the column
        conn.execute(
            sql.SQL("UPDATE {} SET updated_at = %s WHERE id = %s").format(sql.Identifier(table)),
            [PAST, row[key]],
        )
        now = conn.execute("SELECT now() AS now").fetchone()
    after = fetch(conn, table, key, row[key])
    assert now is not None
    assert after["updated_at"] == now["now"] > PAST
    assert after["created_at"] == PAST, "created_at is not touched"


# -------------------------------------------------------------------- append-only


def test_domain_events_are_append_only(conn: Conn) -> None:
    event = new_event(conn)
    with pytest.raises(errors.RestrictViolation, match=r"UPDATE on public\.domain_events") as exc:
        conn.execute(
            "UPDATE domain_events SET event_version = 2 WHERE event_id = %s", [event["event_id"]]
        )
    assert exc.value.sqlstate == "23001"
    assert "append-only" in str(exc.value)
    assert exc.value.diag.message_hint and "compensating event" in exc.value.diag.message_hint
    with pytest.raises(errors.RestrictViolation, match=r"DELETE on public\.domain_events"):
        conn.execute("DELETE FROM domain_events WHERE event_id = %s", [event["event_id"]])
    assert fetch(conn, "domain_events", "event_id", event["event_id"]) == event


def test_task_progress_rejects_update_but_allows_delete(conn: Conn) -> None:
    row = new_progress(conn)
    with pytest.raises(errors.RestrictViolation, match=r"UPDATE on public\.task_progress") as exc:
        conn.execute("UPDATE task_progress SET message = 'x' WHERE id = %s", [row["id"]])
    assert exc.value.sqlstate == "23001"
    conn.execute("DELETE FROM task_progress WHERE id = %s", [row["id"]])
    # ON DELETE CASCADE from async_tasks works through the trigger
    again = new_progress(conn)
    new_progress(conn, task_id=again["task_id"])
    conn.execute("DELETE FROM async_tasks WHERE id = %s", [again["task_id"]])
    left = conn.execute("SELECT count(*) AS n FROM task_progress").fetchone()
    assert left is not None and left["n"] == 0


# ------------------------------------------------------------------- task_progress


def test_task_progress_seq_is_numbered_per_task(conn: Conn) -> None:
    task_a, task_b = new_task(conn)["id"], new_task(conn)["id"]
    seqs = [new_progress(conn, task_id=t)["seq"] for t in (task_a, task_a, task_b, task_a)]
    assert seqs == [1, 2, 1, 3]
    with conn.transaction():  # several rows in one transaction
        more = [new_progress(conn, task_id=task_b)["seq"] for _ in range(3)]
    assert more == [2, 3, 4]
    assert new_progress(conn, task_id=task_b, seq=10)["seq"] == 10  # explicit seq kept
    assert new_progress(conn, task_id=task_b)["seq"] == 11
    with pytest.raises(errors.UniqueViolation, match="task_progress_task_id_seq_key"):
        new_progress(conn, task_id=task_a, seq=2)
    with pytest.raises(errors.CheckViolation, match="task_progress_seq_positive"):
        new_progress(conn, task_id=task_a, seq=0)


def test_task_progress_seq_serialises_concurrent_writers(conn: Conn, init_dsn: str) -> None:
    task = new_task(conn)["id"]
    with psycopg.connect(init_dsn) as first, psycopg.connect(init_dsn) as second:
        first.execute(
            "INSERT INTO task_progress (task_id, status, percent) VALUES (%s, 'RUNNING', 1)",
            [task],
        )
        # the second writer waits for the first one's lock, then numbers after it
        second.execute("SET lock_timeout = '200ms'")
        with pytest.raises(errors.LockNotAvailable):
            second.execute(
                "INSERT INTO task_progress (task_id, status, percent) VALUES (%s, 'RUNNING', 2)",
                [task],
            )
        second.rollback()
        first.commit()
        second.execute(
            "INSERT INTO task_progress (task_id, status, percent) VALUES (%s, 'RUNNING', 2)",
            [task],
        )
        second.commit()
    seqs = conn.execute(
        "SELECT seq, percent FROM task_progress WHERE task_id = %s ORDER BY seq", [task]
    ).fetchall()
    assert [(r["seq"], r["percent"]) for r in seqs] == [(1, 1), (2, 2)]


@pytest.mark.parametrize(
    ("column", "value", "constraint"),
    [
        ("percent", Decimal("100.01"), "task_progress_percent_range"),
        ("percent", Decimal("-1"), "task_progress_percent_range"),
        ("stage", "Extracting", "task_progress_stage_machine_name"),
        ("stage", "two words", "task_progress_stage_machine_name"),
        ("stage", "", "task_progress_stage_machine_name"),
        ("stage", "x" * 65, "task_progress_stage_machine_name"),
        ("data", [1, 2], "task_progress_data_object"),
    ],
)
def test_task_progress_checks(conn: Conn, column: str, value: object, constraint: str) -> None:
    if isinstance(value, list):
        value = psycopg.types.json.Jsonb(value)
    with pytest.raises(errors.CheckViolation, match=constraint):
        new_progress(conn, **{column: value})


def test_task_progress_defaults(conn: Conn) -> None:
    row = new_progress(conn)
    assert row["message"] == "" and row["stage"] is None and row["data"] is None
    assert row["created_at"].tzinfo is not None


def _listener(init_dsn: str) -> psycopg.Connection[Any]:
    listener = psycopg.connect(init_dsn, autocommit=True)
    listener.execute("LISTEN task_progress")
    return listener


def test_task_progress_insert_notifies_listeners_on_commit(conn: Conn, init_dsn: str) -> None:
    task = new_task(conn)["id"]
    with _listener(init_dsn) as listener:
        with conn.transaction():
            row = new_progress(
                conn,
                task_id=task,
                percent=Decimal("12.5"),
                stage="extracting",
                message='Extracting "chapter" 1 — ünïcödé',
                data={"chunk": 1, "of": 8},
            )
            # NOTIFY is delivered at commit only
            assert list(listener.notifies(timeout=0.3, stop_after=1)) == []
        received = list(listener.notifies(timeout=5, stop_after=1))
        assert len(received) == 1
        assert received[0].channel == "task_progress"
        payload = json.loads(received[0].payload)

        # a rolled back insert is never announced
        with pytest.raises(RuntimeError), conn.transaction():
            new_progress(conn, task_id=task)
            raise RuntimeError
        assert list(listener.notifies(timeout=0.3, stop_after=1)) == []

    assert payload.pop("truncated") is False
    assert set(payload) == set(TaskProgress.model_fields)
    assert TaskProgress.model_validate(payload) == TaskProgress.model_validate(row)
    assert payload["task_id"] == str(task) and payload["seq"] == 1
    assert payload["message"] == row["message"] and payload["data"] == {"chunk": 1, "of": 8}


def test_task_progress_notify_truncates_long_messages(conn: Conn, init_dsn: str) -> None:
    task = new_task(conn)["id"]
    # multi-byte characters and characters JSON must escape
    long_message = ('é"\\\n' + "x" * 7) * 2000
    huge_data = {"blob": "y" * 10000}
    with _listener(init_dsn) as listener:
        small = new_progress(conn, task_id=task, message=long_message, data={"k": 1})
        big = new_progress(conn, task_id=task, message="fits", data=huge_data)
        both = new_progress(conn, task_id=task, message=long_message, data=huge_data)
        received = list(listener.notifies(timeout=5, stop_after=3))
    assert len(received) == 3
    payloads = [json.loads(n.payload) for n in received]
    for n in received:
        assert len(n.payload.encode("utf-8")) < 8000
    first, second, third = payloads

    assert first["truncated"] is True and first["id"] == small["id"]
    assert long_message.startswith(first["message"])
    assert len(first["message"]) > 1000, "cut to what fits, not emptied"
    assert first["data"] == {"k": 1}, "data kept when only the message is too long"
    assert len(received[0].payload.encode("utf-8")) > 7900, "uses the room there is"

    assert second["truncated"] is True and second["id"] == big["id"]
    assert second["message"] == "fits" and second["data"] is None

    assert third["truncated"] is True and third["id"] == both["id"]
    assert third["data"] is None and long_message.startswith(third["message"])
    # the table keeps the full row
    assert fetch(conn, "task_progress", "id", both["id"])["message"] == long_message


def test_memory_task_id_is_set_null_when_the_task_goes(conn: Conn) -> None:
    task = new_task(conn)
    memory = new_memory(conn)
    assert memory["task_id"] is None and memory["status"] == "PENDING" and memory["content"] == ""
    conn.execute("UPDATE memories SET task_id = %s WHERE id = %s", [task["id"], memory["id"]])
    conn.execute("DELETE FROM async_tasks WHERE id = %s", [task["id"]])
    assert fetch(conn, "memories", "id", memory["id"])["task_id"] is None
    with pytest.raises(errors.CheckViolation, match="memories_status_check"):
        new_memory(conn, status="DONE")
    with pytest.raises(errors.ForeignKeyViolation):
        new_memory(conn, task_id=uuid.uuid4())


# ----------------------------------------------------------------------- the views


def test_statistics_views(conn: Conn) -> None:
    now = dt.datetime.now(dt.UTC)
    new_task(conn, task_type="a")
    new_task(conn, task_type="a", progress=Decimal("50"))
    new_task(
        conn,
        task_type="a",
        status="COMPLETED",
        progress=100,
        started_at=now - dt.timedelta(seconds=30),
        completed_at=now,
    )
    stats = {
        (r["task_type"], r["status"]): r for r in conn.execute("SELECT * FROM v_async_task_stats")
    }
    assert stats[("a", "PENDING")]["task_count"] == 2
    assert stats[("a", "PENDING")]["avg_progress"] == Decimal("25.00")
    assert stats[("a", "PENDING")]["avg_duration_seconds"] is None
    assert stats[("a", "COMPLETED")]["avg_duration_seconds"] == pytest.approx(30.0)

    new_outbox(conn, topic="t1")
    new_outbox(conn, topic="t1", scheduled_at=now + dt.timedelta(hours=1))
    new_outbox(conn, topic="t1", retry_count=5, max_retries=5)
    new_outbox(conn, topic="t2", status="SENT", sent_at=now)
    backlog = {r["topic"]: r for r in conn.execute("SELECT * FROM v_outbox_backlog")}
    assert set(backlog) == {"t1"}
    assert backlog["t1"]["pending_count"] == 3
    assert backlog["t1"]["due_count"] == 2
    assert backlog["t1"]["exhausted_count"] == 1
    assert backlog["t1"]["max_retry_count"] == 5


# ---------------------------------------------------------------------- the models


@pytest.mark.parametrize("table", sorted(MODELS))
def test_model_round_trip_through_the_table(conn: Conn, table: str) -> None:
    model_cls = MODELS[table]
    row = full_rows()[table](conn)
    assert all(v is not None for v in row.values()), "every column filled"
    model = model_cls.model_validate(row)
    assert model.model_dump() == row
    assert model_cls.model_validate_json(model.model_dump_json()) == model

    # a copy of the table with its CHECK constraints takes the dump back unchanged
    copy = sql.Identifier(f"copy_{table}")
    conn.execute(
        sql.SQL("CREATE TEMP TABLE {} (LIKE {} INCLUDING DEFAULTS INCLUDING CONSTRAINTS)").format(
            copy, sql.Identifier(table)
        )
    )
    dumped = model.model_dump()
    conn.execute(
        sql.SQL("INSERT INTO {} ({}) VALUES ({})").format(
            copy,
            sql.SQL(", ").join(map(sql.Identifier, dumped)),
            sql.SQL(", ").join(sql.Placeholder() * len(dumped)),
        ),
        list(dumped.values()),
    )
    back = conn.execute(sql.SQL("SELECT * FROM {}").format(copy)).fetchone()
    assert back is not None and dict(back) == row
    assert model_cls.model_validate(back) == model


@pytest.mark.parametrize("table", ["command_inbox", "memories", "novels", "task_progress"])
def test_model_round_trip_into_the_same_table(conn: Conn, table: str) -> None:
    model_cls = MODELS[table]
    row = full_rows()[table](conn)
    model = model_cls.model_validate(row)
    conn.execute(sql.SQL("DELETE FROM {} WHERE id = %s").format(sql.Identifier(table)), [row["id"]])
    dumped = model.model_dump()
    overriding = sql.SQL("OVERRIDING SYSTEM VALUE" if table == "task_progress" else "")
    conn.execute(
        sql.SQL("INSERT INTO {} ({}) {} VALUES ({})").format(
            sql.Identifier(table),
            sql.SQL(", ").join(map(sql.Identifier, dumped)),
            overriding,
            sql.SQL(", ").join(sql.Placeholder() * len(dumped)),
        ),
        list(dumped.values()),
    )
    assert model_cls.model_validate(fetch(conn, table, "id", row["id"])) == model


def test_minimal_rows_validate_with_nullable_fields_none(conn: Conn) -> None:
    rows = {
        "async_tasks": new_task(conn),
        "command_inbox": new_command(conn),
        "domain_events": new_event(conn, correlation_id=None),
        "event_outbox": new_outbox(conn),
        "flow_resume_handles": new_handle(conn),
        "genesis_sessions": new_genesis(conn),
        "memories": new_memory(conn),
        "novels": new_novel(conn),
        "task_batches": batch_counters(conn),
        "task_progress": new_progress(conn),
    }
    for table, row in rows.items():
        model = MODELS[table].model_validate(row)
        nullable = {c["name"] for c in columns(conn, table) if not c["notnull"]}
        for name in type(model).model_fields:
            if name in nullable:
                assert getattr(model, name) is None, (table, name)


def computed_by_database(default: str | None) -> bool:
    """No default, or one the database computes (now(), gen_random_uuid(), nextval ...)."""
    return default is None or "(" in default


@pytest.mark.parametrize("table", sorted(MODELS))
def test_missing_required_fields_raise(conn: Conn, table: str) -> None:
    model_cls = MODELS[table]
    with pytest.raises(ValidationError) as exc:
        model_cls.model_validate({})
    missing = {e["loc"][0] for e in exc.value.errors() if e["type"] == "missing"}
    assert missing == {
        c["name"]
        for c in columns(conn, table)
        if c["notnull"] and computed_by_database(c["default"])
    }
    assert missing, "every table has required columns"


def _task_values(**kw: Any) -> dict[str, Any]:
    values: dict[str, Any] = {
        "id": "0b5e4f4e-1111-4a2b-9c3d-123456789abc",
        "task_type": "memory.extract",
        "status": "RUNNING",
        "progress": "12.5",
        "input_data": {},
        "retry_count": 0,
        "max_retries": 3,
        "started_at": "2024-05-01T10:00:00Z",
        "created_at": "2024-05-01T09:59:00+02:00",
        "updated_at": dt.datetime(2024, 5, 1, 10, 0, tzinfo=dt.UTC),
    }
    values.update(kw)
    return values


def test_model_type_coercion() -> None:
    task = AsyncTask.model_validate(_task_values())
    assert task.id == uuid.UUID("0b5e4f4e-1111-4a2b-9c3d-123456789abc")
    assert task.progress == Decimal("12.5") and isinstance(task.progress, Decimal)
    assert task.started_at == dt.datetime(2024, 5, 1, 10, 0, tzinfo=dt.UTC)
    assert task.created_at.utcoffset() == dt.timedelta(hours=2)
    assert task.status is TaskStatus.RUNNING
    assert task.result_data is None and task.completed_at is None
    assert task.triggered_by_command_id is None and task.execution_node is None


@pytest.mark.parametrize(
    ("field", "value", "error"),
    [
        ("created_at", dt.datetime(2024, 5, 1, 10, 0), "timezone_aware"),
        ("started_at", "2024-05-01T10:00:00", "timezone_aware"),
        ("id", "not-a-uuid", "uuid_parsing"),
        ("progress", "1.456", "decimal_max_places"),
        ("progress", "123.456", "decimal_max_digits"),
        ("progress", "1000", "decimal_whole_digits"),
        ("status", "WAITING", "enum"),
        ("task_type", "x" * 256, "string_too_long"),
        ("input_data", {1, 2}, "invalid-json-value"),  # a set is not JSON
        ("retry_count", None, "int_type"),
    ],
    ids=lambda v: v if isinstance(v, str) and len(v) < 20 else "",
)
def test_model_rejects_bad_values(field: str, value: object, error: str) -> None:
    with pytest.raises(ValidationError) as exc:
        AsyncTask.model_validate(_task_values(**{field: value}))
    assert [(e["loc"], e["type"]) for e in exc.value.errors()] == [((field,), error)]


def test_model_enum_and_literal_values() -> None:
    assert TaskStatus("CANCELLED") is TaskStatus.CANCELLED
    assert CommandStatus.RECEIVED == "RECEIVED"
    assert [s.value for s in GenesisStage][-1] == "FINISHED"
    assert frozenset({HandleStatus.PENDING_PAUSE, HandleStatus.PAUSED}) == WAITING_HANDLE_STATUSES
    base = {
        "id": uuid.uuid4(),
        "project_id": uuid.uuid4(),
        "title": "t",
        "content": "",
        "created_at": "2024-01-01T00:00:00Z",
        "updated_at": "2024-01-01T00:00:00Z",
    }
    assert Memory.model_validate({**base, "status": "READY"}).status == "READY"
    # memories.status is TEXT + CHECK: the generated model says str; the Literal names the values.
    assert typing.get_args(MemoryStatus) == ("PENDING", "PROCESSING", "READY", "FAILED")
    handle = FlowResumeHandle.model_validate(
        {
            "id": uuid.uuid4(),
            "correlation_id": uuid.uuid4(),
            "flow_run_id": "r",
            "task_name": "t",
            "resume_handle": {},
            "status": "PAUSED",
            "context_data": {},
            "created_at": "2024-01-01T00:00:00Z",
            "updated_at": "2024-01-01T00:00:00Z",
        }
    )
    assert handle.status is HandleStatus.PAUSED and handle.status in WAITING_HANDLE_STATUSES
    assert handle.model_dump(mode="json")["status"] == "PAUSED"


def test_model_from_attributes() -> None:
    class Obj:
        id = uuid.uuid4()
        title = "From an ORM object"
        created_at = dt.datetime.now(dt.UTC)
        updated_at = dt.datetime.now(dt.UTC)

    novel = Novel.model_validate(Obj(), from_attributes=True)
    assert novel.title == "From an ORM object"
    assert Novel.model_validate(Obj()).id == Obj.id  # from_attributes is the model default


def test_package_reexports_everything() -> None:
    from shared_types import enums, models_db

    exported = set(shared_types.__all__)
    assert set(enums.__all__) | set(models_db.__all__) == exported
    for name in exported:
        assert getattr(shared_types, name) is not None
    assert {m.__name__ for m in MODELS.values()} == {
        n for n in models_db.__all__ if isinstance(getattr(models_db, n), type(BaseModel))
    }
    for obj in (GenesisSession, DomainEvent, EventOutbox, CommandInbox):
        assert issubclass(obj, BaseModel)
