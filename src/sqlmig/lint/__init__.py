"""Lint: migration hazards found with PostgreSQL's own parser, before anything runs.

    api.py ─▶ engine.py (waivers.py, config.py) ─▶ ddl.py + style.py + plpgsql.py
                      (nodes.py reads the tree; context.py is what they share)
           ─▶ formats.py: text, json, github, sarif; rules.py is the catalogue

The library API (:mod:`sqlmig.lint.api`) is re-exported here, imported on first use::

    from sqlmig import lint
    result = lint.lint_files([Path("migrations/0007-add-index.sql")])
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    from sqlmig.lint.api import LintResult, lint_all, lint_files, lint_pending, read_source

__all__ = ["LintResult", "lint_all", "lint_files", "lint_pending", "read_source"]


def __getattr__(name: str) -> Any:
    if name in __all__:
        from sqlmig.lint import api

        return getattr(api, name)
    raise AttributeError(f"module {__name__!r} has no attribute {name!r}")
