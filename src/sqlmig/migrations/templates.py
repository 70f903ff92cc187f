"""Templated migrations (``-- sqlmig: template``): jinja2, rendered only to run.

    files (the template text: checksum, ledger, history, diffs, --dry-run)
        ─▶ render(scripts, variables)   syntax, then every missing variable with its
        |                               line, for every file about to run, before any runs
        ─▶ SqlFile.rendered ─▶ executor (SqlFile.for_server(): the rendering runs)
        ─▶ location / excerpt / mask    what a failure reports: the file's line and column,
                                        the template's lines, the values masked

Only files with the directive are rendered; jinja2 is imported on the first one.
The environment is sandboxed, with StrictUndefined, no autoescape, and keeps
the file's trailing newline and line endings; the filters ``literal`` and
``identifier`` quote a value as psycopg.sql does. Every variable's value counts as
a secret (values shorter than :data:`~sqlmig.core.redact.MIN_SECRET` are masked
by structure only, as passwords are: masking ``on`` everywhere would hide
nothing and garble every message).

Lines: jinja2 keeps every line of the template unless a value holds a newline
or a block drops or repeats lines (``{% if %}``, ``{% for %}``). While the
rendering has as many lines as the file, a server's position maps to the
file's own line, and its column through the line's rendering; otherwise the
location is the rendering's, and the message says so.
"""

from __future__ import annotations

import difflib
import re
import sys
from collections.abc import Mapping, Sequence
from dataclasses import replace
from pathlib import Path
from types import TracebackType
from typing import TYPE_CHECKING, Literal

from sqlmig.core.config import VAR_PREFIX
from sqlmig.core.errors import ScriptError
from sqlmig.core.paths import display_path
from sqlmig.core.redact import MIN_SECRET, redact
from sqlmig.migrations import statements as stmts
from sqlmig.migrations.files import Script, SqlFile
from sqlmig.migrations.files import _directives as _read_directives

if TYPE_CHECKING:
    from jinja2.sandbox import SandboxedEnvironment

_TAGS = re.compile(r"\{\{.*?\}\}|\{%.*?%\}|\{#.*?#\}")
_TEMPLATE_NAME = "<template>"  # jinja2's name for a template from a string


def secrets_of(variables: Mapping[str, str]) -> tuple[str, ...]:
    """Every value (and its spelling inside an SQL literal) long enough to mask by value."""
    found = []
    for value in variables.values():
        if len(value) >= MIN_SECRET:
            # as written, in a literal (also the literal filter's), in an identifier
            found += [value, value.replace("'", "''"), value.replace('"', '""')]
            found.append(_literal(value).removeprefix("E").strip("'"))
    return tuple(dict.fromkeys(found))


def render(
    scripts: Sequence[Script],
    variables: Mapping[str, str],
    *,
    part: Literal["up", "down"] = "up",
) -> list[Script]:
    """``scripts`` with their templated up (or down) files rendered.

    Raises ScriptError naming every problem (syntax, each missing variable with its
    line, a failed rendering) of every file, before any runs.
    """
    problems: list[str] = []
    out = []
    secrets = secrets_of(variables)
    for script in scripts:
        file = script.up if part == "up" else script.down
        if file is None or not file.templated:
            out.append(script)
            continue
        rendered = _render(file, variables, secrets, problems)
        if rendered is not None:
            done = replace(file, rendered=rendered, secrets=secrets)
            script = replace(script, up=done) if part == "up" else replace(script, down=done)
        out.append(script)
    if problems:
        if len(problems) == 1:
            raise ScriptError(problems[0] + " Nothing was applied.")
        lines = "\n".join(f"  - {p}" for p in problems)
        raise ScriptError(
            f"{len(problems)} problems with templated files (nothing was applied):\n{lines}"
        )
    return out


def _environment() -> SandboxedEnvironment:
    from jinja2 import StrictUndefined
    from jinja2.sandbox import SandboxedEnvironment

    env = SandboxedEnvironment(
        undefined=StrictUndefined, keep_trailing_newline=True, autoescape=False
    )
    env.filters["literal"] = _literal
    env.filters["identifier"] = _identifier
    return env


def _literal(value: object) -> str:
    """``{{ v | literal }}``: an SQL string literal, quotes and backslashes escaped."""
    from psycopg import sql

    return sql.Literal(str(value)).as_string(None)


def _identifier(value: object) -> str:
    """``{{ v | identifier }}``: a quoted SQL identifier."""
    from psycopg import sql

    return sql.Identifier(str(value)).as_string(None)


