//! `forge run` end to end on copies of `examples/monorepo` in real git repositories: the main
//! job green, idempotent re-runs, reproducible release images across clones, fail-fast.
#![allow(clippy::unwrap_used, clippy::expect_used)]

use std::path::{Path, PathBuf};
use std::process::Command;

use serde_json::Value;

fn example() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("../../examples/monorepo")
}

fn copy_tree(src: &Path, dst: &Path) {
    std::fs::create_dir_all(dst).unwrap();
    for e in std::fs::read_dir(src).unwrap() {
        let e = e.unwrap();
        let name = e.file_name();
        if name == ".forge-local" {
            continue;
        }
        let p = e.path();
        if e.file_type().unwrap().is_dir() {
            copy_tree(&p, &dst.join(&name));
        } else {
            std::fs::copy(&p, dst.join(&name)).unwrap();
        }
    }
}

fn git(dir: &Path, args: &[&str]) {
    let out = Command::new("git")
        .current_dir(dir)
        .args(args)
        .env("GIT_AUTHOR_NAME", "Ada")
        .env("GIT_AUTHOR_EMAIL", "ada@example.com")
        .env("GIT_COMMITTER_NAME", "Ada")
        .env("GIT_COMMITTER_EMAIL", "ada@example.com")
        .env("GIT_AUTHOR_DATE", "2026-01-02T03:04:05Z")
        .env("GIT_COMMITTER_DATE", "2026-01-02T03:04:05Z")
        .env("GIT_CONFIG_NOSYSTEM", "1")
        .env("HOME", dir)
        .output()
        .unwrap();
    assert!(out.status.success(), "git {args:?}: {}", String::from_utf8_lossy(&out.stderr));
}

/// A git repository holding a copy of the example, committed on `main`.
fn example_repo(tmp: &Path) -> PathBuf {
    let repo = tmp.join("monorepo");
    copy_tree(&example(), &repo);
    git(&repo, &["init", "-q", "-b", "main"]);
    git(&repo, &["add", "-A"]);
    git(&repo, &["commit", "-q", "-m", "Example monorepo"]);
    repo
}

fn forge(args: &[&str], dir: &Path) -> (i32, String, String) {
    let out = Command::new(env!("CARGO_BIN_EXE_forge")).args(args).current_dir(dir).env("HOME", dir).output().unwrap();
    (
        out.status.code().unwrap_or(-1),
        String::from_utf8_lossy(&out.stdout).into_owned(),
        String::from_utf8_lossy(&out.stderr).into_owned(),
    )
}

fn run_json(repo: &Path) -> (i32, Value, String) {
    let (code, out, err) = forge(&["run", repo.to_str().unwrap(), "--output", "json"], repo);
    let v: Value = serde_json::from_str(&out).unwrap_or_else(|e| panic!("stdout is JSON ({e}): {out}\nstderr: {err}"));
    (code, v, err)
}

fn release_digests(v: &Value) -> Vec<(String, String)> {
    let mut d: Vec<(String, String)> = v["releases"]
        .as_array()
        .unwrap()
        .iter()
        .map(|r| (r["project"].as_str().unwrap().to_owned(), r["release"]["oci_digest"].as_str().unwrap().to_owned()))
        .collect();
    d.sort();
    d
}

