"""The progress server end to end: real PostgreSQL, real HTTP server on 127.0.0.1, real clients."""

from __future__ import annotations

import uuid

import pytest
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

from sqlmig.progress import ProgressReporter, TaskCancelled
from sqlmig.progress.demo import EPISODE_STAGES, run_episode, start_episode

# Streams handed to the writer once caught up (our server) and written by their
# threads only (what any other WSGI server gets).
WRITERS = pytest.mark.parametrize("direct", [True, False], ids=["direct", "threads"])


def names(messages):
    return [m.event for m in messages]


def seqs(messages):
    return [int(m.id) for m in messages]


@WRITERS
def test_full_pipeline_event_order_and_content(init_dsn, direct):
    with progress_server(init_dsn, direct=direct) as srv, connect(init_dsn) as conn:
        memory_id, rep = start_episode(conn, title="Episode 1")
        with SSE(srv.port, stream_path(rep.task_id)) as client:
            client.head()
            assert client.status == 200
            assert client.response_headers["content-type"].startswith("text/event-stream")
            assert client.response_headers["cache-control"] == "no-store"
            assert client.response_headers["x-accel-buffering"] == "no"
            wait_until(lambda: srv.hub.stats()["subscribers"] == 1, "the subscription")
            work = Background(lambda: run_episode(rep, memory_id, delay_s=0.02))
            messages = client.until_end()
            work.result()
            raw = bytes(client.raw)

    assert raw.startswith(f": task {rep.task_id}\nretry: 2000\n\n".encode())
    assert names(messages) == ["progress"] * 5 + ["completed"]
    assert seqs(messages) == [1, 2, 3, 4, 5, 6]
    rows = [m.json() for m in messages]
    assert [(r["percent"], r["stage"], r["message"]) for r in rows] == [
        (s.percent, s.stage, s.message) for s in EPISODE_STAGES
    ]
    assert [r["state"] for r in rows] == ["RUNNING"] * 5 + ["COMPLETED"]
    assert [r["status"] for r in rows] == ["processing"] * 5 + ["completed"]
    assert all(r["task_id"] == str(rep.task_id) for r in rows)
    assert rows[-1]["data"] == {"result": {"memory_id": str(memory_id)}}
    assert query(init_dsn, "SELECT status, task_id FROM memories WHERE id = %s", memory_id) == [
        ("READY", rep.task_id)
    ]
    assert query(
        init_dsn, "SELECT status::text, progress FROM async_tasks WHERE id = %s", rep.task_id
    ) == [("COMPLETED", 100)]


