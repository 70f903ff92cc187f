"""Reading pglast's JSON parse tree: names, types, function calls, constraint shapes.

The tree is PostgreSQL's own (``parse_sql_json``): keys are the server's node
and field names, names are already case-folded, and ``location`` fields are
byte offsets into the parsed text.
"""

from __future__ import annotations

from collections.abc import Iterator
from typing import Any

Node = dict[str, Any]

#: Functions whose value differs per row: as an ADD COLUMN default, every row is rewritten.
VOLATILE_FUNCTIONS = frozenset(
    {
        "clock_timestamp",
        "random",
        "random_normal",
        "gen_random_uuid",
        "uuidv4",
        "uuidv7",
        "uuid_generate_v1",
        "uuid_generate_v1mc",
        "uuid_generate_v4",
        "timeofday",
        "nextval",
        "txid_current",
        "pg_current_xact_id",
    }
)
SERIAL_TYPES = frozenset({"serial", "serial4", "bigserial", "serial8", "smallserial", "serial2"})
_SMALL_SERIALS = frozenset({"serial", "serial4", "smallserial", "serial2"})
_SMALL_INTS = frozenset({"int4", "int2", "integer", "int", "smallint"})


def strings(items: list[Node] | None) -> list[str]:
    """The ``sval`` of each ``String`` node in a name list."""
    return [i["String"]["sval"] for i in items or () if "String" in i]


def relname(node: Node | None) -> str | None:
    """The table name of a ``RangeVar`` (schema left out, as a migration usually does)."""
    if not node:
        return None
    return str(node.get("relname")) if node.get("relname") else None


def type_names(column: Node) -> list[str]:
    return strings((column.get("typeName") or {}).get("names"))


def is_catalog_type(names: list[str], name: str) -> bool:
    """``pg_catalog.<name>``: what the grammar makes of ``char(n)``, ``timestamp`` ..."""
    return names == ["pg_catalog", name]


def is_small_integer(names: list[str]) -> bool:
    if len(names) == 2 and names[0] == "pg_catalog":
        return names[1] in ("int4", "int2")
    return len(names) == 1 and (names[0] in _SMALL_INTS or names[0] in _SMALL_SERIALS)


def is_serial(names: list[str]) -> bool:
    return len(names) == 1 and names[0] in SERIAL_TYPES


def constraints(column: Node) -> list[Node]:
    return [c["Constraint"] for c in column.get("constraints") or () if "Constraint" in c]


def constraint_types(column: Node) -> set[str]:
    return {str(c.get("contype")) for c in constraints(column)}


def default_expression(column: Node) -> Node | None:
    for constraint in constraints(column):
        if constraint.get("contype") == "CONSTR_DEFAULT":
            expr = constraint.get("raw_expr")
            return expr if isinstance(expr, dict) else None
    return None


def function_calls(node: Any) -> Iterator[Node]:
    """Every ``FuncCall`` in an expression tree."""
    if isinstance(node, list):
        for item in node:
            yield from function_calls(item)
    elif isinstance(node, dict):
        call = node.get("FuncCall")
        if isinstance(call, dict):
            yield call
        for value in node.values():
            if isinstance(value, dict | list):
                yield from function_calls(value)


def volatile_call(expr: Node | None) -> Node | None:
    """The first call to a known volatile function in ``expr``, or None."""
    for call in function_calls(expr):
        names = strings(call.get("funcname"))
        if names and names[-1] in VOLATILE_FUNCTIONS:
            return call
    return None


def not_null_columns(expr: Node | None) -> set[str]:
    """Columns a CHECK expression proves NOT NULL: ``col IS NOT NULL [AND ...]``."""
    if not expr:
        return set()
    test = expr.get("NullTest")
    if test is not None:
        ref = (test.get("arg") or {}).get("ColumnRef")
        names = strings(ref.get("fields")) if ref else []
        if test.get("nulltesttype") == "IS_NOT_NULL" and len(names) == 1:
            return {names[0]}
        return set()
    boolean = expr.get("BoolExpr")
    if boolean is not None and boolean.get("boolop") == "AND_EXPR":
        found: set[str] = set()
        for arg in boolean.get("args") or ():
            found |= not_null_columns(arg)
        return found
    return set()


def def_names(options: list[Node] | None) -> set[str]:
    """The ``defname`` of each ``DefElem`` in an option list (VACUUM, REINDEX ...)."""
    return {str(o["DefElem"].get("defname")) for o in options or () if "DefElem" in o}


def function_language(options: list[Node] | None) -> str | None:
    for option in options or ():
        elem = option.get("DefElem") or {}
        if elem.get("defname") == "language":
            return str((elem.get("arg") or {}).get("String", {}).get("sval", "")).lower()
    return None


def sets_lock_timeout(kind: str, node: Node) -> bool | None:
    """True when a statement sets a non-zero ``lock_timeout``, False when it clears it."""
    if kind == "VariableSetStmt":
        if node.get("name") != "lock_timeout":
            return None
        if node.get("kind") != "VAR_SET_VALUE":
            return False  # RESET, SET ... TO DEFAULT: back to the server's (usually 0)
        args = node.get("args") or [{}]
        value = args[0].get("A_Const", {})
        return _nonzero(value)
    if kind == "SelectStmt":
        for call in function_calls(node.get("targetList")):
            args = call.get("args") or []
            name = strings(call.get("funcname"))
            if name and name[-1] == "set_config" and len(args) >= 2:
                first = args[0].get("A_Const", {}).get("sval", {}).get("sval")
                if str(first).lower() == "lock_timeout":
                    return _nonzero(args[1].get("A_Const", {}))
    return None


def _nonzero(const: Node) -> bool:
    if "ival" in const:
        return bool(const["ival"].get("ival", 0))
    text = str(const.get("sval", {}).get("sval", "")).strip()
    return bool(text) and text.rstrip("mshinud ").strip("0.") != ""
