#!/usr/bin/env bash
# Regenerates the expected outputs of the CUE conformance corpus with the official CUE
# evaluator (cue-oracle.sh: CUE v0.4 compiled to wasm, run under node).
#
#   scripts/cue-corpus-expect.sh [CASE...]     (default: every case)
#
# A case is forge-config/tests/conformance/NAME.cue (one file) or NAME/ (a directory whose
# *.cue files are exported together). Writes NAME.expected.json (cue's stdout) when cue
# accepts, or NAME.expected.err (the single word "error"; wording is not compared) when it
# rejects. Cases where modern CUE (v0.6+) differs from v0.4 carry a `// modern: why` comment
# and a hand-written NAME.modern.json / NAME.modern.err, which the test prefers; this script
# never touches those.
set -euo pipefail
ROOT="$(cd "$(dirname "$0")/.." && pwd)"
DIR="$ROOT/forge-config/tests/conformance"
ORACLE="${CUE_ORACLE:-/work/shared/tools/cue-oracle.sh}"
cd "$DIR"

files=(); dirs=()
if [ "$#" -gt 0 ]; then
  for c in "$@"; do
    c="${c%.cue}"; c="${c%/}"
    if [ -d "$c" ]; then dirs+=("$c"); else files+=("$c.cue"); fi
  done
else
  for f in *.cue; do [ -e "$f" ] && files+=("$f"); done
  for d in */; do [ -d "$d" ] && dirs+=("${d%/}"); done
fi

write() { # reads JSON lines on stdin, writes expectations
  python3 -c '
import json, sys, os
for line in sys.stdin:
    line = line.strip()
    if not line.startswith("{"):
        continue
    r = json.loads(line)
    name = r.get("file") or r.get("dir")
    base = name[:-4] if name.endswith(".cue") else name.rstrip("/")
    for ext in (".expected.json", ".expected.err"):
        if os.path.exists(base + ext):
            os.remove(base + ext)
    if r["code"] == 0:
        open(base + ".expected.json", "w").write(r["stdout"])
    else:
        open(base + ".expected.err", "w").write("error\n")
    print(("ok   " if r["code"] == 0 else "err  ") + base)
'
}

if [ "${#files[@]}" -gt 0 ]; then "$ORACLE" batch-export "${files[@]}" | write; fi
if [ "${#dirs[@]}" -gt 0 ]; then "$ORACLE" export-case "${dirs[@]}" | write; fi
