"""`sqlmig lint` as a user runs it: which files, waivers, [tool.sqlmig.lint], every output
format, exit codes; the bundled sql/init lints clean."""

from __future__ import annotations

import json
from pathlib import Path

import pytest
from support.cli import invoke

from sqlmig.lint.rules import RULES

ROOT = Path(__file__).parents[2]
BAD = "SET lock_timeout = '5s';\nALTER TABLE orders DROP COLUMN legacy_flags;\nCREATE INDEX orders_idx ON orders (id);\n"


@pytest.fixture
def project(tmp_path: Path) -> Path:
    """A project folder with a pyproject.toml of its own (no [tool.sqlmig.lint] yet)."""
    (tmp_path / "pyproject.toml").write_text('[project]\nname = "demo"\n')
    (tmp_path / "migrations").mkdir()
    return tmp_path


def write(project: Path, name: str, text: str) -> Path:
    path = project / "migrations" / name
    path.write_text(text, encoding="utf-8")
    return path


def lint(project: Path, *args: str):  # type: ignore[no-untyped-def]
    return invoke("lint", *args, cwd=project)


def test_text_output_is_file_line_col_rule_message_then_the_fix(project: Path):
    write(project, "1-bad.sql", BAD)
    result = lint(project, "migrations/1-bad.sql")
    assert result.exit_code == 1
    drop, index = RULES["ban-drop-column"], RULES["require-concurrent-index-creation"]
    assert result.stdout.splitlines() == [
        "migrations/1-bad.sql:2:1: ban-drop-column dropping column orders.legacy_flags "
        "breaks code that still uses it",
        f"  fix: {drop.fix}",
        "migrations/1-bad.sql:3:1: require-concurrent-index-creation CREATE INDEX on existing "
        "table orders blocks its writes until the index is built",
        f"  fix: {index.fix}",
        "2 error(s), 0 warning(s) in 1 file linted.",
    ]


def test_github_format_is_workflow_commands(project: Path):
    write(
        project, "1-bad.sql", "ALTER TABLE orders ADD COLUMN note text;\nTRUNCATE a, b CASCADE;\n"
    )
    result = lint(project, "migrations/1-bad.sql", "--format", "github")
    assert result.exit_code == 1
    lock, truncate = RULES["require-lock-timeout"], RULES["ban-truncate-cascade"]
    assert result.stdout == (
        "::warning file=migrations/1-bad.sql,line=1,col=1,title=require-lock-timeout::"
        "ALTER TABLE on orders waits for its lock with no lock_timeout set earlier in the file. "
        f"Fix: {lock.fix}\n"
        "::error file=migrations/1-bad.sql,line=2,col=1,title=ban-truncate-cascade::"
        "TRUNCATE a, b CASCADE also empties every table with a foreign key to it. "
        f"Fix: {truncate.fix}\n"
    )


def test_github_format_escapes_what_workflow_commands_reserve(tmp_path: Path):
    folder = tmp_path / "a,b:c"
    folder.mkdir()
    (folder / "1-x.sql").write_text("SELECT 1;\nDROP TABLE t;\n")
    result = invoke("lint", str(folder / "1-x.sql"), "--format", "github", cwd=tmp_path)
    assert result.stdout.startswith(
        "::error file=a%2Cb%3Ac/1-x.sql,line=2,col=1,title=ban-drop-table::"
    )


def test_json_format_global_or_after_the_command(project: Path):
    write(project, "1-bad.sql", BAD)
    before = invoke("--format", "json", "lint", "migrations/1-bad.sql", cwd=project)
    after = lint(project, "migrations/1-bad.sql", "--format", "json")
    assert before.exit_code == after.exit_code == 1
    assert json.loads(before.stdout) == json.loads(after.stdout)
    payload = json.loads(after.stdout)
    assert (payload["files"], payload["errors"], payload["warnings"]) == (1, 2, 0)
    assert payload["findings"][0] == {
        "path": "migrations/1-bad.sql",
        "line": 2,
        "column": 1,
        "rule": "ban-drop-column",
        "severity": "error",
        "message": "dropping column orders.legacy_flags breaks code that still uses it",
        "fix": RULES["ban-drop-column"].fix,
    }


