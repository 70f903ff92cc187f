"""Configuration precedence: flags > environment > [tool.sqlmig] > embedded."""

from __future__ import annotations

from pathlib import Path

import pytest

from sqlmig.config import resolve
from sqlmig.errors import UsageError


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
    with pytest.raises(UsageError, match=r"unknown \[tool.sqlmig\] key\(s\): directory"):
        resolve(env={}, cwd=tmp_path)
