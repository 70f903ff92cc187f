"""COPY ... FROM stdin: sqlmig apply of a large pg_dump-style data file vs ``psql -1 -f``.

    python benchmarks/bench_copy.py [--mb 50 200] [--runs 3] [--json out.json]

Starts a private PostgreSQL 18 (as bench_apply.py does) and, per size, writes a
Pagila-style data file of about ``--mb`` MB: pg_dump's SET lines,
``set_config('search_path', '', false)``, one COPY block per table for four
tables (text, ``\\N``, escapes, arrays, numerics, timestamps) and setval calls.
Then, interleaved (the order flips every round), each into a fresh database
that already holds the schema:

* PSQL:   ``psql -X -q -1 -v ON_ERROR_STOP=1 -f data.sql`` (one transaction, like sqlmig)
* SQLMIG: ``sqlmig apply`` of the same file (its own process, start-up included)

It prints each run, the medians, the ratio of the medians (goal <= 1.10), each
client's peak RSS (ru_maxrss from wait4, per child) and CPU time (the client's
own work, which a busy machine cannot inflate the way it does wall time), and checks that both
databases hold the same rows (count and a hash of every table's rows). Two sizes
show whether sqlmig's memory stays flat as the file grows.
"""

from __future__ import annotations

import argparse
import json
import os
import shutil
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path
from typing import Any

import psycopg
from psycopg import sql

HERE = Path(__file__).resolve().parent
sys.path.insert(0, str(HERE))
from bench_apply import Cluster, child_env, find_psql, find_sqlmig, start_server  # noqa: E402

GOAL_RATIO = 1.10
TABLES = ("actor", "film", "film_actor", "payment")

SCHEMA = """\
CREATE TABLE public.actor (actor_id int PRIMARY KEY, first_name text NOT NULL,
    last_name text, last_update timestamptz NOT NULL);
CREATE SEQUENCE public.actor_actor_id_seq;
CREATE TABLE public.film (film_id int PRIMARY KEY, title text NOT NULL, description text,
    rating numeric(4,2), special_features text[]);
CREATE TABLE public.film_actor (actor_id int NOT NULL, film_id int NOT NULL,
    last_update timestamptz NOT NULL);
CREATE TABLE public.payment (payment_id int NOT NULL, customer_id int NOT NULL,
    staff_id int NOT NULL, rental_id int, amount numeric(5,2) NOT NULL,
    payment_date timestamptz NOT NULL);
CREATE SEQUENCE public.payment_payment_id_seq;
"""

HEAD = """\
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

NAMES = ["PENELOPE", "O'BRIEN", "Zoë", "back\\\\slash", "tab\\there", "new\\nline"]


def _actor(i: int) -> str:
    last = "\\N" if i % 7 == 0 else f"{NAMES[i % 6]}-{i}"
    return f"{i}\t{NAMES[(i * 5) % 6]}\t{last}\t2020-02-15 09:34:33+00\n"


def _film(i: int) -> str:
    text = "\\N" if i % 5 == 0 else f"A Epic Drama of a {NAMES[i % 6]} in a Shark Tank"
    return f'{i}\tFILM {i}\t{text}\t{i % 10}.99\t{{Trailers,"Deleted Scenes"}}\n'


def _film_actor(i: int) -> str:
    return f"{i % 200 + 1}\t{i}\t2020-02-15 09:05:03+00\n"


def _payment(i: int) -> str:
    return f"{i}\t{i % 599 + 1}\t{i % 2 + 1}\t{i * 3}\t{i % 12}.99\t2020-01-24 21:40:19.596521+00\n"


ROWS = {"actor": _actor, "film": _film, "film_actor": _film_actor, "payment": _payment}
COLUMNS = {
    "actor": "actor_id, first_name, last_name, last_update",
    "film": "film_id, title, description, rating, special_features",
    "film_actor": "actor_id, film_id, last_update",
    "payment": "payment_id, customer_id, staff_id, rental_id, amount, payment_date",
}
SHARE = {"actor": 0.15, "film": 0.35, "film_actor": 0.15, "payment": 0.35}


def write_data(path: Path, megabytes: int) -> dict[str, int]:
    """About ``megabytes`` MB, one COPY block per table (written as it goes, not held)."""
    target = megabytes * 1_000_000
    counts = dict.fromkeys(TABLES, 0)
    with open(path, "w", encoding="utf-8") as out:
        out.write(HEAD)
        goal = 0.0
        for table in TABLES:
            goal += SHARE[table] * target
            out.write(
                f"--\n-- Data for Name: {table}; Type: TABLE DATA; Schema: public\n--\n\n"
                f"COPY public.{table} ({COLUMNS[table]}) FROM stdin;\n"
            )
            row = ROWS[table]
            while out.tell() < goal:
                batch = range(counts[table] + 1, counts[table] + 1001)
                out.write("".join(map(row, batch)))
                counts[table] += 1000
            out.write("\\.\n\n\n")
        out.write(
            f"SELECT pg_catalog.setval('public.actor_actor_id_seq', {counts['actor']}, true);\n"
            "SELECT pg_catalog.setval('public.payment_payment_id_seq', "
            f"{counts['payment']}, true);\n\n--\n-- PostgreSQL database dump complete\n--\n\n"
        )
    return counts


def contents(dsn: str) -> dict[str, tuple[int, int]]:
    """Per table: row count and a sum of the rows' hashes (order-free, cheap)."""
    found = {}
    with psycopg.connect(dsn) as conn:
        for table in TABLES:
            row = conn.execute(
                sql.SQL("SELECT count(*), sum(hashtext(t::text)) FROM {} t").format(
                    sql.Identifier("public", table)
                )
            ).fetchone()
            assert row is not None
            found[table] = (int(row[0]), int(row[1] or 0))
    return found


