"""RAISE placeholder counts in plpgsql bodies, and identifiers over 63 bytes.

PL/pgSQL's own grammar (``pglast.parser.parse_plpgsql_json``, the server's
``pl_gram.y``) refuses a RAISE whose ``%`` count differs from its arguments,
as the server does at CREATE FUNCTION time, but without a position. So the
body is split into tokens with PostgreSQL's scanner, and each ``RAISE ...;``
is parsed alone to find the one that fails.

The server truncates long identifiers before the parse tree sees them (with a
NOTICE nobody reads), so their length is checked on the scanner's tokens.
"""

from __future__ import annotations

from sqlmig.lint import nodes
from sqlmig.lint.context import Context
from sqlmig.lint.nodes import Node

_RAISE_ERRORS = (
    "too few parameters specified for RAISE",
    "too many parameters specified for RAISE",
)
NAMEDATALEN = 64


def create_function(node: Node, ctx: Context) -> None:
    if nodes.function_language(node.get("options")) == "plpgsql":
        _check_raise(ctx)


def do_block(node: Node, ctx: Context) -> None:
    if nodes.function_language(node.get("args")) in (None, "plpgsql"):
        _check_raise(ctx)


def _check_raise(ctx: Context) -> None:
    from pglast import parser

    text = ctx.text
    if "raise" not in text.lower():
        return
    try:
        parser.parse_plpgsql_json(text)
    except parser.ParseError as exc:
        message = str(exc.args[0])
        if message not in _RAISE_ERRORS:
            return  # other body errors are the server's to word (and `sqlmig check`'s)
        ctx.report_at(
            "raise-placeholder-mismatch",
            _failing_raise(text) or 0,
            f"{message} (the % count differs)",
        )


def _failing_raise(text: str) -> int | None:
    """Character offset of the RAISE in ``text`` that the plpgsql grammar refuses."""
    from pglast import parser

    for token in parser.scan(text):
        if token.name != "SCONST" or not text.startswith("$", token.start):
            continue
        literal = text[token.start : token.end + 1]
        tag_end = literal.index("$", 1) + 1
        body_start = token.start + tag_end
        body = literal[tag_end : len(literal) - tag_end]
        found = _failing_raise_in_body(body)
        if found is not None:
            return body_start + found
    return None


def _failing_raise_in_body(body: str) -> int | None:
    from pglast import parser

    try:
        tokens = parser.scan(body)
    except parser.ParseError:
        return None
    for index, token in enumerate(tokens):
        if token.name != "IDENT" or body[token.start : token.end + 1].lower() != "raise":
            continue
        end = next((t.end for t in tokens[index:] if t.name == "ASCII_59"), len(body) - 1)
        statement = body[token.start : end + 1]
        tag = "$sqlmig_probe$"
        if tag in statement:
            continue
        try:
            parser.parse_plpgsql_json(f"DO {tag}BEGIN {statement} END{tag}")
        except parser.ParseError as exc:
            if str(exc.args[0]) in _RAISE_ERRORS:
                return int(token.start)
    return None


def long_identifiers(body: str) -> list[tuple[int, str]]:
    """(character offset, name) of each identifier longer than 63 bytes."""
    from pglast import parser

    # Cheap first: no whitespace-free run can be that long, so no identifier is.
    threshold = NAMEDATALEN if body.isascii() else NAMEDATALEN // 4
    if max(map(len, body.split()), default=0) < threshold:
        return []
    found = []
    for token in parser.scan(body):
        if token.name != "IDENT":
            continue
        raw = body[token.start : token.end + 1]
        name = raw[1:-1].replace('""', '"') if raw.startswith('"') else raw.lower()
        if len(name.encode("utf-8")) >= NAMEDATALEN:
            found.append((int(token.start), name))
    return found
