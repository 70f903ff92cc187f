"""A temporary migrations folder the tests write files into."""

from __future__ import annotations

from pathlib import Path


class MigDir:
    """A temporary migrations folder."""

    def __init__(self, path: Path) -> None:
        self.path = path

    def write(self, name: str, text: str | bytes) -> Path:
        target = self.path / name
        if isinstance(text, bytes):
            target.write_bytes(text)
        else:
            target.write_text(text, encoding="utf-8")
        return target

    def __str__(self) -> str:
        return str(self.path)
