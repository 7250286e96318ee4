#!/bin/bash
# The part of the official postgres image's entrypoint that compose relies on: initialise PGDATA
# on first start with POSTGRES_USER / POSTGRES_PASSWORD / POSTGRES_DB, then run the server as the
# `postgres` system user.
#
# Unlike the official one, an initialisation cut short (a Ctrl-C during the first `make dev`, whose
# teardown kills this container) is started again at the next start instead of being taken for a
# database: the cluster is made in a staging directory inside the volume and moved into PGDATA
# when its database exists, PG_VERSION last. PGDATA without PG_VERSION is therefore never a
# cluster, only what an interrupted initialisation left, and is cleared. The official entrypoint
# checks PG_VERSION alone, which initdb writes first: killed before the database was created, the
# volume then held a cluster without it for good, and every migrate failed.
set -euo pipefail

POSTGRES_USER="${POSTGRES_USER:-postgres}"
POSTGRES_DB="${POSTGRES_DB:-$POSTGRES_USER}"
STAGING="$PGDATA/.initialising"

as_postgres() {
    setpriv --reuid=postgres --regid=postgres --init-groups "$@"
}

initialise() {
    local password_file
    password_file="$(mktemp)"
    printf '%s\n' "$POSTGRES_PASSWORD" > "$password_file"
    chown postgres "$password_file"
    as_postgres mkdir "$STAGING"
    as_postgres initdb --pgdata="$STAGING" --username="$POSTGRES_USER" --pwfile="$password_file" \
        --auth-local=trust --auth-host=scram-sha-256 --encoding=UTF8 >/dev/null
    rm -f "$password_file"
    echo "host all all all scram-sha-256" >> "$STAGING/pg_hba.conf"

    # A socket-only server while the database is created, so nobody connects half-initialised.
    as_postgres pg_ctl --pgdata="$STAGING" --wait --silent --options="-c listen_addresses=''" start
    if [ "$POSTGRES_DB" != postgres ]; then
        # Through stdin: psql interpolates :"db" (quoting the name) in scripts, not in --command.
        echo 'CREATE DATABASE :"db";' | as_postgres psql --username="$POSTGRES_USER" \
            --dbname=postgres --quiet --no-psqlrc --set=ON_ERROR_STOP=1 --set=db="$POSTGRES_DB"
    fi
    as_postgres pg_ctl --pgdata="$STAGING" --wait --silent --mode=fast stop

    # Renames within the volume; PG_VERSION's, the last, is what makes PGDATA a cluster.
    find "$STAGING" -mindepth 1 -maxdepth 1 ! -name PG_VERSION -exec mv -t "$PGDATA" {} +
    sync --file-system "$PGDATA"
    mv "$STAGING/PG_VERSION" "$PGDATA/PG_VERSION"
    rmdir "$STAGING"
    echo "PostgreSQL initialised in $PGDATA (user $POSTGRES_USER, database $POSTGRES_DB)"
}

if [ "${1:-}" != "postgres" ]; then
    exec "$@"
fi

if [ "$(id -u)" = 0 ]; then
    mkdir -p "$PGDATA" /var/run/postgresql
    chown postgres:postgres "$PGDATA" /var/run/postgresql
    chmod 700 "$PGDATA"
fi

if [ ! -s "$PGDATA/PG_VERSION" ]; then
    if [ -z "${POSTGRES_PASSWORD:-}" ]; then
        echo "error: POSTGRES_PASSWORD is not set; the database would accept no remote login." >&2
        exit 1
    fi
    if [ -n "$(ls -A "$PGDATA")" ]; then
        echo "PostgreSQL: an initialisation of $PGDATA was interrupted; starting it again"
        find "$PGDATA" -mindepth 1 -delete
    fi
    initialise
fi

exec setpriv --reuid=postgres --regid=postgres --init-groups postgres -c listen_addresses='*' "${@:2}"
