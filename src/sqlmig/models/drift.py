"""Compare importable Pydantic models with the live schema: one line per difference.

    Schema ──typemap──▶ expected (class, field, canonical type, nullable, enum values)
    module ──import──▶ found    (BaseModel / Enum classes, FieldInfo annotations)
                          └──▶ [Drift("public.t.c: expected X, found Y"), ...]

Models map to tables by their ``__table__`` class variable (generated models
have it), else by the class name the generator would give the table. Types
compare in a canonical form (see :mod:`sqlmig.models.typemap`), constraints included.
"""

from __future__ import annotations

import importlib
import importlib.util
import sys
import traceback
import types
import typing
from dataclasses import asdict, dataclass
from enum import Enum
from pathlib import Path
from typing import Any

from sqlmig.core.errors import UsageError
from sqlmig.models import naming
from sqlmig.models.schema import Column, Schema
from sqlmig.models.typemap import canonical_constraints, python_type


@dataclass(frozen=True)
class Drift:
    kind: str  # missing-model, extra-model, missing-field, extra-field, type, nullability,
    #            missing-enum, enum-values
    subject: str
    expected: str
    found: str

    def __str__(self) -> str:
        return f"{self.subject}: expected {self.expected}, found {self.found}"

    def as_dict(self) -> dict[str, str]:
        return asdict(self)


def load_module(spec: str, project_root: Path) -> types.ModuleType:
    """Import ``spec``: a dotted module name (from the project root too) or a .py path.

    Whatever the import raises becomes one :class:`UsageError` line (exception
    type, message, and the file:line it came from), never a traceback.
    """
    try:
        if spec.endswith(".py"):
            path = (project_root / spec).resolve()
            if not path.is_file():
                raise UsageError(f"cannot import models module {spec}: no such file: {path}")
            loader = importlib.util.spec_from_file_location(path.stem, path)
            if loader is None or loader.loader is None:
                raise UsageError(f"cannot import models module {spec}: not a Python module")
            module = importlib.util.module_from_spec(loader)
            loader.loader.exec_module(module)
            return module
        if str(project_root) not in sys.path:
            sys.path.insert(0, str(project_root))
        return importlib.import_module(spec)
    except UsageError:
        raise
    except (Exception, SystemExit) as exc:  # the module's own code: anything can happen
        where = _failure_location(exc, project_root)
        message = exc.msg if isinstance(exc, SyntaxError) else str(exc)
        text = f"{type(exc).__name__}: {message}" if message else type(exc).__name__
        raise UsageError(
            f"cannot import models module {spec}: {text}" + (f" ({where})" if where else "")
        ) from None


_IMPORTERS = frozenset({__name__, "importlib", "importlib._bootstrap"})


def _failure_location(exc: BaseException, project_root: Path) -> str:
    """``path:line`` where the import failed: the innermost frame outside importlib and sqlmig."""
    if isinstance(exc, SyntaxError) and exc.filename and exc.lineno:
        return f"{_shown(exc.filename, project_root)}:{exc.lineno}"
    location = ""
    for frame, line in traceback.walk_tb(exc.__traceback__):
        filename = frame.f_code.co_filename
        if filename.startswith("<") or frame.f_globals.get("__name__") in _IMPORTERS:
            continue
        location = f"{_shown(filename, project_root)}:{line}"
    return location


def _shown(filename: str, project_root: Path) -> str:
    try:
        return Path(filename).resolve().relative_to(project_root.resolve()).as_posix()
    except ValueError:
        return filename


