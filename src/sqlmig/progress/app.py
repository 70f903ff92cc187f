"""The WSGI application: routes, JSON errors, CORS, token and session, the event stream.

    GET  /api/v1/health                   listener state and counts (no token needed)
    GET  /api/v1/tasks                    recent tasks (?limit=1..500, ?status=RUNNING)
    GET  /api/v1/tasks/{id}               one task
    GET  /api/v1/tasks/{id}/stream        text/event-stream (Last-Event-ID / ?last_event_id=)
    POST /api/v1/tasks/{id}/cancel        200, or 409 when it already finished
    GET  /tasks/{id}                      the progress page (page.html)

Every GET route answers HEAD too: same status and headers, no body (a stream
is opened, checked and closed at once).

With a token, a request is authorized by any one of ``Authorization: Bearer
TOKEN``, the session cookie, or ``?token=TOKEN`` (EventSource cannot send
headers; kept for front-ends on other origins). The page trades the token for
the cookie, so no later URL carries it::

    GET /tasks/ID?token=T ─ right ─▶ 303 Location: /tasks/ID + Set-Cookie (HttpOnly,
                          │                                  SameSite=Strict, Path=/)
                          └ wrong ─▶ 401
    GET /tasks/ID ─▶ the page; its fetch() and EventSource calls carry the cookie.

The cookie's value is HMAC-SHA256(token, label), not the token: it cannot be
turned back into the token (nor used as a Bearer token), it survives a server
restart (the page reconnects by itself), and rotating the token revokes it.
Without any credential the page is still served, as a shell that shows no
task data (a link opened from another site arrives without SameSite=Strict
cookies; the page's own requests then carry it) and says how to sign in.

A stream, from request to close::

    subscribe(task) ─▶ task exists? (404) ─▶ catch-up: rows seq > Last-Event-ID
        ─▶ 200 + "retry:" ─▶ catch-up events ─▶ lend the socket to the hub, wait ─┐
        ▲     (the hub writes in-order events itself while this thread sleeps)   │
        └── write: heartbeat | queued event | rest of a partial write | re-read ◀┘
                   by seq (RESYNC: lagging, gap, truncated payload, DB restart)
    ends after the terminal event (completed / failed / cancelled); close() always
    detaches the socket and unsubscribes, whether the client vanished, the
    server stops or the task ended.
    A client that resumes after the terminal event gets 204, which tells
    EventSource to stop reconnecting.

Errors are JSON (``{"error": ..., "status": ...}``); nothing here ever sends a
traceback. Every response carries ``Cache-Control: no-store``.
"""

from __future__ import annotations

import hashlib
import hmac
import json
import logging
import re
import secrets
from collections.abc import Callable, Generator, Iterable, Iterator
from dataclasses import dataclass
from functools import cache
from importlib import resources
from typing import Any
from urllib.parse import parse_qs, parse_qsl, urlencode
from uuid import UUID
from wsgiref.types import StartResponse, WSGIEnvironment

import psycopg

from sqlmig.core.errors import DatabaseUnavailable
from sqlmig.core.redact import redact
from sqlmig.progress import events, masking, store
from sqlmig.progress.events import HEARTBEAT, ProgressEvent
from sqlmig.progress.hub import CLOSED, ENDED, GONE, RESYNC, Hub, Partial, Subscription
from sqlmig.progress.pool import Pool

log = logging.getLogger("sqlmig.progress")

API = "/api/v1"
SOCKET_KEY = "sqlmig.socket"  # environ key: the client socket (sqlmig.progress.server only)
CONNECTIONS_KEY = "sqlmig.connections"  # environ key: (open, limit), from our server only
MAX_SEQ = 2**31 - 1
_ASCII_INT = re.compile(r"[0-9]{1,10}")  # never int() on raw text: it takes '١٢', '²' too
_SESSION_LABEL = b"sqlmig progress session v1"
_RESYNC_RETRY_S = 1.0


@dataclass(frozen=True)
class Options:
    """Server behaviour the issue leaves to configuration."""

    cors_origins: tuple[str, ...] = ()  # exact origins, or "*" for any
    token: str | None = None  # bearer token; None: no authentication
    heartbeat_s: float = 15.0
    retry_ms: int = 2000  # the reconnection delay EventSource should use


class HTTPError(Exception):
    def __init__(self, status: int, message: str, headers: Iterable[tuple[str, str]] = ()) -> None:
        super().__init__(message)
        self.status, self.message, self.headers = status, message, list(headers)


