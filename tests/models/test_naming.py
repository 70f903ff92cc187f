"""Naming, type mapping and constant defaults: pure functions, no database."""

from __future__ import annotations

import pytest

from sqlmig.models import naming
from sqlmig.models.defaults import NO_DEFAULT, NULL, constant_default
from sqlmig.models.schema import ColumnType
from sqlmig.models.typemap import python_type


@pytest.mark.parametrize(
    ("table", "cls"),
    [
        ("domain_events", "DomainEvent"), ("command_inbox", "CommandInbox"),
        ("async_tasks", "AsyncTask"), ("flow_resume_handles", "FlowResumeHandle"),
        ("memories", "Memory"), ("task_progress", "TaskProgress"), ("statuses", "Status"),
        ("boxes", "Box"), ("people", "Person"), ("model_config", "ModelConfig"),
        ("2fa_codes", "N2faCode"), ("address", "Address"),
    ],
)  # fmt: skip
def test_model_class_name(table, cls):
    assert naming.model_class_name(table) == cls


@pytest.mark.parametrize(
    ("column", "field"),
    [
        ("id", "id"), ("class", "class_"), ("model_config", "model_config_"),
        ("model_dump", "model_dump_"), ("json", "json_"), ("datetime", "datetime_"),
        ("Field", "Field_"), ("_private", "f_private"), ("Weird Name", "Weird_Name"),
        ("2nd", "f_2nd"), ("match", "match"), ("type", "type"),
    ],
)  # fmt: skip
def test_field_name(column, field):
    assert naming.field_name(column) == field


def test_enum_member_names_and_uniqueness():
    assert naming.enum_member_name("in progress") == "IN_PROGRESS"
    assert naming.enum_member_name("1st") == "V_1ST"
    assert naming.enum_member_name("") == "EMPTY"
    assert naming.enum_member_name("name") == "NAME_"
    assert naming.unique(["A", "A", "B", "A"]) == ["A", "A_2", "B", "A_3"]


def col(name, kind="base", **kw):  # type: ignore[no-untyped-def]
    return ColumnType(kind=kind, name=name, sql=name, **kw)


@pytest.mark.parametrize(
    ("column_type", "annotation", "canonical"),
    [
        (col("uuid"), "UUID", "UUID"),
        (col("timestamptz"), "AwareDatetime", "AwareDatetime"),
        (col("timestamp"), "NaiveDatetime", "NaiveDatetime"),
        (
            col("numeric", precision=5, scale=2),
            "Decimal",
            "Decimal(max_digits=5, decimal_places=2)",
        ),
        (col("numeric"), "Decimal", "Decimal"),
        (col("varchar", length=255), "str", "str(max_length=255)"),
        (col("varchar", length=9, array_dims=1), "list[str]", "list[str]"),
        (col("int4", array_dims=2), "list[list[int]]", "list[list[int]]"),
        (col("public.mood", kind="enum", array_dims=1), "list[Mood]", "list[Mood]"),
        (col("public.address", kind="composite", array_dims=1), "list[Address]", "list[Address]"),
        (col("jsonb"), "JsonValue", "JsonValue"),
        (col("inet"), "IPvAnyInterface", "IPvAnyInterface"),
        (col("interval"), "datetime.timedelta", "datetime.timedelta"),
        (col("int4range", kind="other"), "Any", "Any"),
        (col("some_unknown_base"), "Any", "Any"),
    ],
)
def test_python_type(column_type, annotation, canonical):
    py = python_type(column_type, {"public.mood": "Mood", "public.address": "Address"})
    assert (py.annotation, py.canonical) == (annotation, canonical)


def test_unconstrained_numeric_accepts_nan_and_infinity():
    """PostgreSQL numeric holds NaN and ±Infinity; pydantic only allows them when told."""
    assert python_type(col("numeric"), {}).options == (("allow_inf_nan", "True"),)
    constrained = python_type(col("numeric", precision=5, scale=2), {})
    assert constrained.options == ()  # pydantic refuses allow_inf_nan with max_digits
    assert python_type(col("numeric", array_dims=1), {}).options == ()


def test_type_and_table_class_names_never_clash():
    from sqlmig.models.schema import Column, CompositeType, EnumType, Schema, Table

    def table(name: str) -> Table:
        return Table(schema_name="public", name=name, kind="table", columns=())

    schema = Schema(
        schemas=("public",),
        enums=(EnumType(schema_name="public", name="decimal", values=("a",)),),
        composites=(
            CompositeType(
                schema_name="public",
                name="address",
                attributes=(Column(name="x", type=col("int4"), nullable=True),),
            ),
        ),
        tables=(table("addresses"), table("decimals")),
    )
    names = naming.class_names(schema)
    assert names.enums == {"public.decimal": "PublicDecimal"}  # not the imported Decimal
    assert names.composites == {"public.address": "Address"}
    assert names.models == {
        "public.addresses": "PublicAddress",
        "public.decimals": "PublicDecimal_2",
    }


@pytest.mark.parametrize(
    ("expression", "value"),
    [
        ("0", 0), ("'-1'::integer", "-1"), ("0.00", "0.00"), ("true", True),
        ("''::text", ""), ("'PENDING'::task_status", "PENDING"), ("'{}'::jsonb", "{}"),
        ("'x'::character varying", "x"),
    ],
)  # fmt: skip
def test_constant_defaults(expression, value):
    assert constant_default(expression) == value


@pytest.mark.parametrize(
    "expression", ["now()", "gen_random_uuid()", "nextval('s'::regclass)", "1 + 1"]
)
def test_non_constant_defaults(expression):
    assert constant_default(expression) is NO_DEFAULT


def test_null_default():
    assert constant_default("NULL::text") is NULL
