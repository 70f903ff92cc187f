"""The task list of the JSON API: query parameters, keyset cursor, one page.

    GET /api/v1/tasks?status=RUNNING&type=memory.episode&parent=none&limit=50&cursor=...
    GET /api/v1/tasks/{id}/children?limit=...&cursor=...      (= ?parent={id})

    ──▶ {"tasks": [...newest first...], "next_cursor": "..." | null}

The cursor is the (created_at, id) of a page's last task, opaque to clients
(URL-safe base64 of JSON): the next page is every task strictly after it in
the order ``created_at DESC, id DESC``, so tasks inserted while someone pages
through history never shift a page (nothing skipped, nothing shown twice).
``parent=none`` lists top-level tasks only (batches and tasks on their own).
"""

from __future__ import annotations

import base64
import binascii
import json
from dataclasses import dataclass
from datetime import datetime
from typing import TYPE_CHECKING, Any
from uuid import UUID

from sqlmig.progress import store, web
from sqlmig.progress.web import ASCII_INT, HTTPError, task_id

if TYPE_CHECKING:
    from sqlmig.progress.store import Connection

MAX_LIMIT = 500
_MAX_TYPE_LENGTH = 255  # async_tasks.task_type is VARCHAR(255)


@dataclass(frozen=True)
class Page:
    """One page of the list: what the endpoint selects, where it starts, how long it is."""

    where: store.TaskFilter
    after: tuple[datetime, UUID] | None = None
    limit: int = 50

    def fetch(self, conn: Connection) -> dict[str, Any]:
        """The page's tasks and the cursor of the next page (null on the last page)."""
        rows = store.list_tasks(conn, limit=self.limit + 1, where=self.where, after=self.after)
        more = len(rows) > self.limit
        rows = rows[: self.limit]
        last = rows[-1] if more else None
        return {
            "tasks": rows,
            "next_cursor": encode_cursor(last["created_at"], last["id"]) if last else None,
        }


def encode_cursor(created_at: str, tid: str) -> str:
    raw = json.dumps([created_at, tid], separators=(",", ":")).encode("ascii")
    return base64.urlsafe_b64encode(raw).decode("ascii").rstrip("=")


def decode_cursor(text: str) -> tuple[datetime, UUID]:
    """The (created_at, id) a cursor stands for, or 400."""
    try:
        if len(text) > 200 or not text.isascii():
            raise ValueError
        raw = base64.urlsafe_b64decode(text + "=" * (-len(text) % 4))
        created_at, tid = json.loads(raw)
        at = datetime.fromisoformat(created_at)
        if at.tzinfo is None:
            raise ValueError
        return at, UUID(tid)
    except (ValueError, TypeError, binascii.Error):
        raise HTTPError(400, "malformed cursor: pass next_cursor of the previous page.") from None


def parse(params: dict[str, str], *, parent: UUID | None = None) -> Page:
    """The page a request asks for (``parent``: the children route's batch), or 400."""
    raw_limit = params.get("limit", "50")
    if not ASCII_INT.fullmatch(raw_limit) or not 1 <= int(raw_limit) <= MAX_LIMIT:
        raise HTTPError(
            400, f"limit must be an integer from 1 to {MAX_LIMIT}, not {raw_limit[:16]!r}."
        )
    status = web.status(params)
    task_type = params.get("type") or None
    if task_type is not None and len(task_type) > _MAX_TYPE_LENGTH:
        raise HTTPError(400, f"type is at most {_MAX_TYPE_LENGTH} characters.")
    top_level = False
    raw_parent = params.get("parent") or None
    if parent is None and raw_parent is not None:
        if raw_parent.lower() == "none":
            top_level = True
        else:
            parent = task_id(raw_parent)
    cursor = params.get("cursor") or None
    return Page(
        store.TaskFilter(status=status, task_type=task_type, parent=parent, top_level=top_level),
        decode_cursor(cursor) if cursor else None,
        int(raw_limit),
    )
