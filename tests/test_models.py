"""Model generation and drift checks (the models issue), against a real server.

Golden cases live in tests/golden/<case>/: schema.sql and the expected
models.py. SQLMIG_UPDATE_GOLDENS=1 rewrites the expected files on purpose.
"""

from __future__ import annotations

import importlib.util
import json
import os
import subprocess
import sys
from decimal import Decimal
from pathlib import Path

import psycopg
import pytest
from click.testing import CliRunner
from conftest import ROOT, query
from psycopg.rows import dict_row
from psycopg.types.enum import EnumInfo, register_enum

from sqlmig import config, modelsync
from sqlmig.cli import cli
from sqlmig.introspect import introspect

GOLDEN = Path(__file__).parent / "golden"


def load(path: Path, name: str):  # type: ignore[no-untyped-def]
    spec = importlib.util.spec_from_file_location(name, path)
    assert spec and spec.loader
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


def execute(dsn: str, text: str) -> None:
    with psycopg.connect(dsn, autocommit=True) as conn:
        conn.execute(text.encode())


@pytest.mark.parametrize("case", sorted(p.name for p in GOLDEN.iterdir()))
def test_golden(dsn, case):
    folder = GOLDEN / case
    execute(dsn, (folder / "schema.sql").read_text())
    expected = folder / "models.py"
    settings = config.resolve(dsn, cwd=ROOT)
    out = expected.relative_to(ROOT)
    if os.environ.get("SQLMIG_UPDATE_GOLDENS") == "1":
        modelsync.generate(settings, out, views=True)
    result = modelsync.generate(settings, out, views=True, write=False)
    assert result.text == expected.read_text(), "regenerate with SQLMIG_UPDATE_GOLDENS=1"
    assert not result.changed
    load(expected, f"golden_{case}")  # it imports (and builds) cleanly


def test_golden_module_validates_real_rows(dsn):
    execute(dsn, (GOLDEN / "all_types" / "schema.sql").read_text())
    execute(
        dsn,
        """
        INSERT INTO everything (big, real_num, ratio, code, body, raw, born_on, wakes_at,
            wakes_at_tz, seen_local, duration, legacy_json, addr, net, mac, feelings, matrix,
            words, how_many, short, tags, "class", "model_config", "Weird Name", "datetime",
            span, "_private")
        VALUES (1, 2.5, 3.25, 'abc', 'b', '\\x00ff', '2026-01-02', '10:11', '10:11+02',
            '2026-01-02 03:04', '1 day 2 hours', '{"a": [1]}', '10.0.0.1/24', '10.0.0.0/8',
            '08:00:2b:01:02:03', '{happy,class}', '{{1,2},{3,4}}', '{x,y}', 5, 'code',
            '{t1,t2}', 'c', 'm', 9, '2026-05-06', '[1,5)', 'p');
        INSERT INTO everything (short) VALUES ('min');
        INSERT INTO model_config VALUES ('k', '{"deep": {"x": null}}');
        INSERT INTO events VALUES (1, '2026-03-01');
        """,
    )
    models = load(GOLDEN / "all_types" / "models.py", "golden_rows")
    with psycopg.connect(dsn, row_factory=dict_row) as conn:
        # psycopg loads arrays of a custom enum once the type is registered.
        info = EnumInfo.fetch(conn, "mood")
        register_enum(info, conn, models.Mood, mapping={m: m.value for m in models.Mood})
        full, minimal = conn.execute("SELECT * FROM everything ORDER BY id").fetchall()
        row = models.Everything.model_validate(full)
        assert row.feelings == [models.Mood.HAPPY, models.Mood.CLASS]
        assert row.matrix == [[1, 2], [3, 4]] and row.class_ == "c"
        assert row.model_dump(by_alias=True)["Weird Name"] == 9
        assert row.total == Decimal("0.00") and str(row.addr) == "10.0.0.1/24"
        empty = models.Everything.model_validate(minimal)
        assert empty.feeling is models.Mood.IN_PROGRESS and empty.doc == {}
        defaults = models.Everything(id=1, uid=full["uid"], seen_at=full["seen_at"], short="x")
        assert (defaults.small, defaults.price, defaults.name) == (7, Decimal("0.00"), "unnamed")
        assert defaults.doc_list == [] and defaults.feelings == []
        for table, model in (("model_config", models.ModelConfig), ("events", models.Event)):
            for record in conn.execute(f"SELECT * FROM {table}").fetchall():
                model.model_validate(record)


