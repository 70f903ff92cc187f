"""No password survives redaction, in either DSN form."""

from __future__ import annotations

import pytest

from sqlmig.redact import password_of, redact


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        ("postgresql://bob:hunter2@db:5432/app", "postgresql://bob:***@db:5432/app"),
        ("postgres://bob:p%40ss@db/app failed", "postgres://bob:***@db/app failed"),
        ("host=db password=hunter2 user=bob", "host=db password=*** user=bob"),
        ("host=db password='with space' user=bob", "host=db password=*** user=bob"),
        (
            "postgresql://db/app?password=hunter2&sslmode=require",
            "postgresql://db/app?password=***&sslmode=require",
        ),
        ("postgresql://bob@db/app", "postgresql://bob@db/app"),
    ],
)
def test_redact(text, expected):
    assert redact(text) == expected


def test_known_secret_is_scrubbed_anywhere():
    assert redact("server said: hunter2 is wrong", ("hunter2",)) == "server said: *** is wrong"


def test_password_of():
    assert password_of("postgresql://bob:p%40ss@db/app") == "p@ss"
    assert password_of("host=db password='x y z'") == "x y z"
    assert password_of("postgresql://bob@db/app") == ""
