"""Fixture plug-ins, registered by tests/conftest.py (pytest_plugins)."""
