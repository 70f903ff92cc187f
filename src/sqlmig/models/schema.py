"""The intermediate schema model: what introspection found, as plain typed data.

It knows nothing of databases or templates, and serialises to and from JSON
(:meth:`Schema.to_json` / :meth:`Schema.from_json`, exact round trip), so golden
tests render code from a stored schema without a server, and other tools can
store and diff it.
"""

from __future__ import annotations

from typing import Literal

from pydantic import BaseModel, ConfigDict


class _Frozen(BaseModel):
    model_config = ConfigDict(frozen=True, extra="forbid")


class EnumType(_Frozen):
    schema_name: str
    name: str
    values: tuple[str, ...]  # in catalog (sort) order
    comment: str | None = None

    @property
    def qualified(self) -> str:
        return f"{self.schema_name}.{self.name}"


class ColumnType(_Frozen):
    """A column's type after resolving domains and array wrappers."""

    kind: Literal["base", "enum", "composite", "other"]
    name: str  # base type name (int4, varchar, timestamptz...), or enum / composite qualified name
    sql: str  # as declared, from format_type(): e.g. "character varying(255)[]"
    array_dims: int = 0
    length: int | None = None  # varchar(n), char(n), bit(n)
    precision: int | None = None  # numeric(p, s)
    scale: int | None = None
    domain: str | None = None  # qualified domain name when declared through one
    # An array of a domain has an array type of its own, unknown to psycopg until
    # registered: (domain schema, domain name, base type schema, base type name).
    element_domain: tuple[str, str, str, str] | None = None


class Column(_Frozen):
    name: str
    type: ColumnType
    nullable: bool
    default: str | None = None  # the default expression, as pg_get_expr() prints it
    identity: Literal["always", "by default"] | None = None
    generated: bool = False  # GENERATED ALWAYS AS (...) STORED
    comment: str | None = None


class CompositeType(_Frozen):
    """A standalone composite type (CREATE TYPE ... AS (...)); attributes are always nullable."""

    schema_name: str
    name: str
    attributes: tuple[Column, ...]
    comment: str | None = None

    @property
    def qualified(self) -> str:
        return f"{self.schema_name}.{self.name}"


class ForeignKey(_Frozen):
    name: str
    columns: tuple[str, ...]
    ref_schema: str
    ref_table: str
    ref_columns: tuple[str, ...]


class Check(_Frozen):
    name: str
    definition: str


class Table(_Frozen):
    schema_name: str
    name: str
    kind: Literal["table", "partitioned table", "view", "materialized view", "foreign table"]
    columns: tuple[Column, ...]
    comment: str | None = None
    primary_key: tuple[str, ...] = ()
    unique: tuple[tuple[str, ...], ...] = ()
    foreign_keys: tuple[ForeignKey, ...] = ()
    checks: tuple[Check, ...] = ()

    @property
    def qualified(self) -> str:
        return f"{self.schema_name}.{self.name}"

    @property
    def is_view(self) -> bool:
        return self.kind in ("view", "materialized view")


class Schema(_Frozen):
    schemas: tuple[str, ...]
    enums: tuple[EnumType, ...]
    tables: tuple[Table, ...]
    composites: tuple[CompositeType, ...] = ()  # in dependency order: used before users

    def to_json(self) -> str:
        """Stable JSON for files and diffs: every field, in declaration order, indented."""
        return self.model_dump_json(indent=2) + "\n"

    @classmethod
    def from_json(cls, text: str | bytes) -> Schema:
        """The schema :meth:`to_json` wrote (validated: an unknown key is an error)."""
        return cls.model_validate_json(text)
