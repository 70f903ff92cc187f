"""Unified diffs between the text a migration ran with and the file now."""

from __future__ import annotations

import difflib

from sqlmig.migrations.files import normalize


def unified(applied: str, current: str, filename: str) -> str:
    """The diff as the checksum sees it: line endings and a BOM are not changes."""
    lines = difflib.unified_diff(
        normalize(applied).splitlines(keepends=True),
        normalize(current).splitlines(keepends=True),
        fromfile=f"{filename} (applied)",
        tofile=f"{filename} (now)",
    )
    return "".join(line if line.endswith("\n") else line + "\n" for line in lines)
