"""A small threaded WSGI server from the standard library (wsgiref + ThreadingMixIn).

    accept ─▶ thread per connection (daemon) ─▶ WSGIRequestHandler ─▶ app(environ, start_response)
                                                 └─ writes each yielded chunk at once (no buffering)

Why this is enough: a stream thread spends its life blocked on its
subscription queue (no GIL held); the one listening connection lives in the
hub, not here. Tuned for streams:

* TCP_NODELAY, so a small event is not held back waiting for the previous
  one's ACK (Nagle + delayed ACK would add up to 40 ms);
* a listen backlog of 1024, so a burst of clients connecting is not dropped;
* a socket timeout per connection: a client that stops reading for that
  long (its send buffer full) is dropped, which frees its thread;
* expected disconnects are not logged as errors, and the request environ
  does not copy the process environment (which may hold secrets);
* every error is JSON, those of the HTTP machinery itself too (414 request
  line too long, 431 headers too large, 400 malformed, 505 version), and no
  log line shows a token (:mod:`sqlmig.progress.masking`);
* at most ``max_connections`` connections at once (a thread each, streams and
  plain requests alike). One more is answered 503 + Retry-After by the
  accepting thread itself, which starts no thread for it::

    accept ─▶ open < max? ──yes──▶ thread (open += 1 … open -= 1 when it closes)
                 └─no──▶ write 503, FIN ─▶ lingering (read and dropped until the
                         client closes, ≤ 2 s) ─▶ close

  Lingering rather than closing at once: closing a socket with unread request
  bytes sends RST, and the client may lose the 503 before it reads it.
"""

from __future__ import annotations

import json
import logging
import socket
import socketserver
import threading
import time
from typing import IO, Any, cast
from wsgiref.simple_server import ServerHandler, WSGIRequestHandler, WSGIServer
from wsgiref.types import WSGIApplication

from sqlmig.progress import masking
from sqlmig.progress.web import CONNECTIONS_KEY, SOCKET_KEY

log = logging.getLogger(masking.LOGGER)

_DISCONNECTS = (ConnectionError, TimeoutError)
DEFAULT_MAX_CONNECTIONS = 2000  # ~136 KiB per stream thread (benchmarks/README.md)
FD_RESERVE = 96  # descriptors besides connections: pool, listener, lingering refusals
_MAX_LINGERING = 32  # refused sockets kept open to drain; beyond it, closed at once
_LINGER_S = 2.0
_RETRY_AFTER_S = 2
_FULL_WARNING_EVERY_S = 60.0
# The stdlib's reasons, in our words (its own texts may quote the request line).
_HTTP_ERRORS = {
    400: "malformed request",
    414: "request line too long (the limit is 65536 bytes)",
    431: "request header fields too large (at most 100 lines of 65536 bytes)",
    505: "HTTP version not supported (use HTTP/1.1)",
}


def _error_json(status: int, message: str) -> bytes:
    return (json.dumps({"error": message, "status": status}) + "\n").encode()


