"""The terminal client of ``sqlmig tasks watch`` / ``tasks list``: the page's stream and API.

    follow(): GET .../stream ──▶ Parser ──▶ on_event(message) ──▶ terminal event: return it
                 ▲                                   │ connection lost / 503
                 └── wait retry (server's retry: hint, doubling up to 15 s),
                     resend Last-Event-ID ◀──────────┘

:class:`Bar` renders events: one line per row, and on a terminal a bar
redrawn in place below them. A batch's rows say how many children are done,
failed and running, so watching a batch shows its bar and those counts until
the batch ends. :func:`get_json` and :func:`task_table` serve ``tasks list``.
"""

from __future__ import annotations

import contextlib
import http.client
import json
import sys
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import datetime
from typing import IO, Any, NoReturn
from urllib.parse import quote, urlencode, urlsplit

from sqlmig.core.backoff import Backoff
from sqlmig.core.errors import ProgressServerUnreachable, SqlmigError, UsageError
from sqlmig.progress.events import Message, Parser

TERMINAL_EVENTS = ("completed", "failed", "cancelled")
_READ_TIMEOUT_S = 60.0  # well above the server's heartbeat interval (15 s)
_MAX_BACKOFF_S = 15.0


class TaskDidNotComplete(SqlmigError):
    """The watched task failed or was cancelled (exit code 1)."""

    exit_code = 1


@dataclass
class _Target:
    scheme: str
    host: str
    port: int
    prefix: str

    @classmethod
    def parse(cls, url: str) -> _Target:
        parts = urlsplit(url)
        if parts.scheme not in ("http", "https") or not parts.hostname:
            raise UsageError(
                f"--url must be an http(s) URL like http://127.0.0.1:8000, not {url!r}."
            )
        port = parts.port or (443 if parts.scheme == "https" else 80)
        return cls(parts.scheme, parts.hostname, port, parts.path.rstrip("/"))

    def connection(self, timeout_s: float) -> http.client.HTTPConnection:
        kind = http.client.HTTPSConnection if self.scheme == "https" else http.client.HTTPConnection
        return kind(self.host, self.port, timeout=timeout_s)


def follow(
    base_url: str,
    task_id: str,
    *,
    token: str | None = None,
    on_event: Callable[[Message], None] = lambda m: None,
    on_state: Callable[[str], None] = lambda s: None,
    read_timeout_s: float = _READ_TIMEOUT_S,
    sleep: Callable[[float], None] = time.sleep,
) -> Message | None:
    """Stream a task's events until its terminal one, reconnecting as EventSource does.

    Returns the terminal message, or None when the server answered 204 (the
    task had already finished before the resume point). Raises UsageError
    for 400/401/404 and ProgressServerUnreachable when the server is unreachable at
    the first attempt.
    """
    target = _Target.parse(base_url)
    path = f"{target.prefix}/api/v1/tasks/{quote(task_id, safe='')}/stream"
    parser = Parser()
    backoff: Backoff | None = None  # made at the first failure: the server's retry: then
    connected_once = False
    while True:
        headers = {"Accept": "text/event-stream", "Cache-Control": "no-store"}
        if token:
            headers["Authorization"] = f"Bearer {token}"
        if parser.last_id:
            headers["Last-Event-ID"] = parser.last_id
        conn = target.connection(read_timeout_s)
        try:
            conn.request("GET", path, headers=headers)
            response = conn.getresponse()
            if response.status == 204:
                return None
            if response.status != 200:
                _raise_for(response.status, response.read(), task_id, retryable=(503,))
            connected_once = True
            backoff = None
            on_state("live")
            while True:
                chunk = response.read1(65536)
                if not chunk:
                    break  # the server closed the stream
                for message in parser.feed(chunk):
                    on_event(message)
                    if message.event in TERMINAL_EVENTS:
                        return message
        except (OSError, http.client.HTTPException, _Retry) as exc:
            if not connected_once and not isinstance(exc, _Retry):
                raise ProgressServerUnreachable(
                    f"cannot reach the progress server at {base_url}: {exc}. "
                    "Is `sqlmig serve` running there?"
                ) from None
        finally:
            conn.close()
        if backoff is None:
            backoff = Backoff((parser.retry_ms or 1000) / 1000, _MAX_BACKOFF_S)
        delay_s = backoff.next()
        on_state(f"reconnecting in {delay_s:.0f} s")
        sleep(delay_s)


class _Retry(Exception):
    pass


def _raise_for(status: int, body: bytes, task_id: str, *, retryable: tuple[int, ...]) -> NoReturn:
    if status in retryable:
        raise _Retry(status)
    try:
        message = str(json.loads(body)["error"])
    except (ValueError, KeyError, TypeError):
        message = body.decode("utf-8", "replace").strip()[:200] or f"HTTP {status}"
    if status in (400, 401, 403, 404):
        raise UsageError(f"{message} (HTTP {status})")
    raise SqlmigError(f"the progress server answered HTTP {status}: {message}")


