"""Batches on a real database and server: roll-up, ETA, failure, cancel, the list, the CLI."""

from __future__ import annotations

import json
import math
import threading
import uuid
from datetime import UTC, datetime, timedelta
from decimal import ROUND_HALF_UP, Decimal

import psycopg
import pytest
from click.testing import CliRunner
from support.db import query
from support.progress import (
    SSE,
    Background,
    connect,
    progress_server,
    request,
    stream_path,
    wait_until,
)

from sqlmig.cli import cli
from sqlmig.progress import ProgressReporter, ReportError, TaskCancelled
from sqlmig.progress.store import cancel_task, create_task

TERMINAL = ("COMPLETED", "FAILED", "CANCELLED")


def task_row(dsn, task_id):
    return query(
        dsn,
        "SELECT status::text, progress, error_data, result_data FROM async_tasks WHERE id = %s",
        task_id,
    )[0]


def expected_percent(children: list[tuple[str, float, float]]) -> Decimal:
    """The documented roll-up: size-weighted mean, a finished child counting 100."""
    weight = sum(Decimal(str(size)) for _, _, size in children)
    settled = sum(
        Decimal(str(size)) * (Decimal(100) if status in TERMINAL else Decimal(str(percent)))
        for status, percent, size in children
    )
    value = (settled / weight).quantize(Decimal("0.01"), rounding=ROUND_HALF_UP)
    if any(status not in TERMINAL for status, _, _ in children) and any(
        status != "PENDING" for status, _, _ in children
    ):
        value = min(value, Decimal("99.99"))
    return value


def assert_counters_match_the_children(dsn, batch_id):
    """The batch's task_batches row (kept by deltas) equals a count of its children now."""
    kept = query(
        dsn,
        "SELECT total, pending, running, completed, failed, cancelled, weight, settled"
        " FROM task_batches WHERE task_id = %s",
        batch_id,
    )
    counted = query(
        dsn,
        "SELECT count(*)::int, count(*) FILTER (WHERE status = 'PENDING')::int,"
        " count(*) FILTER (WHERE status = 'RUNNING')::int,"
        " count(*) FILTER (WHERE status = 'COMPLETED')::int,"
        " count(*) FILTER (WHERE status = 'FAILED')::int,"
        " count(*) FILTER (WHERE status = 'CANCELLED')::int,"
        " coalesce(sum(coalesce(size, 1)), 0),"
        " coalesce(sum(coalesce(size, 1) * CASE WHEN status IN ('COMPLETED', 'FAILED',"
        " 'CANCELLED') THEN 100 ELSE progress END), 0)"
        " FROM async_tasks WHERE parent_id = %s",
        batch_id,
    )
    assert kept == counted


def rows(dsn, task_id):
    return query(
        dsn,
        "SELECT seq, status::text, percent, stage, message, data, eta_seconds, parent_id"
        " FROM task_progress WHERE task_id = %s ORDER BY seq",
        task_id,
    )


