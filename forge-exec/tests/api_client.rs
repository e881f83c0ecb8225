//! [`ApiReleaseRecords`] against the real forge-api router, served in-process on 127.0.0.1:0
//! with SQLite: creation (idempotent, number conflicts), resolution by alias/number/SHA prefix,
//! the newest number, publishing updates, validation, authentication and authorization errors,
//! and that the token never leaks into `Debug` output or error messages; [`ApiRunReporter`]
//! with the dispatcher's reporting (plan after discovery, step and task statuses after task
//! jobs, idempotent on redelivery).
#![cfg(feature = "api")]
#![allow(missing_docs, clippy::unwrap_used, clippy::expect_used)]

use std::collections::{BTreeMap, BTreeSet};
use std::sync::Arc;

use forge_api::auth::DevIdentity;
use forge_api::config::RateLimits;
use forge_api::deploy::{GitopsDeployer, NoGitopsRemote};
use forge_api::events::LogSink;
use forge_api::metrics::Metrics;
use forge_api::ratelimit::RateLimiter;
use forge_api::store::{SqlStore, StoreOptions};
use forge_api::{AppState, app};
use forge_core::auth::Role;
use forge_core::model::{
    AliasKind, CreateRelease, RegisterRepository, ReleaseAlias, ReleaseArtifact, ReleaseTrigger, TriggerType,
};
use forge_core::ports::{Identity, Principal, ReleaseRecords, SecretValue, Store};
use forge_core::{CommitSha, Error, ErrorClass, ProjectName, ReleaseStatus, Repository};
use forge_exec::api_client::{ApiReleaseRecords, ApiRunReporter};
use forge_exec::dispatch::{DispatchRequest, RunReporter, report, report_discovery, report_task};
use forge_exec::worker::JobResult;
use serde_json::json;

/// The worker's token (a service account).
const WORKER_TOKEN: &str = "worker-token-s3cr3t-4c1d";
/// A read-only token (developer role: reads, deploys to dev, creates no releases).
const READER_TOKEN: &str = "reader-token-s3cr3t-77e2";
/// The dev token of the server (operator).
const DEV_TOKEN: &str = "dev-token-s3cr3t-90b1";

/// Tokens → principals: the worker and the reader, then the dev token.
struct Tokens(DevIdentity);

#[async_trait::async_trait]
impl Identity for Tokens {
    async fn authenticate(&self, token: &str) -> forge_core::Result<Principal> {
        let principal = |subject: &str, role| Principal { subject: subject.into(), roles: BTreeSet::from([role]) };
        match token {
            WORKER_TOKEN => Ok(principal("forge-worker", Role::ServiceAccount)),
            READER_TOKEN => Ok(principal("reader", Role::Developer)),
            other => self.0.authenticate(other).await,
        }
    }
}

struct Server {
    url: String,
    store: Arc<dyn Store>,
    _dir: tempfile::TempDir,
}

async fn server() -> Server {
    let dir = tempfile::tempdir().unwrap();
    let db = format!("sqlite://{}", dir.path().join("forge.db").display());
    let store: Arc<dyn Store> = Arc::new(SqlStore::open(&StoreOptions::new(db)).await.unwrap());
    store.register_repository(&RegisterRepository { repository: repo(), clone_url: None }, "test").await.unwrap();
    let state = AppState {
        store: store.clone(),
        identity: Arc::new(Tokens(DevIdentity::new(DEV_TOKEN).unwrap())),
        events: Arc::new(LogSink),
        deployer: Arc::new(GitopsDeployer::new(store.clone(), Arc::new(NoGitopsRemote), BTreeMap::new())),
        limits: Arc::new(RateLimiter::new(RateLimits::default())),
        metrics: Arc::new(Metrics::new().unwrap()),
        workflows: None,
        statuses: None,
    };
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let addr = listener.local_addr().unwrap();
    let router = app(state);
    tokio::spawn(async move {
        let _ = axum::serve(listener, router).await;
    });
    Server { url: format!("http://{addr}"), store, _dir: dir }
}

fn client(s: &Server, token: &str) -> ApiReleaseRecords {
    ApiReleaseRecords::new(&s.url, Some(SecretValue::from_string(token.to_owned()))).unwrap()
}

fn repo() -> Repository {
    "acme/shop".parse().unwrap()
}

fn project() -> ProjectName {
    "web".parse().unwrap()
}

