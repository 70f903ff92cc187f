"""Findings as text, JSON, GitHub workflow commands or SARIF 2.1.0.

text    file:line:col: rule-id message, then the one-line fix
json    {"findings": [...], "files": N, "errors": N, "warnings": N}
github  ::error file=…,line=…,col=…,title=rule-id::message (annotations on the PR)
sarif   one run of tool "sqlmig" with every rule's metadata, for code scanning
"""

from __future__ import annotations

import json
from collections.abc import Sequence
from pathlib import Path
from typing import Any

from sqlmig import __version__
from sqlmig.core.paths import display_path
from sqlmig.lint.engine import Finding
from sqlmig.lint.rules import RULES, WARNING

FORMATS = ("text", "json", "github", "sarif")
SARIF_SCHEMA = "https://json.schemastore.org/sarif-2.1.0.json"


def summary(findings: Sequence[Finding], files: int) -> dict[str, int]:
    errors = sum(1 for f in findings if f.severity != WARNING)
    return {"files": files, "errors": errors, "warnings": len(findings) - errors}


def text(findings: Sequence[Finding], files: int) -> str:
    lines = []
    for f in findings:
        level = " (warning)" if f.severity == WARNING else ""
        lines.append(f"{display_path(f.path)}:{f.line}:{f.column}: {f.rule}{level} {f.message}")
        lines.append(f"  fix: {f.fix}")
    counts = summary(findings, files)
    noun = "file" if files == 1 else "files"
    lines.append(
        f"{counts['errors']} error(s), {counts['warnings']} warning(s) in {files} {noun} linted."
    )
    return "\n".join(lines)


def as_json(findings: Sequence[Finding], files: int) -> dict[str, Any]:
    out: dict[str, Any] = {"findings": []}
    for f in findings:
        item = f.as_dict()
        item["path"] = display_path(f.path)
        out["findings"].append(item)
    out.update(summary(findings, files))
    return out


def github(findings: Sequence[Finding]) -> str:
    """GitHub Actions workflow commands: each finding annotates its line of the diff."""
    lines = []
    for f in findings:
        command = "warning" if f.severity == WARNING else "error"
        properties = ",".join(
            f"{key}={_escape_property(str(value))}"
            for key, value in (
                ("file", display_path(f.path)),
                ("line", f.line),
                ("col", f.column),
                ("title", f.rule),
            )
        )
        lines.append(f"::{command} {properties}::{_escape_data(f'{f.message}. Fix: {f.fix}')}")
    return "\n".join(lines)


def sarif(findings: Sequence[Finding], root: Path) -> dict[str, Any]:
    """A SARIF 2.1.0 log; paths are relative to ``root`` (the repository) when inside it."""
    ids = list(RULES)
    rules = [
        {
            "id": rule.id,
            "name": "".join(part.capitalize() for part in rule.id.split("-")),
            "shortDescription": {"text": rule.summary},
            "help": {"text": f"Fix: {rule.fix}", "markdown": f"**Fix:** {rule.fix}"},
            "helpUri": rule.help_uri,
            "defaultConfiguration": {"level": rule.severity, "enabled": rule.enabled},
        }
        for rule in RULES.values()
    ]
    results = [
        {
            "ruleId": f.rule,
            "ruleIndex": ids.index(f.rule),
            "level": f.severity,
            "message": {"text": f"{f.message}. Fix: {f.fix}"},
            "locations": [
                {
                    "physicalLocation": {
                        "artifactLocation": _artifact(f.path, root),
                        "region": {"startLine": f.line, "startColumn": f.column},
                    }
                }
            ],
        }
        for f in findings
    ]
    return {
        "$schema": SARIF_SCHEMA,
        "version": "2.1.0",
        "runs": [
            {
                "tool": {
                    "driver": {
                        "name": "sqlmig",
                        "version": __version__,
                        "informationUri": "https://github.com/sqlmig/sqlmig",
                        "rules": rules,
                    }
                },
                "columnKind": "unicodeCodePoints",
                "originalUriBaseIds": {"SRCROOT": {"uri": root.resolve().as_uri() + "/"}},
                "results": results,
            }
        ],
    }


def dumps(payload: dict[str, Any]) -> str:
    return json.dumps(payload, indent=2)


def _artifact(path: Path, root: Path) -> dict[str, str]:
    try:
        relative = path.resolve().relative_to(root.resolve())
    except ValueError:
        return {"uri": path.resolve().as_uri()}
    return {"uri": relative.as_posix(), "uriBaseId": "SRCROOT"}


def _escape_data(value: str) -> str:
    return value.replace("%", "%25").replace("\r", "%0D").replace("\n", "%0A")


def _escape_property(value: str) -> str:
    return _escape_data(value).replace(":", "%3A").replace(",", "%2C")
