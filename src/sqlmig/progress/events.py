"""Server-Sent Events on the wire: pure, byte-exact encoding and an incremental parser.

Nothing here touches a socket or a database. One progress row becomes one event::

    task_progress row / NOTIFY payload ──▶ ProgressEvent ──▶ sse() ──▶ bytes

    id: 3              the row's per-task ``seq`` (what ``Last-Event-ID`` resumes after)
    event: progress    progress (PENDING/RUNNING) | completed | failed | cancelled
    data: {...}        the row as one line of JSON (:meth:`ProgressEvent.payload`)
    (blank line)       dispatches the event

The data's fields are published as a JSON Schema (``event.schema.json`` in
this package, :func:`event_schema`; docs/progress.md): the row's own fields,
``eta_seconds`` and ``parent_id`` (set on the row by the database, sql/init/14),
and the fields MemStack's task page reads (``id``, ``status`` in its spelling,
``progress``, ``result``, ``error``), derived here; the task's status enum is ``state``.

Encoding rules (as in the HTML living standard, and as sse-starlette does):
multi-line data becomes several ``data:`` lines (CRLF, CR and LF all count
as line breaks); ``id``, ``event`` and comments may not contain a line break
(and ``id`` no NUL), because that would let text inject fields.
"""

from __future__ import annotations

import json
import math
import re
from collections.abc import Iterator, Mapping
from dataclasses import dataclass, field
from datetime import datetime
from decimal import Decimal
from functools import cache
from importlib import resources
from typing import Any

TERMINAL_STATUSES = frozenset({"COMPLETED", "FAILED", "CANCELLED"})
_EVENT_NAMES = {
    "PENDING": "progress",
    "RUNNING": "progress",
    "COMPLETED": "completed",
    "FAILED": "failed",
    "CANCELLED": "cancelled",
}
EVENT_NAMES = ("progress", "completed", "failed", "cancelled")
# The event's ``status`` as MemStack's task page spells it (its backend's words, lower case);
# the task's own status goes in ``state``.
MEMSTACK_STATUS = {
    "PENDING": "pending",
    "RUNNING": "processing",
    "COMPLETED": "completed",
    "FAILED": "failed",
    "CANCELLED": "cancelled",
}

HEARTBEAT = b": ping\n\n"

_LINE_BREAK = re.compile(r"\r\n|\r|\n")


def event_name(status: str) -> str:
    """The SSE event name for a task status."""
    try:
        return _EVENT_NAMES[status]
    except KeyError:
        raise ValueError(f"unknown task status {status!r}") from None


def _single_line(value: str, what: str) -> str:
    if "\r" in value or "\n" in value:
        raise ValueError(f"an SSE {what} cannot contain a line break: {value!r}")
    return value


def encode(
    data: str | None = None,
    *,
    event: str | None = None,
    id: str | int | None = None,
    retry_ms: int | None = None,
    comment: str | None = None,
) -> bytes:
    """One SSE message, terminated by the blank line that dispatches it.

    Field order: comment, id, event, data, retry. ``data=""`` sends one empty
    ``data:`` line (an event with empty data); ``data=None`` sends none.
    """
    lines: list[str] = []
    if comment is not None:
        lines += [": " + line for line in _LINE_BREAK.split(comment)]
    if id is not None:
        text = _single_line(str(id), "id")
        if "\0" in text:
            raise ValueError(f"an SSE id cannot contain NUL: {text!r}")
        lines.append("id: " + text)
    if event is not None:
        lines.append("event: " + _single_line(event, "event name"))
    if data is not None:
        if "\n" in data or "\r" in data:
            lines += ["data: " + line for line in _LINE_BREAK.split(data)]
        else:
            lines.append("data: " + data)  # one line: JSON from dumps() always is
    if retry_ms is not None:
        if retry_ms < 0:
            raise ValueError(f"retry must be a non-negative number of ms, not {retry_ms}")
        lines.append(f"retry: {int(retry_ms)}")
    if not lines:
        raise ValueError("an SSE message needs at least one field or a comment")
    return ("\n".join(lines) + "\n\n").encode("utf-8")


def _json_default(value: object) -> object:
    if isinstance(value, Decimal):
        return float(value)
    if isinstance(value, datetime):
        return value.isoformat()
    return str(value)


def dumps(value: object) -> str:
    """Compact JSON on one line (JSON escapes line breaks inside strings)."""
    return json.dumps(value, separators=(",", ":"), ensure_ascii=False, default=_json_default)


