"""Fixtures: an empty migrations folder, and the CLI run in-process against the test database.

mig_dir     an empty migrations folder; write files with ``write(name, text)``
sqlmig      ``sqlmig(*args)``: the CLI with ``--dsn`` (the test's database) and ``--dir`` set
"""

from __future__ import annotations

from pathlib import Path

import pytest
from support.folders import MigDir


@pytest.fixture
def mig_dir(tmp_path: Path) -> MigDir:
    folder = tmp_path / "migrations"
    folder.mkdir()
    return MigDir(folder)


@pytest.fixture
def sqlmig(dsn: str, mig_dir: MigDir):  # type: ignore[no-untyped-def]
    """Run the CLI in-process against the fresh database and the temp folder."""
    from click.testing import CliRunner

    from sqlmig.cli import cli

    def run(*args: str, dsn_: str | None = None):  # type: ignore[no-untyped-def]
        return CliRunner().invoke(
            cli, ["--dsn", dsn_ or dsn, "--dir", str(mig_dir), *args], catch_exceptions=False
        )

    return run
