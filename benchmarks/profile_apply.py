"""Where does ``sqlmig apply`` spend its time?  A decomposition of bench_apply's figure.

    python benchmarks/profile_apply.py [--n 1000] [--repeat 3]

Uses the same private PostgreSQL 18 and corpus as bench_apply.py and reports:

1. **Decomposition** (interleaved, fresh database + CHECKPOINT each, wall time of
   the whole process, median of ``--repeat``):

   A  floor      psql, one session, ``BEGIN; \\i file; COMMIT;`` per file
   B  sqlmig     ``sqlmig --dsn ... --dir ... apply``
   C  psycopg    a minimal Python runner: psycopg only, each file split with
                 pglast, one ``cur.execute`` per statement in one transaction
                 per file, no ledger, no CLI (what any psycopg runner pays)
   D  C+ledger   C plus sqlmig's ledger ``INSERT ... ON CONFLICT`` (script text
                 included) in each file's transaction
   E  whole      C but each file sent as one simple-protocol query (one round
                 trip per file instead of one per statement)

   so B-D is sqlmig's own overhead (CLI, plan, checks, output), D-C the ledger,
   C-A Python + psycopg per statement, C-E the per-statement round trips.

2. **Instrumented in-process run** of ``sqlmig apply`` (sqlmig.cli.main with
   psycopg's execute/transaction/connect and pglast's split wrapped by timers):
   round trips and wall time per kind, plus a cProfile top list.

3. **Import time** (``python -X importtime``) of ``sqlmig --help`` and of the
   apply path: the heaviest modules.

Writes benchmarks/out/profile-<timestamp>.json too.
"""

from __future__ import annotations

import argparse
import collections
import contextlib
import cProfile
import datetime as dt
import io
import json
import pstats
import re
import shutil
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path
from typing import Any

HERE = Path(__file__).resolve().parent
sys.path.insert(0, str(HERE))
import bench_apply  # noqa: E402
import corpus  # noqa: E402

LEDGER_SQL = (
    "INSERT INTO public.schema_migrations"
    " (version, name, checksum, script, execution_ms, success, kind)"
    " VALUES (%s, %s, %s, %s, %s, %s, %s)"
    " ON CONFLICT (version) DO UPDATE SET name = EXCLUDED.name,"
    " checksum = EXCLUDED.checksum, script = EXCLUDED.script,"
    " applied_at = clock_timestamp(), applied_by = current_user,"
    " execution_ms = EXCLUDED.execution_ms, success = EXCLUDED.success,"
    " kind = EXCLUDED.kind"
)
LEDGER_DDL = """
CREATE TABLE public.schema_migrations (
    version      bigint      PRIMARY KEY,
    name         text        NOT NULL,
    checksum     text        NOT NULL,
    script       text        NOT NULL,
    applied_at   timestamptz NOT NULL DEFAULT clock_timestamp(),
    applied_by   text        NOT NULL DEFAULT current_user,
    execution_ms integer     NOT NULL DEFAULT 0,
    success      boolean     NOT NULL,
    kind         text        NOT NULL DEFAULT 'migration'
)
"""


# ------------------------------------------------- variant C/D/E (subprocess)


def minimal_runner(dsn: str, directory: Path, mode: str) -> None:
    """A deliberately minimal psycopg runner (modes: split, ledger, whole)."""
    import hashlib

    import psycopg

    files = sorted(directory.glob("*.sql"))
    bodies = [f.read_text(encoding="utf-8") for f in files]
    if mode == "whole":
        pieces: list[list[str]] = [[b] for b in bodies]
    else:
        from pglast import parser

        pieces = [
            [b[s] for s in parser.split(b, with_parser=True, only_slices=True)] for b in bodies
        ]
    with psycopg.connect(dsn, autocommit=True) as conn:
        if mode == "ledger":
            conn.execute(LEDGER_DDL)
        cur = conn.cursor()
        for version, (f, body, statements) in enumerate(zip(files, bodies, pieces, strict=True), 1):
            with conn.transaction():
                for statement in statements:
                    cur.execute(statement, prepare=False)  # type: ignore[call-overload]
                if mode == "ledger":
                    checksum = hashlib.sha256(body.encode()).hexdigest()
                    cur.execute(LEDGER_SQL, (version, f.stem, checksum, body, 1, True, "migration"))
            print(f"applied {f.name}")


