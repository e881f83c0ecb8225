//! Discovery benchmark (issue 4): a synthetic monorepo of 100 projects and 10,000 unrelated
//! files in deep folders with `.gitignore`s (made by `scripts/gen-synthetic-monorepo.sh`).
//!
//! - `walk`: the bare parallel walk discovery performs (the baseline);
//! - `cold`: full discovery (walk + read + parse + evaluate + validate + output) without cache;
//! - `warm`: full discovery with a warm content-hash cache.
//!
//! Targets: cold ≤ 3× walk, warm ≤ 1.5× walk. Run with
//! `cargo bench -p forge-config --bench discovery`; set `FORGE_BENCH_TREE` to reuse a tree.

// `criterion_group!` generates an undocumented public function.
#![allow(missing_docs)]

use std::path::{Path, PathBuf};
use std::sync::Arc;
use std::time::Duration;

use criterion::{Criterion, criterion_group, criterion_main};
use forge_config::cache::ConfigCache;
use forge_config::discovery::{Discoverer, bare_walk};
use forge_config::eval::evaluate;
use forge_config::schema::SchemaValidator;
use forge_config::schema::decode_project;
use forge_config::tree::Source;
use forge_config::trigger::GitContext;

fn tree() -> (PathBuf, Option<tempfile::TempDir>) {
    if let Ok(p) = std::env::var("FORGE_BENCH_TREE") {
        let p = PathBuf::from(p);
        if p.join(".forge/repo.cue").is_file() {
            return (p, None);
        }
    }
    let tmp = tempfile::tempdir().expect("tempdir");
    let root = tmp.path().join("mono");
    let script = Path::new(env!("CARGO_MANIFEST_DIR")).join("../scripts/gen-synthetic-monorepo.sh");
    let status = std::process::Command::new("bash").arg(&script).arg(&root).status().expect("run generator");
    assert!(status.success(), "generator failed");
    (root, Some(tmp))
}

fn bench(c: &mut Criterion) {
    let (root, _keep) = tree();
    let validator = Arc::new(SchemaValidator::builtin());
    let git = GitContext::branch("main");
    let check = Discoverer::new(validator.clone()).discover(&root, &git).expect("discovers");
    assert_eq!(check.projects.len(), 100);
    assert!(check.errors.is_empty(), "{:?}", check.errors);

    let mut g = c.benchmark_group("discovery");
    g.sample_size(20).measurement_time(Duration::from_secs(8)).warm_up_time(Duration::from_secs(2));
    g.bench_function("walk", |b| b.iter(|| bare_walk(&root)));
    g.bench_function("cold", |b| {
        b.iter(|| Discoverer::new(validator.clone()).discover(&root, &git).map(|d| d.projects.len()))
    });
    let cache = Arc::new(ConfigCache::default());
    let warm = Discoverer::new(validator.clone()).with_cache(cache);
    let _ = warm.discover(&root, &git);
    g.bench_function("warm", |b| b.iter(|| warm.discover(&root, &git).map(|d| d.projects.len())));
    g.finish();

    // Where the time goes: the parts of a cold discovery on their own.
    let mut parts = c.benchmark_group("discovery-parts");
    parts.sample_size(10).measurement_time(Duration::from_secs(4)).warm_up_time(Duration::from_secs(1));
    let repo = check.repository.clone();
    let sources: Vec<Vec<Source>> = check
        .projects
        .iter()
        .map(|p| {
            vec![Source::new(
                format!("{}/.forge/project.cue", p.path),
                std::fs::read_to_string(root.join(&p.path).join(".forge/project.cue")).expect("read"),
            )]
        })
        .collect();
    parts.bench_function("evaluate-100", |b| {
        b.iter(|| sources.iter().filter(|s| evaluate((*s).clone()).is_ok()).count())
    });
    let docs: Vec<_> = sources.iter().map(|s| evaluate(s.clone()).expect("evaluates")).collect();
    parts.bench_function("decode-100", |b| {
        b.iter(|| docs.iter().filter(|d| decode_project(d, &repo, &*validator).is_ok()).count())
    });
    parts.bench_function("serialize", |b| b.iter(|| serde_json::to_vec(&check).map(|v| v.len())));
    parts.finish();
}

criterion_group!(benches, bench);
criterion_main!(benches);
