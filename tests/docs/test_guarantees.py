"""The README's "Guarantees" section: every claim names the tests that prove it.

Each bullet carries ``<!-- test: tests/FILE.py::test_name[case] -->`` markers;
this test fails when a bullet has none or a marker names a test that does not
exist, so the section cannot promise more than the suite checks.
"""

from __future__ import annotations

import re
from pathlib import Path

ROOT = Path(__file__).resolve().parents[2]
MARKER = re.compile(
    r"<!-- test: (?P<file>tests/[\w/]+\.py)::(?P<name>\w+)(?:\[(?P<case>[^\]]+)\])? -->"
)


def guarantees() -> list[str]:
    readme = (ROOT / "README.md").read_text()
    section = readme.split("\n## Guarantees\n", 1)[1].split("\n## ", 1)[0]
    bullets = re.split(r"\n- ", "\n" + section.split("\n- ", 1)[1])
    return [b.strip() for b in bullets if b.strip()]


def test_every_guarantee_names_existing_tests() -> None:
    claims = guarantees()
    assert len(claims) >= 8
    for claim in claims:
        markers = list(MARKER.finditer(claim))
        assert markers, f"no test named for: {claim[:60]}..."
        for m in markers:
            path = ROOT / m["file"]
            assert path.is_file(), m[0]
            source = path.read_text()
            assert re.search(rf"^def {m['name']}\(", source, re.MULTILINE), m[0]
            if m["case"] and path.name == "test_faults.py":
                assert (
                    ROOT / "tests" / "migrations" / "faults" / m["case"] / "case.json"
                ).is_file(), m[0]
            elif m["case"]:
                assert m["case"] in source, m[0]


def test_exit_codes_table_matches_the_error_classes() -> None:
    from sqlmig.core import errors

    readme = (ROOT / "README.md").read_text()
    table = readme.split("\n## Exit codes\n", 1)[1].split("\n## ", 1)[0]
    codes = {int(c) for c in re.findall(r"^\| (\d) \|", table, re.MULTILINE)}
    classes = [
        obj
        for obj in vars(errors).values()
        if isinstance(obj, type) and issubclass(obj, errors.SqlmigError)
    ]
    assert {cls.exit_code for cls in classes} | {0} == codes
    assert errors.ConnectionLost.exit_code == 3 and errors.LockNotAcquired.exit_code == 3
