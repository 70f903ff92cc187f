"""Comparing two servers' deparse of one view when they are of different majors.

PostgreSQL 16 stopped qualifying column names in a view over a single relation
(``SELECT a FROM t`` where 15 prints ``SELECT t.a FROM t``). Across majors, a view's
definition is therefore compared as a parse tree (pglast: PostgreSQL's own parser),
without positions and, inside a SELECT over exactly one table, without the column
qualifiers. Between servers of one major the text is compared exactly.
"""

from __future__ import annotations

import json
from typing import Any

_POSITIONS = {"location", "stmt_len", "stmt_location"}


def same_query(a: str, b: str) -> bool:
    """Whether two deparsed queries are the same but for PostgreSQL 16's qualifiers."""
    from pglast import parser

    try:
        trees = [json.loads(parser.parse_sql_json(text))["stmts"] for text in (a, b)]
    except parser.ParseError:
        return False
    return bool(_strip(trees[0], False) == _strip(trees[1], False))


def _strip(node: Any, single: bool) -> Any:
    if isinstance(node, list):
        return [_strip(item, single) for item in node]
    if not isinstance(node, dict):
        return node
    if "SelectStmt" in node:
        tables = node["SelectStmt"].get("fromClause", [])
        single = len(tables) == 1 and "RangeVar" in tables[0]
    if "ColumnRef" in node and single:
        fields = node["ColumnRef"]["fields"]
        return {"ColumnRef": {"fields": _strip(fields[-1:], single)}}
    return {k: _strip(v, single) for k, v in node.items() if k not in _POSITIONS}
