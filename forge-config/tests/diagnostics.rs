//! Rendered diagnostics of every `tests/diagnostics/*.cue` (a `project.cue` checked against the
//! SPEC fixture's `repo.cue`), pinned with insta: the position, the field path, expected and
//! found, and the hint of each error, all errors of a file at once.

mod common;

use common::*;
use forge_config::trigger::GitContext;

#[test]
fn diagnostics_snapshots() {
    let dir = std::path::Path::new(env!("CARGO_MANIFEST_DIR")).join("tests/diagnostics");
    let mut files: Vec<_> = std::fs::read_dir(&dir)
        .expect("read_dir")
        .filter_map(|e| e.ok().map(|e| e.path()))
        .filter(|p| p.extension().is_some_and(|x| x == "cue"))
        .collect();
    files.sort();
    assert!(files.len() >= 10);
    for file in files {
        let stem = file.file_stem().and_then(|s| s.to_str()).expect("stem").to_owned();
        let tmp = tempfile::tempdir().expect("tempdir");
        let root = tmp.path();
        copy_tree(&fixture("spec/.forge"), &root.join(".forge"));
        let text = std::fs::read_to_string(&file).expect("read");
        write(&root.join(format!("{stem}/.forge/project.cue")), &text);
        let d = discover(root, &GitContext::default());
        assert!(d.projects.is_empty(), "{stem}: expected errors");
        assert!(!d.errors.is_empty(), "{stem}: expected errors");
        let rendered = render_diagnostics(&d.diagnostics).replace(&*root.to_string_lossy(), "[ROOT]");
        let json = serde_json::to_string_pretty(&d.errors).expect("json");
        insta::assert_snapshot!(stem.clone(), format!("{rendered}\n{json}\n"));
    }
}