@dataclass(frozen=True)
class ProgressEvent:
    """One task_progress row, as the stream sends it."""

    task_id: str
    seq: int
    status: str
    percent: float
    stage: str | None
    message: str
    data: dict[str, Any] | None
    created_at: str
    row_id: int = 0
    # True when NOTIFY cut the message or data to fit 8000 bytes: read the row by row_id.
    truncated: bool = False
    eta_seconds: float | None = None
    parent_id: str | None = None
    _sse: bytes = field(default=b"", compare=False, repr=False)
    _json: str = field(default="", compare=False, repr=False)

    @property
    def name(self) -> str:
        return event_name(self.status)

    @property
    def terminal(self) -> bool:
        return self.status in TERMINAL_STATUSES

    def payload(self) -> dict[str, Any]:
        return {
            "task_id": self.task_id,
            "seq": self.seq,
            "state": self.status,
            "percent": self.percent,
            "stage": self.stage,
            "message": self.message,
            "data": self.data,
            "created_at": self.created_at,
            # MemStack's page reads id (the task), status (its spelling), progress (an
            # integer percent), result (on completed) and error (a string, on failed).
            "id": self.task_id,
            "status": MEMSTACK_STATUS[self.status],
            "progress": math.floor(self.percent),
            "eta_seconds": self.eta_seconds,
            "parent_id": self.parent_id,
            "result": self._result(),
            "error": self._error(),
        }

    def _result(self) -> Any:
        if self.status != "COMPLETED" or not isinstance(self.data, dict):
            return None
        return self.data.get("result")

    def _error(self) -> str | None:
        if self.status != "FAILED":
            return None
        error = (self.data or {}).get("error") if isinstance(self.data, dict) else None
        if isinstance(error, dict) and isinstance(error.get("message"), str) and error["message"]:
            return str(error["message"])
        return self.message or "failed"

    def json(self) -> str:
        """The payload as one line of JSON; computed once (task and list streams share it)."""
        if not self._json:
            object.__setattr__(self, "_json", dumps(self.payload()))
        return self._json

    def sse(self) -> bytes:
        """The encoded event; computed once and shared by every subscriber."""
        if not self._sse:
            object.__setattr__(self, "_sse", encode(self.json(), event=self.name, id=self.seq))
        return self._sse

    @classmethod
    def from_row(cls, row: Mapping[str, Any], *, truncated: bool = False) -> ProgressEvent:
        """From a task_progress row (dict) or the decoded NOTIFY JSON."""
        created = row["created_at"]
        eta, parent = row.get("eta_seconds"), row.get("parent_id")
        return cls(
            task_id=str(row["task_id"]),
            seq=int(row["seq"]),
            status=str(row["status"]),
            percent=float(row["percent"]),
            stage=row.get("stage"),
            message=str(row.get("message") or ""),
            data=row.get("data"),
            created_at=created.isoformat() if isinstance(created, datetime) else str(created),
            row_id=int(row.get("id") or 0),
            truncated=truncated,
            eta_seconds=float(eta) if eta is not None else None,
            parent_id=str(parent) if parent is not None else None,
        )

    @classmethod
    def from_task(cls, task: Mapping[str, Any]) -> ProgressEvent:
        """The terminal event of a task that finished without a terminal row.

        ``task`` is :func:`sqlmig.progress.store.fetch_task`'s JSON; the event
        repeats the last row's seq (it has no row of its own).
        """
        status = str(task["status"])
        data: dict[str, Any] | None = None
        if task.get("error"):
            data = {"error": task["error"]}
        elif status == "COMPLETED" and task.get("result") is not None:
            data = {"result": task["result"]}
        return cls.from_row(
            {
                "task_id": task["id"],
                "seq": task["last_seq"],
                "status": status,
                "percent": task["progress"],
                "stage": task.get("stage"),
                "message": task.get("message") or status.lower(),
                "data": data,
                "created_at": task.get("completed_at") or task.get("updated_at"),
                "eta_seconds": 0 if status == "COMPLETED" else None,
                "parent_id": task.get("parent_id"),
            }
        )

    @classmethod
    def from_notify(cls, payload: str) -> ProgressEvent:
        """From the JSON that trigger task_progress_notify sends (sql/init/13)."""
        body = json.loads(payload)
        return cls.from_row(body, truncated=bool(body.get("truncated")))


@cache
def event_schema() -> dict[str, Any]:
    """The JSON Schema (draft 2020-12) of an event's data, as published in the package."""
    text = resources.files("sqlmig.progress").joinpath("event.schema.json").read_text("utf-8")
    schema: dict[str, Any] = json.loads(text)
    return schema


# -- parsing (the terminal client and the tests read streams with this) ------------------


@dataclass(frozen=True)
class Message:
    """One dispatched SSE message as a client sees it."""

    event: str  # "message" when the stream named none
    data: str
    id: str | None  # the last event id in force after this message
    retry_ms: int | None = None

    def json(self) -> Any:
        return json.loads(self.data)


@dataclass
class Parser:
    """Incremental SSE parser (the HTML standard's algorithm, minus the browser bits).

    ``feed(chunk)`` returns the messages completed by that chunk; comments
    (heartbeats) are counted in ``comments``; ``last_id`` is what a client
    sends as ``Last-Event-ID`` when it reconnects.
    """

    last_id: str | None = None
    retry_ms: int | None = None
    comments: int = 0
    _buffer: str = ""
    _pending_cr: bool = False
    _decoder: Any = None
    _event: str = ""
    _data: list[str] = field(default_factory=list)
    _has_data: bool = False

    def feed(self, chunk: bytes) -> list[Message]:
        if self._decoder is None:
            import codecs

            self._decoder = codecs.getincrementaldecoder("utf-8")("replace")
        text = self._decoder.decode(chunk)
        if self._pending_cr and text.startswith("\n"):
            text = text[1:]
        self._pending_cr = text.endswith("\r")
        self._buffer += text
        out: list[Message] = []
        *lines, self._buffer = _LINE_BREAK.split(self._buffer)
        for line in lines:
            message = self._line(line)
            if message is not None:
                out.append(message)
        return out

    def _line(self, line: str) -> Message | None:
        if line == "":
            return self._dispatch()
        if line.startswith(":"):
            self.comments += 1
            return None
        name, _, value = line.partition(":")
        value = value.removeprefix(" ")
        if name == "data":
            self._data.append(value)
            self._has_data = True
        elif name == "event":
            self._event = value
        elif name == "id":
            if "\0" not in value:
                self.last_id = value
        elif name == "retry" and value.isdigit():
            self.retry_ms = int(value)
        return None

    def _dispatch(self) -> Message | None:
        event, data, has_data = self._event, self._data, self._has_data
        self._event, self._data, self._has_data = "", [], False
        if not has_data:
            return None
        return Message(event or "message", "\n".join(data), self.last_id, self.retry_ms)


def parse(stream: bytes) -> Iterator[Message]:
    """All messages of a complete stream (tests)."""
    yield from Parser().feed(stream)
