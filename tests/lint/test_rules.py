"""The rule corpus: tests/lint/cases/<rule-id>.sql is flagged exactly as its `-- expect:` lines say
(rule, line, column); <rule-id>.good.sql, the safe form, is flagged for nothing but its own
`-- expect:` lines. Every rule has both files and a docs/lint.md entry."""

from __future__ import annotations

import re
from pathlib import Path

import pytest

from sqlmig.lint import lint_files
from sqlmig.lint.config import from_table
from sqlmig.lint.rules import RULES

CASES = Path(__file__).parent / "cases"
DOCS = Path(__file__).parents[2] / "docs" / "lint.md"
EVERY_RULE = from_table({"enable": ["all"]}, "tests")
_EXPECT = re.compile(r"^-- expect: (\S+) (\d+):(\d+)$", re.M)


def expected(path: Path) -> set[tuple[str, int, int]]:
    text = path.read_text(encoding="utf-8")
    return {(rule, int(line), int(column)) for rule, line, column in _EXPECT.findall(text)}


def found(path: Path) -> set[tuple[str, int, int]]:
    result = lint_files([path], EVERY_RULE)
    return {(f.rule, f.line, f.column) for f in result.findings}


@pytest.mark.parametrize("rule", sorted(RULES))
def test_the_bad_form_is_flagged_with_the_rule_and_position(rule: str):
    path = CASES / f"{rule}.sql"
    wanted = expected(path)
    assert any(r == rule for r, _, _ in wanted), f"{path.name} expects no {rule} finding"
    assert found(path) == wanted


@pytest.mark.parametrize("rule", sorted(RULES))
def test_the_safe_form_is_not_flagged(rule: str):
    path = CASES / f"{rule}.good.sql"
    assert found(path) == expected(path)
    assert not any(r == rule for r, _, _ in expected(path))


def test_every_case_file_is_a_rule():
    names = {p.name.removesuffix(".good.sql").removesuffix(".sql") for p in CASES.glob("*.sql")}
    assert names == set(RULES)


@pytest.mark.parametrize("rule", sorted(RULES))
def test_every_rule_has_a_documentation_entry(rule: str):
    """docs/lint.md: a heading per rule with a bad example, why, and the safe form."""
    text = DOCS.read_text(encoding="utf-8")
    assert f"\n### `{rule}`\n" in text, rule
    entry = text.split(f"\n### `{rule}`\n", 1)[1].split("\n### ", 1)[0]
    for part in ("**Bad**", "**Why**", "**Safe**"):
        assert part in entry, (rule, part)
    assert f"Default: {RULES[rule].severity}" in entry, rule


def test_opt_in_rules_are_off_by_default():
    path = CASES / "prefer-identity.sql"
    assert {f.rule for f in lint_files([path]).findings} == set()
    assert found(path) == expected(path)


def test_a_table_created_by_an_earlier_file_of_the_run_is_new(tmp_path: Path):
    first = tmp_path / "1-create.sql"
    first.write_text("CREATE TABLE orders (id bigint PRIMARY KEY, customer_id bigint);\n")
    second = tmp_path / "2-index.sql"
    second.write_text("CREATE INDEX orders_customer_idx ON orders (customer_id);\n")
    assert lint_files([first, second]).findings == ()
    alone = lint_files([second]).findings
    assert [(f.rule, f.line, f.column) for f in alone] == [
        ("require-concurrent-index-creation", 1, 1)
    ]


def test_positions_count_characters_not_bytes(tmp_path: Path):
    path = tmp_path / "1-utf8.sql"
    path.write_text(
        "SET lock_timeout = '5s';\n"
        "COMMENT ON TABLE orders IS 'Bestellungen für Kunden';"
        ' ALTER TABLE orders ADD COLUMN "größe" int NOT NULL;\n',
        encoding="utf-8",
    )
    (finding,) = lint_files([path]).findings
    assert (finding.rule, finding.line, finding.column) == ("adding-required-field", 2, 85)
    line = path.read_text(encoding="utf-8").split("\n")[1]
    assert line[finding.column - 1 :].startswith('"größe" int')


def test_undecodable_text_is_a_syntax_error_at_its_position(tmp_path: Path):
    path = tmp_path / "1-latin1.sql"
    path.write_bytes(b"SELECT 1;\nSELECT 'caf\xe9';\n")
    (finding,) = lint_files([path]).findings
    assert (finding.rule, finding.line, finding.column) == ("syntax-error", 2, 12)
    assert "UTF-8" in finding.message