fn sha(n: u64) -> CommitSha {
    format!("{n:040x}").parse().unwrap()
}

fn release_req(commit: CommitSha, expected_number: Option<u64>) -> CreateRelease {
    CreateRelease {
        repository: repo(),
        project: project(),
        commit_sha: commit,
        trigger: ReleaseTrigger {
            kind: TriggerType::BranchPush,
            branch: Some("main".into()),
            tag: None,
            actor: "ci".into(),
        },
        oci_ref: format!("registry.example:5000/acme/shop/web:{commit}"),
        oci_digest: format!("sha256:{}", "ab".repeat(32)),
        aliases: Vec::new(),
        artifacts: Vec::new(),
        status: ReleaseStatus::Complete,
        run_id: None,
        expected_number,
    }
}

/// One container artifact whose second publisher failed, or (`fixed`) succeeded on a retry.
fn artifacts(fixed: bool) -> Vec<ReleaseArtifact> {
    let second = if fixed {
        json!({"publisher": "mirror", "success": true, "uri": "mirror.example/acme/app@sha256:cd"})
    } else {
        json!({"publisher": "mirror", "success": false, "error": "mirror unreachable"})
    };
    serde_json::from_value(json!([{
        "name": "app", "type": "container", "digest": format!("sha256:{}", "cd".repeat(32)),
        "tracking_ref": "registry.example:5000/acme/shop/web/app:tracking",
        "primary_uri": "registry.example:5000/acme/shop/app@sha256:cd",
        "publishers": [
            {"publisher": "primary", "success": true, "uri": "registry.example:5000/acme/shop/app@sha256:cd"},
            second,
        ],
    }]))
    .unwrap()
}

#[tokio::test]
async fn create_is_idempotent_and_numbers_are_checked() {
    let s = server().await;
    let api = client(&s, WORKER_TOKEN);
    assert_eq!(api.latest_release_number(&repo(), &project()).await.unwrap(), None);

    let first = api.create_release(&release_req(sha(1), Some(1)), "ignored").await.unwrap();
    assert!(first.created);
    assert_eq!(first.value.release_number, 1);
    // The API records the token's subject, not the actor argument.
    let again = api.create_release(&release_req(sha(1), Some(1)), "ignored").await.unwrap();
    assert!(!again.created, "the same triplet returns the existing release");
    assert_eq!(again.value.id, first.value.id);

    // The number baked into an image must be the project's next one: a conflict, with the
    // API's message (release creation rebuilds its image on it).
    match api.create_release(&release_req(sha(2), Some(1)), "ci").await {
        Err(Error::Conflict { message, .. }) => assert!(message.contains("the next one is 2"), "{message}"),
        other => panic!("expected a conflict, got {other:?}"),
    }
    assert_eq!(api.latest_release_number(&repo(), &project()).await.unwrap(), Some(1));
    let second = api.create_release(&release_req(sha(2), Some(2)), "ci").await.unwrap();
    assert!(second.created);
    assert_eq!(second.value.release_number, 2);
    assert_eq!(api.latest_release_number(&repo(), &project()).await.unwrap(), Some(2));
    // Another project has none.
    assert_eq!(api.latest_release_number(&repo(), &"api".parse().unwrap()).await.unwrap(), None);
    // What the API recorded is what the store holds.
    assert_eq!(s.store.get_release(&repo(), &project(), "2").await.unwrap(), second.value);
}

#[tokio::test]
async fn get_by_alias_number_and_sha_prefix() {
    let s = server().await;
    let api = client(&s, WORKER_TOKEN);
    let mut req = release_req(sha(0xabc_def1), None);
    req.aliases = vec![ReleaseAlias { kind: AliasKind::Custom, alias: "stable.v1_rc-2".into() }];
    let created = api.create_release(&req, "ci").await.unwrap().value;
    for id in ["1", "main-1", "stable.v1_rc-2", &created.commit_sha.to_string()[..12], &created.commit_sha.to_string()]
    {
        let got = api.get_release(&repo(), &project(), id).await.unwrap();
        assert_eq!(got, created, "resolving {id}");
    }
    for id in ["2", "main-2", "feature/x", "a b?c#d", "..", "."] {
        match api.get_release(&repo(), &project(), id).await {
            Err(e @ Error::NotFound { .. }) => assert_eq!(e.class(), ErrorClass::Persistent),
            other => panic!("{id}: expected not found, got {other:?}"),
        }
    }
}

