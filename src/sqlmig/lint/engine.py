"""Linting a run of files: parse each once, run the checks, apply config and waivers.

    source text ─▶ statements.split (pglast: every statement, or the syntax error)
      ─▶ waivers.read (directives, waivers) ─▶ parse_sql_json of the statements a
      check looks into ─▶ each statement's checks (ddl, style, plpgsql) over one shared RunState
      ─▶ identifiers (scanner) ─▶ severities (config) ─▶ waivers ─▶ findings

A file that does not parse gets one ``syntax-error`` finding, with the
position PostgreSQL's parser gives (:func:`sqlmig.migrations.statements.parse_error`).
"""

from __future__ import annotations

import json
from collections.abc import Iterable, Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from sqlmig.lint import ddl, plpgsql, waivers
from sqlmig.lint.config import LintConfig
from sqlmig.lint.context import Context, RunState
from sqlmig.lint.rules import RULES, STYLE_RULES
from sqlmig.migrations.statements import lexical_error, line_column, parse_error

CHECKS: dict[str, list[ddl.Check]] = {
    **ddl.CHECKS,
    "CreateFunctionStmt": [plpgsql.create_function],
    "DoStmt": [plpgsql.do_block],
}


#: Statement kinds no check looks into, not even for names (they create none).
_NO_NAMES = frozenset(
    {
        "InsertStmt",
        "UpdateStmt",
        "DeleteStmt",
        "MergeStmt",
        "CommentStmt",
        "GrantStmt",
        "GrantRoleStmt",
        "CopyStmt",
        "SelectStmt",
        "NotifyStmt",
        "ListenStmt",
        "ExplainStmt",
        "CallStmt",
    }
)
#: ... of which SELECT is checked after all when the file mentions lock_timeout (set_config).
_SKIP = _NO_NAMES
#: Kinds whose names are checked but whose tree no check reads.
_NO_TREE = frozenset(
    {"CreateTrigStmt", "ViewStmt", "CompositeTypeStmt", "CreateEnumStmt", "AlterEnumStmt"}
)
#: Between two statements in ``parse_sql_json``'s output. Only RawStmt has a
#: ``stmt`` field and RawStmts do not nest; inside a JSON string the quotes
#: would be escaped: so this never occurs anywhere else.
_BETWEEN = '},{"stmt":{"'
_FIRST = '"stmts":[{"stmt":{"'


def _pieces(raw: str) -> Iterator[tuple[str, str]]:
    """(kind, its JSON piece) of each statement in ``parse_sql_json``'s output.

    Most of a migration's parse tree is INSERT rows; cutting the parser's JSON
    at statement boundaries lets the checks decode only the statements they read.
    """
    first = raw.find(_FIRST)
    if first < 0:
        return
    # Strip the last item's "}" and the closing "]}": every piece then ends alike.
    for piece in raw[first + len(_FIRST) : -3].split(_BETWEEN):
        yield piece[: piece.index('"')], piece


class _Locator:
    """A piece's (start, end, start in bytes): characters into the body, walking forward."""

    def __init__(self, body: str) -> None:
        self.ascii = body.isascii()
        self.encoded = b"" if self.ascii else body.encode("utf-8")
        self.size = len(body) if self.ascii else len(self.encoded)
        self.done_bytes = self.done_chars = 0

    def __call__(self, piece: str) -> tuple[int, int, int]:
        start, length = _tail(piece)
        end = self.size if length is None else start + length
        if self.ascii:
            return start, end, start
        chars = self.done_chars + len(self.encoded[self.done_bytes : start].decode("utf-8"))
        self.done_bytes, self.done_chars = end, chars + len(self.encoded[start:end].decode("utf-8"))
        return chars, self.done_chars, start


def _tail(piece: str) -> tuple[int, int | None]:
    """(stmt_location, stmt_len) at a piece's end; absent: 0, and 'to the end'."""
    length: int | None = None
    at = piece.rfind(',"stmt_len":')
    if at >= 0 and piece[at + 12 :].isdigit():
        length, piece = int(piece[at + 12 :]), piece[:at]
    at = piece.rfind(',"stmt_location":')
    if at >= 0 and piece[at + 17 :].isdigit():
        return int(piece[at + 17 :]), length
    return 0, length


_DECODER = json.JSONDecoder()
_RELATION = '"relation":'


def _light(kind: str, piece: str, style: bool) -> dict[str, Any] | None:
    """The few fields the checks read of the commonest DDL, decoding only those.

    CREATE TABLE (without style rules) needs only its table, CREATE INDEX its
    table and CONCURRENTLY. The first ``"relation":`` key of both is the
    statement's own (the fields before it are names: a quote inside a JSON
    string is escaped), and ``concurrent`` is a field of no node an index
    definition holds. Anything else is decoded whole.
    """
    if kind == "IndexStmt" or (kind == "CreateStmt" and not style):
        at = piece.find(_RELATION)
        if at < 0:
            return None
        relation, _ = _DECODER.raw_decode(piece, at + len(_RELATION))
        return {"relation": relation, "concurrent": '"concurrent":true' in piece}
    return None


