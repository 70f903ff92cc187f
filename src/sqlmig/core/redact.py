"""Keep passwords out of every message, whatever the DSN form.

Two layers, because each misses what the other catches:

- by structure: the userinfo of any ``scheme://user:***@`` URL in the text
  (everything up to the *last* ``@``, so an unescaped ``@ : /`` in the
  password is masked too) and the value of every ``password=`` /
  ``sslpassword=`` field, quoted or not, in key=value or URL-query form;
- by value: every password libpq would use for the target -- the DSN's own,
  ``PGPASSWORD``, the service file's, the matching ``.pgpass`` line -- is
  masked wherever it appears (a server or libpq may echo it), in its plain and
  percent-encoded spellings. Values shorter than :data:`MIN_SECRET` are masked
  by structure only: replacing ``ab`` everywhere would garble every message
  while hiding nothing an attacker could not guess.

:func:`parse_dsn` refuses a URL that libpq would split in the wrong place (an
unescaped ``@`` or ``/`` in the password, a bad ``%`` escape): libpq would
then report a fragment of the password as a host, port or database name.
"""

from __future__ import annotations

import contextlib
import getpass
import os
import re
from collections.abc import Iterable, Mapping
from pathlib import Path
from urllib.parse import quote, unquote

from sqlmig.core.errors import UsageError

MASK = "***"
MIN_SECRET = 4  # shorter passwords are masked by structure only (see above)

_SCHEME = re.compile(r"[A-Za-z][A-Za-z0-9+.-]*://")
_URL_DSN = re.compile(r"(?is)^\s*postgres(?:ql)?://")
# password=secret, password = 'se \'cret', sslpassword=... (key=value: a value ends at a space)
_KV_PASSWORD = re.compile(
    r"(?P<head>(?<![A-Za-z_?&])(?:ssl)?password\s*=\s*)(?P<pw>'(?:[^'\\]|\\.)*'?|\S*)",
    re.IGNORECASE,
)
# ?password=x&... (URL query: a value ends at & or #)
_QUERY_PASSWORD = re.compile(r"(?P<head>[?&](?:ssl)?password=)(?P<pw>[^&#\s]*)", re.IGNORECASE)
_BAD_PERCENT = re.compile(r"%(?![0-9A-Fa-f]{2})|%00")
_QUOTED = re.compile(r'"[^"]*"')


def redact(text: str, secrets: Iterable[str] = ()) -> str:
    """Mask passwords in ``text``: every known secret by value, then by structure.

    Values first: structure alone may stop short inside a password (at a space
    or ``&``) and leave its tail behind.
    """
    known = {s for s in (*secrets, os.environ.get("PGPASSWORD", "")) if len(s) >= MIN_SECRET}
    spellings = {v for s in known for v in (s, quote(s, safe=""), quote(s), repr(s)[1:-1])}
    for value in sorted(spellings, key=len, reverse=True):
        if len(value) >= MIN_SECRET:
            text = text.replace(value, MASK)
    text = _mask_urls(text)
    text = _QUERY_PASSWORD.sub(lambda m: m["head"] + MASK, text)
    return _KV_PASSWORD.sub(lambda m: m["head"] + MASK, text)


def mask_values(text: str, values: Iterable[str]) -> str:
    """Mask each value (as written, inside an SQL literal, inside a JSON string) and nothing
    else: safe on JSON text, which :func:`redact`'s structural masks could break."""
    import json

    spellings = {
        spelling
        for value in values
        if len(value) >= MIN_SECRET
        for spelling in (value, value.replace("'", "''"), json.dumps(value)[1:-1])
    }
    for value in sorted(spellings, key=len, reverse=True):
        text = text.replace(value, MASK)
    return text


def _mask_urls(text: str) -> str:
    """``scheme://USERINFO@rest`` -> ``scheme://user:***@rest`` (or ``***@`` when unclear).

    A URL in free text ends at whitespace; its userinfo runs to the last ``@``
    in it, so an unescaped ``@`` in a password does not leave a tail behind.
    """
    out, pos = [], 0
    for match in _SCHEME.finditer(text):
        if match.start() < pos:
            continue
        end = match.end()
        stop = end
        while stop < len(text) and not text[stop].isspace():
            stop += 1
        at = text.rfind("@", end, stop)
        if at < 0:
            continue
        out.append(text[pos:end] + _mask_userinfo(text[end:at]))
        pos = at
    out.append(text[pos:])
    return "".join(out)


