"""Who may read the progress API: the bearer token, the session cookie, the sign-in link.

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
"""

from __future__ import annotations

import hashlib
import hmac
from collections.abc import Iterable
from urllib.parse import urlencode
from wsgiref.types import StartResponse, WSGIEnvironment

from sqlmig.progress import masking
from sqlmig.progress.web import HTTPError, json_response, query

_SESSION_LABEL = b"sqlmig progress session v1"
_CHALLENGE = ("WWW-Authenticate", 'Bearer realm="sqlmig"')


class Auth:
    """``Auth(token)``; ``Auth(None)`` authorizes every request."""

    def __init__(self, token: str | None) -> None:
        self.token = token or None
        self._session = (
            hmac.new(token.encode(), _SESSION_LABEL, hashlib.sha256).hexdigest() if token else ""
        )
        masking.add_secret(token)
        masking.add_secret(self._session)

    def authorized(self, environ: WSGIEnvironment) -> bool:
        token = self.token
        if not token:
            return True
        scheme, _, value = environ.get("HTTP_AUTHORIZATION", "").partition(" ")
        bearer = value.strip() if scheme.lower() == "bearer" else ""
        cookie = cookies(environ).get(cookie_name(environ), "")
        given = query(environ).get("token", "")
        # Each one compared in constant time, all of them always.
        results = [
            same(bearer, token),
            same(cookie, self._session),
            same(given, token),
        ]
        return any(results)

    def require(self, environ: WSGIEnvironment) -> None:
        """401 unless :meth:`authorized`."""
        if not self.authorized(environ):
            raise HTTPError(
                401,
                "a bearer token is required (Authorization: Bearer TOKEN); in a browser, "
                "open /tasks/ID?token=TOKEN once.",
                [_CHALLENGE],
            )

    def sign_in(
        self,
        environ: WSGIEnvironment,
        path: str,
        pairs: list[tuple[str, str]],
        start_response: StartResponse,
    ) -> Iterable[bytes]:
        """``PATH?token=T`` (a page): the same URL without the token, and the session cookie."""
        token = self.token
        given = next((value for name, value in reversed(pairs) if name == "token"), "")
        if token and not same(given, token):
            raise HTTPError(401, "the token in this link is wrong.", [_CHALLENGE])
        rest = urlencode([(name, value) for name, value in pairs if name != "token"])
        location = path + (f"?{rest}" if rest else "")
        headers = [("Location", location), ("Referrer-Policy", "no-referrer")]
        if token:
            cookie = f"{cookie_name(environ)}={self._session}; Path=/; HttpOnly; SameSite=Strict"
            if environ.get("wsgi.url_scheme") == "https":
                cookie += "; Secure"
            headers.append(("Set-Cookie", cookie))
        return json_response(start_response, 303, {"location": location}, headers)


def same(given: str, expected: str) -> bool:
    """Constant-time comparison; ``given`` is any text a client sent."""
    return hmac.compare_digest(given.encode("utf-8", "replace"), expected.encode())


def cookie_name(environ: WSGIEnvironment) -> str:
    # Cookies ignore ports: two servers on one host must not overwrite each other's.
    port = str(environ.get("SERVER_PORT", ""))
    return "sqlmig_progress" + (f"_{port}" if port.isascii() and port.isdigit() else "")


def cookies(environ: WSGIEnvironment) -> dict[str, str]:
    """The Cookie header's pairs (lenient: one bad pair spoils nothing else)."""
    pairs: dict[str, str] = {}
    for part in environ.get("HTTP_COOKIE", "").split(";"):
        name, sep, value = part.strip().partition("=")
        if sep and name:
            pairs.setdefault(name, value.strip().strip('"'))
    return pairs
