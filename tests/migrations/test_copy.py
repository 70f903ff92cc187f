"""COPY ... FROM stdin in migration files (issue 11): pg_dump's data files load as under psql.

A Pagila-style ``pagila-data.sql`` (SET lines, ``set_config('search_path', '', false)``,
COPY blocks with tabs, ``\\N``, escapes, quotes; setval calls) is generated here; sqlmig
and ``psql -f`` load it into two databases, which must then hold the same rows.
"""

from __future__ import annotations

import hashlib
import re
import shutil
import subprocess
import uuid
from pathlib import Path

import psycopg
import pytest
from psycopg import sql
from support.db import query
from support.folders import MigDir

from sqlmig.migrations.datafile import MARKER_PREFIX
from sqlmig.migrations.files import LARGE_FILE_BYTES, checksum, load_scripts

_PSQL = next(
    (
        p
        for p in (
            shutil.which("psql") or "",
            "/usr/lib/postgresql/15/bin/psql",
        )
        if p and Path(p).is_file()
    ),
    None,
)

SCHEMA = """\
CREATE TABLE public.actor (
    actor_id serial PRIMARY KEY,
    first_name text NOT NULL,
    last_name text,
    last_update timestamptz NOT NULL DEFAULT now()
);
CREATE TABLE public.film (
    film_id serial PRIMARY KEY,
    title text NOT NULL,
    description text,
    rating numeric(4,2),
    special_features text[]
);
CREATE TABLE public.film_actor (
    actor_id int NOT NULL REFERENCES public.actor,
    film_id int NOT NULL REFERENCES public.film,
    PRIMARY KEY (actor_id, film_id)
);
"""

_HEAD = """\
--
-- PostgreSQL database dump
--

SET statement_timeout = 0;
SET lock_timeout = 0;
SET idle_in_transaction_session_timeout = 0;
SET client_encoding = 'UTF8';
SET standard_conforming_strings = on;
SELECT pg_catalog.set_config('search_path', '', false);
SET check_function_bodies = false;
SET xmloption = content;
SET client_min_messages = warning;
SET row_security = off;

"""

# Text-format escapes as pg_dump writes them: \t, \n, \\ inside values, \N for NULL.
_NAMES = ["PENELOPE", "O'BRIEN", "Zoë", "back\\\\slash", "tab\\there", "new\\nline", "$$dollar$$"]


def pagila_data(actors: int, films: int) -> str:
    """A data-only dump in pg_dump's shape (its rows in text COPY format)."""
    out = [_HEAD]
    out.append(
        "--\n-- Data for Name: actor; Type: TABLE DATA; Schema: public; Owner: postgres\n--\n\n"
        "COPY public.actor (actor_id, first_name, last_name, last_update) FROM stdin;\n"
    )
    for i in range(1, actors + 1):
        last = "\\N" if i % 7 == 0 else f"{_NAMES[i % len(_NAMES)]}-{i}"
        out.append(f"{i}\t{_NAMES[(i * 3) % len(_NAMES)]}\t{last}\t2020-02-15 09:34:33+00\n")
    out.append("\\.\n\n\n")
    out.append(
        "--\n-- Data for Name: film; Type: TABLE DATA; Schema: public; Owner: postgres\n--\n\n"
        "COPY public.film (film_id, title, description, rating, special_features) FROM stdin;\n"
    )
    for i in range(1, films + 1):
        description = "\\N" if i % 5 == 0 else f"A Epic Drama of a {_NAMES[i % len(_NAMES)]}"
        out.append(f'{i}\tFILM {i}\t{description}\t{i % 10}.99\t{{Trailers,"Deleted Scenes"}}\n')
    out.append("\\.\n\n\n")
    out.append("COPY public.film_actor (actor_id, film_id) FROM stdin;\n")
    for i in range(1, films + 1):
        out.append(f"{(i % actors) + 1}\t{i}\n")
    out.append("\\.\n\n\n")
    out.append(
        f"SELECT pg_catalog.setval('public.actor_actor_id_seq', {actors}, true);\n"
        f"SELECT pg_catalog.setval('public.film_film_id_seq', {films}, true);\n\n"
        "--\n-- PostgreSQL database dump complete\n--\n\n"
    )
    return "".join(out)


