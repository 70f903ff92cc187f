"""fleet apply --report: one batch, one child per target, each ending as its target did,
the batch's status the roll-up, a child's percent per file, no DSN or password in any
task row; cancelling the batch stops new targets (running ones finish)."""

from __future__ import annotations

import json

import psycopg
import pytest
from support import fleet as helpers
from support.cli import invoke
from support.db import query
from support.secrets import SECRET, USER

from sqlmig import fleet
from sqlmig.core import config
from sqlmig.fleet.report import CHILD_TYPE, FleetReport
from sqlmig.fleet.schedule import Done
from sqlmig.progress.store import cancel_task


def tasks(init_dsn, batch_id):
    """(name, status, percent) per child, in the batch's order, and the batch's status."""
    rows = query(
        init_dsn,
        "SELECT input_data->>'name', status::text, progress FROM async_tasks "
        "WHERE parent_id = %s ORDER BY (input_data->>'stage')::int, input_data->>'name'",
        batch_id,
    )
    (status,) = query(init_dsn, "SELECT status::text FROM async_tasks WHERE id = %s", batch_id)[0]
    return [(str(n), str(s), float(p)) for n, s, p in rows], status


def every_row(init_dsn):
    rows = query(init_dsn, "SELECT row_to_json(a)::text FROM async_tasks a")
    rows += query(init_dsn, "SELECT row_to_json(p)::text FROM task_progress p")
    return "\n".join(str(r[0]) for r in rows)


def test_a_batch_with_a_child_per_target(tmp_path, password_user, init_dsn):
    made = helpers.databases([password_user], 4)
    try:
        host, port = password_user.params["host"], password_user.params["port"]
        names = [n for n, _, _ in made]
        lines = ['password_env = "FLEET_PW"', f"stages = {json.dumps([names[:3], ['*']])}"]
        lines.append("[targets]")
        for name, dsn, _ in made:
            dbname = dsn.rsplit("dbname=", 1)[1]
            url = f"postgresql://{USER}@/{dbname}?host={host}&port={port}"
            lines.append(f'{name} = "{url}"')
        (tmp_path / "fleet.toml").write_text("\n".join(lines) + "\n")
        files = dict(helpers.FILES)  # the failure's excerpt shows the secret: masked
        files["0003-c.sql"] = f"-- third\nCREATE TABLE c (id int); -- {SECRET}\n"
        helpers.write_files(tmp_path / "m", files)
        query(made[1][1], "CREATE TABLE c (other text)")  # t01 fails at migration 3

        def run():
            return invoke(
                "--dir",
                str(tmp_path / "m"),
                "fleet",
                "apply",
                "--targets",
                str(tmp_path / "fleet.toml"),
                "--max-failures",
                "9",
                "--jobs",
                "2",
                "--report",
                init_dsn,
                env={"FLEET_PW": SECRET},
                cwd=tmp_path,
            )

        result = run()
        assert result.exit_code == 1, result.output
        assert SECRET not in result.output
        batch_id = result.output.split("reported as batch ")[1].split()[0]
        children, status = tasks(init_dsn, batch_id)
        assert children == [
            ("t00", "COMPLETED", 100.0),
            ("t01", "FAILED", 50.0),  # two of four files applied
            ("t02", "COMPLETED", 100.0),
            ("t03", "CANCELLED", 0.0),
        ]
        assert status == "FAILED"
        (error,) = query(
            init_dsn,
            "SELECT error_data::text FROM async_tasks WHERE parent_id = %s AND status = 'FAILED'",
            batch_id,
        )[0]
        assert "0003-c.sql" in str(error) and "already exists" in str(error)
        # A child's bar moved file by file.
        percents = query(
            init_dsn,
            "SELECT p.percent FROM task_progress p JOIN async_tasks a ON a.id = p.task_id "
            "WHERE a.parent_id = %s AND a.input_data->>'name' = 't00' ORDER BY p.seq",
            batch_id,
        )
        assert [float(p) for (p,) in percents][-5:] == [50.0, 75.0, 75.0, 100.0, 100.0]
        (reason,) = query(
            init_dsn,
            "SELECT message FROM task_progress p JOIN async_tasks a ON a.id = p.task_id "
            "WHERE a.input_data->>'name' = 't03' AND p.status = 'CANCELLED'",
        )[0]
        assert "stage 1 did not end clean" in str(reason)
        query(made[1][1], "DROP TABLE c")
        again = run()
        assert again.exit_code == 0, again.output
        batch_2 = again.output.split("reported as batch ")[1].split()[0]
        assert tasks(init_dsn, batch_2) == ([(n, "COMPLETED", 100.0) for n in names], "COMPLETED")
        text = every_row(init_dsn)
        assert text.count(CHILD_TYPE) >= 8
        for leak in (SECRET, "postgresql://", "host=", "dbname", str(host), USER):
            assert leak not in text
    finally:
        helpers.drop(made)


def test_cancelling_the_batch_stops_new_targets(tmp_path, pg, init_dsn):
    made = helpers.databases([pg], 6)
    try:
        path = helpers.targets_toml(tmp_path / "fleet.toml", [(n, d) for n, d, _ in made])
        settings = config.resolve("", helpers.write_files(tmp_path / "m"), cwd=tmp_path)
        found = fleet.load_fleet(settings, path)
        report = FleetReport(init_dsn, settings)

        def cancel_after_the_first(event):
            if isinstance(event, Done) and event.result.target.name == "t00":
                with psycopg.connect(init_dsn, autocommit=True) as conn:
                    assert cancel_task(conn, report.batch.task_id).cancelled

        try:
            result = fleet.run_fleet(
                "apply",
                found,
                settings,
                fleet.FleetOptions(jobs=1),
                on_event=cancel_after_the_first,
                report=report,
            )
        finally:
            report.close()
        outcomes = [r.outcome for r in result.results]
        assert outcomes[0] is fleet.Outcome.APPLIED
        assert outcomes[2:] == [fleet.Outcome.SKIPPED] * 4  # t01 may have started; no more
        assert "cancelled on the progress server" in result.results[-1].error
        for r, (_, dsn, _) in zip(result.results, made, strict=True):
            expected = [] if r.outcome is fleet.Outcome.SKIPPED else [1, 2, 3, 4]
            assert helpers.ledger(dsn) == expected  # running targets finished
        children, status = tasks(init_dsn, str(report.batch.task_id))
        assert status == "CANCELLED"
        assert [s for _, s, _ in children][2:] == ["CANCELLED"] * 4
        assert report.broken == ""
    finally:
        helpers.drop(made)


def test_report_needs_the_progress_tables(tmp_path, pg):
    settings = config.resolve("", tmp_path, cwd=tmp_path)
    from sqlmig.core.errors import UsageError

    with pytest.raises(UsageError, match="no progress tables"):
        FleetReport(pg.dsn(), settings)
