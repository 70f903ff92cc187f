"""Python names for database objects: plain functions, tested on their own.

Field names equal column names unless that is impossible or unsafe in a
pydantic model; then the field gets a trailing underscore and an alias.
"""

from __future__ import annotations

import keyword
import re
from dataclasses import dataclass
from typing import TYPE_CHECKING

if TYPE_CHECKING:
    from sqlmig.models.schema import Schema

#: Names the generated module imports at top level; a field must not shadow them.
IMPORTED_NAMES = frozenset(
    {
        "datetime", "Any", "ClassVar", "Decimal", "StrEnum", "UUID", "TYPE_CHECKING", "psycopg",
        "register",
        "AwareDatetime", "BaseModel", "ConfigDict", "Field", "IPvAnyInterface",
        "IPvAnyNetwork", "JsonValue", "NaiveDatetime",
    }
)  # fmt: skip

# Attributes of pydantic.BaseModel (model_dump, copy, json, ...): shadowing them breaks models.
_BASEMODEL_ATTRIBUTES = frozenset(
    {
        "construct", "copy", "dict", "from_orm", "json", "parse_file", "parse_obj",
        "parse_raw", "schema", "schema_json", "update_forward_refs", "validate",
    }
)  # fmt: skip

_IRREGULAR = {"people": "person", "children": "child", "data": "data", "media": "media"}


def pascal(name: str) -> str:
    """``domain_events`` -> ``DomainEvents``; anything not alphanumeric separates words."""
    words = [w for w in re.split(r"[^0-9A-Za-z]+", name) if w]
    out = "".join(w[:1].upper() + w[1:] for w in words) or "X"
    return f"N{out}" if out[0].isdigit() else out


def singular(word: str) -> str:
    """English singular of a table's last word: tasks -> task, memories -> memory."""
    lower = word.lower()
    if lower in _IRREGULAR:
        return word[: len(word) - len(lower)] + _IRREGULAR[lower]
    if lower.endswith("ies") and len(word) > 3:
        return word[:-3] + "y"
    if lower.endswith(("sses", "shes", "ches", "xes", "zes", "uses")):
        return word[:-2]
    if lower.endswith(("ss", "us", "is", "os")) or not lower.endswith("s"):
        return word
    return word[:-1]


def model_class_name(table: str) -> str:
    """``async_tasks`` -> ``AsyncTask``: singular of the last word, PascalCase."""
    words = [w for w in re.split(r"[^0-9A-Za-z]+", table) if w]
    if words:
        words[-1] = singular(words[-1])
    return pascal("_".join(words))


def enum_class_name(type_name: str) -> str:
    return pascal(type_name)


def field_name(column: str) -> str:
    """A Python field name for ``column``; equal to it whenever that is safe."""
    name = column
    if not name.isidentifier():
        name = re.sub(r"\W", "_", name)
        if not name or name[0].isdigit():
            name = f"f_{name}"
    if name.startswith("_"):
        return "f" + name  # pydantic treats leading underscores as private attributes
    unsafe = (
        keyword.iskeyword(name)
        or name.startswith("model_")
        or name in _BASEMODEL_ATTRIBUTES
        or name in IMPORTED_NAMES
    )
    return f"{name}_" if unsafe else name


def enum_member_name(label: str) -> str:
    """``in progress`` -> ``IN_PROGRESS``; labels stay the values, exactly."""
    name = re.sub(r"\W+", "_", label).strip("_").upper()
    if not name:
        name = "EMPTY"
    if name[0].isdigit():
        name = f"V_{name}"
    if keyword.iskeyword(name) or name.startswith("_") or name in ("MRO", "NAME", "VALUE"):
        name = f"{name}_"
    return name


def unique(names: list[str]) -> list[str]:
    """Make names unique by appending _2, _3 ... to later duplicates, keeping order."""
    seen: dict[str, int] = {}
    out = []
    for name in names:
        candidate = name
        while candidate in seen:
            seen[name] += 1
            candidate = f"{name}_{seen[name]}"
        seen.setdefault(name, 1)
        seen.setdefault(candidate, 1)
        out.append(candidate)
    return out


def enum_member_names(labels: tuple[str, ...]) -> list[str]:
    return unique([enum_member_name(label) for label in labels])


@dataclass(frozen=True)
class ClassNames:
    """The class name of every enum, composite type and table of a schema, unique in one module."""

    enums: dict[str, str]  # enum qualified name -> class name
    models: dict[str, str]  # table qualified name -> class name
    composites: dict[str, str]  # composite type qualified name -> class name

    @property
    def types(self) -> dict[str, str]:
        """Enum and composite type qualified name -> class name (what columns refer to)."""
        return {**self.enums, **self.composites}


def class_names(schema: Schema) -> ClassNames:
    """Types keep their names; a table whose name clashes gets its schema as prefix.

    Shared by the generator and the drift check, so both agree on every name.
    """
    wanted = [(e.schema_name, enum_class_name(e.name)) for e in schema.enums] + [
        (c.schema_name, pascal(c.name)) for c in schema.composites
    ]
    type_names = unique([pascal(s) + n if n in IMPORTED_NAMES else n for s, n in wanted])
    enum_names, composite_names = type_names[: len(schema.enums)], type_names[len(schema.enums) :]
    taken = set(type_names)
    base = [model_class_name(t.name) for t in schema.tables]
    models = []
    for table, name in zip(schema.tables, base, strict=True):
        clash = name in taken or name in IMPORTED_NAMES or base.count(name) > 1
        models.append(pascal(table.schema_name) + name if clash else name)
    model_names = unique([*type_names, *models])[len(type_names) :]
    return ClassNames(
        enums={e.qualified: n for e, n in zip(schema.enums, enum_names, strict=True)},
        models={t.qualified: n for t, n in zip(schema.tables, model_names, strict=True)},
        composites={
            c.qualified: n for c, n in zip(schema.composites, composite_names, strict=True)
        },
    )
