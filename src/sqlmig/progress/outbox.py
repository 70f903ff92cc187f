"""One stream held by the writer: its socket (a non-blocking descriptor of its own), the
bytes the socket did not take yet, and the state of its re-reads.

    send(data) ─▶ nothing pending? ─▶ os.write ─ all taken ─▶ SENT
                     │                        └ EAGAIN / partial ─▶ rest pending: PENDING
                     └ pending ─▶ append ─▶ over the limit (events or bytes)? ─▶ OVER
    flush() on EPOLLOUT ─▶ all out: SENT | some: PENDING | error: GONE

Small on purpose (``__slots__``, a few ints and references): an idle stream
costs this object, its cursor and the kernel's socket (benchmarks/README.md).
"""

from __future__ import annotations

import collections
import contextlib
import os
from collections.abc import Callable
from typing import Any, Final

from sqlmig.progress.events import ProgressEvent
from sqlmig.progress.feed import Matcher, Released
from sqlmig.progress.subscription import Cursor, Item, Subscription, TaskCursor

SENT: Final = "sent"
PENDING: Final = "pending"
OVER: Final = "over"
GONE: Final = "gone"
COALESCE_MAX: Final = 1024  # rows taken from the writer's inbox in one pass


def take_batch(
    inbox: collections.deque[Any], first: ProgressEvent | Released
) -> tuple[list[ProgressEvent], list[Released]]:
    """``first`` and the rows queued behind it, for one pass of the writer (its thread only).

    When one pass over many sockets takes longer than the rows' interval, the next pass
    carries every row that arrived meanwhile in one write per stream, instead of the
    latency piling up. Task rows and list rows go to different streams, so taking them
    apart keeps every stream's order; anything else (adoptions, re-read rows) ends the batch.
    """
    events: list[ProgressEvent] = []
    released: list[Released] = []
    item: Any = first
    while True:
        if isinstance(item, ProgressEvent):
            events.append(item)
        else:
            released.append(item)
        if not inbox or len(events) + len(released) >= COALESCE_MAX:
            break
        if not isinstance(inbox[0], ProgressEvent | Released):  # only the writer pops
            break
        item = inbox.popleft()
    return events, released


def runs(events: list[ProgressEvent]) -> list[list[ProgressEvent]]:
    """Split queued events into per-task runs of consecutive seqs, each written at once.

    Order is kept within a task (streams of different tasks are independent); a run ends
    at a gap, a truncated payload (re-read alone) or a terminal event.
    """
    by_task: dict[str, list[list[ProgressEvent]]] = {}
    for event in events:
        task_runs = by_task.setdefault(event.task_id, [])
        prev = task_runs[-1][-1] if task_runs else None
        joins = (
            prev is not None
            and not (prev.truncated or event.truncated or prev.terminal)
            and event.seq == prev.seq + 1
        )
        if joins:
            task_runs[-1].append(event)
        else:
            task_runs.append([event])
    return [run for task_runs in by_task.values() for run in task_runs]


def admit(
    cursor: Cursor,
    item: Item,
    matcher: Matcher,
    full_row: Callable[[ProgressEvent], ProgressEvent],
) -> bytes | bool | None:
    """What a stream sends for ``item``: bytes, None (nothing), or True (re-read it)."""
    if isinstance(cursor, TaskCursor):
        return cursor.admit(item) if isinstance(item, ProgressEvent) else None
    if not isinstance(item, Released):
        return None
    return cursor.admit(item, matcher, full_row)


def admitted(
    rows: list[Released], admit_one: Callable[[Released], bytes | bool | None]
) -> tuple[list[bytes], int | None]:
    """The bytes a list stream takes of ``rows`` in one write, and the index of the first
    row that needs a re-read instead (None: there is none); rows after it are not looked at."""
    chunks: list[bytes] = []
    for i, row in enumerate(rows):
        data = admit_one(row)
        if data is True:
            return chunks, i
        if data:
            chunks.append(data)
    return chunks, None


def reread(cursor: Cursor, rows: list[ProgressEvent]) -> tuple[bytes, int]:
    """Rows read back from the database, as one write: the bytes and how many events."""
    chunks = []
    for event in rows:
        if isinstance(cursor, TaskCursor):
            data = cursor.admit(event, from_db=True)
        else:
            cursor.last = max(cursor.last, event.row_id)
            data = Released(event).sse()
        if isinstance(data, bytes):
            chunks.append(data)
    return b"".join(chunks), len(chunks)


class Held:
    __slots__ = (
        "again",
        "closed",
        "cursor",
        "fd",
        "held",
        "lagging",
        "last_write",
        "moved_at",
        "out",
        "out_events",
        "release",
        "resyncing",
    )  # fmt: skip

    def __init__(self, fd: int, cursor: Cursor, release: Callable[[], None], now: float) -> None:
        self.fd, self.cursor, self.release = fd, cursor, release
        self.out: bytearray | None = None  # bytes the socket did not take yet
        self.out_events = 0
        self.moved_at = self.last_write = now  # moved_at: when pending bytes last moved
        self.lagging = self.resyncing = self.again = self.closed = False
        self.held: list[Item] | None = None  # live items while a re-read runs

    def idle(self) -> bool:
        """Nothing pending, not behind, not re-reading: the next row can go straight out."""
        return self.out is None and not self.lagging and not self.resyncing and not self.closed

    def send(
        self, data: bytes, now: float, max_events: int, max_bytes: int, events: int = 1
    ) -> str:
        """``data``: ``events`` events (a run written at once) for the pending limits."""
        if self.out is not None:
            self.out += data
            self.out_events += events
            over = self.out_events > max_events or len(self.out) > max_bytes
            return OVER if over else PENDING
        try:
            written = os.write(self.fd, data)
        except BlockingIOError:
            written = 0
        except OSError:
            return GONE
        self.last_write = now
        if written == len(data):
            return SENT
        self.out, self.out_events, self.moved_at = bytearray(data[written:]), events, now
        return PENDING

    def flush(self, now: float) -> str:
        if self.out is None:
            return SENT
        try:
            written = os.write(self.fd, self.out)
        except BlockingIOError:
            return PENDING
        except OSError:
            return GONE
        self.moved_at = self.last_write = now
        del self.out[:written]
        if self.out:
            return PENDING
        self.out, self.out_events = None, 0
        return SENT

    def peer_closed(self) -> bool:
        """On EPOLLIN: True when the client closed (anything it sent is ignored)."""
        try:
            return not os.read(self.fd, 4096)
        except BlockingIOError:
            return False
        except OSError:
            return True

    def close_fd(self) -> None:
        with contextlib.suppress(OSError):
            os.close(self.fd)


class Adoption:
    """A caught-up stream on its way to the writer, with the mailbox it caught up in."""

    __slots__ = ("stream", "sub")

    def __init__(self, stream: Held, sub: Subscription | None) -> None:
        self.stream, self.sub = stream, sub

    def abandon(self, unsubscribe: Callable[[Subscription], None]) -> None:
        """End it unwritten (the server stops): closed, so its client reconnects."""
        self.stream.close_fd()
        self.stream.release()
        if self.sub is not None:
            unsubscribe(self.sub)
