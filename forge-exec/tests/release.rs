//! Release creation end to end (SPEC §4, §5.3) against real parts: the Distribution registry
//! started by `scripts/services.sh` (docker and cue publishers, tracking and release images),
//! SQLite through the API store, real git-free repositories on disk, and a local HTTP server
//! implementing the GitHub release-asset endpoints.
#![cfg(feature = "github")]
#![allow(clippy::unwrap_used, clippy::expect_used)]

use std::collections::BTreeMap;
use std::path::Path;
use std::sync::{Arc, Mutex};

use axum::Router;
use axum::body::Bytes;
use axum::extract::{Path as AxPath, Query, State};
use axum::http::StatusCode;
use axum::routing::{get, post};
use chrono::{TimeZone, Utc};
use forge_core::ports::{ImageStore, Store};
use forge_core::{ReleaseStatus, Repository};
use forge_exec::release::github::GithubPublisher;
use forge_exec::release::publisher::{Credentials, PublisherSet};
use forge_exec::release::{NoProgress, ReleaseEnv, ReleaseGit, release_project, retry_release};
use forge_oci::{RegistryConfig, RegistryStore};
use serde_json::{Value, json};

fn registry() -> Option<String> {
    match std::env::var("FORGE_TEST_REGISTRY") {
        Ok(r) => Some(r),
        Err(_) if std::env::var("FORGE_TEST_REQUIRE_SERVICES").as_deref() == Ok("1") => {
            panic!("FORGE_TEST_REGISTRY is not set: run `bash scripts/services.sh up` and source scripts/services.env")
        }
        Err(_) => {
            eprintln!("skipping: FORGE_TEST_REGISTRY not set");
            None
        }
    }
}

#[derive(Default)]
struct FakeGithub {
    assets: Vec<(String, String, usize)>,
    uploads: usize,
    fail_uploads: bool,
    releases: usize,
}
type Gh = Arc<Mutex<FakeGithub>>;

fn upload_url(headers: &axum::http::HeaderMap) -> String {
    let host = headers.get("host").and_then(|h| h.to_str().ok()).unwrap_or_default();
    format!("http://{host}/uploads/1{{?name,label}}")
}

async fn gh_release_by_tag(
    State(s): State<Gh>,
    AxPath((_o, _r, _tag)): AxPath<(String, String, String)>,
    headers: axum::http::HeaderMap,
) -> (StatusCode, axum::Json<Value>) {
    if headers.get("authorization").and_then(|v| v.to_str().ok()) != Some("Bearer gh-secret-token") {
        return (StatusCode::UNAUTHORIZED, axum::Json(json!({"message": "Bad credentials"})));
    }
    let f = s.lock().unwrap();
    if f.releases == 0 {
        return (StatusCode::NOT_FOUND, axum::Json(json!({"message": "Not Found"})));
    }
    (StatusCode::OK, axum::Json(json!({"id": 1, "upload_url": upload_url(&headers)})))
}

async fn gh_create_release(
    State(s): State<Gh>,
    headers: axum::http::HeaderMap,
    axum::Json(b): axum::Json<Value>,
) -> (StatusCode, axum::Json<Value>) {
    assert!(b["tag_name"].is_string());
    s.lock().unwrap().releases += 1;
    (StatusCode::CREATED, axum::Json(json!({"id": 1, "upload_url": upload_url(&headers)})))
}

async fn gh_assets(State(s): State<Gh>) -> axum::Json<Value> {
    let f = s.lock().unwrap();
    axum::Json(Value::Array(
        f.assets
            .iter()
            .map(|(n, d, _)| json!({"name": n, "digest": d, "browser_download_url": format!("https://dl/{n}")}))
            .collect(),
    ))
}

async fn gh_upload(
    State(s): State<Gh>,
    Query(q): Query<BTreeMap<String, String>>,
    body: Bytes,
) -> (StatusCode, axum::Json<Value>) {
    let mut f = s.lock().unwrap();
    if f.fail_uploads {
        return (StatusCode::BAD_GATEWAY, axum::Json(json!({"message": "upstream trouble"})));
    }
    let name = q.get("name").cloned().unwrap();
    use sha2::Digest as _;
    let digest = format!("sha256:{}", hex::encode(sha2::Sha256::digest(&body)));
    f.assets.push((name.clone(), digest, body.len()));
    f.uploads += 1;
    (StatusCode::CREATED, axum::Json(json!({"name": name, "browser_download_url": format!("https://dl/{name}")})))
}