#[test]
fn example_runs_green_end_to_end_and_reruns_change_nothing() {
    let tmp = tempfile::tempdir().unwrap();
    let repo = example_repo(tmp.path());
    let (code, v, err) = run_json(&repo);
    assert_eq!(code, 0, "{err}");
    assert_eq!(v["run"]["status"], "success");
    let steps: usize = v["run"]["phases"]
        .as_array()
        .unwrap()
        .iter()
        .flat_map(|p| p["tasks"].as_array().unwrap())
        .map(|t| t["steps"].as_array().unwrap().len())
        .sum();
    assert_eq!(steps, 10);
    let releases = v["releases"].as_array().unwrap();
    let names: Vec<&str> = releases.iter().map(|r| r["project"].as_str().unwrap()).collect();
    assert_eq!(names, ["api", "web"], "common has release.enabled: false");
    for r in releases {
        assert_eq!(r["created"], true);
        assert_eq!(r["release"]["release_number"], 1);
        assert_eq!(r["deployment"]["environment"], "dev");
        assert_eq!(r["deployment"]["status"], "active");
        let manifests = std::fs::read_to_string(r["manifests"].as_str().unwrap()).unwrap();
        assert!(manifests.contains("kind: Deployment"), "{manifests}");
        let pointer = std::fs::read_to_string(r["pointer"].as_str().unwrap()).unwrap();
        assert!(pointer.contains("kind: ReleasePointer"));
        assert!(pointer.contains(r["release"]["commit_sha"].as_str().unwrap()), "{pointer}");
    }
    // `@artifact` was resolved in the rendered manifests.
    let web = std::fs::read_to_string(repo.join(".forge-local/manifests/dev/web.yaml")).unwrap();
    assert!(web.contains("image: oci:.forge-local/oci/example/web-image:"), "{web}");
    let api = std::fs::read_to_string(repo.join(".forge-local/manifests/dev/api.yaml")).unwrap();
    assert!(api.contains("value: sha256:"), "{api}");

    // Each release image in the layout verifies offline (digests, resources, reproduction).
    for r in releases {
        let target = format!(
            "oci:{}:local/monorepo/{}:{}",
            repo.join(".forge-local/oci").display(),
            r["project"].as_str().unwrap(),
            r["release"]["commit_sha"].as_str().unwrap()
        );
        let (code, out, err) = forge(&["release", "verify", &target], &repo);
        assert_eq!(code, 0, "{out}{err}");
        assert!(out.contains("reproduce"), "{out}");
    }

    // A second run of the same commit changes nothing: same releases, no new GitOps commit.
    let gitops = repo.join(".forge-local/gitops");
    let head = |d: &Path| {
        String::from_utf8(Command::new("git").current_dir(d).args(["rev-parse", "HEAD"]).output().unwrap().stdout)
            .unwrap()
    };
    let before = head(&gitops);
    let (code, v2, err) = run_json(&repo);
    assert_eq!(code, 0, "{err}");
    assert_eq!(release_digests(&v), release_digests(&v2));
    assert!(v2["releases"].as_array().unwrap().iter().all(|r| r["created"] == false));
    assert_eq!(before, head(&gitops));

    // Status shows the releases and the deployments.
    let (code, out, err) = forge(&["status", "--path", repo.to_str().unwrap(), "--output", "json"], &repo);
    assert_eq!(code, 0, "{err}");
    let s: Value = serde_json::from_str(&out).unwrap();
    assert_eq!(s["projects"].as_array().unwrap().len(), 3);
}

#[test]
fn two_clones_of_one_commit_give_the_same_release_images() {
    let tmp = tempfile::tempdir().unwrap();
    let origin = example_repo(tmp.path());
    let mut digests = Vec::new();
    for name in ["clone-a", "clone-b"] {
        let dst = tmp.path().join(name).join("monorepo");
        std::fs::create_dir_all(dst.parent().unwrap()).unwrap();
        git(tmp.path(), &["clone", "-q", origin.to_str().unwrap(), dst.to_str().unwrap()]);
        let (code, v, err) = run_json(&dst);
        assert_eq!(code, 0, "{err}");
        digests.push(release_digests(&v));
    }
    assert_eq!(digests[0].len(), 2);
    assert_eq!(digests[0], digests[1]);
}

#[test]
fn a_failing_step_fails_fast_and_releases_nothing() {
    let tmp = tempfile::tempdir().unwrap();
    let repo = tmp.path().join("monorepo");
    copy_tree(&example(), &repo);
    let project = repo.join("services/web/.forge/project.cue");
    let text = std::fs::read_to_string(&project).unwrap();
    std::fs::write(
        &project,
        text.replace("run:    \"grep -q '<title>' static/index.html\"", "run:    \"echo broken >&2; exit 3\""),
    )
    .unwrap();
    git(&repo, &["init", "-q", "-b", "main"]);
    git(&repo, &["add", "-A"]);
    git(&repo, &["commit", "-q", "-m", "break web"]);
    let (code, v, _err) = run_json(&repo);
    assert_eq!(code, 1);
    assert_eq!(v["run"]["status"], "failed");
    let phases = v["run"]["phases"].as_array().unwrap();
    let check = phases.iter().find(|p| p["name"] == "check").unwrap();
    assert_eq!(check["status"], "failed");
    let html = check["tasks"].as_array().unwrap().iter().find(|t| t["project"] == "web").unwrap()["steps"][0].clone();
    assert_eq!(html["status"], "failed");
    assert_eq!(html["exit_code"], 3);
    for p in phases.iter().filter(|p| p["group"].as_u64().unwrap() > 1) {
        assert_eq!(p["status"], "skipped", "later groups never start: {p}");
    }
    assert!(v["releases"].as_array().unwrap().is_empty());
    assert!(!repo.join(".forge-local/gitops").exists() || !repo.join(".forge-local/gitops/environments").exists());
}