def test_batch_of_20_with_sizes_rolls_up_percent_eta_and_completes(init_dsn, validated_events):
    sizes = [float(n) for n in range(1, 21)]
    with progress_server(init_dsn) as srv, connect(init_dsn) as conn:
        batch = ProgressReporter.create_batch(conn, "memory.batch_import", input_data={"n": 20})
        children = batch.add_children("memory.episode", [{"n": n} for n in range(20)], sizes=sizes)
        assert task_row(init_dsn, batch.task_id)[:2] == ("PENDING", 0)
        assert rows(init_dsn, batch.task_id) == [], "nothing moved yet: no parent row"
        state = [("PENDING", 0.0, size) for size in sizes]
        with SSE(srv.port, stream_path(batch.task_id)) as client:
            for n, child in enumerate(children):
                child.report(40, "half way", stage="extracting")
                state[n] = ("RUNNING", 40.0, sizes[n])
                assert task_row(init_dsn, batch.task_id)[:2] == ("RUNNING", expected_percent(state))
                child.complete({"n": n})
                state[n] = ("COMPLETED", 100.0, sizes[n])
                assert task_row(init_dsn, batch.task_id)[1] == expected_percent(state)
            messages = client.until_end()
    status, progress, error, result = task_row(init_dsn, batch.task_id)
    assert (status, progress, error) == ("COMPLETED", 100, None)
    counts = {"total": 20, "pending": 0, "running": 0, "completed": 20, "failed": 0, "cancelled": 0}
    assert result == {"children": counts}

    assert_counters_match_the_children(init_dsn, batch.task_id)
    parent_rows = rows(init_dsn, batch.task_id)
    assert len(parent_rows) == 40, "one row per change of the batch"
    assert [r[0] for r in parent_rows] == list(range(1, 41))
    assert all(r[3] == "batch" for r in parent_rows[:-1]) and parent_rows[-1][3] == "completed"
    assert parent_rows[-1][4] == "20 of 20 done" and parent_rows[-1][5] == {"children": counts}
    percents = [r[2] for r in parent_rows]
    assert percents == sorted(percents), "the batch never goes backwards here"
    # ETA: unknown on the first row only, then the rate of the batch's percent
    assert parent_rows[0][6] is None
    assert all(r[6] is not None and r[6] >= 0 for r in parent_rows[1:-1])
    assert parent_rows[-1][6] == 0
    assert all(r[7] is None for r in parent_rows), "a batch has no parent"
    for child in children:
        assert {r[7] for r in rows(init_dsn, child.task_id)} == {batch.task_id}

    # the stream of the batch: every row, ending with completed; schema-checked (conftest)
    assert [m.event for m in messages] == ["progress"] * 39 + ["completed"]
    assert validated_events.count >= 40
    last = messages[-1].json()
    assert last["id"] == str(batch.task_id) and last["progress"] == 100
    assert last["data"]["children"] == counts and last["eta_seconds"] == 0
    running = messages[20].json()
    assert running["state"] == "RUNNING" and running["progress"] == math.floor(running["percent"])
    assert running["eta_seconds"] is not None


def test_a_failed_child_fails_the_batch_once_every_child_finished(init_dsn):
    with connect(init_dsn) as conn:
        batch = ProgressReporter.create_batch(conn, "import")
        first, second, third = batch.add_children("episode", [None, None, None])
        first.report(20)
        first.fail(RuntimeError("bad episode"))
        assert task_row(init_dsn, batch.task_id)[:2] == ("RUNNING", Decimal("33.33"))
        second.complete()
        assert task_row(init_dsn, batch.task_id)[0] == "RUNNING", "siblings go on"
        third.report(50)
        third.complete()
    status, progress, error, result = task_row(init_dsn, batch.task_id)
    assert (status, progress, result) == ("FAILED", 100, None)
    assert error["type"] == "BatchFailed" and error["message"] == "1 of 3 children failed"
    assert error["children"]["failed"] == 1 and error["children"]["completed"] == 2
    last = rows(init_dsn, batch.task_id)[-1]
    assert last[1:5] == ("FAILED", 100, "failed", "2 of 3 done, 1 failed")
    assert last[6] is None


def test_a_cancelled_child_cancels_the_batch_only_when_nothing_failed(init_dsn):
    with connect(init_dsn) as conn:
        batch = ProgressReporter.create_batch(conn, "import")
        first, second = batch.add_children("episode", [None, None])
        first.report(10)
        assert cancel_task(conn, first.task_id).cancelled
        assert task_row(init_dsn, batch.task_id)[:2] == ("RUNNING", 50)
        second.complete()
    assert task_row(init_dsn, batch.task_id)[:2] == ("CANCELLED", 100)


def test_batch_rules_are_enforced(init_dsn):
    with connect(init_dsn) as conn:
        batch = ProgressReporter.create_batch(conn, "import")
        (child,) = batch.add_children("episode", [{"a": 1}], sizes=[2.5])
        with pytest.raises(ReportError, match="is a batch: its progress comes from its children"):
            batch.report(10)
        with pytest.raises(ReportError, match="is a batch"):
            batch.complete()
        with pytest.raises(ReportError, match="not a batch"):
            child.add_child("episode")
        lone = ProgressReporter.create(conn, "lone")
        with pytest.raises(ReportError, match="not a batch"):
            lone.add_child("episode")
        with pytest.raises(ReportError, match="positive"):
            batch.add_children("episode", [None], sizes=[0])
        with pytest.raises(ReportError, match="2 sizes for 1 children"):
            batch.add_children("episode", [None], sizes=[1, 2])
        with pytest.raises(psycopg.errors.RestrictViolation, match="cannot change"):
            conn.execute("UPDATE async_tasks SET size = 3 WHERE id = %s", (child.task_id,))
        with pytest.raises(psycopg.errors.CheckViolation, match="one_level"):
            create_task(conn, "nested", {}, parent_id=batch.task_id, is_batch=True)
        child.complete()
        assert task_row(init_dsn, batch.task_id)[0] == "COMPLETED"
        with pytest.raises(ReportError, match="already COMPLETED: no more children"):
            batch.add_child("episode")
    assert query(init_dsn, "SELECT size FROM async_tasks WHERE id = %s", child.task_id) == [
        (Decimal("2.5"),)
    ]


