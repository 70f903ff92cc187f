"""Model generation and drift checks (the models issue), against a real server.

Golden cases live in tests/models/golden/<case>/: schema.sql, the schema
introspection finds in it (schema.json) and the expected models.py.
Here each schema.sql is introspected on every server and must give exactly
schema.json; test_codegen.py renders schema.json into models.py without a
server. SQLMIG_UPDATE_GOLDENS=1 rewrites schema.json and models.py on purpose.
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
from psycopg.rows import dict_row
from support.db import ROOT, query

from sqlmig.cli import cli
from sqlmig.core import config
from sqlmig.models import api as models_api
from sqlmig.models.introspect import introspect
from sqlmig.models.schema import Schema

GOLDEN = Path(__file__).parent / "golden"


def without_target(stderr: str) -> str:
    """stderr less the `sqlmig: target ...` line every database command prints."""
    return "".join(
        line for line in stderr.splitlines(keepends=True) if not line.startswith("sqlmig: target ")
    )


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
    stored = folder / "schema.json"
    if os.environ.get("SQLMIG_UPDATE_GOLDENS") == "1":
        stored.write_text(models_api.read_schema(settings, views=True).to_json())
        models_api.generate(settings, out, views=True)
    introspected = models_api.read_schema(settings, views=True)
    assert introspected.to_json() == stored.read_text(), "regenerate with SQLMIG_UPDATE_GOLDENS=1"
    assert introspected == Schema.from_json(stored.read_text())
    result = models_api.generate(settings, out, views=True, write=False)
    assert result.text == expected.read_text(), "regenerate with SQLMIG_UPDATE_GOLDENS=1"
    assert not result.changed
    load(expected, f"golden_{case}")  # it imports (and builds) cleanly


FULL_ROW = """
INSERT INTO everything (big, real_num, ratio, code, body, raw, born_on, wakes_at, wakes_at_tz,
    seen_local, duration, legacy_json, addr, net, mac, feelings, matrix, words, how_many, short,
    tags, "class", "model_config", "Weird Name", "datetime", span, "_private", cash, bits,
    var_bits, mac8, search, search_query, object_id, single_char, ident, doc_xml, spot, big_span,
    num_span, day_span, time_span, spans, mood_grid, mood_domain, positives, uids, stamps, days,
    durations, docs, addrs, blobs, amounts, home, homes, parcel, parcels, checked, config_row)
VALUES (1, 2.5, 'NaN', 'ab', 'b', '\\x00ff', '2026-01-02', '10:11', '10:11+02',
    '2026-01-02 03:04', '1 day 2 hours', '{"a": [1]}', '10.0.0.1/24', '10.0.0.0/8',
    '08:00:2b:01:02:03', '{happy,"in progress"}', '{{1,2},{3,4}}', '{x,y}', 5, 'code',
    '{t1,t2}', 'c', 'm', 9, '2026-05-06', '[1,5)', 'p', 12.34, B'101',
    B'10', '08:00:2b:01:02:03:04:05', 'a fat cat', 'fat & cat', 42, 'x', 'ident', %(xml)s,
    '(1,2)', '[1,9)', '[1.5,2)', '[2026-01-01,2026-02-01)', '[2026-01-01 00:00Z,2026-02-01 00:00Z)',
    '{[1,2),[5,6)}', '{{happy,class},{1st,"in progress"}}', '{1st}', '{1,2}',
    '{00000000-0000-0000-0000-000000000001}', '{"2026-01-02 03:04:05+00"}', '{2026-01-02}',
    '{"1 hour","-3 days"}', ARRAY['{"k": [true, null]}'::jsonb, 'null'], '{10.0.0.1,::1/64}',
    ARRAY['\\x00'::bytea, ''], '{1.50,-2}',
    ROW('Main St 1', '1234', 'happy', 'c', '{l1,"l 2"}'),
    ARRAY[ROW('A', NULL, '1st', NULL, '{}')::address, ROW(NULL, NULL, NULL, NULL, NULL)::address],
    ROW(ROW('Dest', 'z', 'class', NULL, NULL)::address,
        ARRAY[ROW('Stop', 'y', NULL, 'x', '{s}')::address], 1.5, '{happy}'),
    ARRAY[ROW(NULL, '{}', NULL, '{}')::shipment, ROW(NULL, NULL, 2, NULL)::shipment],
    ROW('Checked', '9', NULL, NULL, NULL), ROW('k', '{"x": 1}'))
