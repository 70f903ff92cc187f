"""Paths as a user would type them, for messages."""

from __future__ import annotations

from pathlib import Path


def display_path(path: Path) -> str:
    """The path relative to the working directory when inside it, else as given."""
    try:
        return str(path.resolve().relative_to(Path.cwd().resolve()))
    except ValueError:
        return str(path)