# --------------------------------------------------------- instrumented run


class Probe:
    """Wall time and call counts per kind of database call, inside one process."""

    def __init__(self) -> None:
        self.time: collections.Counter[str] = collections.Counter()
        self.count: collections.Counter[str] = collections.Counter()

    def wrap(self, owner: Any, attr: str, kind: Any) -> None:
        original = getattr(owner, attr)
        probe = self

        def wrapper(*args: Any, **kwargs: Any) -> Any:
            label = kind(*args, **kwargs) if callable(kind) else kind
            started = time.perf_counter()
            try:
                return original(*args, **kwargs)
            finally:
                probe.time[label] += time.perf_counter() - started
                probe.count[label] += 1

        setattr(owner, attr, wrapper)


def _query_kind(_cur: Any, query: Any, *args: Any, **kwargs: Any) -> str:
    if isinstance(query, str):
        words = query.split()
        head = " ".join(words[:2]).upper() if words else "?"
        if words and words[0].upper() in ("CREATE", "ALTER", "COMMENT"):
            return "migration: " + head
        if words and words[0].upper() in ("SELECT", "SET"):
            return "sqlmig: " + " ".join(words[:2])[:40]
        return "migration: " + (words[0].upper() if words else "?")
    # psycopg.sql.Composed: sqlmig's ledger statements
    text = re.sub(r"\s+", " ", str(query))
    match = re.search(r"SQL\('\s*(\w+)", text)
    return "ledger: " + (match.group(1).upper() if match else "composed")


def instrumented_apply(dsn: str, directory: Path, top: int) -> dict[str, Any]:
    import psycopg
    from psycopg import transaction

    from sqlmig.cli import main
    from sqlmig.migrations import statements

    probe = Probe()
    probe.wrap(psycopg.Cursor, "execute", _query_kind)
    probe.wrap(transaction.Transaction, "__enter__", "tx: BEGIN (transaction enter)")
    probe.wrap(transaction.Transaction, "__exit__", "tx: COMMIT (transaction exit)")
    probe.wrap(psycopg, "connect", "connect")
    probe.wrap(statements, "split", "pglast split (client CPU)")

    profiler = cProfile.Profile()
    argv = ["sqlmig", "--dsn", dsn, "--dir", str(directory), "apply"]
    sink = io.StringIO()
    started, cpu_started = time.perf_counter(), time.process_time()
    with contextlib.redirect_stdout(sink), contextlib.suppress(SystemExit):
        old_argv, sys.argv = sys.argv, argv
        try:
            profiler.runcall(main)
        finally:
            sys.argv = old_argv
    wall, cpu = time.perf_counter() - started, time.process_time() - cpu_started
    stats = io.StringIO()
    ps = pstats.Stats(profiler, stream=stats)
    ps.sort_stats("tottime").print_stats(top)
    return {
        "wall_s": wall,
        "cpu_s": cpu,
        "calls": {k: {"count": probe.count[k], "s": probe.time[k]} for k in probe.time},
        "cprofile_tottime": stats.getvalue(),
    }


# ------------------------------------------------------------- pyinstrument


def pyinstrument_run(cmd: list[str], cwd: Path, env: dict[str, str], out: Path) -> str | None:
    """A pyinstrument (sampling) profile of ``python -m sqlmig ...``; None if not installed."""
    try:
        import pyinstrument  # noqa: F401
    except ImportError:
        return None
    bench_apply.timed(
        [sys.executable, "-m", "pyinstrument", "-r", "text", "--interval", "0.0005",
         "-o", str(out), "-m", "sqlmig", *cmd],
        cwd=cwd, env=env,
    )  # fmt: skip
    return out.read_text(encoding="utf-8", errors="replace")


# -------------------------------------------------------------- micro-costs


