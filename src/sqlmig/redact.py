"""Keep passwords out of every message: DSNs in URL and key=value form."""

from __future__ import annotations

import os
import re

MASK = "***"

# postgresql://user:secret@host -> postgresql://user:***@host
_URL_PASSWORD = re.compile(r"(?P<head>[a-zA-Z][a-zA-Z0-9+.-]*://[^/:@\s]*:)(?P<pw>[^@\s]*)(?=@)")
# password=secret / password='se cret' (libpq key=value and URL query form)
_KV_PASSWORD = re.compile(
    r"(?P<head>\bpassword\s*=\s*)(?P<pw>'(?:[^'\\]|\\.)*'|[^\s&]+)", re.IGNORECASE
)


def redact(text: str, secrets: tuple[str, ...] = ()) -> str:
    """Mask passwords in ``text``, including any known secret that appears verbatim."""
    text = _URL_PASSWORD.sub(lambda m: m["head"] + MASK if m["pw"] else m[0], text)
    text = _KV_PASSWORD.sub(lambda m: m["head"] + MASK, text)
    for secret in (*secrets, os.environ.get("PGPASSWORD", "")):
        if len(secret) >= 3:
            text = text.replace(secret, MASK)
    return text


def password_of(dsn: str) -> str:
    """The password in ``dsn`` (URL or key=value), or ''; used to scrub server messages."""
    match = _URL_PASSWORD.search(dsn)
    if match:
        from urllib.parse import unquote

        return unquote(match["pw"])
    match = _KV_PASSWORD.search(dsn)
    if match:
        return match["pw"].strip("'")
    return ""
