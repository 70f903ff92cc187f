"""Fixtures: one real server per major version for the whole run, a fresh database per test.

pg          the session's server (parametrized: pg18 embedded, pg15 system)
pg_major    its major version
dsn         a fresh, empty database on it
every_server  every available server at once (not parametrized: fleet tests)
init_dsn    a fresh database cloned from a template that has sql/init applied

Tests on the second server (pg15) are marked ``slow``: the fast subset
(``-m "not slow"``) runs on pg18 only; the full run covers both.
"""

from __future__ import annotations

import uuid
from collections.abc import Iterator
from contextlib import contextmanager

import psycopg
import pytest
from psycopg import sql
from support import servers
from support.db import INIT_DIR

_started: dict[str, servers.Server] = {}


def pytest_report_header(config: pytest.Config) -> str:
    return f"sqlmig test servers: {', '.join(servers.available())} (see tests/README.md)"


@pytest.hookimpl(tryfirst=True)  # before -m deselects
def pytest_collection_modifyitems(items: list[pytest.Item]) -> None:
    # The fast subset runs on one server; the full run still runs every test on both.
    for item in items:
        callspec = getattr(item, "callspec", None)
        if callspec is not None and callspec.params.get("pg") == "pg15":
            item.add_marker(pytest.mark.slow)


def pytest_sessionfinish(session: pytest.Session) -> None:
    for server in _started.values():
        servers.stop(server)
    _started.clear()


@pytest.fixture(scope="session", params=servers.available())
def pg(request: pytest.FixtureRequest) -> servers.Server:
    return _server(request.param)


@pytest.fixture(scope="session")
def every_server() -> list[servers.Server]:
    """Every available server at once, for tests that spread databases over them (fleets)."""
    return [_server(name) for name in servers.available()]


def _server(name: str) -> servers.Server:
    if name not in _started:
        server = servers.start(name)
        if name != "external":
            # Durability is not under test; speed is welcome.
            with psycopg.connect(server.dsn(), autocommit=True) as conn:
                conn.execute("ALTER SYSTEM SET fsync = off")
                conn.execute("ALTER SYSTEM SET synchronous_commit = off")
                conn.execute("SELECT pg_reload_conf()")
        _started[name] = server
    return _started[name]


@pytest.fixture(scope="session")
def pg_major(pg: servers.Server) -> int:
    return pg.major


def create_database(pg: servers.Server, name: str, template: str | None = None) -> None:
    """CREATE DATABASE, copying files (PG 15+): far quicker than WAL_LOG for a small template."""
    query = sql.SQL("CREATE DATABASE {}").format(sql.Identifier(name))
    if template:
        query += sql.SQL(" TEMPLATE {}").format(sql.Identifier(template))
    if pg.major >= 15:
        query += sql.SQL(" STRATEGY FILE_COPY")
    with psycopg.connect(pg.dsn(), autocommit=True) as conn:
        conn.execute(query)


def drop_database(pg: servers.Server, name: str) -> None:
    """DROP DATABASE, ending sessions the test left open (PG 13+)."""
    with psycopg.connect(pg.dsn(), autocommit=True) as conn:
        conn.execute(
            sql.SQL("DROP DATABASE IF EXISTS {} WITH (FORCE)").format(sql.Identifier(name))
        )


@contextmanager
def _database(pg: servers.Server, template: str | None = None) -> Iterator[str]:
    name = f"t_{uuid.uuid4().hex[:12]}"
    create_database(pg, name, template)
    try:
        yield name
    finally:
        drop_database(pg, name)


@pytest.fixture
def dsn(pg: servers.Server) -> Iterator[str]:
    with _database(pg) as name:
        yield pg.dsn(name)


@pytest.fixture(scope="session")
def init_template(pg: servers.Server) -> Iterator[str]:
    """A template database with the bundled sql/init applied by sqlmig itself."""
    from sqlmig import migrations
    from sqlmig.core import config

    name = f"tmpl_init_{uuid.uuid4().hex[:8]}"
    create_database(pg, name)
    try:
        migrations.apply(config.resolve(pg.dsn(name), INIT_DIR))
        yield name
    finally:
        drop_database(pg, name)


@pytest.fixture
def init_dsn(pg: servers.Server, init_template: str) -> Iterator[str]:
    with _database(pg, template=init_template) as name:
        yield pg.dsn(name)
