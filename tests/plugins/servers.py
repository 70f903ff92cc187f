"""Fixtures: one real server per major version for the whole run, a fresh database per test.

pg          the session's server (parametrized: pg18 embedded, pg15 system)
pg_major    its major version
dsn         a fresh, empty database on it
init_dsn    a fresh database cloned from a template that has sql/init applied
"""

from __future__ import annotations

import uuid
from collections.abc import Iterator

import psycopg
import pytest
from pytest_postgresql.janitor import DatabaseJanitor
from support import servers
from support.db import INIT_DIR

_started: dict[str, servers.Server] = {}


def pytest_report_header(config: pytest.Config) -> str:
    return f"sqlmig test servers: {', '.join(servers.available())} (see tests/README.md)"


def pytest_sessionfinish(session: pytest.Session) -> None:
    for server in _started.values():
        servers.stop(server)
    _started.clear()


@pytest.fixture(scope="session", params=servers.available())
def pg(request: pytest.FixtureRequest) -> servers.Server:
    name: str = request.param
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


def _janitor(pg: servers.Server, dbname: str, template: str | None = None) -> DatabaseJanitor:
    p = pg.params
    return DatabaseJanitor(
        user=p["user"],
        host=p["host"],
        port=p["port"],
        password=p.get("password"),
        dbname=dbname,
        template_dbname=template,
    )


@pytest.fixture
def dsn(pg: servers.Server) -> Iterator[str]:
    name = f"t_{uuid.uuid4().hex[:12]}"
    with _janitor(pg, name):
        yield pg.dsn(name)


@pytest.fixture(scope="session")
def init_template(pg: servers.Server) -> Iterator[str]:
    """A template database with the bundled sql/init applied by sqlmig itself."""
    from sqlmig import migrations
    from sqlmig.core import config

    name = f"tmpl_init_{uuid.uuid4().hex[:8]}"
    janitor = _janitor(pg, name)
    janitor.init()
    migrations.apply(config.resolve(pg.dsn(name), INIT_DIR))
    try:
        yield name
    finally:
        janitor.drop()


@pytest.fixture
def init_dsn(pg: servers.Server, init_template: str) -> Iterator[str]:
    name = f"t_{uuid.uuid4().hex[:12]}"
    with _janitor(pg, name, template=init_template):
        yield pg.dsn(name)