@dataclass
class Bar:
    """Renders stream events for a person: lines, plus a live bar on a terminal.

    Elapsed time and ETA come from the rows' server timestamps (first row
    seen → latest row, plus the time since the latest arrived), so a watch
    started mid-task is right and client/server clock skew does not matter.
    ETA is a linear extrapolation of the rate since the first row.
    """

    out: IO[str] = field(default_factory=lambda: sys.stdout)
    tty: bool | None = None
    width: int = 30
    _first: tuple[datetime, float] | None = None  # (created_at, percent) of the first row
    _latest: tuple[datetime, float, float] | None = None  # (created_at, percent, local arrival)
    _eta_s: float | None = None  # the server's eta_seconds of the latest row, when known
    _state: str = ""

    def __post_init__(self) -> None:
        if self.tty is None:
            self.tty = self.out.isatty()

    def event(self, message: Message) -> None:
        row = message.json()
        percent = float(row["percent"])
        eta = row.get("eta_seconds")
        self._eta_s = float(eta) if isinstance(eta, int | float) else None
        with contextlib.suppress(ValueError, TypeError, KeyError):
            at = datetime.fromisoformat(row["created_at"])
            if self._first is None:
                self._first = (at, percent)
            self._latest = (at, percent, time.monotonic())
        # "state" is the task's status; a server before it sent that as "status".
        state = str(row.get("state") or row["status"]).lower()
        line = f"{percent:>5.0f} %  {row['message'] or state}"
        if self.tty:
            self.out.write("\r\x1b[K" + line + "\n")
            if message.event not in TERMINAL_EVENTS:
                self._draw()
        else:
            self.out.write(line + "\n")
        self.out.flush()

    def state(self, text: str) -> None:
        self._state = "" if text == "live" else text
        if self.tty and self._latest:
            self._draw()
        elif text != "live" and not self.tty:
            self.out.write(f"({text})\n")
            self.out.flush()

    def _draw(self) -> None:
        if self._first is None or self._latest is None:
            return
        (first_at, first_pct), (at, percent, arrived) = self._first, self._latest
        elapsed = (at - first_at).total_seconds() + time.monotonic() - arrived
        done = percent - first_pct
        eta = ""
        if self._eta_s is not None and percent < 100:
            # the server's estimate as of that row, less the time since it arrived
            eta = f", ETA {max(0.0, self._eta_s - (time.monotonic() - arrived)):.0f} s"
        elif done > 0 and percent < 100:
            eta = f", ETA {elapsed * (100 - percent) / done:.0f} s"
        filled = int(self.width * percent / 100)
        bar = "#" * filled + "-" * (self.width - filled)
        note = f"  [{self._state}]" if self._state else ""
        self.out.write(f"\r\x1b[K[{bar}] {percent:3.0f} % ({elapsed:.0f} s{eta}){note}")
        self.out.flush()


def watch(
    base_url: str, task_id: str, *, token: str | None = None, out: IO[str] | None = None
) -> Message | None:
    """``follow`` rendered by :class:`Bar`; raises TaskDidNotComplete on failed/cancelled."""
    bar = Bar(out or sys.stdout)
    final = follow(base_url, task_id, token=token, on_event=bar.event, on_state=bar.state)
    if final is None:
        return None
    row = final.json()
    if final.event == "failed":
        error = (row.get("data") or {}).get("error") or {}
        raise TaskDidNotComplete(
            f"task {task_id} failed: {error.get('type', 'Error')}: "
            f"{error.get('message') or row.get('message')}"
        )
    if final.event == "cancelled":
        raise TaskDidNotComplete(f"task {task_id} was cancelled: {row.get('message')}")
    return final


def get_json(
    base_url: str, path: str, *, token: str | None = None, params: dict[str, str] | None = None
) -> Any:
    """GET a JSON endpoint of the progress server (``path`` below /api/v1)."""
    target = _Target.parse(base_url)
    url = f"{target.prefix}/api/v1{path}"
    if params:
        url += "?" + urlencode(params)
    headers = {"Accept": "application/json"}
    if token:
        headers["Authorization"] = f"Bearer {token}"
    conn = target.connection(_READ_TIMEOUT_S)
    try:
        try:
            conn.request("GET", url, headers=headers)
            response = conn.getresponse()
            body = response.read()
        except (OSError, http.client.HTTPException) as exc:
            raise ProgressServerUnreachable(
                f"cannot reach the progress server at {base_url}: {exc}. "
                "Is `sqlmig serve` running there?"
            ) from None
        if response.status != 200:
            _raise_for(response.status, body, path, retryable=())
        return json.loads(body)
    finally:
        conn.close()


def _children_text(children: dict[str, int]) -> str:
    text = f"{children['completed']}/{children['total']} done"
    for name in ("failed", "cancelled", "running"):
        if children.get(name):
            text += f", {children[name]} {name}"
    return text


def _eta_text(task: dict[str, Any]) -> str:
    eta = task.get("eta_seconds")
    if task.get("terminal") or not isinstance(eta, int | float):
        return "-"
    return f"{eta:.0f}s"


def task_table(tasks: list[dict[str, Any]]) -> list[str]:
    """``tasks list``'s lines: a header and one row per task (a batch with its counts)."""
    rows = [("ID", "STATUS", "%", "ETA", "TYPE", "CREATED", "NOTE")]
    for task in tasks:
        children = task.get("children")
        note = _children_text(children) if children else (task.get("message") or "")
        rows.append(
            (
                str(task["id"]),
                str(task["status"]),
                f"{float(task['progress']):.0f}",
                _eta_text(task),
                str(task["task_type"]),
                str(task.get("created_at") or "")[:19].replace("T", " "),
                note,
            )
        )
    widths = [max(len(row[i]) for row in rows) for i in range(len(rows[0]) - 1)]
    return [
        "  ".join([*(cell.ljust(widths[i]) for i, cell in enumerate(row[:-1])), row[-1]]).rstrip()
        for row in rows
    ]