def measured(cmd: list[str], env: dict[str, str]) -> tuple[float, int, float]:
    """(wall seconds, peak RSS in KiB, user+system CPU seconds) of one child process."""
    started = time.perf_counter()
    proc = subprocess.Popen(
        cmd, env=env, stdin=subprocess.DEVNULL, stdout=subprocess.DEVNULL, stderr=subprocess.PIPE
    )
    assert proc.stderr is not None
    err = proc.stderr.read()
    _, status, usage = os.wait4(proc.pid, 0)
    wall = time.perf_counter() - started
    proc.returncode = os.waitstatus_to_exitcode(status)
    if proc.returncode != 0:
        sys.exit(f"failed: {' '.join(cmd)}\n{err.decode(errors='replace')[-3000:]}")
    return wall, int(usage.ru_maxrss), usage.ru_utime + usage.ru_stime


def one_size(cluster: Cluster, work: Path, megabytes: int, runs: int) -> dict[str, Any]:
    psql, sqlmig, env = find_psql(), find_sqlmig(), child_env(work)
    schema_dir, data_dir = work / f"schema{megabytes}", work / f"data{megabytes}"
    schema_dir.mkdir()
    data_dir.mkdir()
    (schema_dir / "1-schema.sql").write_text(SCHEMA)
    shutil.copy(schema_dir / "1-schema.sql", data_dir / "1-schema.sql")
    data = data_dir / "2-data.sql"
    counts = write_data(data, megabytes)
    size = data.stat().st_size
    print(f"data file: {size / 1e6:.1f} MB, rows {counts}")
    samples: dict[str, list[tuple[float, int, float]]] = {"psql": [], "sqlmig": []}
    for run in range(runs):
        for who in ("psql", "sqlmig") if run % 2 == 0 else ("sqlmig", "psql"):
            dsn = cluster.fresh_db(f"b_{who}")
            if who == "psql":
                subprocess.run([psql, "-X", "-q", "-d", dsn, "-c", SCHEMA], check=True)
                cmd = [psql, "-X", "-q", "-1", "-v", "ON_ERROR_STOP=1", "-d", dsn, "-f"]
                cmd.append(str(data))
            else:
                base = [*sqlmig, "--dsn", dsn, "--dir"]
                subprocess.run([*base, str(schema_dir), "apply"], env=env, check=True,
                               capture_output=True)  # fmt: skip
                cmd = [*base, str(data_dir), "apply"]
            samples[who].append(measured(cmd, env))
            wall, rss, cpu = samples[who][-1]
            print(f"  run {run + 1} {who:6}: {wall:6.2f} s, peak RSS {rss / 1024:4.0f} MiB, "
                  f"client CPU {cpu:5.2f} s (load {os.getloadavg()[0]:.1f})")  # fmt: skip
    mine, theirs = contents(cluster.dsn("b_sqlmig")), contents(cluster.dsn("b_psql"))
    p = statistics.median(s[0] for s in samples["psql"])
    m = statistics.median(s[0] for s in samples["sqlmig"])
    result = {
        "mb": round(size / 1e6, 1),
        "rows": sum(counts.values()),
        "psql_s": [round(s[0], 2) for s in samples["psql"]],
        "sqlmig_s": [round(s[0], 2) for s in samples["sqlmig"]],
        "psql_median_s": round(p, 2),
        "sqlmig_median_s": round(m, 2),
        "ratio": round(m / p, 3),
        "psql_cpu_s": round(statistics.median(s[2] for s in samples["psql"]), 2),
        "sqlmig_cpu_s": round(statistics.median(s[2] for s in samples["sqlmig"]), 2),
        "psql_rss_mib": round(max(s[1] for s in samples["psql"]) / 1024),
        "sqlmig_rss_mib": round(max(s[1] for s in samples["sqlmig"]) / 1024),
        "same_rows": mine == theirs and [c for c, _ in mine.values()] == list(counts.values()),
    }
    print(f"  median psql {p:.2f} s, sqlmig {m:.2f} s, ratio {m / p:.2f}x (goal <= {GOAL_RATIO}); "
          f"peak RSS psql {result['psql_rss_mib']} MiB, sqlmig {result['sqlmig_rss_mib']} MiB; "
          f"same rows: {result['same_rows']}")  # fmt: skip
    data.unlink()
    return result


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--mb", type=int, nargs="+", default=[50, 200])
    parser.add_argument("--runs", type=int, default=3)
    parser.add_argument("--json", type=Path, help="write the figures here")
    args = parser.parse_args()
    work = Path(tempfile.mkdtemp(prefix="bench-copy-"))
    server = None
    try:
        server, socket_dir, port = start_server(work)
        cluster = Cluster(socket_dir, port)
        print(f"psql {find_psql()}; load average {os.getloadavg()[0]:.1f}")
        results = [one_size(cluster, work, mb, args.runs) for mb in args.mb]
        if len(results) > 1:
            print("flat memory: sqlmig peak RSS " + ", ".join(
                f"{r['sqlmig_rss_mib']} MiB at {r['mb']:.0f} MB" for r in results))  # fmt: skip
        if args.json:
            args.json.write_text(json.dumps(results, indent=2) + "\n")
    finally:
        if server is not None:
            server.cleanup()
        shutil.rmtree(work, ignore_errors=True)


if __name__ == "__main__":
    main()