#[tokio::test]
async fn update_publishing_completes_a_partial_release() {
    let s = server().await;
    let api = client(&s, WORKER_TOKEN);
    let mut req = release_req(sha(7), None);
    req.artifacts = artifacts(false);
    req.status = ReleaseStatus::Partial;
    let created = api.create_release(&req, "ci").await.unwrap().value;
    assert_eq!(created.status, ReleaseStatus::Partial);

    // A client that has not seen the release cannot address it, and says what to do.
    let fresh = client(&s, WORKER_TOKEN);
    match fresh.update_release_publishing(created.id, &artifacts(true), ReleaseStatus::Complete, "ci").await {
        Err(Error::Validation { field, message, .. }) => {
            assert_eq!(field, "release_id");
            assert!(message.contains(&created.id.to_string()) && message.contains("get_release"), "{message}");
        }
        other => panic!("expected a validation error, got {other:?}"),
    }
    // A status that disagrees with the results is a conflict and changes nothing.
    match api.update_release_publishing(created.id, &artifacts(false), ReleaseStatus::Complete, "ci").await {
        Err(Error::Conflict { message, .. }) => assert!(message.contains("does not match"), "{message}"),
        other => panic!("expected a conflict, got {other:?}"),
    }

    // Once read (as release retry does), the fresh client can record the retry.
    let read = fresh.get_release(&repo(), &project(), "main-1").await.unwrap();
    assert_eq!(read.id, created.id);
    let updated =
        fresh.update_release_publishing(created.id, &artifacts(true), ReleaseStatus::Complete, "ci").await.unwrap();
    assert_eq!(updated.id, created.id);
    assert_eq!(updated.status, ReleaseStatus::Complete);
    assert_eq!(updated.artifacts, artifacts(true));
    assert_eq!(s.store.get_release(&repo(), &project(), "1").await.unwrap(), updated);

    // A complete release cannot be updated again.
    match api.update_release_publishing(created.id, &artifacts(true), ReleaseStatus::Complete, "ci").await {
        Err(Error::Conflict { message, .. }) => assert!(message.contains("only a partial release"), "{message}"),
        other => panic!("expected a conflict, got {other:?}"),
    }
}

#[tokio::test]
async fn api_errors_map_to_core_errors() {
    let s = server().await;
    // 422 names the field.
    let mut req = release_req(sha(3), None);
    req.aliases = vec![ReleaseAlias { kind: AliasKind::Custom, alias: "12".into() }];
    match client(&s, WORKER_TOKEN).create_release(&req, "ci").await {
        Err(Error::Validation { field, message, .. }) => {
            assert_eq!(field, "aliases[0].alias");
            assert!(message.contains("must not be a number"), "{message}");
        }
        other => panic!("expected a validation error, got {other:?}"),
    }
    // 403: a role that may read but not create releases.
    let reader = client(&s, READER_TOKEN);
    assert_eq!(reader.latest_release_number(&repo(), &project()).await.unwrap(), None);
    match reader.create_release(&release_req(sha(3), None), "ci").await {
        Err(e @ Error::PermissionDenied { .. }) => assert_eq!(e.class(), ErrorClass::Persistent),
        other => panic!("expected permission denied, got {other:?}"),
    }
    // The dev token (operator) works too.
    assert!(client(&s, DEV_TOKEN).create_release(&release_req(sha(3), None), "ci").await.unwrap().created);
    // No token at all: 401.
    let anonymous = ApiReleaseRecords::new(&s.url, None).unwrap();
    assert!(matches!(anonymous.get_release(&repo(), &project(), "1").await, Err(Error::Unauthorized { .. })));
}