"""

# Every nullable column NULL; then edge values psycopg loads in other ways.
EDGE_ROWS = """
INSERT INTO everything (short) VALUES ('min');
INSERT INTO everything (ratio, doc, doc_list, legacy_json, addr, net, feelings, matrix, words,
    tags, duration, raw, mood_grid, homes, parcels, docs, blobs, short, body, cash)
VALUES ('-Infinity', 'null', '"text"', '[]', '::1', '2001:db8::/32', '{}', '{}', '{}', '{}',
    '-1 year -2 mons +3 days -04:05:06.7', '', '{}', '{}', '{}', '{}', '{}', 'ünï', '', -1);
"""

# Without register(conn), psycopg returns these as PostgreSQL text, which the models reject:
# arrays of enums (a domain over one too), arrays of a domain, composites and arrays of them.
NEEDS_REGISTER = {
    "feelings", "mood_grid", "mood_domain", "positives", "home", "homes", "parcel", "parcels",
    "checked",
}  # fmt: skip


def test_golden_module_validates_every_type_psycopg_returns(dsn):
    """Real rows of every type, read back the way an application does, validate."""
    from psycopg.rows import class_row
    from psycopg.types.multirange import Multirange
    from psycopg.types.range import Range
    from pydantic import ValidationError

    execute(dsn, (GOLDEN / "all_types" / "schema.sql").read_text())
    with psycopg.connect(dsn, autocommit=True) as conn:
        try:
            conn.execute("SELECT '<a/>'::xml")
            xml = "<a>x</a>"
        except psycopg.errors.FeatureNotSupported:  # a server built without libxml
            xml = None
        conn.execute(FULL_ROW.encode(), {"xml": xml})
        conn.execute(EDGE_ROWS.encode())
        conn.execute("""INSERT INTO model_config VALUES ('k', '{"deep": {"x": null}}')""")
        conn.execute("INSERT INTO events VALUES (1, '2026-03-01')")
    models = load(GOLDEN / "all_types" / "models.py", "golden_rows")
    assert "psycopg" not in vars(models)  # importing the models does not import the driver

    select = "SELECT * FROM everything ORDER BY id"
    with psycopg.connect(dsn, row_factory=dict_row) as conn:  # default adapters
        rejected = set()
        for record in conn.execute(select).fetchall():
            try:
                models.Everything.model_validate(record)
            except ValidationError as exc:
                rejected |= {error["loc"][0] for error in exc.errors()}
        assert rejected == NEEDS_REGISTER
        # Every other column validates as psycopg returns it, unregistered.
        for record in conn.execute(select).fetchall():
            plain = {k: v for k, v in record.items() if k not in NEEDS_REGISTER}
            models.Everything.model_validate(plain)

    with psycopg.connect(dsn, row_factory=dict_row) as conn:
        models.register(conn)
        records = conn.execute(select).fetchall()
        full, minimal, edge = (models.Everything.model_validate(r) for r in records)
        assert isinstance(records[0]["home"], models.Address)  # psycopg builds the models
        typed = conn.cursor(row_factory=class_row(models.Everything)).execute(select).fetchall()
        assert [repr(m) for m in typed] == [repr(m) for m in (full, minimal, edge)]  # NaN != NaN
        for table, model in (("model_config", models.ModelConfig), ("events", models.Event)):
            for record in conn.execute(f"SELECT * FROM {table}").fetchall():
                model.model_validate(record)

    Mood, Address = models.Mood, models.Address
    assert full.feelings == [Mood.HAPPY, Mood.IN_PROGRESS]
    assert full.mood_grid == [[Mood.HAPPY, Mood.CLASS], [Mood.V_1ST, Mood.IN_PROGRESS]]
    assert full.mood_domain == [Mood.V_1ST] and full.positives == [1, 2]
    assert full.home == Address(
        street="Main St 1", zip="1234", mood=Mood.HAPPY, class_="c", lines=["l1", "l 2"]
    )
    assert full.homes == [Address(street="A", mood=Mood.V_1ST, lines=[]), Address()]
    assert full.parcel is not None and full.parcel.dest == Address(
        street="Dest", zip="z", mood=Mood.CLASS
    )
    assert full.parcel.stops == [Address(street="Stop", zip="y", class_="x", lines=["s"])]
    assert full.parcel.weight == Decimal("1.500") and full.parcel.moods == [Mood.HAPPY]
    assert [p.weight for p in full.parcels or []] == [None, Decimal("2.000")]
    assert full.checked == Address(street="Checked", zip="9")
    assert full.matrix == [[1, 2], [3, 4]] and full.class_ == "c"
    assert full.ratio is not None and full.ratio.is_nan() and full.amounts == [Decimal("1.50"), -2]
    assert full.model_dump(by_alias=True)["Weird Name"] == 9
    assert full.total == Decimal("0.00") and str(full.addr) == "10.0.0.1/24"
    assert [str(a) for a in full.addrs or []] == ["10.0.0.1/32", "::1/64"]
    assert full.span == Range(1, 5) and isinstance(full.spans, Multirange)
    assert full.cash and "12.34" in full.cash and full.bits == "101" and full.code == "ab "
    assert full.doc_xml == xml and full.config_row == '(k,"{""x"": 1}")'
    assert full.wakes_at_tz is not None and full.wakes_at_tz.utcoffset() is not None
    assert full.docs == [{"k": [True, None]}, None] and full.blobs == [b"\x00", b""]
    assert minimal.feeling is Mood.IN_PROGRESS and minimal.doc == {} and minimal.home is None
    assert edge.doc is None and edge.doc_list == "text" and edge.ratio == Decimal("-Infinity")
    assert edge.homes == [] and edge.body == "" and edge.short == "ünï"

    defaults = models.Everything(id=1, uid=full.uid, seen_at=full.seen_at, short="x")
    assert (defaults.small, defaults.price, defaults.name) == (7, Decimal("0.00"), "unnamed")
    assert defaults.doc_list == [] and defaults.feelings == []


def test_bundled_models_register_their_enums(init_dsn):
    from shared_types import models_db

    with psycopg.connect(init_dsn) as conn:
        models_db.register(conn)
        (value,) = conn.execute("SELECT ARRAY['PENDING', 'FAILED']::task_status[]").fetchone()
    assert value == [models_db.TaskStatus.PENDING, models_db.TaskStatus.FAILED]


def test_register_names_a_type_the_database_lacks(dsn, tmp_path):
    execute(dsn, "CREATE TYPE colour AS ENUM ('red'); CREATE TYPE pair AS (a int, b colour);")
    out = tmp_path / "m.py"
    assert run(dsn, "models", "generate", "--out", str(out), cwd=tmp_path).exit_code == 0
    module = load(out, "register_missing")
    execute(dsn, "DROP TYPE pair")
    with (
        psycopg.connect(dsn) as conn,
        pytest.raises(LookupError, match=r"composite type public\.pair"),
    ):
        module.register(conn)


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


def test_golden_modules_are_ruff_clean_and_formatted():
    files = sorted(str(p / "models.py") for p in GOLDEN.iterdir())
    for command in (["check", "--no-cache"], ["format", "--check", "--no-cache"]):
        result = subprocess.run(
            [sys.executable, "-m", "ruff", *command, *files],
            capture_output=True,
            text=True,
            cwd=ROOT,
        )
        assert result.returncode == 0, result.stdout + result.stderr


def test_committed_product_models_match_a_fresh_generation(init_dsn):
    """The drift check for sqlmig's own shared_types (regenerate: scripts/generate_models.py)."""
    settings = config.resolve(init_dsn, cwd=ROOT)
    assert settings.models_out == "shared_types/models_db.py"
    result = models_api.generate(settings, Path(settings.models_out), write=False)
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


