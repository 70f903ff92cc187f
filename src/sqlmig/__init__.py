"""sqlmig: plain-SQL PostgreSQL migrations with checksums, locks and exact error locations.

The library API lives in :mod:`sqlmig.migrations.api` (``apply``, ``status``, ``verify``,
``rollback``, ``baseline``, ``repair``, ``new_script``) with settings from
:func:`sqlmig.core.config.resolve`. This module stays import-light for CLI start-up.
"""

__version__ = "0.1.0"