def _mask_userinfo(userinfo: str) -> str:
    user, colon, _ = userinfo.partition(":")
    if not colon:
        # no password; a user name with / or @ means the split is unclear
        return MASK if ("/" in user or "@" in user) else userinfo
    if "/" in user or "@" in user:
        return MASK
    return f"{user}:{MASK}"


def _url_parts(dsn: str) -> tuple[str, str | None, str] | None:
    """(scheme://, userinfo or None, the rest after the last ``@``) of a URL DSN."""
    match = _URL_DSN.match(dsn)
    if not match:
        return None
    body = dsn[match.end() :]
    at = body.rfind("@")
    if at < 0:
        return match[0], None, body
    return match[0], body[:at], body[at + 1 :]


def password_of(dsn: str) -> str:
    """The password written in ``dsn`` (URL or key=value), or ''; decoded, by structure."""
    parts = _url_parts(dsn)
    if parts is not None:
        _, userinfo, rest = parts
        if userinfo is not None and ":" in userinfo:
            return unquote(userinfo.partition(":")[2])
        query = re.search(r"[?&]password=([^&#]*)", rest)
        return unquote(query[1]) if query else ""
    from psycopg import ProgrammingError, conninfo

    with contextlib.suppress(ProgrammingError):
        return str(conninfo.conninfo_to_dict(dsn).get("password") or "")
    match = _KV_PASSWORD.search(dsn)
    if not match:
        return ""
    value = match["pw"]
    if value.startswith("'"):
        value = re.sub(r"\\(.)", r"\1", value[1:].removesuffix("'"))
    return value


def parse_dsn(dsn: str) -> dict[str, str]:
    """libpq's reading of ``dsn``; UsageError (exit 2) with no secret in it otherwise."""
    from psycopg import ProgrammingError, conninfo

    parts = _url_parts(dsn)
    if parts is not None:
        scheme, userinfo, rest = parts
        unclear = userinfo is not None and ("/" in userinfo or "@" in userinfo)
        if unclear or _BAD_PERCENT.search(dsn):
            shown = scheme + (f"{MASK}@" if userinfo is not None else "") + redact(rest)
            raise UsageError(
                f"the DSN URL does not parse cleanly: {shown}\n"
                "percent-encode special characters in the user name, password and query "
                "values (@ as %40, / as %2F, : as %3A, % as %25), or use the key=value form "
                "with the password in single quotes."
            )
    try:
        return {k: str(v) for k, v in conninfo.conninfo_to_dict(dsn).items() if v is not None}
    except ProgrammingError as exc:
        # libpq quotes the token it choked on, which may be part of a password:
        # keep only quoted connection keywords.
        keywords = _keywords()
        reason = _QUOTED.sub(
            lambda m: m[0] if m[0].strip('"') in keywords else f'"{MASK}"', str(exc).strip()
        )
        reason = redact(reason, (password_of(dsn),))
        raise UsageError(f"invalid DSN: {reason}") from None


def _keywords() -> frozenset[str]:
    from psycopg import pq

    return frozenset(o.keyword.decode() for o in pq.Conninfo.get_defaults())


# --- the passwords libpq would use: service file, .pgpass -------------------


def libpq_params(dsn: str, env: Mapping[str, str] | None = None) -> dict[str, str]:
    """What libpq would connect with: the DSN, then its service file section, then PG*.

    Best effort (no compiled-in defaults); used to describe the target and to
    find its ``.pgpass`` line. The password is included; never print the result.
    """
    env = os.environ if env is None else env
    try:
        given = parse_dsn(dsn) if dsn else {}
    except UsageError:
        given = {}
    params = dict(given)
    service = params.get("service") or env.get("PGSERVICE")
    if service:
        for key, value in _service_section(service, env).items():
            params.setdefault(key, value)
    for key, var in _ENV_VARS.items():
        if env.get(var):
            params.setdefault(key, env[var])
    return params


