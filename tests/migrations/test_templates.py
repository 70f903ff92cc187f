"""Templated migrations (``-- sqlmig: template``): jinja2 with the variables of
``[tool.sqlmig.vars]`` and ``SQLMIG_VAR_*``; the template is what is checksummed and
stored, the rendering is what runs, and a value never reaches the ledger, the history
or any output (issue 11, acceptance 4).
"""

from __future__ import annotations

import base64
import hashlib
import hmac
import json
import subprocess
import sys
import uuid
from dataclasses import replace

import pytest
from click.testing import CliRunner
from migrations.test_rollback import HISTORY, ledger_rows
from psycopg import sql
from support.cli import invoke
from support.db import named, query

from sqlmig import migrations
from sqlmig.cli import cli
from sqlmig.core import config
from sqlmig.core.errors import MigrationFailed, ScriptError, UsageError
from sqlmig.migrations.templates import secrets_of

PASSWORD = "Zq7-tmpl-Pw-8841"  # distinctive: found anywhere, it leaked
OTHER = "Kx2-other-Pw-5530"
VAR = "SQLMIG_VAR_APP_PASSWORD"


@pytest.fixture
def role(pg):
    """A login role's name, dropped after the test (roles are cluster-wide)."""
    name = f"tmpl_{uuid.uuid4().hex[:10]}"
    yield name
    query(pg.dsn(), sql.SQL("drop role if exists {}").format(sql.Identifier(name)))


def role_file(role: str) -> str:
    return (
        "-- sqlmig: template\n"
        "-- the password comes from SQLMIG_VAR_APP_PASSWORD\n"
        f"CREATE ROLE {role} LOGIN PASSWORD '{{{{ app_password }}}}';\n"
    )


def has_password(dsn: str, role: str, password: str) -> bool:
    """Does the role's SCRAM verifier match ``password`` (logins are trusted here)?"""
    (verifier,) = query(dsn, "select rolpassword from pg_authid where rolname = %s", role)[0]
    method, _, rest = str(verifier).partition("$")
    assert method == "SCRAM-SHA-256"
    head, _, keys = rest.partition("$")
    iterations, _, salt = head.partition(":")
    stored = base64.b64decode(keys.partition(":")[0])
    salted = hashlib.pbkdf2_hmac(
        "sha256", password.encode(), base64.b64decode(salt), int(iterations)
    )
    client_key = hmac.new(salted, b"Client Key", "sha256").digest()
    return hashlib.sha256(client_key).digest() == stored


def ledger_text(dsn: str) -> str:
    if not query(dsn, "select to_regclass('public.schema_migrations') is not null")[0][0]:
        return ""
    return "\n".join(str(r[0]) for r in query(dsn, "select t::text from schema_migrations t"))


def history_text(dsn: str) -> str:
    if not query(dsn, "select to_regclass(%s) is not null", f"public.{HISTORY}")[0][0]:
        return ""
    return "\n".join(str(r[0]) for r in query(dsn, named("select t::text from {h} t", h=HISTORY)))


def test_a_templated_file_runs_its_rendering_and_stores_the_template(
    dsn, sqlmig, mig_dir, role, monkeypatch
):
    monkeypatch.setenv(VAR, PASSWORD)
    text = role_file(role)
    mig_dir.write("1-role.sql", text)
    result = sqlmig("apply")
    assert result.exit_code == 0, result.output
    assert has_password(dsn, role, PASSWORD)
    script, stored_checksum = query(dsn, "select script, checksum from schema_migrations")[0]
    assert script == text  # the template, never the rendering
    assert stored_checksum == hashlib.sha256(text.encode()).hexdigest()


def test_a_changed_value_does_not_modify_the_file(dsn, sqlmig, mig_dir, role, monkeypatch):
    monkeypatch.setenv(VAR, PASSWORD)
    mig_dir.write("1-role.sql", role_file(role))
    assert sqlmig("apply").exit_code == 0
    monkeypatch.setenv(VAR, OTHER)
    verified = sqlmig("verify")
    assert verified.exit_code == 0, verified.output
    status = json.loads(sqlmig("status", "--format", "json").stdout)
    assert [m["state"] for m in status["migrations"]] == ["applied"]
    monkeypatch.delenv(VAR)  # status and verify never need the values
    assert sqlmig("verify").exit_code == 0


