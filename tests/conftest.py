"""Shared fixtures are plug-in modules in tests/plugins/; helpers are in tests/support/."""

from __future__ import annotations

import os
import shutil
import tempfile
from pathlib import Path

import pytest

pytest_plugins = ["plugins.servers", "plugins.cli", "plugins.secrets"]

_SHORT_BASETEMP = pytest.StashKey[Path]()


@pytest.hookimpl(tryfirst=True)  # before pytest-xdist turns -n into workers
def pytest_cmdline_main(config: pytest.Config) -> None:
    # Workers share an external server (SQLMIG_TEST_DSN): some tests count its sessions.
    if os.environ.get("SQLMIG_TEST_DSN") and config.pluginmanager.hasplugin("xdist"):
        config.option.numprocesses = 0


@pytest.hookimpl(tryfirst=True)  # before pytest's tmpdir plugin reads --basetemp
def pytest_configure(config: pytest.Config) -> None:
    # pytest-xdist gives workers <basetemp>/popen-gwN: ten characters more than a plain run,
    # enough to push a Unix socket in a tmp_path (the embedded server's, .../.sqlmig/pgdata)
    # past its 107-byte limit. A short base of our own keeps paths as long as without xdist.
    if hasattr(config, "workerinput") or config.option.basetemp:
        return
    if config.pluginmanager.hasplugin("xdist") and config.getoption("numprocesses", None):
        base = Path(tempfile.mkdtemp(prefix="sqlmig-t"))
        config.option.basetemp = str(base)
        config.stash[_SHORT_BASETEMP] = base


def pytest_sessionfinish(session: pytest.Session, exitstatus: int) -> None:
    # Like pytest's own temp folders, keep a failed run's for inspection; drop a green one's.
    base = session.config.stash.get(_SHORT_BASETEMP, None)
    if base is not None and exitstatus == 0:
        session.config.add_cleanup(lambda: shutil.rmtree(base, ignore_errors=True))


@pytest.hookimpl(tryfirst=True)  # before -m deselects
def pytest_collection_modifyitems(items: list[pytest.Item]) -> None:
    """``@pytest.mark.slow(fast_subset=[...])`` on a parametrized test function: the variants
    with one of those parameter values stay in the fast subset (``-m "not slow"``) as its
    representatives; the other variants run in the full run only."""
    for item in items:
        callspec = getattr(item, "callspec", None)
        if callspec is None:
            continue
        item.own_markers = [
            mark
            for mark in item.own_markers
            if not (
                mark.name == "slow"
                and any(v in mark.kwargs.get("fast_subset", ()) for v in callspec.params.values())
            )
        ]
