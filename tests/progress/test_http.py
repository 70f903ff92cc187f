"""HTTP edges of the progress server, on real sockets: strict numbers, HEAD, the
stdlib's own errors as JSON, and the connection cap."""

from __future__ import annotations

import http.client
import json
import os
import re
import resource
import signal
import socket
import subprocess
import sys
import threading
import uuid

from support.db import ROOT
from support.progress import (
    SSE,
    TIMEOUT_S,
    connect,
    exchange,
    progress_server,
    request,
    stream_path,
    wait_until,
)

from sqlmig.progress import ProgressReporter


def assert_json_error(resp, status, text=""):
    assert resp.status == status, (resp.status, resp.body[:300])
    assert resp.headers["content-type"].startswith("application/json"), resp.headers
    body = json.loads(resp.body)
    assert body["status"] == status and text in body["error"], body
    assert b"<html" not in resp.body.lower() and b"Traceback" not in resp.body
    return body


def test_non_ascii_digits_are_400_not_500_or_accepted(init_dsn):
    with progress_server(init_dsn) as srv, connect(init_dsn) as conn:
        rep = ProgressReporter.create(conn, "test.digits")
        rep.report(10, "one")
        rep.complete()  # a stream accepted by mistake then ends at once, as 204 or events
        stream = f"/api/v1/tasks/{rep.task_id}/stream"
        cases = [
            # int() takes each of these: '١٢' (Arabic-Indic) and U+FF15 (fullwidth 5) as
            # numbers, while '²' passes isdigit() and then fails int(): a 500.
            (f"{stream}?last_event_id=%D9%A1%D9%A2", {}, "Last-Event-ID"),
            (f"{stream}?last_event_id=%C2%B2", {}, "Last-Event-ID"),
            (stream, {"Last-Event-ID": "\u00b2"}, "Last-Event-ID"),  # latin-1 byte on the wire
            (stream, {"Last-Event-ID": "9" * 5000}, "Last-Event-ID"),  # past int()'s digit cap
            (stream, {"Last-Event-ID": "+1"}, "Last-Event-ID"),
            ("/api/v1/tasks?limit=%EF%BC%95", {}, "limit"),
            ("/api/v1/tasks?limit=%C2%B2", {}, "limit"),
            ("/api/v1/tasks?limit=" + "1" * 5000, {}, "limit"),
            ("/api/v1/tasks?limit=%201", {}, "limit"),
            # UUID() reads fullwidth hex digits as well.
            ("/api/v1/tasks/" + "%EF%BC%91" * 32, {}, "malformed task id"),
        ]
        for path, headers, text in cases:
            assert_json_error(request(srv.port, "GET", path, headers), 400, text)
        # ASCII digits still work.
        assert request(srv.port, "GET", "/api/v1/tasks?limit=5").status == 200
        with SSE(srv.port, stream, {"Last-Event-ID": "0"}) as client:
            assert client.head().status == 200


def _comparable(headers):
    # Date changes between two requests; the page's CSP carries a fresh nonce each time.
    return {k: v for k, v in headers.items() if k not in ("date", "content-security-policy")}


