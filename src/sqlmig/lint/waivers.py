"""A file's ``-- sqlmig:`` lines: its directives, and the lint waivers in it.

    -- sqlmig: no-transaction
    -- sqlmig: lint-ignore ban-drop-column reason="the column is unused since v2.3"

In the leading block of blank and ``--`` lines (where directives live) a
waiver covers the whole file; further down it covers the statement that
follows it, with only comment lines in between. Waivers are found by line
prefix, as files.py finds directives; everything else is PostgreSQL's parser.
"""

from __future__ import annotations

import io
import re
from bisect import bisect_right
from dataclasses import dataclass, field

_DIRECTIVE = re.compile(r"^--\s*sqlmig:\s*(?P<words>.*?)\s*$")
_WAIVER_LINE = re.compile(r"^[ \t]*--[ \t]*sqlmig:[ \t]*(?P<words>lint-ignore\b[^\r\n]*)", re.M)
_REASON = re.compile(r"""\breason\s*=\s*(?:"(?P<dq>[^"]*)"|'(?P<sq>[^']*)')""")
_WAIVER = "lint-ignore"


@dataclass
class Waiver:
    offset: int  # character offset of the comment
    rules: tuple[str, ...]
    reason: str | None
    file_level: bool
    #: The character span of the statement a statement-level waiver covers, once attached.
    span: tuple[int, int] | None = None
    used: set[str] = field(default_factory=set)

    def covers(self, rule: str, offset: int) -> bool:
        if rule not in self.rules:
            return False
        if self.file_level:
            return True
        return self.span is not None and self.span[0] <= offset < self.span[1]


@dataclass(frozen=True)
class Header:
    directives: frozenset[str] = frozenset()
    waivers: tuple[Waiver, ...] = ()


def read(body: str) -> Header:
    """The directives and waivers of a file."""
    if "sqlmig:" not in body:
        return Header()  # the common case, without splitting lines
    directives: set[str] = set()
    waivers: list[Waiver] = []
    leading_end = 0
    position = 0
    for line in io.StringIO(body):
        stripped = line.strip()
        if stripped and not stripped.startswith("--"):
            break
        leading_end = position + len(line)
        match = _DIRECTIVE.match(stripped)
        if match is not None:
            words = match["words"]
            if words.startswith(_WAIVER):
                waivers.append(_waiver(words, position, file_level=True))
            else:
                directives.update(w for w in re.split(r"[\s,]+", words) if w)
        position += len(line)
    if _WAIVER in body[leading_end:]:
        for found in _WAIVER_LINE.finditer(body, leading_end):
            waivers.append(_waiver(found["words"].strip(), found.start(), file_level=False))
    return Header(frozenset(directives), tuple(waivers))


def _waiver(words: str, offset: int, *, file_level: bool) -> Waiver:
    reason_match = _REASON.search(words)
    rest = words[len(_WAIVER) :]
    reason: str | None = None
    if reason_match is not None:
        reason = (
            reason_match["dq"] if reason_match["dq"] is not None else reason_match["sq"]
        ) or ""
        rest = words[len(_WAIVER) : reason_match.start()] + words[reason_match.end() :]
    rules = tuple(r for r in re.split(r"[\s,]+", rest) if r)
    return Waiver(offset, rules, reason.strip() or None if reason is not None else None, file_level)


def attach(waivers: tuple[Waiver, ...], spans: list[tuple[int, int]], body: str) -> list[Waiver]:
    """Tie each statement-level waiver to the statement right below it.

    Returns the waivers that sit inside a statement (a dollar-quoted body, say):
    text, not comments, so no waivers at all.
    """
    starts = [start for start, _ in spans]
    inside: list[Waiver] = []
    for waiver in waivers:
        if waiver.file_level:
            continue
        index = bisect_right(starts, waiver.offset)
        if index > 0 and spans[index - 1][1] > waiver.offset:
            inside.append(waiver)
            continue
        if index == len(spans):
            continue  # nothing follows: reported as unused
        between = body[waiver.offset : spans[index][0]].split("\n")
        # The waiver line, then only comment lines, then the statement's own line.
        if all(line.strip().startswith("--") for line in between[1:-1]) and not between[-1].strip():
            waiver.span = spans[index]
    return inside
