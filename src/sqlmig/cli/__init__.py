"""The ``sqlmig`` command line: a thin layer over the library API of each capability."""

from sqlmig.cli.root import cli, main

__all__ = ["cli", "main"]