def compare(schema: Schema, module: types.ModuleType) -> list[Drift]:
    from pydantic import BaseModel

    classes = [v for v in vars(module).values() if isinstance(v, type)]
    models = {c.__name__: c for c in classes if issubclass(c, BaseModel) and c is not BaseModel}
    enums = {c.__name__: c for c in classes if issubclass(c, Enum) and c.__module__ != "enum"}
    drift: list[Drift] = []

    names = naming.class_names(schema)
    enum_classes = names.enums
    for enum_type in schema.enums:
        name = enum_classes[enum_type.qualified]
        subject = f"enum {enum_type.qualified}"
        if name not in enums:
            drift.append(Drift("missing-enum", subject, f"class {name}", "no such class"))
            continue
        found_values = tuple(str(m.value) for m in enums[name])
        if found_values != enum_type.values:
            drift.append(
                Drift(
                    "enum-values", subject, repr(list(enum_type.values)), repr(list(found_values))
                )
            )

    type_classes = names.types
    by_type = {getattr(m, "__type__", None): m for m in models.values()}
    by_table = {getattr(m, "__table__", None): m for m in models.values()}
    matched: set[str] = set()
    for composite in schema.composites:
        class_name = names.composites[composite.qualified]
        model = by_type.get(composite.qualified) or models.get(class_name)
        subject = f"composite type {composite.qualified}"
        if model is None:
            drift.append(Drift("missing-model", subject, f"model class {class_name}", "no model"))
            continue
        matched.add(model.__name__)
        drift += _compare_fields(composite.qualified, composite.attributes, model, type_classes)
    for table in schema.tables:
        class_name = names.models[table.qualified]
        model = by_table.get(table.qualified) or models.get(class_name)
        if model is None:
            drift.append(
                Drift("missing-model", table.qualified, f"model class {class_name}", "no model")
            )
            continue
        matched.add(model.__name__)
        drift += _compare_fields(table.qualified, table.columns, model, type_classes)
    for name, model in sorted(models.items()):
        if name not in matched:
            table_name = getattr(model, "__table__", None)
            type_name = getattr(model, "__type__", None)
            if type_name:
                where, found = f"composite type {type_name}", "no such type"
            else:
                where = f"table {table_name}" if table_name else "a table for it"
                found = "no such table"
            drift.append(
                Drift(
                    "extra-model", f"model {name}", f"{where} in {', '.join(schema.schemas)}", found
                )
            )
    return drift


def _compare_fields(
    qualified: str, columns: tuple[Column, ...], model: Any, type_classes: dict[str, str]
) -> list[Drift]:
    """Differences between a table's columns (or a composite's attributes) and a model."""
    drift: list[Drift] = []
    fields = {(info.alias or name): info for name, info in model.model_fields.items()}
    for column in columns:
        subject = f"{qualified}.{column.name}"
        info = fields.pop(column.name, None)
        expected_type = python_type(column.type, type_classes).canonical
        if info is None:
            drift.append(
                Drift(
                    "missing-field",
                    subject,
                    f"field {_show(expected_type, column.nullable)}",
                    f"no field in {model.__name__}",
                )
            )
            continue
        found_type, found_nullable = describe(info)
        if found_type != expected_type:
            drift.append(Drift("type", subject, expected_type, found_type))
        if found_nullable != column.nullable:
            drift.append(
                Drift(
                    "nullability",
                    subject,
                    _nullability(column.nullable),
                    _nullability(found_nullable),
                )
            )
    for extra in fields:
        drift.append(
            Drift(
                "extra-field",
                f"{qualified}.{extra}",
                "no such column",
                f"field {model.__name__}.{extra}",
            )
        )
    return drift


def describe(info: Any) -> tuple[str, bool]:
    """(canonical type with constraints, nullable) of a pydantic FieldInfo."""
    annotation = info.annotation
    nullable = False
    if typing.get_origin(annotation) in (typing.Union, types.UnionType):
        args = typing.get_args(annotation)
        rest = [a for a in args if a is not type(None)]
        nullable = len(rest) < len(args)
        annotation = rest[0] if len(rest) == 1 else typing.Union[tuple(rest)]  # noqa: UP007
    constraints: dict[str, int] = {}
    for item in info.metadata:
        for key in ("max_length", "max_digits", "decimal_places"):
            value = getattr(item, key, None)
            if value is not None:
                constraints[key] = value
    return _type_name(annotation) + canonical_constraints(constraints), nullable


_MODULE_PREFIX = {"builtins": "", "uuid": "", "decimal": "", "datetime": "datetime."}


def _type_name(tp: Any) -> str:
    origin = typing.get_origin(tp)
    if origin is typing.Annotated:
        return _type_name(typing.get_args(tp)[0])
    if origin in (list, typing.List):  # noqa: UP006
        args = typing.get_args(tp)
        return f"list[{_type_name(args[0]) if args else 'Any'}]"
    if origin is not None:
        inner = ", ".join(_type_name(a) for a in typing.get_args(tp))
        return f"{getattr(origin, '__name__', str(origin))}[{inner}]"
    if tp is Any:
        return "Any"
    if isinstance(tp, type):
        from pydantic import BaseModel

        if issubclass(tp, Enum | BaseModel):  # the module's own enums and composite models
            return tp.__name__
        module = tp.__module__
        if module.startswith("pydantic"):
            return tp.__name__
        prefix = _MODULE_PREFIX.get(module, f"{module}.")
        return f"{prefix}{tp.__qualname__}"
    return getattr(tp, "__name__", repr(tp))  # type aliases such as JsonValue


def _show(canonical: str, nullable: bool) -> str:
    return f"{canonical} | None" if nullable else canonical


def _nullability(nullable: bool) -> str:
    return "nullable (X | None)" if nullable else "not nullable"