#[test]
fn outside_git_the_commit_is_required() {
    let tmp = tempfile::tempdir().unwrap();
    let repo = tmp.path().join("monorepo");
    copy_tree(&example(), &repo);
    let (code, _out, err) = forge(&["run", repo.to_str().unwrap()], tmp.path());
    assert_eq!(code, 1);
    assert!(err.contains("--commit"), "{err}");
    let (code, _out, err) =
        forge(&["run", repo.to_str().unwrap(), "--commit", &"a".repeat(40), "--branch", "feature/x"], tmp.path());
    assert_eq!(code, 0, "{err}");
}

#[test]
fn usage_errors_exit_2() {
    let tmp = tempfile::tempdir().unwrap();
    let (code, _, _) = forge(&["run", "--no-such-flag"], tmp.path());
    assert_eq!(code, 2);
}

#[test]
fn signed_releases_verify_with_the_public_key_only() {
    let tmp = tempfile::tempdir().unwrap();
    let repo = example_repo(tmp.path());
    let key = tmp.path().join("signing.pem");
    let public = tmp.path().join("signing.pub.pem");
    let other = tmp.path().join("other.pub.pem");
    let openssl =
        |args: &[&str]| assert!(Command::new("openssl").args(args).status().unwrap().success(), "openssl {args:?}");
    openssl(&["genpkey", "-algorithm", "EC", "-pkeyopt", "ec_paramgen_curve:P-256", "-out", key.to_str().unwrap()]);
    openssl(&["pkey", "-in", key.to_str().unwrap(), "-pubout", "-out", public.to_str().unwrap()]);
    let other_key = tmp.path().join("other.pem");
    openssl(&[
        "genpkey",
        "-algorithm",
        "EC",
        "-pkeyopt",
        "ec_paramgen_curve:P-256",
        "-out",
        other_key.to_str().unwrap(),
    ]);
    openssl(&["pkey", "-in", other_key.to_str().unwrap(), "-pubout", "-out", other.to_str().unwrap()]);

    let (code, out, err) =
        forge(&["run", repo.to_str().unwrap(), "--signing-key", key.to_str().unwrap(), "--output", "json"], &repo);
    assert_eq!(code, 0, "{err}");
    let v: Value = serde_json::from_str(&out).unwrap();
    let sha = v["releases"][0]["release"]["commit_sha"].as_str().unwrap().to_owned();
    let target = format!("oci:{}:local/monorepo/api:{sha}", repo.join(".forge-local/oci").display());
    let (code, out, err) = forge(&["release", "verify", &target, "--key", public.to_str().unwrap()], &repo);
    assert_eq!(code, 0, "{out}{err}");
    let (code, out, err) = forge(&["release", "verify", &target, "--key", other.to_str().unwrap()], &repo);
    assert_ne!(code, 0, "a key that did not sign must be refused: {out}{err}");
    assert!(!out.contains("BEGIN") && !err.contains("BEGIN"), "no key material printed");

    // The Argo CD plugin with a required key serves only releases signed by it.
    let dir = repo.join(".forge-local/gitops/environments/dev/local/monorepo/api");
    let rt = tokio::runtime::Builder::new_current_thread().enable_all().build().unwrap();
    let generate = |key: &Path| {
        let mut o =
            forge_gitops::cmp::CmpOptions::new(forge_gitops::cmp::ImageSource::Layout(repo.join(".forge-local/oci")));
        o.signature_policy = Some(forge_oci::sign::Policy::from_files(&[key]).unwrap());
        rt.block_on(forge_gitops::cmp::generate(&dir, &o))
    };
    let ok = generate(&public).unwrap();
    assert!(String::from_utf8(ok.manifests).unwrap().contains("kind: Deployment"));
    let refused = generate(&other).unwrap_err();
    assert!(refused.to_string().starts_with("signature policy refused"), "{refused}");
    assert!(!refused.to_string().contains('\n'), "one line: {refused}");
}

