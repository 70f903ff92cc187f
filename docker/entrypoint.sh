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

# Never fall back to a throwaway embedded server inside a container: with no
# database configured, sqlmig exits 2 and names the variables to set.
SQLMIG_EMBEDDED=0
export SQLMIG_EMBEDDED

if [ "${SQLMIG_SKIP:-0}" != "1" ]; then
    status=0
    ${SQLMIG:-sqlmig} apply --wait "${SQLMIG_WAIT:-60}" ${SQLMIG_APPLY_ARGS:-} || status=$?
    if [ "$status" -ne 0 ]; then
        echo "sqlmig-entrypoint: migrating failed (exit $status); the application was not started." >&2
        exit "$status"
    fi
fi

if [ "$#" -eq 0 ]; then
    exit 0
fi
exec "$@"
