"""A fleet's targets: named databases from pyproject.toml, a targets file, or a query.

    [tool.sqlmig.fleet]                      (or the same keys in --targets FILE.toml)
    stages = [["canary-1"], ["eu-*"], ["*"]] jobs = 8   per_server = 4   max_failures = 1
    password_env = "FLEET_PGPASSWORD"        (optional: for every target below)

    [tool.sqlmig.fleet.targets]              literal DSNs by name
    canary-1 = "postgresql://app@db1/canary"
    eu-1 = { dsn = "postgresql://app@db2/eu1", password_env = "EU_PGPASSWORD" }

    [[tool.sqlmig.fleet.template]]           one target per name, {name} substituted
    dsn = "postgresql://app@db1/tenant_{name}"
    names = ["acme", "globex"]

    [[tool.sqlmig.fleet.query]]              (name, dsn) rows from a control database
    dsn = "postgresql://ops@control/ops"
    sql = "SELECT tenant, dsn FROM tenants WHERE active"

    [[tool.sqlmig.fleet.schemas]]            one target per schema of one database
    dsn = "postgresql://app@db1/tenants"     (see _schemas.py: name/schema, its own
    schemas = ["acme", "globex"]              ledger, search_path; or query = "SELECT ...")

A plain ``--targets FILE`` (not ``.toml``) has one target a line, ``NAME=DSN`` or
just a DSN (named after its database); ``#`` starts a comment. A line whose
text before the first ``=`` is a libpq keyword (``host=… dbname=…``) is a
key=value DSN without a name, so a name may not be a libpq keyword.

No password is ever written down: a DSN with one (in pyproject, a file, or a
query's rows) is refused. Passwords come from libpq's own places (PGPASSWORD,
~/.pgpass, a service file) or from ``password_env``, the name of an environment
variable that holds it. Names are letters, digits, ``_ . -`` (they go into
DSN templates and output as they are) and unique.
"""

from __future__ import annotations

import os
import re
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from fnmatch import fnmatchcase
from functools import cached_property
from pathlib import Path
from typing import Any

from sqlmig.core.config import LedgerLocation, Settings, find_pyproject
from sqlmig.core.errors import UsageError
from sqlmig.core.paths import display_path
from sqlmig.core.redact import libpq_params, parse_dsn, password_of

_NAME = re.compile(r"[A-Za-z0-9][A-Za-z0-9_.-]*\Z")
_FLEET_KEYS = frozenset(
    {"targets", "template", "query", "stages", "jobs", "per_server", "max_failures"}
    | {"password_env", "schemas"}
)
_TEMPLATE_KEYS = frozenset({"dsn", "names", "password_env"})
_QUERY_KEYS = frozenset({"dsn", "sql", "password_env"})
_TARGET_KEYS = frozenset({"dsn", "password_env"})


@dataclass(frozen=True)
class FleetTarget:
    """One database of the fleet. ``dsn`` may hold a password (from the environment)."""

    name: str
    dsn: str = field(repr=False)
    source: str  # where it was defined, for messages
    ledger: LedgerLocation | None = None  # a schema target's own ledger (None: --table's)

    @cached_property  # the scheduler asks often; parsing is not free
    def server(self) -> str:
        """``host:port``, as libpq would read them (the per-server cap counts these)."""
        params = libpq_params(self.dsn)
        host = params.get("host") or params.get("hostaddr") or "localhost"
        return f"{host}:{params.get('port') or '5432'}"

    @cached_property
    def shown(self) -> str:
        """Where it points, without any password."""
        from sqlmig.core.connections import describe

        shown = describe(self.dsn)
        return f"schema {self.ledger.schema} of {shown}" if self.ledger else shown


