"""ProgressBatcher against a real database: many tasks' rows in one transaction, exactly what
was reported (cancelled, finished and failed flushes included), and the stream sees them."""

from __future__ import annotations

import json
import threading
import time

import pytest
from support.db import query
from support.progress import SSE, connect, progress_server, stream_path, wait_until

from sqlmig.progress import ProgressReporter, ReportError, TaskCancelled
from sqlmig.progress.batcher import ProgressBatcher, ProgressWriteError
from sqlmig.progress.store import cancel_task

SLOW = 3600.0  # no flush by the thread: the test flushes


def seqs(dsn, task_id):
    return query(
        dsn,
        "SELECT seq, status::text, percent, message FROM task_progress WHERE task_id = %s"
        " ORDER BY seq",
        task_id,
    )


def test_one_flush_writes_every_task_s_rows_in_one_transaction(init_dsn):
    with connect(init_dsn) as conn, connect(init_dsn) as listener, connect(init_dsn) as mine:
        listener.execute("LISTEN task_progress")
        tasks = [ProgressReporter.create(conn, "t").task_id for _ in range(20)]
        with ProgressBatcher(mine, interval_s=SLOW) as batcher:

            def work(mine):
                for k in range(5):
                    for task in mine:
                        batcher.reporter(task).report(
                            k * 10 + 0.5, f"row {k}", stage="s", data={"k": k}
                        )

            threads = [threading.Thread(target=work, args=(tasks[i::3],)) for i in range(3)]
            for t in threads:
                t.start()
            for t in threads:
                t.join()
            assert query(init_dsn, "SELECT count(*) FROM task_progress") == [(0,)]
            assert batcher.flush() == 100
            assert batcher.flush() == 0
        sent = [json.loads(n.payload) for n in listener.notifies(timeout=1, stop_after=100)]
    assert query(init_dsn, "SELECT count(DISTINCT xmin::text) FROM task_progress") == [(1,)]
    for task in tasks:
        assert seqs(init_dsn, task) == [
            (k + 1, "RUNNING", k * 10 + 0.5, f"row {k}") for k in range(5)
        ]
        mine = [(n["seq"], n["data"]) for n in sent if n["task_id"] == str(task)]
        assert mine == [(k + 1, {"k": k}) for k in range(5)], "NOTIFY per row, in order"
    state = query(
        init_dsn,
        "SELECT DISTINCT status::text, progress, started_at IS NOT NULL FROM async_tasks",
    )
    assert state == [("RUNNING", 40.5, True)]
    # the ETA trigger saw the rows before it in the same statement
    etas = query(
        init_dsn, "SELECT count(*) FROM task_progress WHERE seq > 1 AND eta_seconds IS NULL"
    )
    assert etas == [(0,)]


def test_rows_reach_a_live_stream_once_each_and_in_order(init_dsn, validated_events):
    with progress_server(init_dsn) as srv, connect(init_dsn) as conn, connect(init_dsn) as mine:
        task = ProgressReporter.create(conn, "t").task_id
        with SSE(srv.port, stream_path(task)) as client:
            with ProgressBatcher(mine, interval_s=0.02) as batcher:
                rep = batcher.reporter(task)
                for k in range(30):
                    rep.report(k * 3, f"row {k}")
                    if k % 7 == 0:
                        batcher.flush()
                assert rep.complete({"ok": True}) == 31
                assert batcher.flushes >= 2
            messages = client.until_end()
    assert [int(m.id) for m in messages] == list(range(1, 32))
    assert [m.json()["message"] for m in messages[:-1]] == [f"row {k}" for k in range(30)]
    assert messages[-1].event == "completed" and validated_events.count == 31


BAD = [
    ("backwards", (5,), {}, "cannot go backwards"),
    ("over 100", (101,), {}, "between 0 and 100"),
    ("stage", (20,), {"stage": "Not A Name"}, "machine name"),
    ("NUL", (20, "a\0b"), {}, "NUL"),
    ("data", (20,), {"data": {"x": object()}}, "JSON object"),
    ("NaN data", (20,), {"data": {"x": float("nan")}}, "JSON object"),
]


@pytest.mark.parametrize(("why", "args", "kwargs", "text"), BAD, ids=[b[0] for b in BAD])
def test_a_bad_report_is_refused_when_made_and_nothing_is_queued(init_dsn, why, args, kwargs, text):
    with connect(init_dsn) as conn, connect(init_dsn) as mine:
        task = ProgressReporter.create(conn, "t").task_id
        with ProgressBatcher(mine, interval_s=SLOW) as batcher:
            rep = batcher.reporter(task)
            rep.report(10)
            with pytest.raises(ReportError, match=text):
                rep.report(*args, **kwargs)
            assert batcher.flush() == 1
    assert [r[2] for r in seqs(init_dsn, task)] == [10]