def micro_costs(
    dsn: str, corpus_dir: Path, work: Path, env: dict[str, str], psql: str
) -> dict[str, float]:
    """Client-side costs measured one at a time (seconds unless the key says us)."""

    def med(cmd: list[str], runs: int = 7) -> float:
        return statistics.median(
            bench_apply.timed(cmd, cwd=work, env=env)["wall_s"] for _ in range(runs)
        )

    py = sys.executable
    out: dict[str, float] = {}
    base = med([py, "-c", "pass"])
    out["python_start_s"] = base
    out["import_psycopg_s"] = med([py, "-c", "import psycopg"]) - base
    out["import_pglast_parser_s"] = med([py, "-c", "from pglast import parser"]) - base
    out["import_click_s"] = med([py, "-c", "import click"]) - base
    out["import_sqlmig_cli_s"] = med([py, "-c", "import sqlmig.cli"]) - base
    out["import_sqlmig_apply_path_s"] = (
        med([py, "-c", "import sqlmig.cli, sqlmig.migrations.api"]) - base
    )

    from sqlmig.migrations import executor, statements
    from sqlmig.migrations.files import load_scripts

    t = time.perf_counter()
    loaded = load_scripts(corpus_dir)
    out["load_scripts_s"] = time.perf_counter() - t  # read + normalize + sha256, 1000 files
    t = time.perf_counter()
    for script in loaded:
        statements.split(script.body)
    out["pglast_split_all_s"] = time.perf_counter() - t
    t = time.perf_counter()
    executor.prepare([script.up for script in loaded])
    out["executor_prepare_s"] = time.perf_counter() - t  # split + transaction-control check

    # One round trip of a trivial statement: psycopg (sqlmig's call) vs psql.
    import psycopg

    n = 10000
    with psycopg.connect(dsn, autocommit=True) as conn:
        cur = conn.cursor()
        for _ in range(200):
            cur.execute("SELECT 1", prepare=False)  # type: ignore[call-overload]
        wall, cpu = time.perf_counter(), time.process_time()
        for _ in range(n):
            cur.execute("SELECT 1", prepare=False)  # type: ignore[call-overload]
        out["psycopg_select1_wall_us"] = (time.perf_counter() - wall) / n * 1e6
        out["psycopg_select1_client_cpu_us"] = (time.process_time() - cpu) / n * 1e6
    script = work / "select1.sql"
    script.write_text("SELECT 1;\n" * n, encoding="utf-8")
    empty = work / "empty.sql"
    empty.write_text("", encoding="utf-8")
    runs = [
        bench_apply.timed([psql, "-X", "-q", "-f", str(script), dsn], cwd=work, env=env)
        for _ in range(3)
    ]
    idle = [
        bench_apply.timed([psql, "-X", "-q", "-f", str(empty), dsn], cwd=work, env=env)
        for _ in range(3)
    ]
    out["psql_select1_wall_us"] = (
        (
            statistics.median(r["wall_s"] for r in runs)
            - statistics.median(r["wall_s"] for r in idle)
        )
        / n
        * 1e6
    )
    out["psql_select1_client_cpu_us"] = (
        (statistics.median(r["cpu_s"] for r in runs) - statistics.median(r["cpu_s"] for r in idle))
        / n
        * 1e6
    )
    return out


# --------------------------------------------------------------- importtime


