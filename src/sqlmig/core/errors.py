"""One error hierarchy for the library; each error carries the CLI exit code.

No click here: the CLI catches :class:`SqlmigError` in one place and prints
``Error: <message>`` (or, in JSON, :meth:`SqlmigError.as_dict`). Messages are
complete sentences that say what to do next; structured fields ride along.

    SqlmigError
    ├── UsageError (2) ── ScriptError           bad arguments, configuration, files
    ├── PlanRefused (1)                         the ledger and the files disagree
    ├── MigrationFailed (1)                     a migration raised an error
    └── Unavailable (3)                         something needed is not there now
        ├── DatabaseUnavailable ── ConnectionLost
        ├── LockNotAcquired
        └── ProgressServerUnreachable
"""

from __future__ import annotations

from typing import Any


class SqlmigError(Exception):
    """Base class; ``exit_code`` follows DESIGN.md (1 failure, 2 usage, 3 unreachable)."""

    exit_code = 1
    #: The structured fields a subclass carries, in the order JSON shows them.
    fields: tuple[str, ...] = ()

    def as_dict(self) -> dict[str, Any]:
        """The error as data: message, exit code, kind and the class's own fields."""
        out: dict[str, Any] = {
            "error": str(self),
            "exit_code": self.exit_code,
            "kind": type(self).__name__,
        }
        out.update((name, getattr(self, name)) for name in self.fields)
        return out


class UsageError(SqlmigError):
    """Bad configuration or arguments."""

    exit_code = 2


class ScriptError(UsageError):
    """A migration file (or the set of them) is malformed; nothing has run."""


class Unavailable(SqlmigError):
    """Something sqlmig needs could not be reached or held; trying again later may work."""

    exit_code = 3


class DatabaseUnavailable(Unavailable):
    """The database could not be reached."""


class LockNotAcquired(Unavailable):
    """Another runner held the migration lock for longer than the lock timeout."""


class ProgressServerUnreachable(Unavailable):
    """`sqlmig serve` could not be reached (tasks watch)."""


class ConnectionLost(DatabaseUnavailable):
    """The connection broke while a migration ran; the message says what the database shows."""

    fields = ("path", "backend_pid", "transactional")

    def __init__(
        self,
        message: str,
        *,
        path: str = "",
        backend_pid: int = 0,
        transactional: bool = True,
        verb: str = "apply",
    ) -> None:
        super().__init__(message)
        self.path, self.backend_pid = path, backend_pid
        self.transactional, self.verb = transactional, verb


class PlanRefused(SqlmigError):
    """The ledger and the files disagree (modified, missing, failed, out of order)."""

    exit_code = 1


class MigrationFailed(SqlmigError):
    """A migration raised an error; its transaction (if any) was rolled back.

    The structured fields let callers (JSON output, editors) use the location.
    """

    exit_code = 1
    fields = ("path", "line", "column", "sqlstate", "server_message", "detail", "hint")

    def __init__(
        self,
        message: str,
        *,
        path: str = "",
        line: int = 0,
        column: int = 0,
        sqlstate: str | None = None,
        server_message: str = "",
        detail: str | None = None,
        hint: str | None = None,
    ) -> None:
        super().__init__(message)
        self.path, self.line, self.column = path, line, column
        self.sqlstate, self.server_message = sqlstate, server_message
        self.detail, self.hint = detail, hint
