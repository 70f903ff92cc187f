"""Shared fixtures are plug-in modules in tests/plugins/; helpers are in tests/support/."""

pytest_plugins = ["plugins.servers", "plugins.cli", "plugins.secrets"]
