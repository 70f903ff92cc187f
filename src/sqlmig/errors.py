"""One error hierarchy for the library; each error carries the CLI exit code.

No click here: the CLI catches :class:`SqlmigError` in one place and prints
``Error: <message>``. Messages are complete sentences that say what to do next.
"""

from __future__ import annotations


class SqlmigError(Exception):
    """Base class; ``exit_code`` follows DESIGN.md (1 failure, 2 usage, 3 unreachable)."""

    exit_code = 1


class UsageError(SqlmigError):
    """Bad configuration or arguments."""

    exit_code = 2


class ScriptError(UsageError):
    """A migration file (or the set of them) is malformed; nothing has run."""


class DatabaseUnavailable(SqlmigError):
    """The database could not be reached, or the migration lock was not acquired."""

    exit_code = 3


class LockNotAcquired(DatabaseUnavailable):
    """Another runner held the migration lock for longer than the lock timeout."""


class ConnectionLost(DatabaseUnavailable):
    """The connection broke while a migration ran; the message says what the database shows."""

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


class CheckFailed(SqlmigError):
    """A check (verify, models check) found problems."""

    exit_code = 1
