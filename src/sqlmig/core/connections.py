"""Connections: resolve the target, wait for it, create it, and explain failures.

    target(settings) -> Target (redacted description, secrets)  --notify-->  the CLI
    connect(settings, wait_s) -> attempt ... Retrying --notify--> ... attempt at the deadline

What happens is reported through ``settings.notify`` (the CLI prints one line
per notice on stderr); nothing here prints. Every message is redacted: a
password never leaves this module.
"""

from __future__ import annotations

import math
import os
import re
import time
from pathlib import Path
from typing import TYPE_CHECKING
from urllib.parse import quote, urlencode

import psycopg
from psycopg import errors, sql

from sqlmig.core.backoff import Backoff
from sqlmig.core.config import PINNED_SETTINGS, Settings
from sqlmig.core.errors import DatabaseUnavailable, UsageError
from sqlmig.core.redact import libpq_params, parse_dsn, redact, secrets_for
from sqlmig.core.targets import EmbeddedInfo, Retrying, Target

if TYPE_CHECKING:
    from psycopg import Connection

    from sqlmig.core import embedded

_DEFAULT_CONNECT_TIMEOUT = 10
_FIRST_DELAY_S, _MAX_DELAY_S = 0.25, 2.0


def target(settings: Settings) -> Target:
    """The target of ``settings``, starting the embedded server when nothing is configured.

    Raises UsageError (exit 2) for a DSN that does not parse cleanly, and for
    no configuration at all when the embedded fallback is off.
    """
    if settings.dsn is None:
        if not settings.embedded:
            raise UsageError(
                f"no database configured, and the embedded server is off "
                f"({settings.embedded_source}): set SQLMIG_DSN (or DATABASE_URL, or libpq's "
                "PGHOST / PGDATABASE / PGSERVICE), pass --dsn, or set dsn in [tool.sqlmig]."
            )
        from sqlmig.core import embedded

        server = embedded_server(settings.project_root)
        found = Target(
            server.url,
            settings.dsn_source,
            f"embedded PostgreSQL {server.major}, database {embedded.DATABASE} "
            f"in {server.data_dir.parent}",
            embedded=EmbeddedInfo(server.data_dir, server.major, server.started),
        )
    else:
        secrets = secrets_for(settings.dsn)
        try:
            parse_dsn(settings.dsn)
        except UsageError as exc:
            first, newline, rest = redact(str(exc), secrets).partition("\n")
            raise UsageError(f"{first} (from {settings.dsn_source}){newline}{rest}") from None
        found = Target(
            settings.dsn,
            settings.dsn_source,
            _display(libpq_params(settings.dsn)),
            secrets=secrets,
        )
    if settings.notify:
        settings.notify(found)
    return found


def target_dsn(settings: Settings) -> str:
    """The DSN to use (see :func:`target`)."""
    return target(settings).dsn


def _display(params: dict[str, str]) -> str:
    """A libpq URL of the target without its password (the password is never a field)."""
    user, host, port = params.get("user", ""), params.get("host", ""), params.get("port", "")
    host = host or params.get("hostaddr", "")
    query: dict[str, str] = {}
    if "/" in host or "," in host or "," in port:
        query["host"], host = host, ""
        if port:
            query["port"], port = port, ""
    elif ":" in host:
        host = f"[{host}]"
    netloc = (quote(user, safe="") + "@" if user else "") + host + (f":{port}" if port else "")
    path = "/" + quote(params["dbname"], safe="") if params.get("dbname") else "/"
    for key in ("service", "sslmode"):
        if params.get(key):
            query[key] = params[key]
    tail = "?" + urlencode(query, safe="/") if query else ""
    return f"postgresql://{netloc}{path}{tail}"


def describe(dsn: str) -> str:
    """A redacted one-line description of where ``dsn`` points (PG* variables included)."""
    params = libpq_params(dsn)
    host = str(params.get("host") or "default host")
    port = f":{params['port']}" if params.get("port") else ""
    db = params.get("dbname") or "default database"
    return f"database {db} on {host}{port}"


