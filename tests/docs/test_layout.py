"""The shape of the package, read from the source: layers, no cycles, no private reach-ins.

    cli  ─▶  migrations · models · progress  ─▶  core

Every ``import`` counts, also those inside functions (lazy imports still run)
and under ``TYPE_CHECKING`` (they still tie two modules together).
"""

from __future__ import annotations

import ast
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[2]
SRC = ROOT / "src"
PACKAGE = SRC / "sqlmig"
LAYER = {
    "core": 0,
    "migrations": 1,
    "models": 1,
    "progress": 1,
    "lint": 1,
    "schemadiff": 1,
    "fleet": 1,
    "cli": 2,
}
MAX_LINES = 400


def _name(path: Path) -> str:
    parts = list(path.relative_to(SRC).with_suffix("").parts)
    if parts[-1] == "__init__":
        parts.pop()
    return ".".join(parts)


MODULES = {_name(p): p for p in sorted(PACKAGE.rglob("*.py"))}


def _imports(path: Path) -> list[tuple[str, str | None, int]]:
    """(module, imported name or None, line) for each sqlmig import in ``path``."""
    found: list[tuple[str, str | None, int]] = []
    for node in ast.walk(ast.parse(path.read_text(), str(path))):
        if isinstance(node, ast.Import):
            found += [
                (a.name, None, node.lineno) for a in node.names if a.name.startswith("sqlmig")
            ]
        elif isinstance(node, ast.ImportFrom) and node.module and node.level == 0:
            if node.module.startswith("sqlmig"):
                found += [(node.module, a.name, node.lineno) for a in node.names]
        elif isinstance(node, ast.ImportFrom) and node.level:
            pytest.fail(f"{path}:{node.lineno}: relative import; write it absolute")
    return found


def _targets(module: str, name: str | None) -> list[str]:
    """The sqlmig modules an import statement loads (a name may be a submodule)."""
    if name is not None and f"{module}.{name}" in MODULES:
        return [f"{module}.{name}"]
    return [module]


def _capability(module: str) -> str | None:
    parts = module.split(".")
    return parts[1] if len(parts) > 1 and parts[1] in LAYER else None


def _private(name: str) -> bool:
    return name.startswith("_") and not (name.startswith("__") and name.endswith("__"))


def _graph() -> dict[str, set[str]]:
    return {
        mod: {t for m, n, _ in _imports(path) for t in _targets(m, n) if t != mod}
        for mod, path in MODULES.items()
    }


def test_imports_point_one_way():
    wrong = []
    for mod, path in MODULES.items():
        here = _capability(mod)
        for module, name, line in _imports(path):
            for target in _targets(module, name):
                there = _capability(target)
                if here is None or there is None:
                    continue
                if LAYER[there] > LAYER[here]:
                    wrong.append(f"{path.relative_to(ROOT)}:{line}: {here} imports {target}")
    assert wrong == [], "cli -> capabilities -> core only:\n" + "\n".join(wrong)


def test_no_import_cycles():
    graph = _graph()
    cycles: list[list[str]] = []
    state: dict[str, int] = {}  # 1 on the stack, 2 done

    def visit(mod: str, stack: list[str]) -> None:
        state[mod] = 1
        stack.append(mod)
        for nxt in sorted(graph.get(mod, ())):
            if state.get(nxt) == 1:
                cycles.append([*stack[stack.index(nxt) :], nxt])
            elif nxt not in state:
                visit(nxt, stack)
        stack.pop()
        state[mod] = 2

    for mod in sorted(graph):
        if mod not in state:
            visit(mod, [])
    assert cycles == [], "import cycles:\n" + "\n".join(" -> ".join(c) for c in cycles)


def test_no_private_names_across_capabilities():
    wrong = []
    for mod, path in MODULES.items():
        here = _capability(mod)
        for module, name, line in _imports(path):
            there = _capability(module)
            private = any(_private(p) for p in module.split(".")[1:]) or (
                name is not None and _private(name)
            )
            if private and there != here:
                wrong.append(f"{path.relative_to(ROOT)}:{line}: {module} {name or ''}")
    assert wrong == [], "private names used from another capability:\n" + "\n".join(wrong)


def test_tests_use_public_names_only():
    wrong = []
    for path in sorted((ROOT / "tests").rglob("*.py")):
        for module, name, line in _imports(path):
            parts = [*module.split("."), *([name] if name else [])]
            if any(_private(p) for p in parts):
                wrong.append(f"{path.relative_to(ROOT)}:{line}: {module} {name or ''}")
    assert wrong == [], "tests import private names:\n" + "\n".join(wrong)


def test_no_module_is_over_the_size_limit():
    sizes = {mod: len(path.read_text().splitlines()) for mod, path in MODULES.items()}
    assert {m: n for m, n in sizes.items() if n > MAX_LINES} == {}


def test_the_checker_sees_what_it_should():
    # Guards against a test that cannot fail: the graph is non-trivial and layered.
    graph = _graph()
    assert "sqlmig.core.errors" in graph["sqlmig.migrations.executor"]
    assert "sqlmig.migrations.api" in graph["sqlmig.migrations"]  # lazy, inside __getattr__
    assert _capability("sqlmig.cli.root") == "cli" and _capability("sqlmig") is None


@pytest.mark.parametrize(
    "package",
    [
        "sqlmig.migrations",
        "sqlmig.models",
        "sqlmig.progress",
        "sqlmig.lint",
        "sqlmig.schemadiff",
        "sqlmig.fleet",
    ],
)
def test_each_public_api_name_resolves(package):
    import importlib

    module = importlib.import_module(package)
    assert module.__all__
    for name in module.__all__:
        assert getattr(module, name) is not None, f"{package}.{name}"


def test_every_package_is_in_a_layer():
    packages = {p.name for p in PACKAGE.iterdir() if (p / "__init__.py").is_file()}
    assert packages <= set(LAYER), f"add {packages - set(LAYER)} to LAYER"