_REASONS = {
    200: "OK",
    204: "No Content",
    303: "See Other",
    400: "Bad Request",
    401: "Unauthorized",
    403: "Forbidden",
    404: "Not Found",
    405: "Method Not Allowed",
    409: "Conflict",
    500: "Internal Server Error",
    503: "Service Unavailable",
}

# GET implies HEAD (see _allow).
_ROUTES: list[tuple[re.Pattern[str], str, tuple[str, ...]]] = [
    (re.compile(rf"^{API}/health$"), "health", ("GET",)),
    (re.compile(rf"^{API}/tasks$"), "list", ("GET",)),
    (re.compile(rf"^{API}/tasks/(?P<id>[^/]+)$"), "task", ("GET",)),
    (re.compile(rf"^{API}/tasks/(?P<id>[^/]+)/stream$"), "stream", ("GET",)),
    (re.compile(rf"^{API}/tasks/(?P<id>[^/]+)/cancel$"), "cancel", ("POST",)),
    (re.compile(r"^/tasks/(?P<id>[^/]+)/?$"), "page", ("GET",)),
]
_ALLOWED_REQUEST_HEADERS = ("authorization", "content-type", "last-event-id", "cache-control")


def _allow(methods: tuple[str, ...]) -> str:
    listed = [m for method in methods for m in (method, "HEAD") if m == method or method == "GET"]
    return ", ".join((*listed, "OPTIONS"))


@cache
def _page_template() -> str:
    return resources.files("sqlmig.progress").joinpath("page.html").read_text(encoding="utf-8")


