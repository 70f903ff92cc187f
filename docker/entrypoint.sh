#!/bin/sh
# Migrate, then hand the process over to the application.
#
#   SQLMIG_DSN / DATABASE_URL / PG*   where to migrate (required in a container)
#   SQLMIG_DIR                         migrations folder (default: /app/migrations)
#   SQLMIG_WAIT                        seconds to wait for the database (default 60)
#   SQLMIG_SKIP=1                      start the app without migrating
#
# Several replicas may start at once: sqlmig's advisory lock makes each
# migration run exactly once. If migrating fails, the app does not start.
set -eu

if [ "${SQLMIG_SKIP:-0}" != "1" ]; then
    ${SQLMIG:-sqlmig} apply --wait "${SQLMIG_WAIT:-60}" ${SQLMIG_APPLY_ARGS:-}
fi

if [ "$#" -eq 0 ]; then
    exit 0
fi
exec "$@"
