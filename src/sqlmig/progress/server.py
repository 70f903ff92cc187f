"""A small threaded WSGI server from the standard library (wsgiref + ThreadingMixIn).

    accept ─▶ thread per connection (daemon) ─▶ WSGIRequestHandler ─▶ app(environ, start_response)
                 │                               └─ writes each yielded chunk at once (no buffering)
                 ├─ HTTP/1.1 keep-alive: a response with a length (Content-Length, 204, HEAD)
                 │  lets the thread read the next request (idle at most keepalive_s)
                 └─ a caught-up stream takes the socket (HANDOFF_KEY: a duplicate of its
                    descriptor, non-blocking) to the writer (writer.py); the thread ends,
                    the connection stays open and counted until the writer closes it

Why this is enough: a thread lives for one request, or for one stream's
catch-up; an idle stream is a socket in the writer's epoll set. The one
listening connection lives in the hub, not here. Tuned for streams:

* TCP_NODELAY, so a small event is not held back waiting for the previous
  one's ACK (Nagle + delayed ACK would add up to 40 ms);
* a listen backlog of 1024, so a burst of clients connecting is not dropped;
* a socket timeout per connection: a client that stops reading for that
  long (its send buffer full) is dropped (the writer applies the same rule);
* the request handling itself (keep-alive, JSON errors, no process
  environment in the environ, masked logs) is :mod:`sqlmig.progress.handler`;
* at most ``max_connections`` connections at once (streams held by the
  writer and plain requests alike). One more is answered 503 + Retry-After by the
  accepting thread itself, which starts no thread for it::

    accept ─▶ open < max? ──yes──▶ thread (open += 1 … open -= 1 when it closes)
                 └─no──▶ write 503, FIN ─▶ lingering (read and dropped until the
                         client closes, ≤ 2 s) ─▶ close

  Lingering rather than closing at once: closing a socket with unread request
  bytes sends RST, and the client may lose the 503 before it reads it.
"""

from __future__ import annotations

import logging
import socket
import socketserver
import threading
import time
from typing import Any
from wsgiref.simple_server import WSGIServer
from wsgiref.types import WSGIApplication

from sqlmig.progress import masking
from sqlmig.progress.handler import LINGER_S, RequestHandler, error_json

log = logging.getLogger(masking.LOGGER)

DEFAULT_MAX_CONNECTIONS = 10_000  # an idle stream: a few KiB (benchmarks/README.md)
DEFAULT_KEEPALIVE_S = 5.0  # an idle keep-alive connection holds a thread: not for long
FD_RESERVE = 96  # descriptors besides connections: pool, listener, lingering refusals
_MAX_LINGERING = 32  # refused sockets kept open to drain; beyond it, closed at once
_RETRY_AFTER_S = 2
_FULL_WARNING_EVERY_S = 60.0


class ThreadingWSGIServer(socketserver.ThreadingMixIn, WSGIServer):
    daemon_threads = True
    block_on_close = False  # streams end with the hub; do not wait for them
    allow_reuse_address = True
    request_queue_size = 1024
    client_timeout_s: float = 60.0
    access_log = False
    lend_socket = True
    max_connections = DEFAULT_MAX_CONNECTIONS
    keepalive_s = DEFAULT_KEEPALIVE_S

    def __init__(self, *args: Any, **kwargs: Any) -> None:
        self._count_lock = threading.Lock()
        self._handed_off: set[int] = set()  # id() of request sockets the writer holds
        self.open_connections = 0
        self.refused_connections = 0
        self._lingering: list[tuple[socket.socket, float]] = []
        self._warned_full_at = -_FULL_WARNING_EVERY_S
        super().__init__(*args, **kwargs)

    def handle_error(self, request: Any, client_address: Any) -> None:
        log.debug("connection error from %s", client_address, exc_info=True)

    # -- the connection cap (runs in the accepting thread) ---------------------------------

    def process_request(self, request: Any, client_address: Any) -> None:
        with self._count_lock:
            admitted = self.open_connections < self.max_connections
            if admitted:
                self.open_connections += 1
        if not admitted:
            self._refuse(request, client_address)
            return
        try:
            super().process_request(request, client_address)  # starts its thread
        except RuntimeError:  # "can't start new thread": the machine's limit came first
            self._release()
            self._refuse(request, client_address)

    def process_request_thread(self, request: Any, client_address: Any) -> None:
        try:
            self.finish_request(request, client_address)
        except Exception:
            self.handle_error(request, client_address)
        finally:
            with self._count_lock:
                handed_off = id(request) in self._handed_off
                self._handed_off.discard(id(request))
            if handed_off:
                request.close()  # our descriptor only: no shutdown, the writer's stays open
            else:
                self.shutdown_request(request)
                self._release()

    def hand_off(self, request: Any) -> None:
        with self._count_lock:
            self._handed_off.add(id(request))

    def release(self) -> None:
        """A connection has closed (the writer calls it for the streams it held)."""
        self._release()

    def _release(self) -> None:
        with self._count_lock:
            self.open_connections -= 1

    def _refuse(self, sock: socket.socket, client_address: Any) -> None:
        self.refused_connections += 1
        now = time.monotonic()
        if now - self._warned_full_at >= _FULL_WARNING_EVERY_S:
            self._warned_full_at = now
            log.warning(
                "%d connections open, the limit (--max-connections): refusing more with 503",
                self.max_connections,
            )
        elif self.access_log:
            log.info("%s refused: %d connections open", client_address[0], self.max_connections)
        body = error_json(
            503, f"too many connections (at most {self.max_connections}); retry shortly."
        )
        head = (
            "HTTP/1.1 503 Service Unavailable\r\n"
            "Content-Type: application/json; charset=utf-8\r\n"
            f"Content-Length: {len(body)}\r\n"
            f"Retry-After: {_RETRY_AFTER_S}\r\n"
            "Cache-Control: no-store\r\n"
            "Connection: close\r\n\r\n"
        )
        try:
            sock.setblocking(False)
            sock.send(head.encode() + body)  # a few hundred bytes: an empty send buffer takes them
            sock.shutdown(socket.SHUT_WR)
        except OSError:
            sock.close()
            return
        if len(self._lingering) >= _MAX_LINGERING:
            sock.close()
            return
        self._lingering.append((sock, now + LINGER_S))

    def service_actions(self) -> None:
        """Called by serve_forever between accepts: drain and close refused sockets."""
        super().service_actions()
        if not self._lingering:
            return
        now = time.monotonic()
        keep = []
        for sock, deadline in self._lingering:
            if now < deadline and _drain(sock):
                keep.append((sock, deadline))
            else:
                sock.close()
        self._lingering = keep

    def server_close(self) -> None:
        super().server_close()
        for sock, _ in self._lingering:
            sock.close()
        self._lingering = []


