"""Where the database and the migrations are, by precedence.

    flags  >  environment  >  [tool.sqlmig] in pyproject.toml  >  embedded default

Environment: ``SQLMIG_DSN``, then ``DATABASE_URL``, then libpq's own variables
(``PGHOST``, ``PGPORT``, ``PGDATABASE``, ``PGSERVICE`` ...: the DSN is left
empty and libpq reads them); ``SQLMIG_DIR`` for the directory. With no
database configured anywhere, ``dsn`` is None and the caller uses the
project-local embedded server (:mod:`sqlmig.embedded`).
"""

from __future__ import annotations

import os
from collections.abc import Mapping
from dataclasses import dataclass
from pathlib import Path

from .errors import UsageError

DEFAULT_DIR = "migrations"
_KEYS = frozenset({"dsn", "dir", "models_module", "models_out"})

# libpq variables that name a server or database; PGPASSWORD/PGUSER alone do not.
_LIBPQ_TARGET_VARS = ("PGHOST", "PGHOSTADDR", "PGPORT", "PGDATABASE", "PGSERVICE")


@dataclass(frozen=True)
class Settings:
    dsn: str | None  # None: the embedded default
    dsn_source: str  # where it came from, for messages ("--dsn", "SQLMIG_DSN", ...)
    directory: Path
    project_root: Path
    models_module: str | None = None  # [tool.sqlmig] models_module, for `models check`
    models_out: str | None = None  # [tool.sqlmig] models_out, for `models generate`


def find_pyproject(start: Path) -> Path | None:
    for folder in (start, *start.parents):
        candidate = folder / "pyproject.toml"
        if candidate.is_file():
            return candidate
    return None


def _tool_table(pyproject: Path | None) -> dict[str, object]:
    if pyproject is None:
        return {}
    import tomllib

    try:
        data = tomllib.loads(pyproject.read_text(encoding="utf-8"))
    except (tomllib.TOMLDecodeError, UnicodeDecodeError) as exc:
        raise UsageError(f"{pyproject}: cannot read it as TOML: {exc}") from exc
    table = data.get("tool", {}).get("sqlmig", {})
    if not isinstance(table, dict):
        raise UsageError(f"{pyproject}: [tool.sqlmig] must be a table.")
    unknown = set(table) - _KEYS
    if unknown:
        raise UsageError(
            f"{pyproject}: unknown [tool.sqlmig] key(s): {', '.join(sorted(unknown))}; "
            f"known: {', '.join(sorted(_KEYS))}."
        )
    return table


def resolve(
    dsn: str | None = None,
    directory: str | Path | None = None,
    *,
    env: Mapping[str, str] | None = None,
    cwd: Path | None = None,
) -> Settings:
    env = os.environ if env is None else env
    cwd = cwd or Path.cwd()
    pyproject = find_pyproject(cwd)
    project_root = pyproject.parent if pyproject else cwd
    tool = _tool_table(pyproject)

    if dsn is not None:
        resolved_dsn, source = dsn, "--dsn"
    elif env.get("SQLMIG_DSN"):
        resolved_dsn, source = env["SQLMIG_DSN"], "SQLMIG_DSN"
    elif env.get("DATABASE_URL"):
        resolved_dsn, source = env["DATABASE_URL"], "DATABASE_URL"
    elif any(env.get(var) for var in _LIBPQ_TARGET_VARS):
        resolved_dsn, source = "", "PG* environment"
    elif "dsn" in tool:
        resolved_dsn, source = str(tool["dsn"]), f"{pyproject} [tool.sqlmig] dsn"
    else:
        resolved_dsn, source = None, "embedded default"

    if directory is not None:
        folder = cwd / Path(directory)
    elif env.get("SQLMIG_DIR"):
        folder = cwd / env["SQLMIG_DIR"]
    elif "dir" in tool:
        folder = project_root / str(tool["dir"])
    else:
        folder = project_root / DEFAULT_DIR
    module, out = tool.get("models_module"), tool.get("models_out")
    return Settings(
        resolved_dsn,
        source,
        folder,
        project_root,
        models_module=str(module) if module else None,
        models_out=str(out) if out else None,
    )
