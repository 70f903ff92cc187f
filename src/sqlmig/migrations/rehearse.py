"""``sqlmig check``: rehearse the pending files in a throwaway database, as ``apply`` would
run them, and report what each statement locked. The target is only read.

    target (read only): files + ledger ─▶ plan (refused as apply refuses) ─▶ pending files,
        the target session's lock_timeout                         (--all: every file)
    shadow.throwaway ─▶ shadow.build(the applied versions, the repeatables run) (--all: nothing)
    per pending file, with apply's executor (run_file, a ledger row in the shadow):
        transactional:  BEGIN; one statement per round trip; after each, inside the
                        transaction, locks.snapshot ─▶ locks.compare; COMMIT
        no-transaction: each statement in autocommit, as apply runs it (rewrites seen;
                        locks from the statement kind)
    the first MigrationFailed is the one apply raises (the same text), and stops the run
    the shadow is dropped afterwards, also when a file fails

Everything a rehearsal saw comes back as data (:class:`Rehearsal`); rendering is the
caller's job.
"""

from __future__ import annotations

from collections.abc import Collection, Sequence
from dataclasses import dataclass, field, replace
from typing import TYPE_CHECKING

from psycopg import sql

from sqlmig.core import connections
from sqlmig.core.config import LedgerLocation, Settings
from sqlmig.core.errors import MigrationFailed
from sqlmig.core.paths import display_path
from sqlmig.migrations import executor, ledger, locks, refusals, run, shadow, templates
from sqlmig.migrations.files import Script, load_scripts
from sqlmig.migrations.plan import State, build_plan

if TYPE_CHECKING:
    from psycopg import Connection

    from sqlmig.migrations.executor import Prepared
    from sqlmig.migrations.run import Step
    from sqlmig.migrations.statements import Statement

__all__ = ["FileReport", "Rehearsal", "rehearse"]


@dataclass
class FileReport:
    """One rehearsed file: its statements' lock reports, and whether it ran clean."""

    script: Script
    transactional: bool
    statements: list[locks.StatementReport] = field(default_factory=list)
    ms: int = 0
    failed: bool = False

    @property
    def path(self) -> str:
        return display_path(self.script.up.path)

    @property
    def findings(self) -> list[str]:
        found = {f for report in self.statements for f in report.findings}
        return [f for f in locks.FINDINGS if f in found]

    def as_dict(self) -> dict[str, object]:
        return {
            "file": self.path,
            "version": self.script.version,
            "transactional": self.transactional,
            "ok": not self.failed,
            "ms": self.ms,
            "findings": self.findings,
            "statements": [s.as_dict() for s in self.statements],
        }


@dataclass
class Rehearsal:
    """What ``check`` saw. ``failure`` is apply's own error for the first failing file;
    ``failed_in`` says whether it came from building the shadow or from a pending file."""

    where: str
    built_from: list[Script]
    files: list[FileReport] = field(default_factory=list)
    failure: MigrationFailed | None = None
    failed_in: str | None = None  # "build" | "rehearsal"

    @property
    def findings(self) -> list[str]:
        found = {f for file in self.files for f in file.findings}
        return [f for f in locks.FINDINGS if f in found]

    def failing(self, fail_on: Collection[str]) -> list[tuple[FileReport, locks.StatementReport]]:
        """The statements with a finding named in ``fail_on`` (``--fail-on``)."""
        return [
            (file, report)
            for file in self.files
            for report in file.statements
            if set(report.findings) & set(fail_on)
        ]


