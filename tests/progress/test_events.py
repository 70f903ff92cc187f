"""SSE encoding byte for byte, and the parser the terminal client and the tests use."""

from __future__ import annotations

import json

import pytest

from sqlmig.progress import events
from sqlmig.progress.events import Message, Parser, ProgressEvent, encode, parse


def test_data_only():
    assert encode("hello") == b"data: hello\n\n"


def test_multi_line_data_becomes_several_data_lines():
    assert encode("a\nb\r\nc\rd") == b"data: a\ndata: b\ndata: c\ndata: d\n\n"


def test_empty_data_and_trailing_newline():
    assert encode("") == b"data: \n\n"
    assert encode("x\n") == b"data: x\ndata: \n\n"


def test_field_order_id_event_data_retry():
    assert encode("{}", event="progress", id=3, retry_ms=2000) == (
        b"id: 3\nevent: progress\ndata: {}\nretry: 2000\n\n"
    )


def test_comment_and_retry_without_data():
    assert encode(comment="task x", retry_ms=1500) == b": task x\nretry: 1500\n\n"
    assert encode(comment="two\nlines") == b": two\n: lines\n\n"
    assert events.HEARTBEAT == b": ping\n\n"


@pytest.mark.parametrize("bad", ["a\nb", "a\rb", "a\r\nb"])
def test_id_and_event_name_cannot_contain_newlines(bad):
    with pytest.raises(ValueError, match="line break"):
        encode("x", id=bad)
    with pytest.raises(ValueError, match="line break"):
        encode("x", event=bad)


def test_id_cannot_contain_nul_and_retry_must_be_positive():
    with pytest.raises(ValueError, match="NUL"):
        encode("x", id="a\0b")
    with pytest.raises(ValueError, match="retry"):
        encode("x", retry_ms=-1)
    with pytest.raises(ValueError):
        encode()


def test_utf8():
    assert encode("größe ✓", event="progress") == "event: progress\ndata: größe ✓\n\n".encode()


@pytest.mark.parametrize(
    ("status", "name"),
    [
        ("PENDING", "progress"),
        ("RUNNING", "progress"),
        ("COMPLETED", "completed"),
        ("FAILED", "failed"),
        ("CANCELLED", "cancelled"),
    ],
)
def test_event_names(status, name):
    assert events.event_name(status) == name


def test_unknown_status_is_an_error():
    with pytest.raises(ValueError, match="unknown task status"):
        events.event_name("DONE")


NOTIFY = json.dumps(
    {
        "id": 7,
        "task_id": "7b0c1c8e-7d2a-4a59-9a43-6f1b0f1b7f11",
        "seq": 2,
        "status": "RUNNING",
        "percent": 20.00,
        "stage": "loading_schema",
        "message": "Loading schema\nstep two",
        "data": None,
        "created_at": "2026-11-22T05:30:30.123456+00:00",
        "truncated": False,
    }
)


def test_progress_event_from_notify_encodes_once_and_exactly():
    event = ProgressEvent.from_notify(NOTIFY)
    assert (event.seq, event.name, event.terminal, event.row_id) == (2, "progress", False, 7)
    expected = (
        b"id: 2\nevent: progress\n"
        b'data: {"task_id":"7b0c1c8e-7d2a-4a59-9a43-6f1b0f1b7f11","seq":2,"state":"RUNNING",'
        b'"percent":20.0,"stage":"loading_schema","message":"Loading schema\\nstep two",'
        b'"data":null,"created_at":"2026-11-22T05:30:30.123456+00:00",'
        # the fields added by issue 12 (the published event schema); status as MemStack spells it
        b'"id":"7b0c1c8e-7d2a-4a59-9a43-6f1b0f1b7f11","status":"processing","progress":20,'
        b'"eta_seconds":null,'
        b'"parent_id":null,"result":null,"error":null}\n\n'
    )
    assert event.sse() == expected
    assert event.sse() is event.sse()


def test_truncated_flag_is_kept():
    body = json.loads(NOTIFY) | {"truncated": True}
    assert ProgressEvent.from_notify(json.dumps(body)).truncated


def test_parser_round_trip_split_anywhere():
    stream = (
        encode(comment="hello", retry_ms=1000)
        + encode('{"a": 1}', event="progress", id=1)
        + events.HEARTBEAT
        + encode("x\ny", event="completed", id=2)
    )
    for cut in range(len(stream) + 1):
        parser = Parser()
        got = parser.feed(stream[:cut]) + parser.feed(stream[cut:])
        assert got == [
            Message("progress", '{"a": 1}', "1", 1000),
            Message("completed", "x\ny", "2", 1000),
        ], cut
        assert parser.comments == 2 and parser.last_id == "2"


def test_parser_crlf_split_between_chunks_and_multibyte_split():
    parser = Parser()
    data = "event: e\r\ndata: ä\r\n\r\n".encode()
    cut = data.index(b"\r\n") + 1  # between CR and LF
    out = parser.feed(data[:cut]) + parser.feed(data[cut:-3])
    out += parser.feed(data[-3:])
    assert out == [Message("e", "ä", None)]
    multi = "data: ✓\n\n".encode()
    parser = Parser()
    assert parser.feed(multi[:7]) == [] and parser.feed(multi[7:]) == [
        Message("message", "✓", None)
    ]


def test_parser_ignores_events_without_data_and_keeps_id():
    assert list(parse(b"id: 5\n\ndata: x\n\n")) == [Message("message", "x", "5")]
