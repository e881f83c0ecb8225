#!/usr/bin/env python3
"""Differential testing of the CUE evaluator against official CUE.

Generates random configurations of one kind, exports each with official CUE (the oracle
`cue-oracle.sh`: CUE v0.4 under node; `CUE_ORACLE` overrides its path) and with the evaluator
(`cue_mem export`, which prints what `forge cue export` prints), and reports every case where
they disagree: a different JSON, or one accepting what the other rejects (error wording is not
compared).

    cargo build --release -p forge-config --example cue_mem
    python3 scripts/cue-diff.py KIND [COUNT] [SEED]

Kinds:
  order   one field unified from several literals (definitions, optional fields, repeated and
          dynamic labels, embeddings): field order
  defs    definitions embedding definitions, optional fields, patterns, `...`, instances,
          disjunctions of definitions, lists and maps of definitions: closedness and defaults
  comp    definitions with optional fields and defaults, iterated by comprehensions
  exprs   arithmetic, interpolation, selectors, indexes and standard-library calls
  lists   list literals with open and typed tails, unified, indexed, iterated and concatenated
  patterns  pattern constraints, optional fields and openness in definitions and plain structs
  builtins  standard-library calls on edge inputs (negative counts, empty strings, bad JSON)
  literals  number and string literal forms: bases, underscores, multipliers, escapes, raw,
          multi-line and bytes literals

Needs node and the oracle; CI does not run it. What it finds becomes a conformance case.
Known differences (see `forge_config::cue`'s docs): a default nested twice such as
`*((*1 | 2) | 3) | 4`, `list.Sort` (not supported), string and list repetition `"a" * 2`,
`[1] * 2` (removed in modern CUE), negative zero (`-3 * 0` is `-0` in CUE v0.4), `math`
functions computed in binary floating point (`Sqrt`, `Exp`, `Log`, non-integral powers).
"""
import json
import os
import random
import subprocess
import sys
import tempfile

ORACLE = os.environ.get("CUE_ORACLE", "/work/shared/tools/cue-oracle.sh")
TARGET = os.environ.get("CARGO_TARGET_DIR", os.path.join(os.path.dirname(__file__), "..", "target"))
EVAL = os.path.join(TARGET, "release", "examples", "cue_mem")
LABELS = list("abcdefgh")


def order_case(r):
    def literal(embed=True):
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
            parts.insert(r.randint(0, len(parts)), literal(False))
        return "{" + ", ".join(parts) + "}"

    lines = ['K%s: "%s"' % (l, l) for l in LABELS]
    lines.append("#D: {" + ", ".join("%s?: int" % l for l in LABELS) + "}")
    for _ in range(r.randint(1, 5)):
        lines.append("x: " + ("#D & " if r.random() < 0.3 else "") + literal())
    return lines


TYPES = {
    "int": ["1", "7"], "string": ['"s"'], "int | *3": ["4", None], '*"d" | string': ['"e"', None],
    "bool": ["true"], "[...int]": ["[1, 2]", "[]"], "{x: int | *1}": ["{x: 5}", "{}", None],
    "{...}": ["{k: 1}"], ">0": ["3"], "null | *{}": ["null", None], '"a" | "b"': ['"a"'],
}


def defs_case(r):
    info = {}
    lines = []
    for name in ["#A", "#B"]:
        fields = {l: (r.choice(list(TYPES)), r.choice(["", "", "?"])) for l in r.sample("abcde", r.randint(1, 3))}
        emb = r.choice(list(info)) if info and r.random() < 0.4 else None
        parts = ["%s%s: %s" % (l, o, t) for l, (t, o) in fields.items()]
        if emb:
            parts.insert(0, emb)
        if r.random() < 0.25:
            parts.append('[=~"^x"]: int')
        if r.random() < 0.15:
            parts.append("...")
        if name == "#B" and r.random() < 0.2:
            parts.append("z: #A")
        lines.append("%s: {%s}" % (name, ", ".join(parts)))
        info[name] = (fields, emb)

    def all_fields(d):
        fields, emb = info[d]
        out = dict(fields)
        if emb:
            out.update(all_fields(emb))
        return out

    for v in ["v1", "v2", "v3"]:
        d = r.choice(["#A", "#B"])
        lits = []
        for l, (t, _) in all_fields(d).items():
            if r.random() < 0.7:
                c = r.choice(TYPES[t])
                if c is not None:
                    lits.append("%s: %s" % (l, c))
        if r.random() < 0.15:
            lits.append(r.choice(["xq: 1", "zz: 1"]))
        pre = r.choice(["", "", "(#A | #B) & "])
        lines.append("%s: %s%s & {%s}" % (v, pre, d, ", ".join(lits)))
    if r.random() < 0.3:
        lines.append("w: [...#A] & [{}, v1]")
    if r.random() < 0.3:
        lines.append("m: {[string]: #B} & {k1: {}, k2: v2}")
    return lines


