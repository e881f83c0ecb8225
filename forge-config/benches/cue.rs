//! Criterion benchmark of the CUE core on a generated configuration corpus:
//! 100 project files shaped like SPEC §2.4, and one ~1 MiB file.
//! Reports parse throughput and parse+evaluate+export throughput (bytes/s).

#![allow(missing_docs)] // criterion_group! generates undocumented items
use criterion::{Criterion, Throughput, criterion_group, criterion_main};
use forge_config::cue::{EvalOptions, FileId, ParseOptions, SourceFile, evaluate_files, parse_file};

fn project(i: usize) -> String {
    format!(
        r#"package project

#Step: {{
    action:    "earthly" | "script"
    target?:   string
    run?:      string
    shell?:    string | *"sh"
    priority?: int | *0
    args?: [...string]
    timeout?:  string
}}

name: "svc-{i}"
ci: phases: [Phase=string]: [Step=string]: #Step
ci: phases: {{
    check: {{
        lint: {{action: "script", run: "make lint", priority: 5}}
        fmt:  {{action: "script", run: "cargo fmt --check"}}
    }}
    build: {{
        image: {{action: "earthly", target: "+docker", args: ["--push", "--tag=v{i}"]}}
        bin:   {{action: "earthly", target: "+build", timeout: "10m"}}
    }}
    test: unit: {{action: "earthly", target: "+test", priority: 1}}
}}
deployment: resources: [...{{apiVersion: string, kind: string, metadata: name: string, ...}}]
deployment: resources: [{{
    apiVersion: "apps/v1"
    kind:       "Deployment"
    metadata: name: "svc-{i}"
    spec: {{
        replicas: 2
        template: spec: containers: [{{name: "app", image: "registry.example/svc-{i}:v1", ports: [{{containerPort: 8080}}]}}]
    }}
}}]
release: {{
    on: [...({{branch: string}} | {{tag: true}})]
    on: [{{branch: "^main$"}}, {{tag: true}}]
    enabled: bool | *true
}}
artifacts: [Name=string]: {{
    type: "container" | "binary" | "archive"
    producer: earthly: {{target: string, args?: [...string]}}
    publishers: [string]: {{...}}
}}
artifacts: web: {{
    type: "container"
    producer: earthly: {{target: "+docker"}}
    publishers: docker: {{}}
}}
"#
    )
}

fn big_file() -> String {
    let mut s = String::from(
        "#Step: {action: \"earthly\" | \"script\", target?: string, run?: string, priority: int | *0, args: [...string]}\n",
    );
    let mut i = 0;
    while s.len() < 1 << 20 {
        s.push_str(&format!(
            "p{i}: {{\n    name: \"proj-{i}\"\n    version: \"1.{i}.0\"\n    steps: {{\n        build: #Step & {{action: \"earthly\", target: \"+build\", args: [\"--a={i}\", \"--b\"]}}\n        test: #Step & {{action: \"script\", run: \"make test-{i}\", priority: {}}}\n    }}\n    labels: {{team: \"t{}\", tier: \"backend\", replicas: {} * 2}}\n}}\n",
            i % 7,
            i % 13,
            i % 5
        ));
        i += 1;
    }
    s
}

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
