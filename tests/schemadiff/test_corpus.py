"""`sqlmig drift` on the benchmarks' application-sized schema (benchmarks/corpus.py):
untouched it shows no drift; each of the nine hand changes of the acceptance is one line.

The objects to change are picked from the catalog, so the test follows the corpus."""

from __future__ import annotations

import importlib.util
import re
import sys

import psycopg
import pytest
from psycopg import sql
from support.db import ROOT, query

from sqlmig import migrations, schemadiff
from sqlmig.core import config

pytestmark = pytest.mark.slow
FILES = 200  # 89 tables, 500+ indexes, views, triggers, functions, enums


def _generate(out):
    spec = importlib.util.spec_from_file_location("corpus", ROOT / "benchmarks" / "corpus.py")
    assert spec is not None and spec.loader is not None
    corpus = importlib.util.module_from_spec(spec)
    sys.modules.setdefault("corpus", corpus)  # dataclasses look their module up
    spec.loader.exec_module(corpus)
    corpus.generate(FILES, out)


def _one(dsn: str, text: str, *params: object) -> tuple[object, ...]:
    rows = query(dsn, text, *params)
    assert rows, text
    return rows[0]


def _hand_changes(dsn: str) -> dict[str, str]:
    """Nine changes made by hand, each with the start of the line drift must print."""
    public = "n.nspname = 'public' AND c.relname <> 'schema_migrations'"
    table, column = _one(
        dsn,
        "SELECT c.relname, a.attname FROM pg_attribute a JOIN pg_class c ON c.oid = a.attrelid"
        f" JOIN pg_namespace n ON n.oid = c.relnamespace WHERE {public} AND c.relkind = 'r'"
        " AND a.attnum > 0 AND NOT a.attisdropped AND a.atthasdef"
        " AND a.atttypid = 'integer'::regtype ORDER BY 1, 2 LIMIT 1",
    )
    (index,) = _one(
        dsn,
        "SELECT i.relname FROM pg_index x JOIN pg_class i ON i.oid = x.indexrelid"
        " JOIN pg_namespace n ON n.oid = i.relnamespace"
        " WHERE n.nspname = 'public' AND NOT x.indisprimary AND NOT x.indisunique"
        " ORDER BY 1 LIMIT 1",
    )
    (enum,) = _one(
        dsn,
        "SELECT t.typname FROM pg_type t JOIN pg_namespace n ON n.oid = t.typnamespace"
        " WHERE n.nspname = 'public' AND t.typtype = 'e' ORDER BY 1 LIMIT 1",
    )
    view, definition = _one(
        dsn,
        "SELECT c.relname, pg_get_viewdef(c.oid) FROM pg_class c"
        " JOIN pg_namespace n ON n.oid = c.relnamespace"
        " WHERE n.nspname = 'public' AND c.relkind = 'v' ORDER BY 1 LIMIT 1",
    )
    function, function_def = _one(
        dsn,
        "SELECT p.proname, pg_get_functiondef(p.oid) FROM pg_proc p"
        " JOIN pg_namespace n ON n.oid = p.pronamespace JOIN pg_language l ON l.oid = p.prolang"
        " WHERE n.nspname = 'public' AND l.lanname = 'plpgsql' ORDER BY 1 LIMIT 1",
    )
    trigger_table, trigger = _one(
        dsn,
        "SELECT c.relname, t.tgname FROM pg_trigger t JOIN pg_class c ON c.oid = t.tgrelid"
        " JOIN pg_namespace n ON n.oid = c.relnamespace"
        " WHERE n.nspname = 'public' AND NOT t.tgisinternal ORDER BY 1, 2 LIMIT 1",
    )
    check_table, check, check_def = _one(
        dsn,
        "SELECT c.relname, k.conname, pg_get_constraintdef(k.oid) FROM pg_constraint k"
        " JOIN pg_class c ON c.oid = k.conrelid JOIN pg_namespace n ON n.oid = c.relnamespace"
        f" WHERE {public} AND k.contype = 'c' ORDER BY 1, 2 LIMIT 1",
    )
    (other_table,) = _one(
        dsn,
        "SELECT c.relname FROM pg_class c JOIN pg_namespace n ON n.oid = c.relnamespace"
        f" WHERE {public} AND c.relkind = 'r' AND c.relname <> ALL(%s) ORDER BY 1 LIMIT 1",
        [table, trigger_table, check_table],
    )
    new_body = re.sub(r"\bBEGIN\b", "BEGIN\n  PERFORM 1;", str(function_def), count=1)
    expression = str(check_def).removeprefix("CHECK ").removesuffix(" NOT VALID")
    name = sql.Identifier
    statements = [
        sql.SQL("ALTER TABLE {} ADD COLUMN hand_added integer").format(name(other_table)),
        sql.SQL("DROP INDEX {}").format(name(index)),
        sql.SQL("ALTER TABLE {} ALTER COLUMN {} SET DEFAULT 424242").format(
            name(table), name(column)
        ),
        sql.SQL("ALTER TYPE {} ADD VALUE 'HAND_ADDED'").format(name(enum)),
        # The server's own deparse, limited: the same columns, another definition.
        sql.SQL("CREATE OR REPLACE VIEW {} AS {} LIMIT 1").format(
            name(view), sql.SQL(str(definition).rstrip().rstrip(";"))
        ),
        sql.SQL(new_body),  # the server's own function definition, one statement added
        sql.SQL("ALTER TABLE {} DISABLE TRIGGER {}").format(name(trigger_table), name(trigger)),
        sql.SQL("CREATE POLICY hand_added ON {} USING (true)").format(name(other_table)),
        sql.SQL("ALTER TABLE {} DROP CONSTRAINT {}, ADD CONSTRAINT {} CHECK ({} AND true)").format(
            name(check_table), name(check), name(check), sql.SQL(expression)
        ),
    ]
    with psycopg.connect(dsn, autocommit=True) as conn:
        for statement in statements:
            conn.execute(statement)
    return {
        "column": f"column public.{other_table}.hand_added: extra",
        "index": f"index public.{index}: missing",
        "default": f"column public.{table}.{column}: default ",
        "enum": f"enum public.{enum}: extra label 'HAND_ADDED'",
        "view": f"view public.{view}: ",
        "function": f"function public.{function}(",
        "trigger": f"trigger public.{trigger_table}.{trigger}: ",
        "policy": f"policy public.{other_table}.hand_added: extra",
        "check": f"constraint public.{check_table}.{check}: ",
    }


def test_the_corpus_schema_shows_no_drift_then_one_line_per_hand_change(dsn, tmp_path):
    folder = tmp_path / "corpus"
    _generate(folder)
    settings = config.resolve(dsn, folder)
    migrations.apply(settings)
    assert schemadiff.drift(settings).differences == []

    expected = _hand_changes(dsn)
    lines = [d.line for d in schemadiff.drift(settings).differences]
    assert len(lines) == len(expected), "\n".join(lines)
    for what, start in expected.items():
        assert sum(line.startswith(start) for line in lines) == 1, (what, start, lines)
