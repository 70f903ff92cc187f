"""Migration files on disk -> :class:`Script` objects (no database involved).

A directory holds ``<version>-<name>.sql`` files and optional
``<version>-<name>.down.sql`` partners. Every problem in the set (bad names,
duplicate versions, orphan down files, undecodable text, unknown directives)
is collected and raised together as one :class:`ScriptError`, before anything
touches a database.
"""

from __future__ import annotations

import hashlib
import io
import os
import re
from dataclasses import dataclass, field, replace
from pathlib import Path

from sqlmig.core.errors import ScriptError

#: <version>-<name>.sql or <version>_<name>.sql (dbmate, golang-migrate, yoyo), with
#: .down.sql for the down file; golang-migrate's .up.sql is the up file.
_NAME = re.compile(
    r"^(?P<version>\d+)[-_](?P<name>[^\s/\\]+?)(?:(?P<up>\.up)|(?P<down>\.down))?\.sql$",
    re.IGNORECASE,
)
_SQL_SUFFIX = re.compile(r"\.sql$", re.IGNORECASE)
#: R-<name>.sql, R_<name>.sql or Flyway's R__<name>.sql: a repeatable migration
#: (sqlmig.migrations.repeatable).
REPEATABLE_NAME = re.compile(
    r"^R(?:__|[-_])(?P<name>[^\s/\\]+?)(?P<down>\.down)?\.sql$", re.IGNORECASE
)
#: The ledger's version column is a bigint.
MAX_VERSION = 2**63 - 1
#: The leading block of blank and ``--`` comment lines, where directives live.
_LEADING = re.compile(r"(?:[ \t]*(?:--[^\n]*)?(?:\r\n|\r|\n))*")
_DIRECTIVE = re.compile(r"^--\s*sqlmig:\s*(?P<words>.*?)\s*$")

#: Directives a file may declare in its leading ``-- sqlmig: ...`` lines.
KNOWN_DIRECTIVES = frozenset({"no-transaction", "requires"})
KNOWN_DIRECTIVES |= {"template"}  # jinja2, rendered when it runs: migrations/templates
_REQUIRES = re.compile(r"^requires\b\s*(?P<versions>.*)$", re.IGNORECASE)


def normalize(text: str) -> str:
    """Text as checksummed and compared: no BOM, LF line endings.

    Only for checksums and diffs: the server gets the file's own text (a lone
    CR inside a string literal is data).
    """
    if text.startswith("\ufeff"):
        text = text[1:]
    return text.replace("\r\n", "\n").replace("\r", "\n")


def checksum(text: str) -> str:
    """SHA-256 (hex) of the normalized text, so a CRLF checkout is not a modification."""
    return hashlib.sha256(normalize(text).encode("utf-8")).hexdigest()


#: A file larger than this is *large*: checksummed as it is read, and its text is not
#: kept (see :attr:`SqlFile.large`). Below it, the text stays in memory for diffs.
LARGE_FILE_BYTES = 4 << 20
_READ_CHUNK = 1 << 20
_BOM = b"\xef\xbb\xbf"


@dataclass(frozen=True)
class SqlFile:
    """One file's text as it is on disk (less a BOM), with its checksum and directives.

    A large file (over :data:`LARGE_FILE_BYTES`) keeps no text: ``text`` is None,
    and :attr:`body` reads the file again each time it is asked for. ``apply``
    never asks: :mod:`sqlmig.migrations.datafile` streams such a file from disk.
    """

    path: Path
    # The file's text, its own line endings (in the executor, a template's rendering);
    # None for a large file. Read it as ``body``.
    text: str | None
    checksum: str
    directives: frozenset[str] = frozenset()
    #: ``-- sqlmig: requires 3, 5``: versions that must be applied before this one.
    requires: tuple[int, ...] = ()

    # A templated file (``-- sqlmig: template``), see :mod:`sqlmig.migrations.templates`:
    # ``rendered`` is what the server gets; the executor runs a copy whose ``text`` is
    # that and whose ``template`` is the file's own text (what the ledger stores).
    # ``secrets``: the variables' values, masked in whatever the file's run reports.
    rendered: str | None = field(default=None, compare=False, repr=False)
    template: str | None = field(default=None, compare=False, repr=False)
    secrets: tuple[str, ...] = field(default=(), compare=False, repr=False)

    @property
    def transactional(self) -> bool:
        return "no-transaction" not in self.directives

    @property
    def templated(self) -> bool:
        return "template" in self.directives

    @property
    def stored(self) -> str:
        """The file's own text: what the ledger stores, never a rendering."""
        return self.template if self.template is not None else self.body

    def for_server(self) -> SqlFile:
        """The file as it runs: its rendering as ``body`` (itself when not templated)."""
        if self.rendered is None:
            return self
        return replace(self, text=self.rendered, rendered=None, template=self.body)

    @property
    def large(self) -> bool:
        return self.text is None

    @property
    def body(self) -> str:
        """The file's text (less a BOM); a large file's is read from disk, whole."""
        if self.text is not None:
            return self.text
        with open(self.path, encoding="utf-8", newline="") as handle:
            text = handle.read()
        return text.removeprefix("\ufeff")


