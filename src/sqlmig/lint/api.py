"""The library API behind ``sqlmig lint``: which files, read how, linted as one run.

    lint_files(paths)        the files as given, no database
    lint_all(settings)       every migration in the directory (repeatables after), no database
    lint_pending(settings)   what `status` calls pending or out-of-order, and the repeatables
                             apply would run (connects: applied files are history)

Each returns a :class:`LintResult`; rendering is :mod:`sqlmig.lint.formats`.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass, replace
from pathlib import Path

from sqlmig.core.config import Settings
from sqlmig.core.errors import UsageError
from sqlmig.lint import config as lint_config
from sqlmig.lint.config import LintConfig
from sqlmig.lint.engine import Finding, Source, lint_run
from sqlmig.lint.rules import ERROR

__all__ = ["LintResult", "lint_all", "lint_files", "lint_pending", "read_source"]


@dataclass(frozen=True)
class LintResult:
    files: tuple[Path, ...]
    findings: tuple[Finding, ...]

    @property
    def failed(self) -> bool:
        """An error-severity finding remains (exit 1)."""
        return any(f.severity == ERROR for f in self.findings)


def read_source(path: Path) -> Source:
    """A file as sqlmig runs it: UTF-8, BOM dropped; unreadable text is a finding."""
    try:
        raw = path.read_bytes()
    except FileNotFoundError:
        raise UsageError(f"{path}: no such file.") from None
    except IsADirectoryError:
        raise UsageError(f"{path} is a directory; name its .sql files.") from None
    except OSError as exc:
        raise UsageError(f"{path}: cannot read it: {exc.strerror}.") from None
    try:
        body = raw.decode("utf-8").removeprefix("\ufeff")
    except UnicodeDecodeError as exc:
        line = raw.count(b"\n", 0, exc.start) + 1
        column = exc.start - (raw.rfind(b"\n", 0, exc.start) + 1) + 1
        message = f"not valid UTF-8 (byte 0x{raw[exc.start]:02x}); save the file as UTF-8"
        return Source(path, "", (line, column, message))
    return Source(path, body)


def lint_files(paths: Sequence[Path], config: LintConfig | None = None) -> LintResult:
    """Lint ``paths`` in the order given (a table an earlier one creates is new in later ones)."""
    sources = [read_source(p) for p in paths]
    return _lint(sources, config)


def lint_all(settings: Settings, config: LintConfig | None = None) -> LintResult:
    """Every up migration of the directory, in version order, without connecting."""
    from sqlmig.migrations.files import load_scripts
    from sqlmig.migrations.repeatable import load

    scripts = load_scripts(settings.directory)
    files = [*scripts, *load(settings.directory, scripts)]  # repeatables after, as they run
    return _lint([Source(s.up.path, s.up.body) for s in files], config or _config(settings))


def lint_pending(settings: Settings, config: LintConfig | None = None) -> LintResult:
    """The files not applied yet, as `status` sees them (connects to read the ledger)."""
    from sqlmig.migrations import status

    plan = status(settings)
    files = [*plan.to_apply(), *(e.repeatable for e in plan.repeatables_to_run() if e.repeatable)]
    return _lint([Source(s.up.path, s.up.body) for s in files], config or _config(settings))


def _config(settings: Settings) -> LintConfig:
    return lint_config.load(settings.project_root)


def _lint(sources: list[Source], config: LintConfig | None) -> LintResult:
    from sqlmig.migrations.templates import lint_view

    config = config or lint_config.load(Path.cwd())
    # A templated file is linted as SQL, its variables standing in as their names.
    sources = [replace(s, body=lint_view(s.path, s.body)) if s.body else s for s in sources]
    findings = lint_run(sources, config)
    return LintResult(tuple(s.path for s in sources), tuple(findings))
