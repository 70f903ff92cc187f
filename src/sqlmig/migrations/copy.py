"""``COPY ... FROM stdin`` in a migration: the file cut into SQL pieces and COPY blocks.

    body ─▶ blocks(body) ─▶ [Statement (SQL) | CopyBlock (statement + its rows)] in order
    CopyBlock ─▶ stream(cursor, body, block)   (psycopg's COPY, the rows in chunks)

As under ``psql -f``: a ``COPY ... FROM stdin;`` statement is followed, from
the next line, by its rows, which end at a line holding only ``\\.``. The rows
are not SQL, so the parser reads only the text between blocks; a COPY is found
where a statement starts (PostgreSQL's lexer says where that is) and confirmed
by the parser (a ``CopyStmt`` reading from stdin). The rows are sent as they
are in the file, slice by slice: no second copy of a large data file is made.
"""

from __future__ import annotations

import json
import re
from collections.abc import Callable
from dataclasses import dataclass
from typing import TYPE_CHECKING

from psycopg import sql

from sqlmig.migrations import statements as stmts

if TYPE_CHECKING:
    from psycopg import Cursor

#: Characters sent per write: large enough for few calls, small enough to stay flat.
CHUNK = 1 << 20

_CANDIDATE = re.compile(r"^[ \t]*(copy)\b", re.IGNORECASE | re.MULTILINE)
_COMMENTS = frozenset({"SQL_COMMENT", "C_COMMENT"})
_CONTEXT_LINE = re.compile(r"\bCOPY [^,]+, line (\d+)")


@dataclass(frozen=True)
class CopyBlock:
    """A ``COPY ... FROM stdin`` statement and where its rows are in the file's text."""

    offset: int  # of the COPY statement
    text: str  # the statement, without its semicolon
    data_start: int  # first character of the first row
    data_end: int  # first character of the ``\\.`` line


Block = stmts.Statement | CopyBlock


class CopyProblem(Exception):
    """A COPY block that cannot be read (no ``\\.``, text after the semicolon)."""

    def __init__(self, offset: int, message: str) -> None:
        super().__init__(message)
        self.offset = offset
        self.message = message


def has_copy(body: str) -> bool:
    """A cheap look first: nearly no file has ``stdin`` in it (no lower-cased copy of a
    large file; another spelling is left to the refusal in :mod:`statements`)."""
    return any(word in body for word in ("stdin", "STDIN", "Stdin")) and (
        _CANDIDATE.search(body) is not None
    )


def blocks(body: str) -> list[CopyBlock | tuple[int, str]] | None:
    """The file in order: SQL pieces (start offset, text) and COPY blocks; None without COPY.

    A SQL piece is returned as ``(offset, text)`` for the executor to split
    with the parser (so the usual checks apply to it). Raises
    :class:`CopyProblem` for a COPY block whose end is missing.
    """
    if not has_copy(body):
        return None
    out: list[CopyBlock | tuple[int, str]] = []
    pos = 0
    search_from = 0
    found_any = False
    while True:
        match = _CANDIDATE.search(body, search_from)
        if match is None:
            break
        start = match.start(1)
        copy = _copy_at(body, pos, start)
        if copy is None:
            search_from = match.end()
            continue
        found_any = True
        if body[pos:start].strip():
            out.append((pos, body[pos:start]))
        out.append(copy)
        newline = body.find("\n", copy.data_end)
        pos = search_from = len(body) if newline < 0 else newline + 1
    if not found_any:
        return None
    if body[pos:].strip():
        out.append((pos, body[pos:]))
    return out


def _copy_at(body: str, pos: int, start: int) -> CopyBlock | None:
    """The COPY FROM stdin block starting at ``start``, or None when it is not one."""
    found = statement_at(body, pos, start)
    if found is None:
        return None
    text, data_start = found
    end = _end_of_data(body, data_start)
    if end is None:
        raise CopyProblem(start, MISSING_END)
    return CopyBlock(start, text, data_start, end)


MISSING_END = (
    "COPY ... FROM stdin without its end: its rows must end with a line holding only "
    "\\. (as pg_dump writes it). Add that line after the last row."
)


def is_candidate(line: str) -> bool:
    """Could a COPY statement start on this line (a cheap look before the lexer's)?"""
    return _CANDIDATE.match(line) is not None


