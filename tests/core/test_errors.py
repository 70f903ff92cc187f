"""One error tree: each error is data (``as_dict()``) and the CLI prints that, never probing."""

from __future__ import annotations

import json

from sqlmig.core import errors


def test_every_error_class_is_distinct_and_carries_its_fields():
    failed = errors.MigrationFailed("boom", path="m/1-a.sql", line=3, column=7, sqlstate="42601")
    data = failed.as_dict()
    assert data["kind"] == "MigrationFailed" and data["exit_code"] == 1
    assert (data["path"], data["line"], data["column"], data["sqlstate"]) == (
        "m/1-a.sql",
        3,
        7,
        "42601",
    )
    lost = errors.ConnectionLost("gone", path="m/2-b.sql", backend_pid=42, transactional=False)
    assert lost.as_dict()["backend_pid"] == 42 and lost.exit_code == 3
    # "database unreachable", "lock not acquired", "progress server unreachable": three classes.
    assert (
        len({errors.DatabaseUnavailable, errors.LockNotAcquired, errors.ProgressServerUnreachable})
        == 3
    )
    assert all(c.exit_code == 3 for c in (errors.LockNotAcquired, errors.ProgressServerUnreachable))
    # Distinct, not nested: catching "database unreachable" never swallows the other two.
    assert not issubclass(errors.LockNotAcquired, errors.DatabaseUnavailable)
    assert not issubclass(errors.ProgressServerUnreachable, errors.DatabaseUnavailable)
    assert issubclass(errors.ConnectionLost, errors.DatabaseUnavailable)


def test_every_error_class_is_raised_somewhere():
    """Classes nothing raises are removed (bases excepted)."""
    import inspect
    from pathlib import Path

    import sqlmig

    source = "\n".join(p.read_text() for p in Path(sqlmig.__file__).parent.rglob("*.py"))
    bases = {"SqlmigError", "Unavailable"}
    for name, cls in inspect.getmembers(errors, inspect.isclass):
        if issubclass(cls, errors.SqlmigError) and name not in bases:
            assert f"{name}(" in source.replace(f"class {name}(", ""), f"{name} is never raised"


def test_json_errors_are_the_errors_data(sqlmig, mig_dir):
    mig_dir.write("1-a.sql", "create table a (id int);\n\ncreate tabel b (id int);\n")
    result = sqlmig("--format", "json", "apply")
    assert result.exit_code == 1
    payload = json.loads(result.stdout)
    assert payload["kind"] == "MigrationFailed"
    assert (payload["line"], payload["column"], payload["sqlstate"]) == (3, 8, "42601")
    assert payload["server_message"] == 'syntax error at or near "tabel"'
    assert payload["database"]["target"]
