#!/usr/bin/env bash
# Property-based API testing of forge-api with schemathesis (issue 11): starts a dev server
# (SQLite in a temp dir, dev token, loopback) and runs schemathesis against /openapi.json for a
# bounded number of examples per operation. Fails on 5xx responses and schema violations.
#
# Env: FORGE_ST_MAX_EXAMPLES (default 25), FORGE_ST_PORT (default 18282),
#      FORGE_ST_VENV (default /var/cache/forge-api-venv), FORGE_ST_SKIP_BUILD=1 (use the
#      existing debug binary), CARGO_TARGET_DIR.
set -euo pipefail
root="$(cd "$(dirname "$0")/.." && pwd)"
venv="${FORGE_ST_VENV:-/var/cache/forge-api-venv}"
examples="${FORGE_ST_MAX_EXAMPLES:-25}"
port="${FORGE_ST_PORT:-18282}"
target="${CARGO_TARGET_DIR:-$root/target}"
token="st-token-$RANDOM$RANDOM"

if [ ! -x "$venv/bin/schemathesis" ]; then
  python3 -m venv "$venv"
  "$venv/bin/pip" install -q 'schemathesis>=4,<5'
fi
[ "${FORGE_ST_SKIP_BUILD:-0}" = 1 ] || (cd "$root" && cargo build -p forge-api)
tmp="$(mktemp -d)"
"$target/debug/forge-api" serve --listen "127.0.0.1:$port" --database-url "sqlite://$tmp/st.db" \
  --dev-token "$token" >"$tmp/server.log" 2>&1 &
server=$!
cleanup() {
  kill "$server" 2>/dev/null || true
  wait "$server" 2>/dev/null || true
  rm -rf "$tmp"
}
trap cleanup EXIT
for _ in $(seq 1 50); do curl -fs "http://127.0.0.1:$port/readyz" >/dev/null && break; sleep 0.2; done
# Seed a repository and a release so that reads and writes can reach real entities.
auth=(-H "Authorization: Bearer $token" -H "Content-Type: application/json")
curl -fs "${auth[@]}" -d '{"repository":"acme/shop"}' "http://127.0.0.1:$port/v1/repositories" >/dev/null
curl -fs "${auth[@]}" -d '{"repository":"acme/shop","project":"web","commit_sha":"0123456789abcdef0123456789abcdef01234567","trigger":{"type":"branch_push","branch":"main","actor":"ci"},"oci_ref":"registry.example:5000/acme/shop/web:0123456789abcdef0123456789abcdef01234567","oci_digest":"sha256:00"}' \
  "http://127.0.0.1:$port/v1/releases" >/dev/null
status=0
cd "$tmp" # schemathesis writes its cache (.schemathesis/) to the working directory
"$venv/bin/schemathesis" run "http://127.0.0.1:$port/openapi.json" \
  -H "Authorization: Bearer $token" \
  --max-examples "$examples" \
  --checks not_a_server_error,status_code_conformance,content_type_conformance,response_schema_conformance,response_headers_conformance \
  --generation-deterministic || status=$?
if grep -q "internal error" "$tmp/server.log"; then
  echo "server logged internal errors:" >&2
  grep "internal error" "$tmp/server.log" | head -20 >&2
fi
exit "$status"
