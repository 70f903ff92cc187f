"""The request handler of the progress server: HTTP/1.1 keep-alive, JSON errors, the hand-off.

    connection ─▶ request ─▶ app ─▶ response has a length (Content-Length, 204, HEAD)
                    ▲                    and the client did not say close? ─yes─┐
                    └────────── next request (idle at most keepalive_s) ◀───────┘
                  a stream (no length) ends the connection with itself ─ or hands the
                  socket to the writer (HANDOFF_KEY), and this thread ends

Everything the stdlib would answer in HTML is JSON here (414, 431, 400, 505),
and no log line shows a token (:mod:`sqlmig.progress.masking`).
"""

from __future__ import annotations

import json
import logging
import os
import socket
import time
from typing import IO, Any, Protocol, cast
from wsgiref.simple_server import ServerHandler, WSGIRequestHandler
from wsgiref.types import WSGIApplication

from sqlmig.progress import masking
from sqlmig.progress.web import CONNECTIONS_KEY, HANDOFF_KEY

log = logging.getLogger(masking.LOGGER)

_DISCONNECTS = (ConnectionError, TimeoutError)
LINGER_S = 2.0
# The stdlib's reasons, in our words (its own texts may quote the request line).
_HTTP_ERRORS = {
    400: "malformed request",
    414: "request line too long (the limit is 65536 bytes)",
    431: "request header fields too large (at most 100 lines of 65536 bytes)",
    505: "HTTP version not supported (use HTTP/1.1)",
}


def error_json(status: int, message: str) -> bytes:
    return (json.dumps({"error": message, "status": status}) + "\n").encode()


class _Handler(ServerHandler):
    error_body = b'{"error": "internal server error", "status": 500}\n'
    http_version = "1.1"

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

    def cleanup_headers(self) -> None:
        super().cleanup_headers()
        state = cast(Any, self)
        status = int(str(state.status)[:3])
        framed = "Content-Length" in state.headers or status in (204, 304)
        handler = state.request_handler
        if not framed or handler.close_connection:
            # A stream (or a response of unknown length) ends with the connection.
            handler.close_connection = True
            state.headers["Connection"] = "close"

    def handle_error(self) -> None:
        if cast(Any, self).headers_sent:
            # Half a response is on the wire: the connection cannot carry another one.
            cast(Any, self).request_handler.close_connection = True
        super().handle_error()

    def log_exception(self, exc_info: Any) -> None:
        exc = exc_info[1]
        if isinstance(exc, _DISCONNECTS):
            log.debug("client went away: %s", exc)
        else:
            log.error("error while serving a response", exc_info=exc_info)


class Server(Protocol):
    """What the handler needs of :class:`sqlmig.progress.server.ThreadingWSGIServer`."""

    client_timeout_s: float
    keepalive_s: float
    open_connections: int
    max_connections: int
    lend_socket: bool
    access_log: bool

    def hand_off(self, request: Any) -> None: ...
    def release(self) -> None: ...
    def get_app(self) -> WSGIApplication | None: ...


class RequestHandler(WSGIRequestHandler):
    disable_nagle_algorithm = True
    protocol_version = "HTTP/1.1"
    server: Server  # type: ignore[assignment]

    def setup(self) -> None:
        super().setup()
        self.connection.settimeout(self.server.client_timeout_s)

    def get_environ(self) -> dict[str, Any]:
        environ = super().get_environ()
        environ[CONNECTIONS_KEY] = (self.server.open_connections, self.server.max_connections)
        if self.server.lend_socket:
            environ[HANDOFF_KEY] = self._hand_off
        return environ

    def _hand_off(self) -> tuple[int, Any]:
        """The stream's socket for the writer: its own descriptor, non-blocking.

        This connection is then neither shut down nor uncounted when the
        thread ends; the writer closes its descriptor and calls the release.
        """
        self.close_connection = True
        fd = os.dup(self.connection.fileno())
        os.set_blocking(fd, False)
        self.server.hand_off(self.request)
        return fd, self.server.release

    def handle(self) -> None:
        # Keep-alive: one request after another until one says close, a response
        # has no length, the connection idles keepalive_s, or the socket is handed off.
        self.close_connection = True
        self.handle_one_request()
        while not self.close_connection:
            self.connection.settimeout(self.server.keepalive_s)
            try:
                if not cast(Any, self.rfile).peek(1):
                    break  # the client closed
            except (TimeoutError, OSError):
                break
            self.connection.settimeout(self.server.client_timeout_s)
            self.handle_one_request()

    def handle_one_request(self) -> None:
        # WSGIRequestHandler.handle, with our ServerHandler subclass.
        self.close_connection = True
        self.raw_requestline = self.rfile.readline(65537)
        if not self.raw_requestline:
            return
        if len(self.raw_requestline) > 65536:
            self.requestline = self.request_version = self.command = ""
            self.send_error(414)
            return
        if not self.parse_request():
            return
        has_body = self.headers.get("Content-Length", "").strip() not in ("", "0")
        if has_body or self.headers.get("Transfer-Encoding"):
            # The app may leave the body unread: it must not be parsed as a request.
            self.close_connection = True
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
        body = error_json(code, text + ".")
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
            deadline, left = time.monotonic() + LINGER_S, 1 << 20
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