def starts_statement(body: str, pos: int, start: int) -> bool:
    """Is ``start`` where a statement begins? The lexer reads the SQL from ``pos`` to it."""
    from pglast import parser

    try:
        tokens = [t for t in parser.scan(body[pos:start]) if t.name not in _COMMENTS]
    except parser.ParseError:
        return False  # inside a quote or comment
    return not tokens or tokens[-1].name == "ASCII_59"  # else inside a statement


def statement_at(body: str, pos: int, start: int) -> tuple[str, int] | None:
    """A ``COPY ... FROM stdin`` statement at ``start`` (SQL since ``pos`` before it):
    its text and where its rows start; None when it is not one. ``body`` must reach
    past the statement's line; the rows are not read."""
    from pglast import parser

    if not starts_statement(body, pos, start):
        return None
    semicolon = statement_end(body, start)
    if semicolon is None:
        return None
    text = body[start:semicolon]
    try:
        tree = json.loads(parser.parse_sql_json(text))
    except parser.ParseError:
        return None
    node = tree["stmts"][0]["stmt"].get("CopyStmt") if len(tree.get("stmts", [])) == 1 else None
    if not node or not node.get("is_from") or "filename" in node or node.get("is_program"):
        return None
    line_end = body.find("\n", semicolon)
    line_end = len(body) if line_end < 0 else line_end
    rest = body[semicolon + 1 : line_end].strip()
    if rest and not rest.startswith("--"):
        raise CopyProblem(
            semicolon + 1,
            "text after COPY ... FROM stdin; on its line: its rows start on the next line "
            "(as under psql). Move the text to a line of its own after the rows' \\. line.",
        )
    return text, min(len(body), line_end + 1)


def _end_of_data(body: str, start: int) -> int | None:
    """Offset of the ``\\.`` line at or after ``start`` (str.find: fast on large files)."""
    if body.startswith("\\.", start) and _ends_line(body, start + 2):
        return start  # no rows
    at = start
    while True:
        at = body.find("\n\\.", at)
        if at < 0:
            return None
        if _ends_line(body, at + 3):
            return at + 1
        at += 1


def _ends_line(body: str, at: int) -> bool:
    return (
        at == len(body)
        or body[at] == "\n"
        or body.startswith("\r\n", at)
        or (body[at] == "\r" and at + 1 == len(body))
    )


def statement_end(body: str, start: int) -> int | None:
    """Offset of the semicolon ending the statement at ``start`` (lexed a line at a time)."""
    from pglast import parser

    end = start
    for _ in range(200):  # a COPY statement is a few lines at most
        newline = body.find("\n", end)
        end = len(body) if newline < 0 else newline + 1
        try:
            tokens = parser.scan(body[start:end])
        except parser.ParseError:
            if end >= len(body):
                return None
            continue  # a quote spans lines
        for token in tokens:
            if token.name == "ASCII_59":
                return start + int(token.start)
        if end >= len(body):
            return None
    return None


def as_statement(item: Block) -> stmts.Statement:
    """What a progress line shows for ``item``: the statement (for a block, its COPY)."""
    return item if isinstance(item, stmts.Statement) else stmts.Statement(item.offset, item.text)


def stream(
    cur: Cursor[tuple[object, ...]],
    body: str,
    block: CopyBlock,
    on_rows: Callable[[int], None] | None = None,
) -> int:
    """Send ``block``'s rows through COPY, a chunk at a time; the number of rows loaded.

    ``on_rows(lines)`` after each chunk: the lines sent so far (a progress figure)."""
    lines = 0
    with cur.copy(block.text) as copy:
        for at in range(block.data_start, block.data_end, CHUNK):
            chunk = body[at : min(at + CHUNK, block.data_end)]
            copy.write(chunk)
            if on_rows is not None:
                lines += chunk.count("\n")
                on_rows(lines)
    return max(cur.rowcount, 0)


def row_number(context: str | None) -> int | None:
    """The line of a COPY's rows the server names in its CONTEXT ("COPY t, line N")."""
    match = _CONTEXT_LINE.search(context or "")
    return int(match.group(1)) if match else None


def row_offset(body: str, block: CopyBlock, context: str | None) -> int | None:
    """Where the row the server names ("COPY t, line N") starts in the file, or None."""
    row = row_number(context)
    if row is None:
        return None
    at = block.data_start
    for _ in range(row - 1):
        newline = body.find("\n", at, block.data_end)
        if newline < 0:
            return None
        at = newline + 1
    return at


#: Between the statements of one ledger change (the ledger row, then its history row).
THEN = sql.SQL(";\n")