@dataclass(frozen=True)
class Fleet:
    targets: tuple[FleetTarget, ...]
    stages: tuple[tuple[str, ...], ...] = ()  # name globs per stage
    jobs: int | None = None
    per_server: int | None = None
    max_failures: int | None = None
    source: str = ""

    def select(self, only: Sequence[str]) -> Fleet:
        """The targets whose name matches one of the ``only`` globs (all when empty)."""
        if not only:
            return self
        chosen = tuple(t for t in self.targets if any(fnmatchcase(t.name, g) for g in only))
        if not chosen:
            raise UsageError(
                f"--only {' '.join(only)} matches no target of the fleet ({self.source}); "
                "`sqlmig fleet targets` lists them."
            )
        return Fleet(
            chosen, self.stages, self.jobs, self.per_server, self.max_failures, self.source
        )

    def secrets(self) -> tuple[str, ...]:
        """Every password a target may send, to mask in any message."""
        from sqlmig.core.redact import secrets_for

        return tuple(dict.fromkeys(s for t in self.targets for s in secrets_for(t.dsn)))


def load_fleet(
    settings: Settings, targets_file: str | Path | None = None, env: Mapping[str, str] | None = None
) -> Fleet:
    """The fleet of ``--targets FILE``, else of ``[tool.sqlmig.fleet]`` in pyproject.toml."""
    env = os.environ if env is None else env
    if targets_file is not None:
        path = Path(targets_file)
        try:
            text = path.read_text(encoding="utf-8")
        except (OSError, UnicodeDecodeError) as exc:
            raise UsageError(f"--targets {targets_file}: cannot read it: {exc}") from None
        where = display_path(path)
        if path.suffix == ".toml":
            table = _fleet_table(_toml(text, where), where, nested_only=False)
            return _from_table(table, where, settings, env)
        return Fleet(_plain(text, where), source=where)
    pyproject = find_pyproject(settings.project_root)
    if pyproject is None:
        raise UsageError(_NO_FLEET)
    where = f"{display_path(pyproject)} [tool.sqlmig.fleet]"
    table = _fleet_table(_toml(pyproject.read_text(encoding="utf-8"), where), where)
    if table is None:
        raise UsageError(_NO_FLEET)
    return _from_table(table, where, settings, env)


_NO_FLEET = (
    "no fleet configured: add a [tool.sqlmig.fleet] table to pyproject.toml, or pass "
    "--targets FILE (see docs/fleet.md)."
)


def _toml(text: str, where: str) -> dict[str, Any]:
    import tomllib

    try:
        return tomllib.loads(text)
    except tomllib.TOMLDecodeError as exc:
        raise UsageError(f"{where}: cannot read it as TOML: {exc}") from None


def _fleet_table(data: dict[str, Any], where: str, *, nested_only: bool = True) -> Any:
    table = data.get("tool", {}).get("sqlmig", {}).get("fleet")
    if table is None and not nested_only:
        table = data
    if table is not None and not isinstance(table, dict):
        raise UsageError(f"{where}: [tool.sqlmig.fleet] must be a table.")
    return table


