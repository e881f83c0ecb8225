#!/usr/bin/env bash
# The test command of the README: starts the real test services (scripts/services.sh) and
# runs every test of the workspace (nextest for unit/integration tests, then doctests).
# Tests that need a service fail instead of skipping, because FORGE_TEST_REQUIRE_SERVICES=1.
set -euo pipefail
cd "$(dirname "${BASH_SOURCE[0]}")/.."
export CARGO_TARGET_DIR="${CARGO_TARGET_DIR:-/var/cache/forge-target}"
bash scripts/services.sh up
# shellcheck disable=SC1091
source scripts/services.env
export FORGE_TEST_REQUIRE_SERVICES=1
cargo nextest run --workspace --all-features --no-fail-fast "$@"
cargo test --workspace --all-features --doc
