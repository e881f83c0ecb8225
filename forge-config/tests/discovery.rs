//! Discovery on the example monorepo, on a broken copy of it, and on generated trees
//! (`.gitignore`, symbolic links, nesting, limits).

mod common;

use common::*;
use forge_config::discovery::MAX_PROJECTS;
use forge_config::error::DiscoveryError;
use forge_config::trigger::GitContext;

#[test]
fn example_monorepo_main_branch() {
    let d = discover(&example_monorepo(), &GitContext::branch("main"));
    assert!(d.errors.is_empty(), "{:#?}", d.diagnostics);
    insta::assert_json_snapshot!("example_monorepo_main", d);
}

#[test]
fn example_monorepo_tags() {
    let root = example_monorepo();
    let d = discover(&root, &GitContext::tag("api/v1.2.0"));
    assert_eq!(d.release_projects, ["api"]);
    assert!(d.project("api").is_some_and(|p| p.deployment_triggered));
    let d = discover(&root, &GitContext::tag("api/not-semver"));
    assert!(!d.release_enabled);
    let d = discover(&root, &GitContext::branch("release/2.0"));
    assert_eq!(d.release_projects, ["api"]);
    let d = discover(&root, &GitContext::branch("feature/x"));
    assert!(d.release_projects.is_empty());
    // Tagging is monorepo: a bare tag releases nothing.
    let d = discover(&root, &GitContext::tag("v1.0.0"));
    assert!(d.release_projects.is_empty());
}

#[test]
fn broken_copy_points_at_the_right_lines() {
    let tmp = tempfile::tempdir().expect("tempdir");
    let root = tmp.path().join("repo");
    copy_tree(&example_monorepo(), &root);
    let api = root.join("services/api/.forge/project.cue");
    let web = root.join("services/web/.forge/project.cue");
    let common = root.join("libs/common/.forge/project.cue");
    // api: a misspelt field and an undefined phase.
    replace_in(&api, "priority: 10", "priorty: 10");
    replace_in(&api, "\ttest: {\n\t\tunit", "\ttests: {\n\t\tunit");
    // web: an unknown publisher and a bad resource name.
    replace_in(&web, "publishers: docker: {}", "publishers: dockr: {}");
    replace_in(&web, "metadata: name: \"web-config\"", "metadata: name: \"Web_Config\"");
    // common: a syntax error.
    replace_in(&common, "name: \"common\"", "name: \"common\"\n}}");
    let d = discover(&root, &GitContext::branch("main"));
    assert!(d.projects.is_empty(), "{:?}", d.projects.iter().map(|p| &p.name).collect::<Vec<_>>());
    let find = |file: &str, text: &str| {
        d.errors
            .iter()
            .find(|e| e.file.ends_with(file) && e.message.contains(text))
            .unwrap_or_else(|| panic!("no error {text:?} in {file}: {:#?}", d.errors))
    };
    assert_eq!(find("api/.forge/project.cue", "priorty").line, line_of(&api, "priorty"));
    assert_eq!(find("api/.forge/project.cue", "phase `tests`").line, line_of(&api, "tests: {"));
    assert!(find("api/.forge/project.cue", "priorty").message.contains("did you mean `priority`?"));
    assert_eq!(find("web/.forge/project.cue", "dockr").line, line_of(&web, "dockr"));
    assert!(find("web/.forge/project.cue", "dockr").message.contains("did you mean `docker`?"));
    assert_eq!(find("web/.forge/project.cue", "Web_Config").line, line_of(&web, "Web_Config"));
    assert_eq!(find("common/.forge/project.cue", "").line, line_of(&common, "}}"));
    insta::assert_json_snapshot!("broken_monorepo_errors", d.errors);
    let rendered = render_diagnostics(&d.diagnostics).replace(&*root.to_string_lossy(), "[ROOT]");
    insta::assert_snapshot!("broken_monorepo_rendered", rendered);
}

