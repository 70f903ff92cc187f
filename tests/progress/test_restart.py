"""The database restarts mid-stream: the hub reconnects, clients get every row exactly once.

Uses a private PostgreSQL 18 (never the session's shared server), restarted
with pg_ctl: ``immediate`` is the crash path (backends killed, no checkpoint,
recovery at start), ``fast`` the orderly one.
"""

from __future__ import annotations

from collections.abc import Iterator

import pytest
from support import servers
from support.db import INIT_DIR
from support.progress import SSE, connect, progress_server, stream_path, wait_until

from sqlmig import migrations
from sqlmig.core import config
from sqlmig.progress import ProgressReporter

pytestmark = pytest.mark.slow


@pytest.fixture
def private_pg() -> Iterator[servers.Server]:
    server = servers.start("pg18")
    try:
        migrations.apply(config.resolve(server.dsn("postgres"), INIT_DIR))
        yield server
    finally:
        servers.stop(server)


def seqs(messages):
    return [int(m.id) for m in messages if m.id is not None]


@pytest.mark.parametrize("direct", [True, False], ids=["direct", "threads"])
@pytest.mark.parametrize("mode", ["immediate", "fast"])
def test_restart_mid_stream_every_row_exactly_once(private_pg, mode, direct):
    dsn = private_pg.dsn("postgres")
    with progress_server(dsn, heartbeat_s=0.2, backoff_s=(0.3, 1.0), direct=direct) as srv:
        with connect(dsn) as conn:
            task_id = ProgressReporter.create(conn, "test.restart").task_id
            rep = ProgressReporter(conn, task_id)
            rep.report(10, "before 1")
            rep.report(20, "before 2")
        stays = SSE(srv.port, stream_path(task_id))  # keeps its connection throughout
        leaves = SSE(srv.port, stream_path(task_id))  # gone during the outage, then resumes
        try:
            got_stays = stays.take(2)
            got_leaves = leaves.take(2)
            leaves.close()

            # -l: without a log file the new postmaster keeps pg_ctl's stdout open.
            log = str(private_pg.pgdata / "restart.log")
            private_pg.pg_ctl("-w", "-m", mode, "-l", log, "restart")

            # Written at once: usually before the hub has LISTENed again, so these
            # rows' notifications reach nobody and only the re-sync can find them.
            with connect(dsn) as conn:
                rep = ProgressReporter(conn, task_id)
                rep.report(30, "after 1")
                rep.report(40, "after 2")
            wait_until(
                lambda: srv.hub.connected and srv.hub.reconnects >= 1, "the listener to reconnect"
            )
            with connect(dsn) as conn:
                rep = ProgressReporter(conn, task_id)
                rep.report(50, "after 3")
                rep.complete(message="done")
            got_stays += stays.until_end()
            with SSE(srv.port, stream_path(task_id), {"Last-Event-ID": got_leaves[-1].id}) as again:
                got_leaves += again.until_end()
        finally:
            stays.close()
            leaves.close()
    expected = [1, 2, 3, 4, 5, 6]
    assert seqs(got_stays) == expected
    assert seqs(got_leaves) == expected
    assert [m.json()["message"] for m in got_stays] == [
        "before 1",
        "before 2",
        "after 1",
        "after 2",
        "after 3",
        "done",
    ]
    assert got_stays[-1].event == "completed"
