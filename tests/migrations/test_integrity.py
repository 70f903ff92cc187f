"""Exactly once and the truth about it, against real faults (issue 8).

Concurrent runners with a file that releases the lock, CREATE INDEX
CONCURRENTLY with runners waiting, a server restarted mid-file, repair that
keeps history, and files on disk that must never be skipped.
"""

from __future__ import annotations

import os
import shutil
import subprocess
import tempfile
import time
from pathlib import Path

import psycopg
import pytest
from support.cli import sqlmig_cmd
from support.db import query

pytestmark = pytest.mark.slow


def start(dsn, mig_dir, *args, env=None):
    return subprocess.Popen(
        sqlmig_cmd(dsn, mig_dir, "apply", *args),
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
        env=env,
    )


def wait_for(dsn, sql_text, timeout=30.0):
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if query(dsn, sql_text)[0][0]:
            return
        time.sleep(0.02)
    pytest.fail(f"never true: {sql_text}")


def test_a_file_that_releases_the_lock_never_runs_twice(dsn, mig_dir):
    mig_dir.write("1-runs.sql", "create table runs (n int);\n")
    mig_dir.write(
        "2-unlock.sql",
        "select pg_advisory_unlock_all();\nselect pg_sleep(1.5);\ninsert into runs values (1);\n",
    )
    first = start(dsn, mig_dir)
    wait_for(dsn, "select count(*) from pg_stat_activity where wait_event = 'PgSleep'")
    second = start(dsn, mig_dir)
    outs = [p.communicate(timeout=120) for p in (first, second)]
    codes = [p.returncode for p in (first, second)]
    # The file misbehaves for every runner: nobody may commit it, everybody says so.
    assert codes == [1, 1], outs
    for _, err in outs:
        assert "migration lock was released while 2-unlock.sql ran" in err
        assert "nothing of it was applied" in err
    assert query(dsn, "select count(*) from runs") == [(0,)]
    assert query(dsn, "select version, success from schema_migrations") == [(1, True)]


def test_ledger_refuses_a_second_row_and_any_success_without_the_lock(dsn, mig_dir):
    from sqlmig.core.config import DEFAULT_LEDGER as loc
    from sqlmig.migrations import ledger
    from sqlmig.migrations.files import load_scripts

    mig_dir.write("1-a.sql", "create table a (id int);\n")
    mig_dir.write("2-b.sql", "create table b (id int);\n")
    first, second = load_scripts(mig_dir.path)
    with psycopg.connect(dsn, autocommit=True) as conn:
        ledger.ensure(conn, loc)
        with ledger.locked(conn, loc, 5):
            ledger.record(conn, loc, first, execution_ms=1, success=True)
            with pytest.raises(psycopg.errors.UniqueViolation) as twice:
                ledger.record(conn, loc, first, execution_ms=2, success=True)
            assert ledger.is_duplicate_row(twice.value, loc)
        with pytest.raises(psycopg.errors.NotNullViolation) as lost:
            ledger.record(conn, loc, second, execution_ms=1, success=True)
        assert ledger.is_lock_lost(lost.value, loc)
    assert query(dsn, "select version, execution_ms from schema_migrations") == [(1, 1)]


@pytest.mark.parametrize("trial", range(10))
def test_concurrent_index_completes_while_other_runners_wait(dsn, mig_dir, trial):
    waiters = 1 + trial % 8  # 1..8 runners waiting for the lock
    mig_dir.write(
        "1-t.sql",
        "create table t (id int primary key, v text);\n"
        "insert into t select g, md5(g::text) from generate_series(1, 2000) g;\n"
        "create table runs (file int);\n",
    )
    mig_dir.write(
        "2-ix.sql",
        "-- sqlmig: no-transaction\n"
        "select pg_sleep(0.5);\n"
        "create index concurrently t_v on t (v);\n"
        "insert into runs values (2);\n",
    )
    mig_dir.write("3-after.sql", "insert into runs values (3);\n")
    procs = [start(dsn, mig_dir)]
    wait_for(dsn, "select count(*) from pg_stat_activity where wait_event = 'PgSleep'")
    procs += [start(dsn, mig_dir) for _ in range(waiters)]
    outs = [p.communicate(timeout=120) for p in procs]
    assert [p.returncode for p in procs] == [0] * len(procs), outs
    assert query(dsn, "select file, count(*) from runs group by 1 order by 1") == [(2, 1), (3, 1)]
    assert query(dsn, "select bool_and(success), count(*) from schema_migrations") == [(True, 3)]
    assert query(dsn, "select indisvalid from pg_index where indexrelid = 't_v'::regclass") == [
        (True,)
    ]


