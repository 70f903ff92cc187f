"""`sqlmig progress install`: the progress tables as sqlmig's own migration track.

In an empty database it creates everything `demo` and `serve` need, with its own
ledger (sqlmig.progress_migrations); again it changes nothing; on a database built
from sql/init it records what is there; the track's files are sql/init's (byte for
byte, or, for the two that cannot be, the same objects); a built wheel carries them.
"""

from __future__ import annotations

import json
import os
import re
import shutil
import signal
import subprocess
import sys
import venv

import psycopg
import pytest
from click.testing import CliRunner
from support.db import INIT_DIR, ROOT, query
from support.progress import TIMEOUT_S, progress_server, request

from sqlmig.cli import cli
from sqlmig.core import config
from sqlmig.migrations import api
from sqlmig.progress import install as track
from sqlmig.schemadiff import catalog

UUID_RE = r"[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}"
TRACK = sorted(p.name for p in track.track_directory().glob("*.sql"))
#: Track files that are sql/init files byte for byte.
TWINS = {
    "03-memories.sql": "11-memories.sql",
    "04-memories-task-id.sql": "12-memories-task-id.sql",
    "05-task-progress.sql": "13-task-progress.sql",
    "06-task-batches.sql": "14-task-batches.sql",
    "07-task-progress-eta-probe.sql": "15-task-progress-eta-probe.sql",
}
#: Track files made from parts of sql/init files (what they build is compared instead).
DERIVED = {"01-progress-base.sql", "02-async-tasks.sql"}
#: What sql/init has and the track leaves out: the foreign key to command_inbox.
ONLY_IN_INIT = {("constraint", "public.async_tasks.async_tasks_triggered_by_command_id_fkey")}


def run(*args: str):  # type: ignore[no-untyped-def]
    return CliRunner().invoke(cli, list(args), catch_exceptions=False)


def track_ledger(dsn: str) -> list[tuple[object, ...]]:
    return query(dsn, "select version, kind, success from sqlmig.progress_migrations order by 1")


def history_count(dsn: str) -> int:
    return int(query(dsn, "select count(*) from sqlmig.progress_migrations_history")[0][0])  # type: ignore[arg-type]


def test_install_in_an_empty_database_then_demo_and_serve(dsn):
    assert query(dsn, "select to_regclass('async_tasks')") == [(None,)]
    result = run("--dsn", dsn, "progress", "install")
    assert result.exit_code == 0, result.output
    assert f"Installed: {len(TRACK)} file(s) applied (sqlmig.progress_migrations)." in result.output
    assert track_ledger(dsn) == [(v, "migration", True) for v in range(1, len(TRACK) + 1)]
    # The project's own ledger is not touched: the track is apart from it.
    assert query(dsn, "select to_regclass('public.schema_migrations')") == [(None,)]

    demo = run("--dsn", dsn, "demo", "episode", "--delay", "0", "--url", "http://h:1/")
    assert demo.exit_code == 0, demo.output
    task_id = re.search(rf"task ({UUID_RE})", demo.output)[1]  # type: ignore[index]
    with progress_server(dsn) as srv:
        task = request(srv.port, "GET", f"/api/v1/tasks/{task_id}")
        assert task.status == 200, task.body
        assert task.json()["status"] == "COMPLETED"
        page = request(srv.port, "GET", f"/tasks/{task_id}")
        assert page.status == 200


def test_a_second_install_changes_nothing_and_status_shows_the_track(dsn):
    before = run("--dsn", dsn, "progress", "status", "--format", "json")
    assert before.exit_code == 0, before.output
    assert json.loads(before.output)["counts"]["pending"] == len(TRACK) == 7
    assert run("--dsn", dsn, "progress", "install").exit_code == 0
    rows, history = track_ledger(dsn), history_count(dsn)
    again = run("--dsn", dsn, "progress", "install")
    assert again.exit_code == 0, again.output
    assert "The progress tables are up to date (sqlmig.progress_migrations)." in again.output
    assert (track_ledger(dsn), history_count(dsn)) == (rows, history)
    after = run("--dsn", dsn, "progress", "status", "--format", "json")
    states = [m["state"] for m in json.loads(after.output)["migrations"]]
    assert states == ["applied"] * len(TRACK)
    assert "[X] 07-task-progress-eta-probe.sql" in run("--dsn", dsn, "progress", "status").output