def _from_table(
    table: dict[str, Any], where: str, settings: Settings, env: Mapping[str, str]
) -> Fleet:
    unknown = set(table) - _FLEET_KEYS
    if unknown:
        raise UsageError(
            f"{where}: unknown key(s) {', '.join(sorted(unknown))}; "
            f"known: {', '.join(sorted(_FLEET_KEYS))}."
        )
    default_env = _optional_str(table, "password_env", where)
    found: list[FleetTarget] = []
    literal = table.get("targets", {})
    if not isinstance(literal, dict):
        raise UsageError(f"{where}: targets must be a table of name = DSN.")
    for name, value in literal.items():
        spot = f"{where} targets.{name}"
        if isinstance(value, dict):
            _known(value, _TARGET_KEYS, spot)
            dsn, var = _required_str(value, "dsn", spot), _optional_str(value, "password_env", spot)
        elif isinstance(value, str):
            dsn, var = value, None
        else:
            raise UsageError(f"{spot}: give a DSN string or {{ dsn = ..., password_env = ... }}.")
        found.append(_target(name, dsn, spot, var or default_env, env))
    for index, block in enumerate(_blocks(table, "template", where)):
        spot = f"{where} template[{index}]"
        _known(block, _TEMPLATE_KEYS, spot)
        dsn = _required_str(block, "dsn", spot)
        if "{name}" not in dsn:
            raise UsageError(f"{spot}: the dsn has no {{name}} to substitute.")
        names = block.get("names")
        if not isinstance(names, list) or not all(isinstance(n, str) for n in names):
            raise UsageError(f"{spot}: names must be a list of strings.")
        var = _optional_str(block, "password_env", spot) or default_env
        found += [
            _target(n, dsn.replace("{name}", n), spot, var, env, template=True) for n in names
        ]
    for index, block in enumerate(_blocks(table, "query", where)):
        spot = f"{where} query[{index}]"
        _known(block, _QUERY_KEYS, spot)
        var = _optional_str(block, "password_env", spot) or default_env
        rows = _query(
            _required_str(block, "dsn", spot), _required_str(block, "sql", spot), spot, settings
        )
        found += [_target(n, d, f"{spot} row {n}", var, env) for n, d in rows]
    from sqlmig.fleet._schemas import KEYS, tenant_schemas

    for index, block in enumerate(_blocks(table, "schemas", where)):
        spot = f"{where} schemas[{index}]"
        _known(block, KEYS, spot)
        dsn = _required_str(block, "dsn", spot)
        var = _optional_str(block, "password_env", spot) or default_env
        name = _optional_str(block, "name", spot) or _default_name(dsn, spot)
        base = _target(name, dsn, spot, var, env)  # checks the name, refuses a password
        found += [
            FleetTarget(f"{name}/{loc.schema}", d, f"{spot} schema {loc.schema}", loc)
            for loc, d in tenant_schemas(block, base.dsn, spot, settings)
        ]
    if not found:
        raise UsageError(f"{where}: the fleet has no targets.")
    stages = table.get("stages", [])
    if not isinstance(stages, list) or not all(
        isinstance(s, list) and s and all(isinstance(g, str) for g in s) for s in stages
    ):
        raise UsageError(
            f'{where}: stages must be a list of lists of name globs: [["canary"], ["*"]].'
        )
    return Fleet(
        _unique(found),
        tuple(tuple(s) for s in stages),
        jobs=_positive(table, "jobs", where),
        per_server=_positive(table, "per_server", where),
        max_failures=_positive(table, "max_failures", where),
        source=where,
    )


def _plain(text: str, where: str) -> tuple[FleetTarget, ...]:
    keywords = _libpq_keywords()
    found = []
    for number, raw in enumerate(text.splitlines(), start=1):
        line = raw.split("#", 1)[0].strip() if not raw.lstrip().startswith("#") else ""
        if not line:
            continue
        spot = f"{where}:{number}"
        head, eq, rest = line.partition("=")
        if eq and head.strip() not in keywords and "://" not in head:
            name, dsn = head.strip(), rest.strip()
        else:
            name, dsn = _default_name(line, spot), line
        found.append(_target(name, dsn, spot, None, {}))
    if not found:
        raise UsageError(f"{where}: no targets in it (one DSN or NAME=DSN a line).")
    return _unique(found)


def _default_name(dsn: str, spot: str) -> str:
    dbname = _parse(dsn, spot).get("dbname", "")
    if not dbname:
        raise UsageError(f"{spot}: the DSN names no database; write NAME=DSN.")
    return dbname


def _target(
    name: object,
    dsn: str,
    spot: str,
    password_env: str | None,
    env: Mapping[str, str],
    *,
    template: bool = False,
) -> FleetTarget:
    if not isinstance(name, str) or not _NAME.match(name):
        raise UsageError(
            f"{spot}: target name {name!r} is not letters, digits, '_', '.', '-' "
            "(starting with a letter or digit)."
        )
    if not isinstance(dsn, str):
        raise UsageError(f"{spot}: the DSN of {name} must be a string.")
    _refuse_password(dsn, spot, "the template" if template else f"the DSN of {name}")
    if password_env:
        secret = env.get(password_env)
        if not secret:
            raise UsageError(f"{spot}: password_env names {password_env}, which is not set.")
        from psycopg import conninfo

        dsn = conninfo.make_conninfo(dsn, password=secret)
    return FleetTarget(name, dsn, spot)


