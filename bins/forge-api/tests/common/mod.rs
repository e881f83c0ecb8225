//! Shared test support: fresh databases on both backends, JWT signing with the fixture keys,
//! a local JWKS server, an in-memory GitOps remote, and fixtures.
#![allow(dead_code, missing_docs, clippy::unwrap_used, clippy::expect_used)]

use std::collections::BTreeMap;
use std::sync::atomic::Ordering;
use std::sync::{Arc, Mutex};

use async_trait::async_trait;
use forge_api::store::{Backend, SqlStore, StoreOptions};
use forge_core::model::{CreateRelease, CreateRun, RegisterRepository, ReleaseTrigger, TriggerType};
use forge_core::ports::{GitopsRemote, PointerCommit};
use forge_core::{CommitSha, ProjectName, ReleaseStatus, Repository};
use rand::Rng;
use sqlx::Executor;

/// A database for one test; drop it with [`TestDb::cleanup`].
pub struct TestDb {
    pub store: SqlStore,
    pub url: String,
    admin_url: Option<(String, String)>,
    _dir: Option<tempfile::TempDir>,
}

impl TestDb {
    pub async fn cleanup(self) {
        let TestDb { store, admin_url, .. } = self;
        store.pool().close().await;
        if let Some((admin, name)) = admin_url
            && let Ok(mut conn) = <sqlx::AnyConnection as sqlx::Connection>::connect(&admin).await
        {
            let _ = conn.execute(format!("DROP DATABASE IF EXISTS {name} WITH (FORCE)").as_str()).await;
        }
    }
}

pub async fn sqlite() -> TestDb {
    let dir = tempfile::tempdir().unwrap();
    let url = format!("sqlite://{}", dir.path().join("forge.db").display());
    let store = SqlStore::open(&StoreOptions::new(url.clone())).await.unwrap();
    assert_eq!(store.backend(), Backend::Sqlite);
    TestDb { store, url, admin_url: None, _dir: Some(dir) }
}