async fn fake_github() -> (String, Gh) {
    let state: Gh = Arc::default();
    let app = Router::new()
        .route("/repos/{o}/{r}/releases/tags/{tag}", get(gh_release_by_tag))
        .route("/repos/{o}/{r}/releases", post(gh_create_release))
        .route("/repos/{o}/{r}/releases/{id}/assets", get(gh_assets))
        .route("/uploads/{id}", post(gh_upload))
        .with_state(state.clone());
    let l = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let base = format!("http://{}", l.local_addr().unwrap());
    tokio::spawn(async move { axum::serve(l, app).await.unwrap() });
    (base, state)
}

fn write(p: &Path, text: &str) {
    std::fs::create_dir_all(p.parent().unwrap()).unwrap();
    std::fs::write(p, text).unwrap();
}

fn repo_fixture(root: &Path, registry: &str, gh: &str, ns: &str, token: &str) {
    write(
        &root.join(".forge/repo.cue"),
        &format!(
            r#"package repo
forgeVersion: "v1.0.0"
tagging: strategy: "monorepo"
phases: build: group: 1
publishers: {{
	docker: {{type: "docker", registry: "{registry}", namespace: "{ns}"}}
	github: {{type: "github", owner: "acme", repo: "shop", api: "{gh}", credentials: {{provider: "file", path: "{token}"}}}}
	cue: {{type: "cue", registry: "{registry}"}}
}}
"#
        ),
    );
    write(
        &root.join("svc/.forge/project.cue"),
        r#"package project
name: "svc"
release: on: [{branch: "main"}]
artifacts: {
	image: {
		type: "container"
		producer: script: run: "sh ../tools/img.sh \"$FORGE_STAGING/image\""
		publishers: docker: {}
	}
	cli: {
		type: "binary"
		producer: script: run: "cp /bin/true \"$FORGE_STAGING/cli\""
		publishers: github: {}
	}
	schema: {
		type: "archive"
		producer: script: run: "tar --sort=name --mtime=@0 --owner=0 --group=0 -cf - .forge | gzip -n > \"$FORGE_STAGING/schema.tar.gz\""
		publishers: {cue: {}, github: {}}
	}
}
deployment: resources: [{
	apiVersion: "apps/v1"
	kind: "Deployment"
	metadata: name: "svc"
	spec: template: spec: containers: [{name: "svc", image: string @artifact("image.uri")}]
	spec: template: metadata: annotations: {
		"cli-digest": string @artifact("cli.digest")
		"cli-arch": string @artifact("cli.arch")
		"schema-entries": string @artifact(name="schema", field="format")
	}
}]
"#,
    );
    let img = std::fs::read_to_string(
        Path::new(env!("CARGO_MANIFEST_DIR")).join("../examples/monorepo/tools/mk-oci-image.sh"),
    )
    .unwrap();
    write(&root.join("tools/img.sh"), &img.replace("src=$1 out=$2", "src=. out=$1"));
}

/// Discovery of the fixture on `main`.
fn discover_main(root: &Path) -> forge_config::discovery::Discovery {
    let d = forge_config::discovery::Discoverer::new(Arc::new(forge_secrets::ProviderRegistry::with_defaults()))
        .discover(root, &forge_config::trigger::GitContext { branch: Some("main".into()), tag: None, git_ref: None })
        .unwrap();
    assert!(d.errors.is_empty(), "{:?}", d.errors);
    d
}

struct Setup {
    env: ReleaseEnv,
    discovery: forge_config::discovery::Discovery,
    gh: Gh,
    store: Arc<dyn Store>,
    release_store: Arc<RegistryStore>,
    _tmp: tempfile::TempDir,
}

