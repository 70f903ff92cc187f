"""Horizontal scale: two `sqlmig serve` processes on one database, each with its own LISTEN
connection and its own clients; and `serve --wait` for a database that is not there yet."""

from __future__ import annotations

import os
import re
import signal
import socket
import subprocess
import sys
from collections.abc import Iterator
from contextlib import contextmanager

from support.db import ROOT, query
from support.progress import SSE, TIMEOUT_S, connect, request, stream_path, wait_until

from sqlmig.progress import ProgressReporter


@contextmanager
def serve(dsn: str, *extra: str) -> Iterator[int]:
    env = {**os.environ, "SQLMIG_DSN": dsn, "PYTHONUNBUFFERED": "1"}
    env.pop("SQLMIG_TOKEN", None)
    proc = subprocess.Popen(
        [sys.executable, "-m", "sqlmig", "serve", "--port", "0", "--heartbeat", "0.5", *extra],
        cwd=ROOT,
        env=env,
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
    )
    try:
        assert proc.stdout is not None
        line = proc.stdout.readline()
        found = re.search(r"listening on http://127\.0\.0\.1:(\d+)", line)
        assert found, (line, proc.stderr.read() if proc.poll() is not None else "")
        yield int(found[1])
    finally:
        proc.send_signal(signal.SIGTERM)
        proc.communicate(timeout=TIMEOUT_S)


def test_two_processes_deliver_every_row_to_their_own_clients_exactly_once(init_dsn):
    rows, per_process = 60, 3
    with connect(init_dsn) as conn:
        rep = ProgressReporter.create(conn, "test.scale")
        with serve(init_dsn) as one, serve(init_dsn, "--wait", "5") as two:
            ports = [one, two]
            tasks = {
                p: [SSE(p, stream_path(rep.task_id)) for _ in range(per_process)] for p in ports
            }
            lists = {p: SSE(p, "/api/v1/tasks/stream?type=test.scale") for p in ports}
            clients = [c for group in tasks.values() for c in group] + list(lists.values())
            try:
                for c in clients:
                    assert c.head().status == 200
                for p in ports:
                    wait_until(
                        lambda p=p: (
                            request(p, "GET", "/api/v1/health").json()["subscribers"]
                            == per_process + 1
                        ),
                        f"the streams of :{p}",
                    )
                listeners = query(
                    init_dsn,
                    "SELECT count(*) FROM pg_stat_activity WHERE datname = current_database()"
                    " AND application_name = 'sqlmig-serve' AND query ILIKE 'LISTEN%%'",
                )
                for i in range(1, rows):
                    rep.report(min(99, i), f"row {i}")
                rep.complete()
                per_task = {p: [c.until_end() for c in group] for p, group in tasks.items()}
                per_list = {p: lists[p].take(rows) for p in ports}
            finally:
                for c in clients:
                    c.close()
    assert listeners == [(2,)]  # one LISTEN connection per process
    want = list(range(1, rows + 1))
    for group in per_task.values():
        for messages in group:
            assert [int(m.id) for m in messages] == want  # every row, once, in order
    ids = None
    for messages in per_list.values():
        assert [m.json()["seq"] for m in messages] == want
        assert {m.json()["task_id"] for m in messages} == {str(rep.task_id)}
        got = [m.id for m in messages]
        assert ids is None or got == ids  # row ids: one cursor space for both processes
        ids = got


def test_serve_wait_retries_then_gives_up_with_exit_3(tmp_path):
    with socket.socket() as probe:  # a port with nothing listening on it
        probe.bind(("127.0.0.1", 0))
        port = probe.getsockname()[1]
    dsn = f"host=127.0.0.1 port={port} user=nobody dbname=nothing connect_timeout=2"
    env = {**os.environ, "SQLMIG_DSN": dsn}
    env.pop("SQLMIG_TOKEN", None)
    done = subprocess.run(
        [sys.executable, "-m", "sqlmig", "serve", "--port", "0", "--wait", "1"],
        cwd=tmp_path,
        env=env,
        capture_output=True,
        text=True,
        timeout=TIMEOUT_S,
    )
    assert done.returncode == 3, done.stderr
    assert "attempt 1 failed" in done.stderr and "--wait 1" in done.stderr
    assert "Traceback" not in done.stderr