#[test]
fn broken_repo_cue_fails_discovery() {
    let tmp = tempfile::tempdir().expect("tempdir");
    let root = tmp.path();
    copy_tree(&example_monorepo(), root);
    let repo = root.join(".forge/repo.cue");
    replace_in(&repo, "group:       2\n\t\tdescription: \"Compile", "group:       0\n\t\tdescription: \"Compile");
    match discoverer().discover(root, &GitContext::default()) {
        Err(DiscoveryError::Repository(errs)) => {
            assert_eq!(errs[0].line, Some(line_of(&repo, "group:       0")));
            assert_eq!(errs[0].field.as_deref(), Some("phases.build.group"));
        }
        other => panic!("expected a repository error, got {other:?}"),
    }
}

#[test]
fn forge_version_major_and_minor() {
    let tmp = tempfile::tempdir().expect("tempdir");
    let root = tmp.path();
    copy_tree(&example_monorepo(), root);
    let repo = root.join(".forge/repo.cue");
    replace_in(&repo, "\"v1.0.0\"", "\"v1.3.0\"");
    let d = discover(root, &GitContext::default());
    assert_eq!(d.warnings.len(), 1);
    assert!(d.warnings[0].message.contains("newer"));
    replace_in(&repo, "\"v1.3.0\"", "\"v2.0.0\"");
    match discoverer().discover(root, &GitContext::default()) {
        Err(DiscoveryError::Repository(errs)) => assert!(errs[0].message.contains("not supported")),
        other => panic!("expected unsupported major, got {other:?}"),
    }
}

const REPO: &str = "package repo\nforgeVersion: \"v1.0.0\"\ntagging: strategy: \"tag-all\"\nphases: build: group: 1\n";

fn project(name: &str) -> String {
    format!(
        "package project\nname: \"{name}\"\nci: phases: build: b: {{action: \"script\", run: \"true\"}}\nrelease: on: [{{tag: true}}]\n"
    )
}

#[test]
fn gitignore_symlinks_git_and_forge_local() {
    let tmp = tempfile::tempdir().expect("tempdir");
    let root = tmp.path();
    write(&root.join(".forge/repo.cue"), REPO);
    write(&root.join("a/.forge/project.cue"), &project("a"));
    write(&root.join("deep/x/y/z/b/.forge/project.cue"), &project("b"));
    // Ignored by .gitignore (no git repository here), by a nested .gitignore and by info/exclude.
    write(&root.join(".gitignore"), "ignored/\n");
    write(&root.join("ignored/.forge/project.cue"), &project("ignored"));
    write(&root.join("deep/.gitignore"), "hidden-*\n");
    write(&root.join("deep/hidden-c/.forge/project.cue"), &project("c"));
    write(&root.join(".git/info/exclude"), "excluded\n");
    write(&root.join("excluded/.forge/project.cue"), &project("excluded"));
    write(&root.join(".git/d/.forge/project.cue"), &project("in-git"));
    write(&root.join(".forge-local/e/.forge/project.cue"), &project("local"));
    // Subfolders of .forge are not projects.
    write(&root.join("a/.forge/sub/.forge/project.cue"), &project("sub"));
    #[cfg(unix)]
    std::os::unix::fs::symlink(root.join("a"), root.join("link")).expect("symlink");
    let d = discover(root, &GitContext::tag("v2.0.0"));
    let names: Vec<&str> = d.projects.iter().map(|p| p.name.as_str()).collect();
    assert_eq!(names, ["a", "b"]);
    assert_eq!(d.projects[1].path, "deep/x/y/z/b");
    assert!(d.errors.is_empty(), "{:?}", d.errors);
    assert_eq!(d.release_projects, ["a", "b"]);
}

#[test]
fn nested_projects_and_duplicate_names() {
    let tmp = tempfile::tempdir().expect("tempdir");
    let root = tmp.path();
    write(&root.join(".forge/repo.cue"), REPO);
    write(&root.join("a/.forge/project.cue"), &project("a"));
    write(&root.join("a/inner/.forge/project.cue"), &project("inner"));
    write(&root.join("b/.forge/project.cue"), &project("a"));
    let d = discover(root, &GitContext::default());
    assert_eq!(d.projects.len(), 1);
    assert_eq!(d.errors.len(), 2, "{:#?}", d.errors);
    assert!(d.errors.iter().any(|e| e.path == "a/inner" && e.message.contains("nested project")));
    assert!(d.errors.iter().any(|e| e.path == "b" && e.message.contains("already used") && e.line == 2));
}

