"""The fault catalogue: one folder per way a migration run can go wrong (issue 8).

    tests/migrations/faults/<case>/migrations/   the files, as a user would have them
    tests/migrations/faults/<case>/case.json     exit_code; tables and ledger afterwards;
                                      optional setup SQL ({dbname}), commands
                                      (the last is checked, earlier ones must
                                      pass), checks [[query, text]],
                                      invalid_indexes, stderr_not
    tests/migrations/faults/<case>/stderr.txt    lines that must each appear in stderr

Every case runs on every test server, and what the message claims is checked
against the database: the public tables (a schema dump in small), the ledger
rows, and the INVALID indexes.
"""

from __future__ import annotations

import json
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


def public_tables(dsn: str) -> list[str]:
    rows = query(
        dsn,
        "select tablename from pg_tables where schemaname = 'public'"
        " and tablename <> 'schema_migrations' order by 1",
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
def test_fault(case: str, dsn: str, tmp_path: Path) -> None:
    folder = FAULTS / case
    spec = json.loads((folder / "case.json").read_text())
    migrations = tmp_path / "migrations"
    shutil.copytree(folder / "migrations", migrations)
    dbname = psycopg.conninfo.conninfo_to_dict(dsn)["dbname"]
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
    for line in (folder / "stderr.txt").read_text().splitlines():
        assert line in stderr, f"missing from stderr: {line!r}\n--- stderr:\n{stderr}"
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


def test_every_case_has_a_message_file() -> None:
    for case in CASES:
        assert (FAULTS / case / "stderr.txt").is_file(), case
    assert len(CASES) >= 20
