//! Every shape of SPEC §2 parses and validates: a `repo.cue` and a `project.cue` that use each
//! field of §2.3 and §2.4 (including the schema definitions written as CUE), both attribute
//! forms, and rendering against the §4.4 output schema.

mod common;

use common::*;
use forge_config::render::{RenderOptions, render};
use forge_config::schema::{Producer, StepAction, TaggingStrategy};
use forge_config::trigger::GitContext;
use serde_json::json;

#[test]
fn spec_repo_and_project_validate() {
    let d = discover(&fixture("spec"), &GitContext::branch("release/1.x"));
    assert!(d.errors.is_empty(), "{}", render_diagnostics(&d.diagnostics));
    assert_eq!(d.repository.tagging.strategy, TaggingStrategy::Monorepo);
    assert_eq!(d.repository.phases["build"].timeout.as_deref(), Some("1h30m"));
    assert!(d.repository.phases["check"].required);
    assert_eq!(d.repository.publishers["github"].credentials.as_ref().map(|c| c.provider.as_str()), Some("aws"));
    let app = d.project("app").expect("app");
    assert!(app.release_triggered && app.deployment_triggered);
    let check: Vec<&str> = app.phases["check"].iter().map(|s| s.name.as_str()).collect();
    assert_eq!(check, ["lint", "fmt"], "priority 10 before 0");
    let lint = &app.phases["check"][0];
    assert_eq!((lint.action, lint.shell.as_str(), lint.timeout.as_deref()), (StepAction::Script, "bash", Some("5m")));
    assert_eq!(lint.secrets[0].field("env"), Some("CARGO_REGISTRY_TOKEN"));
    assert_eq!(app.phases["test"][0].priority, -1);
    let server = &app.config.artifacts["server"];
    assert!(matches!(&server.producer, Producer::Earthly { target, .. } if target == "+docker"));
    assert_eq!(server.publishers.keys().collect::<Vec<_>>(), ["docker", "github"]);
    insta::assert_json_snapshot!("spec_discovery", d);
}

#[test]
fn spec_project_renders() {
    let d = discover(&fixture("spec"), &GitContext::default());
    let app = d.project("app").expect("app");
    let schema = json!({
        "server": {
            "image_ref": "server:local", "digest": "sha256:abc", "size": 10,
            "uri": "registry.example:5000/acme/server:v1",
            "tracking": "registry.example:5000/acme/shop/app/server:sha-0123",
            "publishers": {"docker": {"uri": "registry.example:5000/acme/server@sha256:abc"}}
        }
    });
    let r = render(&app.config, &app.document, &d.repository, Some(&schema), RenderOptions::default())
        .unwrap_or_else(|e| panic!("{}", render_diagnostics(&e)));
    insta::assert_snapshot!("spec_render_stream", r.to_yaml_stream().expect("yaml"));
    let names: Vec<String> = r.to_files().expect("files").into_iter().map(|(n, _)| n).collect();
    assert_eq!(names, ["0001-deployment-app.yaml", "0002-configmap-app-config.yaml"]);
}

#[test]
fn value_position_attributes_are_accepted() {
    let tmp = tempfile::tempdir().expect("tempdir");
    let root = tmp.path();
    copy_tree(&fixture("spec"), root);
    let p = root.join("app/.forge/project.cue");
    replace_in(&p, "image: string @artifact(\"server.uri\")", "image: @artifact(\"server.uri\")");
    replace_in(&p, "registry: string @repo(", "registry: @repo(");
    let d = discover(root, &GitContext::default());
    assert!(d.errors.is_empty(), "{}", render_diagnostics(&d.diagnostics));
    let app = d.project("app").expect("app");
    let r = render(&app.config, &app.document, &d.repository, None, RenderOptions { preview: true }).expect("renders");
    assert_eq!(r.resources[0].pointer("/spec/template/spec/containers/0/image"), Some(&json!("<artifact:server.uri>")));
    assert_eq!(r.resources[1].pointer("/data/registry"), Some(&json!("registry.example:5000")));
}

#[test]
fn forge_init_writes_a_valid_canonical_project() {
    let tmp = tempfile::tempdir().expect("tempdir");
    let root = tmp.path();
    std::fs::create_dir(root.join(".git")).expect("git dir");
    let dir = root.join("services/shop");
    match forge_config::init::init_project(&dir, "shop", false) {
        Err(forge_config::init::InitError::NoRepository { .. }) => {}
        other => panic!("expected NoRepository, got {other:?}"),
    }
    let out = forge_config::init::init_project(&dir, "shop", true).expect("init");
    assert!(out.repo_file.is_some());
    let text = std::fs::read_to_string(&out.project_file).expect("read");
    assert!(text.contains("image: string @artifact(\"image.uri\")"), "canonical attribute form");
    let d = discover(root, &GitContext::branch("main"));
    assert!(d.errors.is_empty(), "{}", render_diagnostics(&d.diagnostics));
    assert_eq!(d.release_projects, ["shop"]);
    assert!(matches!(
        forge_config::init::init_project(&dir, "shop", false),
        Err(forge_config::init::InitError::Exists { .. })
    ));
    assert!(matches!(
        forge_config::init::init_project(&root.join("x"), "Bad_Name", false),
        Err(forge_config::init::InitError::Name(_))
    ));
}