def test_head_answers_like_get_without_a_body(init_dsn):
    with progress_server(init_dsn) as srv, connect(init_dsn) as conn:
        running = ProgressReporter.create(conn, "test.head")
        running.report(10, "one")
        done = ProgressReporter.create(conn, "test.head")
        done.complete()
        paths = [
            "/api/v1/health",
            # Finished tasks: a running one's elapsed_s (and so its length) grows.
            "/api/v1/tasks?status=COMPLETED",
            f"/api/v1/tasks/{done.task_id}",
            f"/tasks/{running.task_id}",
            f"/api/v1/tasks/{uuid.uuid4()}",  # 404
            "/api/v1/tasks/nope",  # 400
            "/api/v1/nothing",  # 404
            f"/api/v1/tasks/{running.task_id}/cancel",  # 405
        ]
        for path in paths:
            get = request(srv.port, "GET", path)
            head = exchange(srv.port, f"HEAD {path} HTTP/1.1\r\nHost: 127.0.0.1\r\n\r\n".encode())
            assert head.status == get.status, path
            assert head.body == b"", path
            assert "content-length" in head.headers, path
            if get.status == 405:  # "HEAD is not allowed here": a longer word than GET
                del head.headers["content-length"], get.headers["content-length"]
            assert _comparable(head.headers) == _comparable(get.headers), path
        allow = request(srv.port, "GET", f"/api/v1/tasks/{running.task_id}/cancel").headers
        assert allow["allow"] == "POST, OPTIONS"
        assert request(srv.port, "OPTIONS", "/api/v1/health").headers["allow"] == (
            "GET, HEAD, OPTIONS"
        )

        # A stream: the GET headers, then the connection closes; no subscription is left.
        head = exchange(
            srv.port,
            f"HEAD {stream_path(running.task_id)} HTTP/1.1\r\nHost: 127.0.0.1\r\n\r\n".encode(),
        )
        with SSE(srv.port, stream_path(running.task_id)) as client:
            get_headers = client.head().response_headers
        assert head.status == 200 and head.body == b""
        assert head.headers["content-type"].startswith("text/event-stream")
        assert _comparable(head.headers) == _comparable(get_headers)
        assert "content-length" not in head.headers
        wait_until(lambda: srv.hub.stats()["subscribers"] == 0, "no subscription left")
        # Finished and seen: 204 as for GET.
        seen = exchange(
            srv.port,
            f"HEAD {stream_path(done.task_id)} HTTP/1.1\r\nLast-Event-ID: 1\r\n\r\n".encode(),
        )
        assert seen.status == 204 and seen.body == b""
        # 404 stream, HEAD: JSON headers, no body.
        missing = exchange(srv.port, f"HEAD {stream_path(uuid.uuid4())} HTTP/1.1\r\n\r\n".encode())
        assert missing.status == 404 and missing.body == b""
        assert missing.headers["content-type"].startswith("application/json")


def test_errors_of_the_http_machinery_are_json(init_dsn):
    with progress_server(init_dsn, token="m4chinery-t0ken") as srv:
        port = srv.port
        cases = [
            (b"GET /" + b"a" * 70_000 + b" HTTP/1.1\r\n\r\n", 414, "request line too long"),
            (
                b"GET /api/v1/health HTTP/1.1\r\nX-Big: " + b"b" * 70_000 + b"\r\n\r\n",
                431,
                "header fields too large",
            ),
            (
                b"GET /api/v1/health HTTP/1.1\r\n"
                + b"".join(b"X-H%d: v\r\n" % i for i in range(150))
                + b"\r\n",
                431,
                "header fields too large",
            ),
            (b"GET /api/v1/health?token=m4chinery-t0ken HTTP/1.1 junk\r\n\r\n", 400, "malformed"),
            (b"GET /api/v1/health HTTP/x.y\r\n\r\n", 400, "malformed"),
            (b"GET /api/v1/health HTTP/9.9\r\n\r\n", 505, "HTTP version not supported"),
            (b"POST /api/v1/health HTTP/1.1\r\n\r\n", 405, "not allowed"),
            (b"BREW /api/v1/tasks HTTP/1.1\r\n\r\n", 405, "not allowed"),
        ]
        for data, status, text in cases:
            resp = exchange(port, data)
            assert_json_error(resp, status, text)
            assert resp.headers["cache-control"] == "no-store"
            assert int(resp.headers["content-length"]) == len(resp.body)
            assert b"m4chinery-t0ken" not in resp.body
        head = exchange(port, b"HEAD /" + b"a" * 70_000 + b" HTTP/1.1\r\n\r\n")
        assert head.status == 414  # HEAD is not known yet: the line was never parsed
        bad_head = exchange(
            port, b"HEAD /api/v1/health HTTP/1.1\r\nX: " + b"b" * 70_000 + b"\r\n\r\n"
        )
        assert bad_head.status == 431 and bad_head.body == b""
        assert request(port, "GET", "/api/v1/health").status == 200  # still serving