def connect(
    settings: Settings,
    *,
    wait_s: float = 0,
    create_db: bool = False,
) -> Connection[tuple[object, ...]]:
    """An autocommit connection to the target database.

    ``wait_s`` keeps trying while the server may still be starting, until
    ``wait_s`` seconds have passed (the last attempt at the deadline);
    authentication failures, a missing role and a missing database fail at
    once. ``create_db`` creates the target database first if it is missing.
    """
    found = target(settings)
    started = time.monotonic()
    deadline = started + wait_s
    backoff, attempt = Backoff(_FIRST_DELAY_S, _MAX_DELAY_S), 0
    while True:
        attempt += 1
        timeout = _connect_timeout(deadline - time.monotonic()) if wait_s else None
        try:
            if create_db:
                _create_database(found.dsn, timeout)
            return open_connection(found.dsn, connect_timeout=timeout, pinned=True)
        except psycopg.OperationalError as exc:
            now = time.monotonic()
            kind = _classify(exc)
            if kind != "transient" or now >= deadline:
                raise _unreachable(found, exc, kind, attempt, now - started, wait_s) from None
            pause = backoff.next(deadline - now)
            if settings.notify:
                settings.notify(
                    Retrying(attempt, now - started, wait_s, pause, _first_line(exc, found))
                )
            time.sleep(pause)


def _connect_timeout(remaining_s: float) -> int:
    """Keep one attempt from running far past the deadline (libpq's minimum is 2 s)."""
    return max(2, min(_DEFAULT_CONNECT_TIMEOUT, math.ceil(remaining_s)))


def embedded_server(project_root: Path) -> embedded.Server:
    """The project's embedded server, started if needed, with its ``sqlmig`` database."""
    from sqlmig.core import embedded

    server = embedded.ensure(project_root)
    create_database(server.url, embedded.DATABASE)
    return server


def open_connection(
    dsn: str,
    *,
    application_name: str = "sqlmig",
    connect_timeout: int | None = None,
    pinned: bool = False,
    **overrides: str,
) -> Connection[tuple[object, ...]]:
    """An autocommit connection to ``dsn``: the one place sqlmig calls ``psycopg.connect``.

    ``connect_timeout`` applies unless the DSN sets its own (default 10 s).
    ``pinned`` is for migration runs: the session options sqlmig pins (see
    :func:`_session_options`) and no prepared statements, so that nothing
    outlives a file's session reset.
    """
    params: dict[str, object] = {"application_name": application_name, "autocommit": True}
    given = parse_dsn(dsn)
    if "connect_timeout" not in given:
        params["connect_timeout"] = connect_timeout or _DEFAULT_CONNECT_TIMEOUT
    if pinned:
        params["prepare_threshold"] = None
        params["options"] = _session_options(given.get("options"))
    params.update(overrides)
    return psycopg.connect(dsn, **params)  # type: ignore[arg-type]


def create_database(dsn: str, name: str, *, connect_timeout: int | None = None) -> bool:
    """CREATE DATABASE ``name`` through a maintenance database on ``dsn``'s server.

    Returns False when it already exists (also when another runner created it
    meanwhile). Tries ``postgres`` first, then ``template1``.
    """
    last: psycopg.OperationalError | None = None
    for maintenance in ("postgres", "template1"):
        try:
            with open_connection(dsn, connect_timeout=connect_timeout, dbname=maintenance) as conn:
                found = conn.execute(
                    "SELECT 1 FROM pg_catalog.pg_database WHERE datname = %s", (name,)
                ).fetchone()
                if found:
                    return False
                try:
                    conn.execute(sql.SQL("CREATE DATABASE {}").format(sql.Identifier(name)))
                except (errors.DuplicateDatabase, errors.UniqueViolation):
                    return False
                return True
        except psycopg.OperationalError as exc:
            last = exc
    assert last is not None
    raise last


def drop_database(dsn: str, name: str, *, connect_timeout: int | None = None) -> None:
    """DROP DATABASE IF EXISTS ``name`` WITH (FORCE), through a maintenance database."""
    last: psycopg.OperationalError | None = None
    for maintenance in ("postgres", "template1"):
        try:
            with open_connection(dsn, connect_timeout=connect_timeout, dbname=maintenance) as conn:
                conn.execute(
                    sql.SQL("DROP DATABASE IF EXISTS {} WITH (FORCE)").format(sql.Identifier(name))
                )
                return
        except psycopg.OperationalError as exc:
            last = exc
    assert last is not None
    raise last


