#!/bin/bash
# What the PostgreSQL server alone can do of login-core's durable logins, with nothing else on
# the machine: pgbench calls the login function (`login_core_login`, migrations 0003 to 0005)
# exactly as the store does, a new person each call, on a schema of its own with every
# migration applied, then two floors for comparison: a one-row insert in a transaction of
# its own (what any durable write costs: statement, WAL, commit flush) and `SELECT 1` (the
# protocol alone). For each: transactions a second and the machine's CPU meanwhile, so the
# cost per login on the server can be set against login-core's own (`harness bench --only
# cluster`).
#
#   bash login-core/bench/pg_ceiling.sh [POSTGRES_URL] [SECONDS] [CLIENTS]
#
# POSTGRES_URL defaults to $LOGIN_CORE_TEST_POSTGRES; SECONDS (default 6) per run; CLIENTS
# (default 8, the bench's pool size for all instances together). Without TLS, like
# login-core's connections (sqlx is built without it). Needs psql and pgbench
# (postgresql-client) and python3. The schema is dropped at exit.
set -euo pipefail
url=${1:-${LOGIN_CORE_TEST_POSTGRES:-}}
secs=${2:-6}
clients=${3:-8}
[ -n "$url" ] || { echo "usage: $0 POSTGRES_URL [SECONDS] [CLIENTS] (or set LOGIN_CORE_TEST_POSTGRES)" >&2; exit 2; }
for tool in psql pgbench python3; do
  command -v "$tool" >/dev/null || { echo "$0: needs $tool" >&2; exit 2; }
done
here=$(cd "$(dirname "$0")" && pwd)
schema=login_core_ceiling_$$
work=$(mktemp -d)
export PGSSLMODE=disable
cleanup() {
  psql -q "$url" -c "DROP SCHEMA IF EXISTS $schema CASCADE" >/dev/null 2>&1 || true
  rm -rf "$work"
}
trap cleanup EXIT

psql -q -v ON_ERROR_STOP=1 "$url" -c "CREATE SCHEMA $schema"
for m in "$here"/../migrations/postgres/*.sql; do
  PGOPTIONS="-c search_path=$schema" psql -q -v ON_ERROR_STOP=1 "$url" -f "$m" >/dev/null
done
psql -q -v ON_ERROR_STOP=1 "$url" -c "CREATE TABLE $schema.ceiling_rows (k BYTEA PRIMARY KEY)"

# A new person per call: openid and token hash from the client and a random number.
cat >"$work/login.sql" <<'SQL'
\set r random(1, 1000000000000000)
SELECT is_new FROM login_core_login('wxceiling', 'o-' || :client_id || '-' || :r, NULL,
  decode(repeat('ab', 44), 'hex'), 1700000000000, sha256(('t-' || :client_id || '-' || :r)::bytea),
  1700086400000, 1700864000000, TRUE);
SQL
cat >"$work/insert.sql" <<'SQL'
\set r random(1, 1000000000000000)
INSERT INTO ceiling_rows VALUES (sha256(('k-' || :client_id || '-' || :r)::bytea));
SQL
echo 'SELECT 1;' >"$work/select.sql"

cpu() { head -1 /proc/stat; }
run() {
  local name=$1 file=$2 before after out
  before=$(cpu)
  out=$(PGOPTIONS="-c search_path=$schema" pgbench -n -M prepared -c "$clients" -j 2 -T "$secs" \
    -f "$file" "$url" 2>&1) || { echo "$name: pgbench failed:" >&2; echo "$out" >&2; exit 1; }
  after=$(cpu)
  python3 - "$name" "$before" "$after" "$out" <<'PY'
import re, sys, os
name, before, after, out = sys.argv[1:5]
tps = float(re.search(r"tps = ([0-9.]+)", out).group(1))
failed = re.search(r"number of failed transactions: (\d+)", out)
a = [int(x) for x in before.split()[1:]]
b = [int(x) for x in after.split()[1:]]
d = [y - x for x, y in zip(a, b)]
total = sum(d)
idle = (d[3] + d[4]) / total  # idle and iowait
cores = os.cpu_count()
busy = (1 - idle) * cores
print(f"{name:<22} {tps:>9,.0f}/s   {busy:4.2f} of {cores} cores busy   "
      f"{busy / tps * 1e6:6.0f} us of CPU each (pgbench's own share included)"
      + (f"   {failed.group(1)} failed" if failed and failed.group(1) != "0" else ""))
PY
}
echo "PostgreSQL $(psql -At "$url" -c 'SHOW server_version'), $clients clients, ${secs} s each, $(nproc) cores"
run "login (new person)" "$work/login.sql"
run "one-row insert" "$work/insert.sql"
run "SELECT 1" "$work/select.sql"
