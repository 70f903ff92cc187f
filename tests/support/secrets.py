"""A role that logs in with a password, for the tests that hunt for leaked secrets."""

from __future__ import annotations

SECRET = "S3cr3t-Pa55word"
USER = "sqlmig_pw"


def url(pg, password, dbname):
    host = pg.params["host"]
    return f"postgresql://{USER}:{password}@/{dbname}?host={host}&port={pg.params['port']}"
