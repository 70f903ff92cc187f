"""The token: traded for a session cookie by the page, and never written to a log."""

from __future__ import annotations

import os
import re
import signal
import socket
import subprocess
import sys
import uuid
from urllib.parse import quote

from support.db import ROOT
from support.progress import (
    SSE,
    TIMEOUT_S,
    connect,
    exchange,
    progress_server,
    request,
    stream_path,
)

from sqlmig.progress import ProgressReporter

TOKEN = "s3cret-T0ken/with+signs"


def cookie_of(resp) -> tuple[str, str, list[str]]:
    """(name, value, attributes) of the response's Set-Cookie."""
    first, *attributes = [part.strip() for part in resp.headers["set-cookie"].split(";")]
    name, _, value = first.partition("=")
    return name, value, attributes


def test_page_trades_the_token_for_a_cookie(init_dsn):
    with progress_server(init_dsn, token=TOKEN) as srv, connect(init_dsn) as conn:
        rep = ProgressReporter.create(conn, "test.cookie")
        rep.report(40, "working")
        page = f"/tasks/{rep.task_id}"
        signed = request(srv.port, "GET", f"{page}?token={quote(TOKEN, safe='')}")
        assert signed.status == 303
        assert signed.headers["location"] == page
        name, value, attributes = cookie_of(signed)
        assert name == f"sqlmig_progress_{srv.port}"
        assert sorted(attributes) == ["HttpOnly", "Path=/", "SameSite=Strict"]
        assert re.fullmatch(r"[0-9a-f]{64}", value)  # an HMAC of the token, not the token
        assert TOKEN not in str(signed.headers) and TOKEN.encode() not in signed.body
        assert signed.headers["cache-control"] == "no-store"
        # Other query parameters stay; every token= goes.
        kept = request(srv.port, "GET", f"{page}?a=1&token={quote(TOKEN, safe='')}&token=x&b=2")
        assert kept.status == 401  # the last token= counts, and "x" is wrong
        kept = request(srv.port, "GET", f"{page}?a=1&token={quote(TOKEN, safe='')}&b=2")
        assert kept.status == 303 and kept.headers["location"] == f"{page}?a=1&b=2"

        cookie = {"Cookie": f"other=1; {name}={value}"}
        assert request(srv.port, "GET", page, cookie).status == 200
        task = request(srv.port, "GET", f"/api/v1/tasks/{rep.task_id}", cookie)
        assert task.status == 200 and task.json()["progress"] == 40
        with SSE(srv.port, stream_path(rep.task_id), cookie) as client:
            assert client.next().json()["message"] == "working"
        origin = {**cookie, "Origin": f"http://127.0.0.1:{srv.port}"}
        cancel = request(srv.port, "POST", f"/api/v1/tasks/{rep.task_id}/cancel", origin)
        assert cancel.status == 200

        refused = [
            request(srv.port, "GET", f"/api/v1/tasks/{rep.task_id}", headers)
            for headers in (
                {},
                {"Cookie": f"{name}={value[:-1]}0"},
                {"Cookie": f"sqlmig_progress_1={value}"},  # another port's cookie
                {"Authorization": f"Bearer {value}"},  # the cookie is no bearer token
                {"Cookie": f"{name}={TOKEN}"},  # nor the raw token a cookie
            )
        ]
        assert [r.status for r in refused] == [401] * 5
        wrong = request(srv.port, "GET", f"{page}?token=wrong")
        assert wrong.status == 401 and "set-cookie" not in wrong.headers
        # A person followed that link: the answer is a page that says so, not JSON.
        assert wrong.headers["content-type"] == "text/html; charset=utf-8"
        assert "the token in this link is wrong" in wrong.body.decode()
        assert wrong.headers["www-authenticate"].startswith("Bearer")
        # Without a credential: the page shell only, for any id (no task data, no oracle).
        shell = request(srv.port, "GET", page)
        assert shell.status == 200 and b"working" not in shell.body
        assert request(srv.port, "GET", f"/tasks/{uuid.uuid4()}").status == 200
        assert request(srv.port, "GET", f"/tasks/{uuid.uuid4()}", cookie).status == 404
        # Bearer and ?token= still work for programs and front-ends elsewhere.
        bearer = {"Authorization": f"Bearer {TOKEN}"}
        assert request(srv.port, "GET", "/api/v1/tasks", bearer).status == 200
        query = f"/api/v1/tasks?token={quote(TOKEN, safe='')}"
        assert request(srv.port, "GET", query).status == 200
        port = srv.port

    # The cookie is derived from the token alone: a restarted server takes it.
    with progress_server(init_dsn, token=TOKEN, port=port) as again:
        assert request(again.port, "GET", f"/api/v1/tasks/{rep.task_id}", cookie).status == 200
    with progress_server(init_dsn, token="a-rotated-token", port=port) as rotated:
        assert request(rotated.port, "GET", f"/api/v1/tasks/{rep.task_id}", cookie).status == 401


