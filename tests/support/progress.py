"""Helpers for the progress tests (no tests here): a real server stack and real clients.

progress_server(dsn)   hub (one LISTEN connection) + pool + WSGI app on 127.0.0.1:<ephemeral>
                       (direct=False: no socket hand-off to the writer; as under any
                       other WSGI server, each stream's thread writes it)
SSE(port, path)        a raw-socket SSE client (what a browser's EventSource does on the wire)
request(...)           one HTTP request with http.client, connection always closed
exchange(port, bytes)  raw bytes in, (status, headers, body until the server closes) out
"""

from __future__ import annotations

import http.client
import json
import socket
import threading
import time
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from typing import Any

import psycopg

from sqlmig.progress.app import Options, ProgressApp
from sqlmig.progress.events import Message, Parser
from sqlmig.progress.hub import Hub
from sqlmig.progress.pool import Pool, connector
from sqlmig.progress.server import BackgroundServer

TIMEOUT_S = 60.0  # failure guard only; nothing asserts on durations


@dataclass
class Stack:
    hub: Hub
    pool: Pool
    server: BackgroundServer

    @property
    def port(self) -> int:
        return int(self.server.server.server_address[1])

    @property
    def url(self) -> str:
        return self.server.url


@contextmanager
def progress_server(
    dsn: str,
    *,
    heartbeat_s: float = 0.5,
    queue_size: int = 256,
    cors_origins: tuple[str, ...] = (),
    token: str | None = None,
    backoff_s: tuple[float, float] = (0.05, 0.5),
    direct: bool = True,
    port: int = 0,
    access_log: bool = False,
    max_connections: int | None = None,
) -> Iterator[Stack]:
    connect = connector(dsn)
    hub = Hub(connect, queue_size=queue_size, backoff_s=backoff_s)
    hub.start()
    pool = Pool(connect)
    options = Options(cors_origins=cors_origins, token=token, heartbeat_s=heartbeat_s)
    app = ProgressApp(hub, pool, options)
    extra: dict[str, Any] = {"access_log": True} if access_log else {}
    if max_connections is not None:
        extra["max_connections"] = max_connections
    server = BackgroundServer(app, port=port, lend_socket=direct, **extra).start()
    try:
        yield Stack(hub, pool, server)
    finally:
        hub.stop()  # ends every open stream
        server.close()
        pool.close()


@dataclass
class Response:
    status: int
    headers: dict[str, str]
    body: bytes

    def json(self) -> Any:
        return json.loads(self.body)


def request(
    port: int,
    method: str,
    path: str,
    headers: dict[str, str] | None = None,
    body: bytes | None = None,
) -> Response:
    conn = http.client.HTTPConnection("127.0.0.1", port, timeout=TIMEOUT_S)
    try:
        conn.request(method, path, body=body, headers=headers or {})
        resp = conn.getresponse()
        data = resp.read()
        return Response(resp.status, {k.lower(): v for k, v in resp.getheaders()}, data)
    finally:
        conn.close()


def exchange(port: int, data: bytes) -> Response:
    """Send raw bytes, read until the server closes: what is really on the wire.

    ``body`` is every byte after the head, so a HEAD answer's body must be b"".
    The client half-closes after sending: a keep-alive server then closes
    after its answer (no next request), so "until the server closes" ends.
    """
    with socket.create_connection(("127.0.0.1", port), timeout=TIMEOUT_S) as sock:
        sock.sendall(data)
        sock.shutdown(socket.SHUT_WR)
        raw = bytearray()
        while chunk := sock.recv(65536):
            raw += chunk
    head, sep, body = bytes(raw).partition(b"\r\n\r\n")
    assert sep, f"no complete response head: {bytes(raw)[:200]!r}"
    status_line, *lines = head.decode("iso-8859-1").split("\r\n")
    headers = {}
    for line in lines:
        name, _, value = line.partition(":")
        headers[name.strip().lower()] = value.strip()
    return Response(int(status_line.split()[1]), headers, body)


