//! Rendering `deployment.resources`: `@artifact` against the §4.4 output schema, `@repo`,
//! previews, and errors naming the attribute and its position.

mod common;

use common::*;
use forge_config::render::{RenderOptions, render};
use forge_config::trigger::GitContext;
use serde_json::json;

fn schema() -> serde_json::Value {
    json!({
        "web-image": {
            "image_ref": "web:build", "image_id": "sha256:1", "digest": "sha256:feed", "size": 1234,
            "uri": "oci:.forge-local/oci/example/web-image@sha256:feed",
            "tracking": "127.0.0.1:5000/example/monorepo/web/web-image:sha-0123",
            "publishers": {"docker": {"uri": "oci:.forge-local/oci/example/web-image@sha256:feed", "digest": "sha256:feed"}}
        },
        "api-bin": {"path": "api", "executable": true, "arch": "amd64", "os": "linux", "size": 10, "digest": "sha256:beef", "static": true,
                    "uri": "https://example/api", "tracking": "t", "publishers": {"github": {"uri": "https://example/api"}}}
    })
}

#[test]
fn example_monorepo_renders_with_artifacts() {
    let d = discover(&example_monorepo(), &GitContext::default());
    for name in ["web", "api"] {
        let p = d.project(name).expect("project");
        let r = render(&p.config, &p.document, &d.repository, Some(&schema()), RenderOptions::default())
            .unwrap_or_else(|e| panic!("{}", render_diagnostics(&e)));
        assert!(r.placeholders.is_empty());
        let files = r.to_files().expect("files");
        let listing: String = files.iter().map(|(n, y)| format!("# {n}\n{y}")).collect();
        insta::assert_snapshot!(format!("{name}_files"), listing);
        assert_eq!(
            files.iter().map(|(_, y)| y.as_str()).collect::<Vec<_>>().join("---\n"),
            r.to_yaml_stream().expect("yaml")
        );
    }
}

#[test]
fn preview_fills_placeholders_and_real_render_fails() {
    let d = discover(&example_monorepo(), &GitContext::default());
    let web = d.project("web").expect("web");
    let r = render(&web.config, &web.document, &d.repository, None, RenderOptions { preview: true }).expect("preview");
    assert_eq!(r.placeholders, ["<artifact:web-image.uri>"]);
    assert!(r.to_yaml_stream().expect("yaml").contains("image: <artifact:web-image.uri>"));
    let errs =
        render(&web.config, &web.document, &d.repository, None, RenderOptions::default()).expect_err("unresolved");
    assert_eq!(errs.len(), 1);
    let file = example_monorepo().join("services/web/.forge/project.cue");
    assert_eq!(errs[0].line, Some(line_of(&file, "@artifact(\"web-image.uri\")")));
    assert!(errs[0].message.contains("@artifact(\"web-image.uri\") is unresolved"), "{}", errs[0].message);
    // A schema without the field: also an error in a real render, a placeholder in a preview.
    let partial = json!({"web-image": {"digest": "sha256:1"}});
    let errs = render(&web.config, &web.document, &d.repository, Some(&partial), RenderOptions::default())
        .expect_err("missing field");
    assert!(errs[0].message.contains("no field `uri`"), "{}", errs[0].message);
    assert!(render(&web.config, &web.document, &d.repository, Some(&partial), RenderOptions { preview: true }).is_ok());
}

#[test]
fn unknown_references_fail_even_in_preview() {
    let tmp = tempfile::tempdir().expect("tempdir");
    let root = tmp.path();
    copy_tree(&example_monorepo(), root);
    let web = root.join("services/web/.forge/project.cue");
    replace_in(
        &web,
        "\"greeting\": \"Hello from the example monorepo\"",
        "\"greeting\": string @artifact(\"web-imag.uri\")\n\t\t\t\"registry\": string @repo(path=\"publishers.docker.registri\")\n\t\t\t\"bad\": string @artifact(\"nodot\")\n\t\t\t\"loose\": string",
    );
    let d = discover(root, &GitContext::default());
    let p = d.project("web").unwrap_or_else(|| panic!("{}", render_diagnostics(&d.diagnostics)));
    let errs =
        render(&p.config, &p.document, &d.repository, None, RenderOptions { preview: true }).expect_err("unknown");
    let msgs: Vec<String> = errs.iter().map(|e| e.located()).collect();
    insta::assert_json_snapshot!("unknown_references", msgs);
    assert_eq!(errs[0].line, Some(line_of(&web, "web-imag.uri")));
}

#[test]
fn resources_are_checked_after_resolution() {
    let tmp = tempfile::tempdir().expect("tempdir");
    let root = tmp.path();
    copy_tree(&example_monorepo(), root);
    let web = root.join("services/web/.forge/project.cue");
    replace_in(&web, "metadata: name: \"web\"", "metadata: name: string @artifact(\"web-image.digest\")");
    let d = discover(root, &GitContext::default());
    let p = d.project("web").expect("web");
    let errs =
        render(&p.config, &p.document, &d.repository, Some(&schema()), RenderOptions::default()).expect_err("bad name");
    assert!(errs[0].summary().contains("DNS label"), "{}", errs[0].summary());
    assert_eq!(errs[0].line, Some(line_of(&web, "web-image.digest")));
}
