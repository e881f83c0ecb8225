#!/usr/bin/env bash
# Keeps the Earthfile honest on a machine without Earthly (this one, and CI).
#
#   scripts/earthfile-check.sh [--structure-only] [--print] [--only REGEX] [--skip REGEX] [TARGET...]
#
# 1. Structure (always): VERSION first; the targets check, build, images, docs (and every target
#    named by FROM/BUILD/COPY +target) exist; every command is a known Earthfile command; every
#    local COPY source exists in the repository; every `COPY +target/artifact` names an artifact
#    that target SAVEs; every `cargo ... -p PKG` names a workspace package; every workspace
#    member is copied into the build context.
# 2. Plain shell (unless --structure-only): for each TARGET (default: check) the RUN lines of the
#    target and of the targets it is built FROM are run with `sh -c` from the repository root, in
#    order, with its ARGs (defaults, overridable from the environment) and ENVs exported. A target
#    whose FROM is an external image (+toolchain, +runtime) is environment setup: the machine
#    provides it (.ci/run installs what the checks need), so its lines are not run. COPY, SAVE,
#    WORKDIR and image metadata are no-ops here: the sources already are the working directory.
#    Artifacts of +build/+docs go to $DIST (default $CARGO_TARGET_DIR/earthfile-check/dist), not
#    into the work tree. Image targets (their RUN lines need a Debian image as root) are checked
#    structurally only.
#    --only/--skip filter the RUN lines by an extended regular expression; --print shows the
#    shell without running it.
set -euo pipefail
cd "$(dirname "${BASH_SOURCE[0]}")/.."
export CARGO_TARGET_DIR="${CARGO_TARGET_DIR:-/var/cache/forge-target}"
export DIST="${DIST:-$CARGO_TARGET_DIR/earthfile-check/dist}"

structure_only=0 print=0 only="" skip=""
targets=()
while [ $# -gt 0 ]; do
  case "$1" in
    --structure-only) structure_only=1 ;;
    --print) print=1 ;;
    --only) only="$2"; shift ;;
    --skip) skip="$2"; shift ;;
    -h|--help) sed -n '2,25p' "$0"; exit 0 ;;
    -*) echo "earthfile-check: unknown option $1" >&2; exit 2 ;;
    *) targets+=("${1#+}") ;;
  esac
  shift
