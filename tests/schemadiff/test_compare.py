"""compare() on plain snapshots (no server): line formats, one line per change, roll-ups,
and what differs between servers of two majors without being drift."""

from __future__ import annotations

import psycopg
from psycopg import sql

from sqlmig import schemadiff
from sqlmig.schemadiff import Snapshot
from sqlmig.schemadiff.compare import compare, unsupported_in_both


def snap(major: int = 18, **objects: dict[str, dict[str, object]]) -> Snapshot:
    return Snapshot(major, {kind.replace("_", " "): found for kind, found in objects.items()})


def lines(expected: Snapshot, actual: Snapshot) -> list[str]:
    return [d.line for d in compare(expected, actual)]


def test_missing_and_extra_objects_and_one_attribute():
    files = snap(table={"public.a": {}, "public.b": {}}, column={"public.a.x": {"default": "0"}})
    live = snap(table={"public.a": {}, "public.c": {}}, column={"public.a.x": {"default": "5"}})
    assert lines(files, live) == [
        "table public.b: missing",
        "table public.c: extra",
        "column public.a.x: default 0 -> 5",
    ]


def test_a_missing_table_is_one_line_not_one_per_column_index_or_constraint():
    table = {"public.t": {"comment": None}}
    children = {
        "column": {"public.t.a": {}, "public.t.b": {}},
        "constraint": {"public.t.t_pkey": {"type": "primary key"}},
        "index": {
            "public.t_pkey": {"table": "public.t", "constraint": "public.t.t_pkey"},
            "public.t_b_ix": {"table": "public.t", "constraint": None},
        },
        "trigger": {"public.t.trg": {}},
        "policy": {"public.t.pol": {}},
    }
    assert lines(snap(table=table, **children), snap()) == ["table public.t: missing"]
    assert lines(snap(), snap(table=table, **children)) == ["table public.t: extra"]


def test_a_dropped_constraint_is_one_line_not_also_its_index():
    index = {"public.t_key": {"table": "public.t", "constraint": "public.t.t_key"}}
    files = snap(table={"public.t": {}}, constraint={"public.t.t_key": {}}, index=index)
    assert lines(files, snap(table={"public.t": {}})) == ["constraint public.t.t_key: missing"]


def test_the_definition_is_not_repeated_when_a_part_of_it_differs():
    def fk(action: str) -> dict[str, object]:
        return {
            "on delete": action,
            "definition": f"FOREIGN KEY (p) REFERENCES t(id) ON DELETE {action.upper()}",
        }

    files = snap(constraint={"public.c.fk": fk("cascade")})
    live = snap(constraint={"public.c.fk": fk("set null")})
    assert lines(files, live) == ["constraint public.c.fk: on delete cascade -> set null"]
    # Only the definition differs (say, the operator class): then it is the line.
    files = snap(index={"public.ix": {"table": "public.t", "definition": "... (a text_ops)"}})
    live = snap(index={"public.ix": {"table": "public.t", "definition": "... (a varchar_ops)"}})
    assert lines(files, live) == [
        "index public.ix: definition differs: ... (a text_ops) -> ... (a varchar_ops)"
    ]


def test_long_or_multi_line_values_say_differs_and_keep_both_in_the_data():
    body_a, body_b = "BEGIN\n  RETURN 1;\nEND", "BEGIN\n  RETURN 2;\nEND"
    files = snap(function={"public.f()": {"body": body_a, "predicate": "x" * 80}})
    live = snap(function={"public.f()": {"body": body_b, "predicate": "y" * 80}})
    found = compare(files, live)
    assert [d.line for d in found] == [
        "function public.f(): body differs",
        "function public.f(): predicate differs",
    ]
    assert (found[0].expected, found[0].actual) == (body_a, body_b)
    assert found[0].as_dict()["attribute"] == "body"