def comp_case(r):
    lines = defs_case(r)[:2]
    lines.append("x0: #A & {}")
    lines.append(r.choice([
        'c: [for k, v in x0 {"\\(k)"}]',
        'c: {for k, v in x0 {"k_\\(k)": v}}',
        "c: [for k, v in {a: 1, {b: 2}, c: 3} {k}]",
        "c: [for k, v in #B & {} {k}]",
    ]))
    return lines


def exprs_case(r):
    def expr(d, names):
        leaves = [lambda: str(r.randint(-3, 9)), lambda: '"%s"' % r.choice(["ab", "x-y", ""]),
                  lambda: r.choice(names) if names else "1"]
        ops = leaves + [
            lambda: "%s + %s" % (expr(d - 1, names), expr(d - 1, names)),
            lambda: "%s * %d" % (expr(d - 1, names), r.randint(0, 3)),
            lambda: '"pre-\\(%s)"' % expr(d - 1, names),
            lambda: "len(%s)" % r.choice(['"abc"', "[1, 2]", "{a: 1}"]),
            lambda: "strings.ToUpper(%s)" % expr(d - 1, names),
            lambda: "[%s, %s][%d]" % (expr(d - 1, names), expr(d - 1, names), r.randint(0, 2)),
            lambda: "{p: %s, q: %s}.%s" % (expr(d - 1, names), expr(d - 1, names), r.choice("pqr")),
            lambda: "%s == %s" % (expr(d - 1, names), expr(d - 1, names)),
            lambda: "%s < %s" % (expr(d - 1, names), expr(d - 1, names)),
            lambda: "%s / %s" % (expr(d - 1, names), r.choice(["2", "4.0", "0"])),
            lambda: "div(%s, 2)" % expr(d - 1, names),
            lambda: "[for x in [1, 2, 3] if x > %d {x * 2}]" % r.randint(0, 3),
            lambda: 'strings.Join([%s, "z"], "/")' % expr(d - 1, names),
        ]
        return r.choice(leaves if d <= 0 else ops)()

    lines = ['import "strings"', 'u: strings.ToLower("A")']
    names = []
    for f in "abcde":
        lines.append("%s: %s" % (f, expr(2, names)))
        names.append(f)
    return lines


def lists_case(r):
    structs = r.random() < 0.5
    elem = (lambda: r.choice(["{a: 1}", "{a: 2, b: 1}", "{}", "{b: 3}"])) if structs else (lambda: r.choice(["1", "2", "3"]))
    tails = ["", "", "...", "...#E", "...{a: int | *0}", "...{...}"] if structs else ["", "", "...", "...int", "...>0", "...(1 | 2 | 3)"]

    def lst(n=None):
        n = r.randint(0, 3) if n is None else n
        tail = r.choice(tails)
        return "[" + ", ".join([elem() for _ in range(n)] + ([tail] if tail else [])) + "]"

    lines = ["#E: {a: int | *0, b?: int}"]
    for f in "abcd":
        n = r.randint(0, 3)
        parts = [lst(n if r.random() < 0.8 else None) for _ in range(r.randint(1, 3))]
        lines.append("%s: %s" % (f, " & ".join(parts)))
    lines.append(r.choice([
        "e: [for i, v in a {i}]",
        "e: len(b)",
        "e: c[0]",
        "e: list.Concat([a, b])",
        "e: list.Contains(a, a[0])",
        "e: *a | b",
        "e: a | b",
        "e: list.Take(b, 1)",
        "e: {l: a} & {l: b}",
        "e: [for x in a if len(c) > 0 {x}]",
    ]))
    return ['import "list"'] + lines


