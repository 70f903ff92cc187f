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

The ledger's place: ``--table``, ``SQLMIG_TABLE``, ``[tool.sqlmig] table``
(same precedence), ``name`` or ``schema.name``; a bare name is in ``public``.
Default ``public.schema_migrations``, so existing databases keep working.
"""

from __future__ import annotations

import os
import re
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING, ClassVar

from sqlmig.core.errors import UsageError

if TYPE_CHECKING:
    from psycopg import sql

    from sqlmig.core.targets import Notice

DEFAULT_DIR = "migrations"
#: Session settings every migration connection starts with (as startup options, so
#: they survive RESET ALL); a file that changes them is refused before it runs.
PINNED_SETTINGS = {"standard_conforming_strings": "on", "client_encoding": "UTF8"}
_KEYS = frozenset(
    {"dsn", "dir", "embedded", "models_module", "models_out", "lint", "versions", "table"}
)
_KEYS = _KEYS | {"vars"}  # [tool.sqlmig.vars]: variables of templated migrations
#: ``SQLMIG_VAR_APP_PASSWORD`` sets the template variable ``app_password``.
VAR_PREFIX = "SQLMIG_VAR_"
_TOML_KINDS = {"int": "an integer", "float": "a float", "bool": "a boolean", "list": "an array"}
_TOML_KINDS |= {"dict": "a table", "datetime": "a date-time", "date": "a date", "time": "a time"}
_VAR_NAME = re.compile(r"^[A-Za-z_][A-Za-z0-9_]*$")
_KEYS |= {"fleet"}  # [tool.sqlmig.fleet]: read by sqlmig.fleet.targets
_FALSE = frozenset({"0", "false", "no", "off"})
_TRUE = frozenset({"1", "true", "yes", "on"})

# libpq variables that name a server or database; PGPASSWORD/PGUSER alone do not.
_LIBPQ_TARGET_VARS = ("PGHOST", "PGHOSTADDR", "PGPORT", "PGDATABASE", "PGSERVICE")


#: An unquoted PostgreSQL identifier as sqlmig accepts it for the ledger: lower case
#: (what the server folds an unquoted name to), so ``ops.schema_migrations`` in
#: pyproject and in psql name the same table.
_IDENTIFIER = re.compile(r"[a-z_][a-z0-9_$]*")
_MAX_IDENTIFIER = 63  # NAMEDATALEN - 1, in bytes


@dataclass(frozen=True)
class LedgerLocation:
    """Where the ledger lives, and the tables sqlmig keeps beside it (same schema).

    A sibling is ``<table>_<suffix>``: the history is ``sibling("history")``.
    A new table of sqlmig's own beside the ledger gets a suffix in
    :attr:`SIBLINGS`, so introspection, drift and lock reports leave it out.
    """

    schema: str = "public"
    table: str = "schema_migrations"

    #: Suffixes of sqlmig's own tables beside the ledger (``<table>_<suffix>``).
    SIBLINGS: ClassVar[tuple[str, ...]] = ("history", "repeatable")
    #: Sequences of sqlmig's own, as suffixes of the ledger's name (identity columns).
    SEQUENCES: ClassVar[tuple[str, ...]] = ("history_id_seq",)

    @classmethod
    def parse(cls, text: str, source: str = "--table") -> LedgerLocation:
        """``name`` (in ``public``) or ``schema.name``; a UsageError naming ``source``."""
        parts = text.split(".")
        longest = max(len(s) for s in cls.SIBLINGS + cls.SEQUENCES) + 1
        problem = None
        if len(parts) > 2:
            problem = "has more than one dot"
        elif not all(_IDENTIFIER.fullmatch(part) for part in parts):
            problem = "is not lower-case letters, digits, _ and $ (starting with a letter or _)"
        elif len(parts) == 2 and parts[0].startswith("pg_"):
            problem = "uses a pg_ schema (reserved for PostgreSQL)"
        elif len(parts[0].encode()) > _MAX_IDENTIFIER:
            problem = f"has a schema name longer than {_MAX_IDENTIFIER} bytes"
        elif len(parts[-1].encode()) > _MAX_IDENTIFIER - longest:
            problem = (
                f"has a table name longer than {_MAX_IDENTIFIER - longest} bytes (sqlmig "
                f"names tables beside it <name>_history, up to {longest} bytes longer)"
            )
        if problem:
            raise UsageError(
                f"{source} {text!r} {problem}; give `name` (in schema public) or "
                "`schema.name`, e.g. ops.schema_migrations."
            )
        return cls(*parts) if len(parts) == 2 else cls(table=parts[0])

    def __str__(self) -> str:
        return f"{self.schema}.{self.table}"

    def sibling(self, suffix: str) -> str:
        """The name of sqlmig's table ``<table>_<suffix>`` beside the ledger."""
        return f"{self.table}_{suffix}"

    @property
    def history(self) -> str:
        return self.sibling("history")

    @property
    def relations(self) -> tuple[str, ...]:
        """Names of sqlmig's own relations in :attr:`schema` (left out of introspection)."""
        return (
            self.table,
            *(self.sibling(s) for s in self.SIBLINGS),
            *(self.sibling(s) for s in self.SEQUENCES),
        )

    def identifier(self, name: str | None = None) -> sql.Identifier:
        """The schema-qualified name of the ledger (or of ``name`` beside it)."""
        from psycopg import sql

        return sql.Identifier(self.schema, name or self.table)

    def regclass(self, name: str | None = None) -> str:
        """A quoted ``"schema"."name"`` for ``to_regclass`` (identifiers are validated)."""
        return f'"{self.schema}"."{name or self.table}"'