class ProgressApp:
    """``ProgressApp(hub, pool, options)`` is a WSGI callable."""

    def __init__(self, hub: Hub, pool: Pool, options: Options | None = None) -> None:
        self.hub, self.pool = hub, pool
        self.options = options or Options()
        token = self.options.token
        self._session = (
            hmac.new(token.encode(), _SESSION_LABEL, hashlib.sha256).hexdigest() if token else ""
        )
        masking.add_secret(token)
        masking.add_secret(self._session)

    def __call__(self, environ: WSGIEnvironment, start_response: StartResponse) -> Iterable[bytes]:
        method = environ.get("REQUEST_METHOD", "GET").upper()
        if method != "HEAD":
            return self._respond(environ, method, start_response)
        # HEAD: the GET response, status and headers included, without its body.
        result = self._respond(environ, method, start_response)
        close = getattr(result, "close", None)
        if close is not None:
            close()  # a stream: unsubscribes, never started
        return []

    def _respond(
        self, environ: WSGIEnvironment, method: str, start_response: StartResponse
    ) -> Iterable[bytes]:
        path = environ.get("PATH_INFO", "") or "/"
        cors = self._cors_headers(environ)
        try:
            if method == "OPTIONS":
                return self._preflight(environ, path, cors, start_response)
            route, match = self._route(path, method)
            if route == "page":
                return self._page(environ, _task_id(match["id"]), cors, start_response)
            if route != "health":
                self._authorize(environ)
            if route == "stream":
                return self._stream(environ, _task_id(match["id"]), cors, start_response)
            status, body = self._json_route(route, match, environ)
            return _json(start_response, status, body, cors)
        except HTTPError as exc:
            return _json(
                start_response,
                exc.status,
                {"error": exc.message, "status": exc.status},
                cors + exc.headers,
            )
        except (psycopg.OperationalError, DatabaseUnavailable) as exc:
            log.warning("database unavailable for %s %s: %s", method, path, redact(str(exc)))
            return _json(
                start_response,
                503,
                {"error": "the database is unavailable; retry shortly.", "status": 503},
                [*cors, ("Retry-After", "2")],
            )
        except Exception:
            log.exception("error serving %s %s", method, path)
            return _json(
                start_response, 500, {"error": "internal server error", "status": 500}, cors
            )

    # -- routing, auth, CORS ------------------------------------------------------------

    def _route(self, path: str, method: str) -> tuple[str, dict[str, str]]:
        for pattern, name, methods in _ROUTES:
            match = pattern.match(path)
            if match:
                if ("GET" if method == "HEAD" else method) not in methods:
                    raise HTTPError(
                        405, f"{method[:32]} is not allowed here.", [("Allow", _allow(methods))]
                    )
                return name, match.groupdict()
        raise HTTPError(404, f"no such endpoint: {path}")

    def _authorized(self, environ: WSGIEnvironment) -> bool:
        token = self.options.token
        if not token:
            return True
        scheme, _, value = environ.get("HTTP_AUTHORIZATION", "").partition(" ")
        bearer = value.strip() if scheme.lower() == "bearer" else ""
        cookie = _cookies(environ).get(_cookie_name(environ), "")
        query = _query(environ).get("token", "")
        # Each one compared in constant time, all of them always.
        results = [
            _same(bearer, token),
            _same(cookie, self._session),
            _same(query, token),
        ]
        return any(results)

    def _authorize(self, environ: WSGIEnvironment) -> None:
        if not self._authorized(environ):
            raise HTTPError(
                401,
                "a bearer token is required (Authorization: Bearer TOKEN); in a browser, "
                "open /tasks/ID?token=TOKEN once.",
                [("WWW-Authenticate", 'Bearer realm="sqlmig"')],
            )

    def _origin_allowed(self, origin: str) -> bool:
        allowed = self.options.cors_origins
        return bool(origin) and ("*" in allowed or origin in allowed)

    def _cors_headers(self, environ: WSGIEnvironment) -> list[tuple[str, str]]:
        origin = environ.get("HTTP_ORIGIN", "")
        if not self._origin_allowed(origin):
            return [("Vary", "Origin")] if self.options.cors_origins else []
        return [("Access-Control-Allow-Origin", origin), ("Vary", "Origin")]

    def _preflight(
        self,
        environ: WSGIEnvironment,
        path: str,
        cors: list[tuple[str, str]],
        start_response: StartResponse,
    ) -> Iterable[bytes]:
        methods = next((m for p, _, m in _ROUTES if p.match(path)), None)
        if methods is None:
            raise HTTPError(404, f"no such endpoint: {path}")
        origin = environ.get("HTTP_ORIGIN", "")
        allow = _allow(methods)
        if not origin:
            start_response("204 No Content", [("Allow", allow), ("Cache-Control", "no-store")])
            return []
        if not self._origin_allowed(origin):
            raise HTTPError(403, f"origin {origin} is not allowed (serve --cors-origin).")
        wanted = environ.get("HTTP_ACCESS_CONTROL_REQUEST_METHOD", "").upper()
        if wanted and wanted not in allow.split(", "):
            raise HTTPError(405, f"{wanted} is not allowed here.", [("Allow", allow)])
        asked = [
            h.strip().lower()
            for h in environ.get("HTTP_ACCESS_CONTROL_REQUEST_HEADERS", "").split(",")
            if h.strip()
        ]
        refused = [h for h in asked if h not in _ALLOWED_REQUEST_HEADERS]
        if refused:
            raise HTTPError(403, f"request header(s) not allowed: {', '.join(refused)}.")
        start_response(
            "204 No Content",
            [
                *cors,
                ("Access-Control-Allow-Methods", allow),
                ("Access-Control-Allow-Headers", ", ".join(_ALLOWED_REQUEST_HEADERS)),
                ("Access-Control-Max-Age", "600"),
                ("Cache-Control", "no-store"),
            ],
        )
        return []

    # -- JSON endpoints -------------------------------------------------------------------

    def _json_route(
        self, route: str, match: dict[str, str], environ: WSGIEnvironment
    ) -> tuple[int, Any]:
        if route == "health":
            stats = self.hub.stats()
            ok = stats["listener"] == "connected"
            body = {"status": "ok" if ok else "degraded", **stats}
            if CONNECTIONS_KEY in environ:
                body["connections"], body["max_connections"] = environ[CONNECTIONS_KEY]
            return (200 if ok else 503), body
        if route == "list":
            limit, status = _list_args(_query(environ))
            tasks = self.pool.run(lambda c: store.list_tasks(c, limit=limit, status=status))
            return 200, {"tasks": [_with_links(t) for t in tasks]}
        task_id = _task_id(match["id"])
        if route == "task":
            task = self.pool.run(lambda c: store.fetch_task(c, task_id))
            if task is None:
                raise HTTPError(404, f"no task {task_id}.")
            return 200, _with_links(task)
        assert route == "cancel"
        self._check_post_origin(environ)
        outcome = self.pool.run(lambda c: store.cancel_task(c, task_id))
        if not outcome.found:
            raise HTTPError(404, f"no task {task_id}.")
        if not outcome.cancelled:
            raise HTTPError(409, f"task {task_id} already finished ({outcome.status}).")
        task = self.pool.run(lambda c: store.fetch_task(c, task_id))
        return 200, {"cancelled": True, "task": _with_links(task or {"id": str(task_id)})}

    def _check_post_origin(self, environ: WSGIEnvironment) -> None:
        """Refuse cross-site POSTs (a form on another site cannot cancel tasks)."""
        origin = environ.get("HTTP_ORIGIN", "")
        if not origin or self._origin_allowed(origin):
            return
        scheme = environ.get("wsgi.url_scheme", "http")
        if origin != f"{scheme}://{environ.get('HTTP_HOST', '')}":
            raise HTTPError(403, f"origin {origin} is not allowed (serve --cors-origin).")

    # -- the page -----------------------------------------------------------------------

    def _page(
        self,
        environ: WSGIEnvironment,
        task_id: UUID,
        cors: list[tuple[str, str]],
        start_response: StartResponse,
    ) -> Iterable[bytes]:
        pairs = parse_qsl(environ.get("QUERY_STRING", ""), keep_blank_values=True)
        if any(name == "token" for name, _ in pairs):
            return self._sign_in(environ, task_id, pairs, start_response)
        if self._authorized(environ):
            try:
                exists = self.pool.run(lambda c: store.task_status(c, task_id)) is not None
            except (psycopg.OperationalError, DatabaseUnavailable):
                exists = True  # serve the page anyway: it retries until the database is back
            if not exists:
                raise HTTPError(404, f"no task {task_id}.")
        # else: the shell, unchecked; its API calls answer 401 and it says how to sign in.
        nonce = secrets.token_urlsafe(16)
        config = {"taskId": str(task_id), "api": API, "retryMs": self.options.retry_ms}
        # "<" escaped so no value can close the script element.
        config_json = json.dumps(config).replace("<", "\\u003c")
        html = (
            _page_template()
            .replace("__SQLMIG_NONCE__", nonce)
            .replace("__SQLMIG_CONFIG__", config_json)
        )
        body = html.encode("utf-8")
        csp = (
            f"default-src 'none'; script-src 'nonce-{nonce}'; style-src 'nonce-{nonce}'; "
            "connect-src 'self'; img-src data:; base-uri 'none'; form-action 'none'; "
            "frame-ancestors 'none'"
        )
        start_response(
            "200 OK",
            [
                ("Content-Type", "text/html; charset=utf-8"),
                ("Content-Length", str(len(body))),
                ("Cache-Control", "no-store"),
                ("Content-Security-Policy", csp),
                ("X-Content-Type-Options", "nosniff"),
                ("Referrer-Policy", "no-referrer"),
            ],
        )
        return [body]

    def _sign_in(
        self,
        environ: WSGIEnvironment,
        task_id: UUID,
        pairs: list[tuple[str, str]],
        start_response: StartResponse,
    ) -> Iterable[bytes]:
        """``/tasks/ID?token=T``: the same URL without the token, and the session cookie."""
        token = self.options.token
        given = next((value for name, value in reversed(pairs) if name == "token"), "")
        if token and not _same(given, token):
            raise HTTPError(
                401,
                "the token in this link is wrong.",
                [("WWW-Authenticate", 'Bearer realm="sqlmig"')],
            )
        rest = urlencode([(name, value) for name, value in pairs if name != "token"])
        location = f"/tasks/{task_id}" + (f"?{rest}" if rest else "")
        headers = [("Location", location), ("Referrer-Policy", "no-referrer")]
        if token:
            cookie = f"{_cookie_name(environ)}={self._session}; Path=/; HttpOnly; SameSite=Strict"
            if environ.get("wsgi.url_scheme") == "https":
                cookie += "; Secure"
            headers.append(("Set-Cookie", cookie))
        return _json(start_response, 303, {"location": location}, headers)

    # -- the stream ---------------------------------------------------------------------

    def _stream(
        self,
        environ: WSGIEnvironment,
        task_id: UUID,
        cors: list[tuple[str, str]],
        start_response: StartResponse,
    ) -> Iterable[bytes]:
        last = _last_event_id(environ)
        # Subscribe first: a row committed during the catch-up query is then
        # queued as well (and dropped as a duplicate), never lost.
        sub = self.hub.subscribe(str(task_id))
        try:
            task = self.pool.run(lambda c: store.fetch_task(c, task_id))
            if task is None:
                raise HTTPError(404, f"no task {task_id}.")
            backlog = self.pool.run(lambda c: store.fetch_events(c, task_id, last))
            if task["terminal"] and not backlog and last > 0:
                # Finished and already seen: 204 makes EventSource stop reconnecting.
                self.hub.unsubscribe(sub)
                start_response("204 No Content", [*cors, ("Cache-Control", "no-store")])
                return []
        except BaseException:
            self.hub.unsubscribe(sub)
            raise
        start_response(
            "200 OK",
            [
                *cors,
                ("Content-Type", "text/event-stream; charset=utf-8"),
                ("Cache-Control", "no-store"),
                ("X-Accel-Buffering", "no"),
                ("X-Content-Type-Options", "nosniff"),
            ],
        )
        sock = environ.get(SOCKET_KEY)
        if sock is not None and sock.gettimeout() is not None:
            # Our server's socket, non-blocking underneath (it has a timeout):
            # the hub may write to it directly. Other WSGI servers: thread only.
            sub.attach(sock.fileno())
        return EventStream(self, sub, task_id, task, backlog, last)


