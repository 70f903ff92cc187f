#!/bin/sh
# For the official postgres image's /docker-entrypoint-initdb.d/: applies the
# migrations through sqlmig during the first initialisation (empty PGDATA), so
# that the database starts with sqlmig's ledger (schema_migrations) and later
# `sqlmig apply` runs see every file as applied, not a bare schema to baseline.
#
# It needs sqlmig in the postgres container: docker/Dockerfile's `postgres`
# target is the official image plus sqlmig and this script. It must stay
# executable: the image sources non-executable *.sh files instead of running them.
#
# The image runs it while its temporary server listens on the Unix socket only
# (listen_addresses='', port ${PGPORT:-5432}, socket /var/run/postgresql), and
# connects there with PGHOST and PGHOSTADDR cleared, as POSTGRES_USER, to
# POSTGRES_DB. This script does the same. What it reads:
#
#   POSTGRES_USER        the role to connect as (the image's default: postgres)
#   POSTGRES_DB          the database to migrate (default: POSTGRES_USER)
#   PGPASSWORD           set by the image from POSTGRES_PASSWORD; only needed
#                        when local connections require a password
#   PGPORT               the temporary server's port (default 5432)
#   SQLMIG_DIR           the migrations (default /sqlmig/migrations: the
#                        `postgres` target copies sql/init there; mount your own)
#   SQLMIG_INITDB_HOST   the socket folder (default /var/run/postgresql); not
#                        the container's PGHOST, which may name the real server
#   SQLMIG               the sqlmig command (default `sqlmig`)
#
# SQLMIG_DSN, DATABASE_URL and the other PG* variables are ignored here: during
# initialisation the only server is the temporary one. A failing migration
# fails the initialisation (the image stops; PGDATA is left half-initialised,
# as with a failing *.sql file: remove it before the next start).
set -eu

me=10-sqlmig.sh
user=${POSTGRES_USER:-postgres}
db=${POSTGRES_DB:-$user}
dir=${SQLMIG_DIR:-/sqlmig/migrations}
sqlmig=${SQLMIG:-sqlmig}

if ! command -v "${sqlmig%% *}" >/dev/null 2>&1; then
    echo "$me: '${sqlmig%% *}' not found: use docker/Dockerfile's postgres target (docker build --target postgres)" >&2
    exit 2
fi
if [ ! -d "$dir" ]; then
    echo "$me: no migrations folder at $dir (set SQLMIG_DIR or mount one there)" >&2
    exit 2
fi

unset SQLMIG_DSN DATABASE_URL PGHOSTADDR PGSERVICE PGSERVICEFILE PGDATABASE PGUSER PGOPTIONS
PGHOST=${SQLMIG_INITDB_HOST:-/var/run/postgresql}
PGPORT=${PGPORT:-5432}
PGUSER=$user
PGDATABASE=$db
SQLMIG_EMBEDDED=0
SQLMIG_DIR=$dir
export PGHOST PGPORT PGUSER PGDATABASE SQLMIG_EMBEDDED SQLMIG_DIR

echo "$me: applying $dir to database $db (sqlmig, over the initialisation socket)"
# shellcheck disable=SC2086  # SQLMIG is a word list on purpose
$sqlmig apply