#[tokio::test]
async fn wrong_token_is_an_auth_error_and_the_token_never_leaks() {
    let s = server().await;
    let wrong = "wrong-token-TOPSECRET-5f3a";
    let api = client(&s, wrong);
    let err = api.get_release(&repo(), &project(), "1").await.unwrap_err();
    assert!(matches!(err, Error::Unauthorized { .. }), "{err:?}");
    assert_eq!(err.class(), ErrorClass::Persistent);
    for text in [err.to_string(), format!("{err:?}"), format!("{api:?}")] {
        assert!(!text.contains(wrong), "token leaked: {text}");
    }
    assert!(format!("{api:?}").contains("redacted"), "{api:?}");
    let good = client(&s, WORKER_TOKEN);
    assert!(!format!("{good:?}").contains(WORKER_TOKEN));

    // An unreachable API is transient (retried), and its error carries no token either.
    let closed = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let dead_url = format!("http://{}", closed.local_addr().unwrap());
    drop(closed);
    let dead = ApiReleaseRecords::new(&dead_url, Some(SecretValue::from_string(wrong.to_owned()))).unwrap();
    let err = dead.create_release(&release_req(sha(4), None), "ci").await.unwrap_err();
    assert_eq!(err.class(), ErrorClass::Transient, "{err:?}");
    let mut chain = format!("{err} {err:?}");
    let mut src = std::error::Error::source(&err);
    while let Some(e) = src {
        chain.push_str(&format!(" {e} {e:?}"));
        src = e.source();
    }
    assert!(!chain.contains(wrong), "token leaked: {chain}");
}

fn reporter(s: &Server, token: &str) -> ApiRunReporter {
    ApiRunReporter::new(&s.url, Some(SecretValue::from_string(token.to_owned()))).unwrap()
}

fn job_result(run_id: uuid::Uuid, kind: &str, status: &str, result: serde_json::Value) -> JobResult {
    serde_json::from_value(json!({
        "job_id": uuid::Uuid::new_v4(), "run_id": run_id, "type": kind, "status": status, "result": result,
        "receive_count": 1, "finished_at": "2026-01-01T00:00:00Z",
    }))
    .unwrap()
}

/// A SPEC §2.5 discovery document: build (api, web) and test (web) in group 1 and 2.
fn discovery_document() -> serde_json::Value {
    let step = |name: &str, priority: i64| json!({"name": name, "action": "earthly", "target": format!("+{name}"), "priority": priority});
    json!({
        "repository": {"forgeVersion": "0.1", "phases": {}, "publishers": {}},
        "projects": [
            {"name": "api", "path": "services/api", "phases": {"build": [step("image", 0)], "test": []},
             "releaseTriggered": false, "deploymentTriggered": false},
            {"name": "web", "path": "services/web", "phases": {"build": [step("image", 10), step("lint", 0)],
             "test": [{"name": "unit", "action": "script", "run": "true", "priority": 0}]},
             "releaseTriggered": false, "deploymentTriggered": false},
        ],
        "phaseGroups": [{"group": 2, "phases": ["test"]}, {"group": 1, "phases": ["build"]}],
        "releaseEnabled": false, "releaseProjects": [], "errors": [],
    })
}

fn step_status(run: &forge_core::model::PipelineRun, phase: &str, project: &str, step: &str) -> (String, Option<i32>) {
    let s = run
        .phases
        .iter()
        .filter(|p| p.name == phase)
        .flat_map(|p| &p.tasks)
        .filter(|t| t.project.as_str() == project)
        .flat_map(|t| &t.steps)
        .find(|s| s.name == step)
        .unwrap();
    (s.status.to_string(), s.exit_code)
}

/// A run of commit `sha(n)` created directly in the store.
async fn new_run(s: &Server, n: u64) -> forge_core::model::PipelineRun {
    let req =
        forge_core::model::CreateRun { repository: repo(), commit_sha: sha(n), branch: None, tag: None, rerun: false };
    s.store.create_run(&req, "api").await.unwrap().value
}