class EventStream:
    """The response iterable of one stream; ``close()`` always unsubscribes.

    A class rather than a bare generator: a generator that was never started
    does not run its ``finally`` on close(), and the server may close the
    response before the first iteration (client gone while headers were sent).
    """

    def __init__(
        self,
        app: ProgressApp,
        sub: Subscription,
        task_id: UUID,
        task: dict[str, Any],
        backlog: list[ProgressEvent],
        last: int,
    ) -> None:
        self._app, self._sub, self._task_id = app, sub, task_id
        self._gen = self._events(task, backlog, last)

    def __iter__(self) -> Iterator[bytes]:
        return self._gen

    def close(self) -> None:
        # Detach first: once the server closes the socket its number may be reused.
        self._sub.detach()
        try:
            self._gen.close()
        finally:
            self._app.hub.unsubscribe(self._sub)

    def _events(
        self, task: dict[str, Any], backlog: list[ProgressEvent], last: int
    ) -> Generator[bytes, None, None]:
        options, sub, pool = self._app.options, self._sub, self._app.pool

        def rows_after(seq: int) -> list[ProgressEvent]:
            return pool.run(lambda c: store.fetch_events(c, self._task_id, seq))

        yield events.encode(comment=f"task {self._task_id}", retry_ms=options.retry_ms)
        done = False

        def emit(batch: Iterable[ProgressEvent]) -> Iterator[bytes]:
            nonlocal last, done
            for event in batch:
                if done or event.seq <= last:
                    continue  # already sent (catch-up and queue overlap)
                yield event.sse()
                last = event.seq
                done = event.terminal

        # Catch-up, in batches so a long history does not sit in memory at once.
        while backlog:
            yield from emit(backlog)
            if done or len(backlog) < store.CATCH_UP_BATCH:
                break
            backlog = rows_after(last)
        if not done and task["terminal"]:
            # Finished without a terminal row (written by other code): say so, then end.
            yield _synthesized_end(task)
            return

        resync = False
        while not done:
            if not resync:
                sub.go_direct(last)  # the hub may now write in-order events itself
            item = sub.get(_RESYNC_RETRY_S if resync else options.heartbeat_s)
            last = sub.leave_direct(last)
            if item is CLOSED or item is GONE or item is ENDED:
                return
            if isinstance(item, Partial):
                yield item.rest
                last, done = item.event.seq, item.event.terminal
                continue
            if isinstance(item, ProgressEvent):
                if item.seq <= last:
                    continue
                if item.seq == last + 1 and not item.truncated:
                    yield from emit((item,))
                    continue
                # A gap (a notification went missing) or a cut payload: read the
                # rows from the database instead.
                resync = True
            elif item is RESYNC:
                resync = True
            if resync:
                sub.start_resync()
                try:
                    while True:
                        batch = rows_after(last)
                        yield from emit(batch)
                        if done or len(batch) < store.CATCH_UP_BATCH:
                            break
                    resync = False
                except (psycopg.OperationalError, DatabaseUnavailable) as exc:
                    log.info("re-sync of task %s postponed: %s", self._task_id, redact(str(exc)))
                    yield HEARTBEAT  # also notices a vanished client while we wait
                continue
            if item is None:
                yield HEARTBEAT