def test_a_cancelled_task_s_queued_rows_are_not_written_and_its_next_call_raises(init_dsn):
    with connect(init_dsn) as conn, connect(init_dsn) as mine:
        a, b = (ProgressReporter.create(conn, "t").task_id for _ in range(2))
        with ProgressBatcher(mine, interval_s=SLOW) as batcher:
            ra, rb = batcher.reporter(a), batcher.reporter(b)
            ra.report(10, "before")
            rb.report(10, "before")
            batcher.flush()
            assert cancel_task(conn, a).cancelled
            ra.report(20, "after the cancel")
            rb.report(20, "after")
            assert batcher.flush() == 1
            assert ra.cancelled and not rb.cancelled
            with pytest.raises(TaskCancelled):
                ra.report(30)
            with pytest.raises(TaskCancelled):
                ra.complete()
            assert rb.complete() == 3
    assert [(r[0], r[1]) for r in seqs(init_dsn, a)] == [(1, "RUNNING"), (2, "CANCELLED")]
    assert [(r[1], r[3]) for r in seqs(init_dsn, b)] == [
        ("RUNNING", "before"), ("RUNNING", "after"), ("COMPLETED", "Completed"),
    ]  # fmt: skip


def test_rows_of_a_task_finished_elsewhere_are_not_written_and_close_says_so(init_dsn):
    with connect(init_dsn) as conn, connect(init_dsn) as mine:
        task = ProgressReporter.create(conn, "t")
        batcher = ProgressBatcher(mine, interval_s=SLOW)
        batcher.reporter(task.task_id).report(10, "queued")
        task.complete()
        assert batcher.flush() == 0
        with pytest.raises(ReportError, match="already COMPLETED; its queued progress was not"):
            batcher.close()
    assert [r[1] for r in seqs(init_dsn, task.task_id)] == ["COMPLETED"]


def test_a_failed_flush_says_how_many_rows_were_not_written(init_dsn):
    with connect(init_dsn) as conn, connect(init_dsn) as mine:
        task = ProgressReporter.create(conn, "t").task_id
        batcher = ProgressBatcher(mine, interval_s=SLOW)
        for k in range(7):
            batcher.report(task, k)
        conn.execute("SELECT pg_terminate_backend(%s)", (mine.info.backend_pid,))
        with pytest.raises(ProgressWriteError, match=r"^7 progress row\(s\) were not written: "):
            batcher.flush()
        with pytest.raises(ProgressWriteError):
            batcher.report(task, 50)
        with pytest.raises(ProgressWriteError):
            batcher.close()
    assert seqs(init_dsn, task) == []


def test_two_batchers_over_two_batches_with_a_cancel_keep_every_seq_once(init_dsn):
    """Children of two batches reported by two batchers (each locks children, then batches,
    in id order, as cancel does): no deadlock, no lost or repeated seq, the cancel holds."""
    with connect(init_dsn) as conn, connect(init_dsn) as one, connect(init_dsn) as two:
        batches = [ProgressReporter.create_batch(conn, "b") for _ in range(2)]
        children = [c.task_id for b in batches for c in b.add_children("c", [None] * 10)]
        errors: list[BaseException] = []
        halfway = [threading.Event(), threading.Event()]
        go_on = threading.Event()

        def work(batcher, mine, half):
            live = list(mine)
            try:
                for k in range(40):
                    if k == 20:  # the cancel comes while both batchers are mid-way
                        half.set()
                        go_on.wait(30)
                    for task in list(live):
                        try:
                            batcher.report(task, k)
                        except TaskCancelled:
                            live.remove(task)
                    time.sleep(0.005)
                try:
                    batcher.close()
                except TaskCancelled as exc:  # its last rows met the cancel: said, not skipped
                    assert exc.task_id in children[:10]
            except BaseException as exc:
                errors.append(exc)

        pair = [ProgressBatcher(c, interval_s=0.002) for c in (one, two)]
        threads = [
            threading.Thread(target=work, args=(pair[0], children[0::2], halfway[0])),
            threading.Thread(target=work, args=(pair[1], children[1::2][::-1], halfway[1])),
        ]
        for t in threads:
            t.start()
        assert all(h.wait(30) for h in halfway)
        cancelled = cancel_task(conn, batches[0].task_id)
        go_on.set()
        for t in threads:
            t.join(60)
    assert errors == [] and cancelled.cancelled
    assert min(p.flushes for p in pair) >= 4, "flushes of both overlapped the run"
    assert [p.deadlocks for p in pair] == [0, 0]
    for i, child in enumerate(children):
        rows = seqs(init_dsn, child)
        assert [r[0] for r in rows] == list(range(1, len(rows) + 1)), "every seq once, no gap"
        assert [r[2] for r in rows] == sorted(r[2] for r in rows)
        if i < 10:
            assert rows[-1][1] == "CANCELLED" and len(rows) <= 21, "nothing after the cancel"
        else:
            assert rows[-1][1] == "RUNNING" and len(rows) == 40


def test_an_on_flush_callback_that_raises_stops_the_batcher_and_says_so(init_dsn):
    def boom(written):
        raise RuntimeError(f"counted {written}")

    with connect(init_dsn) as conn, connect(init_dsn) as mine:
        task = ProgressReporter.create(conn, "t").task_id
        batcher = ProgressBatcher(mine, interval_s=0.01, on_flush=boom)
        batcher.report(task, 10)
        wait_until(lambda: batcher.flushes == 1, "the thread's flush")
        with pytest.raises(ProgressWriteError, match="on_flush raised RuntimeError: counted 1"):
            wait_until(lambda: bool(batcher.report(task, 20)), "the error", timeout_s=5)
    assert [r[2] for r in seqs(init_dsn, task)] == [10], "the row before it was written"
