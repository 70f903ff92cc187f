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

import contextlib
import os
from collections.abc import Callable
from typing import Final

from sqlmig.progress.subscription import Cursor, Item, Subscription

SENT: Final = "sent"
PENDING: Final = "pending"
OVER: Final = "over"
GONE: Final = "gone"


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

    def send(self, data: bytes, now: float, max_events: int, max_bytes: int) -> str:
        if self.out is not None:
            self.out += data
            self.out_events += 1
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
        self.out, self.out_events, self.moved_at = bytearray(data[written:]), 1, now
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
