"""Code generation from schema models, without a server.

The golden cases render their stored schema.json (what introspection found in
schema.sql; test_generate.py keeps the two in step on every server) into the
expected models.py. The other cases are small Schema objects built here, for
what the golden schema shows only in passing: defaults, names, comments, layout.
"""

from __future__ import annotations

import importlib.util
import json
import subprocess
import sys
import tomllib
import uuid
from decimal import Decimal
from pathlib import Path, PurePosixPath
from types import ModuleType

import pytest

from sqlmig.models.codegen import render
from sqlmig.models.drift import compare
from sqlmig.models.schema import (
    Column,
    ColumnType,
    CompositeType,
    EnumType,
    Schema,
    Table,
)

ROOT = Path(__file__).resolve().parents[2]
GOLDEN = Path(__file__).parent / "golden"
CASES = sorted(p.name for p in GOLDEN.iterdir())


def golden_schema(case: str) -> Schema:
    return Schema.from_json((GOLDEN / case / "schema.json").read_text())


@pytest.mark.parametrize("case", CASES)
def test_golden_schema_json_renders_the_golden_module(case):
    expected = GOLDEN / case / "models.py"
    out = expected.relative_to(ROOT)  # the path the header names, as the server test has it
    assert render(golden_schema(case), out) == {out: expected.read_text()}, (
        "regenerate with SQLMIG_UPDATE_GOLDENS=1"
    )


@pytest.mark.parametrize("case", CASES)
def test_golden_schema_json_is_stable_and_exact(case):
    text = (GOLDEN / case / "schema.json").read_text()
    schema = Schema.from_json(text)
    assert schema.to_json() == text  # byte for byte: a regeneration makes no diff
    assert Schema.from_json(schema.to_json()) == schema
    assert json.loads(text)["schemas"] == list(schema.schemas)


@pytest.mark.parametrize("case", CASES)
def test_golden_module_has_no_drift_from_its_schema(case, tmp_path):
    schema = golden_schema(case)
    module = load_rendered(schema, tmp_path)
    assert compare(schema, module) == []
    # ...and drift is seen: a column the module lacks.
    table = schema.tables[0]
    extra = Column(name="added_later", type=col("text"), nullable=True)
    grown = schema.model_copy(
        update={
            "tables": (
                table.model_copy(update={"columns": (*table.columns, extra)}),
                *schema.tables[1:],
            )
        }
    )
    assert [str(d) for d in compare(grown, module)] == [
        f"{table.qualified}.added_later: expected field str | None, found no field in "
        f"{type_name(module, table.qualified)}"
    ]


def test_schema_json_rejects_unknown_keys():
    text = Schema(schemas=("public",), enums=(), tables=()).to_json()
    from pydantic import ValidationError

    with pytest.raises(ValidationError, match="surprise"):
        Schema.from_json(text.replace('"schemas"', '"surprise": 1, "schemas"'))


def test_the_template_ships_as_package_data():
    """render() loads the template from the installed package: the wheel must carry it."""
    pyproject = tomllib.loads((ROOT / "pyproject.toml").read_text())
    globs = pyproject["tool"]["setuptools"]["package-data"]["sqlmig"]
    package = ROOT / "src" / "sqlmig"
    templates = sorted((package / "models" / "templates").iterdir())
    assert templates, "no templates found"
    for template in templates:
        relative = PurePosixPath(template.relative_to(package).as_posix())
        assert any(relative.match(g) for g in globs), f"{relative} is not in package-data"


# Small schemas, built by hand.


def col(name: str, sql: str | None = None, kind: str = "base", **kw) -> ColumnType:  # type: ignore[no-untyped-def]
    return ColumnType(kind=kind, name=name, sql=sql or name, **kw)


def column(name: str, ctype: ColumnType, nullable: bool = False, **kw) -> Column:  # type: ignore[no-untyped-def]
    return Column(name=name, type=ctype, nullable=nullable, **kw)


def one_table(*columns: Column, comment: str | None = None, enums=()) -> Schema:  # type: ignore[no-untyped-def]
    table = Table(schema_name="app", name="things", kind="table", columns=columns, comment=comment)
    return Schema(schemas=("app",), enums=enums, tables=(table,))


def rendered(schema: Schema) -> str:
    ((text,),) = [render(schema, Path("gen/m.py")).values()]
    return text


def load_rendered(schema: Schema, folder: Path) -> ModuleType:
    """Render ``schema`` into ``folder`` and import it (a unique name per call)."""
    path = folder / f"m_{uuid.uuid4().hex[:8]}.py"
    path.write_text(rendered(schema))
    spec = importlib.util.spec_from_file_location(path.stem, path)
    assert spec and spec.loader
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


def type_name(module: ModuleType, qualified: str) -> str:
    return next(
        v.__name__ for v in vars(module).values() if getattr(v, "__table__", None) == qualified
    )