def _synthesized_end(task: dict[str, Any]) -> bytes:
    payload = {
        "task_id": task["id"],
        "seq": task["last_seq"],
        "status": task["status"],
        "percent": task["progress"],
        "stage": task["stage"],
        "message": task["message"] or task["status"].lower(),
        "data": {"error": task["error"]} if task["error"] else None,
        "created_at": task["completed_at"] or task["updated_at"],
    }
    # No id: the client's Last-Event-ID stays on the last real row.
    return events.encode(events.dumps(payload), event=events.event_name(task["status"]))


# -- helpers ------------------------------------------------------------------------------


def _task_id(text: str) -> UUID:
    try:
        if len(text) > 64 or not text.isascii():  # UUID() takes fullwidth digits too
            raise ValueError
        return UUID(text)
    except ValueError:
        shown = text if len(text) <= 64 else text[:64] + "..."
        raise HTTPError(400, f"malformed task id {shown!r}: expected a UUID.") from None


def _query(environ: WSGIEnvironment) -> dict[str, str]:
    parsed = parse_qs(environ.get("QUERY_STRING", ""), keep_blank_values=True)
    return {k: v[-1] for k, v in parsed.items()}


def _same(given: str, expected: str) -> bool:
    return hmac.compare_digest(given.encode("utf-8", "replace"), expected.encode())


