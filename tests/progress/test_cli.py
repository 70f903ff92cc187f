"""`serve`, `demo episode` and `tasks watch` through the real CLI (in-process and as processes)."""

from __future__ import annotations

import os
import re
import signal
import socket
import subprocess
import sys
import uuid

import pytest
from click.testing import CliRunner
from support.db import ROOT, query
from support.progress import (
    TIMEOUT_S,
    Background,
    connect,
    progress_server,
    request,
    wait_until,
)

from sqlmig.cli import cli
from sqlmig.progress import ProgressReporter
from sqlmig.progress.demo import run_episode, start_episode

UUID_RE = r"[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}"


def run(*args: str):
    return CliRunner().invoke(cli, list(args), catch_exceptions=False)


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


def test_demo_episode_runs_the_six_stages(init_dsn):
    result = run("--dsn", init_dsn, "demo", "episode", "--delay", "0", "--url", "http://h:1/")
    assert result.exit_code == 0, result.output
    task_id = re.search(rf"progress page: http://h:1/tasks/({UUID_RE})\n", result.output)[1]
    assert f"sqlmig tasks watch {task_id} --url http://h:1" in result.output
    lines = [line for line in result.output.splitlines() if " %  " in line]
    assert lines == [
        "   10 %  Starting ingestion",
        "   20 %  Loading schema",
        "   30 %  Extracting entities and relationships",
        "   50 %  Syncing schema",
        "   75 %  Updating communities",
        "  100 %  Completed",
    ]
    assert query(
        init_dsn,
        "SELECT m.status, t.status::text FROM memories m JOIN async_tasks t ON t.id = m.task_id",
    ) == [("READY", "COMPLETED")]


def test_demo_episode_failure_exits_1(init_dsn):
    result = run("--dsn", init_dsn, "demo", "episode", "--delay", "0", "--fail-at", "extracting")
    assert result.exit_code == 1
    assert "Error: Extracting entities and relationships failed: simulated failure" in result.output
    assert query(init_dsn, "SELECT status FROM memories") == [("FAILED",)]


def test_demo_on_a_database_without_the_schema_exits_2(dsn):
    result = run("--dsn", dsn, "demo", "episode", "--delay", "0")
    assert result.exit_code == 2
    assert "has no async_tasks/task_progress tables" in result.output


def test_tasks_watch_follows_to_completion(init_dsn):
    with progress_server(init_dsn) as srv, connect(init_dsn) as conn:
        memory_id, rep = start_episode(conn)
        work = Background(lambda: run_episode(rep, memory_id, delay_s=0.05))
        result = run("tasks", "watch", str(rep.task_id), "--url", srv.url)
        work.result()
    assert result.exit_code == 0, result.output
    assert result.output.splitlines() == [
        "   10 %  Starting ingestion",
        "   20 %  Loading schema",
        "   30 %  Extracting entities and relationships",
        "   50 %  Syncing schema",
        "   75 %  Updating communities",
        "  100 %  Completed",
        "Completed.",
    ]


def test_tasks_watch_exit_codes(init_dsn):
    with progress_server(init_dsn, token="t0ken-value") as srv, connect(init_dsn) as conn:
        failed = ProgressReporter.create(conn, "test.watch")
        failed.report(40, "halfway")
        failed.fail(RuntimeError("model server down"))
        cancelled = ProgressReporter.create(conn, "test.watch")
        cancelled.report(5)
        request(
            srv.port,
            "POST",
            f"/api/v1/tasks/{cancelled.task_id}/cancel",
            {"Authorization": "Bearer t0ken-value"},
        )
        token = ("--token", "t0ken-value")
        failed_run = run("tasks", "watch", str(failed.task_id), "--url", srv.url, *token)
        cancelled_run = run("tasks", "watch", str(cancelled.task_id), "--url", srv.url, *token)
        unknown = run("tasks", "watch", str(uuid.uuid4()), "--url", srv.url, *token)
        malformed = run("tasks", "watch", "nope", "--url", srv.url, *token)
        wrong_token = run(
            "tasks", "watch", str(failed.task_id), "--url", srv.url, "--token", "wr0ng-value"
        )
    assert failed_run.exit_code == 1
    assert "Error: task" in failed_run.output
    assert "failed: RuntimeError: model server down" in failed_run.output
    assert cancelled_run.exit_code == 1 and "was cancelled" in cancelled_run.output
    assert unknown.exit_code == 2 and "no task" in unknown.output
    assert malformed.exit_code == 2 and "malformed task id" in malformed.output
    assert wrong_token.exit_code == 2 and "bearer token is required" in wrong_token.output
    assert "wr0ng-value" not in wrong_token.output