def test_sarif_is_a_structurally_valid_2_1_0_log_with_rule_metadata(project: Path):
    write(
        project,
        "1-bad.sql",
        "SELECT 'é';\nALTER TABLE orders ADD COLUMN note text;\nDROP TABLE t;\n",
    )
    result = lint(project, "migrations/1-bad.sql", "--format", "sarif")
    assert result.exit_code == 1
    log = json.loads(result.stdout)
    assert log["version"] == "2.1.0"
    assert log["$schema"].endswith("sarif-2.1.0.json")
    (run,) = log["runs"]
    driver = run["tool"]["driver"]
    assert driver["name"] == "sqlmig" and driver["version"]
    ids = [r["id"] for r in driver["rules"]]
    assert ids == list(RULES)  # every rule, once, in catalogue order
    for rule in driver["rules"]:
        assert rule["shortDescription"]["text"] and rule["help"]["text"]
        assert rule["helpUri"].endswith(f"docs/lint.md#{rule['id']}")
        assert rule["defaultConfiguration"]["level"] in ("error", "warning")
    assert run["columnKind"] == "unicodeCodePoints"
    assert run["originalUriBaseIds"]["SRCROOT"]["uri"].startswith("file://")
    results = run["results"]
    assert [(r["ruleId"], r["level"]) for r in results] == [
        ("require-lock-timeout", "warning"),
        ("ban-drop-table", "error"),
    ]
    for r in results:
        assert driver["rules"][r["ruleIndex"]]["id"] == r["ruleId"]
        assert r["message"]["text"]
        (location,) = r["locations"]
        physical = location["physicalLocation"]
        assert physical["artifactLocation"] == {
            "uri": "migrations/1-bad.sql",
            "uriBaseId": "SRCROOT",
        }
        assert set(physical["region"]) == {"startLine", "startColumn"}
    assert [r["locations"][0]["physicalLocation"]["region"] for r in results] == [
        {"startLine": 2, "startColumn": 1},
        {"startLine": 3, "startColumn": 1},
    ]


def test_exit_0_when_only_warnings_remain(project: Path):
    write(project, "1-warn.sql", "ALTER TABLE orders ADD COLUMN note text;\n")
    result = lint(project, "migrations/1-warn.sql")
    assert result.exit_code == 0
    assert "require-lock-timeout (warning)" in result.stdout


def test_usage_errors_exit_2(project: Path):
    write(project, "1-ok.sql", "SELECT 1;\n")
    both = lint(project, "migrations/1-ok.sql", "--all")
    assert both.exit_code == 2 and "not both" in both.stderr
    missing = lint(project, "migrations/2-nope.sql")
    assert missing.exit_code == 2 and "no such file" in missing.stderr
    bad_format = lint(project, "migrations/1-ok.sql", "--format", "xml")
    assert bad_format.exit_code == 2


def test_an_unparsable_file_is_reported_at_its_position(project: Path):
    write(project, "1-broken.sql", "SELECT 1;\nSELEC 2;\n")
    result = lint(project, "migrations/1-broken.sql")
    assert result.exit_code == 1
    assert result.stdout.startswith(
        'migrations/1-broken.sql:2:1: syntax-error syntax error at or near "SELEC"\n'
    )


def test_a_statement_waiver_covers_only_the_statement_below_it(project: Path):
    write(
        project,
        "1-waived.sql",
        "SET lock_timeout = '5s';\n"
        '-- sqlmig: lint-ignore ban-drop-column reason="unused since v2.3"\n'
        "-- (more comment lines may follow)\n"
        "ALTER TABLE orders DROP COLUMN legacy_flags;\n"
        "ALTER TABLE orders DROP COLUMN other_flags;\n"
        '-- sqlmig: lint-ignore ban-drop-table reason="detached by the blank line"\n'
        "\n"
        "DROP TABLE t;\n",
    )
    result = lint(project, "migrations/1-waived.sql", "--format", "json")
    found = [(f["rule"], f["line"]) for f in json.loads(result.stdout)["findings"]]
    assert found == [("ban-drop-column", 5), ("unused-waiver", 6), ("ban-drop-table", 8)]


def test_a_waiver_line_inside_a_function_body_is_text_not_a_waiver(project: Path):
    write(
        project,
        "1-body.sql",
        "CREATE FUNCTION f() RETURNS text LANGUAGE sql AS $$\n"
        '-- sqlmig: lint-ignore ban-drop-table reason="in a string"\n'
        "SELECT 'x'\n$$;\nDROP TABLE t;\n",
    )
    result = lint(project, "migrations/1-body.sql", "--format", "json")
    assert [f["rule"] for f in json.loads(result.stdout)["findings"]] == ["ban-drop-table"]


