"""Where things are in a migration's text: statements, lines, columns, excerpts.

Files are split into statements with PostgreSQL's own parser (pglast), so each
statement is sent on its own (as psql does) and a server error position --
counted in characters from the start of the statement -- maps back to an exact
``line:column`` of the file. When pglast cannot parse a file (a syntax error,
or syntax newer than pglast), it is sent whole, and the server's position is
already relative to the whole text.

The parser assumes ``standard_conforming_strings = on`` and UTF-8; sqlmig's
sessions are pinned to both (:data:`PINNED_SETTINGS`), and a file that changes
them is refused, so the parser and the server always read the same text.
"""

from __future__ import annotations

import json
import re
from dataclasses import dataclass
from typing import Any

from sqlmig.core.config import PINNED_SETTINGS

#: Session settings the parser's reading of a file depends on, pinned for every
#: sqlmig session (startup options) and never changed by a migration.
_PINNED_HINTS = ("standard_conforming_strings", "client_encoding", "names")
_PINNED_WORDS = re.compile(r"standard_conforming_strings|client_encoding|\bnames\b", re.I)

_TX_CONTROL = re.compile(
    r"^(begin|commit|rollback|end|abort|start\s+transaction|prepare\s+transaction)\b",
    re.IGNORECASE,
)


@dataclass(frozen=True)
class Statement:
    offset: int  # character offset of the statement in the file's text
    text: str


def split(body: str) -> list[Statement] | None:
    """The statements of ``body``, or None when the parser rejects it."""
    from pglast import parser

    try:
        slices = parser.split(body, with_parser=True, only_slices=True)
    except parser.ParseError:
        return None
    return [Statement(s.start, body[s]) for s in slices]


def lexical_error(body: str) -> tuple[int, str] | None:
    """Where the text stops being tokens (an unterminated quote, comment, ...), or None.

    The lexer is the same in every server version, so such a file fails
    everywhere; and sent together with its ledger row, its open quote would
    swallow that row's text.
    """
    from pglast import parser

    try:
        parser.scan(body)
    except parser.ParseError as exc:
        message, location = exc.args[0], exc.args[1] if len(exc.args) > 1 else 0
        return int(location), str(message)
    return None


def parse_error(body: str) -> tuple[int, str] | None:
    """The parser's complaint about ``body`` (position and message), or None."""
    from pglast import parser

    try:
        parser.split(body, with_parser=True, only_slices=True)
    except parser.ParseError as exc:
        message, location = exc.args[0], exc.args[1] if len(exc.args) > 1 else 0
        return int(location), str(message)
    return None


_TX_TOKENS = frozenset({"BEGIN_P", "COMMIT", "ROLLBACK", "END_P", "ABORT_P", "START", "PREPARE"})
_COMMENTS = frozenset({"SQL_COMMENT", "C_COMMENT"})


def scanned_transaction_control(body: str) -> int | None:
    """Offset of a statement that may start or end a transaction, from tokens alone.

    For files the parser cannot read (newer syntax): conservative, since a
    ``BEGIN ATOMIC ... END`` body also counts.
    """
    from pglast import parser

    at_start = True
    for token in parser.scan(body):
        if token.name in _COMMENTS:
            continue
        if at_start and token.name in _TX_TOKENS:
            return int(token.start)
        at_start = token.name == "ASCII_59"
    return None


_META_COMMAND = re.compile(r"^[ \t]*\\([a-zA-Z!?]+)", re.MULTILINE)
_COPY_STDIN = re.compile(r"\bcopy\b[^;]*?\bfrom\s+stdin\b", re.IGNORECASE | re.DOTALL)


def client_side(body: str, statements: list[Statement] | None) -> tuple[int, str] | None:
    """A psql meta-command or COPY ... FROM stdin: things only a client can run."""
    if statements is None:
        meta = _META_COMMAND.search(body)
        if meta is not None:
            word = meta.group(1)
            return meta.start(1) - 1, (
                f"\\{word} is a psql command, not SQL: sqlmig sends each file to the server as "
                "it is. Connect with --dsn instead of \\connect, write values in place of "
                "\\set variables, and put an \\i file's SQL in a migration of its own."
            )
    if "stdin" not in body.lower():
        return None
    candidates = statements if statements is not None else [Statement(0, body)]
    for statement in candidates:
        copy = _COPY_STDIN.search(statement.text)
        if copy is not None and (statements is None or copy.start() == 0):
            return statement.offset + copy.start(), (
                "COPY ... FROM stdin must start a line of its own, end with its semicolon on "
                "that line or a later one, and be followed by its rows and a \\. line (as "
                "pg_dump writes it); sqlmig then streams the rows."
            )
    return None


def pinned_setting_change(body: str, statements: list[Statement]) -> Statement | None:
    """The first statement of ``body`` that sets or resets a :data:`PINNED_SETTINGS` entry."""
    from pglast import parser

    # A cheap look at the whole text first: nearly every file has none of the words.
    lowered = body.lower()
    if not any(word in lowered for word in _PINNED_HINTS):
        return None
    for statement in statements:
        if not _PINNED_WORDS.search(statement.text):
            continue
        tree = json.loads(parser.parse_sql_json(statement.text))
        if _changes_pinned(tree):
            return statement
    return None