def test_missing_variables_are_reported_with_file_line_and_name(dsn, sqlmig, mig_dir, monkeypatch):
    monkeypatch.delenv(VAR, raising=False)
    mig_dir.write("1-plain.sql", "create table a (id int);")
    mig_dir.write(
        "2-grants.sql",
        "-- sqlmig: template\n\nGRANT SELECT ON a TO {{ reader }};\n"
        "{% for r in ['x'] %}SELECT '{{ r }}';{% endfor %}\nSELECT '{{ app_password }}';\n",
    )
    mig_dir.write("3-more.sql", "-- sqlmig: template\nSELECT {{ limit_rows }};\n")
    result = sqlmig("apply")
    assert result.exit_code == 2
    assert "3 problems with templated files (nothing was applied)" in result.stderr
    assert "2-grants.sql:3: template variable 'reader' is not set" in result.stderr
    assert "2-grants.sql:5: template variable 'app_password' is not set; set " + VAR in (
        result.stderr
    )
    assert "3-more.sql:2: template variable 'limit_rows' is not set" in result.stderr
    assert "'r'" not in result.stderr  # a loop's own name is no missing variable
    assert ledger_rows(dsn) == []  # not even the plain file ran
    dry = sqlmig("apply", "--dry-run")
    assert dry.exit_code == 2 and "template variable 'reader'" in dry.stderr


def test_a_template_syntax_error_names_its_line(dsn, sqlmig, mig_dir, monkeypatch):
    monkeypatch.setenv(VAR, PASSWORD)
    mig_dir.write("1-bad.sql", "-- sqlmig: template\nSELECT 1;\nSELECT {{ app_password ;\n")
    result = sqlmig("apply")
    assert result.exit_code == 2
    assert "1-bad.sql:3: template syntax error:" in result.stderr
    assert "Nothing was applied." in result.stderr
    assert ledger_rows(dsn) == []


def test_a_failed_rendering_names_its_line_and_masks_the_value(dsn, sqlmig, mig_dir, monkeypatch):
    monkeypatch.setenv(VAR, PASSWORD)
    mig_dir.write("1-bad.sql", "-- sqlmig: template\n\nSELECT {{ app_password.nope }};\n")
    result = sqlmig("apply")
    assert result.exit_code == 2
    assert "1-bad.sql:3: the template failed to render:" in result.stderr
    assert PASSWORD not in result.output


def test_environment_overrides_pyproject(pg, dsn, tmp_path, role):
    folder = tmp_path / "migrations"
    folder.mkdir()
    (folder / "1-role.sql").write_text(role_file(role))
    (folder / "2-note.sql").write_text(
        "-- sqlmig: template\nCREATE TABLE note AS SELECT '{{ note }}'::text AS note;\n"
    )
    (tmp_path / "pyproject.toml").write_text(
        f'[tool.sqlmig]\ndsn = "{dsn}"\n\n[tool.sqlmig.vars]\n'
        f'app_password = "{OTHER}"\nnote = "from pyproject"\n'
    )
    result = invoke("apply", env={VAR: PASSWORD}, cwd=tmp_path)
    assert result.exit_code == 0, result.output
    assert has_password(dsn, role, PASSWORD) and not has_password(dsn, role, OTHER)
    assert query(dsn, "select note from note") == [("from pyproject",)]
    assert OTHER not in result.output and PASSWORD not in result.output


def test_variables_must_be_strings(tmp_path):
    (tmp_path / "pyproject.toml").write_text("[tool.sqlmig.vars]\nport = 5432\n")
    result = invoke("status", cwd=tmp_path)
    assert result.exit_code == 2
    assert "[tool.sqlmig.vars] port must be a string, not an integer; quote it." in result.stderr
    assert "5432" not in result.output
    (tmp_path / "pyproject.toml").write_text('[tool.sqlmig.vars]\nok = "1"\n')
    with pytest.raises(UsageError, match="not a usable template variable name"):
        config.resolve(env={"SQLMIG_VAR_BAD-NAME": "x"}, cwd=tmp_path)
    env = {"SQLMIG_VAR_OK": "2", "SQLMIG_VAR_NEW_ONE": "3", "OTHER": "4"}
    assert config.resolve(env=env, cwd=tmp_path).variables == {"ok": "2", "new_one": "3"}


def test_a_plain_file_keeps_braces_literal(dsn, sqlmig, mig_dir, monkeypatch):
    monkeypatch.setenv(VAR, PASSWORD)
    mig_dir.write("1-plain.sql", "CREATE TABLE t AS SELECT '{{ app_password }}{% x %}'::text AS v;")
    assert sqlmig("apply").exit_code == 0
    assert query(dsn, "select v from t") == [("{{ app_password }}{% x %}",)]


def test_a_server_error_points_at_the_files_line_and_column(dsn, mig_dir, monkeypatch):
    """Library API: variables through Settings; the error masks the value by itself."""
    mig_dir.write(
        "1-bad.sql",
        "-- sqlmig: template\nSELECT 1;\nSELECT '{{ app_password }}' AS pw, nosuchcolumn;\n",
    )
    settings = replace(config.resolve(dsn, str(mig_dir)), variables={"app_password": PASSWORD})
    with pytest.raises(MigrationFailed) as caught:
        migrations.apply(settings)
    failed = caught.value
    assert (failed.line, failed.column) == (3, 36)  # the file's column, not the rendering's
    assert "> 3 | SELECT '{{ app_password }}' AS pw, nosuchcolumn;" in str(failed)
    assert PASSWORD not in str(failed) and PASSWORD not in json.dumps(failed.as_dict())


