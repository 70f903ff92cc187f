"""`sqlmig drift` on the bundled sql/init: each hand change is exactly one precise line,
an untouched database shows none, the target is only read and the shadow is dropped."""

from __future__ import annotations

import json

import psycopg
import pytest
from support.cli import invoke
from support.db import INIT_DIR, query

from sqlmig import schemadiff
from sqlmig.core import config

_NEW_BODY = """
CREATE OR REPLACE FUNCTION trigger_set_timestamp() RETURNS trigger LANGUAGE plpgsql AS $$
BEGIN
    NEW.updated_at := clock_timestamp();
    RETURN NEW;
END;
$$;
"""
_NEW_VIEW = """
CREATE OR REPLACE VIEW v_outbox_backlog AS
SELECT o.topic::varchar(255) AS topic, count(*)::bigint AS pending_count,
       count(*) FILTER (WHERE o.scheduled_at <= now())::bigint AS due_count,
       count(*) FILTER (WHERE o.retry_count >= o.max_retries)::bigint AS exhausted_count,
       min(o.scheduled_at)::timestamptz AS oldest_scheduled_at,
       max(o.retry_count)::integer AS max_retry_count
FROM event_outbox AS o
WHERE o.status = 'SENT'
GROUP BY o.topic
"""
# A CHECK cannot be altered in place: dropped and added again, with its comment.
_NEW_CHECK = """
ALTER TABLE async_tasks DROP CONSTRAINT async_tasks_progress_range,
    ADD CONSTRAINT async_tasks_progress_range CHECK (progress >= 0 AND progress <= 99);
COMMENT ON CONSTRAINT async_tasks_progress_range ON async_tasks
    IS 'progress is a percentage between 0 and 100.';
"""

HAND_CHANGES = {
    "add a column": (
        "ALTER TABLE novels ADD COLUMN subtitle text",
        "column public.novels.subtitle: extra",
    ),
    "drop an index": (
        "DROP INDEX uq_genesis_sessions_novel_in_progress",
        "index public.uq_genesis_sessions_novel_in_progress: missing",
    ),
    "change a default": (
        "ALTER TABLE async_tasks ALTER COLUMN progress SET DEFAULT 5",
        "column public.async_tasks.progress: default 0 -> 5",
    ),
    "add an enum label": (
        "ALTER TYPE task_status ADD VALUE 'WAITING'",
        "enum public.task_status: extra label 'WAITING'",
    ),
    "replace a view's definition": (_NEW_VIEW, "view public.v_outbox_backlog: definition differs"),
    "change a function body": (_NEW_BODY, "function public.trigger_set_timestamp(): body differs"),
    "disable a trigger": (
        "ALTER TABLE novels DISABLE TRIGGER novels_set_updated_at",
        "trigger public.novels.novels_set_updated_at: state enabled -> disabled",
    ),
    "add a policy": (
        "CREATE POLICY novels_mine ON novels USING (true)",
        "policy public.novels.novels_mine: extra",
    ),
    "change a CHECK": (
        _NEW_CHECK,
        "constraint public.async_tasks.async_tasks_progress_range: definition differs: "
        "CHECK (progress >= 0::numeric AND progress <= 100::numeric) -> "
        "CHECK (progress >= 0::numeric AND progress <= 99::numeric)",
    ),
}


def shadows(pg) -> list[str]:
    rows = query(pg.dsn(), "select datname from pg_database where datname like 'sqlmig_shadow_%'")
    return [str(name) for (name,) in rows]


def execute(dsn: str, text: str) -> None:
    with psycopg.connect(dsn, autocommit=True) as conn:
        conn.execute(text)  # type: ignore[arg-type]


def test_an_untouched_database_shows_no_drift(pg, init_dsn):
    report = schemadiff.drift(config.resolve(init_dsn, INIT_DIR))
    assert (report.ok, report.differences, report.unsupported) == (True, [], [])
    assert report.versions == sorted(report.versions) and len(report.versions) == 16
    assert report.shadow == "on the target's server"
    assert shadows(pg) == []


