"""No password in any output (acceptance 7): wrong password, unreachable host,
malformed DSN, failing migration -- text and JSON, in-process and as a process."""

from __future__ import annotations

import contextlib
import json
import os
import re
import subprocess
import sys
from urllib.parse import quote

import psycopg
import pytest
from click.testing import CliRunner
from psycopg import sql
from support.db import query
from support.secrets import SECRET, USER, url

from sqlmig.cli import cli


def run(*args):
    return subprocess.run(
        [sys.executable, "-m", "sqlmig", *args], capture_output=True, text=True, timeout=60
    )


def assert_clean(result, *secrets):
    for secret in secrets:
        assert secret not in result.stdout
        assert secret not in result.stderr


def test_wrong_password(password_user, mig_dir):
    mig_dir.write("1-a.sql", "select 1;")
    dsn = url(password_user, "Wr0ng-" + SECRET, "postgres")
    for fmt in ("text", "json"):
        result = run("--format", fmt, "--dsn", dsn, "--dir", str(mig_dir), "apply")
        assert result.returncode == 3
        assert "password authentication failed" in result.stderr
        assert "check the user and password" in result.stderr
        assert_clean(result, SECRET)


def test_unreachable_host_with_password_and_wait(mig_dir):
    mig_dir.write("1-a.sql", "select 1;")
    dsn = f"postgresql://bob:{SECRET}@127.0.0.1:1/app"
    result = run("--dsn", dsn, "--dir", str(mig_dir), "apply", "--wait", "0.3")
    assert result.returncode == 3
    assert "cannot connect to database app on 127.0.0.1:1" in result.stderr
    assert_clean(result, SECRET)


@pytest.mark.parametrize(
    "dsn",
    [
        f"host=127.0.0.1 port=1 password={SECRET} dbname",  # malformed key=value
        f"postgresql://bob:{SECRET}@127.0.0.1:notaport/app",  # malformed URL
    ],
)
def test_malformed_dsn(mig_dir, dsn):
    mig_dir.write("1-a.sql", "select 1;")
    result = run("--dsn", dsn, "--dir", str(mig_dir), "status")
    assert result.returncode == 2
    assert result.stderr.splitlines()[-1].startswith("Error: invalid DSN")
    assert_clean(result, SECRET)


def test_password_from_environment_is_not_printed(mig_dir, monkeypatch):
    mig_dir.write("1-a.sql", "select 1;")
    env_dsn = f"postgresql://bob:{SECRET}@127.0.0.1:1/app?connect_timeout=2"
    result = subprocess.run(
        [sys.executable, "-m", "sqlmig", "--dir", str(mig_dir), "status"],
        capture_output=True,
        text=True,
        env={**__import__("os").environ, "DATABASE_URL": env_dsn},
    )
    assert result.returncode == 3 and "(from DATABASE_URL)" in result.stderr
    assert_clean(result, SECRET)


def test_failing_migration_with_password_dsn(password_user, dsn, mig_dir):
    dbname = psycopg.conninfo.conninfo_to_dict(dsn)["dbname"]
    mig_dir.write("1-a.sql", f"select '{USER}' as who;\nselect current_setting('no.such');\n")
    target = url(password_user, SECRET, dbname)
    for fmt in ("text", "json"):
        result = run("--format", fmt, "--dsn", target, "--dir", str(mig_dir), "apply")
        assert result.returncode == 1
        assert "1-a.sql:2:1: ERROR 42704" in result.stderr
        assert_clean(result, SECRET)
    status = run("--dsn", target, "--dir", str(mig_dir), "status")
    assert status.returncode == 0
    assert_clean(status, SECRET)


# --- property: nasty passwords x every DSN form x every failure path ----------

NASTY = [
    "Qz@9:xW/Yw",  # unescaped @ : / in a URL
    "Qz?k#mW%2Fv&w=1",  # query and fragment characters, a percent-escape lookalike
    "Qz'dq\"bs\\enD",  # quotes and a backslash
    "Qz wXth spAcEs Wv",
    "Qzünïcødé✓Wv",
    "Qz@@//::@@Wv",
]
COMMON = ["postgres", "ab"]  # a common word, a short one: masked by structure


def _kv_quote(value):
    return "'" + value.replace("\\", "\\\\").replace("'", "\\'") + "'"


def _url(password, host, port, dbname, *, raw=False):
    userinfo = f"{USER}:{password if raw else quote(password, safe='')}"
    if host.startswith("/"):
        return f"postgresql://{userinfo}@/{dbname}?host={quote(host)}&port={port}"
    return f"postgresql://{userinfo}@{host}:{port}/{dbname}"