#[tokio::test]
async fn run_reporter_records_the_plan_and_the_statuses_idempotently() {
    let s = server().await;
    let created = new_run(&s, 9).await;
    let run_id = created.id;
    let r = reporter(&s, WORKER_TOKEN);

    // Discovery: the plan, in group order, the run running; a second report changes nothing.
    let discovery = job_result(run_id, "discovery", "completed", discovery_document());
    report_discovery(&r, run_id, &discovery).await.unwrap();
    let planned = r.get_run(run_id).await.unwrap();
    assert_eq!(planned.status.to_string(), "running");
    let names: Vec<(&str, u32, usize)> =
        planned.phases.iter().map(|p| (p.name.as_str(), p.group, p.tasks.len())).collect();
    assert_eq!(names, [("build", 1, 2), ("test", 2, 1)]);
    let web_build = &planned.phases[0].tasks[1];
    assert_eq!((web_build.project.as_str(), web_build.project_path.as_str()), ("web", "services/web"));
    assert_eq!(
        web_build.steps.iter().map(|s| (s.name.as_str(), s.priority)).collect::<Vec<_>>(),
        [("image", 10), ("lint", 0)]
    );
    report_discovery(&r, run_id, &discovery).await.unwrap();
    assert_eq!(r.get_run(run_id).await.unwrap(), planned, "a retried discovery dispatcher re-plans nothing");

    // Task web/build: image succeeded, lint failed (exit 2).
    let web = json!({"status": "failed", "phases": [{"name": "build", "group": 1, "status": "failed", "tasks": [
        {"project": "web", "status": "failed", "steps": [
            {"name": "image", "status": "success", "exit_code": 0, "log_key": "logs/image.log"},
            {"name": "lint", "status": "failed", "exit_code": 2, "error": "exit status 2"}]}]}]});
    let task = job_result(run_id, "task", "failed", web);
    report_task(&r, run_id, "build", "web", &task).await.unwrap();
    let run = r.get_run(run_id).await.unwrap();
    assert_eq!(step_status(&run, "build", "web", "image"), ("success".into(), Some(0)));
    assert_eq!(step_status(&run, "build", "web", "lint"), ("failed".into(), Some(2)));
    assert_eq!(run.phases[0].tasks[1].status.to_string(), "failed");
    assert_eq!(run.status.to_string(), "failed");
    // Redelivered: the same report again is a no-op.
    report_task(&r, run_id, "build", "web", &task).await.unwrap();
    assert_eq!(r.get_run(run_id).await.unwrap(), run);

    // Task api/build failed without a report (no checkout): the task fails with the job's error.
    let mut broken = job_result(run_id, "task", "failed", serde_json::Value::Null);
    broken.error = Some("cloning failed".into());
    report_task(&r, run_id, "build", "api", &broken).await.unwrap();
    let run = r.get_run(run_id).await.unwrap();
    assert_eq!(run.phases[0].tasks[0].status.to_string(), "failed");
    report_task(&r, run_id, "build", "api", &broken).await.unwrap();

    // Task web/test skipped by fail-fast: pending → skipped directly.
    let skipped = json!({"status": "failed", "phases": [{"name": "test", "group": 2, "status": "skipped", "tasks": [
        {"project": "web", "status": "skipped", "steps": [{"name": "unit", "status": "skipped"}]}]}]});
    report_task(&r, run_id, "test", "web", &job_result(run_id, "task", "completed", skipped)).await.unwrap();
    let run = r.get_run(run_id).await.unwrap();
    assert_eq!(step_status(&run, "test", "web", "unit"), ("skipped".into(), None));

    // Unknown task: an error for the caller; `report` only logs it.
    let err = report_task(&r, run_id, "deploy", "web", &task).await.unwrap_err();
    assert!(err.to_string().contains("deploy/web"), "{err}");
    let req = DispatchRequest {
        run_id,
        repository: repo(),
        commit_sha: sha(9),
        kind: forge_core::model::JobType::Task,
        project: Some(project()),
        phase: Some("deploy".into()),
        branch: None,
        tag: None,
    };
    report(&r, &req, &task).await;

    // A reader may not report; the error is a permission error without the token.
    let reader = reporter(&s, READER_TOKEN);
    let run2 = new_run(&s, 10).await;
    let err = report_discovery(&reader, run2.id, &job_result(run2.id, "discovery", "completed", discovery_document()))
        .await
        .unwrap_err();
    assert!(matches!(err, forge_exec::Error::Port(Error::PermissionDenied { .. })), "{err:?}");
    assert!(!format!("{err} {err:?} {reader:?}").contains(READER_TOKEN));
    // A failed discovery fails the run, naming the configuration error with its position;
    // reported twice (a retried dispatcher), it changes nothing more.
    let mut doc = discovery_document();
    doc["errors"] = json!([{"path": "services/web", "file": "services/web/.forge/project.cue", "line": 3,
                            "column": 7, "message": "name: expected a DNS label, found \"Web\""}]);
    let failed = job_result(run2.id, "discovery", "failed", doc);
    report_discovery(&r, run2.id, &failed).await.unwrap();
    let run = r.get_run(run2.id).await.unwrap();
    assert!(run.phases.is_empty());
    assert_eq!(run.status, forge_core::RunStatus::Failed);
    assert!(run.finished_at.is_some());
    report_discovery(&r, run2.id, &failed).await.unwrap();
    assert_eq!(r.get_run(run2.id).await.unwrap(), run);
}