def _contents(dsn: str) -> list[tuple[object, ...]]:
    """Row counts, a digest of every table's rows, and the sequences' values."""
    checks = []
    for table in ("actor", "film", "film_actor"):
        checks.append(
            query(
                dsn,
                f"select count(*), md5(string_agg(t::text, '|' order by t::text))"
                f" from public.{table} t",
            )[0]
        )
    checks.append(query(dsn, "select last_value from public.actor_actor_id_seq")[0])
    checks.append(query(dsn, "select last_value from public.film_film_id_seq")[0])
    return checks


@pytest.mark.skipif(_PSQL is None, reason="no psql binary")
def test_pagila_style_data_file_loads_like_psql(
    dsn: str, pg_major: int, mig_dir: MigDir, sqlmig, tmp_path: Path
) -> None:  # type: ignore[no-untyped-def]
    data = pagila_data(actors=200, films=1000)
    mig_dir.write("1-schema.sql", SCHEMA)
    mig_dir.write("2-pagila-data.sql", data)
    result = sqlmig("apply")
    assert result.exit_code == 0, result.output

    # The same file through psql, into a second database with the same schema.
    other = f"t_{uuid.uuid4().hex[:12]}"
    with psycopg.connect(dsn, autocommit=True) as conn:
        conn.execute(sql.SQL("CREATE DATABASE {}").format(sql.Identifier(other)))
    other_dsn = psycopg.conninfo.make_conninfo(dsn, dbname=other)
    try:
        with psycopg.connect(other_dsn, autocommit=True) as conn:
            conn.execute(SCHEMA)
        (tmp_path / "pagila-data.sql").write_text(data, encoding="utf-8")
        assert _PSQL is not None
        subprocess.run(
            [
                _PSQL,
                "-X",
                "-q",
                "-v",
                "ON_ERROR_STOP=1",
                "-d",
                other_dsn,
                "-f",
                str(tmp_path / "pagila-data.sql"),
            ],
            check=True,
            capture_output=True,
        )
        mine, theirs = _contents(dsn), _contents(other_dsn)
    finally:
        with psycopg.connect(dsn, autocommit=True) as conn:
            conn.execute(sql.SQL("DROP DATABASE {} WITH (FORCE)").format(sql.Identifier(other)))
    assert mine == theirs
    assert [row[0] for row in mine[:3]] == [200, 1000, 1000]
    # The file emptied search_path; the ledger write is schema-qualified and still worked.
    assert query(dsn, "select version, success from public.schema_migrations order by 1") == [
        (1, True),
        (2, True),
    ]
    stored = query(dsn, "select script from public.schema_migrations where version = 2")
    assert stored == [(data,)]
    # Escapes arrived as data: a tab, a newline and a backslash inside values, and NULLs.
    assert query(dsn, "select count(*) from public.actor where last_name is null") == [(28,)]
    assert query(dsn, "select count(*) from public.actor where first_name = E'tab\\there'")[0][0]
    assert query(dsn, "select count(*) from public.actor where first_name = E'new\\nline'")[0][0]


def test_malformed_row_in_a_later_block_names_its_line(mig_dir: MigDir, sqlmig, dsn: str) -> None:  # type: ignore[no-untyped-def]
    mig_dir.write("1-schema.sql", SCHEMA)
    data = pagila_data(actors=3, films=4)
    lines = data.split("\n")
    bad = next(n for n, line in enumerate(lines) if line.startswith("3\tFILM 3\t"))
    lines[bad] = "3\tFILM 3\toops\tnot-a-number\t{}"
    mig_dir.write("2-data.sql", "\n".join(lines))
    result = sqlmig("apply")
    assert result.exit_code == 1
    assert f"2-data.sql:{bad + 1}:1: ERROR 22P02" in result.stderr
    assert "CONTEXT: COPY film, line 3" in result.stderr
    assert "2-data.sql was rolled back: nothing of it was applied" in result.stderr
    assert query(dsn, "select count(*) from public.actor") == [(0,)]
    assert query(dsn, "select version from public.schema_migrations") == [(1,)]


def test_a_meta_command_beside_copy_blocks_is_refused_by_line(mig_dir: MigDir, sqlmig) -> None:  # type: ignore[no-untyped-def]
    mig_dir.write("1-a.sql", "create table a (id int);\nCOPY a FROM stdin;\n1\n\\.\n\\set x 1\n")
    result = sqlmig("apply")
    assert result.exit_code == 2
    assert "1-a.sql:5:1: \\set is a psql command, not SQL" in result.stderr
    assert "Nothing was applied." in result.stderr


