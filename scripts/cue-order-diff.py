#!/usr/bin/env python3
"""Differential check of CUE field order against official CUE.

Generates random configurations where one field is unified from several struct literals
(definitions, optional fields, repeated labels, dynamic labels, embeddings), exports each with
official CUE (the oracle `cue-oracle.sh`: CUE v0.4 under node; `CUE_ORACLE` overrides its path)
and with the evaluator (`cue_mem export`), and reports every difference.

    cargo build --release -p forge-config --example cue_mem
    python3 scripts/cue-order-diff.py [COUNT] [SEED]

Needs node and the oracle; CI does not run it (the conformance corpus pins what it found).
"""
import json
import os
import random
import subprocess
import sys
import tempfile

LABELS = list("abcdefgh")
ORACLE = os.environ.get("CUE_ORACLE", "/work/shared/tools/cue-oracle.sh")
TARGET = os.environ.get("CARGO_TARGET_DIR", os.path.join(os.path.dirname(__file__), "..", "target"))
EVAL = os.path.join(TARGET, "release", "examples", "cue_mem")


def literal(r, embed=True):
    parts = []
    for label in r.sample(LABELS, r.randint(1, 5)):
        x = r.random()
        if x < 0.2:
            parts.append('"\\(K%s)": 1' % label)
        elif x < 0.35:
            parts.append("%s?: int" % label)
        else:
            parts.append("%s: 1" % label)
    if r.random() < 0.15:
        parts.append(r.choice(parts))
    if embed and r.random() < 0.25:
        parts.insert(r.randint(0, len(parts)), literal(r, False))
    return "{" + ", ".join(parts) + "}"


def case(r):
    lines = ['K%s: "%s"' % (l, l) for l in LABELS]
    lines.append("#D: {" + ", ".join("%s?: int" % l for l in LABELS) + "}")
    for _ in range(r.randint(1, 5)):
        lines.append("x: " + ("#D & " if r.random() < 0.3 else "") + literal(r))
    return "\n".join(lines) + "\n"


def main():
    count = int(sys.argv[1]) if len(sys.argv) > 1 else 300
    seed = int(sys.argv[2]) if len(sys.argv) > 2 else 1
    with tempfile.TemporaryDirectory() as d:
        files = []
        for i in range(count):
            path = os.path.join(d, "c%d.cue" % i)
            with open(path, "w") as f:
                f.write(case(random.Random(seed * 1_000_003 + i)))
            files.append(path)
        out = subprocess.run([ORACLE, "batch-export", *files], capture_output=True, text=True, check=True)
        differ = accepted = 0
        for line in out.stdout.splitlines():
            ref = json.loads(line)
            ours = subprocess.run([EVAL, "export", ref["file"]], capture_output=True, text=True)
            accepted += ref["code"] == 0
            if ours.returncode != ref["code"] or (ref["code"] == 0 and ours.stdout != ref["stdout"]):
                differ += 1
                with open(ref["file"]) as f:
                    print("--- differs:\n" + "".join(l for l in f if l.startswith("x")))
        print("%d cases (%d accepted by CUE), %d differ" % (count, accepted, differ))
        sys.exit(1 if differ else 0)


if __name__ == "__main__":
    main()
