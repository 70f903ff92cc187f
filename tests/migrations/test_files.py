"""Discovery and parsing of migration files: pure, no database."""

from __future__ import annotations

import pytest

from sqlmig.core.errors import ScriptError
from sqlmig.migrations.files import checksum, load_scripts


def test_orders_by_integer_version_not_text(mig_dir):
    for name in ("10-y.sql", "9-x.sql", "0002-b.sql", "1-a.sql"):
        mig_dir.write(name, "select 1;\n")
    assert [s.version for s in load_scripts(mig_dir.path)] == [1, 2, 9, 10]


def test_pairs_down_files_and_ignores_other_files(mig_dir):
    mig_dir.write("1-a.sql", "create table a();")
    mig_dir.write("1-a.down.sql", "drop table a;")
    mig_dir.write("2-b.sql", "select 1;")
    mig_dir.write("README.md", "notes")
    mig_dir.write(".1-hidden.sql", "editor backup")
    (mig_dir.path / "sub").mkdir()
    first, second = load_scripts(mig_dir.path)
    assert first.down is not None and first.down.body == "drop table a;"
    assert second.down is None


@pytest.mark.parametrize(
    ("files", "expected"),
    [
        ({"1-a.sql": "x", "01-b.sql": "y"}, "version 1 is used by more than one file"),
        ({"init.sql": "x"}, "init.sql: the name does not fit <version>-<name>.sql"),
        # `_` is a separator now (issue 11: other tools' folders); a name without one is not
        ({"1a.sql": "x"}, "1a.sql: the name does not fit"),
        ({"1_a.sql": "x", "1-a.sql": "y"}, "version 1 is used by more than one file"),
        ({"1-a.sql": "x", "2-b.down.sql": "y"}, "2-b.down.sql: down file without its up file"),
        ({"1-a.sql": "x", "1-b.down.sql": "y"}, "1-b.down.sql: down file without its up file"),
    ],
)
def test_bad_file_sets_name_the_files(mig_dir, files, expected):
    for name, text in files.items():
        mig_dir.write(name, text)
    with pytest.raises(ScriptError, match=expected) as info:
        load_scripts(mig_dir.path)
    assert info.value.exit_code == 2
    assert "Nothing was applied" in str(info.value) or "nothing was applied" in str(info.value)


def test_non_utf8_names_file_line_and_column(mig_dir):
    mig_dir.write("1-a.sql", b"select 1;\nselect '" + b"caf\xe9';\n")
    with pytest.raises(ScriptError, match=r"1-a.sql:2:12: not valid UTF-8 \(byte 0xe9\)"):
        load_scripts(mig_dir.path)


def test_all_problems_reported_together(mig_dir):
    mig_dir.write("x.sql", "")
    mig_dir.write("3-a.down.sql", "")
    with pytest.raises(ScriptError, match="2 problems") as info:
        load_scripts(mig_dir.path)
    assert "x.sql" in str(info.value) and "3-a.down.sql" in str(info.value)


def test_missing_directory_is_a_usage_error(tmp_path):
    with pytest.raises(ScriptError, match="does not exist"):
        load_scripts(tmp_path / "nope")


def test_checksum_ignores_bom_and_line_endings():
    lf = "create table a (\n  id int\n);\n"
    assert checksum(lf) == checksum(lf.replace("\n", "\r\n"))
    assert checksum(lf) == checksum("\ufeff" + lf.replace("\n", "\r"))
    assert checksum(lf) != checksum(lf.replace("id", "ID"))


def test_crlf_file_keeps_its_text_and_checksums_normalized(mig_dir):
    mig_dir.write("1-a.sql", b"\xef\xbb\xbfselect 1;\r\nselect 2;\r\n")
    (script,) = load_scripts(mig_dir.path)
    assert script.body == "select 1;\r\nselect 2;\r\n"  # what runs: the file's own text
    assert script.checksum == checksum("select 1;\nselect 2;\n")


def test_directives_from_leading_comments_only(mig_dir):
    mig_dir.write(
        "1-a.sql", "-- about\n-- sqlmig: no-transaction\n\ncreate index concurrently i on t(x);\n"
    )
    mig_dir.write("2-b.sql", "select 1;\n-- sqlmig: no-transaction\n")
    first, second = load_scripts(mig_dir.path)
    assert not first.up.transactional
    assert second.up.transactional


def test_unknown_directive_names_file_and_line(mig_dir):
    mig_dir.write("1-a.sql", "-- header\n-- sqlmig: no-transacton\nselect 1;\n")
    with pytest.raises(ScriptError, match=r"1-a.sql:2: unknown directive 'no-transacton'"):
        load_scripts(mig_dir.path)


def test_a_lint_waiver_in_the_leading_comments_is_not_a_directive(mig_dir):
    mig_dir.write("1-a.sql", '-- sqlmig: lint-ignore ban-drop-table reason="gone"\nDROP TABLE t;\n')
    (script,) = load_scripts(mig_dir.path)
    assert script.up.transactional


@pytest.mark.parametrize(
    ("up", "down", "name"),
    [
        ("0007_add_users.sql", "0007_add_users.down.sql", "add_users"),  # yoyo-style names
        ("20240101120000_add_users.sql", None, "add_users"),  # dbmate
        ("1_add_users.up.sql", "1_add_users.down.sql", "add_users"),  # golang-migrate
        ("0007-add-users.sql", "0007-add-users.down.sql", "add-users"),
    ],
)
def test_other_tools_file_names_are_migrations(mig_dir, up, down, name):
    mig_dir.write(up, "create table a (id int);\n")
    if down:
        mig_dir.write(down, "drop table a;\n")
    (script,) = load_scripts(mig_dir.path)
    assert script.name == name and script.up.path.name == up
    assert (script.down.path.name if script.down else None) == down


def test_requires_names_both_files_when_missing_or_out_of_order(mig_dir):
    mig_dir.write("1-a.sql", "-- sqlmig: requires 2\ncreate table a (id int);\n")
    mig_dir.write("2-b.sql", "-- sqlmig: requires 9\ncreate table b (id int);\n")
    with pytest.raises(ScriptError) as failed:
        load_scripts(mig_dir.path)
    message = str(failed.value)
    assert "1-a.sql: requires" in message and "2-b.sql, which runs after it" in message
    assert "2-b.sql: requires version 9, but no migration file has it" in message


def test_requires_a_version_that_comes_first_is_fine(mig_dir):
    mig_dir.write("1-a.sql", "create table a (id int);\n")
    mig_dir.write("2-b.sql", "-- sqlmig: requires 1\n-- sqlmig: no-transaction\nselect 1;\n")
    scripts = load_scripts(mig_dir.path)
    assert scripts[1].up.requires == (1,) and not scripts[1].up.transactional


def test_requires_without_versions_is_an_error_with_its_line(mig_dir):
    mig_dir.write("1-a.sql", "-- first\n-- sqlmig: requires soon\nselect 1;\n")
    with pytest.raises(ScriptError, match=r"1-a.sql:2: `-- sqlmig: requires` takes versions"):
        load_scripts(mig_dir.path)