def test_a_servers_echo_of_the_value_is_masked_in_the_library(dsn, mig_dir):
    mig_dir.write("1-bad.sql", "-- sqlmig: template\nSELECT '{{ app_password }}'::int;\n")
    settings = replace(config.resolve(dsn, str(mig_dir)), variables={"app_password": PASSWORD})
    with pytest.raises(MigrationFailed) as caught:
        migrations.apply(settings)
    assert 'invalid input syntax for type integer: "***"' in str(caught.value)
    assert PASSWORD not in str(caught.value) + json.dumps(caught.value.as_dict())
    with pytest.raises(ScriptError, match="'app_password' is not set"):
        migrations.apply(replace(settings, variables={}))


def test_the_password_appears_nowhere(pg, dsn, mig_dir, role, monkeypatch):
    """Acceptance 4: apply, --dry-run, a failing file, status, history, verify, check and
    a templated down file's rollback; the ledger, the history, stdout and stderr."""
    monkeypatch.setenv(VAR, PASSWORD)
    mig_dir.write("1-role.sql", role_file(role))
    mig_dir.write(
        "1-role.down.sql",
        "-- sqlmig: template\n"
        "DO $$ BEGIN RAISE NOTICE 'dropping the role of %', '{{ app_password }}'; END $$;\n"
        f"DROP ROLE {role};\n",
    )
    mig_dir.write(
        "2-fail.sql",
        "-- sqlmig: template\nCREATE TABLE keep (v text);\n"
        "SELECT 'prefix {{ app_password }}'::int;\n",
    )
    outputs = []

    def run(*args: str) -> int:
        result = CliRunner().invoke(cli, ["--dsn", dsn, "--dir", str(mig_dir), *args])
        assert result.exception is None or isinstance(result.exception, SystemExit), result
        outputs.append((args, result.stdout, result.stderr))
        return result.exit_code

    assert run("apply", "--dry-run") == 0
    assert "{{ app_password }}" in outputs[-1][1]  # the template, as written
    assert "(a template, shown unrendered)" in outputs[-1][1]
    assert run("apply", "--target", "1", "-v") == 0
    assert has_password(dsn, role, PASSWORD)
    assert run("apply", "-v") == 1
    failure = outputs[-1][2]
    assert "2-fail.sql:3:8: ERROR 22P02" in failure and '"prefix ***"' in failure
    assert "> 3 | SELECT 'prefix {{ app_password }}'::int;" in failure
    assert run("apply", "--format", "json") == 1
    assert run("status") == 0
    assert run("status", "--format", "json") == 0
    assert run("verify") == 0
    assert run("history") == 0
    assert run("history", "--format", "json") == 0
    assert run("check") == 1  # the rehearsal of 2-fail.sql fails
    assert run("rollback", "--dry-run") == 0
    assert "{{ app_password }}" in outputs[-1][1]
    assert run("rollback", "-v") == 0
    assert "dropping the role of ***" in outputs[-1][2] + outputs[-1][1]
    assert query(dsn, "select count(*) from pg_roles where rolname = %s", role) == [(0,)]
    assert "1-role.down.sql" not in ledger_text(dsn)
    stored = ledger_text(dsn) + history_text(dsn)
    assert "apply" in history_text(dsn) and "rollback" in history_text(dsn)
    for args, out, err in outputs:
        assert PASSWORD not in out and PASSWORD not in err, args
    assert PASSWORD not in stored


@pytest.mark.parametrize(
    ("directives", "body", "args"),
    [
        ("template", "CREATE TABLE t AS SELECT '{{ app_password }}'::text AS v;\n", ()),
        ("template", "CREATE TABLE t AS SELECT '{{ app_password }}'::text AS v;\n", ("-v",)),
        (
            "template, no-transaction",
            "CREATE TABLE t AS SELECT '{{ app_password }}'::text AS v;\n",
            (),
        ),
        ("template", "CREATE TABLE t (v text);\nCOPY t FROM stdin;\n{{ app_password }}\n\\.\n", ()),
    ],
    ids=["one-message", "statementwise", "no-transaction", "copy"],
)
def test_every_way_a_file_runs_stores_the_template(
    dsn, sqlmig, mig_dir, monkeypatch, directives, body, args
):
    monkeypatch.setenv(VAR, PASSWORD)
    text = f"-- sqlmig: {directives}\n{body}"
    mig_dir.write("1-t.sql", text)
    result = sqlmig("apply", *args)
    assert result.exit_code == 0, result.output
    assert query(dsn, "select v from t") == [(PASSWORD,)]
    assert query(dsn, "select script from schema_migrations") == [(text,)]
    assert PASSWORD not in ledger_text(dsn) + history_text(dsn) + result.output


