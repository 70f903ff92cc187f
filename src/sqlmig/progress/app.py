"""The WSGI application: routes, JSON endpoints, CORS; streams, pages and auth delegated.

    GET  /api/v1/health                   listener state and counts (no token needed)
    GET  /api/v1/tasks                    tasks newest first: ?status= ?type= ?parent=ID|none
                                          ?limit=1..500 ?cursor= (listing.py)
    GET  /api/v1/tasks/{id}               one task (a batch: with its children's counts)
    GET  /api/v1/tasks/{id}/children      a batch's children, paged like the list
    GET  /api/v1/tasks/stream             one stream of every matching task's events
                                          (?status=RUNNING&type=..., Last-Event-ID: row id)
    GET  /api/v1/tasks/{id}/stream        text/event-stream (Last-Event-ID / ?last_event_id=)
    POST /api/v1/tasks/{id}/cancel        200, or 409 when it already finished
    GET  /tasks/{id}                      the progress page (page.html)
    GET  /  and  /tasks                   the dashboard: every task, live (dashboard.html)

Every GET route answers HEAD too: same status and headers, no body (a stream
is opened, checked and closed at once).

    request ─▶ route (404 / 405) ─▶ auth.py (token, cookie, sign-in link; not for health)
        ├─ stream ─▶ stream.py (catch-up, then writer.py: live events, heartbeats, the end)
        ├─ pages  ─▶ pages.py: page.html / dashboard.html with a nonce and a config
        └─ JSON   ─▶ store.py queries on pool.py's connections ─▶ web.py (JSON, errors)

Errors are JSON (``{"error": ..., "status": ...}``), except on a task page's
address, where a person reads them (a small HTML page); nothing here ever sends a
traceback: a database that is away is 503 + Retry-After, anything else 500.
"""

from __future__ import annotations

import logging
import re
from collections.abc import Callable, Iterable
from dataclasses import dataclass
from typing import Any
from urllib.parse import parse_qsl
from uuid import UUID
from wsgiref.types import StartResponse, WSGIEnvironment

import psycopg

from sqlmig.core.errors import DatabaseUnavailable
from sqlmig.core.redact import redact
from sqlmig.progress import listing, pages, store
from sqlmig.progress.auth import Auth
from sqlmig.progress.hub import Hub
from sqlmig.progress.pool import Pool
from sqlmig.progress.stream import Streams
from sqlmig.progress.web import (
    API,
    CONNECTIONS_KEY,
    HTTPError,
    html_error,
    json_response,
    query,
    task_id,
)

log = logging.getLogger("sqlmig.progress")


@dataclass(frozen=True)
class Options:
    """Server behaviour the issue leaves to configuration."""

    cors_origins: tuple[str, ...] = ()  # exact origins, or "*" for any
    token: str | None = None  # bearer token; None: no authentication
    heartbeat_s: float = 15.0
    retry_ms: int = 2000  # the reconnection delay EventSource should use


# GET implies HEAD (see _allow).
_ROUTES: list[tuple[re.Pattern[str], str, tuple[str, ...]]] = [
    (re.compile(rf"^{API}/health$"), "health", ("GET",)),
    (re.compile(rf"^{API}/tasks$"), "list", ("GET",)),
    (re.compile(rf"^{API}/tasks/stream$"), "tasks_stream", ("GET",)),
    (re.compile(rf"^{API}/tasks/(?P<id>[^/]+)$"), "task", ("GET",)),
    (re.compile(rf"^{API}/tasks/(?P<id>[^/]+)/stream$"), "stream", ("GET",)),
    (re.compile(rf"^{API}/tasks/(?P<id>[^/]+)/children$"), "children", ("GET",)),
    (re.compile(rf"^{API}/tasks/(?P<id>[^/]+)/cancel$"), "cancel", ("POST",)),
    (re.compile(r"^/tasks/(?P<id>[^/]+)/?$"), "page", ("GET",)),
    (re.compile(r"^/(?:tasks/?)?$"), "dashboard", ("GET",)),
]
_ALLOWED_REQUEST_HEADERS = ("authorization", "content-type", "last-event-id", "cache-control")


def _allow(methods: tuple[str, ...]) -> str:
    listed = [m for method in methods for m in (method, "HEAD") if m == method or method == "GET"]
    return ", ".join((*listed, "OPTIONS"))