@dataclass
class SSE:
    """An SSE client on a raw socket: sends the request, parses what arrives."""

    port: int
    path: str
    headers: dict[str, str] = field(default_factory=dict)
    rcvbuf: int | None = None
    status: int = 0
    response_headers: dict[str, str] = field(default_factory=dict)
    raw: bytearray = field(default_factory=bytearray)
    eof: bool = False

    def __post_init__(self) -> None:
        self.parser = Parser()
        self._pending: list[Message] = []
        self.sock = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
        try:
            if self.rcvbuf:
                self.sock.setsockopt(socket.SOL_SOCKET, socket.SO_RCVBUF, self.rcvbuf)
            self.sock.settimeout(TIMEOUT_S)
            self.sock.connect(("127.0.0.1", self.port))
            lines = [f"GET {self.path} HTTP/1.1", f"Host: 127.0.0.1:{self.port}"]
            lines += ["Accept: text/event-stream", "Cache-Control: no-store"]
            lines += [f"{k}: {v}" for k, v in self.headers.items()]
            self.sock.sendall(("\r\n".join(lines) + "\r\n\r\n").encode())
        except BaseException:
            self.sock.close()
            raise

    def _read_head(self) -> None:
        while b"\r\n\r\n" not in self.raw:
            chunk = self.sock.recv(65536)
            if not chunk:
                raise AssertionError(f"connection closed before headers: {bytes(self.raw)!r}")
            self.raw += chunk
        head, _, rest = bytes(self.raw).partition(b"\r\n\r\n")
        status_line, *header_lines = head.decode("iso-8859-1").split("\r\n")
        self.status = int(status_line.split()[1])
        for line in header_lines:
            name, _, value = line.partition(":")
            self.response_headers[name.strip().lower()] = value.strip()
        self.raw = bytearray(rest)
        self._pending += self.parser.feed(rest)

    def head(self) -> SSE:
        if not self.status:
            self._read_head()
        return self

    def next(self, timeout_s: float = TIMEOUT_S) -> Message | None:
        """The next message, or None at end of stream."""
        self.head()
        deadline = time.monotonic() + timeout_s
        while not self._pending:
            if self.eof:
                return None
            self.sock.settimeout(max(0.01, deadline - time.monotonic()))
            chunk = self.sock.recv(65536)
            if not chunk:
                self.eof = True
                continue
            self.raw += chunk
            self._pending += self.parser.feed(chunk)
        return self._pending.pop(0)

    def take(self, n: int) -> list[Message]:
        out = []
        for _ in range(n):
            message = self.next()
            assert message is not None, f"stream ended after {len(out)} of {n} messages"
            out.append(message)
        return out

    def until_end(self) -> list[Message]:
        """Every message until the server closes the stream."""
        out = []
        while (message := self.next()) is not None:
            out.append(message)
        return out

    def close(self) -> None:
        self.sock.close()

    def __enter__(self) -> SSE:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()


def stream_path(task_id: object, **query: str) -> str:
    qs = "&".join(f"{k}={v}" for k, v in query.items())
    return f"/api/v1/tasks/{task_id}/stream" + (f"?{qs}" if qs else "")


def connect(dsn: str) -> psycopg.Connection[Any]:
    return psycopg.connect(dsn, autocommit=True)


def wait_until(check: Callable[[], bool], what: str, timeout_s: float = TIMEOUT_S) -> None:
    deadline = time.monotonic() + timeout_s
    while not check():
        if time.monotonic() > deadline:
            raise AssertionError(f"timed out waiting for {what}")
        time.sleep(0.02)


class Background:
    """Run a function in a thread; ``result()`` re-raises what it raised."""

    def __init__(self, fn: Callable[[], Any]) -> None:
        self._fn = fn
        self._result: Any = None
        self._error: BaseException | None = None
        self._thread = threading.Thread(target=self._run, daemon=True)
        self._thread.start()

    def _run(self) -> None:
        try:
            self._result = self._fn()
        except BaseException as exc:
            self._error = exc

    def result(self, timeout_s: float = TIMEOUT_S) -> Any:
        self._thread.join(timeout_s)
        assert not self._thread.is_alive(), "background work did not finish"
        if self._error is not None:
            raise self._error
        return self._result

    def error(self, timeout_s: float = TIMEOUT_S) -> BaseException | None:
        self._thread.join(timeout_s)
        assert not self._thread.is_alive(), "background work did not finish"
        return self._error
