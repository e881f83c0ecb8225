//! The GitHub adapter's wire contract, against a local HTTP server implementing the endpoints
//! it uses exactly as GitHub documents them (GitHub itself is out of reach here).
#![cfg(feature = "github")]
#![allow(clippy::unwrap_used, clippy::expect_used)]

use std::sync::{Arc, Mutex};

use axum::extract::{Path, State};
use axum::http::{HeaderMap, StatusCode};
use axum::routing::{get, patch, post};
use axum::{Json, Router};
use forge_core::ports::{CommitState, CommitStatusReporter, SecretValue};
use forge_core::{CommitSha, Repository};
use forge_exec::github::{GithubStatusReporter, SUMMARY_MARKER, report, status_descriptions};
use serde_json::{Value, json};

#[derive(Default)]
struct Fake {
    requests: Vec<(String, String, Value)>,
    comments: Vec<(u64, String)>,
    fail_statuses: bool,
}
type S = Arc<Mutex<Fake>>;

fn auth_ok(h: &HeaderMap) -> bool {
    h.get("authorization").and_then(|v| v.to_str().ok()) == Some("Bearer gh-token-123")
        && h.get("accept").and_then(|v| v.to_str().ok()) == Some("application/vnd.github+json")
}

async fn statuses(
    State(s): State<S>,
    h: HeaderMap,
    Path((o, r, sha)): Path<(String, String, String)>,
    Json(b): Json<Value>,
) -> (StatusCode, Json<Value>) {
    let mut f = s.lock().unwrap();
    if !auth_ok(&h) {
        return (StatusCode::UNAUTHORIZED, Json(json!({"message": "Bad credentials"})));
    }
    if f.fail_statuses {
        return (StatusCode::BAD_GATEWAY, Json(json!({"message": "Server Error"})));
    }
    f.requests.push(("POST".into(), format!("/repos/{o}/{r}/statuses/{sha}"), b.clone()));
    (StatusCode::CREATED, Json(json!({"id": 1, "state": b["state"], "context": b["context"]})))
}

async fn list_comments(
    State(s): State<S>,
    h: HeaderMap,
    Path((_o, _r, n)): Path<(String, String, u64)>,
) -> (StatusCode, Json<Value>) {
    if !auth_ok(&h) {
        return (StatusCode::UNAUTHORIZED, Json(json!({"message": "Bad credentials"})));
    }
    let f = s.lock().unwrap();
    let list: Vec<Value> = f
        .comments
        .iter()
        .enumerate()
        .filter(|(_, (pr, _))| *pr == n)
        .map(|(i, (_, body))| json!({"id": i as u64 + 100, "body": body}))
        .collect();
    (StatusCode::OK, Json(Value::Array(list)))
}

async fn create_comment(
    State(s): State<S>,
    Path((_o, _r, n)): Path<(String, String, u64)>,
    Json(b): Json<Value>,
) -> (StatusCode, Json<Value>) {
    let mut f = s.lock().unwrap();
    f.comments.push((n, b["body"].as_str().unwrap().to_owned()));
    f.requests.push(("POST".into(), format!("comments/{n}"), b));
    (StatusCode::CREATED, Json(json!({"id": f.comments.len() as u64 + 99})))
}

async fn update_comment(
    State(s): State<S>,
    Path((_o, _r, id)): Path<(String, String, u64)>,
    Json(b): Json<Value>,
) -> (StatusCode, Json<Value>) {
    let mut f = s.lock().unwrap();
    let idx = (id - 100) as usize;
    f.comments[idx].1 = b["body"].as_str().unwrap().to_owned();
    f.requests.push(("PATCH".into(), format!("comments/{id}"), b));
    (StatusCode::OK, Json(json!({"id": id})))
}