done
[ ${#targets[@]} -gt 0 ] || targets=(check)

PY=python3
command -v "$PY" >/dev/null || { echo "earthfile-check: python3 is required" >&2; exit 2; }

plan="$(mktemp)"
trap 'rm -f "$plan"' EXIT

"$PY" - "$structure_only" "$plan" "${targets[@]}" <<'PY'
import glob, json, os, re, shlex, sys, tomllib
from pathlib import Path

structure_only = sys.argv[1] == "1"
plan_path = sys.argv[2]
wanted = sys.argv[3:]
REQUIRED = ["check", "build", "images", "docs", "api-image", "worker-image", "cmp-image", "cmp-sidecar-image"]
KNOWN = {"FROM", "RUN", "COPY", "ARG", "ENV", "WORKDIR", "USER", "EXPOSE", "ENTRYPOINT", "CMD",
         "SAVE", "BUILD", "LABEL", "VOLUME", "LET", "SET", "CACHE", "IF", "ELSE", "END", "FOR", "WAIT"}
errors = []

text = Path("Earthfile").read_text()
# Join continuation lines, keep line numbers of the first physical line.
logical = []
buf, start = "", 0
for n, line in enumerate(text.splitlines(), 1):
    if not buf:
        start = n
    if line.rstrip().endswith("\\"):
        buf += line.rstrip()[:-1].rstrip() + " "
        continue
    buf += line
    logical.append((start, buf))
    buf = ""
if buf:
    errors.append("Earthfile ends inside a line continuation")

targets = {}      # name -> list of (line, cmd, args)
order = []
global_args = []  # (name, default)
current = None
version_seen = False
for n, line in logical:
    s = line.strip()
    if not s or s.startswith("#"):
        continue
    m = re.match(r"^([a-z][a-zA-Z0-9_-]*):\s*$", line)
    if m:
        current = m.group(1)
        if current in targets:
            errors.append(f"line {n}: target {current} defined twice")
        targets[current] = []
        order.append(current)
        continue
    if not line[0].isspace():
        if s.startswith("VERSION "):
            if current is not None or version_seen:
                errors.append(f"line {n}: VERSION must come first, once")
            version_seen = True
            continue
        if current is None and s.startswith("ARG "):
            parts = s.split()
            if "--global" not in parts:
                errors.append(f"line {n}: base-target ARG should be --global")
            spec = [p for p in parts[1:] if not p.startswith("--")][0]
            name, _, default = spec.partition("=")
            global_args.append((name, default))
            continue
        errors.append(f"line {n}: unexpected unindented line: {s[:60]}")
        continue
    if current is None:
        errors.append(f"line {n}: command outside a target")
        continue
    cmd, _, rest = s.partition(" ")
    if cmd not in KNOWN:
        errors.append(f"line {n}: unknown Earthfile command {cmd}")
    targets[current].append((n, cmd, rest.strip()))

if not version_seen:
    errors.append("no VERSION line")
for t in REQUIRED:
    if t not in targets:
        errors.append(f"required target +{t} is missing")

def saved_artifacts(t):
    out = set()
    for n, cmd, rest in targets.get(t, []):
        if cmd == "SAVE" and rest.startswith("ARTIFACT "):
            parts = [p for p in rest.split()[1:] if not p.startswith("--")]
            if not parts:
                continue
            src = parts[0]
            dest = parts[1] if len(parts) > 1 and parts[1] != "AS" else None
            out.add(os.path.basename((dest or src).rstrip("/")))
    return out

# Workspace packages, for `cargo ... -p PKG`.
packages = set()
root = tomllib.loads(Path("Cargo.toml").read_text())
for member in root.get("workspace", {}).get("members", []):
    for d in glob.glob(member):
        mf = Path(d) / "Cargo.toml"
        if mf.exists():
            packages.add(tomllib.loads(mf.read_text()).get("package", {}).get("name"))

for t in order:
    for n, cmd, rest in targets[t]:
        where = f"+{t} line {n}"
        if cmd in ("FROM", "BUILD"):
            ref = rest.split()[0] if rest else ""
            if ref.startswith("+") and ref[1:] not in targets:
                errors.append(f"{where}: {cmd} {ref}: no such target")
        if cmd == "COPY":
            parts = shlex.split(rest)
            parts = [p for p in parts if not p.startswith("--")]
            if len(parts) < 2:
                errors.append(f"{where}: COPY needs a source and a destination")
                continue
            for src in parts[:-1]:
                if src.startswith("+"):
                    tgt, _, art = src[1:].partition("/")
                    if tgt not in targets:
                        errors.append(f"{where}: COPY {src}: no such target")
                    elif os.path.basename(art.rstrip("/")) not in saved_artifacts(tgt):
                        errors.append(f"{where}: COPY {src}: +{tgt} saves no artifact {art!r}")
                elif "$" in src:
                    errors.append(f"{where}: COPY {src}: variable source paths cannot be checked")
                elif not glob.glob(src):
                    errors.append(f"{where}: COPY source {src!r} does not exist in the repository")
        if cmd == "RUN" and "cargo" in rest:
            for pkg in re.findall(r"(?:^|\s)-p\s+([A-Za-z0-9_-]+)", rest):
                if pkg not in packages:
                    errors.append(f"{where}: cargo -p {pkg}: not a workspace package")

# Every workspace member must reach the build context through some COPY (else +src misses it).
copied = set()
for t in order:
    for n, cmd, rest in targets[t]:
        if cmd == "COPY":
            parts = [p for p in shlex.split(rest) if not p.startswith("--")]
            copied.update(p.rstrip("/") for p in parts[:-1] if not p.startswith("+"))
for member in root.get("workspace", {}).get("members", []):
    top = member.split("/")[0]
    if member not in copied and top not in copied:
        errors.append(f"workspace member {member} is not copied into the build by any COPY")

for w in wanted:
    if w not in targets:
        errors.append(f"requested target +{w} does not exist")

if errors:
    for e in errors:
        print(f"earthfile-check: {e}", file=sys.stderr)
    sys.exit(1)
print(f"earthfile-check: structure OK ({len(order)} targets: {' '.join('+' + t for t in order)})")
if structure_only:
    open(plan_path, "w").close()
    sys.exit(0)

IMAGE_TARGETS = {"runtime", "toolchain", "images"} | {t for t in targets if t.endswith("-image")}

def chain(t, seen=()):
    """Targets from the first non-setup ancestor down to t."""
    if t in seen:
        sys.exit(f"earthfile-check: FROM cycle at +{t}")
    cmds = targets[t]
    base = next((rest.split()[0] for _, c, rest in cmds if c == "FROM"), None)
    if base is None or not base.startswith("+"):
        return [], t  # environment setup: FROM an external image
    up, setup = chain(base[1:], seen + (t,))
    return up + [t], setup

plan = []
for t in wanted:
    if t in IMAGE_TARGETS:
        plan.append({"comment": f"+{t}: image target, checked structurally only"})
        continue
    ts, setup = chain(t)
    if not ts:
        plan.append({"comment": f"+{t}: environment setup (FROM an external image), not run"})
        continue
    plan.append({"comment": f"+{setup}: environment setup, provided by the machine (not run)"})
    for tt in ts:
        for n, cmd, rest in targets[tt]:
            if cmd == "ARG":
                spec = [p for p in rest.split() if not p.startswith("--")][0]
                name, _, default = spec.partition("=")
                plan.append({"arg": name, "default": default})
            elif cmd == "ENV":
                name, _, value = rest.partition("=")
                plan.append({"env": name.strip(), "value": value.strip()})
            elif cmd == "RUN":
                words = rest
                while words.startswith("--"):
                    words = words.split(None, 1)[1] if " " in words else ""
                plan.append({"run": words, "where": f"+{tt} line {n}"})
for name, default in global_args:
    plan.insert(0, {"arg": name, "default": default})
Path(plan_path).write_text(json.dumps(plan))
PY

[ "$structure_only" = 1 ] && exit 0

# Turn the plan into shell lines, one record per line: KIND<TAB>A<TAB>B (newlines escaped).
mapfile -t records < <("$PY" - "$plan" <<'PY'
import json, sys
for item in json.load(open(sys.argv[1])):
    if "comment" in item:
        print("comment\t" + item["comment"])
    elif "arg" in item:
        print(f"arg\t{item['arg']}\t{item['default']}")
    elif "env" in item:
        print(f"env\t{item['env']}\t{item['value']}")
    else:
        print("run\t" + item["where"] + "\t" + item["run"].replace("\t", " "))
PY
)

started=$(date +%s)
ran=0
for rec in "${records[@]}"; do
  IFS=$'\t' read -r kind a b <<<"$rec"
  case "$kind" in
    comment) echo "# $a" ;;
    arg)
      # ENV/ARG of the Earthfile never override what the caller set (CARGO_TARGET_DIR, DIST, ...).
      if [ -z "${!a+x}" ]; then export "$a=$b"; fi ;;
    env)
      if [ "$a" = CARGO_TARGET_DIR ] || [ -n "${!a+x}" ]; then :; else export "$a=$b"; fi ;;
    run)
      cmd="$b"
      if [ -n "$only" ] && ! grep -Eq -- "$only" <<<"$cmd"; then continue; fi
      if [ -n "$skip" ] && grep -Eq -- "$skip" <<<"$cmd"; then echo "# skipped ($a): $cmd"; continue; fi
      echo "+ ($a) $cmd"
      if [ "$print" = 0 ]; then
        t0=$(date +%s)
        sh -c "$cmd" || { echo "earthfile-check: FAILED at $a: $cmd" >&2; exit 1; }
        echo "  ok in $(( $(date +%s) - t0 ))s"
        ran=$((ran + 1))
      fi ;;
  esac
done
[ "$print" = 1 ] || echo "earthfile-check: ${ran} RUN line(s) passed in $(( $(date +%s) - started ))s"
