"""Unified diffs between the text a migration ran with and the file now."""

from __future__ import annotations

import difflib


def unified(applied: str, current: str, filename: str) -> str:
    lines = difflib.unified_diff(
        applied.splitlines(keepends=True),
        current.splitlines(keepends=True),
        fromfile=f"{filename} (applied)",
        tofile=f"{filename} (now)",
    )
    return "".join(line if line.endswith("\n") else line + "\n" for line in lines)
