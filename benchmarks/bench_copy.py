"""COPY ... FROM stdin: sqlmig apply of a large pg_dump-style data file vs ``psql -1 -f``.

    python benchmarks/bench_copy.py [--mb 200] [--runs 3]

Starts a private PostgreSQL 18 (as bench_apply.py does), writes a Pagila-style
data file of about ``--mb`` MB (SET lines, ``set_config('search_path', '', false)``,
COPY blocks with tabs, ``\\N`` and escapes, setval calls), then runs, interleaved,
in fresh databases that already hold the schema:

* PSQL:   ``psql -X -q -1 -v ON_ERROR_STOP=1 -f data.sql`` (one transaction, like sqlmig)
* SQLMIG: ``sqlmig apply`` of the same file (its own process, start-up included)

It prints medians, the ratio (goal <= 1.10) and each process's peak RSS
(ru_maxrss from wait4, per child), and checks both databases hold the same rows.
"""

from __future__ import annotations

import argparse
import os
import shutil
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

HERE = Path(__file__).resolve().parent
sys.path.insert(0, str(HERE))
from bench_apply import Cluster, child_env, find_psql, find_sqlmig, start_server  # noqa: E402

GOAL_RATIO = 1.10

SCHEMA = """\
CREATE TABLE public.actor (actor_id int PRIMARY KEY, first_name text NOT NULL,
    last_name text, last_update timestamptz NOT NULL);
CREATE SEQUENCE public.actor_actor_id_seq;
CREATE TABLE public.film (film_id int PRIMARY KEY, title text NOT NULL, description text,
    rating numeric(4,2), special_features text[]);
"""

HEAD = """\
SET statement_timeout = 0;
SET lock_timeout = 0;
SET client_encoding = 'UTF8';
SET standard_conforming_strings = on;
SELECT pg_catalog.set_config('search_path', '', false);
SET check_function_bodies = false;
SET client_min_messages = warning;
SET row_security = off;

"""

NAMES = ["PENELOPE", "O'BRIEN", "Zoë", "back\\\\slash", "tab\\there", "new\\nline"]


def write_data(path: Path, megabytes: int) -> dict[str, int]:
    """About ``megabytes`` MB in two COPY blocks (written as it goes, not held in memory)."""
    target = megabytes * 1_000_000
    counts = {"actor": 0, "film": 0}
    with open(path, "w", encoding="utf-8") as out:
        out.write(HEAD)
        out.write("COPY public.actor (actor_id, first_name, last_name, last_update) FROM stdin;\n")
        while out.tell() < target // 2:
            i = counts["actor"] = counts["actor"] + 1
            last = "\\N" if i % 7 == 0 else f"{NAMES[i % 6]}-{i}"
            out.write(f"{i}\t{NAMES[(i * 5) % 6]}\t{last}\t2020-02-15 09:34:33+00\n")
        out.write("\\.\n\n")
        out.write(
            "COPY public.film (film_id, title, description, rating, special_features) FROM stdin;\n"
        )
        while out.tell() < target:
            i = counts["film"] = counts["film"] + 1
            text = "\\N" if i % 5 == 0 else f"A Epic Drama of a {NAMES[i % 6]} in a Shark Tank"
            out.write(f'{i}\tFILM {i}\t{text}\t{i % 10}.99\t{{Trailers,"Deleted Scenes"}}\n')
        out.write("\\.\n\n")
        out.write(f"SELECT pg_catalog.setval('public.actor_actor_id_seq', {counts['actor']});\n")
    return counts


def measured(cmd: list[str], env: dict[str, str]) -> tuple[float, int]:
    """(wall seconds, peak RSS in KiB) of one child process."""
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
    return wall, int(usage.ru_maxrss)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--mb", type=int, default=200)
    parser.add_argument("--runs", type=int, default=3)
    args = parser.parse_args()
    work = Path(tempfile.mkdtemp(prefix="bench-copy-"))
    server = None
    try:
        server, socket_dir, port = start_server(work)
        cluster = Cluster(socket_dir, port)
        psql, sqlmig, env = find_psql(), find_sqlmig(), child_env(work)
        schema_dir, data_dir = work / "schema", work / "data"
        schema_dir.mkdir()
        data_dir.mkdir()
        (schema_dir / "1-schema.sql").write_text(SCHEMA)
        shutil.copy(schema_dir / "1-schema.sql", data_dir / "1-schema.sql")
        data = data_dir / "2-data.sql"
        counts = write_data(data, args.mb)
        size = data.stat().st_size
        print(f"data file: {size / 1e6:.1f} MB, rows {counts}; psql {psql}")
        samples: dict[str, list[tuple[float, int]]] = {"psql": [], "sqlmig": []}
        for run in range(args.runs):
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
                print(f"  run {run + 1} {who:6}: {samples[who][-1][0]:.2f} s, "
                      f"peak RSS {samples[who][-1][1] / 1024:.0f} MiB")  # fmt: skip
        same = cluster.fingerprint("b_psql") == cluster.fingerprint("b_sqlmig")
        p = statistics.median(s[0] for s in samples["psql"])
        m = statistics.median(s[0] for s in samples["sqlmig"])
        rss = max(s[1] for s in samples["sqlmig"]) / 1024
        print(f"median psql {p:.2f} s, sqlmig {m:.2f} s, ratio {m / p:.2f}x "
              f"(goal <= {GOAL_RATIO}); sqlmig peak RSS {rss:.0f} MiB for a "
              f"{size / 2**20:.0f} MiB file; same rows: {same}")  # fmt: skip
    finally:
        if server is not None:
            server.cleanup()
        shutil.rmtree(work, ignore_errors=True)


if __name__ == "__main__":
    main()