def test_plain_files_never_import_jinja2(dsn, mig_dir):
    mig_dir.write("1-plain.sql", "CREATE TABLE t AS SELECT '{{ x }}'::text AS v;")
    code = (
        "import sys; from sqlmig import migrations; from sqlmig.core import config; "
        f"migrations.apply(config.resolve({dsn!r}, {str(mig_dir)!r})); "
        "print('jinja2' in sys.modules)"
    )
    done = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True)
    assert done.stdout.strip() == "False"
    assert query(dsn, "select v from t") == [("{{ x }}",)]


def test_an_unterminated_quote_after_a_value_is_masked_and_located(
    dsn, sqlmig, mig_dir, monkeypatch
):
    monkeypatch.setenv(VAR, PASSWORD)
    mig_dir.write("1-bad.sql", "-- sqlmig: template\nSELECT 1;\nSELECT 'x', '{{ app_password }};\n")
    result = sqlmig("apply")
    assert result.exit_code == 2
    assert "1-bad.sql:3:13: unterminated quoted string" in result.stderr  # the quote's column
    assert PASSWORD not in result.output
    assert ledger_rows(dsn) == []


def test_a_block_that_changes_the_line_count_says_the_lines_are_the_renderings(
    dsn, mig_dir, monkeypatch
):
    mig_dir.write(
        "1-loop.sql",
        "-- sqlmig: template\n{% for n in range(3) %}\nSELECT {{ n }};\n{% endfor %}\n"
        "SELECT '{{ app_password }}'::int;\n",
    )
    settings = replace(config.resolve(dsn, str(mig_dir)), variables={"app_password": PASSWORD})
    with pytest.raises(MigrationFailed) as caught:
        migrations.apply(settings)
    text = str(caught.value)
    assert "1-loop.sql:9:8: ERROR 22P02" in text  # line 9 of the rendering (the file has 6)
    assert ">  9 | SELECT '***'::int;" in text
    assert "(lines of the rendered template: its blocks or values changed the line count)" in text
    assert PASSWORD not in text


def test_drift_rebuilds_a_template_with_its_values(dsn, sqlmig, mig_dir, monkeypatch):
    """The shadow database renders the applied files as apply did: no drift, no value shown."""
    monkeypatch.setenv(VAR, PASSWORD)
    mig_dir.write(
        "1-t.sql",
        "-- sqlmig: template\nCREATE TABLE t (v text DEFAULT '{{ app_password }}');\n",
    )
    assert sqlmig("apply").exit_code == 0
    same = sqlmig("drift")
    assert same.exit_code == 0, same.output
    assert PASSWORD not in same.output
    # Another value: the rebuilt default differs. The target's catalog still holds the
    # old one, which drift shows as any definition (sqlmig knows only the current values).
    monkeypatch.setenv(VAR, OTHER)
    moved = sqlmig("drift")
    assert moved.exit_code == 1, moved.output
    assert OTHER not in moved.output and "'***'::text" in moved.output
    monkeypatch.delenv(VAR)
    unset = sqlmig("drift")
    assert unset.exit_code == 2 and "template variable 'app_password' is not set" in unset.stderr


def test_short_values_are_not_masked_by_value():
    """Masking ``on`` everywhere would garble every message and hide nothing."""
    assert secrets_of({"flag": "on", "empty": "", "pw": "it's long"}) == ("it's long", "it''s long")


def test_the_literal_filter_quotes_any_password(dsn, sqlmig, mig_dir, role, monkeypatch):
    awkward = "O'Brien\\x\"-Pw-77"  # a quote, a backslash and a double quote
    monkeypatch.setenv(VAR, awkward)
    monkeypatch.setenv("SQLMIG_VAR_SCHEMA_NAME", "Mixed Case")
    head = (
        "-- sqlmig: template\n"
        f"CREATE ROLE {role} LOGIN PASSWORD {{{{ app_password | literal }}}};\n"
        "CREATE SCHEMA {{ schema_name | identifier }};\n"
    )
    mig_dir.write("1-role.sql", head + "SELECT {{ app_password | literal }}::int;\n")
    failed = sqlmig("apply")
    assert failed.exit_code == 1
    assert "1-role.sql:4:8: ERROR 22P02" in failed.stderr  # the expression's column
    assert awkward not in failed.output and "O''Brien" not in failed.output
    mig_dir.write("1-role.sql", head)
    result = sqlmig("apply")
    assert result.exit_code == 0, result.output
    assert has_password(dsn, role, awkward)
    assert query(dsn, "select count(*) from pg_namespace where nspname = 'Mixed Case'") == [(1,)]