def test_tasks_watch_without_a_server_exits_3():
    result = run("tasks", "watch", str(uuid.uuid4()), "--url", f"http://127.0.0.1:{free_port()}")
    assert result.exit_code == 3
    assert "cannot reach the progress server" in result.output


def test_serve_refuses_bad_settings(dsn):
    no_schema = run("--dsn", dsn, "serve", "--port", "0")
    assert (
        no_schema.exit_code == 2
        and "install them first (sqlmig progress install)" in no_schema.output
    )
    bad_origin = run("--dsn", dsn, "serve", "--cors-origin", "localhost:3000")
    assert bad_origin.exit_code == 2 and "--cors-origin" in bad_origin.output
    unreachable = run("--dsn", "postgresql://u:pw-s3cret@127.0.0.1:1/db?connect_timeout=2", "serve")
    assert unreachable.exit_code == 3 and "cannot connect" in unreachable.output
    assert "pw-s3cret" not in unreachable.output


@pytest.mark.slow
def test_serve_demo_and_watch_as_processes(init_dsn):
    """The three commands as a user runs them, each in its own process."""
    env = {**os.environ, "SQLMIG_DSN": init_dsn, "PYTHONUNBUFFERED": "1"}
    env.pop("SQLMIG_TOKEN", None)
    server = subprocess.Popen(
        [sys.executable, "-m", "sqlmig", "serve", "--port", "0", "--heartbeat", "1"],
        cwd=ROOT,
        env=env,
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
    )
    try:
        assert server.stdout is not None
        first = server.stdout.readline()
        url = re.search(r"listening on (http://127\.0\.0\.1:\d+)", first)[1]
        port = int(url.rsplit(":", 1)[1])
        assert request(port, "GET", "/api/v1/health").json()["subscribers"] == 0
        demo = subprocess.Popen(
            [sys.executable, "-m", "sqlmig", "demo", "episode", "--delay", "0.3", "--url", url],
            cwd=ROOT,
            env=env,
            stdout=subprocess.PIPE,
            stderr=subprocess.PIPE,
            text=True,
        )
        assert demo.stdout is not None
        demo_head = demo.stdout.readline()
        task_id = re.search(rf"task ({UUID_RE})", demo_head)[1]
        watcher = subprocess.run(
            [sys.executable, "-m", "sqlmig", "tasks", "watch", task_id, "--url", url],
            cwd=ROOT,
            env=env,
            capture_output=True,
            text=True,
            timeout=TIMEOUT_S * 3,
        )
        _, demo_err = demo.communicate(timeout=TIMEOUT_S * 3)
        assert demo.returncode == 0, demo_err
        assert watcher.returncode == 0, watcher.stderr
        assert watcher.stdout.splitlines()[-2:] == ["  100 %  Completed", "Completed."]
    finally:
        server.send_signal(signal.SIGTERM)
        out, err = server.communicate(timeout=TIMEOUT_S)
    assert server.returncode == 0, err
    assert out.rstrip().endswith("sqlmig progress server stopped.")