def test_a_file_waiver_in_the_leading_comments_covers_the_whole_file(project: Path):
    write(
        project,
        "1-file.sql",
        "-- Retire the v1 tables.\n"
        '-- sqlmig: lint-ignore ban-drop-table reason="v1 is gone since 2024 (#77)"\n'
        "DROP TABLE v1_orders;\nSELECT 1;\nDROP TABLE v1_customers;\n",
    )
    assert lint(project, "migrations/1-file.sql").exit_code == 0


def test_config_sets_severities_enables_and_disables(project: Path):
    write(project, "1-mixed.sql", BAD + "CREATE TABLE t (id serial PRIMARY KEY, at timestamp);\n")
    (project / "pyproject.toml").write_text(
        '[project]\nname = "demo"\n\n[tool.sqlmig.lint]\n'
        'enable = ["prefer-identity"]\n'
        'disable = ["require-concurrent-index-creation"]\n'
        'severity = { ban-drop-column = "warning", prefer-identity = "error" }\n'
    )
    result = lint(project, "migrations/1-mixed.sql", "--format", "json")
    found = [(f["rule"], f["severity"]) for f in json.loads(result.stdout)["findings"]]
    assert found == [("ban-drop-column", "warning"), ("prefer-identity", "error")]
    assert result.exit_code == 1
    rules = lint(project, "--rules").stdout
    assert "require-concurrent-index-creation" in rules
    listed = {line.split()[0]: line.split()[1] for line in rules.splitlines()}
    assert listed["require-concurrent-index-creation"] == "off"
    assert listed["prefer-identity"] == "error"
    assert listed["prefer-timestamptz"] == "off"


@pytest.mark.parametrize(
    ("table", "words"),
    [
        ('disable = ["ban-drop-colum"]', "unknown lint rule 'ban-drop-colum'"),
        ('severity = { ban-drop-column = "fatal" }', "use one of error, warning, off"),
        ('enabled = ["all"]', "unknown [tool.sqlmig.lint] key(s): enabled"),
        ('disable = ["syntax-error"]', "syntax-error cannot be turned off"),
    ],
)
def test_config_mistakes_are_usage_errors(project: Path, table: str, words: str):
    write(project, "1-ok.sql", "SELECT 1;\n")
    (project / "pyproject.toml").write_text(
        f'[project]\nname = "d"\n\n[tool.sqlmig.lint]\n{table}\n'
    )
    result = lint(project, "migrations/1-ok.sql")
    assert result.exit_code == 2
    assert words in result.stderr


def test_the_bundled_sql_init_lints_clean_with_every_rule(tmp_path: Path):
    (tmp_path / "pyproject.toml").write_text('[tool.sqlmig.lint]\nenable = ["all"]\n')
    # The up files: down files drop by design (sql/init's undo the whole schema).
    ups = (ROOT / "sql" / "init").glob("*.sql")
    files = sorted(str(p) for p in ups if not p.name.endswith(".down.sql"))
    result = invoke("lint", *files, cwd=tmp_path)
    assert result.exit_code == 0, result.stdout
    assert result.stdout.strip() == f"0 error(s), 0 warning(s) in {len(files)} files linted."


def test_all_lints_every_file_of_the_directory_without_a_database():
    result = invoke("--dir", str(ROOT / "sql" / "init"), "lint", "--all", cwd=ROOT)
    assert result.exit_code == 0, result.output
    ups = (ROOT / "sql" / "init").glob("*.sql")
    count = len([p for p in ups if not p.name.endswith(".down.sql")])  # --all: up files
    assert result.stdout.strip() == f"0 error(s), 0 warning(s) in {count} files linted."


def test_all_reads_the_directory_with_a_lint_table_in_pyproject(project: Path):
    write(project, "1-ok.sql", "SELECT 1;\n")
    (project / "pyproject.toml").write_text('[tool.sqlmig.lint]\ndisable = ["ban-cluster"]\n')
    result = lint(project, "--all")
    assert result.exit_code == 0, result.output


def test_all_accepts_a_file_waiver(project: Path):
    write(
        project, "1-x.sql", '-- sqlmig: lint-ignore ban-drop-table reason="gone"\nDROP TABLE t;\n'
    )
    result = invoke("--dir", str(project / "migrations"), "lint", "--all", cwd=project)
    assert result.exit_code == 0, result.output