def concurrent_index(statement: Statement) -> tuple[str | None, str, str | None] | None:
    """(schema, table, index name) of a CREATE INDEX CONCURRENTLY, else None."""
    if not _CONCURRENT_INDEX.match(statement.text):
        return None
    from pglast import parser

    try:
        tree = json.loads(parser.parse_sql_json(statement.text))
    except parser.ParseError:
        return None
    node = tree["stmts"][0]["stmt"].get("IndexStmt") if tree.get("stmts") else None
    if not node or not node.get("concurrent"):
        return None
    relation = node["relation"]
    return relation.get("schemaname"), relation["relname"], node.get("idxname")


_CONCURRENT_INDEX = re.compile(r"\s*create\s+(unique\s+)?index\s+concurrently\b", re.I)


def _changes_pinned(node: Any) -> bool:
    if isinstance(node, list):
        return any(_changes_pinned(n) for n in node)
    if not isinstance(node, dict):
        return False
    setting = node.get("VariableSetStmt")
    if isinstance(setting, dict) and setting.get("name") in PINNED_SETTINGS:
        args = setting.get("args") or []
        value = _constant(args[0]) if len(args) == 1 else None
        # pg_dump's own "SET client_encoding = 'UTF8'" keeps what is pinned: harmless.
        return setting.get("kind") != "VAR_SET_VALUE" or not _same(setting["name"], value)
    call = node.get("FuncCall")
    if isinstance(call, dict):
        name = call.get("funcname", [{}])[-1].get("String", {}).get("sval")
        args = call.get("args") or []
        first = _constant(args[0]) if args else None
        if name == "set_config" and str(first).lower() in PINNED_SETTINGS:
            value = _constant(args[1]) if len(args) > 1 else None
            if not _same(str(first).lower(), value):
                return True
    return any(_changes_pinned(v) for v in node.values())


def _constant(node: Any) -> str | None:
    value = node.get("A_Const", {}).get("sval", {}).get("sval") if isinstance(node, dict) else None
    return value if isinstance(value, str) else None


def _same(name: str, value: str | None) -> bool:
    """``value`` is what sqlmig pins ``name`` to (spelt as the server would accept it)."""
    if value is None:
        return False
    spelt, pinned = value.lower().replace("-", ""), PINNED_SETTINGS[name].lower().replace("-", "")
    return spelt == pinned or (pinned == "on" and spelt in {"true", "yes", "1"})


def transaction_control(statements: list[Statement]) -> Statement | None:
    """The first BEGIN/COMMIT/ROLLBACK-like statement: it would break the per-file transaction."""
    return next((s for s in statements if _TX_CONTROL.match(s.text)), None)


def line_column(body: str, offset: int) -> tuple[int, int]:
    """1-based line and column of a character offset."""
    offset = max(0, min(offset, len(body)))
    line = body.count("\n", 0, offset) + 1
    column = offset - (body.rfind("\n", 0, offset) + 1) + 1
    return line, column


def excerpt(body: str, line: int, column: int, context: int = 2) -> str:
    """A few numbered lines around ``line`` with a caret under ``column``."""
    lines = body.replace("\r", "").split("\n")
    first, last = max(1, line - context), min(len(lines), line + context)
    width = len(str(last))
    out = []
    for number in range(first, last + 1):
        marker = ">" if number == line else " "
        out.append(f"{marker} {number:>{width}} | {lines[number - 1]}")
        if number == line:
            # Keep tabs so the caret lines up under tab-indented text.
            pad = "".join(c if c == "\t" else " " for c in lines[number - 1][: column - 1])
            out.append(f"  {' ' * width} | {pad}^")
    return "\n".join(out)


_TX_ADVICE = (
    " inside a migration: sqlmig already runs each file in its own transaction "
    "together with its ledger row. Remove it, or put `-- sqlmig: no-transaction` "
    "on the file's first line."
)
_PINNED_ADVICE = (
    " changes a setting sqlmig pins for the whole run ({names}): its parser and the server "
    "must read every file alike. Remove it (write E'...' strings for backslash escapes)."
)


def problem(
    body: str,
    statements: list[Statement] | None,
    *,
    transactional: bool,
    whole_file: bool = True,
) -> tuple[int, str] | None:
    """What is wrong with a file before it runs, as (offset, message), or None.

    ``statements`` None: the parser could not split it (the server then decides)."""
    client = client_side(body, statements)
    if client is not None:
        return client
    if statements is None:
        lexical = lexical_error(body)
        if lexical is not None:
            offset, message = lexical
            return offset, f"{message}: the file ends inside it; close it."
        if transactional:
            offset_tx = scanned_transaction_control(body)
            if offset_tx is not None:
                word = body[offset_tx:].split(None, 1)[0].upper()
                return offset_tx, word + _TX_ADVICE
        return None  # the server may know syntax the parser does not: it decides
    if not statements and whole_file:
        return 0, (
            "the file has no statements (an untouched scaffold?); write the migration, "
            "or delete the file."
        )
    if transactional and statements:
        bad = transaction_control(statements)
        if bad is not None:
            return bad.offset, bad.text.split()[0].upper() + _TX_ADVICE
    pinned = pinned_setting_change(body, statements)
    if pinned is not None:
        names = ", ".join(f"{k} = {v}" for k, v in PINNED_SETTINGS.items())
        return pinned.offset, pinned.text.split()[0].upper() + _PINNED_ADVICE.format(names=names)
    return None