def patterns_case(r):
    def pattern():
        return r.choice([
            '[=~"^x"]: int', '[=~"^x"]: >0', '[!~"^x"]: {n: int | *1, ...}', '[!~"^x"]: {...}',
            '[N=!~"^x"]: {name: N, ...}', '[!~"^x"]: {n?: int}', '["a" | "b"]: {m: 2, ...}'])

    def field(label):
        opt = "?" if r.random() < 0.2 else ""
        if label.startswith("x"):
            return "%s%s: %s" % (label, opt, r.choice(["1", "2", "int", ">0"]))
        return "%s%s: %s" % (label, opt, r.choice(["{}", "{n: 2}", "{m: 2}", "{k: 1}", "{n: 2, m: 2}"]))

    def struct(pats):
        parts = [pattern() for _ in range(pats)]
        parts += [field(l) for l in r.sample(["a", "b", "c", "xa", "xb"], r.randint(1, 3))]
        r.shuffle(parts)
        if r.random() < 0.2:
            parts.append("...")
        return "{" + ", ".join(parts) + "}"

    lines = ["#P: " + struct(r.randint(1, 2)), "q: " + struct(r.randint(1, 2))]
    for f in ["v", "w"]:
        lines.append("%s: %s & %s" % (f, r.choice(["#P", "q", "#P & q"]), struct(r.choice([0, 0, 1]))))
    if r.random() < 0.3:
        lines.append("n: [for k, _ in v {k}]")
    return lines


def builtins_case(r):
    s = lambda: r.choice(['"a,b,c"', '"Hello"', '""', '" x "', '"a-b"', "t"])
    n = lambda: r.choice(["0", "2", "-1", "3", "k"])
    calls = [
        lambda: "strings.Split(%s, \",\")" % s(),
        lambda: "strings.SplitN(%s, \"-\", %s)" % (s(), n()),
        lambda: "strings.Replace(%s, \"a\", \"z\", %s)" % (s(), n()),
        lambda: "strings.Index(%s, \"b\")" % s(),
        lambda: "strings.TrimSpace(%s)" % s(),
        lambda: "strings.Repeat(%s, %s)" % (s(), n()),
        lambda: "strings.Fields(%s)" % s(),
        lambda: "strings.ToTitle(%s)" % s(),
        lambda: "strings.Runes(%s)" % s(),
        lambda: "strconv.Itoa(%s)" % n(),
        lambda: "strconv.Atoi(%s)" % r.choice(['"12"', '"-3"', '"x"']),
        lambda: "strconv.FormatInt(%s, 2)" % n(),
        lambda: "strconv.Quote(%s)" % s(),
        lambda: "math.Abs(%s)" % n(),
        lambda: "math.Floor(%s)" % r.choice(["1.5", "-1.5", "2"]),
        lambda: "math.Pow(%s, 2)" % n(),
        lambda: "list.Range(0, %s, 1)" % n(),
        lambda: "list.Sum([1, 2, %s])" % n(),
        lambda: "list.Max([1, %s])" % n(),
        lambda: "list.Slice([1, 2, 3], 0, %s)" % n(),
        lambda: "list.Repeat([1], %s)" % n(),
        lambda: "list.FlattenN([[1, [2]], 3], %s)" % n(),
        lambda: "list.SortStrings([\"b\", %s])" % s(),
        lambda: "list.UniqueItems([1, %s])" % n(),
        lambda: "regexp.Find(\"[a-c]+\", %s)" % s(),
        lambda: "regexp.ReplaceAll(\"a\", %s, \"<$0>\")" % s(),
        lambda: "json.Marshal({a: %s, b: [%s]})" % (n(), s()),
        lambda: "yaml.Marshal({a: %s})" % s(),
        lambda: "json.Unmarshal(%s)" % r.choice(["'{\"a\": 1}'", "\"[1, 2.5, null]\"", "\"{\""]),
        lambda: "len(%s)" % s(),
        lambda: "%s & strings.MinRunes(2)" % s(),
        lambda: "%s & =~\"^[a-z]\"" % s(),
        lambda: "div(%s, 2) + mod(%s, 3)" % (n(), n()),
        lambda: "quo(%s, -2) + rem(%s, -2)" % (n(), n()),
    ]
    lines = ['import ("strings", "strconv", "math", "list", "regexp", "encoding/json", "encoding/yaml")',
             't: "tx"', "k: 2"]
    for f in "abcd":
        lines.append("%s: %s" % (f, r.choice(calls)()))
    return lines