def test_server_restart_mid_file_is_connection_lost_and_true(pg, dsn, mig_dir):
    if pg.bindir is None:
        pytest.skip("needs a server this run started")
    mig_dir.write("1-a.sql", "create table a (id int);\n")
    mig_dir.write(
        "2-slow.sql",
        "create table b (id int);\n"
        "select pg_sleep(case when current_setting('sqlmigtest.slow', true) = 'on' then 60 else 0 end);\n",
    )
    env = {**os.environ, "PGOPTIONS": "-c sqlmigtest.slow=on"}
    proc = start(dsn, mig_dir, env=env)
    wait_for(dsn, "select count(*) from pg_stat_activity where wait_event = 'PgSleep'")
    # -l: without a log file the new postmaster keeps pg_ctl's stdout open.
    pg.pg_ctl("-w", "-m", "fast", "-l", str(pg.pgdata / "restart.log"), "restart")
    _out, err = proc.communicate(timeout=120)
    assert proc.returncode == 3, err
    assert "the connection to the server was lost while 2-slow.sql ran" in err
    assert "The server rolled 2-slow.sql back: nothing of it was applied" in err
    assert "fix the file" not in err.lower()
    assert query(dsn, "select version from schema_migrations") == [(1,)]
    assert query(dsn, "select to_regclass('b')") == [(None,)]


def test_repair_keeps_the_text_that_ran_and_records_the_acceptance(sqlmig, mig_dir, dsn):
    path = mig_dir.write("1-a.sql", "create table a (id int);\n")
    assert sqlmig("apply").exit_code == 0
    path.write_text("create table a (id bigint);\n")
    dry = sqlmig("repair", "--dry-run")
    assert dry.exit_code == 0 and "would have accepted the edited file" in dry.output
    assert "nothing was changed" in dry.output
    assert query(dsn, "select accepted_checksum from schema_migrations") == [(None,)]
    done = sqlmig("repair")
    assert done.exit_code == 0 and "the edited SQL did not run" in done.output
    ((script, accepted, by),) = query(
        dsn, "select script, accepted_checksum, accepted_by from schema_migrations"
    )
    assert script == "create table a (id int);\n" and accepted and by == "postgres"
    status = sqlmig("status").output
    assert "[X] 1-a.sql" in status and "edit accepted" in status
    assert "the edited SQL did not run" in status
    assert sqlmig("verify").exit_code == 0
    # History kept: the column type is what ran, not what the file says now.
    assert query(
        dsn,
        "select format_type(atttypid, -1) from pg_attribute where attrelid = 'a'::regclass and attname = 'id'",
    ) == [("integer",)]


def test_an_old_ledger_is_upgraded_in_place(sqlmig, mig_dir, dsn):
    mig_dir.write("1-a.sql", "create table a (id int);\n")
    assert sqlmig("apply").exit_code == 0
    query(
        dsn,
        "alter table schema_migrations drop column accepted_checksum, drop column accepted_at, drop column accepted_by",
    )
    assert "[X] 1-a.sql" in sqlmig("status").output
    mig_dir.write("2-b.sql", "create table b (id int);\n")
    assert sqlmig("apply").exit_code == 0
    assert query(
        dsn,
        "select count(*) from pg_attribute where attrelid = 'schema_migrations'::regclass and attname like 'accepted_%'",
    ) == [(3,)]


def test_dangling_link_and_unreadable_entries_are_errors(sqlmig, mig_dir, dsn):
    mig_dir.write("1-a.sql", "create table a (id int);\n")
    (mig_dir.path / "2-b.sql").symlink_to(mig_dir.path / "gone.sql")
    result = sqlmig("apply")
    assert result.exit_code == 2
    assert "2-b.sql: a symbolic link to" in result.stderr and "does not exist" in result.stderr
    (mig_dir.path / "2-b.sql").unlink()
    (mig_dir.path / "2-b.sql").mkdir()  # a folder with a migration's name is not a migration
    assert sqlmig("apply").exit_code == 0
    assert query(dsn, "select count(*) from schema_migrations") == [(1,)]


@pytest.mark.skipif(os.geteuid() != 0, reason="runs the CLI as another user")
def test_unreadable_file_or_folder_is_an_error_naming_it(dsn):
    base = Path(tempfile.mkdtemp(prefix="sqlmig-unreadable-"))
    try:
        base.chmod(0o755)
        folder = base / "migrations"
        folder.mkdir(mode=0o755)
        (folder / "1-a.sql").write_text("create table a (id int);\n")
        (folder / "1-a.sql").chmod(0o000)

        def status_as_nobody() -> subprocess.CompletedProcess[str]:
            return subprocess.run(
                ["runuser", "-u", "nobody", "--", *sqlmig_cmd(dsn, folder, "status")],
                capture_output=True,
                text=True,
                cwd=base,
            )

        result = status_as_nobody()
        assert result.returncode == 2, result.stderr
        assert "1-a.sql: cannot read it: Permission denied" in result.stderr
        folder.chmod(0o000)
        result = status_as_nobody()
        assert result.returncode == 2, result.stderr
        assert f"cannot read the migrations directory {folder}: Permission denied" in result.stderr
        assert "Traceback" not in result.stderr
    finally:
        shutil.rmtree(base, ignore_errors=True)
