#!/usr/bin/env bash
# Times official CUE (cue-oracle.sh: CUE v0.4 compiled to wasm, run under node) on the CUE
# benchmark corpus and checks that it exports exactly what `forge cue export` does, so the
# evaluator's benchmark numbers can be reported as a ratio to official CUE.
#
#   scripts/cue-bench-oracle.sh [DIR]     (default DIR: a temporary directory)
#
# Writes the corpus with the `cue_mem` example (`dump`), then measures, by wall time:
# a trivial file (node + wasm start-up), the 1 MiB file, and the 100 project files in one
# node process (`batch-export`) against one project file in one process. Net times subtract
# the start-up. Needs node/npm (first use installs the oracle) and a release build of `forge`.
set -euo pipefail
ROOT="$(cd "$(dirname "$0")/.." && pwd)"
ORACLE="${CUE_ORACLE:-/work/shared/tools/cue-oracle.sh}"
DIR="${1:-$(mktemp -d)}"
TARGET="${CARGO_TARGET_DIR:-$ROOT/target}"
cd "$ROOT"
cargo build -q --release -p forge
cargo build -q --release -p forge-config --example cue_mem
"$TARGET/release/examples/cue_mem" dump "$DIR" >/dev/null
cd "$DIR"
now() { date +%s.%N; }
secs() { python3 -c "print(f'{$2 - $1:.3f}')"; }

echo 'a: 1' > trivial.cue
t0=$(now); "$ORACLE" export trivial.cue >/dev/null; t1=$(now)
startup=$(secs "$t0" "$t1")
echo "official start-up (trivial file): ${startup} s"

t0=$(now); "$ORACLE" export big.cue > big.official.json; t1=$(now)
big=$(secs "$t0" "$t1")
"$TARGET/release/forge" cue export big.cue > big.forge.json
if cmp -s big.official.json big.forge.json; then same=identical; else same=DIFFERENT; fi
bytes=$(stat -c %s big.cue)
python3 -c "n=$big-$startup; print(f'official big.cue ({$bytes} B): {$big:.3f} s, net {n:.3f} s = {$bytes/1e6/n:.3f} MB/s; output {\"$same\"} to forge cue export')"

t0=$(now); "$ORACLE" batch-export p0.cue >/dev/null; t1=$(now)
one=$(secs "$t0" "$t1")
t0=$(now); "$ORACLE" batch-export p*.cue > projects.official.jsonl; t1=$(now)
all=$(secs "$t0" "$t1")
pbytes=$(cat p*.cue | wc -c)
agree=$(python3 - "$TARGET/release/forge" <<'PY'
import json, subprocess, sys
ok = n = 0
for line in open("projects.official.jsonl"):
    r = json.loads(line)
    n += 1
    ours = subprocess.run([sys.argv[1], "cue", "export", r["file"]], capture_output=True, text=True)
    ok += int(r["code"] == 0 and ours.returncode == 0 and ours.stdout == r["stdout"])
print(f"{ok}/{n}")
PY
)
python3 -c "n=$all-$one; print(f'official 100 project files ({$pbytes} B, one process): {$all:.3f} s; one file {$one:.3f} s; net {n:.3f} s = {$pbytes/1e6/n:.4f} MB/s; identical to forge cue export: $agree')"
