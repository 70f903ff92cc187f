"""docs/ARCHITECTURE.md is the map of the code: every module it names exists, every module is named."""

from __future__ import annotations

import re
from pathlib import Path

ROOT = Path(__file__).resolve().parents[2]


def test_the_module_map_matches_the_package():
    text = (ROOT / "docs" / "ARCHITECTURE.md").read_text()
    named = set(re.findall(r"^\| `(sqlmig/[\w/]+\.py)` \|", text, re.MULTILINE))
    on_disk = {str(p.relative_to(ROOT / "src")) for p in (ROOT / "src" / "sqlmig").rglob("*.py")}
    assert named - on_disk == set(), "named in ARCHITECTURE.md but missing"
    assert on_disk - named == set(), "modules missing from ARCHITECTURE.md"
