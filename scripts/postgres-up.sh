#!/usr/bin/env bash
# Starts a local PostgreSQL for mailcast's store tests and benchmarks, idempotently.
#
# - installs Debian's `postgresql` package if `pg_ctlcluster` is missing;
# - starts the newest cluster named `main` (listening on 127.0.0.1:5432);
# - creates (or resets the password of) the login role `mailcast` / `mailcast`, allowed to
#   create databases (and end other sessions on them), which is what MAILCAST_TEST_POSTGRES_URL's default expects:
#   postgres://mailcast:mailcast@127.0.0.1:5432/postgres
#
# Runs as root (as CI does). Safe to run again: every step checks before it acts.
set -euo pipefail

if [ "$(id -u)" -ne 0 ]; then
    echo "postgres-up.sh: run as root (sudo scripts/postgres-up.sh)" >&2
    exit 1
fi

if ! command -v pg_ctlcluster >/dev/null 2>&1; then
    echo "postgres-up.sh: installing postgresql" >&2
    export DEBIAN_FRONTEND=noninteractive
    apt-get update -qq
    apt-get install -y -qq postgresql >/dev/null
fi

# The newest installed major version that has a `main` cluster (create one if none has).
version="$(pg_lsclusters --no-header 2>/dev/null | awk '$2 == "main" { print $1 }' | sort -V | tail -n 1)"
if [ -z "$version" ]; then
    version="$(ls /usr/lib/postgresql | sort -V | tail -n 1)"
    pg_createcluster "$version" main
fi

status="$(pg_lsclusters --no-header | awk -v v="$version" '$1 == v && $2 == "main" { print $4 }')"
if [ "$status" != "online" ]; then
    pg_ctlcluster "$version" main start
fi

# Wait until the server accepts connections on the TCP port the tests use.
for _ in $(seq 1 60); do
    if pg_isready -q -h 127.0.0.1 -p 5432; then
        break
    fi
    sleep 0.5
done
if ! pg_isready -q -h 127.0.0.1 -p 5432; then
    echo "postgres-up.sh: PostgreSQL $version did not start on 127.0.0.1:5432" >&2
    exit 1
fi

# The role the tests log in as; CREATEDB lets each test create its own database.
runuser -u postgres -- psql -q -v ON_ERROR_STOP=1 -d postgres <<'SQL'
DO $$
BEGIN
    IF NOT EXISTS (SELECT FROM pg_roles WHERE rolname = 'mailcast') THEN
        CREATE ROLE mailcast LOGIN CREATEDB PASSWORD 'mailcast';
    ELSE
        ALTER ROLE mailcast LOGIN CREATEDB PASSWORD 'mailcast';
    END IF;
END
$$;
-- Lets a test drop its database WITH (FORCE) even while a server process still uses it.
GRANT pg_signal_backend TO mailcast;
SQL

echo "postgres-up.sh: PostgreSQL $version is up: postgres://mailcast:mailcast@127.0.0.1:5432/postgres"
