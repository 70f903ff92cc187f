"""Configuration precedence: flags > environment > [tool.sqlmig] > embedded."""

from __future__ import annotations

from pathlib import Path

import pytest

from sqlmig.core.config import resolve
from sqlmig.core.errors import UsageError


@pytest.fixture
def project(tmp_path: Path) -> Path:
    (tmp_path / "pyproject.toml").write_text(
        '[tool.sqlmig]\ndsn = "postgresql://toml@h/db"\ndir = "db/migrations"\n'
    )
    (tmp_path / "sub").mkdir()
    return tmp_path


def test_flags_win(project):
    s = resolve("postgresql://flag@h/db", "here", env={"SQLMIG_DSN": "x"}, cwd=project / "sub")
    assert (s.dsn, s.dsn_source) == ("postgresql://flag@h/db", "--dsn")
    assert s.directory == project / "sub" / "here"


@pytest.mark.parametrize(
    ("env", "dsn", "source"),
    [
        ({"SQLMIG_DSN": "a", "DATABASE_URL": "b", "PGHOST": "c"}, "a", "SQLMIG_DSN"),
        ({"DATABASE_URL": "b", "PGHOST": "c"}, "b", "DATABASE_URL"),
        ({"PGHOST": "c"}, "", "PG* environment"),
        ({"PGSERVICE": "svc"}, "", "PG* environment"),
    ],
)
def test_environment_beats_pyproject(project, env, dsn, source):
    s = resolve(env=env, cwd=project)
    assert (s.dsn, s.dsn_source) == (dsn, source)


def test_password_alone_does_not_select_libpq_env(project):
    assert resolve(env={"PGPASSWORD": "x"}, cwd=project).dsn == "postgresql://toml@h/db"


def test_pyproject_found_from_subfolder_and_dir_relative_to_it(project):
    s = resolve(env={}, cwd=project / "sub")
    assert s.dsn == "postgresql://toml@h/db"
    assert s.directory == project / "db" / "migrations"
    assert s.project_root == project


def test_sqlmig_dir_env(project):
    assert resolve(env={"SQLMIG_DIR": "m"}, cwd=project).directory == project / "m"


def test_nothing_configured_means_embedded(tmp_path):
    s = resolve(env={}, cwd=tmp_path)
    assert s.dsn is None and s.dsn_source == "embedded default"
    assert s.directory == tmp_path / "migrations"


def test_unknown_pyproject_key_is_an_error(tmp_path):
    (tmp_path / "pyproject.toml").write_text('[tool.sqlmig]\ndirectory = "x"\n')
    with pytest.raises(
        UsageError, match=r"unknown \[tool.sqlmig\] key\(s\): directory; known: dir, dsn, embedded,"
    ):
        resolve(env={}, cwd=tmp_path)


def test_embedded_fallback_is_on_by_default(tmp_path):
    s = resolve(env={}, cwd=tmp_path)
    assert s.embedded and s.embedded_source == ""


@pytest.mark.parametrize("value", ["0", "false", "No", "off"])
def test_sqlmig_embedded_0_turns_the_fallback_off(tmp_path, value):
    s = resolve(env={"SQLMIG_EMBEDDED": value}, cwd=tmp_path)
    assert not s.embedded and s.embedded_source == f"SQLMIG_EMBEDDED={value}"


def test_pyproject_embedded_false_and_the_environment_beats_it(tmp_path):
    (tmp_path / "pyproject.toml").write_text("[tool.sqlmig]\nembedded = false\n")
    s = resolve(env={}, cwd=tmp_path)
    assert not s.embedded
    assert s.embedded_source == f"{tmp_path / 'pyproject.toml'} [tool.sqlmig] embedded = false"
    assert resolve(env={"SQLMIG_EMBEDDED": "1"}, cwd=tmp_path).embedded


def test_bad_embedded_values_are_usage_errors(tmp_path):
    with pytest.raises(UsageError, match="SQLMIG_EMBEDDED must be 0 or 1, not 'maybe'"):
        resolve(env={"SQLMIG_EMBEDDED": "maybe"}, cwd=tmp_path)
    (tmp_path / "pyproject.toml").write_text('[tool.sqlmig]\nembedded = "no"\n')
    with pytest.raises(UsageError, match="embedded must be true or false"):
        resolve(env={}, cwd=tmp_path)
