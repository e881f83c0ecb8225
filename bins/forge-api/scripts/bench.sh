#!/usr/bin/env bash
# Benchmark of GET /v1/releases/{owner}/{name}/{project}/{alias} on PostgreSQL (issue 11):
# a fresh database, a release build of forge-api on loopback with a dev token, N releases
# seeded over the API, then wrk with random branch aliases.
#
# Env: FORGE_TEST_PG_URL (default postgres://postgres@127.0.0.1:5432/postgres),
#      FORGE_BENCH_RELEASES (10000), FORGE_BENCH_DURATION (20s), FORGE_BENCH_CONNECTIONS (32),
#      FORGE_BENCH_SKIP_BUILD=1 (use the existing release binary), CARGO_TARGET_DIR.
set -euo pipefail
here="$(cd "$(dirname "$0")" && pwd)"
root="$(cd "$here/../../.." && pwd)"
pg="${FORGE_TEST_PG_URL:-postgres://postgres@127.0.0.1:5432/postgres}"
n="${FORGE_BENCH_RELEASES:-10000}"
duration="${FORGE_BENCH_DURATION:-20s}"
conns="${FORGE_BENCH_CONNECTIONS:-32}"
target="${CARGO_TARGET_DIR:-$root/target}"
port="${FORGE_BENCH_PORT:-18181}"
token="bench-token-$RANDOM$RANDOM"
db="forge_bench_$RANDOM$RANDOM"

command -v wrk >/dev/null || { echo "wrk is required (apt-get install wrk)" >&2; exit 1; }
[ "${FORGE_BENCH_SKIP_BUILD:-0}" = 1 ] || (cd "$root" && cargo build --release -p forge-api)
psql "$pg" -qc "CREATE DATABASE $db"
url="${pg%/*}/$db"
"$target/release/forge-api" serve --listen "127.0.0.1:$port" --database-url "$url" --dev-token "$token" \
  >/tmp/forge-api-bench.log 2>&1 &
server=$!
cleanup() {
  kill "$server" 2>/dev/null || true
  wait "$server" 2>/dev/null || true
  psql "$pg" -qc "DROP DATABASE IF EXISTS $db WITH (FORCE)" || true
}
trap cleanup EXIT
for _ in $(seq 1 50); do curl -fs "http://127.0.0.1:$port/readyz" >/dev/null && break; sleep 0.2; done
time python3 "$here/seed.py" "http://127.0.0.1:$port" "$token" "$n"
export FORGE_BENCH_RELEASES="$n"
wrk -t2 -c"$conns" -d"$duration" --latency -s "$here/aliases.lua" \
  -H "Authorization: Bearer $token" "http://127.0.0.1:$port"