class ProgressApp:
    """``ProgressApp(hub, pool, options)`` is a WSGI callable."""

    def __init__(self, hub: Hub, pool: Pool, options: Options | None = None) -> None:
        self.hub, self.pool = hub, pool
        self.options = options or Options()
        self.auth = Auth(self.options.token)
        self.streams = Streams(
            hub, pool, heartbeat_s=self.options.heartbeat_s, retry_ms=self.options.retry_ms
        )

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
            if route == "dashboard":
                return self._dashboard(environ, path, start_response)
            if route == "page":
                try:
                    return self._page(environ, task_id(match["id"]), cors, start_response)
                except HTTPError as exc:  # a person reads this one: a page, not JSON
                    return html_error(start_response, exc.status, exc.message, exc.headers)
            if route != "health":
                self.auth.require(environ)
            if route == "stream":
                return self.streams.task(environ, task_id(match["id"]), cors, start_response)
            if route == "tasks_stream":
                return self.streams.tasks(environ, cors, start_response)
            status, body = self._json_route(route, match, environ)
            return json_response(start_response, status, body, cors)
        except HTTPError as exc:
            return json_response(
                start_response,
                exc.status,
                {"error": exc.message, "status": exc.status},
                cors + exc.headers,
            )
        except (psycopg.OperationalError, DatabaseUnavailable) as exc:
            log.warning("database unavailable for %s %s: %s", method, path, redact(str(exc)))
            return json_response(
                start_response,
                503,
                {"error": "the database is unavailable; retry shortly.", "status": 503},
                [*cors, ("Retry-After", "2")],
            )
        except Exception:
            log.exception("error serving %s %s", method, path)
            return json_response(
                start_response, 500, {"error": "internal server error", "status": 500}, cors
            )

    # -- routing and CORS ---------------------------------------------------------------

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
            page = listing.parse(query(environ))
            body = self.pool.run(page.fetch)
            return 200, {**body, "tasks": [_with_links(t) for t in body["tasks"]]}
        tid = task_id(match["id"])
        if route == "children":
            page = listing.parse(query(environ), parent=tid)
            if self.pool.run(lambda c: store.task_status(c, tid)) is None:
                raise HTTPError(404, f"no task {tid}.")
            body = self.pool.run(page.fetch)
            return 200, {**body, "tasks": [_with_links(t) for t in body["tasks"]]}
        if route == "task":
            task = self.pool.run(lambda c: store.fetch_task(c, tid))
            if task is None:
                raise HTTPError(404, f"There is no task {tid} on this server.")
            return 200, _with_links(task)
        assert route == "cancel"
        self._check_post_origin(environ)
        outcome = self.pool.run(lambda c: store.cancel_task(c, tid))
        if not outcome.found:
            raise HTTPError(404, f"no task {tid}.")
        if not outcome.cancelled:
            raise HTTPError(409, f"task {tid} already finished ({outcome.status}).")
        task = self.pool.run(lambda c: store.fetch_task(c, tid))
        return 200, {"cancelled": True, "task": _with_links(task or {"id": str(tid)})}

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
        tid: UUID,
        cors: list[tuple[str, str]],
        start_response: StartResponse,
    ) -> Iterable[bytes]:
        pairs = parse_qsl(environ.get("QUERY_STRING", ""), keep_blank_values=True)
        if any(name == "token" for name, _ in pairs):
            return self.auth.sign_in(environ, f"/tasks/{tid}", pairs, start_response)
        if self.auth.authorized(environ):
            try:
                exists = self.pool.run(lambda c: store.task_status(c, tid)) is not None
            except (psycopg.OperationalError, DatabaseUnavailable):
                exists = True  # serve the page anyway: it retries until the database is back
            if not exists:
                raise HTTPError(404, f"There is no task {tid} on this server.")
        # else: the shell, unchecked; its API calls answer 401 and it says how to sign in.
        config = {"taskId": str(tid), "api": API, "retryMs": self.options.retry_ms}
        return pages.serve(start_response, "page.html", config)

    def _dashboard(
        self, environ: WSGIEnvironment, path: str, start_response: StartResponse
    ) -> Iterable[bytes]:
        pairs = parse_qsl(environ.get("QUERY_STRING", ""), keep_blank_values=True)
        if any(name == "token" for name, _ in pairs):
            return self.auth.sign_in(environ, path, pairs, start_response)
        config = {
            "api": API,
            "retryMs": self.options.retry_ms,
            "statuses": list(store.TASK_STATUSES),
        }
        return pages.serve(start_response, "dashboard.html", config)


def _with_links(task: dict[str, Any]) -> dict[str, Any]:
    tid = task["id"]
    return {
        **task,
        "links": {
            "self": f"{API}/tasks/{tid}",
            "stream": f"{API}/tasks/{tid}/stream",
            "cancel": f"{API}/tasks/{tid}/cancel",
            "page": f"/tasks/{tid}",
            **({"children": f"{API}/tasks/{tid}/children"} if task.get("is_batch") else {}),
        },
    }


def make_app(
    hub: Hub, pool: Pool, options: Options | None = None
) -> Callable[[WSGIEnvironment, StartResponse], Iterable[bytes]]:
    return ProgressApp(hub, pool, options)
