"""The writer's coalescing of queued events: runs of one task's consecutive rows."""

from __future__ import annotations

import collections

from sqlmig.progress.events import ProgressEvent
from sqlmig.progress.feed import Released
from sqlmig.progress.outbox import COALESCE_MAX, runs, take_events


def _event(task: str, seq: int, status: str = "RUNNING", truncated: bool = False) -> ProgressEvent:
    return ProgressEvent(task, seq, status, 0.0, None, "", None, "now", truncated=truncated)


def _seqs(found: list[list[ProgressEvent]]) -> list[tuple[str, list[int]]]:
    return [(run[0].task_id, [e.seq for e in run]) for run in found]


def test_runs_group_a_task_in_order_and_split_at_gaps_truncation_and_the_end():
    events = [
        _event("a", 1),
        _event("b", 7),
        _event("a", 2),
        _event("b", 8),
        _event("a", 4),  # a gap: a new run (the stream re-reads 3 itself)
        _event("a", 5, truncated=True),  # read from the database: alone
        _event("a", 6),
        _event("b", 9, status="COMPLETED"),
        _event("b", 10),  # after a terminal event: never joined to it
    ]
    assert _seqs(runs(events)) == [
        ("a", [1, 2]),
        ("a", [4]),
        ("a", [5]),
        ("a", [6]),
        ("b", [7, 8, 9]),
        ("b", [10]),
    ]
    # Every event once, each task's in its order.
    flat = [e for run in runs(events) for e in run]
    assert sorted(flat, key=lambda e: (e.task_id, e.seq)) == sorted(
        events, key=lambda e: (e.task_id, e.seq)
    )
    assert runs([]) == []


def test_take_events_stops_at_other_items_and_hands_list_rows_on():
    first = _event("a", 1)
    row = Released(_event("a", 2))
    stop = object()
    inbox: collections.deque[object] = collections.deque(
        [_event("a", 2), row, _event("b", 1), stop, _event("a", 3)]
    )
    lists: list[Released] = []
    taken = take_events(inbox, first, lists.append)
    assert [(e.task_id, e.seq) for e in taken] == [("a", 1), ("a", 2), ("b", 1)]
    assert lists == [row]
    assert inbox[0] is stop and len(inbox) == 2  # the rest waits, in order


def test_take_events_is_bounded():
    inbox: collections.deque[object] = collections.deque(
        _event("a", seq) for seq in range(2, COALESCE_MAX + 10)
    )
    taken = take_events(inbox, _event("a", 1), lambda _row: None)
    assert len(taken) == COALESCE_MAX
    assert [e.seq for e in taken] == list(range(1, COALESCE_MAX + 1))
    assert len(inbox) == 9
