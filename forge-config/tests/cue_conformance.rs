//! Directory-driven conformance test: every case in `tests/conformance/` is exported with
//! `forge_config::cue` in strict mode and compared with the expectation produced by the
//! official CUE evaluator (`scripts/cue-corpus-expect.sh`). `NAME.modern.{json,err}` (modern CUE
//! semantics) takes precedence over `NAME.expected.{json,err}` (CUE v0.4). For errors only
//! accept/reject is compared. Cases listed in `conformance/known_failures.txt` are reported but
//! do not fail the test; a listed case that passes does fail it (so the list stays honest).

use std::path::{Path, PathBuf};

use forge_config::cue::{EvalOptions, SourceFile, export_json};

enum Expect {
    Json(String),
    Err,
}

fn case_files(path: &Path) -> Vec<PathBuf> {
    if path.is_dir() {
        let mut v: Vec<PathBuf> =
            std::fs::read_dir(path).map(|rd| rd.filter_map(|e| e.ok().map(|e| e.path())).collect()).unwrap_or_default();
        v.retain(|p| p.extension().is_some_and(|e| e == "cue"));
        v.sort();
        v
    } else {
        vec![path.to_path_buf()]
    }
}

/// The cases of the corpus (`NAME.cue` files and `NAME/` directories), sorted.
fn corpus_entries(dir: &Path) -> Vec<PathBuf> {
    let mut entries: Vec<PathBuf> = std::fs::read_dir(dir)
        .expect("conformance dir")
        .filter_map(|e| e.ok().map(|e| e.path()))
        .filter(|p| p.is_dir() || p.extension().is_some_and(|e| e == "cue"))
        .collect();
    entries.sort();
    entries
}

fn expectation(dir: &Path, name: &str) -> Option<Expect> {
    for kind in ["modern", "expected"] {
        let j = dir.join(format!("{name}.{kind}.json"));
        if let Ok(s) = std::fs::read_to_string(&j) {
            return Some(Expect::Json(s));
        }
        if dir.join(format!("{name}.{kind}.err")).exists() {
            return Some(Expect::Err);
        }
    }
    None
}

fn run_case(files: Vec<PathBuf>) -> Result<String, String> {
    let handle = std::thread::Builder::new()
        .stack_size(64 * 1024 * 1024)
        .spawn(move || {
            let mut srcs = Vec::new();
            for f in &files {
                let text = std::fs::read_to_string(f).map_err(|e| e.to_string())?;
                let name = f.file_name().map(|n| n.to_string_lossy().to_string()).unwrap_or_default();
                srcs.push(SourceFile::new(name, text));
            }
            export_json(&srcs, &EvalOptions::strict()).map_err(|d| d.to_string())
        })
        .map_err(|e| e.to_string())?;
    handle.join().map_err(|_| "PANIC".to_string())?
}

#[test]
fn conformance_corpus() {
    let dir = Path::new(env!("CARGO_MANIFEST_DIR")).join("tests/conformance");
    let known: Vec<String> = std::fs::read_to_string(dir.join("known_failures.txt"))
        .unwrap_or_default()
        .lines()
        .map(|l| l.split('#').next().unwrap_or("").trim().to_string())
        .filter(|l| !l.is_empty())
        .collect();
    let filter = std::env::var("CUE_CASE").ok();
    let entries = corpus_entries(&dir);
    let (mut pass, mut total) = (0, 0);
    let mut unexpected = Vec::new();
    let mut known_hit = Vec::new();
    for p in entries {
        let name = p.file_stem().map(|s| s.to_string_lossy().to_string()).unwrap_or_default();
        if filter.as_ref().is_some_and(|f| !name.contains(f.as_str())) {
            continue;
        }
        let Some(exp) = expectation(&dir, &name) else {
            unexpected.push(format!("{name}: no expectation file"));
            continue;
        };
        total += 1;
        let got = run_case(case_files(&p));
        let ok = match (&exp, &got) {
            (Expect::Json(e), Ok(g)) => e == g,
            (Expect::Err, Err(g)) => !g.contains("PANIC"),
            _ => false,
        };
        let detail = match (&exp, &got) {
            (Expect::Json(e), Ok(g)) => format!("expected:\n{e}got:\n{g}"),
            (Expect::Json(e), Err(g)) => format!("expected:\n{e}got error:\n{g}"),
            (Expect::Err, Ok(g)) => format!("expected an error, got:\n{g}"),
            (Expect::Err, Err(g)) => g.clone(),
        };
        if filter.is_some() {
            eprintln!("== {name}: {}\n{detail}", if ok { "ok" } else { "FAIL" });
        }
        let is_known = known.contains(&name);
        if ok {
            pass += 1;
            if is_known {
                unexpected.push(format!("{name}: passes but is listed in known_failures.txt"));
            }
        } else if is_known {
            known_hit.push(name);
        } else {
            unexpected.push(format!("{name}: MISMATCH\n{detail}"));
        }
    }
    eprintln!("conformance: {pass}/{total} pass; known failures: {known_hit:?}");
    assert!(unexpected.is_empty(), "{} unexpected results:\n{}", unexpected.len(), unexpected.join("\n"));
}

/// `export_json` writes JSON straight from the evaluator; it must agree with the public
/// route (`evaluate_files` + `Value::to_json_string`) on every case of the corpus: the same
/// text, or the same errors (kind, message, path) — only the direct route adds the location
/// of an incomplete value.
#[test]
fn direct_export_agrees_with_the_value_tree() {
    use forge_config::cue::evaluate_files;
    let dir = Path::new(env!("CARGO_MANIFEST_DIR")).join("tests/conformance");
    let entries = corpus_entries(&dir);
    let handle = std::thread::Builder::new()
        .stack_size(64 * 1024 * 1024)
        .spawn(move || {
            let (mut ok, mut err) = (0, 0);
            for p in entries {
                let srcs: Vec<SourceFile> = case_files(&p)
                    .iter()
                    .map(|f| {
                        let name = f.file_name().map(|n| n.to_string_lossy().to_string()).unwrap_or_default();
                        SourceFile::new(name, std::fs::read_to_string(f).expect("case file"))
                    })
                    .collect();
                for opts in [EvalOptions::strict(), EvalOptions::config()] {
                    let direct = export_json(&srcs, &opts);
                    let tree = evaluate_files(&srcs, &opts).and_then(|v| v.to_json_string());
                    match (direct, tree) {
                        (Ok(a), Ok(b)) => {
                            assert_eq!(a, b, "{}: different JSON", p.display());
                            ok += 1;
                        }
                        (Err(a), Err(b)) => {
                            let key = |d: &forge_config::cue::Diagnostics| {
                                d.0.iter().map(|x| (x.kind, x.message.clone(), x.path.clone())).collect::<Vec<_>>()
                            };
                            assert_eq!(key(&a), key(&b), "{}: different errors", p.display());
                            err += 1;
                        }
                        (a, b) => panic!("{}: direct export {a:?}, value tree {b:?}", p.display()),
                    }
                }
            }
            (ok, err)
        })
        .expect("thread");
    let (ok, err) = handle.join().expect("no panic");
    // Both outcomes are exercised (the corpus has accepted and rejected cases).
    assert!(ok > 200 && err > 100, "ok {ok}, err {err}");
}
