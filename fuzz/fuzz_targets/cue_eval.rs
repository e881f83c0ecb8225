//! Fuzz the CUE evaluator and export: no input may panic, hang or exhaust memory;
//! limits are small so that blow-ups surface as limit errors quickly.
#![no_main]

use forge_config::cue::{EvalOptions, SourceFile, evaluate_files};
use libfuzzer_sys::fuzz_target;

fuzz_target!(|data: &[u8]| {
    let Ok(text) = std::str::from_utf8(data) else { return };
    let mut opts = EvalOptions::config();
    opts.max_nodes = 20_000;
    opts.max_steps = 200_000;
    opts.max_depth = 60;
    if let Ok(v) = evaluate_files(&[SourceFile::new("fuzz.cue", text)], &opts) {
        let _ = v.to_json_string();
        let _ = v.to_yaml();
    }
});
