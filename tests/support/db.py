"""Paths of the checkout and a one-shot query helper for tests."""

from __future__ import annotations

from pathlib import Path

import psycopg
from psycopg import sql

ROOT = Path(__file__).resolve().parents[2]
INIT_DIR = ROOT / "sql" / "init"


def query(dsn: str, text: str | sql.Composable, *params: object) -> list[tuple[object, ...]]:
    with psycopg.connect(dsn) as conn:
        cur = conn.execute(text, params or None)  # type: ignore[arg-type]
        return cur.fetchall() if cur.description else []


def named(template: str, **names: str) -> sql.Composed:
    """SQL with table names composed as identifiers (``{h}`` for ``h="t"``; "s.t" qualified)."""
    return sql.SQL(template).format(**{k: sql.Identifier(*v.split(".")) for k, v in names.items()})
