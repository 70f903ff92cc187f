"""The README's command reference, generated from `--help` (run through cog).

python -m cogapp -r README.md        # regenerate after changing a command
python -m cogapp --check README.md   # what scripts/test runs: fails when stale
"""

from __future__ import annotations

import sys
from collections.abc import Iterator
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent


def commands() -> Iterator[tuple[str, str]]:
    """(``sqlmig a b``, its --help text) for every command, nested ones included."""
    sys.path.insert(0, str(ROOT / "src"))
    import click

    from sqlmig.cli import cli

    def walk(group: click.Group, ctx: click.Context, prefix: str) -> Iterator[tuple[str, str]]:
        for name in group.list_commands(ctx):
            command = group.get_command(ctx, name)
            assert command is not None
            sub = click.Context(command, info_name=name, parent=ctx, terminal_width=80)
            yield f"{prefix} {name}", command.get_help(sub)
            if isinstance(command, click.Group):
                yield from walk(command, sub, f"{prefix} {name}")

    root = click.Context(cli, info_name="sqlmig", terminal_width=80, **cli.context_settings)
    yield "sqlmig", cli.get_help(root)
    yield from walk(cli, root, "sqlmig")


def render() -> str:
    out = []
    for name, text in commands():
        out += [f"#### `{name}`", "", "```text", text.rstrip(), "```", ""]
    return "\n".join(out)


if __name__ == "__main__":
    print(render())