def with_database(dsn: str, name: str) -> str:
    """``dsn`` pointing at database ``name`` instead (URL or key=value form)."""
    from psycopg import conninfo

    return conninfo.make_conninfo(dsn, dbname=name)


def _session_options(given: object) -> str:
    """Startup options: the user's (DSN or PGOPTIONS) plus the settings sqlmig pins.

    As startup options they survive the ``RESET ALL`` between files. The pins
    make the server read SQL text as sqlmig's parser does; the check interval
    (PostgreSQL 14+) lets the server notice a killed runner during a long
    statement, so its lock and transaction are released promptly.
    """
    pins = [f"-c {name}={value}" for name, value in PINNED_SETTINGS.items()]
    pins.append("-c client_connection_check_interval=2000")
    user = str(given) if given else os.environ.get("PGOPTIONS", "")
    return " ".join([user, *pins]).strip()


def _create_database(dsn: str, timeout: int | None) -> None:
    try:
        with open_connection(dsn, connect_timeout=timeout):
            return
    except psycopg.OperationalError as exc:
        if _classify(exc) != "no-database":
            raise
    name = parse_dsn(dsn).get("dbname")
    if not name:
        raise UsageError("--create-db needs a database name in the DSN (dbname=... or /name).")
    create_database(dsn, str(name), connect_timeout=timeout)


_AUTH = re.compile(
    r"password authentication failed|authentication failed|no pg_hba\.conf entry"
    r"|pg_hba\.conf rejects|no password supplied|password is required|password must be"
)
_NO_ROLE = re.compile(r'role ".*" does not exist')
_NO_DATABASE = re.compile(r'database ".*" does not exist')
_INVALID = re.compile(r"invalid (?:integer |port |sslmode |connection option|.* value for)")


def _classify(exc: psycopg.OperationalError) -> str:
    """auth | no-role | no-database | invalid | transient: only the last is worth waiting for.

    A missing database is not waited for: the official postgres image creates
    POSTGRES_DB before it listens on TCP, so a server that answers without the
    database will not grow it; --create-db is the fix, and the hint says so.
    """
    text, state = str(exc), getattr(exc, "sqlstate", None)
    if _NO_ROLE.search(text):
        return "no-role"
    if state == "3D000" or _NO_DATABASE.search(text):
        return "no-database"
    if state in ("28P01", "28000") or _AUTH.search(text):
        return "auth"
    if _INVALID.search(text):
        return "invalid"  # libpq rejects a parameter (port=notaport ...) before any I/O
    return "transient"


def _first_line(exc: Exception, found: Target) -> str:
    reason = redact(str(exc).strip(), found.secrets).splitlines()
    line = reason[0] if reason else type(exc).__name__
    return line.removeprefix("connection failed: ")


def _unreachable(
    found: Target,
    exc: psycopg.OperationalError,
    kind: str,
    attempts: int,
    waited_s: float,
    wait_s: float,
) -> DatabaseUnavailable | UsageError:
    reason = redact(str(exc).strip(), found.secrets).removeprefix("connection failed: ")
    waited = ""
    if wait_s and kind == "transient":
        waited = f"; tried {attempts} time(s) over {waited_s:.1f} s of --wait {wait_s:g}"
    elif wait_s:
        waited = "; not retried: waiting does not change this"
    hint = "check the DSN and that the server is running"
    if kind == "no-database":
        hint = "create it, or run with --create-db"
    elif kind == "no-role":
        hint = "check the user name, or create the role"
    elif kind == "auth":
        hint = "check the user and password (PGPASSWORD, ~/.pgpass and service files count)"
    elif not wait_s:
        hint += "; in a container, --wait SECONDS retries while it starts"
    if kind == "invalid":
        return UsageError(f"invalid DSN (from {found.source}): {reason}")
    where = describe(found.dsn) if found.embedded is None else found.shown
    return DatabaseUnavailable(
        f"cannot connect to {where} (from {found.source}{waited}): {reason}\n{hint}."
    )