async fn setup(registry: &str) -> Setup {
    let tmp = tempfile::tempdir().unwrap();
    let root = tmp.path().join("repo");
    let (gh_base, gh) = fake_github().await;
    let ns = format!("t{}", uuid::Uuid::new_v4().simple());
    let token = tmp.path().join("gh-token");
    std::fs::write(&token, "gh-secret-token").unwrap();
    repo_fixture(&root, registry, &gh_base, &ns, token.to_str().unwrap());
    let secrets = Arc::new(forge_secrets::ProviderRegistry::with_defaults());
    let discovery = discover_main(&root);
    let store: Arc<dyn Store> = Arc::new(
        forge_api::store::SqlStore::open(&forge_api::store::StoreOptions::new(format!(
            "sqlite://{}",
            tmp.path().join("db.sqlite").display()
        )))
        .await
        .unwrap(),
    );
    let reg: forge_core::Registry = registry.parse().unwrap();
    let release_store = Arc::new(RegistryStore::new(reg.clone(), RegistryConfig::default()).unwrap());
    let mut publishers = PublisherSet::local_defaults(Credentials(secrets.clone()), &tmp.path().join("published"));
    publishers.register("github", Arc::new(GithubPublisher::new(Credentials(secrets)).unwrap()));
    let env = ReleaseEnv {
        repository: format!("acme/{ns}").parse::<Repository>().unwrap(),
        repo_root: root.clone(),
        git: ReleaseGit {
            commit: "0123456789abcdef0123456789abcdef01234567".parse().unwrap(),
            branch: Some("main".into()),
            tag: None,
            committed_at: Utc.with_ymd_and_hms(2026, 1, 2, 3, 4, 5).unwrap(),
            author: "Ada <ada@example.com>".into(),
            message: "ship".into(),
        },
        actor: "ci".into(),
        run_id: None,
        release_registry: reg.clone(),
        release_store: release_store.clone(),
        tracking_registry: reg,
        tracking_store: release_store.clone(),
        publishers,
        store: Arc::new(forge_core::ports::StoreReleases(store.clone())),
        staging_root: tmp.path().join("staging"),
        progress: Arc::new(NoProgress),
        dry_run: false,
        signer: None,
    };
    Setup { env, discovery, gh, store, release_store, _tmp: tmp }
}

#[tokio::test]
async fn release_publishes_tracks_renders_and_records() {
    let Some(registry) = registry() else { return };
    let s = setup(&registry).await;
    let out = release_project(&s.env, &s.discovery, "svc").await.unwrap();
    assert!(out.created);
    let r = &out.release;
    assert_eq!(r.release_number, 1);
    assert_eq!(r.status, ReleaseStatus::Complete, "{:?}", r.artifacts);
    assert_eq!(r.artifacts.len(), 3);
    // Artifacts in declaration order with their publishers.
    let names: Vec<&str> = out.artifacts.iter().map(|a| a.name.as_str()).collect();
    assert_eq!(names, ["image", "cli", "schema"]);
    let uploads = s.gh.lock().unwrap().uploads;
    assert_eq!(uploads, 2, "cli and schema uploaded as assets");
    // @artifact resolved in the rendered manifests.
    assert!(
        out.manifests.contains(&format!("image: {registry}/", registry = s.env.release_registry)),
        "{}",
        out.manifests
    );
    assert!(
        out.manifests.contains("cli-arch: amd64") || out.manifests.contains("cli-arch: arm64"),
        "{}",
        out.manifests
    );
    assert!(out.manifests.contains("schema-entries: tar.gz"), "{}", out.manifests);
    // Tracking images exist in the registry under sha-<sha>.
    for a in &out.artifacts {
        let t: forge_core::TrackingRef = a.tracking.0.parse().unwrap();
        let m = s.release_store.get_manifest(&t.repository_path(), &t.tag()).await.unwrap();
        assert_eq!(m.digest, a.tracking.1);
    }
    // The release image is pullable and verifies.
    let rref: forge_core::ReleaseRef = r.oci_ref.parse().unwrap();
    let report = forge_oci::verify_release(&*s.release_store, &rref.repository_path(), rref.tag()).await.unwrap();
    assert!(report.ok, "{report:?}");

    // Same triplet again: the existing release, nothing rebuilt or re-published.
    let before = s.release_store.stats();
    let again = release_project(&s.env, &s.discovery, "svc").await.unwrap();
    assert!(!again.created);
    assert_eq!(again.release.id, r.id);
    assert_eq!(s.release_store.stats(), before, "no registry request for an existing release");
    assert_eq!(s.gh.lock().unwrap().uploads, 2);
    let page = s.store.list_releases(&s.env.repository, &"svc".parse().unwrap(), 10, 0).await.unwrap();
    assert_eq!(page.total, 1);
}