@pytest.mark.parametrize("change", HAND_CHANGES, ids=lambda c: c.replace(" ", "-"))
def test_each_hand_change_is_one_precise_line(pg, init_dsn, change):
    statement, line = HAND_CHANGES[change]
    execute(init_dsn, statement)
    report = schemadiff.drift(config.resolve(init_dsn, INIT_DIR))
    assert [d.line for d in report.differences] == [line]
    assert not report.ok
    assert shadows(pg) == []


def test_the_cli_prints_the_lines_and_exits_1(pg, init_dsn):
    execute(init_dsn, HAND_CHANGES["change a default"][0])
    execute(init_dsn, HAND_CHANGES["add a column"][0])
    result = invoke("--dsn", init_dsn, "--dir", str(INIT_DIR), "drift")
    assert result.exit_code == 1, result.output
    assert result.stdout.splitlines() == [
        "column public.async_tasks.progress: default 0 -> 5",
        "column public.novels.subtitle: extra",
    ]
    assert (
        "drift: 2 difference(s), files -> database (the files: 16 migration file(s), "
        "built on the target's server)." in result.stderr
    )
    assert shadows(pg) == []


def test_the_cli_says_no_drift_and_exits_0(pg, init_dsn):
    result = invoke("--dsn", init_dsn, "--dir", str(INIT_DIR), "drift")
    assert (result.exit_code, result.stdout) == (0, ""), result.output
    assert "no drift: the database matches 16 migration file(s), built on the target's server" in (
        result.stderr
    )


def test_the_cli_speaks_json(pg, init_dsn):
    execute(init_dsn, HAND_CHANGES["change a default"][0])
    result = invoke("--dsn", init_dsn, "--dir", str(INIT_DIR), "drift", "--format", "json")
    assert result.exit_code == 1, result.output
    payload = json.loads(result.stdout)
    assert payload["ok"] is False and payload["unsupported"] == []
    assert payload["differences"] == [
        {
            "kind": "column",
            "name": "public.async_tasks.progress",
            "change": "differs",
            "attribute": "default",
            "expected": "0",
            "actual": "5",
            "line": "column public.async_tasks.progress: default 0 -> 5",
        }
    ]
    assert payload["database"]["source"] == "--dsn" and len(payload["versions"]) == 16
    assert shadows(pg) == []


def test_against_compares_another_database(pg, dsn, init_dsn):
    execute(init_dsn, HAND_CHANGES["disable a trigger"][0])
    # The target (dsn) is empty and has no ledger; --against decides what is compared.
    result = invoke("--dsn", dsn, "--dir", str(INIT_DIR), "drift", "--against", init_dsn)
    assert result.exit_code == 1, result.output
    assert result.stdout.splitlines() == [HAND_CHANGES["disable a trigger"][1]]
    assert "(from --against)" in result.stderr


def test_only_the_applied_versions_unless_all(pg, dsn, mig_dir):
    mig_dir.write("1-a.sql", "create table a (id int);\n")
    mig_dir.write("2-b.sql", "create table b (id int);\n")
    settings = config.resolve(dsn, mig_dir.path)
    from sqlmig import migrations

    migrations.apply(settings, target=1)
    assert schemadiff.drift(settings).ok
    report = schemadiff.drift(settings, all_files=True)
    assert [d.line for d in report.differences] == ["table public.b: missing"]
    assert report.versions == [1, 2]


def test_the_target_is_only_read(pg, init_dsn):
    def fingerprint() -> list[tuple[object, ...]]:
        return query(
            init_dsn,
            "select relname, relkind, relfilenode from pg_class "
            "where relnamespace = 'public'::regnamespace order by relname",
        ) + query(init_dsn, "select version, checksum from schema_migrations order by 1")

    before = fingerprint()
    schemadiff.drift(config.resolve(init_dsn, INIT_DIR), grants=True)
    assert fingerprint() == before


def test_a_file_failing_in_the_shadow_is_reported_as_apply_would(pg, dsn, mig_dir, sqlmig):
    mig_dir.write("1-a.sql", "create table a (id int);\n")
    mig_dir.write("2-b.sql", "create table b (id int);\ncreate tabel c (id int);\n")
    assert sqlmig("apply", "--target", "1").exit_code == 0
    result = sqlmig("drift", "--all")
    assert result.exit_code == 1
    assert "2-b.sql:2:8" in result.stderr and "Traceback" not in result.output
    assert shadows(pg) == []
