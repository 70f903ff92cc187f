"""Real processes: concurrent runners, a runner killed mid-migration, a TTY.

Acceptance 5 and 6 of the runner issue.
"""

from __future__ import annotations

import os
import pty
import signal
import subprocess
import time
import uuid

import psycopg
import pytest
from pytest_postgresql.janitor import DatabaseJanitor
from support.cli import sqlmig_cmd
from support.db import query

pytestmark = pytest.mark.slow


def write_corpus(mig_dir, count=12):
    for i in range(1, count + 1):
        mig_dir.write(
            f"{i:02d}-t{i}.sql",
            f"create table t{i} (id int primary key, v text);\n"
            f"insert into t{i} select g, md5(g::text) from generate_series(1, 200) g;\n"
            f"create index t{i}_v on t{i} (v);\n",
        )


def test_eight_concurrent_runners_apply_each_migration_once(dsn, mig_dir):
    write_corpus(mig_dir)
    mig_dir.write(
        "13-count.sql",
        "create table runs (n int);\ninsert into runs values (1);\n",
    )
    procs = [
        subprocess.Popen(
            sqlmig_cmd(dsn, mig_dir, "apply"),
            stdout=subprocess.PIPE,
            stderr=subprocess.PIPE,
            text=True,
        )
        for _ in range(8)
    ]
    outputs = [p.communicate(timeout=120) for p in procs]
    assert [p.returncode for p in procs] == [0] * 8, outputs
    assert query(dsn, "select count(*) from runs") == [(1,)]
    assert query(dsn, "select count(*), count(distinct version) from schema_migrations") == [
        (13, 13)
    ]
    applied_lines = sum(out.count("applied ") for out, _ in outputs)
    assert applied_lines == 13  # each migration reported by exactly one runner


def schema_dump(pg, dsn):
    dbname = psycopg.conninfo.conninfo_to_dict(dsn)["dbname"]
    cmd = [
        str(pg.bindir / "pg_dump"),
        "--schema-only",
        "--no-owner",
        "-h",
        pg.params["host"],
        "-p",
        pg.params["port"],
        "-U",
        pg.params["user"],
        dbname,
    ]
    dump = subprocess.run(cmd, check=True, capture_output=True, text=True).stdout
    # Comments and the per-dump random \restrict key are not schema.
    skip = ("--", "\\restrict", "\\unrestrict")
    return "\n".join(line for line in dump.splitlines() if not line.startswith(skip))


def fresh_db(pg):
    name = f"t_{uuid.uuid4().hex[:12]}"
    p = pg.params
    janitor = DatabaseJanitor(user=p["user"], host=p["host"], port=p["port"], dbname=name)
    janitor.init()
    return janitor, pg.dsn(name)


def test_kill_9_mid_migration_then_apply_matches_uninterrupted_run(pg, mig_dir):
    if pg.bindir is None:
        pytest.skip("needs the server's own pg_dump")
    write_corpus(mig_dir, 3)
    # A long migration: slow only when the test asks for it (custom GUC via PGOPTIONS).
    mig_dir.write(
        "04-slow.sql",
        "create table slow_a (id int);\n"
        "insert into slow_a values (1);\n"
        "select pg_sleep(case when current_setting('sqlmigtest.slow', true) = 'on' then 60 else 0 end);\n"
        "create table slow_b (id int);\n",
    )
    mig_dir.write("05-after.sql", "create table after_slow (id int);\n")
    killed_j, killed = fresh_db(pg)
    clean_j, clean = fresh_db(pg)
    try:
        env = {**os.environ, "PGOPTIONS": "-c sqlmigtest.slow=on"}
        proc = subprocess.Popen(
            sqlmig_cmd(killed, mig_dir, "apply"),
            env=env,
            stdout=subprocess.DEVNULL,
            stderr=subprocess.DEVNULL,
        )
        try:
            deadline = time.monotonic() + 60
            while time.monotonic() < deadline:
                busy = query(
                    killed,
                    "select count(*) from pg_stat_activity"
                    " where application_name = 'sqlmig' and wait_event = 'PgSleep'",
                )
                if busy[0][0]:
                    break
                time.sleep(0.05)
            else:
                pytest.fail("the slow migration never started")
        finally:
            proc.send_signal(signal.SIGKILL)
            proc.wait(timeout=10)

        again = subprocess.run(
            sqlmig_cmd(killed, mig_dir, "apply"), capture_output=True, text=True, timeout=120
        )
        assert again.returncode == 0, again.stderr
        assert "applied 04-slow.sql" in again.stdout
        uninterrupted = subprocess.run(
            sqlmig_cmd(clean, mig_dir, "apply"), capture_output=True, text=True, timeout=120
        )
        assert uninterrupted.returncode == 0, uninterrupted.stderr
        dump = schema_dump(pg, killed)
        assert "CREATE TABLE public.slow_b" in dump and "CREATE TABLE public.after_slow" in dump
        assert dump == schema_dump(pg, clean)
        assert query(killed, "select version from schema_migrations order by 1") == [
            (1,),
            (2,),
            (3,),
            (4,),
            (5,),
        ]
        assert query(killed, "select count(*) from slow_a") == [(1,)]
    finally:
        killed_j.drop()
        clean_j.drop()


def test_progress_bar_on_a_terminal(dsn, mig_dir):
    write_corpus(mig_dir, 3)
    controller, terminal = pty.openpty()
    proc = subprocess.Popen(
        sqlmig_cmd(dsn, mig_dir, "apply"), stdout=terminal, stderr=terminal, close_fds=True
    )
    os.close(terminal)
    chunks = []
    while True:
        try:
            data = os.read(controller, 4096)
        except OSError:
            break
        if not data:
            break
        chunks.append(data)
    proc.wait(timeout=60)
    os.close(controller)
    screen = b"".join(chunks).decode()
    assert proc.returncode == 0
    assert "[----------" in screen and "0/3 01-t1.sql" in screen  # the bar, redrawn in place
    assert "\r\x1b[Kapplied 03-t3.sql" in screen


def test_plain_lines_without_a_terminal(dsn, mig_dir):
    write_corpus(mig_dir, 2)
    result = subprocess.run(sqlmig_cmd(dsn, mig_dir, "apply"), capture_output=True, text=True)
    assert result.returncode == 0
    lines = result.stdout.splitlines()
    assert lines[0].startswith("applied 01-t1.sql") and lines[0].endswith(" ms")
    assert "\r" not in result.stdout and "\x1b" not in result.stdout


def test_lock_held_by_another_runner_waits_then_exits_3(dsn, mig_dir):
    from sqlmig.migrations.lock import LOCK_KEY

    mig_dir.write("1-a.sql", "create table a (id int);")
    with psycopg.connect(dsn, autocommit=True) as holder:
        holder.execute("select pg_advisory_lock(%s)", (LOCK_KEY,))
        result = subprocess.run(
            sqlmig_cmd(dsn, mig_dir, "apply", "--lock-timeout", "1"),
            capture_output=True,
            text=True,
            timeout=60,
        )
        assert result.returncode == 3, result.stderr
        assert result.stdout.startswith(
            "waiting for the migration lock: another sqlmig run holds it"
        )
        assert (
            "held the migration lock for 1 s" in result.stderr and "--lock-timeout" in result.stderr
        )
        assert query(dsn, "select to_regclass('a')") == [(None,)]
    # Released: the next run applies without waiting.
    again = subprocess.run(
        sqlmig_cmd(dsn, mig_dir, "apply"), capture_output=True, text=True, timeout=60
    )
    assert again.returncode == 0 and "waiting" not in again.stdout