def handler_threads() -> int:
    return sum("process_request_thread" in t.name for t in threading.enumerate())


def test_connections_beyond_the_cap_get_503_without_a_thread(init_dsn):
    with progress_server(init_dsn, max_connections=3) as srv, connect(init_dsn) as conn:
        rep = ProgressReporter.create(conn, "test.cap")
        server = srv.server.server
        streams = [SSE(srv.port, stream_path(rep.task_id)) for _ in range(2)]
        idle = socket.create_connection(("127.0.0.1", srv.port), timeout=TIMEOUT_S)
        try:
            for stream in streams:
                assert stream.head().status == 200
            # A plain request that has not sent its line yet holds a thread; the
            # two streams are held by the writer (their threads have ended), and
            # count as connections all the same.
            wait_until(lambda: server.open_connections == 3, "three open connections")
            wait_until(lambda: handler_threads() == 1, "the stream threads to end")
            threads = handler_threads()
            refused = [
                exchange(srv.port, b"GET /api/v1/health HTTP/1.1\r\nHost: x\r\n\r\n")
                for _ in range(5)
            ]
            for resp in refused:
                body = assert_json_error(resp, 503, "too many connections (at most 3)")
                assert resp.headers["retry-after"] == "2"
                assert resp.headers["connection"] == "close"
                assert int(resp.headers["content-length"]) == len(resp.body)
                assert body["status"] == 503
            # Also through a regular client (it reads the answer, not a reset).
            client = http.client.HTTPConnection("127.0.0.1", srv.port, timeout=TIMEOUT_S)
            client.request("GET", "/api/v1/tasks")
            answer = client.getresponse()
            assert answer.status == 503 and answer.getheader("Retry-After") == "2"
            answer.read()
            client.close()
            assert handler_threads() == threads == 1
            assert server.refused_connections == 6
            assert server.open_connections == 3
            # A stream that ends frees its place.
            streams[0].close()
            rep.report(50, "half")  # the writer notices the closed socket (EOF) at once anyway
            wait_until(lambda: server.open_connections == 2, "a free place")
            health = request(srv.port, "GET", "/api/v1/health")
            assert health.status == 200
            assert (health.json()["connections"], health.json()["max_connections"]) == (3, 3)
        finally:
            idle.close()
            for stream in streams:
                stream.close()
        wait_until(lambda: server.open_connections == 0, "every connection closed")
        wait_until(lambda: not server._lingering or _reaped(server), "refused sockets closed")


def _reaped(server) -> bool:
    server.service_actions()
    return not server._lingering


def test_serve_fits_the_cap_to_the_open_file_limit(init_dsn):
    """`serve --max-connections` beyond `ulimit -n`: it says so and serves fewer."""

    def low_limit() -> None:
        resource.setrlimit(resource.RLIMIT_NOFILE, (200, 200))

    env = {**os.environ, "SQLMIG_DSN": init_dsn, "PYTHONUNBUFFERED": "1"}
    env.pop("SQLMIG_TOKEN", None)
    server = subprocess.Popen(
        [sys.executable, "-m", "sqlmig", "serve", "--port", "0", "--max-connections", "5000"],
        cwd=ROOT,
        env=env,
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
        preexec_fn=low_limit,
    )
    try:
        assert server.stdout is not None
        port = int(
            re.search(r"listening on http://127\.0\.0\.1:(\d+)", server.stdout.readline())[1]
        )
        health = request(port, "GET", "/api/v1/health").json()
    finally:
        server.send_signal(signal.SIGTERM)
        _, err = server.communicate(timeout=TIMEOUT_S)
    assert server.returncode == 0, err
    assert "allows 104 connections, not 5000: serving at most 104" in err
    assert health["max_connections"] == 104