def test_cancel_of_the_batch_cancels_its_children_and_their_reporters_notice(init_dsn):
    with progress_server(init_dsn) as srv, connect(init_dsn) as conn:
        batch = ProgressReporter.create_batch(conn, "import")
        children = batch.add_children("episode", [None] * 5)
        children[0].report(30)
        children[1].report(60)
        children[2].complete()
        with (
            SSE(srv.port, stream_path(batch.task_id)) as parent_stream,
            SSE(srv.port, stream_path(children[1].task_id)) as child_stream,
        ):
            resp = request(srv.port, "POST", f"/api/v1/tasks/{batch.task_id}/cancel")
            assert resp.status == 200, resp.body
            assert resp.json()["task"]["status"] == "CANCELLED"
            parent_events = parent_stream.until_end()
            child_events = child_stream.until_end()
        for n in (0, 1, 3, 4):
            assert children[n].cancelled
            with pytest.raises(TaskCancelled):
                children[n].report(90)
        with pytest.raises(ReportError, match="already CANCELLED: no more children"):
            batch.add_child("episode")
    assert parent_events[-1].event == "cancelled"
    assert child_events[-1].event == "cancelled"
    assert child_events[-1].json()["message"] == "Cancelled with its batch."
    assert child_events[-1].json()["parent_id"] == str(batch.task_id)
    statuses = query(
        init_dsn,
        "SELECT status::text, count(*) FROM async_tasks WHERE parent_id = %s GROUP BY 1 ORDER BY 1",
        batch.task_id,
    )
    assert statuses == [("CANCELLED", 4), ("COMPLETED", 1)]
    assert rows(init_dsn, batch.task_id)[-1][1] == "CANCELLED", "nothing after the cancel"


def test_concurrent_children_and_a_racing_cancel_neither_lose_updates_nor_deadlock(init_dsn):
    n_children = 8
    with connect(init_dsn) as conn:
        batch = ProgressReporter.create_batch(conn, "import")
        ids = [c.task_id for c in batch.add_children("episode", [None] * n_children)]
        done = threading.Barrier(n_children + 1)

        def work(task_id, steps):
            with connect(init_dsn) as own:
                rep = ProgressReporter(own, task_id)
                done.wait()
                try:
                    for percent in range(1, steps):
                        rep.report(percent)
                    rep.complete()
                    return "completed"
                except TaskCancelled:
                    return "cancelled"

        # half the children finish quickly, half would take long: cancel lands among them
        workers = [
            Background(lambda t=t, n=n: work(t, 5 if n % 2 else 400)) for n, t in enumerate(ids)
        ]
        done.wait()
        wait_until(
            lambda: (
                query(
                    init_dsn,
                    "SELECT count(*) FROM async_tasks WHERE parent_id = %s AND status = 'COMPLETED'",
                    batch.task_id,
                )[0][0]
                >= n_children // 2
            ),
            "the quick children",
        )
        assert cancel_task(conn, batch.task_id).cancelled
        outcomes = [w.result() for w in workers]
    assert outcomes.count("completed") >= n_children // 2
    assert "cancelled" in outcomes
    assert task_row(init_dsn, batch.task_id)[0] == "CANCELLED"
    unfinished = query(
        init_dsn,
        "SELECT count(*) FROM async_tasks WHERE parent_id = %s AND status NOT IN"
        " ('COMPLETED', 'CANCELLED')",
        batch.task_id,
    )
    assert unfinished == [(0,)]
    assert_counters_match_the_children(init_dsn, batch.task_id)


