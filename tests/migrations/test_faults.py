"""The fault catalogue: one folder per way a migration run can go wrong (issue 8).

    tests/migrations/faults/<case>/migrations/    the files, as a user would have them
    tests/migrations/faults/<case>/case.json      exit_code; tables and ledger afterwards;
                                       optional setup SQL ({dbname}), commands
                                       (the last is checked, earlier ones must
                                       pass), checks [[query, text]],
                                       invalid_indexes, stderr_not
    tests/migrations/faults/<case>/stderr.golden  the whole stderr, exactly, after
                                       normalise() (stderr.pg<N>.golden when a
                                       server major version words it differently)

Every case runs on every test server, and what the message claims is checked
against the database: the public tables (a schema dump in small), the ledger
rows, and the INVALID indexes. SQLMIG_UPDATE_GOLDENS=1 rewrites the goldens on
purpose (review the diff: a golden is the message a user reads).
"""

from __future__ import annotations

import json
import os
import re
import shutil
from pathlib import Path

import psycopg
import pytest
from click.testing import CliRunner
from support.db import query

from sqlmig.cli import cli

FAULTS = Path(__file__).parent / "faults"
CASES = sorted(p.name for p in FAULTS.iterdir() if (p / "case.json").is_file())

# What varies between runs, in the order replaced; everything else is compared byte for byte.
_TIMING = re.compile(r"\b\d+(?:\.\d+)? ?ms\b")
_PID = re.compile(r"\b(?P<word>pid|PID|process) \d+\b")
_DATE = re.compile(
    r"\b\d{4}-\d{2}-\d{2}[ T]\d{2}:\d{2}:\d{2}(?:\.\d+)?(?:[+-]\d{2}(?::?\d{2})?|Z)?"
)


def normalise(stderr: str, *, dbname: str, host: str, port: str, tmp: Path) -> str:
    """Replace only what differs between runs and servers: the fresh database's name,
    the server's socket folder and port, the test's temp folder, timings, PIDs, dates."""
    text = stderr.replace(str(tmp), "<tmp>").replace(dbname, "<db>")
    if host:
        text = text.replace(host, "<host>")
    if port:  # only where it names the port: "file.sql:5432:1" is a line number
        text = re.sub(rf"(?<=port=){port}\b|(?<=<host>:){port}\b", "<port>", text)
    text = _TIMING.sub("<n> ms", text)
    text = _PID.sub(lambda m: f"{m['word']} <pid>", text)
    return _DATE.sub("<date>", text)


def golden_path(folder: Path, major: int) -> Path:
    """The case's golden for this server: a per-version file wins when it exists."""
    per_version = folder / f"stderr.pg{major}.golden"
    return per_version if per_version.is_file() else folder / "stderr.golden"


def public_tables(dsn: str) -> list[str]:
    rows = query(
        dsn,
        "select tablename from pg_tables where schemaname = 'public'"
        " and tablename not in ('schema_migrations', 'schema_migrations_history') order by 1",
    )
    return [str(r[0]) for r in rows]


def ledger_rows(dsn: str) -> list[list[object]] | None:
    if query(dsn, "select to_regclass('public.schema_migrations')") == [(None,)]:
        return None
    return [
        list(r) for r in query(dsn, "select version, success from schema_migrations order by 1")
    ]


def invalid_indexes(dsn: str) -> list[str]:
    rows = query(
        dsn, "select indexrelid::regclass::text from pg_index where not indisvalid order by 1"
    )
    return [str(r[0]) for r in rows]


@pytest.mark.parametrize("case", CASES)
def test_fault(case: str, dsn: str, pg_major: int, tmp_path: Path) -> None:
    folder = FAULTS / case
    spec = json.loads((folder / "case.json").read_text())
    migrations = tmp_path / "migrations"
    shutil.copytree(folder / "migrations", migrations)
    params = psycopg.conninfo.conninfo_to_dict(dsn)
    dbname = str(params["dbname"])
    with psycopg.connect(dsn, autocommit=True) as conn:
        for statement in spec.get("setup", []):
            conn.execute(statement.format(dbname=dbname))

    commands = spec.get("commands", [["apply"]])
    runner = CliRunner()
    for args in commands[:-1]:
        before = runner.invoke(cli, ["--dsn", dsn, "--dir", str(migrations), *args])
        assert before.exit_code == 0, before.output
    result = runner.invoke(cli, ["--dsn", dsn, "--dir", str(migrations), *commands[-1]])
    stderr = result.stderr

    assert result.exception is None or isinstance(result.exception, SystemExit), stderr
    assert "Traceback" not in stderr
    assert result.exit_code == spec["exit_code"], stderr
    actual = normalise(
        stderr,
        dbname=dbname,
        host=str(params.get("host", "")),
        port=str(params.get("port", "")),
        tmp=tmp_path,
    )
    golden = golden_path(folder, pg_major)
    if os.environ.get("SQLMIG_UPDATE_GOLDENS") == "1":
        # Atomically: the case's other server may be reading it in another xdist worker.
        fresh = golden.with_name(f".{golden.name}.{os.getpid()}")
        fresh.write_bytes(actual.encode())
        fresh.replace(golden)
    assert actual == golden.read_bytes().decode(), (
        f"stderr differs from {golden.relative_to(FAULTS)} (rewrite with"
        f" SQLMIG_UPDATE_GOLDENS=1 and review the diff)\n--- stderr (normalised):\n{actual}"
    )
    for text in spec.get("stderr_not", []):
        assert text not in stderr

    # The message's claims, against the database.
    assert public_tables(dsn) == spec["tables"]
    assert ledger_rows(dsn) == spec["ledger"]
    assert invalid_indexes(dsn) == spec.get("invalid_indexes", [])
    for sql_text, expected in spec.get("checks", []):
        assert [str(v) for (v,) in query(dsn, sql_text)] == [expected], sql_text
    # "<file> was rolled back: nothing of it was applied" must mean: no ledger row.
    if commands[-1][0] == "apply":
        versions = {row[0] for row in ledger_rows(dsn) or []}
        for name in re.findall(r"(\S+)\.sql was rolled back: nothing of it was applied", stderr):
            assert int(name.split("-", 1)[0]) not in versions


def test_every_case_has_a_golden() -> None:
    for case in CASES:
        assert (FAULTS / case / "stderr.golden").is_file(), case
        assert not (FAULTS / case / "stderr.txt").exists(), f"{case}: stderr.txt is replaced"
    assert len(CASES) >= 20


def test_normalise_replaces_only_what_varies(tmp_path: Path) -> None:
    raw = (
        f"{tmp_path}/migrations/2-b.sql:3:8: ERROR 42601 in t_0123456789ab on /tmp/s:5433"
        " after 12 ms (pid 4711, at 2026-01-02 03:04:05.123+00)\n1-a.sql:5433:1 port=5433\n"
    )
    assert normalise(raw, dbname="t_0123456789ab", host="/tmp/s", port="5433", tmp=tmp_path) == (
        "<tmp>/migrations/2-b.sql:3:8: ERROR 42601 in <db> on <host>:<port>"
        " after <n> ms (pid <pid>, at <date>)\n1-a.sql:5433:1 port=<port>\n"
    )