MOOD = EnumType(schema_name="app", name="mood", values=("happy", "in progress"))
ZERO_UUID = "00000000-0000-0000-0000-000000000001"
DEFAULTS = one_table(
    column("id", col("int8", "bigint"), identity="always", default="0"),
    column("n", col("int4", "integer"), default="0"),
    column("neg", col("int4", "integer"), default="'-1'::integer"),
    column("flag", col("bool", "boolean"), default="'yes'::boolean"),
    column("off", col("bool", "boolean"), default="false"),
    column("price", col("numeric", "numeric(8,2)", precision=8, scale=2), default="0.00"),
    column("ratio", col("float8", "double precision"), default="'1.5'::double precision"),
    column("doc", col("jsonb"), default="'{}'::jsonb"),
    column("doc_list", col("jsonb"), default="'[]'::jsonb"),
    column("doc_num", col("jsonb"), default="'1.5'::jsonb"),
    column("doc_text", col("jsonb"), default="'\"hi\"'::jsonb"),
    column("doc_deep", col("jsonb"), default="'{\"a\": 1}'::jsonb"),
    column("tags", col("text", "text[]", array_dims=1), default="'{}'::text[]"),
    column("tags_set", col("text", "text[]", array_dims=1), default="'{a}'::text[]"),
    column("mood", col("app.mood", kind="enum"), default="'in progress'::app.mood"),
    column("mood_gone", col("app.mood", kind="enum"), default="'gone'::app.mood"),
    column("created", col("timestamptz", "timestamp with time zone"), default="now()"),
    column("doubled", col("int4", "integer"), default="(n * 2)", generated=True),
    column("note", col("text"), nullable=True, default="NULL::text"),
    column("label", col("text"), default="NULL::text"),  # NOT NULL: no usable default
    column("code", col("uuid"), default=f"'{ZERO_UUID}'::uuid"),
    column("bad", col("int4", "integer"), default="'abc'::integer"),
    column("name", col("varchar", "character varying", length=9), default="'x'::varchar"),
    enums=(MOOD,),
)


def test_constant_defaults_become_field_defaults_and_computed_ones_do_not():
    text = rendered(DEFAULTS)
    body = text[text.index("    id: int") : text.index("\n\n\ndef register")].splitlines()
    assert body == [
        "    id: int",  # identity: the database numbers it
        "    n: int = 0",
        "    neg: int = -1",
        "    flag: bool = True",
        "    off: bool = False",
        '    price: Decimal = Field(default=Decimal("0.00"), max_digits=8, decimal_places=2)',
        "    ratio: float = 1.5",
        "    doc: JsonValue = Field(default_factory=dict)",
        "    doc_list: JsonValue = Field(default_factory=list)",
        "    doc_num: JsonValue = 1.5",
        '    doc_text: JsonValue = "hi"',
        "    doc_deep: JsonValue",  # a mutable constant: left to the database
        "    tags: list[str] = Field(default_factory=list)",
        "    tags_set: list[str]",
        "    mood: Mood = Mood.IN_PROGRESS",
        "    mood_gone: Mood",  # not a label of the enum (any more)
        "    created: AwareDatetime",
        "    doubled: int",  # generated column
        "    note: str | None = None",
        "    label: str",
        f'    code: UUID = UUID("{ZERO_UUID}")',
        "    bad: int",  # not an integer: no default rather than a wrong one
        '    name: str = Field(default="x", max_length=9)',
    ]
    assert "from decimal import Decimal\n" in text and "from uuid import UUID\n" in text


def test_field_defaults_validate(tmp_path):
    module = load_rendered(DEFAULTS, tmp_path)
    row = module.Thing(
        id=1,
        doc_deep={},
        tags_set=["a"],
        mood_gone="happy",
        created="2026-01-02T03:04:05Z",
        doubled=2,
        label="l",
        bad=0,
    )
    assert (row.n, row.neg, row.flag, row.off, row.price) == (0, -1, True, False, Decimal("0.00"))
    assert (row.doc, row.doc_list, row.tags, row.mood) == ({}, [], [], module.Mood.IN_PROGRESS)
    assert row.doc is not module.Thing(**row.model_dump()).doc  # a fresh dict per row
    assert str(row.code) == ZERO_UUID and row.note is None and row.name == "x"


def test_comments_become_docstrings_and_descriptions(tmp_path):
    long = "What the customer wrote, kept verbatim: " + "every word matters here " * 6
    schema = one_table(
        column("class", col("text"), comment=long.strip()),
        column("quoted", col("text"), nullable=True, comment='Say "hi" \\ there'),
        comment='Rows that say """hi""" \\ and end in a quote "',
    )
    text = rendered(schema)
    assert '    """Rows that say \\"\\"\\"hi\\"\\"\\" \\\\ and end in a quote " """' in text
    assert "        description=(\n" in text  # a long description splits into chunks
    module = load_rendered(schema, tmp_path)
    assert module.Thing.__doc__ == 'Rows that say """hi""" \\ and end in a quote " '
    fields = module.Thing.model_fields
    assert fields["class_"].description == long.strip()
    assert fields["quoted"].description == 'Say "hi" \\ there'


