//! Criterion benchmark of the CUE core on a generated configuration corpus:
//! 100 project files shaped like SPEC §2.4, and one ~1 MiB file.
//! Reports parse throughput and parse+evaluate+export throughput (bytes/s).

#![allow(missing_docs)] // criterion_group! generates undocumented items
use criterion::{Criterion, Throughput, criterion_group, criterion_main};
use forge_config::cue::ast::Arena;
use forge_config::cue::{EvalOptions, FileId, ParseOptions, SourceFile, export_json, parse_file};

mod common;
use common::{big_file, project_files};

fn bench(c: &mut Criterion) {
    let projects = project_files();
    let proj_bytes: usize = projects.iter().map(|f| f.text().len()).sum();
    let big = SourceFile::new("big.cue", big_file());
    // The corpus must evaluate: a benchmark of the error path would measure nothing useful.
    for f in projects.iter().chain(std::iter::once(&big)) {
        if let Err(e) = export_json(std::slice::from_ref(f), &EvalOptions::strict()) {
            panic!("benchmark corpus file {} does not export: {e}", f.name());
        }
    }

    let mut g = c.benchmark_group("cue_projects");
    g.throughput(Throughput::Bytes(proj_bytes as u64));
    g.bench_function("parse", |b| {
        b.iter(|| {
            for f in &projects {
                // one arena per file, as the evaluator uses: its set-up and release are parse cost
                let arena = Arena::new();
                let _ = parse_file(&arena, f, FileId(0), &ParseOptions::strict()).is_ok();
            }
        })
    });
    g.bench_function("parse_eval_export", |b| {
        b.iter(|| {
            for f in &projects {
                let _ = export_json(std::slice::from_ref(f), &EvalOptions::strict());
            }
        })
    });
    g.finish();

    let mut g = c.benchmark_group("cue_big_1mib");
    g.sample_size(10);
    g.throughput(Throughput::Bytes(big.text().len() as u64));
    g.bench_function("parse", |b| {
        b.iter(|| {
            let arena = Arena::new();
            parse_file(&arena, &big, FileId(0), &ParseOptions::strict()).is_ok()
        })
    });
    g.bench_function("parse_eval_export", |b| {
        b.iter(|| export_json(std::slice::from_ref(&big), &EvalOptions::strict()))
    });
    g.finish();
}

criterion_group!(benches, bench);
criterion_main!(benches);