def test_without_a_token_the_page_link_drops_a_stray_token(init_dsn):
    with progress_server(init_dsn) as srv, connect(init_dsn) as conn:
        rep = ProgressReporter.create(conn, "test.cookie")
        resp = request(srv.port, "GET", f"/tasks/{rep.task_id}?token=anything")
    assert resp.status == 303 and resp.headers["location"] == f"/tasks/{rep.task_id}"
    assert "set-cookie" not in resp.headers


def test_serve_never_logs_the_token(init_dsn):
    """`serve --access-log --token T`: T in URLs, headers, bad requests; never in its output."""
    token = "L0g-Secret_value.42"
    wrong = "Wr0ng-Secret_value.43"
    env = {**os.environ, "SQLMIG_DSN": init_dsn, "PYTHONUNBUFFERED": "1"}
    env.pop("SQLMIG_TOKEN", None)
    server = subprocess.Popen(
        [sys.executable, "-m", "sqlmig", "serve", "--port", "0", "--access-log"],
        cwd=ROOT,
        env={**env, "SQLMIG_TOKEN": token},
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
    )
    try:
        assert server.stdout is not None
        port = int(
            re.search(r"listening on http://127\.0\.0\.1:(\d+)", server.stdout.readline())[1]
        )
        with connect(init_dsn) as conn:
            rep = ProgressReporter.create(conn, "test.logs")
            rep.complete()
        tid = rep.task_id
        signed = request(port, "GET", f"/tasks/{tid}?token={token}")
        assert signed.status == 303
        name, value, _ = cookie_of(signed)
        statuses = [
            request(port, "GET", f"/api/v1/tasks?token={token}").status,
            request(port, "GET", f"/api/v1/tasks?limit=5&token={token}&x=1").status,
            request(port, "GET", "/api/v1/tasks", {"Authorization": f"Bearer {token}"}).status,
            request(port, "GET", f"/api/v1/tasks/{tid}", {"Cookie": f"{name}={value}"}).status,
            request(port, "GET", f"{stream_path(tid)}?token={token}").status,
            request(port, "HEAD", f"/api/v1/tasks/{tid}?token={token}").status,
            request(port, "GET", f"/api/v1/tasks?token={wrong}").status,
            request(port, "GET", f"/tasks/{tid}?token={wrong}").status,
            request(port, "GET", f"/api/v1/tasks/{token}").status,  # in the path: 401 first
            request(port, "GET", f"/api/v1/tasks/{token}?token={token}").status,  # 400
            request(port, "GET", f"/tasks/{quote(token)}x").status,
            exchange(port, f"GET /?token={token} HTTP/1.1 junk\r\n\r\n".encode()).status,
            exchange(port, f"GET /x{token}y HTTP/1.1 junk\r\n\r\n".encode()).status,
            exchange(port, f"GET /?token={token}{'a' * 70_000} HTTP/1.1\r\n\r\n".encode()).status,
            exchange(
                port, f"GET /{token} HTTP/1.1\r\nAuthorization: Bearer {token}\r\n\r\n".encode()
            ).status,
        ]
        with socket.create_connection(("127.0.0.1", port), timeout=TIMEOUT_S) as sock:
            sock.sendall(f"GET /api/v1/tasks?token={token} HTTP/1.1\r\n".encode())
            # ... and the client vanishes mid-request.
    finally:
        server.send_signal(signal.SIGTERM)
        out, err = server.communicate(timeout=TIMEOUT_S)
    assert server.returncode == 0, err
    assert statuses == [200, 200, 200, 200, 200, 200, 401, 401, 401, 400, 400, 400, 400, 414, 404]
    output = out + err
    for secret in (token, quote(token, safe=""), wrong, value):
        assert secret not in output, f"{secret!r} leaked into the output:\n{output}"
    # The log is on and did record those requests, masked.
    assert output.count("token=***") >= 8, err
    assert re.search(rf'"GET /tasks/{tid}\?token=\*\*\* HTTP/1.1" 303', err), err
    assert '"GET /api/v1/tasks?limit=5&token=***&x=1 HTTP/1.1" 200' in err
    assert "/api/v1/tasks/*** HTTP/1.1" in err
