"""Column defaults -> field defaults: only constants become Python defaults.

    "0", "'x'::character varying", "'{}'::jsonb"  ─constant_default─▶  0, "x", "{}"
    "now()", "nextval(...)", "1 + 1"              ─constant_default─▶  NO_DEFAULT
    constant + the field's Python type            ─field_default───▶  ("default", "0"), ...

A default the database computes (a function call, a sequence, an expression)
has no Python equivalent, so its field stays required (or ``None`` when
nullable). Expressions are parsed with pglast, never evaluated.
"""

from __future__ import annotations

import enum
import json
from decimal import Decimal

from sqlmig.models import naming
from sqlmig.models._pysource import literal, quote
from sqlmig.models.schema import Column
from sqlmig.models.typemap import PyType


class Marker(enum.Enum):
    """What :func:`constant_default` returns when there is no constant value."""

    NO_DEFAULT = "not a constant"
    NULL = "NULL"


NO_DEFAULT = Marker.NO_DEFAULT  # the default is computed (or unparsable): no Python default
NULL = Marker.NULL  # the default is NULL, whatever the cast

Constant = int | str | bool  # numbers other than integers keep their text ("0.00")


def constant_default(expression: str) -> Constant | Marker:
    """The constant a column default evaluates to, or a marker: not constant / NULL."""
    from pglast import ast, parse_sql
    from pglast.parser import ParseError

    try:
        statements = parse_sql(f"SELECT {expression}")
    except ParseError:
        return NO_DEFAULT
    node = statements[0].stmt.targetList[0].val  # type: ignore[union-attr]
    while isinstance(node, ast.TypeCast):
        node = node.arg
    if not isinstance(node, ast.A_Const):
        return NO_DEFAULT
    if node.isnull:
        return NULL
    val = node.val
    # pglast types every value Optional (protobuf omits zero values): None is the zero.
    if isinstance(val, ast.Integer):
        return val.ival or 0
    if isinstance(val, ast.Float):
        return val.fval or "0"
    if isinstance(val, ast.Boolean):
        return bool(val.boolval)
    if isinstance(val, ast.String):
        return val.sval or ""
    return NO_DEFAULT


def field_default(
    column: Column,
    py: PyType,
    enum_classes: dict[str, str],
    enum_values: dict[str, tuple[str, ...]],
) -> tuple[str, str] | None:
    """("default" | "default_factory", code) for a constant default, else None.

    ``enum_classes`` maps enum qualified names to their class names,
    ``enum_values`` to their labels: an enum default becomes its member.
    """
    if column.default is None or column.identity or column.generated:
        return None
    value = constant_default(column.default)
    if value is NO_DEFAULT:
        return None
    if value is NULL:
        return ("default", "None") if column.nullable else None
    assert not isinstance(value, Marker)  # for mypy: both markers are handled above
    ctype = column.type
    if ctype.array_dims:
        return ("default_factory", "list") if value == "{}" else None
    if ctype.kind == "enum":
        labels = enum_values[ctype.name]
        if value in labels:
            member = naming.enum_member_names(labels)[labels.index(str(value))]
            return ("default", f"{enum_classes[ctype.name]}.{member}")
        return None
    annotation = py.annotation
    try:
        if annotation == "JsonValue" and isinstance(value, str):
            parsed = json.loads(value)
            if parsed == {}:
                return ("default_factory", "dict")
            if parsed == []:
                return ("default_factory", "list")
            if parsed is None or isinstance(parsed, bool | int | float | str):
                return ("default", literal(parsed))
            return None
        if annotation == "bool":
            return ("default", repr(_to_bool(value)))
        if annotation == "int":
            return ("default", repr(int(str(value))))
        if annotation == "float":
            return ("default", repr(float(str(value))))
        if annotation == "Decimal":
            return ("default", f'Decimal("{Decimal(str(value))}")')
        if annotation == "str" and isinstance(value, str):
            return ("default", quote(value))
        if annotation == "UUID" and isinstance(value, str):
            from uuid import UUID

            return ("default", f'UUID("{UUID(value)}")')
    except (ValueError, ArithmeticError):
        return None
    return None


def _to_bool(value: object) -> bool:
    """PostgreSQL's spellings of a boolean ('t', 'yes', 'on', '1'...)."""
    if isinstance(value, bool):
        return value
    text = str(value).strip().lower()
    if text in ("t", "true", "y", "yes", "on", "1"):
        return True
    if text in ("f", "false", "n", "no", "off", "0"):
        return False
    raise ValueError(text)
