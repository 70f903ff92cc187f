"""The writer's coalescing of queued events: runs of one task's consecutive rows."""

from __future__ import annotations

import collections

from sqlmig.progress.events import ProgressEvent
from sqlmig.progress.feed import Released
from sqlmig.progress.outbox import COALESCE_MAX, runs, take_batch


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


def test_take_batch_stops_at_other_items_and_sorts_task_and_list_rows():
    first = _event("a", 1)
    row, row2 = Released(_event("a", 2)), Released(_event("b", 1))
    stop = object()
    inbox: collections.deque[object] = collections.deque(
        [_event("a", 2), row, _event("b", 1), row2, stop, _event("a", 3)]
    )
    taken, lists = take_batch(inbox, first)
    assert [(e.task_id, e.seq) for e in taken] == [("a", 1), ("a", 2), ("b", 1)]
    assert lists == [row, row2]
    assert inbox[0] is stop and len(inbox) == 2  # the rest waits, in order


def test_take_batch_may_start_with_a_list_row():
    row = Released(_event("a", 1))
    inbox: collections.deque[object] = collections.deque([_event("a", 1)])
    assert take_batch(inbox, row) == ([_event("a", 1)], [row]) and not inbox


def test_take_batch_is_bounded():
    inbox: collections.deque[object] = collections.deque(
        _event("a", seq) for seq in range(2, COALESCE_MAX + 10)
    )
    taken, lists = take_batch(inbox, _event("a", 1))
    assert len(taken) == COALESCE_MAX and lists == []
    assert [e.seq for e in taken] == list(range(1, COALESCE_MAX + 1))
    assert len(inbox) == 9
