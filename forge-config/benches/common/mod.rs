//! The generated CUE corpus shared by the `cue` bench and the `cue_mem` example.

#![allow(dead_code)]

use forge_config::cue::SourceFile;

/// The 100 project files `p0.cue` .. `p99.cue`.
pub fn project_files() -> Vec<SourceFile> {
    (0..100).map(|i| SourceFile::new(format!("p{i}.cue"), project(i))).collect()
}

/// One project file shaped like SPEC §2.4.
pub fn project(i: usize) -> String {
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
#OnBranch: {{branch: string}}
#OnTag: {{tag: true}}
release: {{
    on: [...(#OnBranch | #OnTag)]
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

/// One ~1 MiB file of many small projects.
pub fn big_file() -> String {
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
