"""Models: Pydantic v2 modules generated from the live schema, and checked against it.

    introspect.py ─▶ schema.py (the model of a schema; JSON) ─▶ naming.py, typemap.py,
        defaults.py ─▶ codegen.py (_pysource.py, templates/) ─▶ a module
    drift.py: an imported module vs the schema

The library API (:mod:`sqlmig.models.api`) is re-exported here, imported on first use::

    from sqlmig import models
    models.generate(settings, out)
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    from sqlmig.models.api import check, generate, read_schema

__all__ = ["check", "generate", "read_schema"]


def __getattr__(name: str) -> Any:
    if name in __all__:
        from sqlmig.models import api

        return getattr(api, name)
    raise AttributeError(f"module {__name__!r} has no attribute {name!r}")
