"""What one ``sqlmig`` invocation knows: its global options, the secrets to mask, the target.

The root group creates one :class:`CliState` as ``ctx.obj``; commands receive
it with :data:`pass_state`. Global options given after a sub-command update
it too, so ``sqlmig status --format json`` and ``sqlmig --format json status``
are the same. Only click is imported here (``sqlmig --help`` stays fast).
"""

from __future__ import annotations

import json
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any

import click

if TYPE_CHECKING:
    from sqlmig.core.config import Settings
    from sqlmig.core.targets import Notice, Target


@dataclass
class CliState:
    dsn: str | None = None
    directory: str | None = None
    format: str = "text"
    quiet: bool = False
    verbose: bool = False
    #: DSNs seen (flags, environment, pyproject): their passwords are masked in every message.
    dsns: list[str] = field(default_factory=list)
    #: Other secrets (``--token``): masked whole.
    tokens: list[str] = field(default_factory=list)
    #: Values of template variables: masked in errors, JSON results and drift's lines.
    variables: list[str] = field(default_factory=list)
    #: The database this run talks to, once known (for the target line and JSON).
    target: Target | None = None
    #: ``--table``: where the ledger lives (``name`` or ``schema.name``).
    table: str | None = None

    @property
    def as_json(self) -> bool:
        return self.format == "json"

    @property
    def verbosity(self) -> int:
        """-1 with ``-q``, 1 with ``-v``, else 0."""
        return -1 if self.quiet else 1 if self.verbose else 0

    def settings(self) -> Settings:
        """The resolved settings (flags > environment > pyproject > embedded default)."""
        from dataclasses import replace

        from sqlmig.core.config import resolve

        settings = resolve(self.dsn, self.directory, table=self.table)
        if settings.dsn:
            self.dsns.append(settings.dsn)
        self.variables += settings.variables.values()
        return replace(settings, notify=self.notice)

    def keep_secret(self, token: str | None) -> None:
        """Mask ``token`` in every message this run prints."""
        if token:
            self.tokens.append(token)

    def secrets(self) -> tuple[str, ...]:
        from sqlmig.core.redact import password_of

        return (
            *(password_of(dsn) for dsn in self.dsns),
            *self.tokens,
            *self.variables,
            *(self.target.secrets if self.target else ()),
        )

    def dump(self, payload: dict[str, Any]) -> None:
        """Print a JSON result, with the (redacted) target it came from as ``database``."""
        payload["database"] = self.target.as_json() if self.target else None
        click.echo(self.mask(json.dumps(payload, indent=2, default=str)))

    def mask(self, text: str) -> str:
        """``text`` with the template variables' values masked (values only: JSON-safe)."""
        if not self.variables:
            return text
        from sqlmig.core.redact import mask_values

        return mask_values(text, self.variables)

    def notice(self, notice: Notice) -> None:
        """Render what connecting reports: the target once (text mode; JSON gets a
        ``database`` field instead) and each failed attempt while --wait retries."""
        from sqlmig.core.targets import Target

        if self.quiet:
            if isinstance(notice, Target):
                self.target = notice  # still redacts and fills JSON
            return
        if not isinstance(notice, Target):
            click.echo(
                f"sqlmig: attempt {notice.attempt} failed ({notice.elapsed_s:.1f} s of "
                f"--wait {notice.wait_s:g}): {notice.reason}; "
                f"next attempt in {notice.delay_s:.1f} s",
                err=True,
            )
            return
        known = self.target
        if known is not None and (known.shown, known.source) == (notice.shown, notice.source):
            return
        self.target = notice
        if self.as_json:
            return
        if notice.embedded is None:
            how = f"from {notice.source}"
        elif notice.embedded.started:
            how = "nothing configured; started it now, and it keeps running: `sqlmig db stop`"
        else:
            how = "nothing configured; already running; `sqlmig db stop` stops it"
        click.echo(f"sqlmig: target {notice.shown} ({how})", err=True)


#: ``@pass_state`` hands a command the invocation's :class:`CliState`.
pass_state = click.make_pass_decorator(CliState)