def test_enum_labels_item_by_item_and_their_order():
    def enum(*labels: str) -> Snapshot:
        return snap(enum={"public.s": {"labels": list(labels)}})

    assert lines(enum("A", "B"), enum("A", "B", "WAITING")) == [
        "enum public.s: extra label 'WAITING'"
    ]
    assert lines(enum("A", "B"), enum("A")) == ["enum public.s: missing label 'B'"]
    assert lines(enum("A", "B"), enum("B", "A")) == [
        "enum public.s: label order differs: 'A', 'B' -> 'B', 'A'"
    ]


def test_unsupported_kinds_are_matched_by_name():
    files = Snapshot(18, {}, frozenset({("rule", "public.t.r"), ("cast", "(a AS b)")}))
    live = Snapshot(18, {}, frozenset({("rule", "public.t.r"), ("operator", "public.===")}))
    assert lines(files, live) == ["cast (a AS b): missing", "operator public.===: extra"]
    assert [u.line for u in unsupported_in_both(files, live)] == [
        "rule public.t.r: unsupported object kind, present in both, not compared"
    ]


def test_grants_across_majors_ignore_the_privilege_only_newer_servers_have():
    grants = ["INSERT to app", "MAINTAIN to app", "SELECT to app"]
    files = snap(18, table={"public.t": {"grants": grants}})
    assert (
        lines(files, snap(15, table={"public.t": {"grants": ["INSERT to app", "SELECT to app"]}}))
        == []
    )
    assert lines(files, snap(18, table={"public.t": {"grants": grants[:1]}})) == [
        "table public.t: missing grant MAINTAIN to app",
        "table public.t: missing grant SELECT to app",
    ]


def test_views_across_majors_ignore_postgresql_16s_dropped_qualifiers():
    # As the servers print them: one clause a line.
    pg15 = "SELECT t.a,\n    count(*) AS n\n   FROM public.t\n  WHERE t.b > 1\n  GROUP BY t.a;"
    pg18 = "SELECT a,\n    count(*) AS n\n   FROM public.t\n  WHERE b > 1\n  GROUP BY a;"
    other = "SELECT a,\n    count(*) AS n\n   FROM public.t\n  WHERE b > 2\n  GROUP BY a;"
    # A join keeps its qualifiers on every major: they tell which table a column is from.
    join15 = "SELECT t.a\n   FROM public.t\n     JOIN public.u ON t.id = u.id;"
    join18 = "SELECT u.a\n   FROM public.t\n     JOIN public.u ON t.id = u.id;"

    def view(major: int, definition: str) -> Snapshot:
        return snap(major, view={"public.v": {"definition": definition}})

    assert lines(view(18, pg18), view(15, pg15)) == []
    assert lines(view(18, other), view(15, pg15)) == ["view public.v: definition differs"]
    assert lines(view(18, join18), view(15, join15)) == ["view public.v: definition differs"]
    # On one major the text is compared as it is.
    assert lines(view(18, pg18), view(18, pg15)) == ["view public.v: definition differs"]


class CountingCursor(psycopg.Cursor):  # type: ignore[type-arg]
    executed = 0

    def execute(self, *args, **kwargs):  # type: ignore[no-untyped-def,override]
        CountingCursor.executed += 1
        return super().execute(*args, **kwargs)


def test_the_number_of_catalog_queries_does_not_grow_with_the_schema(dsn):
    def queries(grants: bool) -> int:
        with psycopg.connect(dsn, autocommit=True) as conn:
            conn.cursor_factory = CountingCursor
            CountingCursor.executed = 0
            schemadiff.snapshot(conn, grants=grants)
            return CountingCursor.executed

    small = queries(False), queries(True)
    with psycopg.connect(dsn, autocommit=True) as conn:
        for i in range(40):
            table, index = sql.Identifier(f"t{i}"), sql.Identifier(f"t{i}_v")
            conn.execute(
                sql.SQL("create table {} (id int primary key, v text check (v <> ''))").format(
                    table
                )
            )
            conn.execute(sql.SQL("create index {} on {} (v)").format(index, table))
    assert (queries(False), queries(True)) == small
    # Two session settings, one query per object kind, one for the unsupported kinds.
    assert small == (14, 15)
