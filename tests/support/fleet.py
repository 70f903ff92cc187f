"""Fleets for tests: many small databases spread over the servers, a targets file, four files.

databases(servers, n) -> [(name, dsn)]   created empty, dropped by ``drop``
targets_toml(path, pairs, **table)      a --targets FILE with literal targets
FILES                                   four migrations; the third creates table c
"""

from __future__ import annotations

import json
import uuid
from collections.abc import Sequence
from pathlib import Path

import psycopg
from psycopg import sql

from support.db import query

FILES = {
    "0001-a.sql": "CREATE TABLE a (id int);\n",
    "0002-b.sql": "CREATE TABLE b (id int);\n",
    "0003-c.sql": "-- third\nCREATE TABLE c (id int);\n",
    "0004-d.sql": "CREATE TABLE d (id int);\n",
}


def write_files(folder: Path, files: dict[str, str] = FILES) -> Path:
    folder.mkdir(parents=True, exist_ok=True)
    for name, text in files.items():
        (folder / name).write_text(text)
    return folder


def databases(servers: Sequence[object], count: int) -> list[tuple[str, str, object]]:
    """``count`` fresh databases, round-robin over ``servers``: (target name, dsn, server)."""
    tag = uuid.uuid4().hex[:8]
    made = []
    for index in range(count):
        server = servers[index % len(servers)]
        dbname = f"fleet_{tag}_{index:02d}"
        create = sql.SQL("CREATE DATABASE {}").format(sql.Identifier(dbname))
        if server.major >= 15:  # type: ignore[attr-defined]
            create += sql.SQL(" STRATEGY FILE_COPY")
        with psycopg.connect(server.dsn(), autocommit=True) as conn:  # type: ignore[attr-defined]
            conn.execute(create)
        made.append((f"t{index:02d}", server.dsn(dbname), server))  # type: ignore[attr-defined]
    return made


def drop(made: Sequence[tuple[str, str, object]]) -> None:
    for _, dsn, server in made:
        dbname = psycopg.conninfo.conninfo_to_dict(dsn)["dbname"]
        with psycopg.connect(server.dsn(), autocommit=True) as conn:  # type: ignore[attr-defined]
            conn.execute(
                sql.SQL("DROP DATABASE IF EXISTS {} WITH (FORCE)").format(sql.Identifier(dbname))
            )


def targets_toml(path: Path, pairs: Sequence[tuple[str, str]], **table: object) -> Path:
    """A targets file: ``[targets]`` name = dsn, plus top-level keys (stages, jobs ...)."""
    lines = [f"{key} = {json.dumps(value)}" for key, value in table.items()]
    lines.append("[targets]")
    lines += [f"{name} = {json.dumps(dsn)}" for name, dsn in pairs]
    path.write_text("\n".join(lines) + "\n")
    return path


def ledger(dsn: str) -> list[int]:
    """Versions with a successful ledger row ([] when there is no ledger)."""
    exists = query(dsn, "SELECT to_regclass('public.schema_migrations') IS NOT NULL")[0][0]
    if not exists:
        return []
    rows = query(dsn, "SELECT version FROM schema_migrations WHERE success ORDER BY version")
    return [int(v) for (v,) in rows]  # type: ignore[call-overload]


def tables(dsn: str) -> list[str]:
    rows = query(
        dsn,
        "SELECT relname FROM pg_class WHERE relnamespace = 'public'::regnamespace "
        "AND relkind = 'r' AND relname IN ('a', 'b', 'c', 'd') ORDER BY relname",
    )
    return [str(r[0]) for r in rows]
