"""Python source layout for the generated module: literals, docstrings, import blocks.

Everything here lays text out the way ``ruff format`` and ruff's isort rules
would, so a generated module passes ``ruff check`` and ``ruff format --check``
as written.
"""

from __future__ import annotations

import json
import textwrap

WIDTH = 100


def quote(text: str) -> str:
    """A double-quoted Python string literal (JSON escapes are valid Python escapes)."""
    return json.dumps(text, ensure_ascii=False)


def literal(value: object) -> str:
    """The Python literal of a JSON scalar: None, a bool, a number or a string."""
    if isinstance(value, str):
        return quote(value)
    return repr(value)


def split_string(literal: str, width: int) -> list[str]:
    """Split a quoted literal into implicitly concatenated chunks at spaces."""
    if len(literal) <= width:
        return [literal]
    text = json.loads(literal)
    chunks, current = [], ""
    for word in text.split(" "):
        candidate = f"{current} {word}" if current else word
        if current and len(quote(candidate + " ")) > width:
            chunks.append(current + " ")
            current = word
        else:
            current = candidate
    chunks.append(current)
    return [quote(c) for c in chunks]


def docstring(text: str, indent: int) -> list[str]:
    """Docstring lines (with quotes), wrapped, backslashes and quotes escaped.

    A quote at either end is padded with a space, as ruff format pads it: at the
    end it would otherwise close the docstring early.
    """
    text = text.replace("\\", "\\\\").replace('"""', '\\"\\"\\"').strip()
    pad = " " * indent
    width = WIDTH - indent - 3
    paragraphs = [
        textwrap.wrap(
            p,
            width,
            break_on_hyphens=False,
            initial_indent=" " if i == 0 and p.startswith('"') else "",
        )
        or [""]
        for i, p in enumerate(text.split("\n"))
    ]
    lines = [line for para in paragraphs for line in para]
    if len(lines) == 1 and lines[0].endswith('"'):
        lines[0] += " "
    if len(lines) == 1 and len(pad) + len(lines[0]) + 6 <= WIDTH:
        return [f'{pad}"""{lines[0]}"""']
    return [
        f'{pad}"""{lines[0].rstrip()}',
        *(f"{pad}{line}" if line else "" for line in lines[1:]),
        f'{pad}"""',
    ]


def sorted_imports(lines: set[str]) -> list[str]:
    """isort order (as ruff applies it): stdlib, then third party; plain imports first."""
    merged: dict[str, set[str]] = {}
    plain = set()
    for line in lines:
        if line.startswith("import "):
            plain.add(line)
        else:
            module, names = line[5:].split(" import ")
            merged.setdefault(module, set()).update(n.strip() for n in names.split(","))
    stdlib = sorted(plain) + [
        f"from {m} import {', '.join(sorted(merged[m], key=isort_key))}"
        for m in sorted(merged)
        if m != "pydantic"
    ]
    if "pydantic" not in merged:  # a schema without tables: no models
        return [_wrap_import(line) for line in stdlib]
    third = [f"from pydantic import {', '.join(sorted(merged['pydantic'], key=isort_key))}"]
    return [_wrap_import(line) for line in (*stdlib, "", *third)]


def isort_key(name: str) -> tuple[int, str]:
    """isort's force-sort-within-sections order of imported names: CONSTANTS, Classes, others."""
    if name.isupper() and len(name) > 1:
        return (0, name)
    return (1, name) if name[:1].isupper() else (2, name)


def _wrap_import(line: str) -> str:
    if len(line) <= WIDTH:
        return line
    head, names = line.split(" import ")
    body = "".join(f"    {name},\n" for name in names.split(", "))
    return f"{head} import (\n{body})"
