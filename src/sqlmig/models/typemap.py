"""PostgreSQL column types -> Python annotations: one table, plain functions.

Each mapping gives the annotation as written in generated code, the names it
imports, the ``Field(...)`` constraints it needs, and a *canonical* string
that :mod:`sqlmig.models.drift` also derives from an imported model, so that a
generated model and a hand-written one compare equal when they mean the same.
"""

from __future__ import annotations

from dataclasses import dataclass, field

from sqlmig.models.schema import ColumnType

# base type -> (annotation, import line or "", canonical)
_BASE: dict[str, tuple[str, str, str]] = {
    "bool": ("bool", "", "bool"),
    "int2": ("int", "", "int"),
    "int4": ("int", "", "int"),
    "int8": ("int", "", "int"),
    "oid": ("int", "", "int"),
    "float4": ("float", "", "float"),
    "float8": ("float", "", "float"),
    "numeric": ("Decimal", "from decimal import Decimal", "Decimal"),
    "text": ("str", "", "str"),
    "varchar": ("str", "", "str"),
    "bpchar": ("str", "", "str"),
    "char": ("str", "", "str"),
    "name": ("str", "", "str"),
    "citext": ("str", "", "str"),
    "money": ("str", "", "str"),  # psycopg returns money as text (locale-formatted)
    "xml": ("str", "", "str"),
    "bit": ("str", "", "str"),
    "varbit": ("str", "", "str"),
    "macaddr": ("str", "", "str"),
    "macaddr8": ("str", "", "str"),
    "tsvector": ("str", "", "str"),
    "tsquery": ("str", "", "str"),
    "uuid": ("UUID", "from uuid import UUID", "UUID"),
    "date": ("datetime.date", "import datetime", "datetime.date"),
    "time": ("datetime.time", "import datetime", "datetime.time"),
    "timetz": ("datetime.time", "import datetime", "datetime.time"),
    "timestamp": ("NaiveDatetime", "from pydantic import NaiveDatetime", "NaiveDatetime"),
    "timestamptz": ("AwareDatetime", "from pydantic import AwareDatetime", "AwareDatetime"),
    "interval": ("datetime.timedelta", "import datetime", "datetime.timedelta"),
    "bytea": ("bytes", "", "bytes"),
    "json": ("JsonValue", "from pydantic import JsonValue", "JsonValue"),
    "jsonb": ("JsonValue", "from pydantic import JsonValue", "JsonValue"),
    "inet": ("IPvAnyInterface", "from pydantic import IPvAnyInterface", "IPvAnyInterface"),
    "cidr": ("IPvAnyNetwork", "from pydantic import IPvAnyNetwork", "IPvAnyNetwork"),
}
_FALLBACK = ("Any", "from typing import Any", "Any")


@dataclass(frozen=True)
class PyType:
    annotation: str  # without "| None"
    canonical: str  # annotation + constraints, in drift-check form
    imports: frozenset[str] = frozenset()
    constraints: tuple[tuple[str, int], ...] = field(default=())
    # Field() options that widen what validates, not part of the drift comparison
    options: tuple[tuple[str, str], ...] = field(default=())


def python_type(column_type: ColumnType, classes: dict[str, str]) -> PyType:
    """The Python type for a column type; ``classes`` maps enum and composite qualified names."""
    if column_type.kind in ("enum", "composite"):
        cls = classes[column_type.name]
        annotation, canonical = cls, cls
        imports: frozenset[str] = frozenset()
    else:
        annotation, line, canonical = _BASE.get(column_type.name, _FALLBACK)
        if column_type.kind == "other":
            annotation, line, canonical = _FALLBACK
        imports = frozenset({line} if line else ())
    for _ in range(column_type.array_dims):
        annotation, canonical = f"list[{annotation}]", f"list[{canonical}]"
    constraints: tuple[tuple[str, int], ...] = ()
    options: tuple[tuple[str, str], ...] = ()
    if not column_type.array_dims:  # on a list, max_length would bound the list itself
        if column_type.length is not None and column_type.name in ("varchar", "bpchar"):
            constraints = (("max_length", column_type.length),)
        elif column_type.name == "numeric" and column_type.precision is not None:
            constraints = (("max_digits", column_type.precision),)
            if column_type.scale is not None and column_type.scale >= 0:
                constraints += (("decimal_places", column_type.scale),)
        elif column_type.name == "numeric" and column_type.kind == "base":
            # An unconstrained numeric holds NaN and ±Infinity (pydantic refuses them by
            # default, and cannot allow them together with max_digits).
            options = (("allow_inf_nan", "True"),)
    return PyType(
        annotation, canonical + _constraint_suffix(constraints), imports, constraints, options
    )


def _constraint_suffix(constraints: tuple[tuple[str, int], ...]) -> str:
    if not constraints:
        return ""
    return "(" + ", ".join(f"{k}={v}" for k, v in constraints) + ")"


def canonical_constraints(pairs: dict[str, int]) -> str:
    """The suffix for constraints read back from a model field (same order as above)."""
    order = ("max_length", "max_digits", "decimal_places")
    return _constraint_suffix(tuple((k, pairs[k]) for k in order if pairs.get(k) is not None))