def test_text_after_the_copy_semicolon_is_refused(mig_dir: MigDir, sqlmig) -> None:  # type: ignore[no-untyped-def]
    mig_dir.write("1-a.sql", "create table a (id int);\nCOPY a FROM stdin; select 1;\n1\n\\.\n")
    result = sqlmig("apply")
    assert result.exit_code == 2
    assert "1-a.sql:2:19: text after COPY ... FROM stdin;" in result.stderr


def test_copy_in_a_string_or_csv_rows_are_not_mistaken(mig_dir: MigDir, sqlmig, dsn: str) -> None:  # type: ignore[no-untyped-def]
    mig_dir.write(
        "1-a.sql",
        "create table a (id int, v text);\n"
        "select 'not a block:\ncopy a from stdin;\n';\n"
        "copy a (id, v) from stdin with (format csv, delimiter ';');\n"
        '1;"semi;colon"\n2;"two\nlines"\n\\.\n'
        "insert into a values (3, 'after');\n",
    )
    result = sqlmig("apply")
    assert result.exit_code == 0, result.output
    assert query(dsn, "select id, v from a order by id") == [
        (1, "semi;colon"),
        (2, "two\nlines"),
        (3, "after"),
    ]


def test_no_transaction_file_with_copy_loads(mig_dir: MigDir, sqlmig, dsn: str) -> None:  # type: ignore[no-untyped-def]
    mig_dir.write(
        "1-a.sql",
        "-- sqlmig: no-transaction\ncreate table a (id int);\nCOPY a FROM stdin;\n1\n2\n\\.\n",
    )
    result = sqlmig("apply")
    assert result.exit_code == 0, result.output
    assert query(dsn, "select count(*) from a") == [(2,)]
    assert query(dsn, "select success from public.schema_migrations") == [(True,)]


def test_verbose_run_reports_each_copy_block(mig_dir: MigDir, sqlmig, dsn: str) -> None:  # type: ignore[no-untyped-def]
    mig_dir.write("1-a.sql", "create table a (id int);\nCOPY a FROM stdin;\n1\n2\n\\.\n")
    result = sqlmig("-v", "apply")
    assert result.exit_code == 0, result.output
    assert query(dsn, "select count(*) from a") == [(2,)]


def test_ledger_row_of_a_copy_file_named_with_percent(mig_dir: MigDir, sqlmig, dsn: str) -> None:  # type: ignore[no-untyped-def]
    text = "create table a (v text);\nCOPY a FROM stdin;\n100%\n%s\n\\.\n"
    mig_dir.write("1-100%-loaded.sql", text)
    result = sqlmig("apply")
    assert result.exit_code == 0, result.output
    assert query(dsn, "select v from a order by v") == [("%s",), ("100%",)]
    assert query(dsn, "select name, script, success from public.schema_migrations") == [
        ("100%-loaded", text, True)
    ]


# --- Large data files (over files.LARGE_FILE_BYTES): streamed from disk, never held. ---


def _large_pagila(films: int = 70_000) -> str:
    """A pagila-style file comfortably over LARGE_FILE_BYTES (its film rows span chunks)."""
    data = pagila_data(actors=200, films=films)
    assert len(data.encode()) > LARGE_FILE_BYTES
    return data


def _marked(text: str) -> str:
    """The ledger's form of a data file, built here independently: each block's rows
    (the bytes after its COPY line up to its ``\\.`` line) become one marker line."""
    out, rest = [], text
    pattern = re.compile(r"^COPY [^\n]*FROM stdin;\n", re.MULTILINE)
    while (match := pattern.search(rest)) is not None:
        end = rest.index("\n\\.\n", match.end()) + 1
        rows = rest[match.end() : end].encode()
        digest, count = hashlib.sha256(rows).hexdigest(), rows.count(b"\n")
        out.append(rest[: match.end()])
        out.append(f"{MARKER_PREFIX} {count} lines, {len(rows)} bytes, sha256 {digest}\n")
        rest = rest[end:]
    return "".join(out) + rest


