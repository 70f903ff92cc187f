"""sqlmig beside its peers, before and after a change, in ONE run of ../shared/peers/bench.py.

    bash ../shared/peers/setup.sh                       # peers + PostgreSQL 15 on :55432
    SQLMIG=.venv/bin/sqlmig SQLMIG_BEFORE=/path/to/old/venv/bin/sqlmig \\
        python benchmarks/bench_peers.py --ns 1000 --runs 3 \\
        --tools psql-session,dbmate,postgrator,sqlmig-before,sqlmig,psycopg-floor

The shared bench is loaded as it is and extended, not copied:

* ``sqlmig-before``: the same commands as ``sqlmig`` with ``$SQLMIG_BEFORE`` (an
  installed older sqlmig), so before/after figures come from the same run;
* ``psycopg-floor``: applies with sqlmig (so its database verifies), but its
  no-op and status commands are ``python -c "import psycopg"`` with sqlmig's own
  interpreter: the floor the status / no-op goal is measured against;
* client CPU: GNU time's user+sys of every timed process, reported per tool
  beside the shared bench's wall-clock table (contention turns CPU into wall
  time, so CPU is the steadier measure of sqlmig's own cost).
"""

from __future__ import annotations

import importlib.util
import json
import os
import statistics
import subprocess
import sys
import tempfile
import time
from collections import defaultdict
from pathlib import Path

PEERS = Path(os.environ.get("PEERS_DIR", Path(__file__).resolve().parents[2] / "shared" / "peers"))
CPU: dict[str, list[float]] = defaultdict(list)


def _load_bench():  # type: ignore[no-untyped-def]
    spec = importlib.util.spec_from_file_location("peers_bench", PEERS / "bench.py")
    assert spec and spec.loader, f"no bench.py in {PEERS}"
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


def _python_of(script: str) -> str:
    """The interpreter a console script runs with (its shebang)."""
    first = Path(script).read_text().splitlines()[0]
    return first[2:].strip() if first.startswith("#!") else sys.executable


def main() -> None:
    bench = _load_bench()
    before = os.environ.get("SQLMIG_BEFORE")
    sqlmig = bench.SQLMIG
    base = bench.TOOLS["sqlmig"]
    if before:
        bench.TOOLS["sqlmig-before"] = dict(
            base,
            version=[before, "--version"],
            startup=[before, "--help"],
            apply=lambda db, d: [before, "--dsn", bench.url_pg(db), "--dir", d, "apply"],
            noop=lambda db, d: [before, "--dsn", bench.url_pg(db), "--dir", d, "apply"],
            status=lambda db, d: [before, "--dsn", bench.url_pg(db), "--dir", d, "status"],
            notes=f"the previous sqlmig ({before})",
        )
    floor = [_python_of(sqlmig), "-c", "import psycopg"]
    bench.TOOLS["psycopg-floor"] = dict(
        base,
        version=[*floor[:1], "--version"],
        startup=floor,
        noop=lambda db, d: floor,
        status=lambda db, d: floor,
        notes="no-op/status floor: `python -c 'import psycopg'` with sqlmig's interpreter",
    )

    def timed(argv, log_path, cwd):  # type: ignore[no-untyped-def]
        with tempfile.NamedTemporaryFile(
            "r", suffix=".time", dir=bench.SCRATCH, delete=False
        ) as tf:
            tpath = tf.name
        with open(log_path, "a") as log:
            log.write(f"\n$ {' '.join(argv)}\n")
            log.flush()
            t0 = time.perf_counter()
            p = subprocess.run(
                ["/usr/bin/time", "-f", "%e %M %U %S", "-o", tpath, *argv],
                env=bench.ENV,
                cwd=cwd,
                stdout=log,
                stderr=subprocess.STDOUT,
                stdin=subprocess.DEVNULL,
            )
            wall = time.perf_counter() - t0
        last = [ln for ln in Path(tpath).read_text().splitlines() if ln.strip()][-1].split()
        os.unlink(tpath)
        if p.returncode == 0:
            CPU[Path(log_path).stem].append(float(last[2]) + float(last[3]))
        return wall, int(last[1]), p.returncode

    bench.timed = timed
    bench.main()
    cpu = {key: round(statistics.median(v), 3) for key, v in sorted(CPU.items())}
    print("\nclient CPU, user+sys, median per log (tool-N-kind):")
    for key, value in cpu.items():
        print(f"  {key:<40} {value:.3f} s")
    out = Path(os.environ.get("PEERS_OUT", "benchmarks/out/peers"))
    out.mkdir(parents=True, exist_ok=True)
    (out / f"cpu-{time.strftime('%Y%m%dT%H%M%S')}.json").write_text(json.dumps(cpu, indent=1))


if __name__ == "__main__":
    main()
