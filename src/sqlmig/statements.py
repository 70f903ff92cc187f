"""Where things are in a migration's text: statements, lines, columns, excerpts.

Files are split into statements with PostgreSQL's own parser (pglast), so each
statement is sent on its own (as psql does) and a server error position --
counted in characters from the start of the statement -- maps back to an exact
``line:column`` of the file. When pglast cannot parse a file (a syntax error,
or syntax newer than pglast), it is sent whole, and the server's position is
already relative to the whole text.
"""

from __future__ import annotations

import re
from dataclasses import dataclass

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


_TX_WORD = re.compile(
    r"\b(begin|commit|rollback|end|abort|start\s+transaction|prepare\s+transaction)\b",
    re.IGNORECASE,
)


def may_control_transactions(body: str) -> bool:
    """Cheap pre-check: only files with such a word anywhere need splitting to be sure."""
    return _TX_WORD.search(body) is not None


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
    lines = body.split("\n")
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
