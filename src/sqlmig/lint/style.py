"""The opt-in style rules: column types a schema is better off without.

``char(n)``, ``timestamp`` without time zone, ``int``/``smallint`` primary
keys and ``serial`` columns, in CREATE TABLE, ADD COLUMN and ALTER COLUMN TYPE.
They are off until ``[tool.sqlmig.lint] enable`` names them.
"""

from __future__ import annotations

from sqlmig.lint import nodes
from sqlmig.lint.context import Context
from sqlmig.lint.nodes import Node


def create_table(node: Node, ctx: Context) -> None:
    table = nodes.relname(node.get("relation"))
    columns: dict[str, Node] = {}
    for element in node.get("tableElts") or ():
        column = element.get("ColumnDef")
        if column is not None:
            columns[str(column.get("colname"))] = column
            _column(column, ctx, table)
            continue
        constraint = element.get("Constraint") or {}
        if constraint.get("contype") == "CONSTR_PRIMARY":
            for key in nodes.strings(constraint.get("keys")):
                if key in columns:
                    _small_key(columns[key], ctx, table)


def column(column: Node, ctx: Context, table: str | None) -> None:
    _column(column, ctx, table)


def _column(column: Node, ctx: Context, table: str | None) -> None:
    names = nodes.type_names(column)
    if not names:
        return
    where = (column.get("typeName") or {}).get("location")
    label = f"{table}.{column.get('colname')}" if table else str(column.get("colname") or "")
    if nodes.is_catalog_type(names, "bpchar"):
        ctx.report("ban-char-field", where, f"{label} is char(n): it pads with spaces")
    elif nodes.is_catalog_type(names, "timestamp"):
        ctx.report("prefer-timestamptz", where, f"{label} is timestamp without time zone")
    if nodes.is_serial(names):
        ctx.report(
            "prefer-identity", where, f"{label} is {names[0]}: use an identity column instead"
        )
    if "CONSTR_PRIMARY" in nodes.constraint_types(column):
        _small_key(column, ctx, table)


def _small_key(column: Node, ctx: Context, table: str | None) -> None:
    names = nodes.type_names(column)
    if nodes.is_small_integer(names):
        label = f"{table}.{column.get('colname')}" if table else str(column.get("colname"))
        ctx.report(
            "prefer-bigint-primary-key",
            (column.get("typeName") or {}).get("location"),
            f"primary key {label} is {names[-1]}: it runs out at 2^31 (or 2^15)",
        )