def _refuse_password(dsn: str, spot: str, what: str) -> None:
    if password_of(dsn) or "password" in _parse(dsn, spot):
        raise UsageError(
            f"{spot}: {what} contains a password; a fleet never keeps one in a file. "
            "Give it through PGPASSWORD, ~/.pgpass, a service file, or "
            'password_env = "VARIABLE" (the name of an environment variable that holds it).'
        )


def _parse(dsn: str, spot: str) -> dict[str, str]:
    try:
        return parse_dsn(dsn)
    except UsageError as exc:
        raise UsageError(f"{spot}: {exc}") from None


def _unique(found: list[FleetTarget]) -> tuple[FleetTarget, ...]:
    seen: dict[str, FleetTarget] = {}
    for target in found:
        if target.name in seen:
            raise UsageError(
                f"target name {target.name!r} is used twice: {seen[target.name].source} "
                f"and {target.source}."
            )
        seen[target.name] = target
    return tuple(found)


def _query(dsn: str, text: str, spot: str, settings: Settings) -> list[tuple[object, str]]:
    """(name, dsn) rows of ``text`` on the control database, in a read-only transaction."""
    import psycopg

    from sqlmig.core import connections

    _refuse_password(dsn, spot, "the control database's DSN")
    control = Settings(dsn, spot, settings.directory, settings.project_root, embedded=False)
    with connections.connect(control) as conn:
        try:
            with conn.transaction():
                conn.execute("SET TRANSACTION READ ONLY")
                cur = conn.execute(text.encode())
                rows = cur.fetchall() if cur.description else []
        except psycopg.Error as exc:
            from sqlmig.core.redact import redact, secrets_for

            reason = redact(str(exc).strip(), secrets_for(dsn))
            raise UsageError(f"{spot}: the query failed: {reason}") from None
    if any(len(row) != 2 or not isinstance(row[1], str) for row in rows):
        raise UsageError(f"{spot}: the query must return two text columns: name, dsn.")
    return [(row[0], str(row[1])) for row in rows]


def _blocks(table: dict[str, Any], key: str, where: str) -> list[dict[str, Any]]:
    value = table.get(key, [])
    blocks = [value] if isinstance(value, dict) else value
    if not isinstance(blocks, list) or not all(isinstance(b, dict) for b in blocks):
        raise UsageError(f"{where}: {key} must be a table or an array of tables ([[...]]).")
    return blocks


def _known(block: dict[str, Any], keys: frozenset[str], spot: str) -> None:
    unknown = set(block) - keys
    if unknown:
        raise UsageError(
            f"{spot}: unknown key(s) {', '.join(sorted(unknown))}; "
            f"known: {', '.join(sorted(keys))}."
        )


def _required_str(block: dict[str, Any], key: str, spot: str) -> str:
    value = block.get(key)
    if not isinstance(value, str) or not value:
        raise UsageError(f"{spot}: {key} must be a non-empty string.")
    return value


def _optional_str(block: dict[str, Any], key: str, spot: str) -> str | None:
    if key not in block:
        return None
    return _required_str(block, key, spot)


def _positive(table: dict[str, Any], key: str, where: str) -> int | None:
    value = table.get(key)
    if value is None:
        return None
    if not isinstance(value, int) or isinstance(value, bool) or value < 1:
        raise UsageError(f"{where}: {key} must be a whole number of at least 1.")
    return value


def _libpq_keywords() -> frozenset[str]:
    from psycopg import pq

    return frozenset(o.keyword.decode() for o in pq.Conninfo.get_defaults())