/// A fresh PostgreSQL database, or `None` (with a note) when the server is unreachable and
/// `FORGE_TEST_REQUIRE_SERVICES` is not `1`.
pub async fn postgres() -> Option<TestDb> {
    sqlx::any::install_default_drivers();
    let base =
        std::env::var("FORGE_TEST_PG_URL").unwrap_or_else(|_| "postgres://postgres@127.0.0.1:5432/postgres".to_owned());
    let required = std::env::var("FORGE_TEST_REQUIRE_SERVICES").as_deref() == Ok("1");
    let conn = tokio::time::timeout(
        std::time::Duration::from_secs(5),
        <sqlx::AnyConnection as sqlx::Connection>::connect(&base),
    )
    .await;
    let mut conn = match conn {
        Ok(Ok(c)) => c,
        other => {
            let why = match other {
                Ok(Err(e)) => e.to_string(),
                _ => "timed out".to_owned(),
            };
            if required {
                panic!("PostgreSQL at {base} is required (FORGE_TEST_REQUIRE_SERVICES=1) but unreachable: {why}");
            }
            eprintln!("note: skipping PostgreSQL test: {base} unreachable ({why})");
            return None;
        }
    };
    let name = format!("forge_test_{:016x}", rand::thread_rng().r#gen::<u64>());
    conn.execute(format!("CREATE DATABASE {name}").as_str()).await.unwrap();
    let (prefix, _) = base.rsplit_once('/').unwrap();
    let url = format!("{prefix}/{name}");
    let mut opts = StoreOptions::new(url.clone());
    opts.max_connections = 20;
    let store = SqlStore::open(&opts).await.unwrap();
    assert_eq!(store.backend(), Backend::Postgres);
    Some(TestDb { store, url, admin_url: Some((base, name)), _dir: None })
}

pub fn repo() -> Repository {
    "acme/shop".parse().unwrap()
}

pub fn project() -> ProjectName {
    "web".parse().unwrap()
}

/// A deterministic 40-hex SHA from a number, with a given prefix.
pub fn sha(n: u64) -> CommitSha {
    format!("{n:040x}").parse().unwrap()
}

pub fn sha_with_prefix(prefix: &str, n: u64) -> CommitSha {
    let tail = format!("{n:040x}");
    format!("{prefix}{}", &tail[prefix.len()..]).parse().unwrap()
}

pub fn register() -> RegisterRepository {
    RegisterRepository { repository: repo(), clone_url: None }
}

pub fn run_req(n: u64, rerun: bool) -> CreateRun {
    CreateRun { repository: repo(), commit_sha: sha(n), branch: Some("main".into()), tag: None, rerun }
}

pub fn release_req(commit: CommitSha, kind: TriggerType, branch: Option<&str>, tag: Option<&str>) -> CreateRelease {
    CreateRelease {
        repository: repo(),
        project: project(),
        commit_sha: commit,
        trigger: ReleaseTrigger {
            kind,
            branch: branch.map(str::to_owned),
            tag: tag.map(str::to_owned),
            actor: "ci".into(),
        },
        oci_ref: format!("registry.example:5000/acme/shop/web:{commit}"),
        oci_digest: format!("sha256:{}", "ab".repeat(32)),
        aliases: Vec::new(),
        artifacts: Vec::new(),
        status: ReleaseStatus::Complete,
        run_id: None,
        expected_number: None,
    }
}

/// The real GitOps adapter (forge-gitops over the git CLI) on a bare remote in a temporary
/// directory. `set_fail(true)` installs a `pre-receive` hook that rejects every push, the
/// way a protected or unreachable remote would.
pub struct RealGitops {
    pub bare: std::path::PathBuf,
    repo: forge_gitops::GitopsRepo,
    _tmp: tempfile::TempDir,
}

/// One commit on the remote: the file it changed, its content, its message.
#[derive(Debug, Clone)]
pub struct RemoteCommit {
    pub path: String,
    pub content: Vec<u8>,
    pub message: String,
}

fn git_out(dir: &std::path::Path, args: &[&str]) -> String {
    let out = std::process::Command::new("git").arg("-C").arg(dir).args(args).output().unwrap();
    String::from_utf8(out.stdout).unwrap()
}

impl RealGitops {
    pub async fn new() -> Self {
        let tmp = tempfile::tempdir().unwrap();
        let bare = tmp.path().join("gitops.git");
        let st =
            std::process::Command::new("git").args(["init", "-q", "--bare", "-b", "main"]).arg(&bare).status().unwrap();
        assert!(st.success());
        let repo = forge_gitops::GitopsRepo::open_remote(bare.to_str().unwrap(), tmp.path().join("writer"))
            .await
            .unwrap()
            .with_retry(forge_core::retry::RetryPolicy::fast())
            .with_conflict_attempts(2);
        Self { bare, repo, _tmp: tmp }
    }
    pub fn set_fail(&self, fail: bool) {
        let hook = self.bare.join("hooks/pre-receive");
        if fail {
            std::fs::write(&hook, "#!/bin/sh\necho 'push rejected by policy' >&2\nexit 1\n").unwrap();
            use std::os::unix::fs::PermissionsExt;
            std::fs::set_permissions(&hook, std::fs::Permissions::from_mode(0o755)).unwrap();
        } else {
            let _ = std::fs::remove_file(&hook);
        }
    }
    /// Commits of the remote's `main`, oldest first.
    pub fn commits(&self) -> Vec<RemoteCommit> {
        let list = git_out(&self.bare, &["rev-list", "--reverse", "main"]);
        list.lines()
            .map(|sha| {
                let path = git_out(&self.bare, &["diff-tree", "--no-commit-id", "--name-only", "-r", "--root", sha]);
                let path = path.lines().next().unwrap_or_default().to_owned();
                let content = git_out(&self.bare, &["show", &format!("{sha}:{path}")]).into_bytes();
                let message = git_out(&self.bare, &["log", "-1", "--format=%B", sha]).trim_end().to_owned();
                RemoteCommit { path, content, message }
            })
            .collect()
    }
}

#[async_trait]
impl GitopsRemote for RealGitops {
    async fn commit_pointer(&self, change: &PointerCommit) -> forge_core::Result<String> {
        self.repo.commit_pointer(change).await
    }
    async fn read_file(&self, path: &str, revision: Option<&str>) -> forge_core::Result<Vec<u8>> {
        self.repo.read_file(path, revision).await
    }
    async fn file_history(&self, path: &str, limit: usize) -> forge_core::Result<Vec<(String, Option<Vec<u8>>)>> {
        self.repo.file_history(path, limit).await
    }
}

// ---------------------------------------------------------------------------------------------
// JWT support

pub const ISSUER_PATH: &str = "/realms/forge";
pub const AUDIENCE: &str = "forge-api";

fn key_file(name: &str) -> Vec<u8> {
    std::fs::read(format!("{}/tests/keys/{name}", env!("CARGO_MANIFEST_DIR"))).unwrap()
}

pub fn jwk(kid: &str) -> serde_json::Value {
    serde_json::from_slice(&key_file(&format!("{kid}.jwk.json"))).unwrap()
}

/// Signs `claims` with the fixture key `kid` (`rsa1`, `rsa2` → RS256; `ec1` → ES256).
pub fn sign(kid: &str, claims: &serde_json::Value) -> String {
    use jsonwebtoken::{Algorithm, EncodingKey, Header, encode};
    let der = key_file(&format!("{kid}.der"));
    let (alg, key) = if kid.starts_with("rsa") {
        (Algorithm::RS256, EncodingKey::from_rsa_der(&der))
    } else {
        (Algorithm::ES256, EncodingKey::from_ec_der(&der))
    };
    let mut header = Header::new(alg);
    header.kid = Some(kid.to_owned());
    encode(&header, claims, &key).unwrap()
}

/// A JWKS server on 127.0.0.1:0 serving discovery and a mutable key set.
pub struct JwksServer {
    pub issuer: String,
    pub keys: Arc<Mutex<Vec<serde_json::Value>>>,
    pub fetches: Arc<std::sync::atomic::AtomicUsize>,
}

pub async fn jwks_server(kids: &[&str]) -> JwksServer {
    use axum::routing::get;
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let addr = listener.local_addr().unwrap();
    let issuer = format!("http://{addr}{ISSUER_PATH}");
    let keys = Arc::new(Mutex::new(kids.iter().map(|k| jwk(k)).collect::<Vec<_>>()));
    let fetches = Arc::new(std::sync::atomic::AtomicUsize::new(0));
    let (k2, f2, iss2) = (keys.clone(), fetches.clone(), issuer.clone());
    let app = axum::Router::new()
        .route(
            &format!("{ISSUER_PATH}/.well-known/openid-configuration"),
            get(move || {
                let iss = iss2.clone();
                async move {
                    axum::Json(
                        serde_json::json!({"issuer": iss, "jwks_uri": format!("{iss}/protocol/openid-connect/certs")}),
                    )
                }
            }),
        )
        .route(
            &format!("{ISSUER_PATH}/protocol/openid-connect/certs"),
            get(move || {
                let (k, f) = (k2.clone(), f2.clone());
                async move {
                    f.fetch_add(1, Ordering::SeqCst);
                    let keys = k.lock().unwrap().clone();
                    axum::Json(serde_json::json!({ "keys": keys }))
                }
            }),
        );
    tokio::spawn(async move {
        let _ = axum::serve(listener, app).await;
    });
    JwksServer { issuer, keys, fetches }
}

/// Standard claims for a subject with roles, valid for an hour.
pub fn claims(issuer: &str, sub: &str, roles: &[&str]) -> serde_json::Value {
    let now = chrono::Utc::now().timestamp();
    serde_json::json!({
        "iss": issuer, "aud": AUDIENCE, "sub": sub, "exp": now + 3600, "nbf": now - 10, "iat": now,
        "realm_access": { "roles": roles },
    })
}

pub fn policies(
    entries: &[(&str, forge_core::policy::EnvironmentPolicy)],
) -> BTreeMap<String, forge_core::policy::EnvironmentPolicy> {
    entries.iter().map(|(k, v)| ((*k).to_owned(), v.clone())).collect()
}