def test_concurrent_children_roll_up_to_exactly_the_final_state(init_dsn):
    n_children = 6
    with connect(init_dsn) as conn:
        batch = ProgressReporter.create_batch(conn, "import")
        ids = [
            c.task_id
            for c in batch.add_children("episode", [None] * n_children, sizes=[1, 2, 3, 4, 5, 6])
        ]

    def work(task_id):
        with connect(init_dsn) as own:
            rep = ProgressReporter(own, task_id)
            for percent in range(5, 100, 5):
                rep.report(percent)

    for worker in [Background(lambda t=t: work(t)) for t in ids]:
        worker.result()
    # every child at 95 %: the batch is exactly there, however the reports interleaved
    assert task_row(init_dsn, batch.task_id)[:2] == ("RUNNING", 95)
    assert_counters_match_the_children(init_dsn, batch.task_id)
    seqs = [r[0] for r in rows(init_dsn, batch.task_id)]
    assert seqs == list(range(1, len(seqs) + 1))


def test_eta_of_a_task_from_the_rate_of_its_percent(init_dsn):
    with connect(init_dsn) as conn:
        rep = ProgressReporter.create(conn, "t")
        rep.report(10)
        rep.report(10, "no movement")
        rep.report(40)
        rep.complete()
        failed = ProgressReporter.create(conn, "t")
        failed.report(10)
        failed.report(20)
        failed.fail("boom")
    got = query(
        init_dsn,
        "SELECT seq, percent, eta_seconds, created_at FROM task_progress WHERE task_id = %s"
        " ORDER BY seq",
        rep.task_id,
    )
    (_, p1, e1, t1), (_, _, e2, _), (_, p3, e3, t3), (_, _, e4, _) = got
    assert (e1, e2, e4) == (None, None, 0)
    # the oldest of the recent rows (seq 1) to this one, extrapolated to 100
    seconds = Decimal(str((t3 - t1).total_seconds()))
    assert e3 == ((100 - p3) * seconds / (p3 - p1)).quantize(Decimal("0.1"), ROUND_HALF_UP)
    assert [r[0] for r in rows(init_dsn, failed.task_id)][-1] == 3
    assert rows(init_dsn, failed.task_id)[-1][6] is None


def test_the_api_lists_batches_children_filters_and_pages_stably(init_dsn):
    with progress_server(init_dsn) as srv, connect(init_dsn) as conn:
        batch = ProgressReporter.create_batch(conn, "memory.batch_import")
        children = batch.add_children("memory.episode", [None] * 20)
        children[0].complete()
        children[1].report(50)
        children[2].fail("boom")
        lone = ProgressReporter.create(conn, "memory.episode")

        def get(path):
            resp = request(srv.port, "GET", path)
            assert resp.status == 200, resp.body
            return resp.json()

        one = get(f"/api/v1/tasks/{batch.task_id}")
        assert one["is_batch"] is True and one["status"] == "RUNNING"
        assert one["children"] == {
            "total": 20,
            "pending": 17,
            "running": 1,
            "completed": 1,
            "failed": 1,
            "cancelled": 0,
        }
        assert one["links"]["children"] == f"/api/v1/tasks/{batch.task_id}/children"
        assert one["eta_seconds"] is None or one["eta_seconds"] >= 0
        child = get(f"/api/v1/tasks/{children[1].task_id}")
        assert child["parent_id"] == str(batch.task_id) and child["children"] is None

        top = get("/api/v1/tasks?parent=none")["tasks"]
        assert [t["id"] for t in top] == [str(lone.task_id), str(batch.task_id)]
        kinds = get("/api/v1/tasks?type=memory.episode&limit=500")["tasks"]
        assert len(kinds) == 21
        assert [t["id"] for t in get("/api/v1/tasks?status=failed")["tasks"]] == [
            str(children[2].task_id)
        ]
        assert get(f"/api/v1/tasks?parent={batch.task_id}&status=RUNNING")["tasks"][0]["id"] == (
            str(children[1].task_id)
        )

        # children, 7 a page, through the cursor
        seen, cursor, pages = [], None, 0
        while True:
            path = f"/api/v1/tasks/{batch.task_id}/children?limit=7"
            body = get(path + (f"&cursor={cursor}" if cursor else ""))
            seen += [t["id"] for t in body["tasks"]]
            pages += 1
            cursor = body["next_cursor"]
            if cursor is None:
                break
        assert pages == 3 and sorted(seen) == sorted(str(c.task_id) for c in children)

        # every task, 5 a page, while new tasks keep arriving: history pages do not shift
        snapshot = [t["id"] for t in get("/api/v1/tasks?limit=500")["tasks"]]
        first = get("/api/v1/tasks?limit=5")
        paged = [t["id"] for t in first["tasks"]]
        cursor = first["next_cursor"]
        while cursor:
            for _ in range(3):
                ProgressReporter.create(conn, "arrived.meanwhile")
            body = get(f"/api/v1/tasks?limit=5&cursor={cursor}")
            paged += [t["id"] for t in body["tasks"]]
            cursor = body["next_cursor"]
        assert paged == snapshot

        bad = request(srv.port, "GET", "/api/v1/tasks?cursor=bm9wZQ")
        assert bad.status == 400 and "malformed cursor" in bad.json()["error"]
        missing = request(srv.port, "GET", f"/api/v1/tasks/{uuid.uuid4()}/children")
        assert missing.status == 404
        bad_parent = request(srv.port, "GET", "/api/v1/tasks?parent=xyz")
        assert bad_parent.status == 400


