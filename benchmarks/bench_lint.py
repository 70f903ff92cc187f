"""`sqlmig lint --all` of the 1,000-file corpus against the bare pglast parse of the same files.

    python benchmarks/bench_lint.py [--n 1000] [--repeat 7] [--seed 20240601]

Both sides are processes started the same way (``python -m ...``), run
interleaved (floor, lint, floor, lint, ...), and timed wall-clock:

- floor: a process that imports pglast, reads every file and parses it once
  with ``parser.parse_sql_json`` (the least any parser-based linter must do);
- lint:  ``sqlmig --dir CORPUS lint --all --format json`` (no database);

and each side's start-up alone (the same commands on an empty folder).

Medians and the ratio lint / floor are printed (goal: at most 1.5x) and saved
to benchmarks/out/lint.json. Also in-process, without interpreter start-up:
the parse alone vs ``sqlmig.lint.lint_all``, to show where the time goes.
"""

from __future__ import annotations

import argparse
import json
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

HERE = Path(__file__).parent
OUT = HERE / "out"

FLOOR = """
import sys
from pathlib import Path
from pglast import parser
for path in sorted(Path(sys.argv[1]).glob("*.sql")):
    parser.parse_sql_json(path.read_text(encoding="utf-8"))
"""


def timed(command: list[str]) -> float:
    started = time.perf_counter()
    subprocess.run(command, check=False, capture_output=True)
    return time.perf_counter() - started


def in_process(corpus: Path, repeat: int) -> dict[str, float]:
    from pglast import parser

    from sqlmig.core.config import resolve
    from sqlmig.lint import lint_all

    settings = resolve(directory=corpus, env={})
    paths = sorted(corpus.glob("*.sql"))
    parse, lint = [], []
    for _ in range(repeat):
        started = time.perf_counter()
        for path in paths:
            parser.parse_sql_json(path.read_text(encoding="utf-8"))
        parse.append(time.perf_counter() - started)
        started = time.perf_counter()
        lint_all(settings)
        lint.append(time.perf_counter() - started)
    return {"parse_s": statistics.median(parse), "lint_all_s": statistics.median(lint)}


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("--n", type=int, default=1000)
    ap.add_argument("--repeat", type=int, default=7)
    ap.add_argument("--seed", type=int, default=20240601)
    args = ap.parse_args()

    corpus = Path(tempfile.mkdtemp(prefix="bench-lint-")) / "migrations"
    subprocess.run(
        [sys.executable, str(HERE / "corpus.py"), "--n", str(args.n), "--out", str(corpus)],
        check=True,
        capture_output=True,
    )
    floor_cmd = [sys.executable, "-c", FLOOR, str(corpus)]
    lint_cmd = [sys.executable, "-m", "sqlmig", "--dir", str(corpus), "lint", "--all"]
    lint_cmd += ["--format", "json"]
    check = subprocess.run(lint_cmd, capture_output=True, text=True, check=False)
    findings = json.loads(check.stdout)
    empty = corpus.parent / "empty"
    empty.mkdir()
    # Start-up alone: each side's process on an empty folder (the CLI imports click & co).
    floor_start = [sys.executable, "-c", FLOOR, str(empty)]
    lint_start = [sys.executable, "-m", "sqlmig", "--dir", str(empty), "lint", "--all"]
    timed(floor_cmd), timed(lint_cmd)  # warm the page cache and .pyc files
    floor, lint, floor_up, lint_up = [], [], [], []
    for _ in range(args.repeat):
        floor.append(timed(floor_cmd))
        lint.append(timed(lint_cmd))
        floor_up.append(timed(floor_start))
        lint_up.append(timed(lint_start))
    result = {
        "files": args.n,
        "repeat": args.repeat,
        "findings": len(findings["findings"]),
        "floor_s": round(statistics.median(floor), 3),
        "lint_s": round(statistics.median(lint), 3),
        "ratio": round(statistics.median(lint) / statistics.median(floor), 2),
        "startup_floor_s": round(statistics.median(floor_up), 3),
        "startup_lint_s": round(statistics.median(lint_up), 3),
        "in_process": {k: round(v, 3) for k, v in in_process(corpus, args.repeat).items()},
    }
    result["in_process"]["ratio"] = round(
        result["in_process"]["lint_all_s"] / result["in_process"]["parse_s"], 2
    )
    OUT.mkdir(exist_ok=True)
    (OUT / "lint.json").write_text(json.dumps(result, indent=2) + "\n")
    print(json.dumps(result, indent=2))
    print(f"lint --all: {result['lint_s']} s vs floor {result['floor_s']} s: {result['ratio']}x")


if __name__ == "__main__":
    main()
