//! Fuzz the CUE evaluator and export: no input may panic, hang or exhaust memory;
//! limits are small so that blow-ups surface as limit errors quickly.
//!
//! It is also differential: the streaming export (`export_json`, which drops each top-level
//! field's evaluation after writing it and re-evaluates it if referenced later) must give the
//! same text, or the same errors, as evaluating the whole tree (`evaluate_files` +
//! `to_json_string`). Only when a limit stops either route may they differ (re-evaluating a
//! dropped field costs steps the whole-tree route does not spend, and vice versa for nodes).
#![no_main]

use forge_config::cue::{DiagnosticKind, Diagnostics, EvalOptions, SourceFile, evaluate_files, export_json};
use libfuzzer_sys::fuzz_target;

fn limited(r: &Result<String, Diagnostics>) -> bool {
    r.as_ref().err().is_some_and(|d| d.0.iter().any(|x| x.kind == DiagnosticKind::Limit))
}

fuzz_target!(|data: &[u8]| {
    let Ok(text) = std::str::from_utf8(data) else { return };
    let mut opts = EvalOptions::config();
    opts.max_nodes = 20_000;
    opts.max_steps = 200_000;
    opts.max_depth = 60;
    let files = [SourceFile::new("fuzz.cue", text)];
    let whole = evaluate_files(&files, &opts);
    if let Ok(v) = &whole {
        let _ = v.to_yaml();
    }
    let tree = whole.and_then(|v| v.to_json_string());
    let direct = export_json(&files, &opts);
    if limited(&tree) || limited(&direct) {
        return;
    }
    match (&direct, &tree) {
        (Ok(a), Ok(b)) => assert_eq!(a, b, "streamed and whole-tree export differ"),
        (Err(a), Err(b)) => {
            let key = |d: &Diagnostics| d.0.iter().map(|x| (x.kind, x.message.clone(), x.path.clone())).collect::<Vec<_>>();
            assert_eq!(key(a), key(b), "streamed and whole-tree export report different errors");
        }
        _ => panic!("streamed export {direct:?}, whole tree {tree:?}"),
    }
});