@pytest.mark.parametrize(
    "raw",
    [
        pytest.param(b"select 1;\n" * 600_000, id="lf"),
        # A CR as the last byte of the first 1 MiB read, its LF the first of the next.
        pytest.param(
            b"-- " + b"x" * (2**20 - 4) + b"\r\n" + b"select 1;\r\n" * 500_000 + b"\r", id="crlf"
        ),
        pytest.param("\ufeffselect 'zoë';\n".encode() * 400_000, id="bom"),
        pytest.param(b"select 1;\r" * 600_000, id="cr"),
    ],
)
def test_large_file_checksum_is_the_eager_checksum(tmp_path: Path, raw: bytes) -> None:
    (tmp_path / "1-big.sql").write_bytes(raw)
    [script] = load_scripts(tmp_path)
    assert script.up.large and script.up.text is None  # no copy of the text is kept
    text = raw.decode("utf-8").removeprefix("\ufeff")
    assert script.checksum == checksum(text)  # existing ledgers see no modification
    assert script.up.body == text  # read again, whole, only when asked


def test_large_data_file_streams_and_the_ledger_keeps_markers(
    dsn: str, mig_dir: MigDir, sqlmig, tmp_path: Path
) -> None:  # type: ignore[no-untyped-def]
    data = _large_pagila()
    mig_dir.write("1-schema.sql", SCHEMA)
    mig_dir.write("2-pagila-data.sql", data)
    result = sqlmig("apply")
    assert result.exit_code == 0, result.output
    # The final line counts the rows COPY loaded (200 actors, then films and film_actor).
    assert re.search(r"applied 2-pagila-data\.sql +\d+ ms  140,200 rows", result.output)
    mine = _contents(dsn)
    assert [row[0] for row in mine[:3]] == [200, 70_000, 70_000]
    if _PSQL is not None:  # the same rows as psql loads
        other = f"t_{uuid.uuid4().hex[:12]}"
        with psycopg.connect(dsn, autocommit=True) as conn:
            conn.execute(sql.SQL("CREATE DATABASE {}").format(sql.Identifier(other)))
        other_dsn = psycopg.conninfo.make_conninfo(dsn, dbname=other)
        try:
            with psycopg.connect(other_dsn, autocommit=True) as conn:
                conn.execute(SCHEMA)
            subprocess.run(
                [_PSQL, "-X", "-q", "-v", "ON_ERROR_STOP=1", "-d", other_dsn, "-f",
                 str(mig_dir.path / "2-pagila-data.sql")],
                check=True, capture_output=True,
            )  # fmt: skip
            assert _contents(other_dsn) == mine
        finally:
            with psycopg.connect(dsn, autocommit=True) as conn:
                conn.execute(sql.SQL("DROP DATABASE {} WITH (FORCE)").format(sql.Identifier(other)))
    [(stored, stored_sum)] = query(
        dsn, "select script, checksum from public.schema_migrations where version = 2"
    )
    assert stored_sum == checksum(data)  # the checksum still covers every byte
    assert stored == _marked(data)
    assert stored.count(MARKER_PREFIX) == 3 and "FILM 17\t" not in stored
    assert len(stored) < 2000
    # verify agrees with the ledger: the file is unchanged.
    assert sqlmig("verify").exit_code == 0


def test_no_transaction_large_data_file_keeps_markers(mig_dir: MigDir, sqlmig, dsn: str) -> None:  # type: ignore[no-untyped-def]
    data = "-- sqlmig: no-transaction\n" + _large_pagila()
    mig_dir.write("1-schema.sql", SCHEMA)
    mig_dir.write("2-data.sql", data)
    result = sqlmig("apply")
    assert result.exit_code == 0, result.output
    assert query(dsn, "select script, success from public.schema_migrations where version = 2") == [
        (_marked(data), True)
    ]


def test_modified_large_data_file_is_refused_with_its_markers_diff(mig_dir: MigDir, sqlmig) -> None:  # type: ignore[no-untyped-def]
    data = _large_pagila()
    mig_dir.write("1-schema.sql", SCHEMA)
    mig_dir.write("2-data.sql", data)
    assert sqlmig("apply").exit_code == 0
    edited = data.replace("\tFILM 60000\t", "\tFILM 60000 (edited)\t")
    mig_dir.write("2-data.sql", edited)
    result = sqlmig("verify")
    assert result.exit_code == 1
    assert "modified" in result.output + result.stderr
    out = result.output + result.stderr
    old_film, new_film = (
        next(line for line in _marked(text).split("\n") if "70000 lines" in line)
        for text in (data, edited)
    )
    assert f"-{old_film}" in out and f"+{new_film}" in out  # the film block's rows differ
    assert "FILM 60000" not in out  # the rows themselves are not in the ledger
    refused = sqlmig("apply")
    assert refused.exit_code != 0 and "changed since it was applied" in refused.stderr


