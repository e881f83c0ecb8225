#!/usr/bin/env bash
# MSRV check (STYLE habit 10), as far as it can go with the one toolchain of this machine.
#
#   scripts/msrv-check.sh            checks 1-4 below
#   scripts/msrv-check.sh --build    also `cargo +<MSRV> check --workspace --all-features` when a
#                                    toolchain of exactly the MSRV is installed (rustup); fails
#                                    if it is not
#
# 1. `rust-version` is set in [workspace.package] (a plain X.Y or X.Y.Z version).
# 2. Every workspace member inherits it (`rust-version.workspace = true`) or sets one >= it.
# 3. The installed toolchain is >= it.
# 4. No package in the resolved dependency graph (Cargo.lock, all features, all targets, dev
#    dependencies included) declares a `rust-version` above it — a dependency that needs a newer
#    compiler makes the MSRV claim false even though this toolchain builds it.
#
# A real MSRV build needs that older toolchain (`rustup toolchain install <MSRV>`). This machine
# has only the current stable toolchain and cannot fetch another, so checks 1-4 are what CI runs
# here; run `--build` where the MSRV toolchain exists.
set -euo pipefail
cd "$(dirname "${BASH_SOURCE[0]}")/.."

build=0
[ "${1:-}" = "--build" ] && build=1

meta="$(mktemp)"
trap 'rm -f "$meta"' EXIT
cargo metadata --format-version 1 --locked >"$meta"

msrv="$(python3 - "$meta" <<'PY'
import json, re, sys, tomllib
from pathlib import Path

def ver(s):
    parts = [int(x) for x in s.split(".")]
    return tuple(parts + [0] * (3 - len(parts)))

errors = []
root = tomllib.loads(Path("Cargo.toml").read_text())
msrv = root.get("workspace", {}).get("package", {}).get("rust-version")
if not msrv or not re.fullmatch(r"\d+\.\d+(\.\d+)?", str(msrv)):
    sys.exit("msrv-check: set rust-version = \"X.Y\" in [workspace.package] of Cargo.toml")
m = json.load(open(sys.argv[1]))
members = set(m["workspace_members"])
for p in m["packages"]:
    manifest = tomllib.loads(Path(p["manifest_path"]).read_text()) if p["id"] in members else None
    if manifest is not None:
        rv = manifest.get("package", {}).get("rust-version")
        if rv is None:
            errors.append(f"workspace member {p['name']} has no rust-version (use rust-version.workspace = true)")
        elif isinstance(rv, str) and ver(rv) < ver(msrv):
            errors.append(f"workspace member {p['name']} has rust-version {rv} below the workspace's {msrv}")
    elif p.get("rust_version") and ver(p["rust_version"]) > ver(msrv):
        errors.append(f"dependency {p['name']} {p['version']} needs rustc {p['rust_version']} > MSRV {msrv}")
for e in errors:
    print(f"msrv-check: {e}", file=sys.stderr)
if errors:
    sys.exit(1)
deps = sum(1 for p in m["packages"] if p["id"] not in members)
print(f"msrv-check: {len(members)} workspace members inherit rust-version {msrv}; {deps} dependencies are compatible", file=sys.stderr)
print(msrv)
PY
)"

installed="$(rustc --version | awk '{print $2}')"
older="$(printf '%s\n%s\n' "$msrv" "${installed%%-*}" | sort -V | head -n1)"
if [ "$older" != "$msrv" ] && [ "$msrv" != "${installed%%-*}" ]; then
  echo "msrv-check: installed rustc $installed is older than the MSRV $msrv" >&2
  exit 1
fi
echo "msrv-check: MSRV $msrv, installed rustc $installed (>= MSRV)"

if [ "$build" = 1 ]; then
  if rustup toolchain list 2>/dev/null | grep -q "^$msrv"; then
    cargo "+$msrv" check --workspace --all-features --all-targets --locked
  else
    echo "msrv-check: no $msrv toolchain installed (rustup toolchain install $msrv); a real MSRV build is not possible here" >&2
    exit 1
  fi
else
  echo "msrv-check: note: only rustc $installed is installed; a real MSRV build needs the $msrv toolchain (--build)"
fi
