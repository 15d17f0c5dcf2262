#!/usr/bin/env bash
# make bench-peer: Roster's query engine beside PostgreSQL on the same data.
#
# The engine writes the dataset (100 organizations of Zipf-like sizes, 0 to 3
# memberships per user) for each size, each query as the SQL a Django
# application with django-filter and its paginator sends (a COUNT(*) and a
# page), what it answers itself and its own time per request
# (apiserver/query/peer_test.go). This script then starts PostgreSQL from the
# Debian package in a temporary directory on a loopback port, loads the data
# into Django's auth_user and the organization and membership tables with
# their indexes, checks that every count and page of IDs equals the engine's,
# times each query with pgbench (plain, then with trigram GIN indexes for the
# searches) and prints the table of ratios. PostgreSQL is stopped and the
# directory removed at the end.
#
#   PEER_SIZES=1000,10000,100000  sizes to run
#   PGBENCH_TIME=5                seconds pgbench runs each query
set -euo pipefail
cd "$(dirname "$0")/.."

PEER_SIZES=${PEER_SIZES:-1000,10000,100000}
PGBENCH_TIME=${PGBENCH_TIME:-5}
GO=${GO:-go}

pgbin() { ls -d /usr/lib/postgresql/*/bin 2>/dev/null | sort -V | tail -1; }
if [ -z "$(pgbin)" ] || [ ! -x "$(pgbin)/initdb" ] || [ ! -x "$(pgbin)/pgbench" ]; then
  echo "bench-peer: installing PostgreSQL from Debian (apt-get install postgresql postgresql-contrib)" >&2
  if [ "$(id -u)" = 0 ]; then
    DEBIAN_FRONTEND=noninteractive apt-get install -y -q postgresql postgresql-contrib >&2
  else
    sudo DEBIAN_FRONTEND=noninteractive apt-get install -y -q postgresql postgresql-contrib >&2
  fi
fi
PGBIN=$(pgbin)

work=$(mktemp -d /tmp/roster-bench-peer.XXXXXX)
chmod 755 "$work"
# PostgreSQL refuses to run as root: then it runs as the package's postgres user.
as_pg() {
  if [ "$(id -u)" = 0 ]; then runuser -u postgres -- "$@"; else "$@"; fi
}
cleanup() {
  if [ -f "$work/pg/postmaster.pid" ]; then as_pg "$PGBIN/pg_ctl" -D "$work/pg" -m fast -w stop >/dev/null 2>&1 || true; fi
  rm -rf "$work"
}
trap cleanup EXIT

echo "bench-peer: writing the dataset and the engine's answers and times ($PEER_SIZES users)" >&2
ROSTER_PEER_DIR="$work/data" ROSTER_PEER_SIZES="$PEER_SIZES" \
  $GO test -count=1 -run '^TestWritePeerDataset$' -timeout 60m ./apiserver/query/ >&2
chmod -R a+rX "$work/data"

mkdir "$work/pg" "$work/run"
[ "$(id -u)" = 0 ] && chown postgres "$work/pg" "$work/run"
as_pg "$PGBIN/initdb" -D "$work/pg" -U postgres -E UTF8 --locale=C.UTF-8 --auth=trust >/dev/null
port=$(( 20000 + RANDOM % 20000 ))
as_pg "$PGBIN/pg_ctl" -D "$work/pg" -w -l "$work/run/log" \
  -o "-c listen_addresses=127.0.0.1 -p $port -k $work/run -c shared_buffers=256MB -c fsync=off -c synchronous_commit=off" start >/dev/null
psql_() { as_pg psql -X -q -v ON_ERROR_STOP=1 -h 127.0.0.1 -p "$port" -U postgres "$@"; }
version=$(psql_ -At -d postgres -c 'SHOW server_version')
echo "bench-peer: PostgreSQL $version on 127.0.0.1:$port" >&2

fail=0
results="$work/results.tsv"
: > "$results"
IFS=, read -r -a sizes <<< "$PEER_SIZES"
for n in "${sizes[@]}"; do
  d="$work/data/$n"
  db="peer_$n"
  psql_ -d postgres -c "CREATE DATABASE $db"
  psql_ -d "$db" <<SQL
CREATE TABLE "auth_user" (
  "id" integer NOT NULL PRIMARY KEY, "password" varchar(128) NOT NULL DEFAULT '', "last_login" timestamptz NULL,
  "is_superuser" boolean NOT NULL DEFAULT false, "username" varchar(150) NOT NULL UNIQUE,
  "first_name" varchar(150) NOT NULL, "last_name" varchar(150) NOT NULL, "email" varchar(254) NOT NULL DEFAULT '',
  "is_staff" boolean NOT NULL DEFAULT false, "is_active" boolean NOT NULL, "date_joined" timestamptz NOT NULL DEFAULT now());
CREATE INDEX "auth_user_username_6821ab7c_like" ON "auth_user" ("username" varchar_pattern_ops);
CREATE TABLE "organizations_organization" ("id" integer NOT NULL PRIMARY KEY, "slug" varchar(16) NOT NULL UNIQUE, "name" varchar(255) NOT NULL DEFAULT '');
CREATE TABLE "organizations_membership" (
  "id" serial NOT NULL PRIMARY KEY,
  "organization_id" integer NOT NULL REFERENCES "organizations_organization" ("id") DEFERRABLE INITIALLY DEFERRED,
  "user_id" integer NOT NULL REFERENCES "auth_user" ("id") DEFERRABLE INITIALLY DEFERRED,
  "role" varchar(16) NOT NULL, "is_active" boolean NOT NULL,
  UNIQUE ("organization_id", "user_id"));
CREATE INDEX ON "organizations_membership" ("organization_id");
CREATE INDEX ON "organizations_membership" ("user_id");
\copy "auth_user" ("id", "username", "first_name", "last_name", "is_active") FROM '$d/users.csv'
\copy "organizations_organization" ("id", "slug") FROM '$d/organizations.csv'
\copy "organizations_membership" ("organization_id", "user_id", "role", "is_active") FROM '$d/memberships.csv'
VACUUM ANALYZE;
SQL
  time_query() { # prints pgbench's average latency in ms
    as_pg "$PGBIN/pgbench" -n -h 127.0.0.1 -p "$port" -U postgres -c 1 -T "$PGBENCH_TIME" -f "$1" "$db" 2>/dev/null |
      awk '/latency average/ {print $4}'
  }
  while IFS=$'\t' read -r name count page; do
    out=$(psql_ -At -F $'\t' -d "$db" -f "$d/$name.sql")
    got_count=$(sed -n 1p <<< "$out")
    got_page=$(sed -n '2,$p' <<< "$out" | cut -f1 | paste -sd, -)
    if [ "$got_count" != "$count" ] || [ "$got_page" != "$page" ]; then
      echo "bench-peer: $n users, $name: PostgreSQL answers count $got_count, page [$got_page]; the engine $count, [$page]" >&2
      fail=1
    fi
    printf '%s\t%s\tplain\t%s\n' "$n" "$name" "$(time_query "$d/$name.sql")" >> "$results"
  done < "$d/expected.tsv"
  psql_ -d "$db" <<'SQL'
CREATE EXTENSION IF NOT EXISTS pg_trgm;
CREATE INDEX "auth_user_username_trgm" ON "auth_user" USING gin (UPPER("username"::text) gin_trgm_ops);
CREATE INDEX "auth_user_first_name_trgm" ON "auth_user" USING gin (UPPER("first_name"::text) gin_trgm_ops);
CREATE INDEX "auth_user_last_name_trgm" ON "auth_user" USING gin (UPPER("last_name"::text) gin_trgm_ops);
ANALYZE;
SQL
  for name in search search-sort-middle-page; do
    printf '%s\t%s\ttrigram\t%s\n' "$n" "$name" "$(time_query "$d/$name.sql")" >> "$results"
  done
  psql_ -d postgres -c "DROP DATABASE $db"
done

echo
echo "PostgreSQL $version (pgbench, 1 client, ${PGBENCH_TIME}s per query: a COUNT(*) and a page of 10) beside Roster's engine (parse and answer one request), counts and page IDs checked equal:"
echo
echo "| users | query | PostgreSQL plain | PostgreSQL trigram GIN | Roster engine | ratio (plain / trigram) |"
echo "|---|---|---|---|---|---|"
for n in "${sizes[@]}"; do
  while IFS=$'\t' read -r name us; do
    plain=$(awk -F'\t' -v n="$n" -v q="$name" '$1==n && $2==q && $3=="plain" {print $4}' "$results")
    trgm=$(awk -F'\t' -v n="$n" -v q="$name" '$1==n && $2==q && $3=="trigram" {print $4}' "$results")
    ratio=$(awk -v p="$plain" -v u="$us" 'BEGIN {printf "%.0f×", p*1000/u}')
    tcol="—"
    if [ -n "$trgm" ]; then
      tcol="$trgm ms"
      ratio="$ratio / $(awk -v p="$trgm" -v u="$us" 'BEGIN {printf "%.0f×", p*1000/u}')"
    fi
    echo "| $n | $name | $plain ms | $tcol | $us µs | $ratio |"
  done < "$work/data/$n/engine.tsv"
done
if [ "$fail" != 0 ]; then
  echo "bench-peer: PostgreSQL and the engine disagree (above)" >&2
  exit 1
fi