@pytest.mark.slow
def test_golden_modules_pass_mypy_strict():
    files = sorted(str(p / "models.py") for p in GOLDEN.iterdir())
    result = subprocess.run(
        [sys.executable, "-m", "mypy", "--strict", "--no-incremental", *files],
        capture_output=True,
        text=True,
        cwd=ROOT,
    )
    assert result.returncode == 0, result.stdout + result.stderr


def test_committed_product_models_match_a_fresh_generation(init_dsn):
    """The drift check for sqlmig's own shared_types (regenerate: scripts/generate_models.py)."""
    settings = config.resolve(init_dsn, cwd=ROOT)
    assert settings.models_out == "shared_types/models_db.py"
    result = modelsync.generate(settings, Path(settings.models_out), write=False)
    assert not result.changed, "run: python scripts/generate_models.py"


def run(dsn: str, *args: str, cwd: Path = ROOT):  # type: ignore[no-untyped-def]
    old = Path.cwd()
    os.chdir(cwd)
    try:
        return CliRunner().invoke(cli, ["--dsn", dsn, *args], catch_exceptions=False)
    finally:
        os.chdir(old)


def test_models_check_passes_on_the_bundled_schema(init_dsn):
    result = run(init_dsn, "models", "check")
    assert result.exit_code == 0, result.output
    assert result.stdout.strip() == "shared_types.models_db matches the schema."
    payload = json.loads(run(init_dsn, "--format", "json", "models", "check").stdout)
    assert payload == {"ok": True, "module": "shared_types.models_db", "drift": []}


BASE = """
CREATE TYPE colour AS ENUM ('red', 'green');
CREATE TABLE widgets (
    id      uuid PRIMARY KEY DEFAULT gen_random_uuid(),
    label   varchar(20) NOT NULL,
    colour  colour,
    weight  integer NOT NULL DEFAULT 0
);
"""


@pytest.mark.parametrize(
    ("change", "line"),
    [
        (
            "ALTER TABLE widgets ADD COLUMN note text",
            "public.widgets.note: expected field str | None, found no field in Widget",
        ),
        (
            "ALTER TABLE widgets DROP COLUMN weight",
            "public.widgets.weight: expected no such column, found field Widget.weight",
        ),
        (
            "ALTER TABLE widgets ALTER COLUMN weight TYPE numeric(8,3)",
            "public.widgets.weight: expected Decimal(max_digits=8, decimal_places=3), found int",
        ),
        (
            "ALTER TABLE widgets ALTER COLUMN label TYPE varchar(30)",
            "public.widgets.label: expected str(max_length=30), found str(max_length=20)",
        ),
        (
            "ALTER TABLE widgets ALTER COLUMN colour SET NOT NULL",
            "public.widgets.colour: expected not nullable, found nullable (X | None)",
        ),
        (
            "ALTER TYPE colour ADD VALUE 'blue'",
            "enum public.colour: expected ['red', 'green', 'blue'], found ['red', 'green']",
        ),
        (
            "CREATE TABLE gadgets (id int PRIMARY KEY)",
            "public.gadgets: expected model class Gadget, found no model",
        ),
        (
            "DROP TABLE widgets",
            "model Widget: expected table public.widgets in public, found no such table",
        ),
    ],
)
def test_check_reports_each_kind_of_drift_in_one_line(dsn, tmp_path, change, line):
    execute(dsn, BASE)
    out = tmp_path / "widget_models.py"
    assert run(dsn, "models", "generate", "--out", str(out), cwd=tmp_path).exit_code == 0
    clean = run(dsn, "models", "check", "--module", str(out), cwd=tmp_path)
    assert clean.exit_code == 0, clean.output
    execute(dsn, change)
    result = run(dsn, "models", "check", "--module", str(out), cwd=tmp_path)
    assert result.exit_code == 1
    lines = result.stdout.splitlines()
    assert lines == [line, f"{out}: 1 difference(s) from the schema."]
    payload = json.loads(
        run(dsn, "--format", "json", "models", "check", "--module", str(out), cwd=tmp_path).stdout
    )
    assert payload["ok"] is False and len(payload["drift"]) == 1


