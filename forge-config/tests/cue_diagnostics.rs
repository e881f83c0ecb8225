//! Snapshots of CUE diagnostics (rendered text and `--output json` data) and property tests of
//! literal round-trips.

use forge_config::cue::{EvalOptions, SourceFile, ValueKind, evaluate_files};
use proptest::prelude::*;

fn diags(text: &str) -> forge_config::cue::Diagnostics {
    match evaluate_files(&[SourceFile::new("project.cue", text)], &EvalOptions::config()) {
        Ok(v) => match v.to_json() {
            Ok(j) => panic!("expected an error, got {j}"),
            Err(d) => d,
        },
        Err(d) => d,
    }
}

#[test]
fn conflict_diagnostic() {
    let d = diags("name: \"web\"\nci: phases: build: {\n    priority: int & >=0\n    priority: -1\n}\n");
    insta::assert_snapshot!("cue_conflict_text", d.to_string());
    insta::assert_json_snapshot!("cue_conflict_json", d);
}

#[test]
fn closedness_diagnostic() {
    let d = diags("#Step: {action: \"earthly\" | \"script\"}\nstep: #Step & {action: \"script\", rn: \"make\"}\n");
    insta::assert_snapshot!("cue_closed_text", d.to_string());
}

#[test]
fn syntax_diagnostic() {
    let d = diags("name: \"web\"\nci: {\n    a: 1 2\n}\n");
    insta::assert_snapshot!("cue_syntax_text", d.to_string());
}

#[test]
fn incomplete_diagnostic() {
    let d = diags("image: string @artifact(\"web.uri\")\n");
    insta::assert_json_snapshot!("cue_incomplete_json", d);
}

fn cue_string_literal(s: &str) -> String {
    // serde_json's string escapes are all valid CUE escapes.
    serde_json::to_string(s).unwrap_or_default()
}

proptest! {
    #[test]
    fn strings_round_trip(s in "\\PC{0,40}") {
        let src = format!("a: {}\n", cue_string_literal(&s));
        let v = evaluate_files(&[SourceFile::new("p.cue", src)], &EvalOptions::strict());
        let v = v.map_err(|e| TestCaseError::fail(e.to_string()))?;
        prop_assert_eq!(v.get("a").and_then(|x| x.as_str()), Some(s.as_str()));
    }

    #[test]
    fn ints_round_trip(i in any::<i64>()) {
        let v = evaluate_files(&[SourceFile::new("p.cue", format!("a: {i}\nb: a + 0\n"))], &EvalOptions::strict())
            .map_err(|e| TestCaseError::fail(e.to_string()))?;
        prop_assert_eq!(v.get("b").and_then(|x| x.as_i64()), Some(i));
        let json = v.to_json_string().map_err(|e| TestCaseError::fail(e.to_string()))?;
        let want = format!("\"b\": {}", i);
        prop_assert!(json.contains(&want));
    }

    #[test]
    fn decimals_round_trip(m in -1_000_000i64..1_000_000, e in 1u32..6) {
        let text = format!("{}.{:0width$}", m / 10i64.pow(e), (m % 10i64.pow(e)).abs(), width = e as usize);
        let text = if m < 0 && !text.starts_with('-') { format!("-{text}") } else { text };
        let v = evaluate_files(&[SourceFile::new("p.cue", format!("a: {text}\n"))], &EvalOptions::strict())
            .map_err(|er| TestCaseError::fail(er.to_string()))?;
        let got = match v.get("a").map(|x| &x.kind) {
            Some(ValueKind::Float { value, .. }) => *value,
            other => return Err(TestCaseError::fail(format!("{other:?}"))),
        };
        let want: f64 = text.parse().unwrap_or(f64::NAN);
        prop_assert!((got - want).abs() < 1e-9);
    }
}
