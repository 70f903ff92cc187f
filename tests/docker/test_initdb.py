"""docker/initdb/10-sqlmig.sh, run as the postgres image runs it during first
initialisation: POSTGRES_USER / POSTGRES_DB set, the server on its Unix socket only,
the container's own PGHOST pointing elsewhere. Afterwards the database has a ledger."""

from __future__ import annotations

import os
import re
import subprocess
import sys

from psycopg import conninfo
from support.db import INIT_DIR, ROOT, query

INITDB = ROOT / "docker" / "initdb" / "10-sqlmig.sh"
ENTRYPOINT = ROOT / "docker" / "entrypoint.sh"


def image_env(dsn, **extra):
    """The environment the postgres image gives its initdb scripts, for ``dsn``'s server."""
    params = conninfo.conninfo_to_dict(dsn)
    return {
        **{k: v for k, v in os.environ.items() if not k.startswith(("SQLMIG_", "PG", "DATABASE_"))},
        "POSTGRES_USER": str(params["user"]),
        "POSTGRES_DB": str(params["dbname"]),
        "PGPORT": str(params["port"]),
        "PGDATA": "/var/lib/postgresql/data",
        # the container's own settings, which must not redirect the initialisation
        "PGHOST": "db.example.invalid",
        "SQLMIG_DSN": "postgresql://app@db.example.invalid/app",
        "SQLMIG_INITDB_HOST": str(params["host"]),  # the test server's socket folder
        "SQLMIG": f"{sys.executable} -m sqlmig",
        **extra,
    }


def run(script, env, cwd):
    return subprocess.run(
        [str(script)], env=env, capture_output=True, text=True, timeout=120, cwd=cwd
    )


def test_applies_sql_init_so_later_runs_find_a_ledger(dsn, tmp_path):
    env = image_env(dsn, SQLMIG_DIR=str(INIT_DIR))
    result = run(INITDB, env, tmp_path)
    assert result.returncode == 0, result.stderr
    files = sorted(p.name for p in INIT_DIR.glob("*.sql") if not p.name.endswith(".down.sql"))
    assert result.stdout.count("applied ") == len(files) >= 14
    rows = query(dsn, "select version, success from schema_migrations order by version")
    assert rows == [(int(name.split("-")[0]), True) for name in files]
    # a later container (the migrate service) finds every file applied: nothing to do
    later = subprocess.run(
        ["sh", str(ENTRYPOINT)],
        env={
            **{k: v for k, v in env.items() if not k.startswith(("SQLMIG_", "PG", "POSTGRES_"))},
            "SQLMIG_DSN": dsn,
            "SQLMIG_DIR": str(INIT_DIR),
            "SQLMIG": env["SQLMIG"],
            "SQLMIG_WAIT": "1",
        },
        capture_output=True,
        text=True,
        timeout=60,
        cwd=tmp_path,
    )
    assert later.returncode == 0, later.stderr
    assert f"Nothing to apply: {len(files)} migration(s) already applied." in later.stdout


def test_a_mounted_folder_and_a_failing_file_fail_the_initialisation(dsn, tmp_path):
    folder = tmp_path / "mounted"
    folder.mkdir()
    (folder / "1-ok.sql").write_text("create table ok ();")
    (folder / "2-bad.sql").write_text("create tabel bad ();")
    result = run(INITDB, image_env(dsn, SQLMIG_DIR=str(folder)), tmp_path)
    assert result.returncode == 1
    assert "2-bad.sql:1:8" in result.stderr
    assert query(dsn, "select version, success from schema_migrations where success") == [(1, True)]


def test_no_migrations_folder_is_a_clear_error(dsn, tmp_path):
    result = run(INITDB, image_env(dsn, SQLMIG_DIR=str(tmp_path / "nope")), tmp_path)
    assert result.returncode == 2
    assert result.stderr == (
        f"10-sqlmig.sh: no migrations folder at {tmp_path / 'nope'} (set SQLMIG_DIR or mount one there)\n"
    )


def test_without_sqlmig_it_names_the_image_target(dsn, tmp_path):
    env = image_env(dsn, SQLMIG_DIR=str(INIT_DIR), SQLMIG="no-such-sqlmig-command")
    result = run(INITDB, env, tmp_path)
    assert result.returncode == 2
    assert "docker build --target postgres" in result.stderr


def test_is_executable_and_documents_every_variable_it_reads():
    # the image sources a non-executable *.sh instead of running it
    assert os.access(INITDB, os.X_OK)
    text = INITDB.read_text()
    header = text.split("set -eu", 1)[0]
    read = set(re.findall(r"\$\{?([A-Z][A-Z0-9_]+)", text.split("set -eu", 1)[1]))
    documented = set(re.findall(r"^#\s+([A-Z][A-Z0-9_]+)\b", header, re.M))
    assert {"POSTGRES_USER", "POSTGRES_DB", "PGPORT", "SQLMIG_DIR"} <= read
    assert read <= documented, read - documented