def _wrap(piece: str) -> str:
    return '{"stmt":{"' + piece + "}"


@dataclass(frozen=True)
class Source:
    """One file's text, as it runs (less a BOM)."""

    path: Path
    body: str
    #: Why the file could not be read as text: (line, column, message); the body is empty.
    unreadable: tuple[int, int, str] | None = None


@dataclass(frozen=True)
class Finding:
    path: Path
    line: int
    column: int
    rule: str
    severity: str
    message: str
    fix: str

    def as_dict(self) -> dict[str, object]:
        return {
            "path": str(self.path),
            "line": self.line,
            "column": self.column,
            "rule": self.rule,
            "severity": self.severity,
            "message": self.message,
            "fix": self.fix,
        }


def lint_run(sources: Iterable[Source], config: LintConfig) -> list[Finding]:
    """Findings of every file, in order: tables created by an earlier file are the run's own."""
    run = RunState()
    findings: list[Finding] = []
    for source in sources:
        findings.extend(lint_source(source, run, config))
    return findings


def lint_source(source: Source, run: RunState, config: LintConfig) -> list[Finding]:
    from pglast import parser

    body = source.body
    if source.unreadable is not None:
        line, column, message = source.unreadable
        fix = RULES["syntax-error"].fix
        return [Finding(source.path, line, column, "syntax-error", "error", message, fix)]
    try:
        raw = parser.parse_sql_json(body)
    except parser.ParseError:
        offset, message = lexical_error(body) or parse_error(body) or (0, "cannot parse")
        return [_finding(source, "syntax-error", offset, message, config)]
    header = waivers.read(body)
    ctx = Context(
        run,
        transactional="no-transaction" not in header.directives,
        mentions_lock_timeout="lock_timeout" in body,
        style=any(config.severity(rule) for rule in STYLE_RULES),
    )
    skip = _SKIP if not ctx.mentions_lock_timeout else _SKIP - {"SelectStmt"}
    check_raise = config.severity("raise-placeholder-mismatch") is not None
    check_names = config.severity("identifier-too-long") is not None
    need_spans = any(not w.file_level for w in header.waivers)
    spans = []
    locate = _Locator(body)
    for kind, piece in _pieces(raw):
        if kind in _NO_NAMES and not need_spans and kind in skip:
            continue  # INSERT, COMMENT ...: most of a file's bytes, and no check's business
        ctx.start, end, ctx.start_bytes = locate(piece)
        ctx.text = body[ctx.start : end]
        spans.append((ctx.start, end))
        if check_names and kind not in _NO_NAMES:
            for at, name in plpgsql.long_identifiers(ctx.text):
                size = len(name.encode("utf-8"))
                message = f"identifier {name[:20]}... is {size} bytes; PostgreSQL keeps 63"
                ctx.report_at("identifier-too-long", at, message)
        if kind in skip or kind in _NO_TREE:
            continue
        node = _light(kind, piece, ctx.style)
        if node is None:
            ((_, node),) = json.loads(_wrap(piece))["stmt"].items()
        for check in CHECKS.get(kind, ()):
            if check_raise or kind not in ("CreateFunctionStmt", "DoStmt"):
                check(node, ctx)
    ignored = waivers.attach(header.waivers, spans, body)
    live = [w for w in header.waivers if w not in ignored]
    findings = []
    for report in sorted(ctx.reports, key=lambda r: r.offset):
        if config.severity(report.rule) is None:
            continue
        waiver = next((w for w in live if w.covers(report.rule, report.offset)), None)
        if waiver is not None and RULES[report.rule].waivable:
            waiver.used.add(report.rule)
            continue
        findings.append(_finding(source, report.rule, report.offset, report.message, config))
    for waiver in live:
        findings.extend(_waiver_findings(source, config, waiver))
    findings.sort(key=lambda f: (f.line, f.column))
    return findings


def _waiver_findings(source: Source, config: LintConfig, waiver: waivers.Waiver) -> list[Finding]:
    out = []
    unknown = [r for r in waiver.rules if r not in RULES]
    if not waiver.rules:
        out.append(("invalid-waiver", "lint-ignore names no rule"))
    for rule in unknown:
        out.append(("invalid-waiver", f"lint-ignore names {rule!r}, which is no lint rule"))
    if waiver.reason is None:
        out.append(("waiver-missing-reason", 'this waiver gives no reason="..."'))
    for rule in waiver.rules:
        if rule in RULES and rule not in waiver.used and config.severity(rule) is not None:
            where = "in this file" if waiver.file_level else "in the statement below it"
            out.append(("unused-waiver", f"nothing {where} breaks {rule}"))
    return [
        _finding(source, rule, waiver.offset, message, config)
        for rule, message in out
        if config.severity(rule) is not None
    ]


def _finding(source: Source, rule: str, offset: int, message: str, config: LintConfig) -> Finding:
    line, column = line_column(source.body, offset)
    severity = config.severity(rule) or RULES[rule].severity
    return Finding(source.path, line, column, rule, severity, message, RULES[rule].fix)
