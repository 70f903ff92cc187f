"""``[tool.sqlmig.lint]``: which rules run, and how severe their findings are.

    [tool.sqlmig.lint]
    enable = ["prefer-timestamptz", "prefer-identity"]   # opt-in rules, or "all"
    disable = ["require-lock-timeout"]
    severity = { ban-drop-column = "warning" }           # error, warning or off

Read from the pyproject.toml that :func:`sqlmig.core.config.find_pyproject`
finds, as the rest of sqlmig's settings are. An unknown key, rule id or
severity is a usage error (exit 2): a typo must not switch a rule off.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from sqlmig.core.errors import UsageError
from sqlmig.lint.rules import RULES, SEVERITIES

_KEYS = frozenset({"enable", "disable", "severity"})
_OFF = "off"


@dataclass(frozen=True)
class LintConfig:
    """Each enabled rule's severity; a rule not in it does not run."""

    severities: Mapping[str, str]
    source: str = "defaults"

    def severity(self, rule: str) -> str | None:
        return self.severities.get(rule)


def defaults() -> LintConfig:
    return LintConfig({r.id: r.severity for r in RULES.values() if r.enabled})


def from_table(table: Mapping[str, Any], source: str) -> LintConfig:
    """A config from a ``[tool.sqlmig.lint]`` table (already parsed)."""
    unknown = set(table) - _KEYS
    if unknown:
        raise UsageError(
            f"{source}: unknown [tool.sqlmig.lint] key(s): {', '.join(sorted(unknown))}; "
            f"known: {', '.join(sorted(_KEYS))}."
        )
    severities = dict(defaults().severities)
    for rule in _rule_list(table, "enable", source):
        severities[rule] = RULES[rule].severity
    every = "all" in table.get("disable", [])
    for rule in _rule_list(table, "disable", source):
        if not (every and rule == "syntax-error"):
            _refuse_syntax(rule, source)
            severities.pop(rule, None)
    levels = table.get("severity", {})
    if not isinstance(levels, dict):
        raise UsageError(f"{source}: [tool.sqlmig.lint] severity must be a table of rule = level.")
    for rule, level in levels.items():
        _known(rule, source)
        if level not in (*SEVERITIES, _OFF):
            raise UsageError(
                f"{source}: severity of {rule} is {level!r}; use one of error, warning, off."
            )
        if level == _OFF:
            _refuse_syntax(rule, source)
            severities.pop(rule, None)
        else:
            severities[rule] = level
    return LintConfig(severities, source)


def load(start: Path) -> LintConfig:
    """The config of the project ``start`` is in (defaults without a pyproject or table)."""
    import tomllib

    from sqlmig.core.config import find_pyproject

    pyproject = find_pyproject(start)
    if pyproject is None:
        return defaults()
    try:
        data = tomllib.loads(pyproject.read_text(encoding="utf-8"))
    except (tomllib.TOMLDecodeError, UnicodeDecodeError) as exc:
        raise UsageError(f"{pyproject}: cannot read it as TOML: {exc}") from exc
    table = data.get("tool", {}).get("sqlmig", {}).get("lint")
    if table is None:
        return defaults()
    if not isinstance(table, dict):
        raise UsageError(f"{pyproject}: [tool.sqlmig.lint] must be a table.")
    return from_table(table, str(pyproject))


def _rule_list(table: Mapping[str, Any], key: str, source: str) -> list[str]:
    value = table.get(key, [])
    if not isinstance(value, list) or not all(isinstance(v, str) for v in value):
        raise UsageError(f"{source}: [tool.sqlmig.lint] {key} must be a list of rule ids.")
    if "all" in value:
        return list(RULES)
    for rule in value:
        _known(rule, source)
    return list(value)


def _known(rule: str, source: str) -> None:
    if rule not in RULES:
        raise UsageError(
            f"{source}: unknown lint rule {rule!r} in [tool.sqlmig.lint]; "
            "`sqlmig lint --rules` lists them."
        )


def _refuse_syntax(rule: str, source: str) -> None:
    if rule == "syntax-error":
        raise UsageError(f"{source}: syntax-error cannot be turned off: nothing else ran there.")
