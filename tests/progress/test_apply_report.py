"""``sqlmig apply --report DSN`` (issue 13): one apply as a task on the progress server,
file by file; a failure is the task's failure; no password reaches a task row or the output."""

from __future__ import annotations

from support.cli import invoke
from support.db import query
from support.secrets import SECRET, url

FILES = {
    "1-a.sql": "CREATE TABLE a (id int);\n",
    "2-b.sql": "CREATE TABLE b (id int);\n",
    "3-c.sql": "CREATE TABLE c (id int);\n",
}


def report_url(password_user, init_dsn):
    """The progress database, reached as the password role (its password in the URL)."""
    return url(password_user, SECRET, init_dsn.rsplit("dbname=", 1)[1])


def apply_task(init_dsn):
    (row,) = query(
        init_dsn,
        "SELECT id, status::text, progress, input_data::text, coalesce(error_data::text, '')"
        " FROM async_tasks WHERE task_type = 'sqlmig.apply'",
    )
    return row


def progress_rows(init_dsn, task_id):
    return query(
        init_dsn,
        "SELECT status::text, percent, message FROM task_progress WHERE task_id = %s ORDER BY seq",
        task_id,
    )


def every_row(init_dsn):
    rows = query(init_dsn, "SELECT row_to_json(a)::text FROM async_tasks a")
    rows += query(init_dsn, "SELECT row_to_json(p)::text FROM task_progress p")
    return "\n".join(str(r[0]) for r in rows)


def test_an_apply_reports_each_file_and_its_end(tmp_path, dsn, init_dsn, password_user):
    folder = tmp_path / "m"
    folder.mkdir()
    for name, text in FILES.items():
        (folder / name).write_text(text)
    result = invoke(
        "--dsn", dsn, "--dir", str(folder), "apply", "--report", report_url(password_user, init_dsn)
    )
    assert result.exit_code == 0, result.output
    task_id, status, progress, input_data, _ = apply_task(init_dsn)
    assert f"reported as task {task_id}" in result.stderr
    assert (status, float(progress)) == ("COMPLETED", 100.0), result.stderr
    assert '"title": "apply m"' in input_data
    rows = [(s, float(p), m) for s, p, m in progress_rows(init_dsn, task_id)]
    assert rows == [
        ("RUNNING", 0.0, "applying 1-a.sql (1/3)"),
        ("RUNNING", 33.33, "applied 1-a.sql (1/3)"),
        ("RUNNING", 33.33, "applying 2-b.sql (2/3)"),
        ("RUNNING", 66.67, "applied 2-b.sql (2/3)"),
        ("RUNNING", 66.67, "applying 3-c.sql (3/3)"),
        ("RUNNING", 99.0, "applied 3-c.sql (3/3)"),
        ("COMPLETED", 100.0, "applied 3 file(s)"),
    ]
    assert SECRET not in result.output + result.stderr
    assert SECRET not in every_row(init_dsn)


def test_a_failed_apply_is_a_failed_task(tmp_path, dsn, init_dsn, password_user):
    folder = tmp_path / "m"
    folder.mkdir()
    (folder / "1-a.sql").write_text(FILES["1-a.sql"])
    (folder / "2-bad.sql").write_text(f"SELECT '{SECRET}'::int;\n")  # the server echoes it
    result = invoke(
        "--dsn", dsn, "--dir", str(folder), "apply", "--report", report_url(password_user, init_dsn)
    )
    assert result.exit_code == 1, result.output
    _, status, progress, _, error = apply_task(init_dsn)
    assert status == "FAILED" and float(progress) == 50.0
    assert "MigrationFailed" in error and "2-bad.sql" in error
    assert SECRET not in error and SECRET not in every_row(init_dsn)
    assert SECRET not in result.output + result.stderr


def test_report_needs_the_progress_tables(tmp_path, dsn):
    folder = tmp_path / "m"
    folder.mkdir()
    (folder / "1-a.sql").write_text(FILES["1-a.sql"])
    result = invoke("--dsn", dsn, "--dir", str(folder), "apply", "--report", dsn)
    assert result.exit_code == 2
    assert "install them first (sqlmig progress install)" in result.output
    assert query(dsn, "SELECT to_regclass('public.schema_migrations')") == [(None,)]