def _drain(sock: socket.socket) -> bool:
    """Read what the client sent; False once it has closed (or the socket failed)."""
    try:
        while sock.recv(65536):
            pass
        return False  # end of stream: the client has read the answer and closed
    except BlockingIOError:
        return True
    except OSError:
        return False


def fit_open_file_limit(max_connections: int) -> int:
    """Raise the soft open-file limit for ``max_connections`` (+ reserve) if it is lower.

    Returns the connection limit the process can hold: ``max_connections``,
    or less when the hard limit is in the way. Past the limit, accept() fails
    (EMFILE) and the accepting loop would spin instead of answering 503.
    """
    try:
        import resource
    except ImportError:  # not on POSIX
        return max_connections
    needed = max_connections + FD_RESERVE
    soft, hard = resource.getrlimit(resource.RLIMIT_NOFILE)
    if soft == resource.RLIM_INFINITY or soft >= needed:
        return max_connections
    target = needed if hard == resource.RLIM_INFINITY else min(hard, needed)
    try:
        resource.setrlimit(resource.RLIMIT_NOFILE, (target, hard))
        soft = target
    except (ValueError, OSError):
        pass
    return max(1, min(max_connections, soft - FD_RESERVE))


def make_server(
    app: WSGIApplication,
    host: str = "127.0.0.1",
    port: int = 8000,
    *,
    client_timeout_s: float = 60.0,
    access_log: bool = False,
    lend_socket: bool = True,
    max_connections: int = DEFAULT_MAX_CONNECTIONS,
    keepalive_s: float = DEFAULT_KEEPALIVE_S,
) -> ThreadingWSGIServer:
    """Bind (port 0: any free port) and return the server; call ``serve_forever()``.

    ``lend_socket=False`` keeps the socket from the app, as any other WSGI
    server would: streams are then written by their threads only.
    """
    if client_timeout_s <= 0:
        raise ValueError("client_timeout_s must be positive (a silent client must be dropped)")
    if max_connections < 1:
        raise ValueError("max_connections must be at least 1")
    server = ThreadingWSGIServer((host, port), RequestHandler)
    server.client_timeout_s = client_timeout_s
    server.access_log = access_log
    server.lend_socket = lend_socket
    server.max_connections = max_connections
    server.keepalive_s = keepalive_s
    server.set_app(app)
    return server


class BackgroundServer:
    """``make_server`` run in a thread, for tests and embedding: ``with ... as srv: srv.url``."""

    def __init__(
        self,
        app: WSGIApplication,
        host: str = "127.0.0.1",
        port: int = 0,
        *,
        lend_socket: bool = True,
        access_log: bool = False,
        max_connections: int = DEFAULT_MAX_CONNECTIONS,
    ) -> None:
        self.server = make_server(
            app,
            host,
            port,
            lend_socket=lend_socket,
            access_log=access_log,
            max_connections=max_connections,
        )
        self._thread = threading.Thread(
            target=self.server.serve_forever,
            # close() waits for the loop's next poll; a short one keeps that wait short.
            kwargs={"poll_interval": 0.02},
            name="sqlmig-progress-server",
            daemon=True,
        )

    @property
    def url(self) -> str:
        host, port = self.server.server_address[:2]
        return f"http://{host!s}:{port}"

    def start(self) -> BackgroundServer:
        self._thread.start()
        return self

    def close(self) -> None:
        self.server.shutdown()
        self.server.server_close()
        self._thread.join(timeout=10)

    def __enter__(self) -> BackgroundServer:
        return self.start()

    def __exit__(self, *exc: object) -> None:
        self.close()
