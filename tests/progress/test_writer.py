"""The writer holds caught-up streams without a thread each; HTTP/1.1 keep-alive on the API."""

from __future__ import annotations

import http.client
import socket
import threading

import pytest
from support.progress import (
    SSE,
    TIMEOUT_S,
    connect,
    progress_server,
    stream_path,
    wait_until,
)

from sqlmig.progress import ProgressReporter


def seqs(messages):
    return [int(m.id) for m in messages]


def test_idle_streams_are_held_without_a_thread_each(init_dsn):
    tasks, per_task, rows = 4, 50, 5
    with progress_server(init_dsn, heartbeat_s=0.3) as srv, connect(init_dsn) as conn:
        reps = [ProgressReporter.create(conn, "test.writer") for _ in range(tasks)]
        before = threading.active_count()
        clients = [SSE(srv.port, stream_path(r.task_id)) for r in reps for _ in range(per_task)]
        try:
            for c in clients:
                assert c.head().status == 200
            wait_until(lambda: srv.hub.stats()["subscribers"] == tasks * per_task, "200 streams")
            wait_until(lambda: srv.server.server.open_connections == tasks * per_task, "counted")
            # 200 open streams; the server runs in this process: its request threads
            # have ended, the writer (and its re-read thread) hold every stream.
            wait_until(lambda: threading.active_count() <= before + 2, "the request threads to end")
            held_threads = threading.active_count()
            names = {t.name for t in threading.enumerate()}
            for p in range(1, rows):
                for r in reps:
                    r.report(p * 10, f"at {p}")
            for r in reps:
                r.complete()
            results = [c.until_end() for c in clients]
        finally:
            for c in clients:
                c.close()
        wait_until(lambda: srv.server.server.open_connections == 0, "every stream released")
        stats = srv.hub.stats()
    assert held_threads <= before + 2
    assert "sqlmig-progress-writer" in names
    for messages in results:
        assert seqs(messages) == list(range(1, rows + 1))  # every row once, in order
        assert [m.event for m in messages] == ["progress"] * (rows - 1) + ["completed"]
    assert stats["subscribers"] == 0 and stats["overflows"] == 0


def test_idle_stream_gets_heartbeats_from_the_writer(init_dsn):
    with progress_server(init_dsn, heartbeat_s=0.1) as srv, connect(init_dsn) as conn:
        rep = ProgressReporter.create(conn, "test.writer")
        with SSE(srv.port, stream_path(rep.task_id)) as client:
            client.head()
            wait_until(lambda: srv.hub.stats()["subscribers"] == 1, "the stream")
            wait_until(lambda: _read_heartbeats(client) >= 3, "three heartbeats")
            rep.report(50, "half")
            rep.complete()
            messages = client.until_end()
    assert seqs(messages) == [1, 2]


def _read_heartbeats(client: SSE) -> int:
    """Read what arrived (nothing but comments, before the first report)."""
    client.sock.settimeout(0.05)
    try:
        chunk = client.sock.recv(65536)
    except TimeoutError:
        chunk = b""
    assert client.parser.feed(chunk) == []
    return client.parser.comments


@pytest.mark.parametrize("direct", [True, False], ids=["direct", "threads"])
def test_json_api_keeps_the_connection_alive(init_dsn, direct):
    with progress_server(init_dsn, direct=direct) as srv, connect(init_dsn) as conn:
        rep = ProgressReporter.create(conn, "test.keepalive")
        rep.report(10, "one")
        client = http.client.HTTPConnection("127.0.0.1", srv.port, timeout=TIMEOUT_S)
        try:
            answers = []
            local_ports = set()
            for method, path in [
                ("GET", "/api/v1/health"),
                ("GET", "/api/v1/tasks?limit=5"),
                ("GET", f"/api/v1/tasks/{rep.task_id}"),
                ("HEAD", f"/api/v1/tasks/{rep.task_id}"),
                ("GET", "/api/v1/nothing"),  # a 404 keeps it open too
                ("OPTIONS", "/api/v1/health"),  # 204
                ("POST", f"/api/v1/tasks/{rep.task_id}/cancel"),
                ("GET", "/api/v1/health"),
            ]:
                client.request(method, path)
                resp = client.getresponse()
                body = resp.read()
                answers.append((resp.status, resp.version, resp.getheader("Connection"), body))
                assert client.sock is not None
                local_ports.add(client.sock.getsockname()[1])
            health = answers[-1][3]
        finally:
            client.close()
    assert [a[0] for a in answers] == [200, 200, 200, 200, 404, 204, 200, 200]
    assert all(a[1] == 11 and a[2] is None for a in answers), answers
    assert len(local_ports) == 1  # one socket for all eight requests
    assert b'"connections": 1' in health


def test_connection_close_and_http_1_0_are_honoured(init_dsn):
    with progress_server(init_dsn) as srv:
        for line, headers in [
            ("GET /api/v1/health HTTP/1.1", "Host: x\r\nConnection: close\r\n"),
            ("GET /api/v1/health HTTP/1.0", ""),
        ]:
            with socket.create_connection(("127.0.0.1", srv.port), timeout=TIMEOUT_S) as sock:
                sock.sendall(f"{line}\r\n{headers}\r\n".encode())
                raw = bytearray()
                while chunk := sock.recv(65536):  # ends: the server closes
                    raw += chunk
            head, _, body = bytes(raw).partition(b"\r\n\r\n")
            assert head.startswith(b"HTTP/1.1 200"), head
            assert b'"listener": "connected"' in body
        # A stream has no length: it ends its connection, and says so.
        with SSE(srv.port, "/api/v1/tasks/stream") as client:
            assert client.head().response_headers["connection"] == "close"


def test_a_stream_handed_over_as_the_server_stops_is_closed_not_left_hanging(init_dsn):
    """A stream adopted just as the hub stops: closed, so its client reconnects elsewhere.

    (Seen in CI: `tasks watch` hung on a stream that reached the writer after the stop.)
    """
    import os

    from sqlmig.progress.subscription import CLOSED, TaskCursor
    from sqlmig.progress.writer import Writer

    def hand_over_around_the_stop(hub, pool) -> None:
        writer = Writer(hub, pool)
        released: list[int] = []
        clients = []
        for n in range(2):
            ours, theirs = socket.socketpair()
            ours.setblocking(False)
            theirs.settimeout(TIMEOUT_S)
            clients.append(theirs)
            if n == 1:
                writer.post(CLOSED)  # the stop, then at once one more hand-over
            writer.adopt(
                os.dup(ours.fileno()), TaskCursor("t", 0), lambda: released.append(1), None
            )
            ours.close()
        for theirs in clients:
            assert theirs.recv(1) == b""  # end of stream: closed by the writer
            theirs.close()
        wait_until(lambda: len(released) == 2, "both streams released")  # after the close

    with progress_server(init_dsn) as srv:
        for _ in range(20):
            hand_over_around_the_stop(srv.hub, srv.pool)
