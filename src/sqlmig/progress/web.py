"""What every route of the progress server shares: HTTP errors, JSON bodies, request parsing.

Errors are JSON (``{"error": ..., "status": ...}``); nothing here ever sends a
traceback. Every response carries ``Cache-Control: no-store``.
"""

from __future__ import annotations

import json
import re
from collections.abc import Iterable
from typing import Any
from urllib.parse import parse_qs
from uuid import UUID
from wsgiref.types import StartResponse, WSGIEnvironment

from sqlmig.progress.events import MEMSTACK_STATUS

API = "/api/v1"
# environ key: hand the socket to the writer (sqlmig.progress.server only; see stream.py)
HANDOFF_KEY = "sqlmig.handoff"
CONNECTIONS_KEY = "sqlmig.connections"  # environ key: (open, limit), from our server only
ASCII_INT = re.compile(r"[0-9]{1,10}")  # never int() on raw text: it takes '١٢', '²' too

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


class HTTPError(Exception):
    def __init__(self, status: int, message: str, headers: Iterable[tuple[str, str]] = ()) -> None:
        super().__init__(message)
        self.status, self.message, self.headers = status, message, list(headers)


def json_response(
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


def query(environ: WSGIEnvironment) -> dict[str, str]:
    """The query string's parameters (the last value of a repeated one)."""
    parsed = parse_qs(environ.get("QUERY_STRING", ""), keep_blank_values=True)
    return {k: v[-1] for k, v in parsed.items()}


# A status filter in the events' MemStack spelling too: processing is RUNNING.
_BY_SPELLING = {
    **{v.upper(): k for k, v in MEMSTACK_STATUS.items()},
    **{k: k for k in MEMSTACK_STATUS},
}


def status(params: dict[str, str]) -> str | None:
    """The ``status`` filter (any case, either spelling), or 400."""
    given = params.get("status") or None
    if given is None:
        return None
    value = _BY_SPELLING.get(given.upper())
    if value is None:
        known = ", ".join(MEMSTACK_STATUS)
        raise HTTPError(400, f"unknown status {given[:16]!r}; one of {known}.")
    return value


def task_id(text: str) -> UUID:
    """The task id of a path, or 400."""
    try:
        if len(text) > 64 or not text.isascii():  # UUID() takes fullwidth digits too
            raise ValueError
        return UUID(text)
    except ValueError:
        shown = text if len(text) <= 64 else text[:64] + "..."
        raise HTTPError(400, f"malformed task id {shown!r}: expected a UUID.") from None


_ERROR_PAGE = """<!doctype html>
<html lang="en"><head><meta charset="utf-8">
<meta name="viewport" content="width=device-width, initial-scale=1">
<title>{title} · sqlmig</title>
<style nonce="{nonce}">
  body {{ margin: 0; padding: 48px 16px; background: #f4f5f7; color: #1d2330;
         font: 15px/1.5 system-ui, -apple-system, "Segoe UI", Roboto, Arial, sans-serif; }}
  main {{ max-width: 560px; margin: 0 auto; background: #fff; border: 1px solid #e4e7ec;
         border-radius: 12px; padding: 24px; }}
  h1 {{ font-size: 18px; margin: 0 0 8px; }}
  p {{ margin: 8px 0; }} .code {{ color: #667085; font-size: 13px; }}
  a {{ color: #2f6fed; }}
</style></head>
<body><main>
<h1 id="title">{title}</h1>
<p id="message">{message}</p>
<p>Check the address: task pages are <code>/tasks/&lt;task id&gt;</code>, and
<a href="{api}/tasks">{api}/tasks</a> lists the recent tasks.</p>
<p class="code">HTTP {status}</p>
</main></body></html>
"""
_ERROR_TITLES = {400: "Not a task address", 404: "Task not found"}


def html_error(
    start_response: StartResponse,
    status: int,
    message: str,
    headers: Iterable[tuple[str, str]] = (),
) -> list[bytes]:
    """An error a person reads (a task page's address): a small page, not JSON."""
    import html
    import secrets

    nonce = secrets.token_urlsafe(16)
    body = _ERROR_PAGE.format(
        title=_ERROR_TITLES.get(status, _REASONS.get(status, "Error")),
        message=html.escape(message),
        status=status,
        api=API,
        nonce=nonce,
    ).encode("utf-8")
    start_response(
        f"{status} {_REASONS.get(status, 'Error')}",
        [
            *headers,
            ("Content-Type", "text/html; charset=utf-8"),
            ("Content-Length", str(len(body))),
            ("Cache-Control", "no-store"),
            (
                "Content-Security-Policy",
                f"default-src 'none'; style-src 'nonce-{nonce}'; base-uri 'none'; "
                "form-action 'none'; frame-ancestors 'none'",
            ),
            ("X-Content-Type-Options", "nosniff"),
        ],
    )
    return [body]
