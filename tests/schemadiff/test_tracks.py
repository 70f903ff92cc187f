"""`drift` and `check` in a project that ran `sqlmig progress install`: the shadow database
gets the progress track the target has, so its tables are expected, not "extra", a
project file that uses them rehearses, and a change to them is still drift."""

from __future__ import annotations

import json

from support.db import INIT_DIR

from sqlmig.core import config
from sqlmig.progress import install


def test_drift_expects_the_progress_track_the_target_installed(pg, mig_dir, sqlmig):
    mig_dir.write("1-jobs.sql", "create table jobs (id int primary key);\n")
    assert sqlmig("apply").exit_code == 0
    assert sqlmig("progress", "install").exit_code == 0
    # a later project file that uses the track's tables: built after it in the shadow
    mig_dir.write(
        "2-job-task.sql", "alter table jobs add column task_id uuid references async_tasks (id);\n"
    )
    assert sqlmig("apply").exit_code == 0
    result = sqlmig("drift")
    assert result.exit_code == 0, result.output
    assert "no drift: the database matches 2 migration file(s)" in result.stderr

    as_json = sqlmig("--format", "json", "drift")
    assert as_json.exit_code == 0 and json.loads(as_json.stdout)["differences"] == []


def test_a_change_to_the_track_s_tables_is_drift(pg, dsn, mig_dir, sqlmig):
    import psycopg

    mig_dir.write("1-jobs.sql", "create table jobs (id int);\n")
    assert sqlmig("apply").exit_code == 0
    assert sqlmig("progress", "install").exit_code == 0
    with psycopg.connect(dsn, autocommit=True) as conn:
        conn.execute("alter table task_progress add column note text")
    result = sqlmig("drift")
    assert result.exit_code == 1
    assert result.stdout.splitlines() == ["column public.task_progress.note: extra"]


def test_check_rehearses_a_file_that_uses_the_track(pg, mig_dir, sqlmig):
    mig_dir.write("1-jobs.sql", "create table jobs (id int primary key);\n")
    assert sqlmig("apply").exit_code == 0
    assert sqlmig("progress", "install").exit_code == 0
    mig_dir.write(
        "2-job-task.sql", "alter table jobs add column task_id uuid references async_tasks (id);\n"
    )
    result = sqlmig("check")
    assert result.exit_code == 0, result.output
    assert "2-job-task.sql" in result.output


def test_a_track_made_of_the_project_s_own_files_is_not_built_twice(pg, init_dsn):
    """sql/init holds the track's files: install records them as baseline, and drift
    builds them once, from sql/init."""
    settings = config.resolve(init_dsn, INIT_DIR)
    install.install(settings)
    (track,) = install.shadow_tracks(settings)
    assert track.versions == frozenset() and not track.first  # its ledger, no files
    from sqlmig import schemadiff

    assert schemadiff.drift(settings, tracks=install.shadow_tracks(settings)).ok


def test_without_the_track_there_is_nothing_to_build(pg, dsn, mig_dir):
    assert install.shadow_tracks(config.resolve(dsn, mig_dir.path)) == []