#: Where the ledger lives unless configured: sqlmig's place since its first release.
DEFAULT_LEDGER = LedgerLocation()


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
    #: Variables of templated migrations ([tool.sqlmig.vars], then SQLMIG_VAR_*); their
    #: values may be secrets: never in a repr, masked in every message.
    variables: Mapping[str, str] = field(default_factory=dict, compare=False, repr=False)
    # Where connecting reports what it does (the target, each failed attempt
    # while waiting): the CLI prints these on stderr; the library never prints.
    notify: Callable[[Notice], None] | None = field(default=None, compare=False, repr=False)
    ledger: LedgerLocation = DEFAULT_LEDGER  # --table, SQLMIG_TABLE, [tool.sqlmig] table


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
    table: str | None = None,
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
    if table is not None:
        ledger = LedgerLocation.parse(table, "--table")
    elif env.get("SQLMIG_TABLE"):
        ledger = LedgerLocation.parse(env["SQLMIG_TABLE"], "SQLMIG_TABLE")
    elif "table" in tool:
        ledger = LedgerLocation.parse(str(tool["table"]), f"{pyproject}: [tool.sqlmig] table")
    else:
        ledger = DEFAULT_LEDGER
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
        ledger=ledger,
        variables=_variables(tool.get("vars", {}), env, pyproject),
    )


def _variables(table: object, env: Mapping[str, str], pyproject: Path | None) -> dict[str, str]:
    """``[tool.sqlmig.vars]`` (strings only), overridden by ``SQLMIG_VAR_<NAME>``."""
    if not isinstance(table, dict):
        raise UsageError(f"{pyproject}: [tool.sqlmig.vars] must be a table of strings.")
    found: dict[str, str] = {}
    for name, value in table.items():
        if not _VAR_NAME.match(name):
            raise UsageError(
                f"{pyproject}: [tool.sqlmig.vars] {name!r} is not a usable name "
                "(letters, digits and _, not starting with a digit)."
            )
        if not isinstance(value, str):
            # the value itself is never shown: it may be a secret
            kind = _TOML_KINDS.get(type(value).__name__, "non-string value")
            raise UsageError(
                f"{pyproject}: [tool.sqlmig.vars] {name} must be a string, not {kind}; quote it."
            )
        found[name] = value
    for key, value in env.items():
        if key.startswith(VAR_PREFIX) and len(key) > len(VAR_PREFIX):
            name = key[len(VAR_PREFIX) :].lower()
            if not _VAR_NAME.match(name):
                raise UsageError(
                    f"{key}: {name!r} is not a usable template variable name "
                    "(letters, digits and _, not starting with a digit)."
                )
            found[name] = value
    return found