def run(*args: str):
    return CliRunner().invoke(cli, list(args), catch_exceptions=False)


def test_tasks_list_cli(init_dsn):
    with progress_server(init_dsn) as srv, connect(init_dsn) as conn:
        batch = ProgressReporter.create_batch(conn, "memory.batch_import")
        children = batch.add_children("memory.episode", [None] * 3)
        children[0].complete()
        children[1].report(40, "Extracting")
        lone = ProgressReporter.create(conn, "memory.episode")
        lone.fail("boom")

        text = run("tasks", "list", "--url", srv.url)
        as_json = run("tasks", "list", "--url", srv.url, "--format", "json", "--all")
        failed = run("tasks", "list", "--url", srv.url, "--status", "failed")
        typed = run("tasks", "list", "--url", srv.url, "--type", "memory.batch_import")
        kids = run(
            "tasks", "list", "--url", srv.url, "--parent", str(batch.task_id), "--limit", "2"
        )
        unknown = run("tasks", "list", "--url", srv.url, "--parent", "nope")
    assert text.exit_code == 0, text.output
    lines = text.output.splitlines()
    assert lines[0].split() == ["ID", "STATUS", "%", "ETA", "TYPE", "CREATED", "NOTE"]
    assert len(lines) == 3, "top level: the batch and the lone task, not the children"
    assert str(batch.task_id) in lines[2] and "RUNNING" in lines[2]
    assert lines[2].endswith("1/3 done, 1 running")
    assert str(lone.task_id) in lines[1] and "FAILED" in lines[1] and lines[1].endswith("boom")
    body = json.loads(as_json.output)
    assert len(body["tasks"]) == 5 and body["next_cursor"] is None
    assert [ln.split()[0] for ln in failed.output.splitlines()[1:]] == [str(lone.task_id)]
    assert [ln.split()[0] for ln in typed.output.splitlines()[1:]] == [str(batch.task_id)]
    kid_lines = kids.output.splitlines()
    assert len(kid_lines) == 4 and kid_lines[-1].startswith("(more: --cursor ")
    assert unknown.exit_code == 2 and "malformed task id" in unknown.output


def test_tasks_list_without_a_server_exits_3():
    result = CliRunner().invoke(cli, ["tasks", "list", "--url", "http://127.0.0.1:9"])
    assert result.exit_code == 3 and "cannot reach the progress server" in result.output


def test_tasks_watch_follows_a_batch_to_its_end(init_dsn, validated_events):
    with progress_server(init_dsn) as srv, connect(init_dsn) as conn:
        batch = ProgressReporter.create_batch(conn, "import")
        children = batch.add_children("episode", [None] * 4)
        children[0].report(40)

        def work():
            with connect(init_dsn) as own:
                for child in children:
                    rep = ProgressReporter(own, child.task_id)
                    rep.report(60)
                    rep.sleep(0.02)
                    rep.complete()

        worker = Background(work)
        result = run("tasks", "watch", str(batch.task_id), "--url", srv.url)
        worker.result()
    assert result.exit_code == 0, result.output
    lines = result.output.splitlines()
    assert lines[0] == "   10 %  0 of 4 done, 1 running"
    assert "  100 %  4 of 4 done" in lines and lines[-1] == "Completed."
    assert validated_events.count == len(lines) - 1