async fn serve() -> (String, S) {
    let state: S = Arc::default();
    let app = Router::new()
        .route("/repos/{o}/{r}/statuses/{sha}", post(statuses))
        .route("/repos/{o}/{r}/issues/{n}/comments", get(list_comments).post(create_comment))
        .route("/repos/{o}/{r}/issues/comments/{id}", patch(update_comment))
        .with_state(state.clone());
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let addr = listener.local_addr().unwrap();
    tokio::spawn(async move { axum::serve(listener, app).await.unwrap() });
    (format!("http://{addr}"), state)
}

fn repo() -> Repository {
    "acme/shop".parse().unwrap()
}
fn sha() -> CommitSha {
    "0123456789abcdef0123456789abcdef01234567".parse().unwrap()
}

#[tokio::test]
async fn statuses_follow_the_documented_shape() {
    let (base, state) = serve().await;
    let gh = GithubStatusReporter::new(
        &base,
        SecretValue::from_string("gh-token-123".into()),
        Some("https://forge/runs/1".into()),
    )
    .unwrap();
    gh.set_status(&repo(), &sha(), CommitState::Pending, &status_descriptions::phase_done(2, 4)).await.unwrap();
    gh.set_status(
        &repo(),
        &sha(),
        CommitState::Success,
        &status_descriptions::finished(true, std::time::Duration::from_secs(192)),
    )
    .await
    .unwrap();
    let f = state.lock().unwrap();
    assert_eq!(f.requests.len(), 2);
    assert_eq!(f.requests[0].1, "/repos/acme/shop/statuses/0123456789abcdef0123456789abcdef01234567");
    assert_eq!(
        f.requests[0].2,
        json!({"state": "pending", "description": "Running phase 2 of 4 (50% complete)", "context": "ci/catalyst-forge", "target_url": "https://forge/runs/1"})
    );
    assert_eq!(f.requests[1].2["description"], "Pipeline succeeded in 3m12s");
    assert!(!format!("{gh:?}").contains("gh-token-123"), "token redacted in Debug");
}

#[tokio::test]
async fn failures_are_classified_and_never_fail_the_run() {
    let (base, state) = serve().await;
    let bad = GithubStatusReporter::new(&base, SecretValue::from_string("wrong".into()), None).unwrap();
    let e = bad.set_status(&repo(), &sha(), CommitState::Failure, "x").await.unwrap_err();
    assert!(matches!(e, forge_core::Error::Unauthorized { .. }), "{e}");
    assert!(e.to_string().contains("Bad credentials") && !e.to_string().contains("wrong"));
    state.lock().unwrap().fail_statuses = true;
    let gh = GithubStatusReporter::new(&base, SecretValue::from_string("gh-token-123".into()), None).unwrap();
    let e = gh.set_status(&repo(), &sha(), CommitState::Failure, "x").await.unwrap_err();
    assert_eq!(e.class(), forge_core::ErrorClass::Transient);
    // `report` swallows it.
    report(&gh, &repo(), &sha(), CommitState::Failure, "x").await;
}

#[tokio::test]
async fn summary_comment_is_created_once_then_updated() {
    let (base, state) = serve().await;
    let gh = GithubStatusReporter::new(&base, SecretValue::from_string("gh-token-123".into()), None).unwrap();
    gh.comment(&repo(), 7, "first").await.unwrap();
    gh.comment(&repo(), 7, "second").await.unwrap();
    let f = state.lock().unwrap();
    assert_eq!(f.comments.len(), 1);
    assert_eq!(f.comments[0].1, format!("{SUMMARY_MARKER}\nsecond"));
    assert_eq!(f.requests.iter().map(|r| r.0.as_str()).collect::<Vec<_>>(), ["POST", "PATCH"]);
}

#[test]
fn descriptions() {
    assert_eq!(status_descriptions::human(std::time::Duration::from_secs(5)), "5s");
    assert_eq!(status_descriptions::human(std::time::Duration::from_secs(3725)), "1h02m05s");
    assert_eq!(forge_core::ports::commit_state_for("discovering"), CommitState::Pending);
    assert_eq!(forge_core::ports::commit_state_for("cancelled"), CommitState::Error);
    assert_eq!(forge_core::ports::commit_state_for("weird"), CommitState::Error);
}