def test_dry_run_changes_nothing(dsn):
    result = run("--dsn", dsn, "progress", "install", "--dry-run")
    assert result.exit_code == 0, result.output
    assert "-- sqlmig dry run: would apply 01-progress-base.sql" in result.output
    assert f"-- {len(TRACK)} file(s) would run; nothing was changed." in result.output
    assert query(dsn, "select count(*) from pg_namespace where nspname = 'sqlmig'") == [(0,)]
    assert query(dsn, "select to_regclass('async_tasks')") == [(None,)]


def test_install_upgrades_an_older_installation(dsn):
    """A database with the first files of the track (an older sqlmig) gets the rest."""
    settings = track.track_settings(config.resolve(dsn, env={}))
    assert len(api.apply(settings, target=4).applied) == 4
    result = run("--dsn", dsn, "--format", "json", "progress", "install")
    assert result.exit_code == 0, result.output
    assert [a["name"] for a in json.loads(result.output)["applied"]] == [
        "task-progress",
        "task-batches",
        "task-progress-eta-probe",
    ]
    assert [v for v, _, _ in track_ledger(dsn)] == [1, 2, 3, 4, 5, 6, 7]


def test_install_upgrades_the_previous_release_s_track_by_its_new_file(dsn):
    """sqlmig before 07 shipped 01-06: install applies 07 alone (the ETA's key probe)."""
    settings = track.track_settings(config.resolve(dsn, env={}))
    assert len(api.apply(settings, target=6).applied) == 6
    probe = (
        "select prosrc like '%%seq = greatest(NEW.seq - 20, 1)%%' from pg_proc"
        " where oid = 'task_progress_fill()'::regprocedure"
    )
    assert query(dsn, probe) == [(False,)]
    result = run("--dsn", dsn, "--format", "json", "progress", "install")
    assert result.exit_code == 0, result.output
    applied = json.loads(result.output)["applied"]
    assert [a["name"] for a in applied] == ["task-progress-eta-probe"]
    assert query(dsn, probe) == [(True,)]


def test_a_database_built_from_sql_init_is_recorded_not_rebuilt(init_dsn):
    main_ledger = query(
        init_dsn, "select version, checksum from public.schema_migrations order by 1"
    )
    result = run("--dsn", init_dsn, "progress", "install")
    assert result.exit_code == 0, result.output
    assert "07-task-progress-eta-probe.sql: already in the database, recorded as applied" in (
        result.output
    )
    assert "The progress tables are up to date" in result.output
    assert track_ledger(init_dsn) == [(v, "baseline", True) for v in range(1, len(TRACK) + 1)]
    assert query(init_dsn, "select count(*) from pg_type where typname = 'task_status'") == [(1,)]
    assert (
        query(init_dsn, "select version, checksum from public.schema_migrations order by 1")
        == main_ledger
    )
    assert run("--dsn", init_dsn, "progress", "install").exit_code == 0
    assert len(track_ledger(init_dsn)) == len(TRACK)
    demo = run("--dsn", init_dsn, "demo", "episode", "--delay", "0", "--url", "http://h:1/")
    assert demo.exit_code == 0, demo.output


def test_a_database_with_part_of_the_schema_is_refused(dsn):
    with psycopg.connect(dsn, autocommit=True) as conn:
        conn.execute("create table memories (id int)")
    result = run("--dsn", dsn, "progress", "install")
    assert result.exit_code == 2
    assert (
        "Error: the database has part of the progress schema but not all of it: the objects "
        "of 03-memories.sql are there, those of 01-progress-base.sql, 02-async-tasks.sql, "
        "04-memories-task-id.sql, 05-task-progress.sql, 06-task-batches.sql, "
        "07-task-progress-eta-probe.sql are not" in result.output
    )
    assert query(dsn, "select count(*) from pg_namespace where nspname = 'sqlmig'") == [(0,)]


def test_serve_and_demo_point_to_progress_install(dsn):
    result = run("--dsn", dsn, "demo", "episode", "--delay", "0")
    assert result.exit_code == 2
    assert "install them first (sqlmig progress install)" in result.output


