"""The truth after a connection broke mid-file: reconnect, look, and say what stuck.

A broken connection leaves a file committed, rolled back, still running in its
old session, or (without a transaction) partly applied; the message names
which, from what the database shows, and what to run next.
"""

from __future__ import annotations

from sqlmig.core import connections
from sqlmig.core.config import Settings
from sqlmig.core.errors import ConnectionLost, SqlmigError
from sqlmig.migrations import ledger
from sqlmig.migrations.files import Script


def explain(settings: Settings, script: Script, lost: ConnectionLost) -> ConnectionLost:
    """Reconnect and say what the database shows after the connection broke mid-file."""
    name = script.filename
    try:
        with connections.connect(settings, wait_s=_RECONNECT_S) as conn:
            row = conn.execute(
                "SELECT state FROM pg_catalog.pg_stat_activity WHERE pid = %s",
                (lost.backend_pid,),
            ).fetchone()
            rows = ledger.read(conn, settings.ledger)
            ledger_row = next((r for r in rows if r.version == script.version), None)
    except SqlmigError:
        truth = (
            f"sqlmig could not reconnect to check what stuck. Once the server is back, "
            f"`sqlmig status` shows it: {name} commits together with its ledger row."
        )
        return _lost_error(lost, truth)
    if row is not None:
        truth = (
            f"The server is still running {name} in session {lost.backend_pid}: whether it "
            f"commits is not known yet. Wait for it (or end it: SELECT "
            f"pg_terminate_backend({lost.backend_pid})), then run `sqlmig status`."
        )
    elif lost.verb == "rollback":
        undone = ledger_row is None
        if lost.transactional:
            truth = (
                f"{name} committed before the connection broke: its down file ran and its "
                "ledger row is gone."
                if undone
                else f"The server rolled {name}'s down file back: the migration is still applied."
            )
        else:
            truth = (
                f"{name}'s down file runs without a transaction: what ran before the break "
                "stays. Check the database, then `sqlmig status`."
            )
        truth += " Run `sqlmig rollback` again to go on."
    elif ledger_row is not None and ledger_row.success:
        truth = (
            f"{name} committed before the connection broke: the ledger shows it applied. "
            "Later files did not run: run `sqlmig apply` again."
        )
    elif lost.transactional:
        truth = (
            f"The server rolled {name} back: nothing of it was applied (the ledger has no row "
            "for it and its session is gone). Run `sqlmig apply` again."
        )
    else:
        truth = (
            f"{name} runs without a transaction: the statements before this one stay applied, "
            "this one may or may not have completed, and the ledger marks the file failed "
            "(its row was committed before it ran). Check the database by hand, then run "
            "`sqlmig repair` and `sqlmig apply`."
        )
    return _lost_error(lost, truth)


#: How long to keep trying to reconnect after a connection broke mid-file.
_RECONNECT_S = 10.0


def _lost_error(lost: ConnectionLost, truth: str) -> ConnectionLost:
    return ConnectionLost(
        f"{lost}\n{truth}",
        path=lost.path,
        backend_pid=lost.backend_pid,
        transactional=lost.transactional,
        verb=lost.verb,
    )