def rehearse(
    settings: Settings,
    *,
    shadow_dsn: str | None = None,
    all_files: bool = False,
    tracks: Sequence[shadow.Track] = (),
) -> Rehearsal:
    """Rehearse the pending files (``all_files``: every file, from an empty database);
    ``tracks``: other migration tracks of the target, built into the shadow too.

    Raises what ``apply`` raises before anything runs (PlanRefused, ScriptError); a file
    that fails is returned as ``Rehearsal.failure``, the MigrationFailed apply raises.
    """
    scripts = load_scripts(settings.directory)
    lock_timeout: str | None = None
    ran: set[str] = set()  # the repeatables the target has run: the shadow gets them too
    if all_files:
        base: set[int] = set()
        pending = scripts
    else:
        with connections.connect(settings) as conn:
            plan = build_plan(scripts, ledger.read(conn, settings.ledger))
            refusals.refuse(conn, settings.ledger, plan, out_of_order=False)
            pending = plan.to_apply()
            base = {e.version for e in plan.entries if e.state is State.APPLIED}
            lock_timeout = _setting(conn, "lock_timeout")
        ran = shadow.applied_repeatables(settings)
    pending = templates.render(pending, settings.variables)
    executor.prepare([s.up for s in pending])  # bad files are refused before any work
    with shadow.throwaway(settings, shadow_dsn=shadow_dsn) as db:
        result = Rehearsal(db.where, [s for s in scripts if s.version in base])
        try:
            shadow.build(settings, db, base, ran, tracks=tracks)
        except MigrationFailed as failed:
            result.failure, result.failed_in = failed, "build"
            return result
        shadow_settings = replace(settings, dsn=db.dsn, dsn_source="shadow database", notify=None)
        with (
            connections.connect(shadow_settings) as conn,
            ledger.locked(conn, shadow_settings.ledger, 0),
        ):
            ledger.ensure(conn, shadow_settings.ledger)
            steps = run.apply_steps(conn, shadow_settings.ledger, pending)
            for step, ready in zip(steps, run.prepare(steps), strict=True):
                report = FileReport(step.script, step.file.transactional)
                result.files.append(report)
                try:
                    _rehearse_file(conn, shadow_settings.ledger, step, ready, report, lock_timeout)
                except MigrationFailed as failed:
                    report.failed = True
                    result.failure, result.failed_in = failed, "rehearsal"
                    break
    return result


def _rehearse_file(
    conn: Connection[tuple[object, ...]],
    loc: LedgerLocation,
    step: Step,
    ready: Prepared,
    report: FileReport,
    lock_timeout: str | None,
) -> None:
    """Run one file with apply's executor, one statement per round trip, reading locks."""
    if lock_timeout is not None:
        # As a session on the target starts (its role's and database's settings);
        # the executor's session reset after the file undoes it.
        conn.execute(
            sql.SQL("SELECT pg_catalog.set_config('lock_timeout', {}, false)").format(
                sql.Literal(lock_timeout)
            )
        )
    existing = locks.snapshot(conn, loc)
    state = {"before": existing}

    def observe(statement: Statement, ms: int) -> None:
        before = state["before"]
        after = locks.snapshot(conn, loc)
        found = locks.compare(before, after, existing)
        if not step.file.transactional:
            kinds = {k.relation: k.mode for k in locks.by_kind(statement, existing)}
            found = [
                replace(k, mode=kinds.pop(k.relation, None), source="autocommit") for k in found
            ]
            found += [locks.Lock(r, m, source="statement kind") for r, m in kinds.items()]
        line, column = templates.location(ready.file, statement.offset + _leading(statement.text))
        headline = templates.mask(ready.file, _headline(statement.text))
        report.statements.append(
            locks.StatementReport(line, column, headline, ms, before.lock_timeout, found)
        )
        state["before"] = after

    report.ms = executor.run_file(
        conn,
        ready,
        finish=step.finish,
        loc=loc,
        on_start=step.on_start,
        on_failure=step.on_failure,
        on_statement=observe,
    )


def _setting(conn: Connection[tuple[object, ...]], name: str) -> str:
    row = conn.execute("SELECT pg_catalog.current_setting(%s)", (name,)).fetchone()
    return str(row[0]) if row else ""


def _leading(text: str) -> int:
    """Characters of whitespace and comments before the statement's first word."""
    index = 0
    while index < len(text):
        if text[index].isspace():
            index += 1
        elif text.startswith("--", index):
            end = text.find("\n", index)
            index = len(text) if end < 0 else end + 1
        elif text.startswith("/*", index):
            end = text.find("*/", index)
            index = len(text) if end < 0 else end + 2
        else:
            break
    return index


def _headline(text: str, width: int = 72) -> str:
    """The statement on one line, shortened: what a report line shows."""
    words = " ".join(text[_leading(text) :].split())
    return words if len(words) <= width else words[: width - 1] + "…"
