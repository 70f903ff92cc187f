"""The shadow database on a server of another major (--shadow-dsn) than the target:
the same schema shows no drift, and a hand change is still one line."""

from __future__ import annotations

from collections.abc import Iterator

import psycopg
import pytest
from support import servers
from support.db import INIT_DIR

from sqlmig import schemadiff
from sqlmig.core import config

pytestmark = pytest.mark.slow


@pytest.fixture(scope="module")
def other_major(pg) -> Iterator[servers.Server]:
    names = [n for n in servers.available() if n not in (pg.name, "external")]
    if not names:
        pytest.skip("needs a second server of another major (pg18 and pg15)")
    server = servers.start(names[0])
    try:
        yield server
    finally:
        servers.stop(server)


def test_another_major_shows_no_drift_and_one_line_per_change(pg, init_dsn, other_major):
    settings = config.resolve(init_dsn, INIT_DIR)
    report = schemadiff.drift(settings, shadow_dsn=other_major.dsn(), grants=True)
    assert report.expected_major != report.actual_major
    assert (report.shadow, report.differences) == ("on --shadow-dsn's server", [])
    with psycopg.connect(init_dsn, autocommit=True) as conn:
        conn.execute(
            "CREATE OR REPLACE VIEW v_async_task_stats AS "
            "SELECT t.task_type::varchar(255) AS task_type, t.status, count(*)::bigint AS task_count,"
            " round(avg(t.progress), 2)::numeric(5, 2) AS avg_progress,"
            " min(t.created_at)::timestamptz AS oldest_created_at,"
            " max(t.updated_at)::timestamptz AS last_updated_at,"
            " avg(EXTRACT(EPOCH FROM (t.completed_at - t.created_at)))::double precision"
            " AS avg_duration_seconds FROM async_tasks AS t GROUP BY t.task_type, t.status"
        )
    report = schemadiff.drift(settings, shadow_dsn=other_major.dsn())
    assert [d.line for d in report.differences] == [
        "view public.v_async_task_stats: definition differs"
    ]
    with psycopg.connect(other_major.dsn()) as conn:
        left = conn.execute("select datname from pg_database where datname like 'sqlmig_shadow_%'")
        assert left.fetchall() == []
