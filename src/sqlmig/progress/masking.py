"""Keep tokens out of the progress server's logs.

Every record of the ``sqlmig.progress`` logger (access log, errors, tracebacks)
passes :class:`MaskFilter`, installed on import, which masks

* the value of any ``token=`` / ``access_token=`` query parameter, configured
  token or not (a mistyped token is a secret too);
* what follows ``Bearer`` (a header echoed in an error message);
* every registered secret verbatim, and percent-encoded (a token in a path).

A filter on the logger rather than care at each call site: a traceback or a
message of the standard library cannot forget it.
"""

from __future__ import annotations

import logging
import re
import threading
from urllib.parse import quote, quote_plus

from sqlmig.core.redact import MASK, redact

LOGGER = "sqlmig.progress"

_QUERY_TOKEN = re.compile(r"(?i)(?P<head>(?:token|access_token)=)[^&;#\s\"'\\]+")
_BEARER = re.compile(r"(?i)(?P<head>\bbearer\s+)[^\s\"',;\\]+")

_lock = threading.Lock()
_secrets: tuple[str, ...] = ()


def add_secret(secret: str | None) -> None:
    """Mask ``secret`` in every later log record (and its percent-encoded forms)."""
    global _secrets
    if not secret:
        return
    forms = {secret, quote(secret, safe=""), quote_plus(secret, safe="")}
    with _lock:
        # Longest first, so a secret that contains another is masked whole.
        _secrets = tuple(sorted(set(_secrets) | forms, key=len, reverse=True))


def mask(text: str) -> str:
    text = _QUERY_TOKEN.sub(lambda m: m["head"] + MASK, text)
    text = _BEARER.sub(lambda m: m["head"] + MASK, text)
    for secret in _secrets:
        text = text.replace(secret, MASK)
    return redact(text)


class MaskFilter(logging.Filter):
    """Rewrites a record's message and traceback text with :func:`mask`."""

    def filter(self, record: logging.LogRecord) -> bool:
        try:
            message = record.getMessage()
        except Exception:  # a bad format string: keep what there is, masked
            message = f"{record.msg} {record.args}"
        record.msg, record.args = mask(message), None
        if record.exc_info and not record.exc_text:
            record.exc_text = logging.Formatter().formatException(record.exc_info)
        if record.exc_text:
            # Formatters use exc_text when it is set, and never re-format the exception.
            record.exc_text = mask(record.exc_text)
        if record.stack_info:
            record.stack_info = mask(record.stack_info)
        return True


_logger = logging.getLogger(LOGGER)
if not any(isinstance(f, MaskFilter) for f in _logger.filters):
    _logger.addFilter(MaskFilter())