def literals_case(r):
    nums = ["0x1F", "0o17", "0b101", "1_000", "1e3", "1.5e-3", "1K", "1Ki", "1.5M", "2Gi", ".5", "1.", "0.0",
            "-0.5", "+3", "07", "1e+2", "1E2", "0X1f", "1_0.5"]
    strs = [r'"a\tb"', r'"\u00e9"', r'"\U0001F600"', r'"q\"q"', r'#"raw\n"#', r'##"x"#"##', r'"\(1 + 1)"',
            r'#"a\#(2)"#', r"'bytes'", r"'\x41'", r'"\/"', r'"tab\there"', '"""\n    multi\n    line\n    """',
            "'''\n    b\n    '''", '"é"', r'"\a\b\f\v"', r'"\101"', '"a\\\nb"']
    lines = []
    for f in "abcdef":
        x = r.random()
        if x < 0.45:
            lines.append("%s: %s" % (f, r.choice(nums)))
        elif x < 0.9:
            lines.append("%s: %s" % (f, r.choice(strs)))
        else:
            lines.append("%s: %s + %s" % (f, r.choice(nums), r.choice(nums)))
    return lines


KINDS = {"order": order_case, "defs": defs_case, "comp": comp_case, "exprs": exprs_case, "lists": lists_case,
         "patterns": patterns_case, "builtins": builtins_case, "literals": literals_case}


def same_numbers(a, b):
    """Whether two JSON texts are equal with numbers compared by value (`1031.0` is `1031`),
    keys in order."""
    from decimal import Decimal
    try:
        load = lambda t: json.loads(t, parse_float=Decimal, parse_int=Decimal, object_pairs_hook=list)
        return load(a) == load(b)
    except ValueError:
        return False


def main():
    if len(sys.argv) < 2 or sys.argv[1] not in KINDS:
        print(__doc__)
        sys.exit(2)
    kind = KINDS[sys.argv[1]]
    count = int(sys.argv[2]) if len(sys.argv) > 2 else 300
    seed = int(sys.argv[3]) if len(sys.argv) > 3 else 1
    with tempfile.TemporaryDirectory() as d:
        files = []
        for i in range(count):
            path = os.path.join(d, "c%d.cue" % i)
            with open(path, "w") as f:
                f.write("\n".join(kind(random.Random(seed * 1_000_003 + i))) + "\n")
            files.append(path)
        out = subprocess.run([ORACLE, "batch-export", *files], capture_output=True, text=True, check=True)
        differ = accepted = modern = 0
        for line in out.stdout.splitlines():
            ref = json.loads(line)
            ours = subprocess.run([EVAL, "export", ref["file"]], capture_output=True, text=True)
            accepted += ref["code"] == 0
            if ref["code"] == 0 and ours.returncode == 0 and ours.stdout != ref["stdout"] \
                    and same_numbers(ours.stdout, ref["stdout"]):
                # only float rendering differs: modern CUE prints an integral float as `2.0`
                # where v0.4 prints `2` (the evaluator follows modern CUE here)
                modern += 1
                continue
            if ours.returncode != ref["code"] or (ref["code"] == 0 and ours.stdout != ref["stdout"]):
                differ += 1
                with open(ref["file"]) as f:
                    verdict = "CUE accepts" if ref["code"] == 0 else "CUE rejects"
                    print("--- differs (%s, we %s):\n%s" % (verdict, "accept" if ours.returncode == 0 else "reject", f.read()))
        print("%d cases (%d accepted by CUE), %d differ%s" % (
            count, accepted, differ, ", %d only in modern float rendering" % modern if modern else ""))
        sys.exit(1 if differ else 0)


if __name__ == "__main__":
    main()