def test_generate_check_flag_and_unchanged_file(dsn, tmp_path):
    execute(dsn, BASE)
    out = tmp_path / "m.py"
    assert run(dsn, "models", "generate", "--out", str(out), "--check", cwd=tmp_path).exit_code == 1
    assert not out.exists()
    first = run(dsn, "models", "generate", "--out", str(out), cwd=tmp_path)
    assert first.stdout.startswith(f"wrote {out} (1 enum(s), 1 model(s))")
    again = run(dsn, "models", "generate", "--out", str(out), cwd=tmp_path)
    assert again.stdout.startswith("unchanged:")
    assert run(dsn, "models", "generate", "--out", str(out), "--check", cwd=tmp_path).exit_code == 0


def test_tables_filter_and_unknown_table(dsn, tmp_path):
    execute(dsn, BASE + "CREATE TABLE other (id int);")
    out = tmp_path / "m.py"
    assert (
        run(
            dsn, "models", "generate", "--out", str(out), "--tables", "widgets", cwd=tmp_path
        ).exit_code
        == 0
    )
    assert "class Widget(" in out.read_text() and "class Other(" not in out.read_text()
    bad = run(dsn, "models", "generate", "--out", str(out), "--tables", "nope", cwd=tmp_path)
    assert bad.exit_code == 2 and "no such table in schema(s) public: nope" in bad.stderr


class CountingCursor(psycopg.Cursor):  # type: ignore[type-arg]
    """A real cursor that counts the statements it sends."""

    count = 0

    def execute(self, *args, **kwargs):  # type: ignore[no-untyped-def]
        CountingCursor.count += 1
        return super().execute(*args, **kwargs)


def test_introspection_uses_a_constant_number_of_queries(dsn):
    def count(tables: int) -> int:
        execute(
            dsn,
            "DROP SCHEMA IF EXISTS s CASCADE; CREATE SCHEMA s; CREATE TYPE s.e AS ENUM ('a');"
            + "".join(
                f"CREATE TABLE s.t{i} (id int PRIMARY KEY, e s.e, v varchar(3)[]);"
                for i in range(tables)
            ),
        )
        CountingCursor.count = 0
        with psycopg.connect(dsn, cursor_factory=CountingCursor) as conn:
            schema = introspect(conn, ["s"])
        assert len(schema.tables) == tables
        return CountingCursor.count

    assert count(2) == count(60) == 4


def test_schema_model_round_trips_through_json(init_dsn):
    from sqlmig.schema import Schema

    with psycopg.connect(init_dsn) as conn:
        schema = introspect(conn, views=True)
    assert Schema.model_validate_json(schema.model_dump_json()) == schema
    tasks = next(t for t in schema.tables if t.name == "async_tasks")
    assert tasks.primary_key == ("id",) and tasks.checks and tasks.comment
    progress = next(t for t in schema.tables if t.name == "task_progress")
    assert [fk.ref_table for fk in progress.foreign_keys] == ["async_tasks"]
    assert any(t.is_view for t in schema.tables)
    assert query(init_dsn, "select count(*) from schema_migrations")[0][0] > 0
    assert "schema_migrations" not in {t.name for t in schema.tables}


def test_bundled_schema_applies_and_verifies(init_dsn, pg_major):
    """sql/init 00-13 applied by sqlmig (the template) on this server; verify is clean."""
    result = run(init_dsn, "--dir", "sql/init", "verify", "--strict")
    assert result.exit_code == 0, result.output
    versions = [r[0] for r in query(init_dsn, "select version from schema_migrations order by 1")]
    assert versions == list(range(len(list((ROOT / "sql" / "init").glob("[0-9]*.sql")))))
    assert pg_major in (15, 16, 17, 18)
