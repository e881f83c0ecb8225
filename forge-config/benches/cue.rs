//! Criterion benchmark of the CUE core on a generated configuration corpus:
//! 100 project files shaped like SPEC §2.4, and one ~1 MiB file.
//! Reports parse throughput and parse+evaluate+export throughput (bytes/s).

#![allow(missing_docs)] // criterion_group! generates undocumented items
use criterion::{Criterion, Throughput, criterion_group, criterion_main};
use forge_config::cue::{EvalOptions, FileId, ParseOptions, SourceFile, evaluate_files, parse_file};

mod common;
use common::{big_file, project};

fn bench(c: &mut Criterion) {
    let projects: Vec<SourceFile> = (0..100).map(|i| SourceFile::new(format!("p{i}.cue"), project(i))).collect();
    let proj_bytes: usize = projects.iter().map(|f| f.text().len()).sum();
    let big = SourceFile::new("big.cue", big_file());

    let mut g = c.benchmark_group("cue_projects");
    g.throughput(Throughput::Bytes(proj_bytes as u64));
    g.bench_function("parse", |b| {
        b.iter(|| {
            for f in &projects {
                let _ = parse_file(f, FileId(0), &ParseOptions::strict());
            }
        })
    });
    g.bench_function("parse_eval_export", |b| {
        b.iter(|| {
            for f in &projects {
                let v = evaluate_files(std::slice::from_ref(f), &EvalOptions::strict());
                let _ = v.map(|v| v.to_json_string());
            }
        })
    });
    g.finish();

    let mut g = c.benchmark_group("cue_big_1mib");
    g.sample_size(10);
    g.throughput(Throughput::Bytes(big.text().len() as u64));
    g.bench_function("parse", |b| b.iter(|| parse_file(&big, FileId(0), &ParseOptions::strict())));
    g.bench_function("parse_eval_export", |b| {
        b.iter(|| {
            let v = evaluate_files(std::slice::from_ref(&big), &EvalOptions::strict());
            v.map(|v| v.to_json_string())
        })
    });
    g.finish();
}

criterion_group!(benches, bench);
criterion_main!(benches);