#[tokio::test]
async fn a_failing_publisher_leaves_a_partial_release_with_per_destination_results() {
    let Some(registry) = registry() else { return };
    let s = setup(&registry).await;
    s.gh.lock().unwrap().fail_uploads = true;
    let out = release_project(&s.env, &s.discovery, "svc").await.unwrap();
    assert_eq!(out.release.status, ReleaseStatus::Partial);
    let failed: Vec<_> = out.release.artifacts.iter().flat_map(|a| &a.publishers).filter(|p| !p.success).collect();
    assert_eq!(failed.len(), 2, "both github uploads failed");
    assert!(failed.iter().all(|p| p.error.as_deref().unwrap_or_default().contains("502")));
    assert!(failed.iter().all(|p| !p.error.as_deref().unwrap_or_default().contains("gh-secret-token")));
}

#[tokio::test]
async fn a_failing_producer_records_nothing_and_cleans_staging() {
    let Some(registry) = registry() else { return };
    let s = setup(&registry).await;
    let project = s.env.repo_root.join("svc/.forge/project.cue");
    let text = std::fs::read_to_string(&project).unwrap().replace("cp /bin/true", "exit 7; cp /bin/true");
    std::fs::write(&project, text).unwrap();
    let discovery = discover_main(&s.env.repo_root);
    let e = release_project(&s.env, &discovery, "svc").await.unwrap_err();
    assert!(e.to_string().contains("artifact `cli`") && e.to_string().contains("exit"), "{e}");
    let page = s.store.list_releases(&s.env.repository, &"svc".parse().unwrap(), 10, 0).await.unwrap();
    assert_eq!(page.total, 0, "nothing recorded");
    assert!(!s.env.staging_root.join("svc").exists(), "staging cleaned");
}

/// Records the stages a release runs.
#[derive(Default)]
struct Stages(Mutex<Vec<String>>);

impl forge_exec::release::ReleaseProgress for Stages {
    fn started(&self, _project: &str, stage: &str) {
        self.0.lock().unwrap().push(stage.to_owned());
    }
    fn finished(&self, _project: &str, _stage: &str, _ok: bool, _detail: &str) {}
}

#[tokio::test]
async fn retry_republishes_only_what_failed_and_completes_the_release() {
    let Some(registry) = registry() else { return };
    let s = setup(&registry).await;
    s.gh.lock().unwrap().fail_uploads = true;
    let out = release_project(&s.env, &s.discovery, "svc").await.unwrap();
    assert_eq!(out.release.status, ReleaseStatus::Partial);
    let image_digest = out.release.oci_digest.clone();

    // Still failing: the retry records the new failures and stays partial.
    let again = retry_release(&s.env, &s.discovery, "svc", "1").await.unwrap();
    assert_eq!(again.release.status, ReleaseStatus::Partial);
    assert_eq!(again.retried.len(), 2, "{:?}", again.retried);

    // The destination recovers: only the two github uploads run again.
    s.gh.lock().unwrap().fail_uploads = false;
    let before = s.release_store.stats();
    let stages = Arc::new(Stages::default());
    let mut env = s.env.clone();
    env.progress = stages.clone();
    let retry = retry_release(&env, &s.discovery, "svc", "1").await.unwrap();
    assert_eq!(
        *stages.0.lock().unwrap(),
        ["produce cli", "publish cli → github", "produce schema", "publish schema → github"],
        "only the artifacts with a failed publisher are rebuilt, and only that publisher runs"
    );
    let retried: Vec<(&str, &str)> = retry.retried.iter().map(|(a, p)| (a.as_str(), p.publisher.as_str())).collect();
    assert_eq!(retried, [("cli", "github"), ("schema", "github")]);
    assert!(retry.retried.iter().all(|(_, p)| p.success));
    assert_eq!(retry.release.status, ReleaseStatus::Complete);
    assert_eq!(s.gh.lock().unwrap().uploads, 2);
    let after = s.release_store.stats();
    assert_eq!(after, before, "no tracking or release image is pushed again: {before:?} → {after:?}");
    // The record changed only in publisher results and status; the image is untouched.
    assert_eq!(retry.release.oci_digest, image_digest);
    assert_eq!(retry.release.release_number, 1);
    let stored = s.store.get_release(&s.env.repository, &"svc".parse().unwrap(), "1").await.unwrap();
    assert_eq!(stored.status, ReleaseStatus::Complete);
    assert!(stored.artifacts.iter().flat_map(|a| &a.publishers).all(|p| p.success && p.error.is_none()));

    // A complete release has nothing to retry.
    let none = retry_release(&s.env, &s.discovery, "svc", "1").await.unwrap();
    assert!(none.retried.is_empty());
    assert_eq!(s.gh.lock().unwrap().uploads, 2);
}

