#!/usr/bin/env bash
# Fuzz smoke test: builds every cargo-fuzz target of fuzz/ and runs each for a short bounded
# time. Targets are discovered with `cargo fuzz list`, so new ones are picked up automatically.
#
#   scripts/fuzz-smoke.sh [--build-only] [TARGET...]     (default: every target)
#
# Environment:
#   FUZZ_SECONDS      run time per target (libFuzzer -max_total_time), default 20
#   FUZZ_TARGET_DIR   build directory, default $CARGO_TARGET_DIR/fuzz (outside the clone; cargo
#                     fuzz builds for an explicit target triple, so sanitizer flags stay apart)
#   FUZZ_SANITIZER    address (default) or none
#
# cargo-fuzz needs nightly-only rustc flags; the toolchain here is stable, so RUSTC_BOOTSTRAP=1
# enables them. cargo-fuzz is installed with `cargo install cargo-fuzz --locked` when missing.
# Corpora grow in fuzz/corpus/<target> and crashes land in fuzz/artifacts/<target> (both
# git-ignored). A crash fails the script and prints how to reproduce it; turn the reproducer
# into a regression test of the crate that owns the parser.
set -euo pipefail
cd "$(dirname "${BASH_SOURCE[0]}")/.."

secs="${FUZZ_SECONDS:-20}"
target_dir="${FUZZ_TARGET_DIR:-${CARGO_TARGET_DIR:-/var/cache/forge-target}/fuzz}"
sanitizer="${FUZZ_SANITIZER:-address}"
build_only=0
want=()
for a in "$@"; do
  case "$a" in
    --build-only) build_only=1 ;;
    -h|--help) sed -n '2,19p' "$0"; exit 0 ;;
    -*) echo "fuzz-smoke: unknown option $a" >&2; exit 2 ;;
    *) want+=("$a") ;;
  esac
done

if [ ! -f fuzz/Cargo.toml ]; then
  echo "fuzz-smoke: no fuzz/Cargo.toml, nothing to fuzz"
  exit 0
fi

if ! command -v cargo-fuzz >/dev/null 2>&1; then
  echo "fuzz-smoke: installing cargo-fuzz"
  cargo install cargo-fuzz --locked
fi

export RUSTC_BOOTSTRAP=1
mkdir -p "$target_dir"

listing="$(cargo fuzz list)"
mapfile -t targets <<<"$listing"
[ -n "$listing" ] || targets=()
if [ ${#want[@]} -gt 0 ]; then
  for w in "${want[@]}"; do
    printf '%s\n' "${targets[@]}" | grep -qx -- "$w" || { echo "fuzz-smoke: no fuzz target $w (have: ${targets[*]})" >&2; exit 2; }
  done
  targets=("${want[@]}")
fi
if [ ${#targets[@]} -eq 0 ]; then
  echo "fuzz-smoke: fuzz/ has no targets"
  exit 0
fi
echo "fuzz-smoke: targets: ${targets[*]}"

t0=$(date +%s)
# One build of every target (release with debug assertions, the cargo-fuzz default).
if [ ${#want[@]} -eq 1 ]; then
  cargo fuzz build --sanitizer "$sanitizer" --target-dir "$target_dir" "${want[0]}"
else
  cargo fuzz build --sanitizer "$sanitizer" --target-dir "$target_dir"
fi
build_secs=$(( $(date +%s) - t0 ))
echo "fuzz-smoke: build of ${#targets[@]} target(s) took ${build_secs}s"
[ "$build_only" = 1 ] && exit 0

failed=()
for t in "${targets[@]}"; do
  mkdir -p "fuzz/corpus/$t" "fuzz/artifacts/$t"
  seeds=()
  [ -d "fuzz/seeds/$t" ] && seeds=("fuzz/seeds/$t")
  s0=$(date +%s)
  echo "=== fuzz-smoke: $t for ${secs}s"
  if cargo fuzz run --sanitizer "$sanitizer" --target-dir "$target_dir" "$t" "fuzz/corpus/$t" "${seeds[@]}" -- \
      -max_total_time="$secs" -timeout=10 -rss_limit_mb=2048 -print_final_stats=1 2>"fuzz/artifacts/$t.log"; then
    execs=$(grep -o 'stat::number_of_executed_units: *[0-9]*' "fuzz/artifacts/$t.log" | grep -o '[0-9]*$' || true)
    echo "fuzz-smoke: $t ok in $(( $(date +%s) - s0 ))s (${execs:-?} executions)"
  else
    failed+=("$t")
    tail -n 40 "fuzz/artifacts/$t.log" >&2
    echo "fuzz-smoke: $t FAILED; reproducers in fuzz/artifacts/$t/ (run: RUSTC_BOOTSTRAP=1 cargo fuzz run $t fuzz/artifacts/$t/<file>)" >&2
  fi
done
echo "fuzz-smoke: total $(( $(date +%s) - t0 ))s (build ${build_secs}s, ${secs}s per target)"
if [ ${#failed[@]} -gt 0 ]; then
  echo "fuzz-smoke: failing targets: ${failed[*]}" >&2
  exit 1
fi