@pytest.mark.parametrize(
    ("change", "line"),
    [
        (
            "ALTER TYPE address ADD ATTRIBUTE note text",
            "public.address.note: expected field str | None, found no field in Address",
        ),
        (
            "ALTER TYPE tag ALTER ATTRIBUTE code TYPE varchar(12)",
            "public.tag.code: expected str(max_length=12), found str(max_length=10)",
        ),
        (
            "DROP TYPE tag",
            "model Tag: expected composite type public.tag in public, found no such type",
        ),
        (
            "CREATE TYPE pair AS (a int)",
            "composite type public.pair: expected model class Pair, found no model",
        ),
    ],
)
def test_check_compares_composite_types(dsn, tmp_path, change, line):
    execute(
        dsn,
        "CREATE TYPE address AS (street text, zip varchar(10));"
        "CREATE TYPE tag AS (code varchar(10));"  # used by no table: generated all the same
        "CREATE TABLE sites (id int PRIMARY KEY, homes address[]);",
    )
    out = tmp_path / "m.py"
    assert run(dsn, "models", "generate", "--out", str(out), cwd=tmp_path).exit_code == 0
    assert "homes: list[Address] | None = None" in out.read_text()
    assert run(dsn, "models", "check", "--module", str(out), cwd=tmp_path).exit_code == 0
    execute(dsn, change)
    result = run(dsn, "models", "check", "--module", str(out), cwd=tmp_path)
    assert result.exit_code == 1
    assert result.stdout.splitlines() == [line, f"{out}: 1 difference(s) from the schema."]


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
    assert bad.exit_code == 2
    assert without_target(bad.stderr) == (
        "Error: no such table in schema(s) public: nope "
        "(views and materialized views need --views).\n"
    )


