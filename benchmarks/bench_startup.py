"""Start-up before and after a change, interleaved in one run: ``--help`` and ``status``.

    python benchmarks/bench_startup.py BEFORE_SQLMIG AFTER_SQLMIG DSN DIR RUNS

BEFORE/AFTER are two installed ``sqlmig`` console scripts (install both the same
way, e.g. ``pip install .`` into two venvs: an editable install adds its own
import hook). DSN is a database with DIR's migrations applied (1000 of them for
the issue-9 figure). Prints wall and client CPU (user+sys) medians and ratios.
"""

from __future__ import annotations

import resource
import statistics
import subprocess
import sys
import time


def timed(cmd: list[str]) -> tuple[float, float]:
    """(wall seconds, client CPU seconds) of one run."""
    before = resource.getrusage(resource.RUSAGE_CHILDREN)
    started = time.perf_counter()
    subprocess.run(cmd, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL, check=True)
    wall = time.perf_counter() - started
    after = resource.getrusage(resource.RUSAGE_CHILDREN)
    return wall, (after.ru_utime - before.ru_utime) + (after.ru_stime - before.ru_stime)


def main() -> None:
    before, after, dsn, directory, runs = sys.argv[1:6]
    kinds = {"help": ["--help"], "status": ["--dsn", dsn, "--dir", directory, "status"]}
    results: dict[tuple[str, str], list[tuple[float, float]]] = {}
    for _ in range(int(runs)):  # interleaved: the machine's noise hits both alike
        for name, exe in (("before", before), ("after", after)):
            for kind, args in kinds.items():
                results.setdefault((name, kind), []).append(timed([exe, *args]))
    for kind in kinds:
        old, new = results[("before", kind)], results[("after", kind)]
        for index, label in ((0, "wall"), (1, "cpu")):
            b = statistics.median(r[index] for r in old)
            a = statistics.median(r[index] for r in new)
            print(f"{kind} {label}: before {b:.3f} s, after {a:.3f} s, ratio {a / b:.2f}")


if __name__ == "__main__":
    main()
