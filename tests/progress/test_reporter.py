"""The reporter API against a real database: rows, task state, NOTIFY on commit, bad calls."""

from __future__ import annotations

import json

import psycopg
import pytest
from support.db import query
from support.progress import connect

from sqlmig.progress import ProgressReporter, ReportError, TaskCancelled
from sqlmig.progress.demo import run_episode, start_episode
from sqlmig.progress.reporter import error_details
from sqlmig.progress.store import cancel_task


def notifications(listener: psycopg.Connection) -> list[dict]:
    return [json.loads(n.payload) for n in listener.notifies(timeout=0.3)]


def test_report_complete_rows_task_and_notify(init_dsn):
    with connect(init_dsn) as conn, connect(init_dsn) as listener:
        listener.execute("LISTEN task_progress")
        rep = ProgressReporter.create(conn, "test.report", input_data={"a": 1})
        assert query(
            init_dsn, "SELECT status::text FROM async_tasks WHERE id = %s", rep.task_id
        ) == [("PENDING",)]
        assert rep.report(10, "first", stage="one") == 1
        assert rep.report(10, "same percent again", data={"n": 1}) == 2
        assert rep.report(55.25, "two decimals") == 3
        assert rep.complete({"answer": 42}) == 4
        sent = notifications(listener)
    assert [(n["seq"], n["status"], n["percent"], n["message"]) for n in sent] == [
        (1, "RUNNING", 10, "first"),
        (2, "RUNNING", 10, "same percent again"),
        (3, "RUNNING", 55.25, "two decimals"),
        (4, "COMPLETED", 100, "Completed"),
    ]
    assert sent[1]["data"] == {"n": 1} and sent[3]["data"] == {"result": {"answer": 42}}
    assert all(n["task_id"] == str(rep.task_id) and n["truncated"] is False for n in sent)
    row = query(
        init_dsn,
        "SELECT status::text, progress, result_data, started_at IS NOT NULL,"
        " completed_at >= started_at FROM async_tasks WHERE id = %s",
        rep.task_id,
    )
    assert row == [("COMPLETED", 100, {"answer": 42}, True, True)]


@pytest.mark.parametrize("bad", [-1, 100.5, 101, float("nan"), float("inf"), 1.234, "10", True])
def test_percent_must_be_in_range(init_dsn, bad):
    with connect(init_dsn) as conn:
        rep = ProgressReporter.create(conn, "test.bad")
        with pytest.raises(ReportError, match="percent"):
            rep.report(bad)
        assert query(init_dsn, "SELECT count(*) FROM task_progress") == [(0,)]


def test_progress_cannot_go_backwards_and_nothing_is_written(init_dsn):
    with connect(init_dsn) as conn, connect(init_dsn) as listener:
        rep = ProgressReporter.create(conn, "test.backwards")
        rep.report(50)
        listener.execute("LISTEN task_progress")
        with pytest.raises(ReportError, match=r"cannot go backwards: .* at 50 %, reported 40 %"):
            rep.report(40)
        assert notifications(listener) == []
    assert query(init_dsn, "SELECT count(*) FROM task_progress") == [(1,)]


def test_reporting_on_a_finished_task_is_an_error(init_dsn):
    with connect(init_dsn) as conn:
        rep = ProgressReporter.create(conn, "test.finished")
        rep.complete()
        with pytest.raises(ReportError, match="already COMPLETED"):
            rep.report(100)
        with pytest.raises(ReportError, match="already COMPLETED"):
            rep.complete()
        with pytest.raises(ReportError, match="already COMPLETED"):
            rep.fail("late")
        failed = ProgressReporter.create(conn, "test.finished")
        failed.fail(RuntimeError("boom"))
        with pytest.raises(ReportError, match="already FAILED"):
            failed.report(1)


def test_unknown_task_and_blank_type(init_dsn):
    import uuid

    with connect(init_dsn) as conn:
        with pytest.raises(ReportError, match="no task"):
            ProgressReporter(conn, uuid.uuid4()).report(1)
        with pytest.raises(ReportError, match="blank"):
            ProgressReporter.create(conn, "  ")