def _cookie_name(environ: WSGIEnvironment) -> str:
    # Cookies ignore ports: two servers on one host must not overwrite each other's.
    port = str(environ.get("SERVER_PORT", ""))
    return "sqlmig_progress" + (f"_{port}" if port.isascii() and port.isdigit() else "")


def _cookies(environ: WSGIEnvironment) -> dict[str, str]:
    """The Cookie header's pairs (lenient: one bad pair spoils nothing else)."""
    pairs: dict[str, str] = {}
    for part in environ.get("HTTP_COOKIE", "").split(";"):
        name, sep, value = part.strip().partition("=")
        if sep and name:
            pairs.setdefault(name, value.strip().strip('"'))
    return pairs


def _last_event_id(environ: WSGIEnvironment) -> int:
    text = environ.get("HTTP_LAST_EVENT_ID", "").strip()
    if not text:
        text = _query(environ).get("last_event_id", "").strip()
    if not text:
        return 0
    if not _ASCII_INT.fullmatch(text) or int(text) > MAX_SEQ:
        raise HTTPError(400, f"malformed Last-Event-ID {text[:32]!r}: expected a row number.")
    return int(text)


def _list_args(query: dict[str, str]) -> tuple[int, str | None]:
    raw_limit = query.get("limit", "50")
    if not _ASCII_INT.fullmatch(raw_limit) or not 1 <= int(raw_limit) <= 500:
        raise HTTPError(400, f"limit must be an integer from 1 to 500, not {raw_limit[:16]!r}.")
    status = query.get("status") or None
    if status is not None:
        status = status.upper()
        if status not in store.TASK_STATUSES:
            raise HTTPError(
                400, f"unknown status {status[:16]!r}; one of {', '.join(store.TASK_STATUSES)}."
            )
    return int(raw_limit), status


def _with_links(task: dict[str, Any]) -> dict[str, Any]:
    task_id = task["id"]
    return {
        **task,
        "links": {
            "self": f"{API}/tasks/{task_id}",
            "stream": f"{API}/tasks/{task_id}/stream",
            "cancel": f"{API}/tasks/{task_id}/cancel",
            "page": f"/tasks/{task_id}",
        },
    }


def _json(
    start_response: StartResponse,
    status: int,
    body: Any,
    headers: Iterable[tuple[str, str]] = (),
) -> list[bytes]:
    data = (json.dumps(body, default=str) + "\n").encode("utf-8")
    start_response(
        f"{status} {_REASONS.get(status, 'Error')}",
        [
            *headers,
            ("Content-Type", "application/json; charset=utf-8"),
            ("Content-Length", str(len(data))),
            ("Cache-Control", "no-store"),
            ("X-Content-Type-Options", "nosniff"),
        ],
    )
    return [data]


def make_app(
    hub: Hub, pool: Pool, options: Options | None = None
) -> Callable[[WSGIEnvironment, StartResponse], Iterable[bytes]]:
    return ProgressApp(hub, pool, options)