def test_malformed_row_far_into_a_large_file_names_its_line(
    mig_dir: MigDir, sqlmig, dsn: str
) -> None:  # type: ignore[no-untyped-def]
    lines = _large_pagila().split("\n")
    bad = next(n for n, line in enumerate(lines) if line.startswith("65000\tFILM 65000\t"))
    lines[bad] = "65000\tFILM 65000\toops\tnot-a-number\t{}"
    mig_dir.write("1-schema.sql", SCHEMA)
    mig_dir.write("2-data.sql", "\n".join(lines))
    result = sqlmig("apply")
    assert result.exit_code == 1
    assert f"2-data.sql:{bad + 1}:1: ERROR 22P02" in result.stderr
    assert "CONTEXT: COPY film, line 65000" in result.stderr
    # The excerpt shows the rows around it, read back from the file.
    assert f"> {bad + 1} | 65000\tFILM 65000\toops" in result.stderr
    assert f"  {bad} | 64999\tFILM 64999\t" in result.stderr
    assert "2-data.sql was rolled back: nothing of it was applied" in result.stderr
    assert query(dsn, "select count(*) from public.actor") == [(0,)]
    assert query(dsn, "select version from public.schema_migrations") == [(1,)]


def test_large_file_without_its_end_is_refused_by_line(mig_dir: MigDir, sqlmig) -> None:  # type: ignore[no-untyped-def]
    data = _large_pagila()
    cut = data.rindex("COPY public.film_actor")
    mig_dir.write("1-data.sql", data[:cut] + "COPY public.film_actor FROM stdin;\n1\t1\n")
    result = sqlmig("apply")
    assert result.exit_code == 2
    line = data[:cut].count("\n") + 1
    assert f"1-data.sql:{line}:1: COPY ... FROM stdin without its end" in result.stderr


def test_progress_line_shows_copy_rows_on_a_terminal(tmp_path: Path, capsys) -> None:  # type: ignore[no-untyped-def]
    from sqlmig.cli.render import ProgressLines
    from sqlmig.migrations.events import CopyRows, Finished, Started

    (tmp_path / "1-a.sql").write_text("select 1;\n")
    [script] = load_scripts(tmp_path)
    lines = ProgressLines()
    lines.tty = True
    lines(Started(script, 1, 2))
    lines(CopyRows(script, 1_234_567))
    lines(CopyRows(script, 1_234_568))  # within the redraw interval: not drawn
    lines(Finished(script, 1, 2, 5, rows=2_000_000))
    out = capsys.readouterr().out
    assert "1-a.sql  1,234,567 rows" in out and "1,234,568" not in out
    assert re.search(r"applied 1-a\.sql +5 ms  2,000,000 rows", out)
    plain = ProgressLines()
    plain.tty = False
    plain(Started(script, 1, 1))
    plain(CopyRows(script, 10))
    plain(Finished(script, 1, 1, 5))
    out = capsys.readouterr().out
    assert "rows" not in out  # not a terminal: no redraws; a file without COPY: no count


def test_verbose_run_of_a_large_file_names_each_block_by_its_line(
    mig_dir: MigDir, sqlmig, dsn: str
) -> None:  # type: ignore[no-untyped-def]
    data = _large_pagila()
    mig_dir.write("1-schema.sql", SCHEMA)
    mig_dir.write("2-data.sql", data)
    result = sqlmig("-v", "apply")
    assert result.exit_code == 0, result.output
    line = data[: data.index("COPY public.film_actor")].count("\n") + 1
    assert re.search(rf"  2-data\.sql:{line} +\d+ ms  COPY public\.film_actor", result.output)
    setval = data[: data.index("SELECT pg_catalog.setval('public.film")].count("\n") + 1
    assert re.search(rf"  2-data\.sql:{setval} +\d+ ms  SELECT pg_catalog\.setval", result.output)
    assert query(dsn, "select count(*) from public.film_actor") == [(70_000,)]
