"""Statement splitting and position mapping: pure, no database."""

from __future__ import annotations

from sqlmig.migrations.statements import excerpt, line_column, split, transaction_control


def test_split_keeps_offsets_into_the_file():
    body = "-- head\ncreate table a(id int);\n\ncreate function f() returns int\nlanguage sql as $$ select 1; $$;\n"
    statements = split(body)
    assert statements is not None
    assert [s.text.split()[1] for s in statements] == ["table", "function"]
    for s in statements:
        assert body[s.offset : s.offset + len(s.text)] == s.text


def test_split_counts_characters_not_bytes():
    body = "select 'é';\nselect 'ü'; select 2;"
    statements = split(body)
    assert statements is not None

    assert statements[2].text == "select 2"
    assert line_column(body, statements[2].offset) == (2, 13)


def test_split_returns_none_on_syntax_error():
    assert split("select 1;\ncreat table x();") is None


def test_line_column_is_one_based():
    body = "a\nbc\n\ndef"
    assert line_column(body, 0) == (1, 1)
    assert line_column(body, 3) == (2, 2)
    assert line_column(body, 5) == (3, 1)
    assert line_column(body, 6) == (4, 1)
    assert line_column(body, 8) == (4, 3)


def test_excerpt_marks_line_and_column_and_keeps_tabs():
    body = "one\ntwo\n\tthree x\nfour\nfive\nsix"
    text = excerpt(body, 3, 8)
    assert text.splitlines() == [
        "  1 | one",
        "  2 | two",
        "> 3 | \tthree x",
        "    | \t      ^",
        "  4 | four",
        "  5 | five",
    ]


def test_transaction_control_detection():
    statements = split("create table a(); commit; select 1;")
    assert statements is not None
    found = transaction_control(statements)
    assert found is not None and found.text.lower() == "commit"
    body = "create function f() returns void language plpgsql as $$ begin end $$;"
    statements = split(body)
    assert statements is not None and transaction_control(statements) is None
