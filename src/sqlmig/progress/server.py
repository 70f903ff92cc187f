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
  does not copy the process environment (which may hold secrets).
"""

from __future__ import annotations

import logging
import socketserver
import threading
from typing import IO, Any, cast
from wsgiref.simple_server import ServerHandler, WSGIRequestHandler, WSGIServer
from wsgiref.types import WSGIApplication

log = logging.getLogger("sqlmig.progress")

_DISCONNECTS = (ConnectionError, TimeoutError)


class _Handler(ServerHandler):
    error_body = b'{"error": "internal server error", "status": 500}\n'

    def __init__(self, *args: Any, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        # wsgiref copies os.environ (DSNs, tokens...) into every request by default.
        self.os_environ = {}
        self.error_headers = [("Content-Type", "application/json; charset=utf-8")]

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
        if self.server.lend_socket:
            # Lets the hub write stream events straight to this socket
            # (sqlmig.progress.hub.Subscription, direct mode).
            environ["sqlmig.socket"] = self.connection
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

    def log_message(self, format: str, *args: Any) -> None:
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

    def handle_error(self, request: Any, client_address: Any) -> None:
        log.debug("connection error from %s", client_address, exc_info=True)


def make_server(
    app: WSGIApplication,
    host: str = "127.0.0.1",
    port: int = 8000,
    *,
    client_timeout_s: float = 60.0,
    access_log: bool = False,
    lend_socket: bool = True,
) -> ThreadingWSGIServer:
    """Bind (port 0: any free port) and return the server; call ``serve_forever()``.

    ``lend_socket=False`` hides the socket from the app, as any other WSGI
    server would: streams are then written by their threads only.
    """
    if client_timeout_s <= 0:
        raise ValueError("client_timeout_s must be positive (direct writes need it)")
    server = ThreadingWSGIServer((host, port), _RequestHandler)
    server.client_timeout_s = client_timeout_s
    server.access_log = access_log
    server.lend_socket = lend_socket
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
    ) -> None:
        self.server = make_server(app, host, port, lend_socket=lend_socket)
        self._thread = threading.Thread(
            target=self.server.serve_forever,
            kwargs={"poll_interval": 0.1},
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
