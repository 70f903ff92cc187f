"""Paths of the checkout and a one-shot query helper for tests."""

from __future__ import annotations

from pathlib import Path

import psycopg

ROOT = Path(__file__).resolve().parents[2]
INIT_DIR = ROOT / "sql" / "init"


def query(dsn: str, text: str, *params: object) -> list[tuple[object, ...]]:
    with psycopg.connect(dsn) as conn:
        cur = conn.execute(text, params or None)  # type: ignore[arg-type]
        return cur.fetchall() if cur.description else []
