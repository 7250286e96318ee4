#!/bin/bash
# The part of the official postgres image's entrypoint that compose relies on: initialise PGDATA
# on first start with POSTGRES_USER / POSTGRES_PASSWORD / POSTGRES_DB, then run the server as the
# `postgres` system user.
set -euo pipefail

POSTGRES_USER="${POSTGRES_USER:-postgres}"
POSTGRES_DB="${POSTGRES_DB:-$POSTGRES_USER}"

as_postgres() {
    setpriv --reuid=postgres --regid=postgres --init-groups "$@"
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
    password_file="$(mktemp)"
    printf '%s\n' "$POSTGRES_PASSWORD" > "$password_file"
    chown postgres "$password_file"
    as_postgres initdb --username="$POSTGRES_USER" --pwfile="$password_file" \
        --auth-local=trust --auth-host=scram-sha-256 --encoding=UTF8 >/dev/null
    rm -f "$password_file"
    echo "host all all all scram-sha-256" >> "$PGDATA/pg_hba.conf"

    # A socket-only server while the database is created, so nobody connects half-initialised.
    as_postgres pg_ctl --wait --silent --options="-c listen_addresses=''" start
    if [ "$POSTGRES_DB" != postgres ]; then
        # Through stdin: psql interpolates :"db" (quoting the name) in scripts, not in --command.
        echo 'CREATE DATABASE :"db";' | as_postgres psql --username="$POSTGRES_USER" \
            --dbname=postgres --quiet --no-psqlrc --set=ON_ERROR_STOP=1 --set=db="$POSTGRES_DB"
    fi
    as_postgres pg_ctl --wait --silent --mode=fast stop
    echo "PostgreSQL initialised in $PGDATA (user $POSTGRES_USER, database $POSTGRES_DB)"
fi

exec setpriv --reuid=postgres --regid=postgres --init-groups postgres -c listen_addresses='*' "${@:2}"