def test_tasks_watch_draws_a_bar_on_a_terminal(init_dsn):
    """`tasks watch` on a real pseudo-terminal: a bar redrawn in place below the lines."""
    import pty

    with progress_server(init_dsn) as srv, connect(init_dsn) as conn:
        memory_id, rep = start_episode(conn)
        work = Background(lambda: run_episode(rep, memory_id, delay_s=0.1))
        leader, follower = pty.openpty()
        try:
            proc = subprocess.Popen(
                [
                    sys.executable,
                    "-m",
                    "sqlmig",
                    "tasks",
                    "watch",
                    str(rep.task_id),
                    "--url",
                    srv.url,
                ],
                cwd=ROOT,
                stdin=subprocess.DEVNULL,
                stdout=follower,
                stderr=follower,
            )
            os.close(follower)
            follower = -1
            screen = b""
            while True:
                try:
                    chunk = os.read(leader, 65536)
                except OSError:  # EIO: the process closed the terminal
                    break
                if not chunk:
                    break
                screen += chunk
            assert proc.wait(timeout=TIMEOUT_S) == 0
        finally:
            os.close(leader)
            if follower >= 0:
                os.close(follower)
        work.result()
    text = screen.decode()
    assert "\r\x1b[K[" in text  # the bar, redrawn in place
    assert re.search(r"\[#{15}-{15}\]  50 % \(\d+ s, ETA \d+ s\)", text), text
    assert text.rstrip().endswith("Completed.")


def test_watch_client_resumes_after_the_server_restarts(init_dsn):
    """The terminal client reconnects with Last-Event-ID: every row once, in order."""
    import time

    from sqlmig.progress.watch import follow

    seen = []
    states = []
    with connect(init_dsn) as conn:
        rep = ProgressReporter.create(conn, "test.watch")
        rep.report(10, "one")
        with progress_server(init_dsn) as first:
            port, url = first.port, first.url
            watcher = Background(
                lambda: follow(
                    url,
                    str(rep.task_id),
                    on_event=seen.append,
                    on_state=states.append,
                    sleep=lambda s: time.sleep(min(s, 0.1)),
                )
            )
            wait_until(lambda: len(seen) == 1, "the first row")
        rep.report(20, "two")  # while no server is up
        with progress_server(init_dsn, port=port):
            rep.report(30, "three")
            rep.complete(message="done")
            final = watcher.result()
    assert [m.id for m in seen] == ["1", "2", "3", "4"]
    assert [m.json()["message"] for m in seen] == ["one", "two", "three", "done"]
    assert final is seen[-1] and final.event == "completed"
    assert any(s.startswith("reconnecting in") for s in states)


def test_watch_client_waits_the_servers_retry_hint_then_doubles_up_to_15_s():
    """Reconnect pauses: the stream's retry: first, doubled each failure, capped at 15 s.

    A plain HTTP server (no database) plays a progress server that streams a
    retry: hint and hangs up, then answers 503 five times, then 404.
    """
    import http.server
    import threading

    from sqlmig.core.errors import UsageError
    from sqlmig.progress.watch import follow

    answers = ["stream"] + ["503"] * 5 + ["404"]
    seen_ids = []

    class Handler(http.server.BaseHTTPRequestHandler):
        def do_GET(self):
            seen_ids.append(self.headers.get("Last-Event-ID"))
            answer = answers.pop(0)
            if answer == "stream":
                body = b'retry: 3000\nid: 7\nevent: progress\ndata: {"percent": 10}\n\n'
                self.send_response(200)
                self.send_header("Content-Type", "text/event-stream")
            else:
                body = b'{"error": "try later", "status": %s}' % answer.encode()
                self.send_response(int(answer))
                self.send_header("Content-Type", "application/json")
            self.send_header("Content-Length", str(len(body)))
            self.send_header("Connection", "close")
            self.end_headers()
            self.wfile.write(body)

        def log_message(self, *args):
            pass

    server = http.server.ThreadingHTTPServer(("127.0.0.1", 0), Handler)
    thread = threading.Thread(target=server.serve_forever, kwargs={"poll_interval": 0.02})
    thread.start()
    pauses, states = [], []
    try:
        with pytest.raises(UsageError, match=r"try later \(HTTP 404\)"):
            follow(
                f"http://127.0.0.1:{server.server_address[1]}",
                str(uuid.uuid4()),
                on_state=states.append,
                sleep=pauses.append,
            )
    finally:
        server.shutdown()
        server.server_close()
        thread.join(TIMEOUT_S)
    assert pauses == [3.0, 6.0, 12.0, 15.0, 15.0, 15.0]
    assert seen_ids == [None] + ["7"] * 6  # every reconnect resumes after the last row
    assert states[0] == "live" and states[1:] == [f"reconnecting in {p:.0f} s" for p in pauses]
