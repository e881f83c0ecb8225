//! Fuzz the CUE lexer and parser (both dialects): no input may panic or hang.
#![no_main]

use forge_config::cue::ast::Arena;
use forge_config::cue::{FileId, ParseOptions, SourceFile, parse_file};
use libfuzzer_sys::fuzz_target;

fuzz_target!(|data: &[u8]| {
    let Ok(text) = std::str::from_utf8(data) else { return };
    let file = SourceFile::new("fuzz.cue", text);
    let _ = parse_file(&Arena::new(), &file, FileId(0), &ParseOptions::strict());
    let _ = parse_file(&Arena::new(), &file, FileId(0), &ParseOptions::config());
});