class _Handler(ServerHandler):
    error_body = b'{"error": "internal server error", "status": 500}\n'

    def __init__(self, *args: Any, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        # wsgiref copies os.environ (DSNs, tokens...) into every request by default.
        self.os_environ = {}
        self.error_headers = [("Content-Type", "application/json; charset=utf-8")]

    def finish_content(self) -> None:
        state = cast(Any, self)  # attributes of wsgiref's BaseHandler typeshed leaves out
        if state.environ.get("REQUEST_METHOD") == "HEAD":
            # The app sent no body; wsgiref would add "Content-Length: 0", which
            # a stream's GET does not have.
            if not state.headers_sent:
                self.send_headers()
            return
        super().finish_content()

    def log_exception(self, exc_info: Any) -> None:
        exc = exc_info[1]
        if isinstance(exc, _DISCONNECTS):
            log.debug("client went away: %s", exc)
        else:
            log.error("error while serving a response", exc_info=exc_info)


class _RequestHandler(WSGIRequestHandler):
    disable_nagle_algorithm = True
    server: ThreadingWSGIServer

    def setup(self) -> None:
        super().setup()
        self.connection.settimeout(self.server.client_timeout_s)

    def get_environ(self) -> dict[str, Any]:
        environ = super().get_environ()
        environ[CONNECTIONS_KEY] = (self.server.open_connections, self.server.max_connections)
        if self.server.lend_socket:
            # Lets the hub write stream events straight to this socket
            # (sqlmig.progress.hub.Subscription, direct mode).
            environ[SOCKET_KEY] = self.connection
        return environ

    def handle(self) -> None:
        # WSGIRequestHandler.handle, with our ServerHandler subclass.
        self.raw_requestline = self.rfile.readline(65537)
        if len(self.raw_requestline) > 65536:
            self.requestline = self.request_version = self.command = ""
            self.send_error(414)
            return
        if not self.parse_request():
            return
        handler = _Handler(
            self.rfile,
            cast(IO[bytes], self.wfile),
            self.get_stderr(),
            self.get_environ(),
            multithread=True,
        )
        handler.request_handler = self  # type: ignore[attr-defined]
        app = self.server.get_app()
        assert app is not None
        handler.run(app)

    def send_error(self, code: int, message: str | None = None, explain: str | None = None) -> None:
        """JSON like every other error (the stdlib sends HTML)."""
        text = _HTTP_ERRORS.get(code) or self.responses.get(code, ("error",))[0].lower()
        if code == 400 and message:
            text += f": {masking.mask(message)[:200]}"
        self.log_error("code %d, message %s", code, text)
        body = _error_json(code, text + ".")
        # A line that failed to parse leaves the version at HTTP/0.9, which
        # would suppress the status line and headers: no client speaks 0.9.
        self.request_version = (
            "HTTP/1.0" if self.request_version == "HTTP/0.9" else self.request_version
        )
        self.send_response(code)
        self.send_header("Content-Type", "application/json; charset=utf-8")
        self.send_header("Content-Length", str(len(body)))
        self.send_header("Cache-Control", "no-store")
        self.send_header("X-Content-Type-Options", "nosniff")
        self.send_header("Connection", "close")
        self.end_headers()
        self.close_connection = True
        if self.command != "HEAD":
            self.wfile.write(body)
        self._drain_before_close()

    def _drain_before_close(self) -> None:
        """Read (a bounded amount of) what the client still sends, until it closes.

        The request was refused before it was read in full; closing now would
        answer the unread bytes with RST, and the client could lose the error.
        """
        try:
            self.wfile.flush()
            self.connection.shutdown(socket.SHUT_WR)
            deadline, left = time.monotonic() + _LINGER_S, 1 << 20
            while left > 0 and (wait := deadline - time.monotonic()) > 0:
                self.connection.settimeout(wait)
                chunk = self.connection.recv(min(left, 65536))
                if not chunk:
                    break
                left -= len(chunk)
        except OSError:
            pass

    def log_message(self, format: str, *args: Any) -> None:
        # The request line may carry ?token=: the logger's filter masks it.
        if self.server.access_log:
            log.info("%s %s", self.address_string(), format % args)


class ThreadingWSGIServer(socketserver.ThreadingMixIn, WSGIServer):
    daemon_threads = True
    block_on_close = False  # streams end with the hub; do not wait for them
    allow_reuse_address = True
    request_queue_size = 1024
    client_timeout_s: float = 60.0
    access_log = False
    lend_socket = True
    max_connections = DEFAULT_MAX_CONNECTIONS

    def __init__(self, *args: Any, **kwargs: Any) -> None:
        self._count_lock = threading.Lock()
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
            super().process_request_thread(request, client_address)
        finally:
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
        body = _error_json(
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
        self._lingering.append((sock, now + _LINGER_S))

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
) -> ThreadingWSGIServer:
    """Bind (port 0: any free port) and return the server; call ``serve_forever()``.

    ``lend_socket=False`` hides the socket from the app, as any other WSGI
    server would: streams are then written by their threads only.
    """
    if client_timeout_s <= 0:
        raise ValueError("client_timeout_s must be positive (direct writes need it)")
    if max_connections < 1:
        raise ValueError("max_connections must be at least 1")
    server = ThreadingWSGIServer((host, port), _RequestHandler)
    server.client_timeout_s = client_timeout_s
    server.access_log = access_log
    server.lend_socket = lend_socket
    server.max_connections = max_connections
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