def test_demo_batch(init_dsn):
    ok = run("--dsn", init_dsn, "demo", "batch", "--children", "3", "--delay", "0")
    assert ok.exit_code == 0, ok.output
    assert ok.output.splitlines()[-4:] == [
        "child 1/3 completed",
        "child 2/3 completed",
        "child 3/3 completed",
        "batch COMPLETED",
    ]
    failed = run(
        "--dsn", init_dsn, "demo", "batch", "--children", "3", "--delay", "0", "--fail-child", "2"
    )
    assert failed.exit_code == 1
    assert "child 2/3 failed" in failed.output and "batch FAILED" in failed.output
    sizes = query(
        init_dsn,
        "SELECT c.size FROM async_tasks c JOIN async_tasks p ON p.id = c.parent_id"
        " WHERE p.status = 'COMPLETED' ORDER BY c.size",
    )
    assert sizes == [(1,), (2,), (3,)]


def test_a_deleted_child_leaves_the_counts_and_deleting_the_batch_takes_everything(init_dsn):
    with connect(init_dsn) as conn:
        batch = ProgressReporter.create_batch(conn, "import")
        first, second, third = batch.add_children("episode", [None] * 3, sizes=[1, 1, 2])
        first.complete()
        second.report(50)
        assert task_row(init_dsn, batch.task_id)[:2] == ("RUNNING", Decimal("37.50"))
        conn.execute("DELETE FROM async_tasks WHERE id = %s", (third.task_id,))
        assert_counters_match_the_children(init_dsn, batch.task_id)
        assert task_row(init_dsn, batch.task_id)[:2] == ("RUNNING", 75)
        second.complete()
        assert task_row(init_dsn, batch.task_id)[:2] == ("COMPLETED", 100)
        conn.execute("DELETE FROM async_tasks WHERE id = %s", (batch.task_id,))
    assert query(init_dsn, "SELECT count(*) FROM async_tasks") == [(0,)]
    assert query(init_dsn, "SELECT count(*) FROM task_batches") == [(0,)]
    assert query(init_dsn, "SELECT count(*) FROM task_progress") == [(0,)]


def test_eta_follows_the_rule_on_the_probe_and_the_scan_path(init_dsn):
    """sql/init/15: the base row found by key (row 20 back within 60 s) or by the scan
    (it is older) gives the value the documented rule gives, row by row."""
    start = datetime(2026, 12, 1, 12, 0, tzinfo=UTC)
    gaps = [1.0] * 25 + [70.0] + [4.0] * 30 + [0.5] * 25  # fast, a pause, slow, fast again
    times, at = [], start
    for gap in gaps:
        at += timedelta(seconds=gap)
        times.append(at)
    with connect(init_dsn) as conn:
        task = ProgressReporter.create(conn, "t").task_id
        for i, when in enumerate(times):
            conn.execute(
                "INSERT INTO task_progress (task_id, status, percent, created_at)"
                " VALUES (%s, 'RUNNING', %s, %s)",
                (task, Decimal(i) + Decimal("0.5"), when),
            )
    got = query(
        init_dsn,
        "SELECT seq, percent, created_at, eta_seconds FROM task_progress WHERE task_id = %s"
        " ORDER BY seq",
        task,
    )

    def rule(k: int) -> Decimal | None:
        seq, p, t, _ = got[k]
        window = [
            r
            for r in got[max(0, k - 20) : k]
            if t - r[2] <= timedelta(seconds=60) or r[0] == seq - 1
        ]
        if not window:
            return None
        _, p0, t0, _ = window[0]
        if not (p > p0 and t > t0):
            return None
        eta = (100 - p) * Decimal(str((t - t0).total_seconds())) / (p - p0)
        return eta.quantize(Decimal("0.1"), ROUND_HALF_UP)

    assert [r[3] for r in got] == [rule(k) for k in range(len(got))]
    assert got[24][3] is not None and got[40][3] is not None  # both paths gave a value