_ENV_VARS = {
    "host": "PGHOST",
    "hostaddr": "PGHOSTADDR",
    "port": "PGPORT",
    "dbname": "PGDATABASE",
    "user": "PGUSER",
    "password": "PGPASSWORD",
    "passfile": "PGPASSFILE",
    "sslmode": "PGSSLMODE",
}


def secrets_for(dsn: str, env: Mapping[str, str] | None = None) -> tuple[str, ...]:
    """Every password libpq may send for ``dsn``: to mask in any message."""
    env = os.environ if env is None else env
    found = [password_of(dsn), env.get("PGPASSWORD", "")]
    parts = _url_parts(dsn)
    if parts is not None and parts[1] is not None:
        found.append(parts[1].partition(":")[2])  # as written, before percent-decoding
    params = libpq_params(dsn, env)
    found.append(params.get("password", ""))
    found.extend(_pgpass_passwords(params, env))
    return tuple(dict.fromkeys(s for s in found if s))


def _service_files(env: Mapping[str, str]) -> list[Path]:
    files = []
    if env.get("PGSERVICEFILE"):
        files.append(Path(env["PGSERVICEFILE"]))
    else:
        files.append(Path(env.get("HOME") or Path.home()) / ".pg_service.conf")
    if env.get("PGSYSCONFDIR"):
        files.append(Path(env["PGSYSCONFDIR"]) / "pg_service.conf")
    return files


def _service_section(name: str, env: Mapping[str, str]) -> dict[str, str]:
    """The ``[name]`` section of the first service file that has it (libpq's order)."""
    for path in _service_files(env):
        try:
            lines = path.read_text(encoding="utf-8", errors="replace").splitlines()
        except OSError:
            continue
        section: dict[str, str] | None = None
        for raw in lines:
            line = raw.strip()
            if not line or line.startswith("#"):
                continue
            if line.startswith("["):
                if section is not None:
                    return section
                section = {} if line.strip("[] ") == name else None
            elif section is not None and "=" in line:
                key, _, value = line.partition("=")
                section[key.strip()] = value.strip()
        if section is not None:
            return section
    return {}


def _pgpass_passwords(params: Mapping[str, str], env: Mapping[str, str]) -> list[str]:
    """Passwords of the ``.pgpass`` lines that may match the target.

    A field we cannot know for sure (libpq's compiled defaults) matches
    anything: masking one password too many is harmless.
    """
    path = Path(
        params.get("passfile")
        or env.get("PGPASSFILE")
        or Path(env.get("HOME") or Path.home()) / ".pgpass"
    )
    try:
        lines = path.read_text(encoding="utf-8", errors="replace").splitlines()
    except OSError:
        return []
    hosts = [h for h in (params.get("host") or "").split(",") if h] or [""]
    ports = [p for p in (params.get("port") or "").split(",") if p] or ["5432"]
    user = params.get("user") or _os_user()
    dbname = params.get("dbname") or user
    found = []
    for line in lines:
        if not line.strip() or line.lstrip().startswith("#"):
            continue
        fields = _pgpass_fields(line)
        if len(fields) < 5:
            continue
        host, port, db, role, password = fields[:5]
        host_ok = host == "*" or any(
            h == host or (host == "localhost" and (not h or h.startswith("/"))) for h in hosts
        )
        if (
            host_ok
            and port in ("*", *ports)
            and db in ("*", dbname)
            and role in ("*", user)
            and password
        ):
            found.append(password)
    return found


def _pgpass_fields(line: str) -> list[str]:
    """Split on unescaped ``:`` and undo ``\\:`` / ``\\\\`` (libpq ends the password there too)."""
    fields: list[str] = []
    current: list[str] = []
    escaped = False
    for char in line:
        if escaped:
            current.append(char)
            escaped = False
        elif char == "\\":
            escaped = True
        elif char == ":":
            fields.append("".join(current))
            current = []
        else:
            current.append(char)
    fields.append("".join(current))
    return fields


def _os_user() -> str:
    try:
        return getpass.getuser()
    except (KeyError, OSError):
        return ""