@dataclass(frozen=True)
class Script:
    """An up migration and, when present, its down file."""

    version: int
    name: str
    up: SqlFile
    down: SqlFile | None = field(default=None, compare=False)

    @property
    def filename(self) -> str:
        return self.up.path.name

    @property
    def checksum(self) -> str:
        return self.up.checksum

    @property
    def body(self) -> str:
        return self.up.body


def load_scripts(directory: Path) -> list[Script]:
    """All migrations in ``directory``, ordered by integer version.

    Files that do not end in ``.sql`` (any case), hidden files and
    subdirectories are ignored; every ``.sql`` file must fit the naming scheme
    and be readable: a dangling link or an unreadable file is an error, never
    a skip.
    """
    try:
        with os.scandir(directory) as listing:
            found = sorted((e.name, e.is_dir(), e.is_symlink()) for e in listing)
    except FileNotFoundError:
        raise ScriptError(
            f"migrations directory {directory} does not exist; "
            "create it, or point --dir / SQLMIG_DIR / [tool.sqlmig] dir at yours."
        ) from None
    except NotADirectoryError:
        raise ScriptError(
            f"{directory} is a file, not a migrations directory; "
            "point --dir / SQLMIG_DIR / [tool.sqlmig] dir at the folder that holds the files."
        ) from None
    except OSError as exc:
        raise ScriptError(
            f"cannot read the migrations directory {directory}: {exc.strerror}; "
            "fix its permissions (sqlmig needs to list and read it)."
        ) from None
    problems: list[str] = []
    ups: dict[int, list[tuple[str, Path]]] = {}
    downs: dict[int, list[tuple[str, Path]]] = {}
    for filename, is_dir, is_link in found:
        if filename.startswith(".") or not _SQL_SUFFIX.search(filename) or is_dir:
            continue  # subfolders are not migrations, whatever their name
        path = directory / filename
        if is_link and not path.exists():
            problems.append(
                f"{path}: a symbolic link to {path.readlink()}, which does not exist; "
                "restore its target or delete the link."
            )
            continue
        repeatable = REPEATABLE_NAME.match(filename)
        if repeatable is not None:  # loaded by repeatable.load; never a down file
            if repeatable["down"]:
                problems.append(
                    f"{path}: a repeatable migration has no down file (rollback leaves "
                    "repeatables alone); delete it, or fold the undo into the next R- file."
                )
            continue
        match = _NAME.match(path.name)
        if match is None or match["name"].lower() == "down":
            problems.append(
                f"{path}: the name does not fit <version>-<name>.sql or <version>_<name>.sql "
                "(e.g. 0007-add-users.sql); rename it, or move it out of the directory."
            )
            continue
        version = int(match["version"])
        if version > MAX_VERSION:
            problems.append(
                f"{path}: version {match['version']} is too large (at most {MAX_VERSION}, "
                "a bigint); use a shorter number, e.g. a timestamp like 20240101120000."
            )
            continue
        bucket = downs if match["down"] else ups
        bucket.setdefault(version, []).append((match["name"], path))

    for version, entries in sorted(ups.items()):
        if len(entries) > 1:
            names = ", ".join(str(p) for _, p in entries)
            problems.append(
                f"version {version} is used by more than one file: {names}; "
                "give each migration its own version (`sqlmig new NAME` picks the next one)."
            )
    for version, entries in sorted(downs.items()):
        if len(entries) > 1:
            names = ", ".join(str(p) for _, p in entries)
            problems.append(f"version {version} has more than one down file: {names}.")
        for name, path in entries:
            if not any(up_name == name for up_name, _ in ups.get(version, [])):
                expected = directory / (path.name.removesuffix(".down.sql") + ".sql")
                problems.append(
                    f"{path}: down file without its up file {expected}; "
                    "rename it to match its migration, or delete it."
                )

    scripts: list[Script] = []
    for version, entries in sorted(ups.items()):
        name, path = entries[0]
        up = _read(path, problems)
        down_path = next((p for n, p in downs.get(version, []) if n == name), None)
        down = _read(down_path, problems) if down_path else None
        if up is not None:
            scripts.append(Script(version, name, up, down))
    problems += _unmet_requirements(scripts)
    if problems:
        raise ScriptError(_join(problems))
    return scripts


def read_sql(path: Path, problems: list[str]) -> SqlFile | None:
    """One file as :func:`load_scripts` reads it (None, with a problem noted, when it cannot be)."""
    return _read(path, problems)


def join_problems(problems: list[str]) -> str:
    """Several problems as one :class:`ScriptError` message."""
    return _join(problems)


def _unmet_requirements(scripts: list[Script]) -> list[str]:
    """A required version with no file, or one ordered after its dependant, names both."""
    by_version = {s.version: s for s in scripts}
    problems = []
    for script in scripts:
        for needed in script.up.requires:
            other = by_version.get(needed)
            if other is None:
                problems.append(
                    f"{script.up.path}: requires version {needed}, but no migration file has "
                    "it; add that file, or fix the `-- sqlmig: requires` line."
                )
            elif needed >= script.version:
                problems.append(
                    f"{script.up.path}: requires {other.up.path}, which runs after it "
                    f"(version {needed} >= {script.version}); renumber one of them so the "
                    "requirement comes first."
                )
    return problems