def _render(
    file: SqlFile, variables: Mapping[str, str], secrets: tuple[str, ...], problems: list[str]
) -> str | None:
    from jinja2 import TemplateError, TemplateSyntaxError, meta, nodes

    env = _environment()
    env.newline_sequence = "\r\n" if "\r\n" in file.body else "\n"
    path = display_path(file.path)
    try:
        tree = env.parse(file.body, filename=_TEMPLATE_NAME)
    except TemplateSyntaxError as exc:
        problems.append(f"{path}:{exc.lineno}: template syntax error: {exc.message}.")
        return None
    missing = meta.find_undeclared_variables(tree) - set(variables) - set(env.globals)
    if missing:
        first: dict[str, int] = {}
        for node in tree.find_all(nodes.Name):
            if node.ctx == "load" and node.name in missing:
                first.setdefault(node.name, node.lineno)
        for name, line in sorted(first.items(), key=lambda item: (item[1], item[0])):
            problems.append(
                f"{path}:{line}: template variable {name!r} is not set; set "
                f"{VAR_PREFIX}{name.upper()} or add {name} to [tool.sqlmig.vars]."
            )
        return None
    try:
        return env.from_string(tree).render(dict(variables))
    except (TemplateError, ArithmeticError, LookupError, TypeError, ValueError) as exc:
        line = _line_of(sys.exc_info()[2])
        where = f"{path}:{line}" if line else path
        reason = redact(str(exc) or type(exc).__name__, secrets)
        problems.append(f"{where}: the template failed to render: {reason}.")
        return None


def _line_of(tb: TracebackType | None) -> int:
    """The template line jinja2's rewritten traceback points at (0: unknown)."""
    line = 0
    while tb is not None:
        if tb.tb_frame.f_code.co_filename == _TEMPLATE_NAME:
            line = tb.tb_lineno
        tb = tb.tb_next
    return line


def aligned(file: SqlFile) -> bool:
    """Has the rendering of a running file as many lines as the file?"""
    if file.template is None:
        return True
    return _lines(file.template) == _lines(file.body)


def _lines(text: str) -> int:
    return len(text.replace("\r\n", "\n").replace("\r", "\n").split("\n"))


def location(file: SqlFile, offset: int) -> tuple[int, int]:
    """``offset`` in what ran -> (line, column) in the file (in the rendering if unaligned)."""
    line, column = stmts.line_column(file.body, offset)
    if file.template is None or not aligned(file):
        return line, column
    shown, ran = _line(file.template, line), _line(file.body, line)
    if shown == ran:
        return line, column
    at, index = column - 1, min(column - 1, len(shown))
    for tag, i1, _i2, j1, j2 in difflib.SequenceMatcher(None, shown, ran, False).get_opcodes():
        if j1 <= at < j2 or (at == j2 == len(ran)):
            index = i1 + (at - j1) if tag == "equal" else i1
            break
    # Within an expression (a letter of a value may match one of its name): its start.
    for tag_span in _TAGS.finditer(shown):
        if tag_span.start() <= index < tag_span.end():
            return line, tag_span.start() + 1
    return line, index + 1


def _line(text: str, number: int) -> str:
    lines = text.replace("\r\n", "\n").replace("\r", "\n").split("\n")
    return lines[number - 1] if 0 < number <= len(lines) else ""


def excerpt(file: SqlFile, line: int, column: int) -> str:
    """The lines around ``line``: the template's own when aligned, else the masked rendering."""
    if file.template is None:
        return stmts.excerpt(file.body, line, column)
    if aligned(file):
        return stmts.excerpt(file.template, line, column)
    return mask(file, stmts.excerpt(file.body, line, column)) + (
        "\n  (lines of the rendered template: its blocks or values changed the line count)"
    )


def mask(file: SqlFile, text: str) -> str:
    """``text`` with the values of a templated file's variables masked."""
    return redact(text, file.secrets) if file.secrets and text else text


def lint_view(path: Path, body: str) -> str:
    """A file as the linter reads it: a template rendered with each variable shown as
    its own name (``'{{ app_password }}'`` reads ``'app_password'``), so the SQL around
    the values is linted without them; any other file, and a template jinja2 cannot
    read (apply names that problem), as it is."""
    directives, _ = _read_directives(path, body, [])
    if "template" not in directives:
        return body
    from jinja2 import TemplateError, Undefined

    class _Named(Undefined):
        def __str__(self) -> str:
            return str(self._undefined_name)

    env = _environment()
    env.undefined = _Named
    try:
        return env.from_string(body).render()
    except (TemplateError, ArithmeticError, LookupError, TypeError, ValueError):
        return body
