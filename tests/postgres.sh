#!/usr/bin/env bash
# A throwaway PostgreSQL database for the label-store tests, from Debian's packages: installs the
# server when it is missing, starts the first cluster (creating one if there is none), makes a fresh
# database and role, and prints its SQLAlchemy URL. Prints nothing (and the tests use SQLite only)
# when that cannot be done, saying why on stderr.
set -uo pipefail
if [ "$(id -u)" = 0 ]; then SUDO=""; AS_PG="runuser -u postgres --"; else SUDO="sudo"; AS_PG="sudo -u postgres"; fi
if ! command -v pg_ctlcluster >/dev/null 2>&1; then
  { $SUDO apt-get update -qq && DEBIAN_FRONTEND=noninteractive $SUDO apt-get install -y -qq postgresql >/dev/null; } ||
    { echo "postgres.sh: could not install Debian's postgresql" >&2; exit 0; }
fi
if [ -z "$(pg_lsclusters -h 2>/dev/null)" ]; then
  ver=$(ls /usr/lib/postgresql | sort -V | tail -1)
  $SUDO pg_createcluster "$ver" main >&2 || { echo "postgres.sh: no cluster could be made" >&2; exit 0; }
fi
read -r ver name port status _ < <(pg_lsclusters -h | head -1)
if [ "$status" != online ]; then
  # stdout to stderr: only the URL goes to stdout (after an unclean stop this says "Removed stale pid file.")
  $SUDO pg_ctlcluster "$ver" "$name" start >&2 || { echo "postgres.sh: the cluster $ver/$name did not start" >&2; exit 0; }
fi
db=detector_test
$AS_PG psql -p "$port" -qAt -v ON_ERROR_STOP=1 >/dev/null <<SQL || { echo "postgres.sh: could not make the test database" >&2; exit 0; }
SET client_min_messages = warning;
DROP DATABASE IF EXISTS $db;
DO \$\$ BEGIN
  IF NOT EXISTS (SELECT FROM pg_roles WHERE rolname = '$db') THEN CREATE ROLE $db LOGIN PASSWORD '$db'; END IF;
END \$\$;
CREATE DATABASE $db OWNER $db;
SQL
echo "postgresql+psycopg://$db:$db@127.0.0.1:$port/$db"