def test_unknown_schema_is_an_error_listing_the_schemas(dsn, tmp_path):
    execute(dsn, BASE + "CREATE SCHEMA app; CREATE SCHEMA billing;")
    out = tmp_path / "m.py"
    result = run(dsn, "models", "generate", "--out", str(out), "--schema", "nope", cwd=tmp_path)
    assert result.exit_code == 2
    assert without_target(result.stderr) == (
        "Error: no such schema: nope. The database has: app, billing, public; "
        "choose with --schema NAME.\n"
    )
    assert not out.exists()
    check = run(dsn, "models", "check", "--module", "x.py", "--schema", "nope", cwd=tmp_path)
    assert check.exit_code == 2 and "x.py" in check.stderr  # the module is looked at first
    (tmp_path / "x.py").write_text("")
    check = run(dsn, "models", "check", "--module", "x.py", "--schema", "nope", cwd=tmp_path)
    assert check.exit_code == 2 and "no such schema: nope." in check.stderr


def test_out_in_a_missing_folder_is_an_error_naming_it(dsn, tmp_path):
    execute(dsn, BASE)
    result = run(dsn, "models", "generate", "--out", "gen/models/m.py", cwd=tmp_path)
    assert result.exit_code == 2
    assert result.stderr == (
        "Error: the folder of gen/models/m.py does not exist: gen/models. "
        "Create it first (mkdir -p gen/models) or choose another --out.\n"
    )
    assert not (tmp_path / "gen").exists()
    check = run(dsn, "models", "generate", "--out", "gen/m.py", "--check", cwd=tmp_path)
    assert check.exit_code == 2 and "does not exist: gen." in check.stderr


@pytest.mark.parametrize(
    ("files", "module", "message"),
    [
        (
            {"m.py": "x = (\n"},
            "m.py",
            "SyntaxError: '(' was never closed (m.py:1)",
        ),
        (
            {"m.py": "import os\n\nvalue = undefined_name\n"},
            "m.py",
            "NameError: name 'undefined_name' is not defined (m.py:3)",
        ),
        (
            {"pkg/__init__.py": "", "pkg/m.py": "import not_installed_dependency\n"},
            "pkg.m",
            "ModuleNotFoundError: No module named 'not_installed_dependency' (pkg/m.py:1)",
        ),
        (
            {"m.py": "import helper\n", "helper.py": "\n\nraise RuntimeError('boom')\n"},
            "m",
            "RuntimeError: boom (helper.py:3)",
        ),
        ({"m.py": "import sys\nsys.exit(4)\n"}, "m.py", "SystemExit: 4 (m.py:2)"),
        ({}, "no_such_models", "ModuleNotFoundError: No module named 'no_such_models'"),
    ],
)
def test_a_module_that_cannot_be_imported_is_an_error_not_a_traceback(
    dsn, tmp_path, files, module, message
):
    execute(dsn, BASE)
    for name, text in files.items():
        (tmp_path / name).parent.mkdir(exist_ok=True)
        (tmp_path / name).write_text(text)
    # A subprocess: a fresh interpreter, whatever earlier tests imported.
    result = subprocess.run(
        [sys.executable, "-m", "sqlmig", "--dsn", dsn, "models", "check", "--module", module],
        capture_output=True,
        text=True,
        cwd=tmp_path,
    )
    assert result.returncode == 2, result.stderr
    assert result.stderr == f"Error: cannot import models module {module}: {message}\n"
    assert result.stdout == ""


def test_a_missing_module_file_is_an_error(dsn, tmp_path):
    result = run(dsn, "models", "check", "--module", "gone.py", cwd=tmp_path)
    assert result.exit_code == 2
    assert result.stderr == (
        f"Error: cannot import models module gone.py: no such file: {tmp_path / 'gone.py'}\n"
    )


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
    from sqlmig.models.schema import Schema

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
    ups = [
        p for p in (ROOT / "sql" / "init").glob("[0-9]*.sql") if not p.name.endswith(".down.sql")
    ]
    assert versions == list(range(len(ups)))
    assert pg_major in (15, 16, 17, 18)