#[test]
fn root_project_encloses_the_others() {
    let tmp = tempfile::tempdir().expect("tempdir");
    let root = tmp.path();
    write(&root.join(".forge/repo.cue"), REPO);
    write(&root.join(".forge/project.cue"), &project("root"));
    write(&root.join(".forge/extra.cue"), "package project\nrelease: enabled: false\n");
    let d = discover(root, &GitContext::tag("v1.0.0"));
    assert_eq!(d.projects.len(), 1);
    assert_eq!(d.projects[0].path, ".");
    assert!(!d.projects[0].release_triggered, "extra.cue is unified with project.cue");
    write(&root.join("x/.forge/project.cue"), &project("x"));
    let d = discover(root, &GitContext::default());
    assert_eq!(d.projects.len(), 1);
    assert!(d.errors.iter().any(|e| e.path == "x" && e.message.contains("nested")));
}

#[test]
fn project_limit() {
    let tmp = tempfile::tempdir().expect("tempdir");
    let root = tmp.path();
    write(&root.join(".forge/repo.cue"), REPO);
    for i in 0..=MAX_PROJECTS {
        write(&root.join(format!("p{i}/.forge/project.cue")), &project(&format!("p{i}")));
    }
    match discoverer().discover(root, &GitContext::default()) {
        Err(e @ DiscoveryError::TooManyProjects { .. }) => {
            assert!(e.to_string().contains("at most 100"))
        }
        other => panic!("expected the limit, got {:?}", other.map(|d| d.projects.len())),
    }
}

#[test]
fn not_a_repository() {
    let tmp = tempfile::tempdir().expect("tempdir");
    assert!(matches!(
        discoverer().discover(tmp.path(), &GitContext::default()),
        Err(DiscoveryError::NotARepository { .. })
    ));
}

#[test]
fn cache_serves_unchanged_files_and_notices_changes() {
    use std::sync::Arc;
    let tmp = tempfile::tempdir().expect("tempdir");
    let root = tmp.path();
    copy_tree(&example_monorepo(), root);
    let cache = Arc::new(forge_config::cache::ConfigCache::default());
    let disc = discoverer().with_cache(cache.clone());
    let a = disc.discover(root, &GitContext::branch("main")).expect("discovers");
    assert_eq!(cache.len(), 4);
    let b = disc.discover(root, &GitContext::branch("main")).expect("discovers");
    assert_eq!(cache.len(), 4);
    assert_eq!(serde_json::to_value(&a).ok(), serde_json::to_value(&b).ok());
    replace_in(&root.join("services/web/.forge/project.cue"), "priority: 5", "priority: 50");
    let c = disc.discover(root, &GitContext::branch("main")).expect("discovers");
    assert_eq!(cache.len(), 5);
    let web = c.project("web").expect("web");
    assert_eq!(web.phases["build"][0].priority, 50);
}

#[test]
fn output_limit() {
    let tmp = tempfile::tempdir().expect("tempdir");
    let root = tmp.path();
    write(&root.join(".forge/repo.cue"), REPO);
    let big = "x".repeat(forge_config::discovery::MAX_OUTPUT_BYTES);
    write(
        &root.join("a/.forge/project.cue"),
        &format!("package project\nname: \"a\"\nci: phases: build: b: {{action: \"script\", run: \"{big}\"}}\n"),
    );
    match discoverer().discover(root, &GitContext::default()) {
        Err(e @ DiscoveryError::OutputTooLarge { .. }) => assert!(e.to_string().contains("limit is 1048576 bytes")),
        other => panic!("expected the output limit, got {:?}", other.map(|d| d.projects.len())),
    }
}