def import_times(cmd: list[str], cwd: Path, env: dict[str, str]) -> dict[str, Any]:
    subprocess.run([sys.executable, *cmd], cwd=cwd, env=env, capture_output=True, check=False)
    proc = subprocess.run(
        [sys.executable, "-X", "importtime", *cmd],
        cwd=cwd, env=env, capture_output=True, text=True, check=False,
    )  # fmt: skip
    rows = []
    for line in proc.stderr.splitlines():
        m = re.match(r"import time:\s+(\d+) \|\s+(\d+) \|( *)(\S+)", line)
        if m:
            rows.append((int(m[2]), int(m[1]), len(m[3]) // 2, m[4]))
    # self time summed per root package (a package imported by another counts as itself)
    top_level: collections.Counter[str] = collections.Counter()
    for _cumulative, self_us, _depth, name in rows:
        top_level[name.split(".")[0]] += self_us
    return {
        "total_ms": sum(c for c, _s, d, _n in rows if d == 0) / 1000,
        "top_level_ms": {k: v / 1000 for k, v in top_level.most_common(12)},
        "heaviest_ms": [
            {"module": n, "cumulative_ms": c / 1000, "self_ms": s / 1000, "depth": d}
            for c, s, d, n in sorted(rows, reverse=True)[:25]
        ],
    }


# --------------------------------------------------------------------- main


def main() -> None:
    if len(sys.argv) > 1 and sys.argv[1] == "_minimal":
        minimal_runner(sys.argv[2], Path(sys.argv[3]), sys.argv[4])
        return
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--n", type=int, default=1000)
    parser.add_argument("--repeat", type=int, default=3)
    parser.add_argument("--top", type=int, default=30, help="cProfile lines")
    parser.add_argument("--out", type=Path, default=HERE / "out")
    args = parser.parse_args()

    work = Path(tempfile.mkdtemp(prefix="sqlmig-prof-"))
    try:
        result = run(args, work)
    finally:
        shutil.rmtree(work, ignore_errors=True)
    args.out.mkdir(parents=True, exist_ok=True)
    out = args.out / f"profile-{dt.datetime.now():%Y%m%d-%H%M%S}.json"
    out.write_text(json.dumps(result, indent=2) + "\n", encoding="utf-8")
    print(f"\nfigures: {out}")


def run(args: argparse.Namespace, work: Path) -> dict[str, Any]:
    corpus_dir = work / "corpus"
    files = corpus.generate(args.n, corpus_dir)
    driver = bench_apply.write_driver(files, work / "driver.sql")
    server, socket_dir, port = bench_apply.start_server(work)
    cluster = bench_apply.Cluster(socket_dir, port)
    psql = bench_apply.find_psql()
    sqlmig = bench_apply.find_sqlmig()
    env = bench_apply.child_env(work)
    me = str(Path(__file__).resolve())

    def minimal(mode: str) -> Any:
        return lambda dsn: [sys.executable, me, "_minimal", dsn, str(corpus_dir), mode]

    variants = {
        "A floor (psql)": lambda dsn: [
            psql,
            "-X",
            "-q",
            "-v",
            "ON_ERROR_STOP=1",
            "-f",
            str(driver),
            dsn,
        ],
        "B sqlmig apply": lambda dsn: [*sqlmig, "--dsn", dsn, "--dir", str(corpus_dir), "apply"],
        "C psycopg, per statement": minimal("split"),
        "D C + ledger row": minimal("ledger"),
        "E psycopg, whole file": minimal("whole"),
    }
    samples: dict[str, list[dict[str, float]]] = {k: [] for k in variants}
    result: dict[str, Any] = {"date": dt.datetime.now().astimezone().isoformat(timespec="seconds")}
    try:
        # warm-up: one full-size run (a new cluster creates its WAL segment
        # files on first use), then the Python variants on the first files
        bench_apply.timed(variants["A floor (psql)"](cluster.fresh_db("warm")), cwd=work, env=env)
        warm = work / "warm"
        warm.mkdir()
        for f in files[:30]:
            (warm / f.name).write_bytes(f.read_bytes())
        bench_apply.timed(
            [*sqlmig, "--dsn", cluster.fresh_db("warm"), "--dir", str(warm), "apply"],
            cwd=work,
            env=env,
        )
        bench_apply.timed(
            [sys.executable, me, "_minimal", cluster.fresh_db("warm"), str(warm), "ledger"],
            cwd=work,
            env=env,
        )
        cluster.drop_db("warm")

        for r in range(1, args.repeat + 1):
            for label, make in variants.items():
                name = "prof_" + label.split()[0].lower()
                sample = bench_apply.timed(make(cluster.fresh_db(name)), cwd=work, env=env)
                samples[label].append(sample)
                cluster.drop_db(name)
                print(
                    f"  repeat {r}: {label:<26} {sample['wall_s']:6.2f} s  (client CPU {sample['cpu_s']:.2f} s)",
                    flush=True,
                )

        print("\ninstrumented in-process sqlmig apply ...", flush=True)
        instrumented = instrumented_apply(
            cluster.fresh_db("prof_instrumented"), corpus_dir, args.top
        )
        cluster.drop_db("prof_instrumented")
        applied = cluster.fresh_db("prof_applied")
        bench_apply.timed(
            [*sqlmig, "--dsn", applied, "--dir", str(corpus_dir), "apply"], cwd=work, env=env
        )
        imports = {
            "sqlmig --help": import_times(["-m", "sqlmig", "--help"], work, env),
            "sqlmig status": import_times(
                ["-m", "sqlmig", "--dsn", applied, "--dir", str(corpus_dir), "status"], work, env
            ),
            "sqlmig apply (no-op)": import_times(
                ["-m", "sqlmig", "--dsn", applied, "--dir", str(corpus_dir), "apply"], work, env
            ),
        }
        sampled = {
            "full apply": pyinstrument_run(
                ["--dsn", cluster.fresh_db("prof_pyinstrument"), "--dir", str(corpus_dir), "apply"],
                work, env, work / "pyinstrument-apply.txt",
            ),
            "no-op apply": pyinstrument_run(
                ["--dsn", applied, "--dir", str(corpus_dir), "apply"],
                work, env, work / "pyinstrument-noop.txt",
            ),
        }  # fmt: skip
        cluster.drop_db("prof_pyinstrument")
        micro = micro_costs(cluster.dsn("postgres"), corpus_dir, work, env, psql)
        noop_profile = io.StringIO()
        prof_file = work / "noop.prof"
        bench_apply.timed(
            [sys.executable, "-m", "cProfile", "-o", str(prof_file), "-m", "sqlmig", "--dsn", applied, "--dir", str(corpus_dir), "apply"],
            cwd=work, env=env,
        )  # fmt: skip
        pstats.Stats(str(prof_file), stream=noop_profile).sort_stats("cumulative").print_stats(25)
    finally:
        cluster.admin.close()
        server.cleanup()

    medians = {k: statistics.median(s["wall_s"] for s in v) for k, v in samples.items() if v}
    cpu = {k: statistics.median(s["cpu_s"] for s in v) for k, v in samples.items() if v}
    if medians:
        a, b, c, d, e = (medians[k] for k in variants)
        print(
            f"\n1. decomposition, {len(files)} files, median of {args.repeat} (wall s / client CPU s):"
        )
        for k in variants:
            print(
                f"   {k:<26} {medians[k]:6.2f}  {cpu[k]:5.2f}   ratio to floor {medians[k] / a:5.3f}"
            )
        print(f"   B - D  sqlmig's own overhead (CLI, plan, checks, output) {b - d:+.2f} s")
        print(f"   D - C  ledger row per file                               {d - c:+.2f} s")
        print(f"   C - A  Python/psycopg runner vs psql                     {c - a:+.2f} s")
        print(f"   C - E  one round trip per statement vs per file          {c - e:+.2f} s")

    calls = instrumented["calls"]
    probed = sum(v["s"] for v in calls.values())
    print(
        f"\n2. instrumented in-process apply: {instrumented['wall_s']:.2f} s wall, "
        f"{instrumented['cpu_s']:.2f} s CPU of this process (no process start-up; "
        f"cProfile on); outside the probes below: {instrumented['wall_s'] - probed:.2f} s"
    )
    for k in sorted(calls, key=lambda k: -calls[k]["s"]):
        v = calls[k]
        print(
            f"   {k:<48} {v['count']:6d} calls {v['s']:7.3f} s  {v['s'] / v['count'] * 1e3:7.3f} ms/call"
        )
    print("\n   cProfile, by tottime (profiler overhead inflates Python-heavy lines):")
    print(
        "\n".join(
            "   " + line for line in instrumented["cprofile_tottime"].splitlines()[: args.top + 12]
        )
    )

    print("\n3. import time (python -X importtime): total, then self time per root package, ms:")
    for label, data in imports.items():
        tops = ", ".join(f"{k} {v:.0f}" for k, v in data["top_level_ms"].items() if v >= 1)
        print(f"   {label:<22} total {data['total_ms']:5.0f} ms: {tops}")
    print("\n5. client-side costs, one at a time:")
    for key, value in micro.items():
        unit = "us" if key.endswith("_us") else "s"
        print(f"   {key:<36} {value:9.3f} {unit}")
    for label, text in sampled.items():
        if text is not None:
            print(f"\n4. pyinstrument, {label} (wall-clock samples every 0.5 ms):")
            print("\n".join("   " + line for line in text.splitlines()[:80]))
    print("\n   no-op apply under cProfile (cumulative):")
    print("\n".join("   " + line for line in noop_profile.getvalue().splitlines()[:45]))

    result.update(
        {
            "files": len(files),
            "repeat": args.repeat,
            "decomposition_median_s": medians,
            "decomposition_cpu_s": cpu,
            "samples": samples,
            "instrumented": instrumented,
            "imports": imports,
            "pyinstrument": sampled,
            "micro_costs": micro,
            "noop_cprofile": noop_profile.getvalue(),
        }
    )
    return result


if __name__ == "__main__":
    main()
