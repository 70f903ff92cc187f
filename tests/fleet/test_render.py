"""What a fleet run looks like: a target's line, the live line's counts and ETA (pure)."""

from __future__ import annotations

from support.cli import invoke

from sqlmig import fleet
from sqlmig.cli.fleet import live_line, target_line
from sqlmig.fleet.schedule import Progress


def result(outcome, **fields):
    target = fleet.FleetTarget("eu-1", "postgresql://app@db1/eu1", "test")
    return fleet.TargetResult(target, 1, fleet.Outcome(outcome), **fields)


def test_target_lines():
    applied = result("applied", version_before=2, version_after=4, applied=(3, 4), duration_s=1.5)
    assert target_line(applied, 5) == "applied     eu-1   2 -> 4    applied 2 file(s) (1.50 s)"
    failed = result("failed", version_before=2, version_after=2, error="m/3.sql:2:1: boom\n  1 | x")
    assert target_line(failed) == "failed      eu-1  2         m/3.sql:2:1: boom (0.00 s)"
    skipped = result("skipped", error="not started: stage 1 did not end clean")
    assert (
        target_line(skipped) == "skipped     eu-1  -         not started: stage 1 did not end clean"
    )
    assert result("applied").as_dict()["target"] == "database eu1 on db1"


def test_live_line_counts_and_eta():
    assert live_line("apply", Progress(20, 0, 4, 0, 3.0)) == (
        "fleet apply: 0/20 done, 4 running, 0 failed, 3 s"
    )
    assert live_line("apply", Progress(20, 5, 4, 1, 30.0)) == (
        "fleet apply: 5/20 done, 4 running, 1 failed, 30 s, ETA 1:30"
    )


def test_dsn_flag_is_refused(tmp_path):
    result = invoke("--dsn", "postgresql://app@db1/x", "fleet", "status", cwd=tmp_path)
    assert result.exit_code == 2
    assert "--dsn names one database; a fleet command takes its targets" in result.output


def test_on_a_terminal_a_live_line_and_only_failures_above_it(capsys):
    from sqlmig.cli.fleet import FleetLines
    from sqlmig.cli.state import CliState
    from sqlmig.fleet.schedule import Done, Started

    lines = FleetLines(CliState(), "apply")
    lines.tty = True  # as when stderr is a terminal
    ok, bad = result("applied", applied=(1,)), result("failed", error="m/1.sql:1:1: boom")
    lines(Started(ok.target, Progress(2, 0, 1, 0, 0.0)))
    lines(Done(ok, Progress(2, 1, 0, 0, 1.0)))
    lines(Done(bad, Progress(2, 2, 0, 1, 2.0)))
    lines.clear()
    out, err = capsys.readouterr()
    assert out.splitlines() == ["failed      eu-1  -         m/1.sql:1:1: boom (0.00 s)"]
    err = err.replace("\x1b[K", "")  # click drops the erase code when stderr is no terminal
    assert err.split("\r") == [
        "",
        "fleet apply: 0/2 done, 1 running, 0 failed, 0 s",
        "fleet apply: 1/2 done, 0 running, 0 failed, 1 s, ETA 0:01",
        "",  # cleared for the failure's line
        "fleet apply: 2/2 done, 0 running, 1 failed, 2 s, ETA 0:00",
        "",  # cleared at the end
    ]
