#!/bin/sh
# Migrate, then hand the process over to the application (`exec "$@"`); with no
# command, migrate and exit (a one-shot `migrate` service or init container).
#
# Every variable this script reads (sqlmig itself reads the first three):
#
#   SQLMIG_DSN                where to migrate: a libpq URL or key=value string
#   DATABASE_URL              used when SQLMIG_DSN is unset
#   PGHOST, PGPORT, PGUSER, PGDATABASE, PGPASSWORD, PGSERVICE ...
#                             libpq's own variables, used when both are unset
#   SQLMIG_DIR                migrations folder (the image sets /app/migrations)
#   SQLMIG_WAIT               seconds to keep trying to connect while the server
#                             starts, one line per failed attempt (default 60;
#                             0: one attempt). Then exit 3.
#   SQLMIG_CREATE_DB          1: create the target database when it is missing
#                             (through the `postgres` or `template1` database;
#                             the role needs CREATEDB). Default 0.
#   SQLMIG_APPLY_ARGS         more `sqlmig apply` options, split on spaces
#                             (e.g. "--lock-timeout 600 --target 42")
#   SQLMIG_SKIP               1: start the command without migrating
#   SQLMIG                    the sqlmig command (default `sqlmig`; tests run
#                             `python -m sqlmig`)
#   SQLMIG_EMBEDDED           not read: always set to 0 here, so that with no
#                             database configured sqlmig exits 2 and names the
#                             variables above instead of starting a throwaway
#                             embedded server inside the container
#
# Exit codes are sqlmig's: 1 a migration failed, 2 usage or configuration
# (bad files, nothing configured), 3 database unreachable after SQLMIG_WAIT or
# the migration lock not acquired. The command does not start then.
#
# Several replicas may start at once: sqlmig's advisory lock makes each
# migration run exactly once; the others wait for the lock, then apply nothing.
set -eu

me=sqlmig-entrypoint
SQLMIG_EMBEDDED=0
export SQLMIG_EMBEDDED

flag() {  # flag NAME VALUE: 0 or 1, or a usage error (exit 2)
    case "$2" in
        1 | true | yes | on) echo 1 ;;
        "" | 0 | false | no | off) echo 0 ;;
        *)
            echo "$me: $1 must be 0 or 1, not '$2'; the application was not started." >&2
            exit 2
            ;;
    esac
}

skip=$(flag SQLMIG_SKIP "${SQLMIG_SKIP:-0}")
create_db=$(flag SQLMIG_CREATE_DB "${SQLMIG_CREATE_DB:-0}")
wait_s=${SQLMIG_WAIT:-60}

if [ "$skip" = 0 ]; then
    create=""
    if [ "$create_db" = 1 ]; then
        create=--create-db
    fi
    status=0
    # shellcheck disable=SC2086  # SQLMIG, $create and SQLMIG_APPLY_ARGS are word lists on purpose
    ${SQLMIG:-sqlmig} apply --wait "$wait_s" $create ${SQLMIG_APPLY_ARGS:-} || status=$?
    if [ "$status" -ne 0 ]; then
        case "$status" in
            3) why="the database was unreachable for SQLMIG_WAIT=${wait_s}s, or another runner held the migration lock" ;;
            2) why="the configuration or the migration files are not usable" ;;
            *) why="a migration failed" ;;
        esac
        echo "$me: migrating failed (exit $status: $why); the application was not started." >&2
        exit "$status"
    fi
fi

if [ "$#" -eq 0 ]; then
    exit 0
fi
exec "$@"