def test_cancellation_is_seen_by_the_reporter(init_dsn):
    with connect(init_dsn) as conn, connect(init_dsn) as other:
        rep = ProgressReporter.create(conn, "test.cancel")
        rep.report(30)
        assert not rep.cancelled
        outcome = cancel_task(other, rep.task_id)
        assert outcome.cancelled and outcome.seq == 2
        assert rep.cancelled
        with pytest.raises(TaskCancelled) as raised:
            rep.report(40)
        assert raised.value.exit_code == 1 and str(rep.task_id) in str(raised.value)
        with pytest.raises(TaskCancelled):
            rep.complete()
        again = cancel_task(other, rep.task_id)
        assert (again.found, again.cancelled, again.status) == (True, False, "CANCELLED")
    assert query(
        init_dsn,
        "SELECT status::text, percent::float8, stage FROM task_progress WHERE task_id = %s ORDER BY seq",
        rep.task_id,
    ) == [("RUNNING", 30.0, None), ("CANCELLED", 30.0, "cancelled")]


def test_cancel_before_start_satisfies_the_table_checks(init_dsn):
    with connect(init_dsn) as conn:
        rep = ProgressReporter.create(conn, "test.cancel")
        assert cancel_task(conn, rep.task_id).cancelled
    assert query(
        init_dsn,
        "SELECT status::text, started_at IS NULL, completed_at IS NOT NULL FROM async_tasks WHERE id = %s",
        rep.task_id,
    ) == [("CANCELLED", True, True)]


def test_fail_records_redacted_error(init_dsn):
    with connect(init_dsn) as conn:
        rep = ProgressReporter.create(conn, "test.fail")
        rep.report(20)
        try:
            raise ValueError("cannot reach postgresql://app:hunter2@db/app")
        except ValueError as exc:
            rep.fail(exc, stage="extracting")
    [(error, status)] = query(
        init_dsn, "SELECT error_data, status::text FROM async_tasks WHERE id = %s", rep.task_id
    )
    assert status == "FAILED" and error["type"] == "ValueError"
    assert "hunter2" not in json.dumps(error) and "app:***@db" in error["message"]
    [(data, percent)] = query(
        init_dsn,
        "SELECT data, percent::float8 FROM task_progress WHERE task_id = %s AND status = 'FAILED'",
        rep.task_id,
    )
    assert data == {"error": {"type": "ValueError", "message": error["message"]}}
    assert percent == 20.0


def test_error_details_from_text():
    assert error_details("disk full") == {"type": "Error", "message": "disk full"}


def test_episode_pipeline_rows(init_dsn):
    with connect(init_dsn) as conn:
        memory_id, rep = start_episode(conn, title="Pilot")
        seen = []
        run_episode(rep, memory_id, delay_s=0, on_stage=lambda s: seen.append(s.percent))
    assert seen == [10, 20, 30, 50, 75, 100]
    assert query(
        init_dsn,
        "SELECT seq, status::text, percent::int, stage FROM task_progress WHERE task_id = %s ORDER BY seq",
        rep.task_id,
    ) == [
        (1, "RUNNING", 10, "ingesting"),
        (2, "RUNNING", 20, "loading_schema"),
        (3, "RUNNING", 30, "extracting"),
        (4, "RUNNING", 50, "syncing_schema"),
        (5, "RUNNING", 75, "updating_communities"),
        (6, "COMPLETED", 100, "completed"),
    ]
    assert query(
        init_dsn, "SELECT title, status, task_id FROM memories WHERE id = %s", memory_id
    ) == [("Pilot", "READY", rep.task_id)]


def test_a_childs_notify_carries_its_batch_and_eta_then_the_batchs_row_follows(init_dsn):
    with connect(init_dsn) as conn, connect(init_dsn) as listener:
        batch = ProgressReporter.create_batch(conn, "test.batch")
        (child,) = batch.add_children("test.child", [{"n": 1}], sizes=[4])
        listener.execute("LISTEN task_progress")
        child.report(10)
        child.report(60)
        sent = notifications(listener)
    assert [(n["task_id"], n["seq"], n["percent"]) for n in sent] == [
        (str(child.task_id), 1, 10),
        (str(batch.task_id), 1, 10),
        (str(child.task_id), 2, 60),
        (str(batch.task_id), 2, 60),
    ]
    assert [n["parent_id"] for n in sent] == [str(batch.task_id), None] * 2
    assert sent[0]["eta_seconds"] is None and sent[2]["eta_seconds"] >= 0
    assert sent[1]["data"] == {
        "children": {
            "total": 1,
            "pending": 0,
            "running": 1,
            "completed": 0,
            "failed": 0,
            "cancelled": 0,
        }
    }
