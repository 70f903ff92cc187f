"""Regenerate shared_types/models_db.py from sql/init, applied to a fresh database.

    python scripts/generate_models.py [--dsn SUPERUSER_DSN] [--check]

Without --dsn it uses the project's embedded PostgreSQL (starting it if
needed). The database is created for the run and dropped afterwards. With
--check nothing is written and the exit code is 1 when the committed file
differs from a fresh generation (as tests/models/test_generate.py checks).
"""

from __future__ import annotations

import argparse
import sys
import uuid
from pathlib import Path

import psycopg
from psycopg import conninfo, sql

from sqlmig import migrations, models
from sqlmig.core import config, connections

ROOT = Path(__file__).resolve().parent.parent


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--dsn", help="a server to use (needs CREATE DATABASE)")
    parser.add_argument("--check", action="store_true", help="write nothing; exit 1 on drift")
    args = parser.parse_args()
    settings = config.resolve(cwd=ROOT)
    assert settings.models_out, "[tool.sqlmig] models_out is not set"
    server = args.dsn or connections.embedded_server(ROOT).url
    name = f"sqlmig_models_{uuid.uuid4().hex[:8]}"
    with psycopg.connect(server, autocommit=True) as admin:
        admin.execute(sql.SQL("CREATE DATABASE {}").format(sql.Identifier(name)))
    try:
        target = conninfo.make_conninfo(server, dbname=name)
        migrations.apply(config.resolve(target, ROOT / "sql" / "init", cwd=ROOT))
        result = models.generate(
            config.resolve(target, cwd=ROOT), Path(settings.models_out), write=not args.check
        )
    finally:
        with psycopg.connect(server, autocommit=True) as admin:
            admin.execute(sql.SQL("DROP DATABASE IF EXISTS {}").format(sql.Identifier(name)))
    if args.check:
        print(f"{result.path}: {'differs from' if result.changed else 'matches'} sql/init")
        return 1 if result.changed else 0
    print(f"{'wrote' if result.changed else 'unchanged:'} {result.path}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
