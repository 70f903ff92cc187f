"""The published event schema (event.schema.json): valid, complete, and met by every real event.

conftest.py checks each event that any test here reads from a real stream;
this file proves that check runs and can fail, and drives every kind of
event (progress, completed with a result, failed, cancelled, a batch's and a
child's) through a real server, reading them the way MemStack's page does.
"""

from __future__ import annotations

import json
import math
from importlib import resources

import jsonschema
import pytest
from support.event_schema import schema_validator
from support.progress import SSE, Background, connect, progress_server, request, stream_path

from sqlmig.progress import ProgressReporter
from sqlmig.progress.demo import run_episode, start_episode
from sqlmig.progress.events import EVENT_NAMES, Parser, ProgressEvent, encode, event_schema

# What MemStack's task page (web/src/hooks/useTaskSSE.ts) maps a status to, after
# lower-casing it; anything else becomes "pending".
MEMSTACK_STATUS = {
    "processing": "running",
    "pending": "pending",
    "completed": "completed",
    "failed": "failed",
}


def test_the_schema_is_valid_and_shipped_in_the_package():
    text = resources.files("sqlmig.progress").joinpath("event.schema.json").read_text("utf-8")
    schema = json.loads(text)
    assert schema == event_schema()
    jsonschema.Draft202012Validator.check_schema(schema)
    assert schema["$schema"] == "https://json-schema.org/draft/2020-12/schema"


def test_every_payload_field_is_required_and_described():
    schema = event_schema()
    row = {
        "task_id": "7b0c1c8e-7d2a-4a59-9a43-6f1b0f1b7f11",
        "seq": 1,
        "status": "RUNNING",
        "percent": 1,
        "created_at": "2026-11-22T05:30:30+00:00",
    }
    fields = set(ProgressEvent.from_row(row).payload())
    assert fields == set(schema["required"]) == set(schema["properties"])
    assert all(schema["properties"][name].get("description") for name in fields)


BAD_EVENTS = [
    ("progress is an integer", {"progress": 20.5}),
    ("MemStack's id is there", {"id": None}),
    ("status is MemStack's spelling", {"status": "RUNNING"}),
    ("status agrees with state", {"status": "completed"}),
    ("state is the task's status", {"state": "processing"}),
    ("a completed event is at 100", {"state": "COMPLETED", "status": "completed"}),
    ("only a failed event has an error", {"error": "boom"}),
    ("eta is not negative", {"eta_seconds": -1}),
]


@pytest.mark.parametrize(("why", "change"), BAD_EVENTS, ids=[b[0] for b in BAD_EVENTS])
def test_the_schema_rejects_bad_events(why, change):
    good = ProgressEvent.from_row(
        {
            "task_id": "7b0c1c8e-7d2a-4a59-9a43-6f1b0f1b7f11",
            "seq": 2,
            "status": "RUNNING",
            "percent": 20.5,
            "created_at": "2026-11-22T05:30:30+00:00",
        }
    ).payload()
    validator = schema_validator()
    assert list(validator.iter_errors(good)) == []
    assert list(validator.iter_errors(good | change)) != [], why


def test_the_conftest_check_runs_on_real_streams_and_fails_on_a_bad_event(
    init_dsn, validated_events
):
    parser = Parser()
    with pytest.raises(AssertionError, match="does not match the schema"):
        parser.feed(encode(json.dumps({"task_id": "x"}), event="progress", id=1))
    assert parser.feed(encode("not an event", event="message", id=2))[0].data == "not an event"
    assert validated_events.count == 0


def memstack_reads(event: str, data: dict) -> dict:
    """What MemStack's useTaskSSE hands its page for one event (its field names)."""
    if event == "progress":
        status = MEMSTACK_STATUS.get(str(data["status"]).lower(), "pending")
        return {"task_id": data["id"], "status": status, "progress": data["progress"]}
    if event == "completed":
        return {"task_id": data["id"], "status": "completed", "result": data["result"]}
    assert event == "failed"
    return {"task_id": data["id"], "status": "failed", "error": data["error"] or data["message"]}


