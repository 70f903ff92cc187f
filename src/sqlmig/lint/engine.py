"""Linting a run of files: parse each once, run the checks, apply config and waivers.

    source text ─▶ waivers.read (directives, waivers) ─▶ pglast parse_sql_json (once)
      ─▶ each statement's checks (ddl, style, plpgsql) over one shared RunState
      ─▶ identifiers (scanner) ─▶ severities (config) ─▶ waivers ─▶ findings

A file that does not parse gets one ``syntax-error`` finding, with the
position PostgreSQL's parser gives (:func:`sqlmig.migrations.statements.parse_error`).
"""

from __future__ import annotations

import json
from collections.abc import Iterable
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from sqlmig.lint import ddl, plpgsql, waivers
from sqlmig.lint.config import LintConfig
from sqlmig.lint.context import Context, Report, RunState
from sqlmig.lint.rules import RULES
from sqlmig.migrations.statements import lexical_error, line_column, parse_error

CHECKS: dict[str, list[ddl.Check]] = {
    **ddl.CHECKS,
    "CreateFunctionStmt": [plpgsql.create_function],
    "DoStmt": [plpgsql.do_block],
}


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
    encoded = body.encode("utf-8")
    header = waivers.read(body, encoded)
    ctx = Context(
        run,
        encoded,
        transactional="no-transaction" not in header.directives,
        mentions_lock_timeout=b"lock_timeout" in encoded,
    )
    try:
        tree = json.loads(parser.parse_sql_json(body))
    except parser.ParseError:
        offset, message = lexical_error(body) or parse_error(body) or (0, "cannot parse")
        return [_finding(source, config, "syntax-error", offset, message, chars=True)]
    spans: list[tuple[int, int]] = []
    check_raise = config.severity("raise-placeholder-mismatch") is not None
    statements: list[dict[str, Any]] = tree.get("stmts", [])
    for item in statements:
        start = item.get("stmt_location", 0)
        ctx.start = start
        ctx.end = start + item["stmt_len"] if "stmt_len" in item else len(encoded)
        spans.append((ctx.start, ctx.end))
        ((kind, node),) = item["stmt"].items()
        for check in CHECKS.get(kind, ()):
            if check_raise or kind not in ("CreateFunctionStmt", "DoStmt"):
                check(node, ctx)
    if config.severity("identifier-too-long") is not None:
        for at, name in plpgsql.long_identifiers(body):
            size = len(name.encode("utf-8"))
            offset = at if len(body) == len(encoded) else len(body[:at].encode("utf-8"))
            ctx.reports.append(
                Report(
                    "identifier-too-long",
                    offset,
                    f"identifier {name[:20]}... is {size} bytes; PostgreSQL keeps the first 63",
                )
            )
    ignored = waivers.attach(header.waivers, spans, encoded)
    live = [w for w in header.waivers if w not in ignored]
    findings = []
    for report in sorted(ctx.reports, key=lambda r: r.offset):
        if config.severity(report.rule) is None:
            continue
        waiver = next((w for w in live if w.covers(report.rule, report.offset)), None)
        if waiver is not None and RULES[report.rule].waivable:
            waiver.used.add(report.rule)
            continue
        findings.append(_finding(source, config, report.rule, report.offset, report.message))
    for waiver in live:
        findings.extend(_waiver_findings(source, config, waiver))
    findings = [f for f in findings if f.severity]
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
        _finding(source, config, rule, waiver.offset, message)
        for rule, message in out
        if config.severity(rule) is not None
    ]


def _finding(
    source: Source, config: LintConfig, rule: str, offset: int, message: str, *, chars: bool = False
) -> Finding:
    body = source.body
    if not chars and not body.isascii():
        offset = len(body.encode("utf-8")[:offset].decode("utf-8", "ignore"))
    line, column = line_column(body, offset)
    severity = config.severity(rule) or ""
    return Finding(source.path, line, column, rule, severity, message, RULES[rule].fix)
