"""Two snapshots ─▶ a list of differences, one line each, expected (the files) first.

    missing    in the files' schema, not in the database
    extra      in the database, not in the files' schema
    differs    both have it; one attribute differs (``default 0 -> 5``)

An object whose table (or domain) is itself missing or extra is not listed again.
A ``definition`` (the server's full deparse) is reported only when none of the
attributes drawn from it differ, so one hand change is one line.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any, Literal

from sqlmig.schemadiff._normalise import same_query
from sqlmig.schemadiff.catalog import KINDS, Attributes, Snapshot

Change = Literal["missing", "extra", "differs"]

#: List attributes, compared item by item (``extra label 'WAITING'``).
_ITEMS = {"labels": "label", "attributes": "attribute", "grants": "grant"}
#: Expressions and text: "differs", with both values when they are short.
_TEXT = {
    "definition", "predicate", "body", "using", "with check", "generated", "bound",
    "partition key", "columns", "include", "comment", "arguments", "returns", "settings",
}  # fmt: skip
#: Attributes read out of the definition: when one differs, the definition is not repeated.
_FROM_DEFINITION = {
    "index": {
        "table",
        "constraint",
        "method",
        "unique",
        "columns",
        "include",
        "predicate",
        "valid",
    },
    "constraint": {"type", "references", "on update", "on delete", "validated", "deferrable"},
    "domain constraint": {"validated"},
    "trigger": {"timing", "events", "level", "function"},
}
_CHILDREN = {"column", "constraint", "trigger", "policy"}
_RELATIONS = ("table", "view", "materialized view")
_SHORT = 72
#: PostgreSQL 17 added the MAINTAIN privilege; an older server cannot have it.
_NEW_PRIVILEGES = ("MAINTAIN ",)


@dataclass(frozen=True)
class Difference:
    kind: str
    name: str
    change: Change
    attribute: str | None = None
    expected: Any = None
    actual: Any = None
    line: str = ""

    def as_dict(self) -> dict[str, Any]:
        return {
            "kind": self.kind,
            "name": self.name,
            "change": self.change,
            "attribute": self.attribute,
            "expected": self.expected,
            "actual": self.actual,
            "line": self.line,
        }


@dataclass(frozen=True)
class Unsupported:
    """An object of a kind drift does not compare, present in both databases."""

    kind: str
    name: str

    @property
    def line(self) -> str:
        return f"{self.kind} {self.name}: unsupported object kind, present in both, not compared"

    def as_dict(self) -> dict[str, Any]:
        return {"kind": self.kind, "name": self.name, "line": self.line}


def compare(expected: Snapshot, actual: Snapshot) -> list[Difference]:
    """Every difference between the files' schema (``expected``) and the database's."""
    out: list[Difference] = []
    gone: set[tuple[str, str]] = set()  # missing or extra: their children are not listed
    for kind in KINDS:
        want, have = expected.objects.get(kind, {}), actual.objects.get(kind, {})
        for name in sorted(want.keys() | have.keys()):
            if gone.intersection(_parents(kind, name, want.get(name) or have.get(name) or {})):
                gone.add((kind, name))  # and so are its own children (a constraint's index)
                continue
            if name not in have:
                out.append(_whole(kind, name, "missing"))
            elif name not in want:
                out.append(_whole(kind, name, "extra"))
            else:
                out += _attributes(kind, name, want[name], have[name], expected, actual)
                continue
            gone.add((kind, name))
    for kind, name in sorted(expected.unsupported ^ actual.unsupported):
        out.append(
            _whole(kind, name, "missing" if (kind, name) in expected.unsupported else "extra")
        )
    return out


def unsupported_in_both(expected: Snapshot, actual: Snapshot) -> list[Unsupported]:
    return [Unsupported(k, n) for k, n in sorted(expected.unsupported & actual.unsupported)]


def _parents(kind: str, name: str, attributes: Attributes) -> list[tuple[str, str]]:
    """What ``name`` belongs to: ``public.t.c`` to table (or view) ``public.t``."""
    if kind == "index":  # a constraint's index belongs to the constraint
        if attributes.get("constraint"):
            return [("constraint", str(attributes["constraint"]))]
        return [(k, str(attributes.get("table"))) for k in _RELATIONS]
    if kind == "domain constraint":
        return [("domain", name.rsplit(".", 1)[0])]
    if kind in _CHILDREN:
        return [(k, name.rsplit(".", 1)[0]) for k in _RELATIONS]
    return []


def _whole(kind: str, name: str, change: Change) -> Difference:
    return Difference(kind, name, change, line=f"{kind} {name}: {change}")


def _attributes(
    kind: str, name: str, want: Attributes, have: Attributes, expected: Snapshot, actual: Snapshot
) -> list[Difference]:
    if expected.server_major != actual.server_major and "grants" in want and "grants" in have:
        want, have = dict(want), dict(have)
        want["grants"], have["grants"] = (
            [g for g in side["grants"] if not g.startswith(_NEW_PRIVILEGES)]
            for side in (want, have)
        )
    found: list[Difference] = []
    for attribute in want.keys() | have.keys():
        a, b = want.get(attribute), have.get(attribute)
        if a == b or (
            attribute == "definition"
            and kind in ("view", "materialized view")
            and expected.server_major != actual.server_major
            and same_query(str(a), str(b))
        ):
            continue
        if attribute in _ITEMS:
            found += _items(kind, name, attribute, list(a or []), list(b or []))
        else:
            found.append(_one(kind, name, attribute, a, b))
    if any(d.attribute in _FROM_DEFINITION.get(kind, ()) for d in found):
        found = [d for d in found if d.attribute != "definition"]
    order = list(want) + [k for k in have if k not in want]
    return sorted(found, key=lambda d: (order.index(d.attribute or ""), d.line))


def _one(kind: str, name: str, attribute: str, a: Any, b: Any) -> Difference:
    what = f"{attribute} differs" if attribute in _TEXT else attribute
    if _short(a) and _short(b):
        sep = ": " if attribute in _TEXT else " "
        what += f"{sep}{_show(a)} -> {_show(b)}"
    return Difference(kind, name, "differs", attribute, a, b, f"{kind} {name}: {what}")


def _items(kind: str, name: str, attribute: str, a: list[Any], b: list[Any]) -> list[Difference]:
    word = _ITEMS[attribute]
    quote = (lambda s: f"'{s}'") if attribute == "labels" else str
    out = [
        Difference(kind, name, "differs", attribute, item, None,
                   f"{kind} {name}: missing {word} {quote(item)}")
        for item in a if item not in b
    ] + [
        Difference(kind, name, "differs", attribute, None, item,
                   f"{kind} {name}: extra {word} {quote(item)}")
        for item in b if item not in a
    ]  # fmt: skip
    if not out:  # the same items in another order
        shown = ", ".join(map(quote, a)), ", ".join(map(quote, b))
        line = f"{kind} {name}: {word} order differs: {shown[0]} -> {shown[1]}"
        out.append(Difference(kind, name, "differs", attribute, a, b, line))
    return out


def _short(value: Any) -> bool:
    return value is None or ("\n" not in str(value) and len(str(value)) <= _SHORT)


def _show(value: Any) -> str:
    return "none" if value is None else str(value).strip()
