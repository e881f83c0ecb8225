//! Shared helpers of the integration tests.
#![allow(dead_code)]

use std::path::{Path, PathBuf};
use std::sync::Arc;

use forge_config::discovery::{Discoverer, Discovery};
use forge_config::error::ConfigError;
use forge_config::schema::SchemaValidator;
use forge_config::trigger::GitContext;

/// The example monorepo of the workspace.
pub fn example_monorepo() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("../examples/monorepo")
}

/// This crate's fixtures.
pub fn fixture(name: &str) -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("tests/fixtures").join(name)
}

/// A discoverer with the built-in provider schemas.
pub fn discoverer() -> Discoverer {
    Discoverer::new(Arc::new(SchemaValidator::builtin()))
}

/// Discovers `root` for a git context.
pub fn discover(root: &Path, git: &GitContext) -> Discovery {
    match discoverer().discover(root, git) {
        Ok(d) => d,
        Err(e) => panic!("discovery failed: {e}"),
    }
}

/// Copies a tree (files and folders only).
pub fn copy_tree(from: &Path, to: &Path) {
    std::fs::create_dir_all(to).expect("mkdir");
    for entry in std::fs::read_dir(from).expect("read_dir") {
        let entry = entry.expect("entry");
        let ft = entry.file_type().expect("file type");
        let dest = to.join(entry.file_name());
        if ft.is_dir() {
            copy_tree(&entry.path(), &dest);
        } else if ft.is_file() {
            std::fs::copy(entry.path(), &dest).expect("copy");
        }
    }
}

/// Writes a file, creating its folders.
pub fn write(path: &Path, text: &str) {
    if let Some(p) = path.parent() {
        std::fs::create_dir_all(p).expect("mkdir");
    }
    std::fs::write(path, text).expect("write");
}

/// Renders diagnostics as miette does (no colour, unicode, fixed width).
pub fn render_diagnostics(errors: &[ConfigError]) -> String {
    let handler = miette::GraphicalReportHandler::new_themed(miette::GraphicalTheme::unicode_nocolor()).with_width(100);
    let mut out = String::new();
    for e in errors {
        handler.render_report(&mut out, e).expect("render");
        out.push('\n');
    }
    out
}

/// Replaces a line of a file (1-based) and returns the old one.
pub fn replace_in(path: &Path, from: &str, to: &str) {
    let text = std::fs::read_to_string(path).expect("read");
    assert!(text.contains(from), "{} does not contain {from:?}", path.display());
    std::fs::write(path, text.replacen(from, to, 1)).expect("write");
}

/// 1-based line of the first occurrence of `needle` in a file.
pub fn line_of(path: &Path, needle: &str) -> usize {
    let text = std::fs::read_to_string(path).expect("read");
    text.lines().position(|l| l.contains(needle)).map(|i| i + 1).unwrap_or_else(|| panic!("{needle:?} not found"))
}
