"""Fixture: ``password_user``, a scram role on the test server (see support/secrets.py)."""

from __future__ import annotations

import psycopg
import pytest
from psycopg import sql
from support.secrets import SECRET, USER


@pytest.fixture(scope="session")
def password_user(pg):
    """A role that must log in with a password (scram), on the test server."""
    if pg.pgdata is None:
        pytest.skip("needs a server whose pg_hba.conf this run controls")
    with psycopg.connect(pg.dsn(), autocommit=True) as conn:
        if not conn.execute("select 1 from pg_roles where rolname = %s", (USER,)).fetchone():
            conn.execute(
                sql.SQL("create role {} login superuser password {}").format(
                    sql.Identifier(USER), sql.Literal(SECRET)
                )
            )
        hba = pg.pgdata / "pg_hba.conf"
        rule = f"local all {USER} scram-sha-256\n"
        text = hba.read_text()
        if rule not in text:
            hba.write_text(rule + text)
            conn.execute("select pg_reload_conf()")
    return pg