def dsn_forms(password, host, port, dbname, folder):
    """(name, dsn, extra environment) for every way a password reaches libpq."""
    plain = f"host={_kv_quote(host)} port={port} dbname={dbname} user={USER}"
    service = folder / "pg_service.conf"
    service.write_text(
        f"[qz]\nhost={host}\nport={port}\ndbname={dbname}\nuser={USER}\npassword={password}\n"
    )
    pgpass = folder / "pgpass"
    escaped = password.replace("\\", "\\\\").replace(":", "\\:")
    pgpass.write_text(f"{host}:{port}:{dbname}:{USER}:{escaped}\n")
    pgpass.chmod(0o600)
    return [
        ("url", _url(password, host, port, dbname), {}),
        ("url-unescaped", _url(password, host, port, dbname, raw=True), {}),
        ("kv-quoted", f"{plain} password={_kv_quote(password)}", {}),
        ("kv-unquoted", f"{plain} password={password}", {}),
        ("PGPASSWORD", plain, {"PGPASSWORD": password}),
        ("service-file", "service=qz", {"PGSERVICEFILE": str(service)}),
        (".pgpass", plain, {"PGPASSFILE": str(pgpass)}),
    ]


def _malformed(dsn):
    if dsn.startswith("postgresql://"):
        return re.sub(r"(@[^/]*?)(:\d+)?/", r"\1:notaport/", dsn, count=1).replace(
            "&port=", "&port=notaport"
        )
    return dsn + " dbname"  # a key without "="


def _leaks(text, password):
    """Fragments (4+ characters) of a distinctive password; the password field of a common one."""
    if password in NASTY:
        return sorted({password[i : i + 4] for i in range(len(password) - 3)} & _substrings(text))
    escaped = re.escape(password)
    pattern = rf"(?:password\s*=\s*'?|:){escaped}(?:'|@|\s|&|$)|{re.escape(quote(password))}@"
    return re.findall(pattern, text)


def _substrings(text):
    return {text[i : i + 4] for i in range(len(text) - 3)}


def _render(result):
    text = result.output + result.stdout + result.stderr
    with contextlib.suppress(ValueError):
        text += json.dumps(json.loads(result.stdout), ensure_ascii=False)
    return text


@pytest.mark.slow(fast_subset=["Qz@9:xW/Yw", "postgres"])
@pytest.mark.parametrize("password", NASTY + COMMON)
def test_no_part_of_a_password_is_ever_printed(password_user, dsn, mig_dir, tmp_path, password):
    pg = password_user
    socket, port = pg.params["host"], pg.params["port"]
    dbname = psycopg.conninfo.conninfo_to_dict(dsn)["dbname"]
    base_env = {k: None for k in os.environ if k.startswith("PG") or k == "DATABASE_URL"}
    base_env |= {
        "PGPASSFILE": str(tmp_path / "none"),
        "PGSERVICEFILE": str(tmp_path / "none"),
        "SQLMIG_DSN": None,
    }
    problems = []

    def check(label, args, env, expected_codes):
        result = CliRunner().invoke(cli, list(args), env={**base_env, **env})
        text = _render(result)
        if result.exit_code not in expected_codes or "Traceback" in text:
            problems.append(f"{label}: exit {result.exit_code}: {text[-400:]}")
        leaked = _leaks(text, password)
        if leaked:
            problems.append(f"{label}: leaked {leaked} in {text!r}")

    def paths(folder):
        folder.mkdir()
        return folder

    # a. wrong password (the role's is SECRET); b. unreachable host; c. malformed DSN
    for path, host, pport, wait, codes in (
        ("wrong-password", socket, port, (), {2, 3}),
        ("unreachable", "127.0.0.1", "1", ("--wait", "0.2"), {2, 3}),
    ):
        for name, target, env in dsn_forms(password, host, pport, dbname, paths(tmp_path / path)):
            for fmt in ("text", "json"):
                args = ("--format", fmt, "--dsn", target, "--dir", str(mig_dir), "apply", *wait)
                check(f"{path}/{name}/{fmt}", args, env, codes)
            if path == "unreachable":
                bad = _malformed(target)
                check(
                    f"malformed/{name}",
                    ("--dsn", bad, "--dir", str(mig_dir), "status"),
                    env,
                    {2, 3},
                )

    # d. the password is right, and a migration echoes the DSN in its error
    with psycopg.connect(pg.dsn(), autocommit=True) as conn:
        conn.execute(
            sql.SQL("alter role {} password {}").format(sql.Identifier(USER), sql.Literal(password))
        )
    try:
        for name, target, env in dsn_forms(password, socket, port, dbname, paths(tmp_path / "d")):
            mig_dir.write(
                "1-a.sql",
                f"do $$ begin raise exception 'cannot reach %', $qz${target}$qz$; end $$;\n",
            )
            for fmt in ("text", "json"):
                args = ("--format", fmt, "--dsn", target, "--dir", str(mig_dir), "apply")
                # Correctly written forms reach the migration (exit 1). Unescaped ones may
                # be refused first (2: an @ or / in a URL, an unquoted space) or send a
                # different password (3: %2F decoded, a backslash read as an escape).
                codes = {1, 2, 3} if name in ("url-unescaped", "kv-unquoted") else {1}
                check(f"migration/{name}/{fmt}", args, env, codes)
                query(dsn, "drop table if exists schema_migrations")
    finally:
        with psycopg.connect(pg.dsn(), autocommit=True) as conn:
            conn.execute(
                sql.SQL("alter role {} password {}").format(
                    sql.Identifier(USER), sql.Literal(SECRET)
                )
            )
    assert not problems, "\n".join(problems)
