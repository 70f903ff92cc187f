"""Where the database and the migrations are, by precedence.

    flags  >  environment  >  [tool.sqlmig] in pyproject.toml  >  embedded default

Environment: ``SQLMIG_DSN``, then ``DATABASE_URL``, then libpq's own variables
(``PGHOST``, ``PGPORT``, ``PGDATABASE``, ``PGSERVICE`` ...: the DSN is left
empty and libpq reads them); ``SQLMIG_DIR`` for the directory. With no
database configured anywhere, ``dsn`` is None and the caller uses the
project-local embedded server (:mod:`sqlmig.core.embedded`) -- unless
``SQLMIG_EMBEDDED=0`` or ``[tool.sqlmig] embedded = false`` turned that
fallback off (a deploy, a shared project): then connecting is a usage error
that names the variables to set.
"""

from __future__ import annotations

import os
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING

from sqlmig.core.errors import UsageError

if TYPE_CHECKING:
    from sqlmig.core.targets import Notice

DEFAULT_DIR = "migrations"
#: Where the ledger lives; introspection and drift leave this table out.
LEDGER_SCHEMA = "public"
LEDGER_TABLE = "schema_migrations"
#: The ledger's append-only history, beside it.
HISTORY_TABLE = f"{LEDGER_TABLE}_history"
#: Relations of sqlmig's own, which introspection and drift leave out.
SQLMIG_RELATIONS = (LEDGER_TABLE, HISTORY_TABLE, f"{HISTORY_TABLE}_id_seq")
#: Session settings every migration connection starts with (as startup options, so
#: they survive RESET ALL); a file that changes them is refused before it runs.
PINNED_SETTINGS = {"standard_conforming_strings": "on", "client_encoding": "UTF8"}
_KEYS = frozenset({"dsn", "dir", "embedded", "models_module", "models_out", "lint", "versions"})
_KEYS |= {"fleet"}  # [tool.sqlmig.fleet]: read by sqlmig.fleet.targets
_FALSE = frozenset({"0", "false", "no", "off"})
_TRUE = frozenset({"1", "true", "yes", "on"})

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
    versions: str = "sequential"  # [tool.sqlmig] versions: how `sqlmig new` numbers files
    embedded: bool = True  # may the embedded server stand in when nothing is configured?
    embedded_source: str = ""  # what turned it off, for the "no database configured" error
    # Where connecting reports what it does (the target, each failed attempt
    # while waiting): the CLI prints these on stderr; the library never prints.
    notify: Callable[[Notice], None] | None = field(default=None, compare=False, repr=False)


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
    embedded, embedded_source = True, ""
    flag = env.get("SQLMIG_EMBEDDED", "").strip().lower()
    if flag in _FALSE:
        embedded, embedded_source = False, f"SQLMIG_EMBEDDED={env['SQLMIG_EMBEDDED']}"
    elif flag and flag not in _TRUE:
        raise UsageError(f"SQLMIG_EMBEDDED must be 0 or 1, not {env['SQLMIG_EMBEDDED']!r}.")
    elif not flag and "embedded" in tool:
        if not isinstance(tool["embedded"], bool):
            raise UsageError(f"{pyproject}: [tool.sqlmig] embedded must be true or false.")
        embedded = tool["embedded"]
        embedded_source = f"{pyproject} [tool.sqlmig] embedded = false"
    module, out = tool.get("models_module"), tool.get("models_out")
    versions = tool.get("versions", "sequential")
    if versions not in ("sequential", "timestamp"):
        raise UsageError(
            f'{pyproject}: [tool.sqlmig] versions must be "sequential" or "timestamp", '
            f"not {versions!r}."
        )
    return Settings(
        resolved_dsn,
        source,
        folder,
        project_root,
        models_module=str(module) if module else None,
        models_out=str(out) if out else None,
        embedded=embedded,
        embedded_source="" if embedded else embedded_source,
        versions=str(versions),
    )