def test_every_track_file_is_a_sql_init_file_or_derived_from_them():
    assert set(TRACK) == set(TWINS) | DERIVED, "map a new track file to its sql/init twin"
    for mine, theirs in TWINS.items():
        assert (track.track_directory() / mine).read_bytes() == (INIT_DIR / theirs).read_bytes()
    assert set(track.PRESENT) == {int(name.split("-")[0]) for name in TRACK}


def test_the_track_builds_the_same_objects_as_sql_init(dsn, init_dsn):
    assert run("--dsn", dsn, "progress", "install").exit_code == 0
    with psycopg.connect(dsn) as conn:
        mine = catalog.snapshot(conn, ledger=track.TRACK_LEDGER)
    with psycopg.connect(init_dsn) as conn:
        theirs = catalog.snapshot(conn)
    compared = 0
    for kind, objects in mine.objects.items():
        for name, attributes in objects.items():
            if (kind, name) == ("schema", "sqlmig"):
                continue  # the track ledger's schema
            assert theirs.get(kind, name) == attributes, (kind, name)
            compared += 1
    assert compared > 50
    tables = ("public.async_tasks", "public.memories", "public.task_progress")
    only_init = {
        (kind, name)
        for kind, objects in theirs.objects.items()
        for name in objects
        if name.startswith(tables) and mine.get(kind, name) is None
    }
    assert only_init == ONLY_IN_INIT


@pytest.mark.slow
def test_a_built_wheel_installs_the_track_in_a_fresh_project(dsn, tmp_path):
    """The wheel in a venv of its own (no system packages, deps from the index), run
    from a project folder that is not this checkout."""
    wheels = tmp_path / "wheels"
    subprocess.run(
        [sys.executable, "-m", "pip", "wheel", str(ROOT), "--no-deps", "-q", "-w", str(wheels)],
        check=True,
        capture_output=True,
        timeout=600,
    )
    (wheel,) = wheels.glob("sqlmig-*.whl")
    env_dir = tmp_path / "venv"
    venv.EnvBuilder(with_pip=True, system_site_packages=False).create(env_dir)
    python = env_dir / "bin" / "python"
    installed = subprocess.run(
        [str(python), "-m", "pip", "install", "-q", str(wheel)],
        capture_output=True,
        text=True,
        timeout=1200,
    )
    assert installed.returncode == 0, installed.stderr[-2000:]
    project = tmp_path / "app"
    project.mkdir()
    (project / "pyproject.toml").write_text(
        '[project]\nname = "app"\n[tool.sqlmig]\nembedded = false\n'
    )
    clean = {k: v for k, v in os.environ.items() if not k.startswith(("SQLMIG_", "PG", "PYTHON"))}
    env = {**clean, "SQLMIG_DSN": dsn, "PYTHONUNBUFFERED": "1"}
    sqlmig = [str(env_dir / "bin" / "sqlmig")]

    def cli_run(*args: str) -> subprocess.CompletedProcess[str]:
        return subprocess.run(
            [*sqlmig, *args],
            cwd=project,
            env=env,
            capture_output=True,
            text=True,
            timeout=TIMEOUT_S,
        )

    where = subprocess.run(
        [str(python), "-c", "import sqlmig.progress.install as t; print(t.track_directory())"],
        cwd=project, env=env, capture_output=True, text=True, check=True,
    ).stdout.strip()  # fmt: skip
    assert where.startswith(str(env_dir)), where  # the wheel's copy, not this checkout's
    result = cli_run("progress", "install")
    assert result.returncode == 0, result.stderr
    assert f"Installed: {len(TRACK)} file(s) applied" in result.stdout
    result = cli_run("demo", "episode", "--delay", "0")
    assert result.returncode == 0, result.stderr
    task_id = re.search(rf"task ({UUID_RE})", result.stdout)[1]  # type: ignore[index]
    server = subprocess.Popen(
        [*sqlmig, "serve", "--port", "0"],
        cwd=project,
        env=env,
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
    )
    try:
        assert server.stdout is not None
        url = re.search(r"listening on (http://127\.0\.0\.1:\d+)", server.stdout.readline())[1]  # type: ignore[index]
        task = request(int(url.rsplit(":", 1)[1]), "GET", f"/api/v1/tasks/{task_id}")
        assert task.status == 200 and task.json()["status"] == "COMPLETED"
    finally:
        server.send_signal(signal.SIGTERM)
        server.communicate(timeout=TIMEOUT_S)
    assert server.returncode == 0
    shutil.rmtree(env_dir)
