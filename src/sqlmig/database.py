"""Connections: resolve the target, wait for it, create it, and explain failures.

Every message here is redacted: a DSN's password never leaves this module.
"""

from __future__ import annotations

import contextlib
import os
import time
from typing import TYPE_CHECKING

import psycopg
from psycopg import conninfo, errors, sql

from .config import Settings
from .errors import DatabaseUnavailable, UsageError
from .redact import password_of, redact

if TYPE_CHECKING:
    from psycopg import Connection

_DEFAULT_CONNECT_TIMEOUT = 10


def target_dsn(settings: Settings) -> str:
    """The DSN to use, starting the embedded server when nothing is configured."""
    if settings.dsn is not None:
        return settings.dsn
    from . import embedded

    return embedded.start(settings.project_root)


def describe(dsn: str) -> str:
    """A redacted one-line description of where ``dsn`` points."""
    try:
        params = conninfo.conninfo_to_dict(dsn)
    except psycopg.ProgrammingError:
        return "(unparseable DSN)"
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

    ``wait_s`` retries with backoff while the server is unreachable (container
    start-up); ``create_db`` creates the target database first if it is missing.
    """
    dsn = target_dsn(settings)
    secrets = (password_of(dsn),)
    deadline = time.monotonic() + wait_s
    delay = 0.1
    while True:
        try:
            if create_db:
                _create_database(dsn)
            return _open(dsn)
        except psycopg.OperationalError as exc:
            if time.monotonic() + delay > deadline:
                raise _unreachable(settings, dsn, exc, secrets, wait_s) from None
            time.sleep(delay)
            delay = min(delay * 2, 2.0)


def _open(dsn: str, **overrides: str) -> Connection[tuple[object, ...]]:
    # prepare_threshold=None: the session reset between files deallocates
    # prepared statements, so psycopg must not keep any of its own.
    params: dict[str, object] = {
        "application_name": "sqlmig",
        "autocommit": True,
        "prepare_threshold": None,
    }
    try:
        given = conninfo.conninfo_to_dict(dsn)
    except psycopg.ProgrammingError as exc:
        raise UsageError(f"invalid DSN: {redact(str(exc), (password_of(dsn),))}") from None
    if "connect_timeout" not in given:
        params["connect_timeout"] = _DEFAULT_CONNECT_TIMEOUT
    params["options"] = _session_options(given.get("options"))
    params.update(overrides)
    return psycopg.connect(dsn, **params)  # type: ignore[arg-type]


def _session_options(given: object) -> str:
    """Startup options: the user's (DSN or PGOPTIONS) plus the settings sqlmig pins.

    As startup options they survive the ``RESET ALL`` between files. The pins
    make the server read SQL text as sqlmig's parser does; the check interval
    (PostgreSQL 14+) lets the server notice a killed runner during a long
    statement, so its lock and transaction are released promptly.
    """
    from .statements import PINNED_SETTINGS

    pins = [f"-c {name}={value}" for name, value in PINNED_SETTINGS.items()]
    pins.append("-c client_connection_check_interval=2000")
    user = str(given) if given else os.environ.get("PGOPTIONS", "")
    return " ".join([user, *pins]).strip()


def _create_database(dsn: str) -> None:
    try:
        with _open(dsn):
            return
    except psycopg.OperationalError as exc:
        if "does not exist" not in str(exc):
            raise
    params = conninfo.conninfo_to_dict(dsn)
    name = params.get("dbname")
    if not name:
        raise UsageError("--create-db needs a database name in the DSN (dbname=... or /name).")
    last: psycopg.OperationalError | None = None
    for maintenance in ("postgres", "template1"):
        try:
            with _open(dsn, dbname=maintenance) as conn:
                # created concurrently by another runner
                with contextlib.suppress(errors.DuplicateDatabase, errors.UniqueViolation):
                    conn.execute(sql.SQL("CREATE DATABASE {}").format(sql.Identifier(str(name))))
                return
        except psycopg.OperationalError as exc:
            last = exc
    assert last is not None
    raise last


def _unreachable(
    settings: Settings,
    dsn: str,
    exc: psycopg.OperationalError,
    secrets: tuple[str, ...],
    wait_s: float,
) -> DatabaseUnavailable:
    reason = redact(str(exc).strip(), secrets)
    waited = f" (retried for {wait_s:g} s)" if wait_s else ""
    hint = "check the DSN and that the server is running"
    if "does not exist" in reason:
        hint = "create it, or run with --create-db"
    elif "password" in reason or "authentication" in reason:
        hint = "check the user and password"
    elif not wait_s:
        hint += "; in a container, --wait SECONDS retries while it starts"
    return DatabaseUnavailable(
        f"cannot connect to {describe(dsn)} (from {settings.dsn_source}){waited}: {reason}\n{hint}."
    )
