"""No password survives redaction, whatever the DSN form (no server needed)."""

from __future__ import annotations

from urllib.parse import quote, unquote

import pytest

from sqlmig.core.errors import UsageError
from sqlmig.core.redact import MASK, libpq_params, parse_dsn, password_of, redact, secrets_for

# Passwords chosen to break naive parsing; their 4-character fragments occur in
# no message sqlmig prints, so any fragment in the output is a leak.
NASTY = [
    "Qz@9:xW/Yw",  # unescaped @ : / in a URL
    "Qz?k#mW%2Fv&w=1",  # query and fragment characters, a percent-escape lookalike
    "Qz'dq\"bs\\enD",  # quotes and a backslash
    "Qz wXth spAcEs Wv",
    "Qzünïcødé✓Wv",
    "Qz@@//::@@Wv",
]


def fragments(secret: str, size: int = 4) -> set[str]:
    return {secret[i : i + size] for i in range(len(secret) - size + 1)}


def assert_no_fragment(text: str, secret: str) -> None:
    leaked = sorted(f for f in fragments(secret) if f in text)
    assert not leaked, f"fragments {leaked} of the password in {text!r}"


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        ("postgresql://bob:hunter2@db:5432/app", "postgresql://bob:***@db:5432/app"),
        ("postgres://bob:p%40ss@db/app failed", "postgres://bob:***@db/app failed"),
        ("host=db password=hunter2 user=bob", "host=db password=*** user=bob"),
        ("host=db password='with space' user=bob", "host=db password=*** user=bob"),
        ("host=db password = 'it\\'s' user=bob", "host=db password = *** user=bob"),
        ("sslpassword=hunter2 host=db", "sslpassword=*** host=db"),
        (
            "postgresql://db/app?password=hunter2&sslmode=require",
            "postgresql://db/app?password=***&sslmode=require",
        ),
        ("postgresql://bob@db/app", "postgresql://bob@db/app"),
        # unescaped @ and / in the password: everything up to the last @ is userinfo
        ("postgresql://bob:p@ss@db/app", "postgresql://bob:***@db/app"),
        ("dsn postgresql://bob/x:pw@db/app end", "dsn postgresql://***@db/app end"),
        ("http://127.0.0.1:8000/tasks/1", "http://127.0.0.1:8000/tasks/1"),
    ],
)
def test_redact_by_structure(text, expected):
    assert redact(text) == expected


def test_known_secret_is_scrubbed_anywhere_in_each_spelling():
    said = "server said: hunter2 / hunter%3F2 is wrong"
    assert redact(said, ("hunter2", "hunter?2")) == "server said: *** / *** is wrong"


def test_short_secrets_are_masked_by_structure_only():
    text = "a tab and a cab: postgresql://u:ab@h/db password=ab"
    assert redact(text, ("ab",)) == "a tab and a cab: postgresql://u:***@h/db password=***"


def test_pgpassword_is_always_a_secret(monkeypatch):
    monkeypatch.setenv("PGPASSWORD", "env-Secret-9")
    assert redact("FATAL: env-Secret-9") == f"FATAL: {MASK}"


def test_password_of():
    assert password_of("postgresql://bob:p%40ss@db/app") == "p@ss"
    assert password_of("postgresql://bob:p@ss@db/app") == "p@ss"
    assert password_of("postgresql://db/app?password=x%20y") == "x y"
    assert password_of("host=db password='x y z'") == "x y z"
    assert password_of("host=db password='it\\'s' dbname") == "it's"  # unparseable
    assert password_of("postgresql://bob@db/app") == ""


@pytest.mark.parametrize(
    "dsn",
    [
        "postgresql://bob:Qz@9xWYw@db/app",
        "postgresql://bob:Qz/9xWYw@db/app",
        "postgresql://bob:100%sureQz@db/app",
        "postgresql://bob:Qz9xWYw@db/app?application_name=100%sure",
    ],
)
def test_a_url_that_does_not_parse_cleanly_is_refused_without_userinfo(dsn):
    with pytest.raises(UsageError) as info:
        parse_dsn(dsn)
    message = str(info.value)
    assert "does not parse cleanly" in message and "percent-encode" in message
    assert "bob" not in message  # no userinfo at all
    assert_no_fragment(message, password_of(dsn))


@pytest.mark.parametrize(
    "dsn",
    [
        "host=db password=Qz secret Wv dbname=app",  # unquoted space: libpq names "secret"
        "host=db password='QzsecretWv",  # unterminated quote
        "postgresql://bob:QzsecretWv@db:notaport/app?port=QzsecretWv",
    ],
)
def test_libpq_parse_errors_show_no_password(dsn):
    try:
        parse_dsn(dsn)
    except UsageError as exc:
        assert str(exc).startswith("invalid DSN: ")
        assert_no_fragment(str(exc), "QzsecretWv")
        assert_no_fragment(str(exc), "Qz secret Wv")


@pytest.mark.parametrize("secret", NASTY)
def test_every_form_of_a_nasty_password_is_masked_in_free_text(secret):
    escaped = secret.replace("\\", "\\\\").replace("'", "\\'")
    forms = [
        f"postgresql://app:{quote(secret, safe='')}@db/app",
        f"postgresql://app:{secret}@db/app",
        f"host=db user=app password='{escaped}' dbname=app",
        f"postgresql://db/app?password={quote(secret, safe='')}",
    ]
    for dsn in forms:
        said = f"could not connect with {dsn}: FATAL: no such thing as {secret}"
        assert_no_fragment(redact(said, secrets_for(dsn)), secret)
        try:
            parsed = parse_dsn(dsn)
        except UsageError as exc:
            assert_no_fragment(str(exc), secret)
        else:
            assert parsed.get("password") in (secret, unquote(secret))  # raw URL: decoded


def test_service_file_and_pgpass_passwords_are_secrets(tmp_path):
    service = tmp_path / "pg_service.conf"
    service.write_text(
        "[other]\npassword=NotThisOne\n[app]\nhost=db\nuser=app\npassword=FromSvc-Qz9\n"
    )
    pgpass = tmp_path / "pgpass"
    pgpass.write_text(
        "# comment\nother:5432:*:app:WrongHost-Qz\ndb:*:*:app:Fr\\:om\\\\Pass-Qz\n*:*:*:*:Any-Qz\n"
    )
    env = {"PGSERVICEFILE": str(service), "PGPASSFILE": str(pgpass), "HOME": str(tmp_path)}
    assert secrets_for("service=app", env) == ("FromSvc-Qz9", "Fr:om\\Pass-Qz", "Any-Qz")
    assert libpq_params("service=app dbname=x", env)["dbname"] == "x"  # the DSN wins
    env_only = {**env, "PGSERVICE": "app", "PGPASSWORD": "Env-Qz"}
    assert secrets_for("", env_only)[0] == "Env-Qz"
    assert "FromSvc-Qz9" in secrets_for("", env_only)