@pytest.mark.parametrize(
    ("comment", "doc"),
    [
        ('"Quoted" first', ' "Quoted" first'),
        ('ends in "quotes"', 'ends in "quotes" '),
        ("x " * 60 + 'then "a quote"', None),  # several lines: the closing quotes stand alone
    ],
)
def test_a_quote_at_either_end_of_a_comment_is_padded(tmp_path, comment, doc):
    module = load_rendered(one_table(column("id", col("int4")), comment=comment), tmp_path)
    assert " ".join(module.Thing.__doc__.split()) == comment.strip()
    if doc is not None:
        assert module.Thing.__doc__ == doc


def test_column_names_that_are_not_identifiers_get_aliases(tmp_path):
    schema = one_table(
        column("class", col("int4")),
        column("model_config", col("int4")),
        column("a b", col("text"), nullable=True),
        column("a_b", col("text"), nullable=True),
    )
    text = rendered(schema)
    assert '    class_: int = Field(alias="class")' in text
    assert '    a_b: str | None = Field(default=None, alias="a b")' in text
    assert '    a_b_2: str | None = Field(default=None, alias="a_b")' in text
    module = load_rendered(schema, tmp_path)
    record = {"class": 1, "model_config": 2, "a b": "x", "a_b": "y"}
    row = module.Thing.model_validate(record)
    assert (row.class_, row.model_config_, row.a_b, row.a_b_2) == (1, 2, "x", "y")
    assert row.model_dump(by_alias=True) == record
    assert module.Thing(class_=1, model_config_=2).a_b is None  # by name too


def test_a_schema_without_enums_or_composites_has_nothing_to_register(tmp_path):
    schema = one_table(column("id", col("int4")))
    text = rendered(schema)
    assert "    del conn  # nothing to register" in text and "(StrEnum)" not in text
    module = load_rendered(schema, tmp_path)
    assert module.__all__ == ["Thing"]
    assert module.register(object()) is None  # touches no connection
    empty = rendered(Schema(schemas=("app",), enums=(), tables=()))
    assert "ClassVar" not in empty and "pydantic" not in empty and "\n__all__ = []\n" in empty
    enums_only = load_rendered(Schema(schemas=("app",), enums=(MOOD,), tables=()), tmp_path)
    assert enums_only.__all__ == ["Mood"] and not hasattr(enums_only, "BaseModel")


def test_one_enum_registers_on_one_line():
    text = rendered(one_table(column("mood", col("app.mood", kind="enum")), enums=(MOOD,)))
    assert (
        '    enums: tuple[tuple[str, str, type[StrEnum]], ...] = (("app", "mood", Mood),)\n' in text
    )


def test_composites_come_before_tables_and_register_with_a_factory(tmp_path):
    address = CompositeType(
        schema_name="app",
        name="address",
        attributes=(column("street", col("text"), nullable=True),),
    )
    schema = Schema(
        schemas=("app",),
        enums=(),
        composites=(address,),
        tables=(
            Table(
                schema_name="app",
                name="sites",
                kind="table",
                columns=(
                    column("id", col("int4")),
                    column(
                        "homes",
                        col("app.address", "app.address[]", kind="composite", array_dims=1),
                        nullable=True,
                    ),
                ),
            ),
        ),
    )
    text = rendered(schema)
    assert text.index("class Address(") < text.index("class Site(")
    assert '    __type__: ClassVar[str] = "app.address"' in text
    assert "    homes: list[Address] | None = None" in text
    assert "register_composite(info, conn, _factory(model, info.field_names))" in text
    module = load_rendered(schema, tmp_path)
    site = module.Site.model_validate({"id": 1, "homes": [{"street": "Main"}]})
    assert site.homes == [module.Address(street="Main")]
    assert compare(schema, module) == []


def test_every_small_module_passes_ruff(tmp_path):
    """The generated text is what ruff check and ruff format would leave it."""
    schemas = {
        "defaults": DEFAULTS,
        "comments": one_table(
            column("c", col("text"), comment="word " * 40),
            comment='"Quoted" at both ends "',
        ),
        "one_enum": one_table(column("m", col("app.mood", kind="enum")), enums=(MOOD,)),
        "empty": Schema(schemas=("app",), enums=(), tables=()),
        "enums_only": Schema(schemas=("app",), enums=(MOOD,), tables=()),
    }
    files = []
    for name, schema in schemas.items():
        path = tmp_path / f"{name}.py"
        path.write_text(rendered(schema))
        files.append(str(path))
    config = str(ROOT / "pyproject.toml")
    for command in (["check", "--no-cache"], ["format", "--check", "--no-cache"]):
        result = subprocess.run(
            [sys.executable, "-m", "ruff", *command, "--config", config, *files],
            capture_output=True,
            text=True,
        )
        assert result.returncode == 0, result.stdout + result.stderr