@WRITERS
def test_resume_with_last_event_id_loses_and_duplicates_nothing(init_dsn, direct):
    total = 60
    with progress_server(init_dsn, direct=direct) as srv, connect(init_dsn) as conn:
        rep = ProgressReporter.create(conn, "test.resume")

        def write() -> None:
            with connect(init_dsn) as own:
                writer = ProgressReporter(own, rep.task_id)
                for i in range(1, total):
                    writer.report(i * 100 // total, f"step {i}")
                writer.complete(message="done")

        work = Background(write)
        received = []
        last = None
        # Reconnect after every few events while the writer keeps committing.
        while not received or received[-1].event != "completed":
            headers = {"Last-Event-ID": last} if last else {}
            with SSE(srv.port, stream_path(rep.task_id), headers) as client:
                if client.head().status == 204:
                    break
                for _ in range(3):
                    message = client.next()
                    if message is None:
                        break
                    received.append(message)
                    last = message.id
                    if message.event == "completed":
                        break
        work.result()
    assert seqs(received) == list(range(1, total + 1))
    assert [m.json()["message"] for m in received[:-1]] == [f"step {i}" for i in range(1, total)]


def test_resume_by_query_parameter_and_after_the_end(init_dsn):
    with progress_server(init_dsn) as srv, connect(init_dsn) as conn:
        rep = ProgressReporter.create(conn, "test.resume")
        for p in (10, 20, 30):
            rep.report(p, f"at {p}")
        rep.complete()
        with SSE(srv.port, stream_path(rep.task_id, last_event_id="2")) as client:
            assert seqs(client.until_end()) == [3, 4]
        with SSE(srv.port, stream_path(rep.task_id), {"Last-Event-ID": "4"}) as client:
            # Finished and seen: 204 tells EventSource to stop reconnecting.
            assert client.head().status == 204
        with SSE(srv.port, stream_path(rep.task_id)) as client:
            assert names(client.until_end()) == ["progress"] * 3 + ["completed"]


@WRITERS
def test_cancel_reaches_the_pipeline(init_dsn, direct):
    with progress_server(init_dsn, direct=direct) as srv, connect(init_dsn) as conn:
        memory_id, rep = start_episode(conn)
        with SSE(srv.port, stream_path(rep.task_id)) as client:
            work = Background(lambda: run_episode(rep, memory_id, delay_s=30))
            first = client.next()
            assert first is not None and first.json()["stage"] == "ingesting"
            resp = request(srv.port, "POST", f"/api/v1/tasks/{rep.task_id}/cancel")
            assert resp.status == 200, resp.body
            assert resp.json()["cancelled"] is True
            assert resp.json()["task"]["status"] == "CANCELLED"
            rest = client.until_end()
            error = work.error()
        again = request(srv.port, "POST", f"/api/v1/tasks/{rep.task_id}/cancel")
    assert isinstance(error, TaskCancelled) and error.task_id == rep.task_id
    assert names(rest) == ["cancelled"]
    assert rest[0].json()["percent"] == 10 and rest[0].id == "2"
    assert again.status == 409 and "already finished (CANCELLED)" in again.json()["error"]
    assert query(init_dsn, "SELECT status FROM memories WHERE id = %s", memory_id) == [("PENDING",)]


def test_failure_shows_the_error(init_dsn):
    with progress_server(init_dsn) as srv, connect(init_dsn) as conn:
        memory_id, rep = start_episode(conn)
        with SSE(srv.port, stream_path(rep.task_id)) as client:
            work = Background(
                lambda: run_episode(rep, memory_id, delay_s=0.01, fail_at="extracting")
            )
            messages = client.until_end()
            work.error()
        task = request(srv.port, "GET", f"/api/v1/tasks/{rep.task_id}").json()
    assert names(messages) == ["progress", "progress", "failed"]
    failed = messages[-1].json()
    assert failed["state"] == "FAILED" and failed["percent"] == 20
    assert failed["data"]["error"]["type"] == "TaskFailed"
    assert "simulated failure" in failed["data"]["error"]["message"]
    assert task["status"] == "FAILED" and task["error"]["type"] == "TaskFailed"
    assert "Traceback" in task["error"]["traceback"]


def test_not_found_and_malformed_requests_answer_json(init_dsn):
    unknown = uuid.uuid4()
    with progress_server(init_dsn) as srv, connect(init_dsn) as conn:
        rep = ProgressReporter.create(conn, "test.errors")
        cases = [
            ("GET", f"/api/v1/tasks/{unknown}", {}, 404, "no task"),
            ("GET", f"/api/v1/tasks/{unknown}/stream", {}, 404, "no task"),
            ("POST", f"/api/v1/tasks/{unknown}/cancel", {}, 404, "no task"),
            ("GET", "/api/v1/tasks/not-a-uuid", {}, 400, "malformed task id"),
            ("GET", "/api/v1/tasks/not-a-uuid/stream", {}, 400, "malformed task id"),
            ("POST", "/api/v1/tasks/12345/cancel", {}, 400, "malformed task id"),
            ("GET", f"/api/v1/tasks/{'9' * 500}", {}, 400, "malformed task id"),
            (
                "GET",
                f"/api/v1/tasks/{rep.task_id}/stream",
                {"Last-Event-ID": "abc"},
                400,
                "Last-Event-ID",
            ),
            (
                "GET",
                f"/api/v1/tasks/{rep.task_id}/stream?last_event_id=-1",
                {},
                400,
                "Last-Event-ID",
            ),
            ("GET", "/api/v1/tasks?limit=0", {}, 400, "limit"),
            ("GET", "/api/v1/tasks?status=DONE", {}, 400, "unknown status"),
            ("GET", "/api/v1/nothing", {}, 404, "no such endpoint"),
            ("GET", "/nothing", {}, 404, "no such endpoint"),
            ("DELETE", f"/api/v1/tasks/{rep.task_id}", {}, 405, "not allowed"),
            ("GET", f"/api/v1/tasks/{rep.task_id}/cancel", {}, 405, "not allowed"),
        ]
        for method, path, headers, status, text in cases:
            resp = request(srv.port, method, path, headers)
            assert resp.status == status, (method, path, resp.body)
            assert resp.headers["content-type"].startswith("application/json"), path
            assert resp.headers["cache-control"] == "no-store"
            body = resp.json()
            assert text in body["error"] and body["status"] == status, body
            assert b"Traceback" not in resp.body
        assert (
            "POST"
            in request(srv.port, "GET", f"/api/v1/tasks/{rep.task_id}/cancel").headers["allow"]
        )


def test_task_json_list_health_and_page(init_dsn):
    with progress_server(init_dsn) as srv, connect(init_dsn) as conn:
        rep = ProgressReporter.create(conn, "test.json", input_data={"k": 1})
        rep.report(40, "working", stage="work")
        other = ProgressReporter.create(conn, "test.json")
        other.report(5)
        other.complete({"n": 2})
        task = request(srv.port, "GET", f"/api/v1/tasks/{rep.task_id}").json()
        listed = request(srv.port, "GET", "/api/v1/tasks?limit=10").json()["tasks"]
        done = request(srv.port, "GET", "/api/v1/tasks?status=completed").json()["tasks"]
        # the events' MemStack spelling filters too: processing is RUNNING
        running = request(srv.port, "GET", "/api/v1/tasks?status=processing").json()["tasks"]
        health = request(srv.port, "GET", "/api/v1/health")
        page = request(srv.port, "GET", f"/tasks/{rep.task_id}")
    assert task["status"] == "RUNNING" and task["progress"] == 40 and task["terminal"] is False
    assert [t["id"] for t in running] == [str(rep.task_id)]
    assert (task["stage"], task["message"], task["last_seq"]) == ("work", "working", 1)
    assert task["links"]["stream"] == f"/api/v1/tasks/{rep.task_id}/stream"
    assert task["elapsed_s"] >= 0 and task["started_at"] and task["completed_at"] is None
    assert [t["id"] for t in listed] == [str(other.task_id), str(rep.task_id)]
    assert [t["id"] for t in done] == [str(other.task_id)] and done[0]["result"] == {"n": 2}
    assert health.status == 200 and health.json()["listener"] == "connected"
    assert page.status == 200 and page.headers["content-type"].startswith("text/html")
    html = page.body.decode()
    assert str(rep.task_id) in html and "EventSource" in html
    # Self-contained: nothing loaded from elsewhere, and the CSP forbids it anyway.
    assert "http://" not in html and "https://" not in html and "src=" not in html
    assert "default-src 'none'" in page.headers["content-security-policy"]


def test_cors_preflight_and_origins(init_dsn):
    front = "http://localhost:5173"
    with progress_server(init_dsn, cors_origins=(front,)) as srv, connect(init_dsn) as conn:
        rep = ProgressReporter.create(conn, "test.cors")
        path = stream_path(rep.task_id)
        preflight = request(
            srv.port,
            "OPTIONS",
            path,
            {
                "Origin": front,
                "Access-Control-Request-Method": "GET",
                "Access-Control-Request-Headers": "last-event-id, authorization",
            },
        )
        assert preflight.status == 204
        assert preflight.headers["access-control-allow-origin"] == front
        assert "GET" in preflight.headers["access-control-allow-methods"]
        allowed_headers = preflight.headers["access-control-allow-headers"]
        assert "last-event-id" in allowed_headers and "authorization" in allowed_headers
        assert preflight.headers["vary"] == "Origin"

        cancel_preflight = request(
            srv.port,
            "OPTIONS",
            f"/api/v1/tasks/{rep.task_id}/cancel",
            {"Origin": front, "Access-Control-Request-Method": "POST"},
        )
        assert cancel_preflight.status == 204
        assert "POST" in cancel_preflight.headers["access-control-allow-methods"]

        evil = "http://evil.example"
        refused = request(
            srv.port, "OPTIONS", path, {"Origin": evil, "Access-Control-Request-Method": "GET"}
        )
        assert refused.status == 403 and "access-control-allow-origin" not in refused.headers

        with SSE(srv.port, path, {"Origin": front}) as client:
            assert client.head().response_headers["access-control-allow-origin"] == front
        with SSE(srv.port, path, {"Origin": evil}) as client:
            assert "access-control-allow-origin" not in client.head().response_headers

        # A form on another site cannot cancel; the page itself (same origin) can.
        cross = request(srv.port, "POST", f"/api/v1/tasks/{rep.task_id}/cancel", {"Origin": evil})
        assert cross.status == 403
        same = request(
            srv.port,
            "POST",
            f"/api/v1/tasks/{rep.task_id}/cancel",
            {"Origin": f"http://127.0.0.1:{srv.port}"},
        )
        assert same.status == 200


def test_bearer_token(init_dsn):
    with progress_server(init_dsn, token="s3cret-token") as srv, connect(init_dsn) as conn:
        rep = ProgressReporter.create(conn, "test.token")
        rep.complete()
        denied = request(srv.port, "GET", "/api/v1/tasks")
        wrong = request(srv.port, "GET", "/api/v1/tasks", {"Authorization": "Bearer nope"})
        ok = request(srv.port, "GET", "/api/v1/tasks", {"Authorization": "Bearer s3cret-token"})
        page = request(srv.port, "GET", f"/tasks/{rep.task_id}?token=s3cret-token")
        health = request(srv.port, "GET", "/api/v1/health")
        with SSE(srv.port, stream_path(rep.task_id, token="s3cret-token")) as client:
            streamed = client.until_end()
        with SSE(srv.port, stream_path(rep.task_id)) as client:
            assert client.head().status == 401
    assert denied.status == 401 and denied.headers["www-authenticate"].startswith("Bearer")
    assert wrong.status == 401 and ok.status == 200
    assert page.status == 303 and "set-cookie" in page.headers  # see test_progress_token.py
    assert health.status == 200
    assert names(streamed) == ["completed"]


def test_one_listening_connection_for_many_subscribers(init_dsn):
    with progress_server(init_dsn) as srv, connect(init_dsn) as conn:
        rep = ProgressReporter.create(conn, "test.fanout")
        clients = [SSE(srv.port, stream_path(rep.task_id)) for _ in range(40)]
        try:
            for c in clients:
                c.head()
            wait_until(lambda: srv.hub.stats()["subscribers"] == 40, "40 subscriptions")
            listeners = query(
                init_dsn,
                "SELECT count(*) FROM pg_stat_activity"
                " WHERE datname = current_database() AND query ILIKE 'LISTEN%%'",
            )
            for p in (25, 50, 75):
                rep.report(p, f"at {p}")
            rep.complete()
            results = [c.until_end() for c in clients]
        finally:
            for c in clients:
                c.close()
    assert listeners == [(1,)]
    for messages in results:
        assert names(messages) == ["progress"] * 3 + ["completed"]
        assert seqs(messages) == [1, 2, 3, 4]


def test_vanished_client_leaks_no_subscription(init_dsn):
    with progress_server(init_dsn, heartbeat_s=0.1) as srv, connect(init_dsn) as conn:
        rep = ProgressReporter.create(conn, "test.vanish")
        client = SSE(srv.port, stream_path(rep.task_id))
        client.head()
        wait_until(lambda: srv.hub.stats()["subscribers"] == 1, "the subscription")
        client.close()
        # The next heartbeat write fails, and the response's close() unsubscribes.
        wait_until(lambda: srv.hub.stats()["subscribers"] == 0, "the unsubscription")


@WRITERS
def test_slow_subscriber_resyncs_and_never_delays_others(init_dsn, direct):
    rows = 100
    # 10 MB in all: more than the kernel buffers (send buffer up to 4 MB) can
    # hold for a client that reads nothing, so the server's writer blocks.
    text = "x" * 100_000
    with progress_server(init_dsn, queue_size=4, direct=direct) as srv, connect(init_dsn) as conn:
        rep = ProgressReporter.create(conn, "test.slow")
        slow = SSE(srv.port, stream_path(rep.task_id), rcvbuf=4096)
        fast = SSE(srv.port, stream_path(rep.task_id))
        try:
            slow.head()
            fast.head()
            wait_until(lambda: srv.hub.stats()["subscribers"] == 2, "two subscriptions")
            for i in range(1, rows + 1):
                rep.report(min(i, 99), f"{i} {text}")
            rep.complete()
            # The fast client gets everything while the slow one has not read a byte.
            fast_messages = fast.until_end()
            overflows = srv.hub.stats()["overflows"]
            slow_messages = slow.until_end()
        finally:
            slow.close()
            fast.close()
    expected = list(range(1, rows + 2))
    assert seqs(fast_messages) == expected
    assert overflows >= 1, "the slow subscriber should have been switched to re-sync"
    assert seqs(slow_messages) == expected  # re-synced from the database: nothing lost
    assert slow_messages[5].json()["message"] == f"6 {text}"


@WRITERS
def test_truncated_notification_is_read_in_full(init_dsn, direct):
    long_message = "ünïcode " * 2000  # far beyond NOTIFY's 8000 bytes
    with progress_server(init_dsn, direct=direct) as srv, connect(init_dsn) as conn:
        rep = ProgressReporter.create(conn, "test.truncated")
        with SSE(srv.port, stream_path(rep.task_id)) as client:
            client.head()
            wait_until(lambda: srv.hub.stats()["subscribers"] == 1, "the subscription")
            rep.report(10, long_message, data={"k": "v" * 9000})
            rep.complete()
            messages = client.until_end()
    assert names(messages) == ["progress", "completed"]
    assert messages[0].json()["message"] == long_message
    assert messages[0].json()["data"] == {"k": "v" * 9000}


def test_task_finished_without_a_terminal_row_still_ends_the_stream(init_dsn):
    with progress_server(init_dsn) as srv, connect(init_dsn) as conn:
        rep = ProgressReporter.create(conn, "test.external")
        rep.report(30, "working")
        conn.execute(
            "UPDATE async_tasks SET status = 'FAILED', completed_at = now(),"
            ' error_data = \'{"message": "killed by operator"}\' WHERE id = %s',
            (rep.task_id,),
        )
        with SSE(srv.port, stream_path(rep.task_id)) as client:
            messages = client.until_end()
    assert names(messages) == ["progress", "failed"]
    assert messages[-1].id == "1"  # the synthesized end has no id of its own
    assert messages[-1].json()["data"] == {"error": {"message": "killed by operator"}}


def test_reporting_on_a_cancelled_task_raises(init_dsn):
    with progress_server(init_dsn) as srv, connect(init_dsn) as conn:
        rep = ProgressReporter.create(conn, "test.cancel")
        rep.report(10)
        assert request(srv.port, "POST", f"/api/v1/tasks/{rep.task_id}/cancel").status == 200
        assert rep.cancelled
        with pytest.raises(TaskCancelled):
            rep.report(20)
        with pytest.raises(TaskCancelled):
            rep.sleep(5)


def test_a_task_page_that_cannot_be_shown_is_a_page_not_json(init_dsn):
    """A person follows a stale or mistyped link: they get a page that says what happened."""
    unknown = uuid.uuid4()
    with progress_server(init_dsn) as srv:
        cases = [
            (f"/tasks/{unknown}", 404, "Task not found", f"There is no task {unknown}"),
            ("/tasks/%3Cscript%3E", 400, "Not a task address", "malformed task id"),
        ]
        for path, status, title, text in cases:
            resp = request(srv.port, "GET", path)
            assert resp.status == status, (path, resp.body)
            assert resp.headers["content-type"] == "text/html; charset=utf-8"
            assert resp.headers["cache-control"] == "no-store"
            assert resp.headers["content-security-policy"].startswith("default-src 'none'")
            page = resp.body.decode()
            assert f'<h1 id="title">{title}</h1>' in page and text in page
            assert "<script" not in page  # the path is shown escaped, never as markup
        assert "&lt;script&gt;" in request(srv.port, "GET", "/tasks/%3Cscript%3E").body.decode()


def test_a_task_has_a_title_from_its_input_or_its_type(init_dsn):
    with progress_server(init_dsn) as srv, connect(init_dsn) as conn:
        _, episode = start_episode(conn, title="Chapter 7: the harbour")
        plain = ProgressReporter.create(conn, "test.untitled")
        blank = ProgressReporter.create(conn, "test.blank", input_data={"title": "  "})
        titles = {
            rep.task_id: request(srv.port, "GET", f"/api/v1/tasks/{rep.task_id}").json()["title"]
            for rep in (episode, plain, blank)
        }
    assert titles == {
        episode.task_id: "Chapter 7: the harbour",
        plain.task_id: "test.untitled",
        blank.task_id: "test.blank",
    }


def test_the_dashboard_is_served_at_the_root_and_at_tasks(init_dsn):
    token = "Dashb0ard-t0ken"
    with progress_server(init_dsn, token=token) as srv:
        for path in ("/", "/tasks", "/tasks/"):
            resp = request(srv.port, "GET", path)
            assert resp.status == 200, path
            assert resp.headers["content-type"] == "text/html; charset=utf-8"
            csp = resp.headers["content-security-policy"]
            assert "default-src 'none'" in csp and "connect-src 'self'" in csp
            assert b"<h1>Tasks</h1>" in resp.body
        signed = request(srv.port, "GET", f"/?token={token}&status=RUNNING")
        assert signed.status == 303
        assert signed.headers["location"] == "/?status=RUNNING"
        assert "HttpOnly" in signed.headers["set-cookie"]
        assert request(srv.port, "GET", "/?token=wrong").status == 401
