"""The HTML pages: the dashboard (``/``, ``/tasks``) and a task's page (``/tasks/ID``).

Each page is one self-contained file shipped in the package; the server fills
in a nonce and a small JSON config, and sends it under a strict CSP (no
external assets, inline code allowed by nonce only, fetches to this origin
only). The pages read everything else from the JSON API and the streams.
"""

from __future__ import annotations

import json
import secrets
from functools import cache
from importlib import resources
from typing import Any
from wsgiref.types import StartResponse


@cache
def template(name: str) -> str:
    return resources.files("sqlmig.progress").joinpath(name).read_text(encoding="utf-8")


def serve(start_response: StartResponse, name: str, config: dict[str, Any]) -> list[bytes]:
    """The page ``name`` with ``config`` as its #config JSON."""
    nonce = secrets.token_urlsafe(16)
    # "<" escaped so no value can close the script element.
    config_json = json.dumps(config).replace("<", "\\u003c")
    html = (
        template(name).replace("__SQLMIG_NONCE__", nonce).replace("__SQLMIG_CONFIG__", config_json)
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