def test_every_kind_of_event_from_a_real_server_matches_the_schema(init_dsn, validated_events):
    seen: dict[str, list[dict]] = {name: [] for name in EVENT_NAMES}
    with progress_server(init_dsn) as srv, connect(init_dsn) as conn:

        def collect(task_id, before=None):
            with SSE(srv.port, stream_path(task_id)) as client:
                work = Background(before) if before else None
                messages = client.until_end()
                if work:
                    work.error()
            for message in messages:
                seen[message.event].append(message.json())
            return messages

        done_memory, done = start_episode(conn)
        collect(done.task_id, lambda: run_episode(done, done_memory, delay_s=0))
        failed_memory, failing = start_episode(conn)
        collect(
            failing.task_id,
            lambda: run_episode(failing, failed_memory, delay_s=0, fail_at="extracting"),
        )
        cancelled = ProgressReporter.create(conn, "t")
        cancelled.report(5)
        assert request(srv.port, "POST", f"/api/v1/tasks/{cancelled.task_id}/cancel").status == 200
        collect(cancelled.task_id)
        batch = ProgressReporter.create_batch(conn, "import")
        first, second = batch.add_children("episode", [None, None], sizes=[1, 3])
        first.report(50)
        first.complete({"ok": True})
        second.fail("bad input")
        collect(batch.task_id)
        child_events = collect(first.task_id)

    total = sum(len(events) for events in seen.values())
    assert validated_events.count == total, "the conftest check saw every one"
    assert all(seen[name] for name in EVENT_NAMES), {k: len(v) for k, v in seen.items()}
    for name, events in seen.items():
        for data in events:
            assert data["id"] == data["task_id"]
            assert data["progress"] == math.floor(data["percent"])
            if name == "cancelled":
                continue  # MemStack's page has no cancelled event
            read = memstack_reads(name, data)
            assert read["task_id"] == data["task_id"]
            if name == "progress":
                # useTaskSSE maps "processing" to running: its page shows ours unchanged
                assert read["status"] == {"PENDING": "pending", "RUNNING": "running"}[data["state"]]
                assert isinstance(read["progress"], int) and 0 <= read["progress"] <= 100
            if name == "failed":
                assert isinstance(read["error"], str) and read["error"]
    episode_done = next(d for d in seen["completed"] if d["task_id"] == str(done.task_id))
    assert episode_done["result"] == {"memory_id": str(done_memory)}
    assert memstack_reads("completed", episode_done)["result"] == episode_done["data"]["result"]
    assert episode_done["eta_seconds"] == 0
    episode_failed = next(d for d in seen["failed"] if d["task_id"] == str(failing.task_id))
    assert "simulated failure" in episode_failed["error"]
    assert {json.loads(m.data)["parent_id"] for m in child_events} == {str(batch.task_id)}
    batch_end = next(d for d in seen["failed"] if d["task_id"] == str(batch.task_id))
    assert batch_end["data"]["children"]["failed"] == 1 and batch_end["parent_id"] is None


def test_the_terminal_event_of_a_task_without_a_terminal_row_can_match_the_schema(init_dsn):
    """ProgressEvent.from_task, for stream.py's synthesized end (see conftest.KNOWN_GAPS)."""
    from sqlmig.progress.store import fetch_task

    with connect(init_dsn) as conn:
        failed = ProgressReporter.create(conn, "t")
        failed.report(30, "working")
        done = ProgressReporter.create(conn, "t")
        done.report(30, "working")
        conn.execute(
            "UPDATE async_tasks SET status = 'FAILED', completed_at = now(),"
            ' error_data = \'{"message": "killed"}\' WHERE id = %s',
            (failed.task_id,),
        )
        conn.execute(
            "UPDATE async_tasks SET status = 'COMPLETED', progress = 100, completed_at = now(),"
            " result_data = '{\"n\": 1}' WHERE id = %s",
            (done.task_id,),
        )
        tasks = [fetch_task(conn, failed.task_id), fetch_task(conn, done.task_id)]
    validator = schema_validator()
    payloads = [ProgressEvent.from_task(task).payload() for task in tasks if task]
    assert [list(validator.iter_errors(p)) for p in payloads] == [[], []]
    assert payloads[0]["error"] == "killed" and payloads[0]["seq"] == 1
    assert payloads[1]["result"] == {"n": 1} and payloads[1]["eta_seconds"] == 0