#[test]
fn render_env_previews_what_the_composition_function_composes() {
    let tmp = tempfile::tempdir().unwrap();
    let repo = tmp.path().join("monorepo");
    copy_tree(&example(), &repo);
    std::fs::create_dir_all(repo.join("jobs/.forge")).unwrap();
    std::fs::write(
        repo.join("jobs/.forge/project.cue"),
        r#"package project

name: "jobs"
ci: phases: check: lint: {action: "script", run: "true"}
deployment: resources: [{
	apiVersion: "forge.io/v1"
	kind:       "Job"
	metadata: {name: "migrate", namespace: "monorepo-jobs"}
	spec: {image: "registry.example/jobs:1", command: ["migrate"]}
}]
"#,
    )
    .unwrap();
    let gitops = tmp.path().join("gitops");
    std::fs::create_dir_all(gitops.join("environments/dev")).unwrap();
    std::fs::copy(
        example().join("../deploy/crossplane/environments/dev/env.yaml"),
        gitops.join("environments/dev/env.yml"),
    )
    .unwrap();
    let args = [
        "render",
        "jobs",
        "--path",
        repo.to_str().unwrap(),
        "--env",
        "dev",
        "--gitops",
        gitops.to_str().unwrap(),
        "--output",
        "json",
    ];
    let (code, out, err) = forge(&args, tmp.path());
    assert_eq!(code, 0, "{out}{err}");
    let v: Value = serde_json::from_str(&out).unwrap();
    let kinds: Vec<(&str, &str)> = v["resources"]
        .as_array()
        .unwrap()
        .iter()
        .map(|r| (r["apiVersion"].as_str().unwrap(), r["kind"].as_str().unwrap()))
        .collect();
    assert!(kinds.contains(&("batch/v1", "Job")), "{kinds:?}");
    assert!(kinds.iter().all(|(api, _)| !api.starts_with("forge.io/")), "{kinds:?}");
    // Without the environment's configuration: a clear error.
    let missing =
        ["render", "jobs", "--path", repo.to_str().unwrap(), "--env", "staging", "--gitops", gitops.to_str().unwrap()];
    let (code, _out, err) = forge(&missing, tmp.path());
    assert_ne!(code, 0);
    assert!(err.contains("EnvironmentConfig"), "{err}");
}

#[test]
fn a_partial_release_is_retried_from_the_cli() {
    let tmp = tempfile::tempdir().unwrap();
    let repo = example_repo(tmp.path());
    // The `github` destination is broken: a file where its folder must go.
    std::fs::create_dir_all(repo.join(".forge-local/published")).unwrap();
    std::fs::write(repo.join(".forge-local/published/github"), "not a folder").unwrap();
    let (code, out, err) = forge(&["release", "api", "--output", "json"], &repo);
    assert_eq!(code, 0, "{err}");
    let v: Value = serde_json::from_str(&out).unwrap();
    let r = &v["releases"][0]["release"];
    assert_eq!(r["status"], "partial", "{out}");
    let digest = r["oci_digest"].as_str().unwrap().to_owned();

    // Without a project the release id is ambiguous: a clear error.
    let (code, _, err) = forge(&["release", "retry", "1"], &repo);
    assert_ne!(code, 0);
    assert!(err.contains("api/1") || err.contains("--project"), "{err}");

    // Still broken: retried, still partial, exit 1.
    let (code, out, err) = forge(&["release", "retry", "api/1", "--output", "json"], &repo);
    assert_eq!(code, 1, "{out}{err}");
    let v: Value = serde_json::from_str(&out).unwrap();
    assert_eq!(v["release"]["status"], "partial");
    assert_eq!(v["retried"].as_array().unwrap().len(), 2);

    // Fixed: only the two github publishes run, the release completes, the image is unchanged.
    std::fs::remove_file(repo.join(".forge-local/published/github")).unwrap();
    let (code, out, err) = forge(&["release", "retry", "1", "--project", "api", "--output", "json"], &repo);
    assert_eq!(code, 0, "{out}{err}");
    let v: Value = serde_json::from_str(&out).unwrap();
    assert_eq!(v["release"]["status"], "complete");
    assert_eq!(v["release"]["oci_digest"], digest.as_str());
    let retried: Vec<(&str, bool)> = v["retried"]
        .as_array()
        .unwrap()
        .iter()
        .map(|x| (x["artifact"].as_str().unwrap(), x["success"].as_bool().unwrap()))
        .collect();
    assert_eq!(retried, [("api-bin", true), ("api-docs", true)]);
    assert!(repo.join(".forge-local/published/github/api-bin").is_dir());

    // Complete: nothing to retry.
    let (code, _, err) = forge(&["release", "retry", "api/1"], &repo);
    assert_eq!(code, 0);
    assert!(err.contains("nothing to retry"), "{err}");
}
