"""Fixtures: one real server per major version for the whole run, a fresh database per test.

pg          the session's server (parametrized: pg18 embedded, pg15 system)
dsn         a fresh, empty database on it
init_dsn    a fresh database cloned from a template that has sql/init applied
mig_dir     an empty migrations folder; write files with ``write(name, text)``
"""

from __future__ import annotations

import uuid
from collections.abc import Iterator
from pathlib import Path

import psycopg
import pytest
import servers
from pytest_postgresql.janitor import DatabaseJanitor

ROOT = Path(__file__).resolve().parent.parent
INIT_DIR = ROOT / "sql" / "init"

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


class MigDir:
    """A temporary migrations folder."""

    def __init__(self, path: Path) -> None:
        self.path = path

    def write(self, name: str, text: str | bytes) -> Path:
        target = self.path / name
        if isinstance(text, bytes):
            target.write_bytes(text)
        else:
            target.write_text(text, encoding="utf-8")
        return target

    def __str__(self) -> str:
        return str(self.path)


@pytest.fixture
def mig_dir(tmp_path: Path) -> MigDir:
    folder = tmp_path / "migrations"
    folder.mkdir()
    return MigDir(folder)


@pytest.fixture
def sqlmig(dsn: str, mig_dir: MigDir):  # type: ignore[no-untyped-def]
    """Run the CLI in-process against the fresh database and the temp folder."""
    from click.testing import CliRunner

    from sqlmig.cli import cli

    def run(*args: str, dsn_: str | None = None):  # type: ignore[no-untyped-def]
        return CliRunner().invoke(
            cli, ["--dsn", dsn_ or dsn, "--dir", str(mig_dir), *args], catch_exceptions=False
        )

    return run


def query(dsn: str, text: str, *params: object) -> list[tuple[object, ...]]:
    with psycopg.connect(dsn) as conn:
        cur = conn.execute(text, params or None)  # type: ignore[arg-type]
        return cur.fetchall() if cur.description else []