def _read(path: Path, problems: list[str]) -> SqlFile | None:
    try:
        if path.stat().st_size > LARGE_FILE_BYTES:
            large = _read_large(path)
            if large is not None:
                return large  # else: read whole below, for the exact message
        with open(path, "rb") as handle:
            raw = handle.read()
    except OSError as exc:
        problems.append(
            f"{path}: cannot read it: {exc.strerror}; fix its permissions, "
            "or move it out of the directory."
        )
        return None
    try:
        text = raw.decode("utf-8")
    except UnicodeDecodeError as exc:
        line = raw.count(b"\n", 0, exc.start) + 1
        column = exc.start - (raw.rfind(b"\n", 0, exc.start) + 1) + 1
        problems.append(
            f"{path}:{line}:{column}: not valid UTF-8 (byte 0x{raw[exc.start]:02x}); "
            "save the file as UTF-8."
        )
        return None
    body = text.removeprefix("\ufeff")
    nul = body.find("\x00")
    if nul >= 0:
        line = body.count("\n", 0, nul) + 1
        column = nul - (body.rfind("\n", 0, nul) + 1) + 1
        problems.append(
            f"{path}:{line}:{column}: a NUL byte; PostgreSQL cannot take it in SQL text. "
            "Remove it (a binary file saved as .sql?)."
        )
        return None
    directives, requires = _directives(path, body, problems)
    return SqlFile(path, body, checksum(body), directives, requires)


def _read_large(path: Path) -> SqlFile | None:
    """A large file, checksummed chunk by chunk; None when it holds a NUL (the caller
    then reads it whole to say where).

    The checksum is :func:`checksum`'s, byte for byte: BOMs dropped as there, CRLF and
    CR made LF on bytes (CR and LF never occur inside a UTF-8 sequence). Its rows are
    not decoded here (that would double the cost of reading it): its SQL is decoded
    when it is scanned, its rows are checked by the server, as under psql.
    """
    digest = hashlib.sha256()
    head = b""
    carry = b""  # a CR at a chunk's end: LF may follow in the next
    with open(path, "rb") as handle:
        while chunk := handle.read(_READ_CHUNK):
            if not head:
                head = chunk
                for _ in range(2):  # _read drops one BOM, normalize() a second
                    chunk = chunk.removeprefix(_BOM)
            if b"\x00" in chunk:
                return None
            data = carry + chunk if carry else chunk
            carry = b""
            if b"\r" in data:
                if data.endswith(b"\r"):
                    data, carry = data[:-1], b"\r"
                data = data.replace(b"\r\n", b"\n").replace(b"\r", b"\n")
            digest.update(data)
    if carry:
        digest.update(b"\n")
    problems: list[str] = []
    lead = head.removeprefix(_BOM).decode("utf-8", errors="ignore")
    directives, requires = _directives(path, lead, problems)
    if problems:
        return None
    return SqlFile(path, None, digest.hexdigest(), directives, requires)


def _directives(
    path: Path, body: str, problems: list[str]
) -> tuple[frozenset[str], tuple[int, ...]]:
    """Directives (and required versions) from the leading comment block."""
    found: set[str] = set()
    requires: list[int] = []
    if "sqlmig:" not in body[: _LEADING.match(body).end()]:  # type: ignore[union-attr]
        return frozenset(), ()  # the common case, without splitting lines
    for number, line in enumerate(io.StringIO(body), start=1):
        stripped = line.strip()
        if not stripped:
            continue
        if not stripped.startswith("--"):
            break
        match = _DIRECTIVE.match(stripped)
        if match is None:
            continue
        if match["words"].lstrip().startswith("lint-ignore"):
            continue  # a waiver for `sqlmig lint`, which reads it itself
        needs = _REQUIRES.match(match["words"])
        if needs is not None:
            found.add("requires")
            items = [v for v in re.split(r"[\s,]+", needs["versions"]) if v]
            bad = [v for v in items if not v.isdigit()]
            if bad or not items:
                problems.append(
                    f"{path}:{number}: `-- sqlmig: requires` takes versions, e.g. "
                    f"`-- sqlmig: requires 3, 5`; not {needs['versions']!r}."
                )
            else:
                requires += [int(v) for v in items]
            continue
        for word in re.split(r"[\s,]+", match["words"]):
            if not word:
                continue
            if word not in KNOWN_DIRECTIVES:
                known = ", ".join(sorted(KNOWN_DIRECTIVES))
                problems.append(f"{path}:{number}: unknown directive {word!r}; known: {known}.")
            found.add(word)
    return frozenset(found), tuple(requires)


def _join(problems: list[str]) -> str:
    if len(problems) == 1:
        return problems[0] + " Nothing was applied."
    lines = "\n".join(f"  - {p}" for p in problems)
    return f"{len(problems)} problems with the migration files (nothing was applied):\n{lines}"