#[tokio::test]
async fn retry_refuses_another_commit_and_a_changed_artifact() {
    let Some(registry) = registry() else { return };
    let mut s = setup(&registry).await;
    s.gh.lock().unwrap().fail_uploads = true;
    release_project(&s.env, &s.discovery, "svc").await.unwrap();
    s.gh.lock().unwrap().fail_uploads = false;

    // Another commit checked out.
    let mut other = s.env.clone();
    other.git.commit = "1111111111111111111111111111111111111111".parse().unwrap();
    let e = retry_release(&other, &s.discovery, "svc", "1").await.unwrap_err().to_string();
    assert!(e.contains("check out 0123456789abcdef"), "{e}");

    // The producer now makes different bytes: refused, nothing recorded.
    let project = s.env.repo_root.join("svc/.forge/project.cue");
    let text = std::fs::read_to_string(&project).unwrap().replace("cp /bin/true", "cp /bin/false");
    std::fs::write(&project, text).unwrap();
    let discovery = discover_main(&s.env.repo_root);
    s.discovery = discovery;
    let e = retry_release(&s.env, &s.discovery, "svc", "1").await.unwrap_err().to_string();
    assert!(e.contains("not reproducible"), "{e}");
    let stored = s.store.get_release(&s.env.repository, &"svc".parse().unwrap(), "1").await.unwrap();
    assert_eq!(stored.status, ReleaseStatus::Partial);
    assert_eq!(s.gh.lock().unwrap().uploads, 0);
    assert!(!s.env.staging_root.join("svc").exists(), "staging cleaned");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn concurrent_releases_of_one_project_get_gapless_numbers_matching_their_images() {
    let Some(registry) = registry() else { return };
    let s = setup(&registry).await;
    let mut handles = Vec::new();
    for i in 0..4u8 {
        let mut env = s.env.clone();
        env.git.commit = format!("{:040x}", u128::from(i) + 0xabc).parse().unwrap();
        env.staging_root = s.env.staging_root.join(format!("c{i}"));
        let discovery = s.discovery.clone();
        handles.push(tokio::spawn(async move { release_project(&env, &discovery, "svc").await }));
    }
    let mut numbers = Vec::new();
    for h in handles {
        let out = h.await.unwrap().unwrap();
        let rref: forge_core::ReleaseRef = out.release.oci_ref.parse().unwrap();
        let report = forge_oci::verify_release(&*s.release_store, &rref.repository_path(), rref.tag()).await.unwrap();
        assert!(report.ok, "{report:?}");
        assert_eq!(
            report.release_number,
            Some(out.release.release_number),
            "the number baked into the image is the recorded one"
        );
        assert_eq!(report.manifest_digest.as_deref(), Some(out.release.oci_digest.as_str()));
        numbers.push(out.release.release_number);
    }
    numbers.sort_unstable();
    assert_eq!(numbers, [1, 2, 3, 4]);
}
