//! HTTP tests of the router: authentication with JWTs signed by local keys and served as a JWKS
//! by a local server, the SPEC §8 permission table for every role × route, deployments,
//! validation, rate limits and the operational endpoints.
#![allow(missing_docs, clippy::unwrap_used, clippy::expect_used)]

mod common;

use std::sync::Arc;
use std::time::Duration;

use axum::Router;
use axum::body::Body;
use axum::http::{HeaderMap, Method, Request, StatusCode};
use base64::Engine;
use common::*;
use forge_api::auth::{AuthChain, DevIdentity, JwtIdentity, OidcConfig};
use forge_api::config::RateLimits;
use forge_api::deploy::GitopsDeployer;
use forge_api::metrics::Metrics;
use forge_api::ratelimit::RateLimiter;
use forge_api::{AppState, app};
use forge_core::auth::{Action, Role, role_allows};
use forge_core::model::TriggerType;
use forge_core::policy::EnvironmentPolicy;
use forge_core::ports::{Identity, Store};
use serde_json::{Value, json};
use tower::ServiceExt;

#[derive(Default)]
struct RecordingSink(std::sync::Mutex<Vec<forge_core::ports::Event>>);

#[async_trait::async_trait]
impl forge_core::ports::EventSink for RecordingSink {
    async fn emit(&self, event: &forge_core::ports::Event) -> forge_core::Result<()> {
        self.0.lock().unwrap().push(event.clone());
        Ok(())
    }
}

struct Harness {
    events: Arc<RecordingSink>,
    app: Router,
    jwks: JwksServer,
    gitops: Arc<RealGitops>,
    db: TestDb,
}

impl Harness {
    fn token(&self, sub: &str, roles: &[&str]) -> String {
        sign("rsa1", &claims(&self.jwks.issuer, sub, roles))
    }
    fn operator(&self) -> String {
        self.token("olga", &["operator"])
    }
}

async fn harness_with(db: TestDb, policies: &[(&str, EnvironmentPolicy)], limits: RateLimits) -> Harness {
    harness_full(db, policies, limits, None).await
}

/// A harness whose commit statuses go to the GitHub REST API at `github`.
async fn harness_full(
    db: TestDb,
    policies: &[(&str, EnvironmentPolicy)],
    limits: RateLimits,
    github: Option<&str>,
) -> Harness {
    let jwks = jwks_server(&["rsa1", "ec1"]).await;
    let oidc =
        JwtIdentity::new(OidcConfig::new(jwks.issuer.clone(), AUDIENCE)).unwrap().with_refetch_interval(Duration::ZERO);
    let identity: Arc<dyn Identity> =
        Arc::new(AuthChain::new(Some(DevIdentity::new("dev-token-123").unwrap()), Some(Arc::new(oidc))));
    let store: Arc<dyn Store> = Arc::new(db.store.clone());
    let gitops = Arc::new(RealGitops::new().await);
    let events = Arc::new(RecordingSink::default());
    let state = AppState {
        store: store.clone(),
        identity,
        events: events.clone(),
        deployer: Arc::new(GitopsDeployer::new(store.clone(), gitops.clone(), common::policies(policies))),
        limits: Arc::new(RateLimiter::new(limits)),
        metrics: Arc::new(Metrics::new().unwrap()),
        workflows: None,
        statuses: github.map(|base| {
            let reporter = forge_exec::github::GithubStatusReporter::new(
                base,
                forge_core::ports::SecretValue::from_string("gh-status-token".into()),
                None,
            )
            .unwrap();
            forge_api::commit_status::RunStatusNotifier::spawn(Arc::new(reporter), store.clone())
        }),
    };
    Harness { events, app: app(state), jwks, gitops, db }
}

async fn harness() -> Harness {
    harness_with(sqlite().await, &[], RateLimits::default()).await
}

async fn call(
    app: &Router,
    method: Method,
    uri: &str,
    token: Option<&str>,
    body: Option<Value>,
) -> (StatusCode, HeaderMap, Value) {
    let mut req = Request::builder().method(method).uri(uri);
    if let Some(t) = token {
        req = req.header("authorization", format!("Bearer {t}"));
    }
    let req = match body {
        Some(b) => req.header("content-type", "application/json").body(Body::from(b.to_string())).unwrap(),
        None => req.body(Body::empty()).unwrap(),
    };
    let resp = app.clone().oneshot(req).await.unwrap();
    let status = resp.status();
    let headers = resp.headers().clone();
    let bytes = axum::body::to_bytes(resp.into_body(), 1 << 24).await.unwrap();
    let value =
        serde_json::from_slice(&bytes).unwrap_or_else(|_| Value::String(String::from_utf8_lossy(&bytes).into()));
    (status, headers, value)
}

const SHA1: &str = "1111111111111111111111111111111111111111";
const SHA2: &str = "2222222222222222222222222222222222222222";

fn release_body(sha: &str, trigger: Value) -> Value {
    json!({
        "repository": "acme/shop", "project": "web", "commit_sha": sha, "trigger": trigger,
        "oci_ref": format!("registry.example:5000/acme/shop/web:{sha}"), "oci_digest": format!("sha256:{}", "ab".repeat(32)),
    })
}

/// Registers the repository, creates a planned run and two releases; returns (run id, task id, step id, release id).
async fn fixtures(h: &Harness) -> (String, String, String, String) {
    let op = h.operator();
    let (s, _, _) =
        call(&h.app, Method::POST, "/v1/repositories", Some(&op), Some(json!({"repository": "acme/shop"}))).await;
    assert_eq!(s, StatusCode::CREATED);
    let (s, _, run) =
        call(&h.app, Method::POST, "/v1/runs", Some(&op), Some(json!({"repository": "acme/shop", "commit_sha": SHA1})))
            .await;
    assert_eq!(s, StatusCode::CREATED, "{run}");
    let run_id: uuid::Uuid = run["id"].as_str().unwrap().parse().unwrap();
    // Plan the run directly through the store (discovery does this in production).
    let mut planned = h.db.store.get_run(run_id).await.unwrap();
    let step_id = uuid::Uuid::new_v4();
    let task_id = uuid::Uuid::new_v4();
    planned.phases = serde_json::from_value(json!([{
        "id": uuid::Uuid::new_v4(), "name": "build", "group": 1, "status": "pending",
        "tasks": [{"id": task_id, "project": "web", "project_path": "web", "status": "pending",
                   "steps": [{"id": step_id, "name": "image", "action": "earthly", "priority": 0, "status": "pending"}]}]
    }]))
    .unwrap();
    h.db.store.save_run(&planned).await.unwrap();
    let (s, _, rel) = call(
        &h.app,
        Method::POST,
        "/v1/releases",
        Some(&op),
        Some(release_body(SHA1, json!({"type": "branch_push", "branch": "main", "actor": "ci"}))),
    )
    .await;
    assert_eq!(s, StatusCode::CREATED, "{rel}");
    let (s, _, _) = call(
        &h.app,
        Method::POST,
        "/v1/releases",
        Some(&op),
        Some(release_body(SHA2, json!({"type": "tag", "tag": "web/v1.0.0", "actor": "ci"}))),
    )
    .await;
    assert_eq!(s, StatusCode::CREATED);
    (run_id.to_string(), task_id.to_string(), step_id.to_string(), rel["id"].as_str().unwrap().to_owned())
}

#[tokio::test]
async fn permission_table_every_role_and_route() {
    let h = harness().await;
    let (run_id, task_id, step_id, release_id) = fixtures(&h).await;
    let routes: Vec<(&str, Method, String, Option<Value>, Action)> = vec![
        ("get run", Method::GET, format!("/v1/runs/{run_id}"), None, Action::Read),
        ("get jobs", Method::GET, format!("/v1/jobs/{run_id}"), None, Action::Read),
        ("get release", Method::GET, "/v1/releases/acme/shop/web/1".into(), None, Action::Read),
        ("list releases", Method::GET, "/v1/releases/acme/shop/web".into(), None, Action::Read),
        ("list deployments", Method::GET, "/v1/deployments/dev/acme/shop/web".into(), None, Action::Read),
        ("list approvals", Method::GET, format!("/v1/approvals/{release_id}/prod"), None, Action::Read),
        (
            "create run",
            Method::POST,
            "/v1/runs".into(),
            Some(json!({"repository": "acme/shop", "commit_sha": SHA2})),
            Action::CreateRun,
        ),
        ("plan run", Method::PUT, format!("/v1/runs/{run_id}/plan"), Some(json!({"phases": []})), Action::UpdateStatus),
        (
            "task status",
            Method::PUT,
            format!("/v1/tasks/{task_id}/status"),
            Some(json!({"status": "running"})),
            Action::UpdateStatus,
        ),
        (
            "step status",
            Method::PUT,
            format!("/v1/steps/{step_id}/status"),
            Some(json!({"status": "running"})),
            Action::UpdateStatus,
        ),
        (
            "create release",
            Method::POST,
            "/v1/releases".into(),
            Some(release_body(SHA1, json!({"type": "branch_push", "branch": "main", "actor": "ci"}))),
            Action::CreateRelease,
        ),
        (
            "update publishing",
            Method::PUT,
            "/v1/releases/acme/shop/web/1/publishing".into(),
            Some(json!({"artifacts": [], "status": "complete"})),
            Action::CreateRelease,
        ),
        (
            "deploy dev",
            Method::POST,
            "/v1/deployments".into(),
            Some(json!({"repository": "acme/shop", "project": "web", "release": "1", "environment": "dev"})),
            Action::DeployDev,
        ),
        (
            "deploy prod",
            Method::POST,
            "/v1/deployments".into(),
            Some(json!({"repository": "acme/shop", "project": "web", "release": "2", "environment": "prod"})),
            Action::DeployOther,
        ),
        (
            "approve",
            Method::POST,
            "/v1/approvals".into(),
            Some(json!({"repository": "acme/shop", "project": "web", "release": "2", "environment": "prod"})),
            Action::CreateApproval,
        ),
        (
            "register repository",
            Method::POST,
            "/v1/repositories".into(),
            Some(json!({"repository": "acme/other"})),
            Action::RegisterRepository,
        ),
        ("cancel run", Method::DELETE, format!("/v1/runs/{run_id}"), None, Action::CancelRun),
    ];
    let mut checked = 0;
    for role in Role::ALL {
        let token = h.token(&format!("user-{role}"), &[role.as_str()]);
        for (name, method, uri, body, action) in &routes {
            let (status, _, resp) = call(&h.app, method.clone(), uri, Some(&token), body.clone()).await;
            if role_allows(role, *action) {
                // Allowed: past authentication and authorization (state may make it a 409 later,
                // e.g. a status update after an operator cancelled the run).
                assert!(
                    status.is_success() || status == StatusCode::CONFLICT,
                    "{role} × {name}: expected to be allowed, got {status}: {resp}"
                );
            } else {
                assert_eq!(status, StatusCode::FORBIDDEN, "{role} × {name}: {resp}");
                assert_eq!(resp["error"]["code"], "permission_denied");
            }
            checked += 1;
        }
    }
    // A token without roles is refused everywhere; no token is 401.
    let none = h.token("nobody", &[]);
    for (name, method, uri, body, _) in &routes {
        let (status, _, _) = call(&h.app, method.clone(), uri, Some(&none), body.clone()).await;
        assert_eq!(status, StatusCode::FORBIDDEN, "role-less × {name}");
        let (status, _, resp) = call(&h.app, method.clone(), uri, None, body.clone()).await;
        assert_eq!(status, StatusCode::UNAUTHORIZED, "anonymous × {name}");
        assert_eq!(resp["error"]["code"], "authentication_required");
    }
    assert_eq!(checked, Role::ALL.len() * routes.len());
    h.db.cleanup().await;
}

#[tokio::test]
async fn jwt_verification() {
    let h = harness().await;
    let iss = h.jwks.issuer.clone();
    let read = |t: String| {
        let app = h.app.clone();
        async move { call(&app, Method::GET, "/v1/releases/acme/shop/web", Some(&t), None).await.0 }
    };
    assert_eq!(read(sign("rsa1", &claims(&iss, "u", &["developer"]))).await, StatusCode::OK, "RS256");
    assert_eq!(read(sign("ec1", &claims(&iss, "u", &["developer"]))).await, StatusCode::OK, "ES256");
    assert_eq!(read("dev-token-123".into()).await, StatusCode::OK, "dev token");

    let mut c = claims(&iss, "u", &["developer"]);
    c["iss"] = json!("https://evil.example/realms/forge");
    assert_eq!(read(sign("rsa1", &c)).await, StatusCode::UNAUTHORIZED, "wrong issuer");
    let mut c = claims(&iss, "u", &["developer"]);
    c["aud"] = json!("someone-else");
    assert_eq!(read(sign("rsa1", &c)).await, StatusCode::UNAUTHORIZED, "wrong audience");
    let mut c = claims(&iss, "u", &["developer"]);
    c["exp"] = json!(chrono::Utc::now().timestamp() - 120);
    assert_eq!(read(sign("rsa1", &c)).await, StatusCode::UNAUTHORIZED, "expired");
    let mut c = claims(&iss, "u", &["developer"]);
    c["exp"] = json!(chrono::Utc::now().timestamp() - 5);
    assert_eq!(read(sign("rsa1", &c)).await, StatusCode::OK, "expired within the leeway");
    let mut c = claims(&iss, "u", &["developer"]);
    c["nbf"] = json!(chrono::Utc::now().timestamp() + 300);
    assert_eq!(read(sign("rsa1", &c)).await, StatusCode::UNAUTHORIZED, "not yet valid");
    let mut c = claims(&iss, "u", &["developer"]);
    c.as_object_mut().unwrap().remove("exp");
    assert_eq!(read(sign("rsa1", &c)).await, StatusCode::UNAUTHORIZED, "no exp");

    let b64 = |v: &Value| base64::engine::general_purpose::URL_SAFE_NO_PAD.encode(v.to_string());
    let payload = b64(&claims(&iss, "u", &["operator"]));
    let none = format!("{}.{payload}.", b64(&json!({"alg": "none", "kid": "rsa1", "typ": "JWT"})));
    assert_eq!(read(none).await, StatusCode::UNAUTHORIZED, "alg none");

    // Algorithm confusion: HS256 keyed with the RSA public key material.
    let public = jwk("rsa1")["n"].as_str().unwrap().to_owned();
    let mut header = jsonwebtoken::Header::new(jsonwebtoken::Algorithm::HS256);
    header.kid = Some("rsa1".into());
    let hs = jsonwebtoken::encode(
        &header,
        &claims(&iss, "u", &["operator"]),
        &jsonwebtoken::EncodingKey::from_secret(public.as_bytes()),
    )
    .unwrap();
    assert_eq!(read(hs).await, StatusCode::UNAUTHORIZED, "HS256 with a public key");

    // An RSA-signed token claiming the EC key's kid, and a forged signature.
    let mut header = jsonwebtoken::Header::new(jsonwebtoken::Algorithm::RS256);
    header.kid = Some("ec1".into());
    let der = std::fs::read(format!("{}/tests/keys/rsa1.der", env!("CARGO_MANIFEST_DIR"))).unwrap();
    let confused = jsonwebtoken::encode(
        &header,
        &claims(&iss, "u", &["operator"]),
        &jsonwebtoken::EncodingKey::from_rsa_der(&der),
    )
    .unwrap();
    assert_eq!(read(confused).await, StatusCode::UNAUTHORIZED, "RS256 against an EC key");
    let good = sign("rsa1", &claims(&iss, "u", &["developer"]));
    let forged = format!("{}.{}", good.rsplit_once('.').unwrap().0, "AAAA");
    assert_eq!(read(forged).await, StatusCode::UNAUTHORIZED, "bad signature");
    assert_eq!(read("not-a-jwt".into()).await, StatusCode::UNAUTHORIZED, "garbage");

    // Unknown kid: refused while the JWKS lacks it, accepted after rotation (refetch).
    let rotated = sign("rsa2", &claims(&iss, "u", &["developer"]));
    assert_eq!(read(rotated.clone()).await, StatusCode::UNAUTHORIZED, "unknown kid");
    let before = h.jwks.fetches.load(std::sync::atomic::Ordering::SeqCst);
    h.jwks.keys.lock().unwrap().push(jwk("rsa2"));
    assert_eq!(read(rotated).await, StatusCode::OK, "refetched on unknown kid");
    assert!(h.jwks.fetches.load(std::sync::atomic::Ordering::SeqCst) > before);

    // Roles come from realm_access.roles; other claims do not grant anything.
    let mut c = claims(&iss, "u", &[]);
    c["roles"] = json!(["operator"]);
    let (s, _, _) =
        call(&h.app, Method::POST, "/v1/repositories", Some(&sign("rsa1", &c)), Some(json!({"repository": "a/b"})))
            .await;
    assert_eq!(s, StatusCode::FORBIDDEN);
    let (s, _, _) = call(&h.app, Method::GET, "/v1/releases/acme/shop/web", Some(""), None).await;
    assert_eq!(s, StatusCode::UNAUTHORIZED);
    h.db.cleanup().await;
}

#[tokio::test]
async fn custom_roles_claim_path() {
    let jwks = jwks_server(&["rsa1"]).await;
    let mut cfg = OidcConfig::new(jwks.issuer.clone(), AUDIENCE);
    cfg.roles_claim = "resource_access.forge.roles".into();
    let id = JwtIdentity::new(cfg).unwrap();
    let mut c = claims(&jwks.issuer, "svc", &["developer"]);
    c["resource_access"] = json!({"forge": {"roles": ["service-account", "unknown-role"]}});
    let p = id.authenticate(&sign("rsa1", &c)).await.unwrap();
    assert_eq!(p.subject, "svc");
    assert_eq!(p.roles.into_iter().collect::<Vec<_>>(), vec![Role::ServiceAccount]);
}

#[tokio::test]
async fn deployments_policies_approvals_and_rollback() {
    let policies = [
        ("dev", EnvironmentPolicy::default()),
        (
            "prod",
            EnvironmentPolicy {
                allowed_triggers: vec![TriggerType::Tag],
                allowed_branches: Vec::new(),
                auto_deploy: false,
                requires_approval: true,
            },
        ),
    ];
    let h = harness_with(sqlite().await, &policies, RateLimits::default()).await;
    fixtures(&h).await;
    let op = h.operator();
    let deploy = |release: &str, env: &str, rollback: bool| json!({"repository": "acme/shop", "project": "web", "release": release, "environment": env, "rollback": rollback});
    // Policy: a branch release may not go to prod.
    let (s, _, body) = call(&h.app, Method::POST, "/v1/deployments", Some(&op), Some(deploy("1", "prod", false))).await;
    assert_eq!(s, StatusCode::FORBIDDEN, "{body}");
    assert_eq!(body["error"]["details"]["rule"], "allowed_triggers");
    assert_eq!(body["error"]["details"]["actual"], "branch_push");
    // Approval required.
    let (s, _, body) =
        call(&h.app, Method::POST, "/v1/deployments", Some(&op), Some(deploy("v1.0.0", "prod", false))).await;
    assert_eq!(s, StatusCode::FORBIDDEN, "{body}");
    assert_eq!(body["error"]["details"]["rule"], "requires_approval");
    let approver = h.token("anna", &["approver"]);
    let (s, _, approval) = call(&h.app, Method::POST, "/v1/approvals", Some(&approver),
        Some(json!({"repository": "acme/shop", "project": "web", "release": "2", "environment": "prod", "comment": "lgtm"}))).await;
    assert_eq!(s, StatusCode::CREATED, "{approval}");
    let (s, _, list) = call(
        &h.app,
        Method::GET,
        &format!("/v1/approvals/{}/prod", approval["release_id"].as_str().unwrap()),
        Some(&op),
        None,
    )
    .await;
    assert_eq!(s, StatusCode::OK);
    assert_eq!(list["approvals"].as_array().unwrap().len(), 1);
    let (s, _, d) =
        call(&h.app, Method::POST, "/v1/deployments", Some(&op), Some(deploy("v1.0.0", "prod", false))).await;
    assert_eq!(s, StatusCode::CREATED, "{d}");
    assert_eq!(d["status"], "active");
    assert_eq!(d["approved_by"], "anna");
    assert_eq!(d["gitops_commit"].as_str().unwrap().len(), 40);
    let commits = h.gitops.commits();
    assert_eq!(commits.len(), 1);
    assert_eq!(commits[0].path, "environments/prod/acme/shop/web/release.yaml");
    assert_eq!(commits[0].message, "Deploy web release 2 (v1.0.0) to prod");
    let pointer: Value = serde_yaml::from_slice(&commits[0].content).unwrap();
    assert_eq!(pointer["kind"], "ReleasePointer");
    assert_eq!(pointer["metadata"], json!({"name": "web", "environment": "prod"}));
    assert_eq!(pointer["spec"]["release"], SHA2);
    assert_eq!(pointer["spec"]["aliases"], json!({"numeric": 2, "tag": "v1.0.0"}));
    assert_eq!(pointer["spec"]["approvedBy"], "anna");
    assert_eq!(pointer["spec"]["deployedBy"], "olga");

    // Unknown environment.
    let (s, _, body) =
        call(&h.app, Method::POST, "/v1/deployments", Some(&op), Some(deploy("1", "staging", false))).await;
    assert_eq!(s, StatusCode::UNPROCESSABLE_ENTITY, "{body}");
    assert_eq!(body["error"]["details"]["fields"][0]["field"], "environment");

    // dev: deploy 1, then 2, then roll back to 1.
    for r in ["1", "2"] {
        let (s, _, body) =
            call(&h.app, Method::POST, "/v1/deployments", Some(&op), Some(deploy(r, "dev", false))).await;
        assert_eq!(s, StatusCode::CREATED, "{body}");
    }
    // A failed pointer commit records nothing.
    h.gitops.set_fail(true);
    let (s, _, body) = call(&h.app, Method::POST, "/v1/deployments", Some(&op), Some(deploy("1", "dev", false))).await;
    // The real remote rejects the push (pre-receive hook): after the conflict retries the API
    // answers 409 and records nothing.
    assert_eq!(s, StatusCode::CONFLICT, "{body}");
    assert!(!body.to_string().contains(h.gitops.bare.to_str().unwrap()), "no server paths in the answer: {body}");
    h.gitops.set_fail(false);
    let (_, _, hist) = call(&h.app, Method::GET, "/v1/deployments/dev/acme/shop/web", Some(&op), None).await;
    let hist = hist["deployments"].as_array().unwrap().clone();
    assert_eq!(hist.len(), 2);
    assert_eq!((hist[0]["release_number"].as_u64(), hist[0]["status"].as_str()), (Some(2), Some("active")));
    assert_eq!(hist[1]["status"], "superseded");

    let (s, _, rb) = call(&h.app, Method::POST, "/v1/deployments", Some(&op), Some(deploy("", "dev", true))).await;
    assert_eq!(s, StatusCode::CREATED, "{rb}");
    assert_eq!((rb["release_number"].as_u64(), rb["rollback"].as_bool()), (Some(1), Some(true)));
    let msg = h.gitops.commits().last().unwrap().message.clone();
    assert_eq!(msg, "Rollback web in dev to release 1 (main-1)\n\nPrevious release: 2 (v1.0.0)\nRolled back by: olga");
    let (_, _, hist) = call(&h.app, Method::GET, "/v1/deployments/dev/acme/shop/web", Some(&op), None).await;
    let active: Vec<_> = hist["deployments"].as_array().unwrap().iter().filter(|d| d["status"] == "active").collect();
    assert_eq!(active.len(), 1);
    assert_eq!(active[0]["release_number"], 1);
    // Developers deploy to dev but not prod.
    let devl = h.token("dora", &["developer"]);
    let (s, _, _) =
        call(&h.app, Method::POST, "/v1/deployments", Some(&devl), Some(deploy("v1.0.0", "prod", false))).await;
    assert_eq!(s, StatusCode::FORBIDDEN);
    h.db.cleanup().await;
}

#[tokio::test]
async fn validation_errors_name_fields() {
    let h = harness().await;
    let op = h.operator();
    let (s, _, body) =
        call(&h.app, Method::POST, "/v1/runs", Some(&op), Some(json!({"repository": "acme/shop", "commit_sha": SHA1})))
            .await;
    assert_eq!(s, StatusCode::UNPROCESSABLE_ENTITY, "unregistered repository: {body}");
    assert_eq!(body["error"]["details"]["fields"][0]["field"], "repository");
    let (s, _, body) = call(
        &h.app,
        Method::POST,
        "/v1/releases",
        Some(&op),
        Some(release_body(SHA1, json!({"type": "nightly", "actor": "ci"}))),
    )
    .await;
    assert_eq!(s, StatusCode::UNPROCESSABLE_ENTITY);
    assert_eq!(body["error"]["code"], "validation_error");
    assert_eq!(body["error"]["details"]["fields"][0]["field"], "trigger.type");
    let mut bad = release_body(SHA1, json!({"type": "manual", "actor": "ci", "branch": ""}));
    bad["aliases"] =
        json!([{"kind": "custom", "alias": ""}, {"kind": "custom", "alias": "7"}, {"kind": "custom", "alias": "ok"}]);
    let (s, _, body) = call(&h.app, Method::POST, "/v1/releases", Some(&op), Some(bad)).await;
    assert_eq!(s, StatusCode::UNPROCESSABLE_ENTITY);
    let fields: Vec<&str> =
        body["error"]["details"]["fields"].as_array().unwrap().iter().map(|f| f["field"].as_str().unwrap()).collect();
    assert_eq!(fields, vec!["aliases[0].alias", "aliases[1].alias", "trigger.branch"]);
    let (s, _, body) =
        call(&h.app, Method::POST, "/v1/repositories", Some(&op), Some(json!({"repository": "no-slash"}))).await;
    assert_eq!(s, StatusCode::UNPROCESSABLE_ENTITY);
    assert_eq!(body["error"]["details"]["fields"][0]["field"], "repository");
    let (s, _, body) = call(&h.app, Method::POST, "/v1/repositories", Some(&op), None).await;
    assert_eq!(
        (s, body["error"]["details"]["fields"][0]["field"].as_str()),
        (StatusCode::UNPROCESSABLE_ENTITY, Some("body"))
    );
    let (s, _, body) = call(&h.app, Method::GET, "/v1/runs/not-a-uuid", Some(&op), None).await;
    assert_eq!(
        (s, body["error"]["details"]["fields"][0]["field"].as_str()),
        (StatusCode::UNPROCESSABLE_ENTITY, Some("id"))
    );
    let (s, _, body) = call(&h.app, Method::GET, "/v1/releases/acme/shop/web?limit=0&offset=-1", Some(&op), None).await;
    assert_eq!(s, StatusCode::UNPROCESSABLE_ENTITY);
    assert_eq!(body["error"]["details"]["fields"].as_array().unwrap().len(), 2);
    let (s, _, body) = call(&h.app, Method::GET, "/v1/releases/acme/shop/web?limit=5", Some(&op), None).await;
    assert_eq!(s, StatusCode::OK);
    assert_eq!(body, json!({"releases": [], "total": 0, "limit": 5, "offset": 0}));
    let (s, _, body) = call(&h.app, Method::GET, "/v1/releases/acme/shop/web/42", Some(&op), None).await;
    assert_eq!((s, body["error"]["code"].as_str()), (StatusCode::NOT_FOUND, Some("not_found")));
    let (s, _, body) = call(&h.app, Method::GET, "/v1/nothing", Some(&op), None).await;
    assert_eq!((s, body["error"]["code"].as_str()), (StatusCode::NOT_FOUND, Some("not_found")));
    h.db.cleanup().await;
}

#[tokio::test]
async fn runs_http_flow_and_rate_limits() {
    let h = harness_with(sqlite().await, &[], RateLimits { runs_per_minute: 3, deployments_per_minute: 1 }).await;
    let op = h.operator();
    call(&h.app, Method::POST, "/v1/repositories", Some(&op), Some(json!({"repository": "acme/shop"}))).await;
    let body = json!({"repository": "acme/shop", "commit_sha": SHA1});
    let (s, _, first) = call(&h.app, Method::POST, "/v1/runs", Some(&op), Some(body.clone())).await;
    assert_eq!(s, StatusCode::CREATED);
    let (s, _, again) = call(&h.app, Method::POST, "/v1/runs", Some(&op), Some(body.clone())).await;
    assert_eq!((s, &again["id"]), (StatusCode::OK, &first["id"]));
    let (s, _, rerun) = call(
        &h.app,
        Method::POST,
        "/v1/runs",
        Some(&op),
        Some(json!({"repository": "acme/shop", "commit_sha": SHA1, "rerun": true})),
    )
    .await;
    assert_eq!((s, rerun["attempt"].as_u64()), (StatusCode::CREATED, Some(2)));
    let (s, headers, limited) = call(&h.app, Method::POST, "/v1/runs", Some(&op), Some(body)).await;
    assert_eq!(s, StatusCode::TOO_MANY_REQUESTS, "{limited}");
    assert_eq!(limited["error"]["code"], "rate_limited");
    let retry: u64 = headers["retry-after"].to_str().unwrap().parse().unwrap();
    assert!((1..=60).contains(&retry));
    let id = first["id"].as_str().unwrap();
    let (s, _, run) = call(&h.app, Method::GET, &format!("/v1/runs/{id}"), Some(&op), None).await;
    assert_eq!((s, run["status"].as_str()), (StatusCode::OK, Some("pending")));
    let (s, _, jobs) = call(&h.app, Method::GET, &format!("/v1/jobs/{id}"), Some(&op), None).await;
    assert_eq!((s, jobs), (StatusCode::OK, json!({"jobs": []})));
    let (s, _, _) = call(&h.app, Method::DELETE, &format!("/v1/runs/{id}"), Some(&op), None).await;
    assert_eq!(s, StatusCode::NO_CONTENT);
    let (_, _, run) = call(&h.app, Method::GET, &format!("/v1/runs/{id}"), Some(&op), None).await;
    assert_eq!(run["status"], "cancelled");
    let (s, _, _) = call(&h.app, Method::GET, &format!("/v1/jobs/{}", uuid::Uuid::new_v4()), Some(&op), None).await;
    assert_eq!(s, StatusCode::NOT_FOUND);
    // Deployments: 1 per minute per environment here.
    let rel = release_body(SHA1, json!({"type": "manual", "actor": "ci"}));
    call(&h.app, Method::POST, "/v1/releases", Some(&op), Some(rel)).await;
    let dep = json!({"repository": "acme/shop", "project": "web", "release": "1", "environment": "dev"});
    let (s, _, _) = call(&h.app, Method::POST, "/v1/deployments", Some(&op), Some(dep.clone())).await;
    assert_eq!(s, StatusCode::CREATED);
    let (s, headers, _) = call(&h.app, Method::POST, "/v1/deployments", Some(&op), Some(dep)).await;
    assert_eq!(s, StatusCode::TOO_MANY_REQUESTS);
    assert!(headers.contains_key("retry-after"));
    h.db.cleanup().await;
}

#[tokio::test]
async fn operational_endpoints() {
    let h = harness().await;
    let (s, _, body) = call(&h.app, Method::GET, "/healthz", None, None).await;
    assert_eq!((s, body), (StatusCode::OK, json!({"status": "ok"})));
    let (s, _, body) = call(&h.app, Method::GET, "/readyz", None, None).await;
    assert_eq!((s, body), (StatusCode::OK, json!({"status": "ok"})));
    let (s, _, doc) = call(&h.app, Method::GET, "/openapi.json", None, None).await;
    assert_eq!(s, StatusCode::OK);
    assert_eq!(doc["openapi"], "3.1.0");
    let paths: Vec<&str> = doc["paths"].as_object().unwrap().keys().map(String::as_str).collect();
    for p in [
        "/v1/runs",
        "/v1/runs/{id}",
        "/v1/runs/{id}/plan",
        "/v1/tasks/{id}/status",
        "/v1/steps/{id}/status",
        "/v1/jobs/{run_id}",
        "/v1/releases",
        "/v1/releases/{owner}/{name}/{project}",
        "/v1/releases/{owner}/{name}/{project}/{release_id}",
        "/v1/releases/{owner}/{name}/{project}/{release_id}/publishing",
        "/v1/deployments",
        "/v1/deployments/{env}/{owner}/{name}/{project}",
        "/v1/approvals",
        "/v1/approvals/{release_id}/{env}",
        "/v1/repositories",
        "/healthz",
        "/readyz",
        "/metrics",
    ] {
        assert!(paths.contains(&p), "{p} missing from the OpenAPI document");
    }
    assert!(doc["components"]["securitySchemes"]["bearer"].is_object());
    let (s, _, text) = call(&h.app, Method::GET, "/metrics", None, None).await;
    assert_eq!(s, StatusCode::OK);
    let text = text.as_str().unwrap();
    assert!(
        text.contains("forge_api_http_requests_total{method=\"GET\",route=\"/readyz\",status=\"200\"} 1"),
        "{text}"
    );
    // Readiness fails when the database is gone.
    h.db.store.pool().close().await;
    let (s, _, body) = call(&h.app, Method::GET, "/readyz", None, None).await;
    assert_eq!((s, body), (StatusCode::SERVICE_UNAVAILABLE, json!({"status": "unavailable"})));
}

#[tokio::test]
async fn api_on_postgres() {
    let Some(db) = postgres().await else { return };
    let h = harness_with(db, &[], RateLimits::default()).await;
    let (run_id, task_id, step_id, _) = fixtures(&h).await;
    let op = h.operator();
    for (uri, status) in [
        (format!("/v1/tasks/{task_id}/status"), "running"),
        (format!("/v1/steps/{step_id}/status"), "running"),
        (format!("/v1/steps/{step_id}/status"), "success"),
    ] {
        let (s, _, body) =
            call(&h.app, Method::PUT, &uri, Some(&op), Some(json!({"status": status, "exit_code": 0}))).await;
        assert_eq!(s, StatusCode::OK, "{body}");
    }
    let (_, _, run) = call(&h.app, Method::GET, &format!("/v1/runs/{run_id}"), Some(&op), None).await;
    assert_eq!(run["status"], "success");
    assert_eq!(run["phases"][0]["tasks"][0]["steps"][0]["exit_code"], 0);
    let (s, _, body) = call(
        &h.app,
        Method::PUT,
        &format!("/v1/steps/{step_id}/status"),
        Some(&op),
        Some(json!({"status": "running"})),
    )
    .await;
    assert_eq!((s, body["error"]["code"].as_str()), (StatusCode::CONFLICT, Some("conflict")));
    let (s, _, page) = call(&h.app, Method::GET, "/v1/releases/acme/shop/web?limit=1&offset=1", Some(&op), None).await;
    assert_eq!(s, StatusCode::OK);
    assert_eq!((page["total"].as_u64(), page["releases"][0]["release_number"].as_u64()), (Some(2), Some(1)));
    h.db.cleanup().await;
}

#[tokio::test]
async fn events_reach_the_sink() {
    use forge_core::ports::EventType;
    let h = harness().await;
    let (_, task_id, step_id, _) = fixtures(&h).await;
    let op = h.operator();
    for (uri, status) in [
        (format!("/v1/tasks/{task_id}/status"), "running"),
        (format!("/v1/steps/{step_id}/status"), "running"),
        (format!("/v1/steps/{step_id}/status"), "failed"),
    ] {
        let (s, _, body) = call(&h.app, Method::PUT, &uri, Some(&op), Some(json!({"status": status}))).await;
        assert_eq!(s, StatusCode::OK, "{body}");
    }
    let dep = json!({"repository": "acme/shop", "project": "web", "release": "1", "environment": "dev"});
    let (s, _, _) = call(&h.app, Method::POST, "/v1/deployments", Some(&op), Some(dep)).await;
    assert_eq!(s, StatusCode::CREATED);
    // Re-creating an existing release emits nothing.
    call(
        &h.app,
        Method::POST,
        "/v1/releases",
        Some(&op),
        Some(release_body(SHA1, json!({"type": "branch_push", "branch": "main", "actor": "ci"}))),
    )
    .await;
    let kinds: Vec<EventType> = h.events.0.lock().unwrap().iter().map(|e| e.kind).collect();
    assert_eq!(
        kinds,
        vec![
            EventType::RunCreated,
            EventType::ReleaseCreated,
            EventType::ReleaseCreated,
            EventType::RunCompleted,
            EventType::DeploymentCreated
        ]
    );
    let completed = h.events.0.lock().unwrap()[3].data.clone();
    assert_eq!(completed["status"], "failed");
    h.db.cleanup().await;
}

/// The artifacts of a partial release: one container whose second publisher failed, or
/// (`fixed`) succeeded on a retry.
fn publishing_artifacts(fixed: bool) -> Value {
    let second = if fixed {
        json!({"publisher": "mirror", "success": true, "uri": "mirror.example/acme/app@sha256:cd"})
    } else {
        json!({"publisher": "mirror", "success": false, "error": "mirror unreachable"})
    };
    json!([{
        "name": "app", "type": "container", "digest": format!("sha256:{}", "cd".repeat(32)),
        "tracking_ref": "registry.example:5000/acme/shop/web/app:tracking",
        "primary_uri": "registry.example:5000/acme/shop/app@sha256:cd",
        "publishers": [
            {"publisher": "primary", "success": true, "uri": "registry.example:5000/acme/shop/app@sha256:cd"},
            second,
        ],
    }])
}

#[tokio::test]
async fn release_publishing_retry_over_http() {
    let h = harness().await;
    let op = h.operator();
    call(&h.app, Method::POST, "/v1/repositories", Some(&op), Some(json!({"repository": "acme/shop"}))).await;
    let mut body = release_body(SHA1, json!({"type": "branch_push", "branch": "main", "actor": "ci"}));
    body["artifacts"] = publishing_artifacts(false);
    body["status"] = json!("partial");
    let (s, _, created) = call(&h.app, Method::POST, "/v1/releases", Some(&op), Some(body)).await;
    assert_eq!(s, StatusCode::CREATED, "{created}");
    assert_eq!(created["status"], "partial");
    let events_before = h.events.0.lock().unwrap().len();
    let uri = "/v1/releases/acme/shop/web/1/publishing";
    let fixed = json!({"artifacts": publishing_artifacts(true), "status": "complete"});

    // Viewers (roles that may read releases but not create them) may not record a retry.
    for role in ["developer", "approver"] {
        let viewer = h.token("vera", &[role]);
        let (s, _, resp) = call(&h.app, Method::PUT, uri, Some(&viewer), Some(fixed.clone())).await;
        assert_eq!((s, resp["error"]["code"].as_str()), (StatusCode::FORBIDDEN, Some("permission_denied")), "{role}");
    }
    // Malformed bodies are 422 naming the field.
    let (s, _, resp) =
        call(&h.app, Method::PUT, uri, Some(&op), Some(json!({"artifacts": [], "status": "done"}))).await;
    assert_eq!((s, resp["error"]["code"].as_str()), (StatusCode::UNPROCESSABLE_ENTITY, Some("validation_error")));
    assert_eq!(resp["error"]["details"]["fields"][0]["field"], "status", "{resp}");
    let (s, _, resp) = call(&h.app, Method::PUT, uri, Some(&op), None).await;
    assert_eq!(s, StatusCode::UNPROCESSABLE_ENTITY, "{resp}");
    // Unknown releases and projects are 404.
    let (s, _, resp) =
        call(&h.app, Method::PUT, "/v1/releases/acme/shop/web/7/publishing", Some(&op), Some(fixed.clone())).await;
    assert_eq!((s, resp["error"]["code"].as_str()), (StatusCode::NOT_FOUND, Some("not_found")));
    let (s, _, _) =
        call(&h.app, Method::PUT, "/v1/releases/acme/shop/api/1/publishing", Some(&op), Some(fixed.clone())).await;
    assert_eq!(s, StatusCode::NOT_FOUND);
    // A status that disagrees with the results is a conflict, and changes nothing.
    let lying = json!({"artifacts": publishing_artifacts(false), "status": "complete"});
    let (s, _, resp) = call(&h.app, Method::PUT, uri, Some(&op), Some(lying)).await;
    assert_eq!((s, resp["error"]["code"].as_str()), (StatusCode::CONFLICT, Some("conflict")), "{resp}");

    // The retry's results, addressed by alias: 200 with the release as GET shows it.
    let (s, _, updated) =
        call(&h.app, Method::PUT, "/v1/releases/acme/shop/web/main-1/publishing", Some(&op), Some(fixed.clone())).await;
    assert_eq!(s, StatusCode::OK, "{updated}");
    assert_eq!(updated["status"], "complete");
    assert_eq!(updated["id"], created["id"]);
    assert_eq!(updated["artifacts"], publishing_artifacts(true));
    let (s, _, fetched) = call(&h.app, Method::GET, "/v1/releases/acme/shop/web/1", Some(&op), None).await;
    assert_eq!((s, &fetched), (StatusCode::OK, &updated));

    // The release is complete now: a second update is a conflict.
    let (s, _, resp) = call(&h.app, Method::PUT, uri, Some(&op), Some(fixed)).await;
    assert_eq!((s, resp["error"]["code"].as_str()), (StatusCode::CONFLICT, Some("conflict")), "{resp}");
    assert!(resp["error"]["message"].as_str().unwrap().contains("only a partial release"), "{resp}");
    // No event type exists for a publishing update; none is emitted.
    assert_eq!(h.events.0.lock().unwrap().len(), events_before);
    h.db.cleanup().await;
}

/// A planned run body: build (web: image, lint) then test (web: unit), with client-side ids
/// and statuses the server replaces.
fn plan_body() -> Value {
    let step = |name: &str, priority: i64| {
        json!({"id": uuid::Uuid::new_v4(), "name": name, "action": "script", "priority": priority, "status": "success",
               "exit_code": 3})
    };
    json!({"phases": [
        {"id": uuid::Uuid::new_v4(), "name": "build", "group": 1, "status": "running",
         "tasks": [{"id": uuid::Uuid::new_v4(), "project": "web", "project_path": "services/web", "status": "pending",
                    "steps": [step("image", 10), step("lint", 0)]}]},
        {"id": uuid::Uuid::new_v4(), "name": "test", "group": 2, "status": "pending",
         "tasks": [{"id": uuid::Uuid::new_v4(), "project": "web", "project_path": "services/web", "status": "pending",
                    "steps": [step("unit", 0)]}]}
    ]})
}

#[tokio::test]
async fn run_plan_over_http() {
    let h = harness().await;
    let op = h.operator();
    call(&h.app, Method::POST, "/v1/repositories", Some(&op), Some(json!({"repository": "acme/shop"}))).await;
    let create = |sha: &str| json!({"repository": "acme/shop", "commit_sha": sha});
    let (_, _, run) = call(&h.app, Method::POST, "/v1/runs", Some(&op), Some(create(SHA1))).await;
    let id = run["id"].as_str().unwrap().to_owned();
    let uri = format!("/v1/runs/{id}/plan");
    let body = plan_body();

    // Validation first: malformed ids, bodies and duplicate names are 422; unknown runs 404.
    let (s, _, e) = call(&h.app, Method::PUT, "/v1/runs/nope/plan", Some(&op), Some(body.clone())).await;
    assert_eq!((s, e["error"]["code"].as_str()), (StatusCode::UNPROCESSABLE_ENTITY, Some("validation_error")));
    let (s, _, e) = call(&h.app, Method::PUT, &uri, Some(&op), None).await;
    assert_eq!(s, StatusCode::UNPROCESSABLE_ENTITY, "{e}");
    let mut dup = body.clone();
    dup["phases"][0]["tasks"][0]["steps"][1]["name"] = json!("image");
    let (s, _, e) = call(&h.app, Method::PUT, &uri, Some(&op), Some(dup)).await;
    assert_eq!(s, StatusCode::UNPROCESSABLE_ENTITY, "{e}");
    assert_eq!(e["error"]["details"]["fields"][0]["field"], "phases[0].tasks[0].steps[1].name", "{e}");
    let mut dup = body.clone();
    dup["phases"][1]["name"] = json!("build");
    let (s, _, e) = call(&h.app, Method::PUT, &uri, Some(&op), Some(dup)).await;
    assert_eq!(s, StatusCode::UNPROCESSABLE_ENTITY, "{e}");
    let mut bad = body.clone();
    bad["phases"][0]["tasks"][0]["project"] = json!("Not A Project!");
    let (s, _, e) = call(&h.app, Method::PUT, &uri, Some(&op), Some(bad)).await;
    assert_eq!(s, StatusCode::UNPROCESSABLE_ENTITY, "{e}");
    let unknown = format!("/v1/runs/{}/plan", uuid::Uuid::new_v4());
    let (s, _, e) = call(&h.app, Method::PUT, &unknown, Some(&op), Some(body.clone())).await;
    assert_eq!((s, e["error"]["code"].as_str()), (StatusCode::NOT_FOUND, Some("not_found")));
    // Reading is not enough.
    let dev = h.token("dora", &["developer"]);
    let (s, _, _) = call(&h.app, Method::PUT, &uri, Some(&dev), Some(body.clone())).await;
    assert_eq!(s, StatusCode::FORBIDDEN);

    // The plan: server ids, everything pending, the run running.
    let (s, _, planned) = call(&h.app, Method::PUT, &uri, Some(&op), Some(body.clone())).await;
    assert_eq!(s, StatusCode::OK, "{planned}");
    assert_eq!(planned["status"], "running");
    assert!(planned["started_at"].is_string(), "{planned}");
    assert_eq!(planned["actor"], run["actor"], "the run keeps its creator");
    let phases = planned["phases"].as_array().unwrap();
    assert_eq!(phases.iter().map(|p| p["name"].as_str().unwrap()).collect::<Vec<_>>(), ["build", "test"]);
    assert_ne!(phases[0]["id"], body["phases"][0]["id"], "ids are assigned by the server");
    let steps: Vec<&Value> = phases.iter().flat_map(|p| p["tasks"][0]["steps"].as_array().unwrap()).collect();
    assert_eq!(steps.iter().map(|s| s["name"].as_str().unwrap()).collect::<Vec<_>>(), ["image", "lint", "unit"]);
    for s in &steps {
        assert_eq!(s["status"], "pending", "{s}");
        assert!(s.get("exit_code").is_none(), "{s}");
    }
    assert_eq!(phases[0]["tasks"][0]["project_path"], "services/web");

    // Idempotent: a second plan (even a different one) returns the recorded run unchanged.
    let mut other = plan_body();
    other["phases"].as_array_mut().unwrap().pop();
    let (s, _, again) = call(&h.app, Method::PUT, &uri, Some(&op), Some(other)).await;
    assert_eq!((s, &again), (StatusCode::OK, &planned));

    // The statuses of the planned steps drive the run to success.
    for step in &steps {
        let su = format!("/v1/steps/{}/status", step["id"].as_str().unwrap());
        let (s, _, r) = call(&h.app, Method::PUT, &su, Some(&op), Some(json!({"status": "running"}))).await;
        assert_eq!(s, StatusCode::OK, "{r}");
        let (s, _, r) =
            call(&h.app, Method::PUT, &su, Some(&op), Some(json!({"status": "success", "exit_code": 0}))).await;
        assert_eq!(s, StatusCode::OK, "{r}");
    }
    let (_, _, done) = call(&h.app, Method::GET, &format!("/v1/runs/{id}"), Some(&op), None).await;
    assert_eq!(done["status"], "success", "{done}");
    // Still idempotent once finished: the plan is there.
    let (s, _, _) = call(&h.app, Method::PUT, &uri, Some(&op), Some(body.clone())).await;
    assert_eq!(s, StatusCode::OK);

    // Discovery failed: the run is recorded failed (phases must be empty), idempotently.
    let sha4 = "4444444444444444444444444444444444444444";
    let (_, _, bad) = call(&h.app, Method::POST, "/v1/runs", Some(&op), Some(create(sha4))).await;
    let bad_uri = format!("/v1/runs/{}/plan", bad["id"].as_str().unwrap());
    let mut both = body.clone();
    both["failure"] = json!("repo.cue:3:1: nope");
    let (s, _, e) = call(&h.app, Method::PUT, &bad_uri, Some(&op), Some(both)).await;
    assert_eq!(
        (s, e["error"]["details"]["fields"][0]["field"].as_str()),
        (StatusCode::UNPROCESSABLE_ENTITY, Some("failure")),
        "{e}"
    );
    let failure = json!({"phases": [], "failure": "repo.cue:3:1: nope"});
    let (s, _, failed) = call(&h.app, Method::PUT, &bad_uri, Some(&op), Some(failure.clone())).await;
    assert_eq!((s, failed["status"].as_str()), (StatusCode::OK, Some("failed")), "{failed}");
    assert!(failed["finished_at"].is_string(), "{failed}");
    let (s, _, again) = call(&h.app, Method::PUT, &bad_uri, Some(&op), Some(failure)).await;
    assert_eq!((s, &again), (StatusCode::OK, &failed));

    // A cancelled run without a plan cannot be planned.
    let (_, _, cancelled) = call(&h.app, Method::POST, "/v1/runs", Some(&op), Some(create(SHA2))).await;
    let cid = cancelled["id"].as_str().unwrap();
    let (s, _, _) = call(&h.app, Method::DELETE, &format!("/v1/runs/{cid}"), Some(&op), None).await;
    assert_eq!(s, StatusCode::NO_CONTENT);
    let (s, _, e) = call(&h.app, Method::PUT, &format!("/v1/runs/{cid}/plan"), Some(&op), Some(body.clone())).await;
    assert_eq!((s, e["error"]["code"].as_str()), (StatusCode::CONFLICT, Some("conflict")), "{e}");

    // An empty plan: nothing to run, the run succeeds (and completes once).
    let sha3 = "3333333333333333333333333333333333333333";
    let (_, _, empty) = call(&h.app, Method::POST, "/v1/runs", Some(&op), Some(create(sha3))).await;
    let eid = empty["id"].as_str().unwrap();
    let before = h.events.0.lock().unwrap().len();
    let (s, _, r) =
        call(&h.app, Method::PUT, &format!("/v1/runs/{eid}/plan"), Some(&op), Some(json!({"phases": []}))).await;
    assert_eq!((s, r["status"].as_str()), (StatusCode::OK, Some("success")), "{r}");
    assert!(r["finished_at"].is_string(), "{r}");
    let events = h.events.0.lock().unwrap()[before..].to_vec();
    assert_eq!(events.len(), 1, "{events:?}");
    assert_eq!(events[0].kind, forge_core::ports::EventType::RunCompleted);
    h.db.cleanup().await;
}

/// A GitHub stand-in for `POST /repos/{owner}/{repo}/statuses/{sha}` (as GitHub documents it):
/// records `(sha, state, context, description)`; the first `fail_first` calls answer 502.
#[derive(Default)]
struct FakeStatuses {
    seen: std::sync::Mutex<Vec<(String, String, String, String)>>,
    fail_first: std::sync::atomic::AtomicUsize,
}

async fn fake_github(fake: Arc<FakeStatuses>) -> String {
    use axum::extract::{Path as AxPath, State as AxState};
    async fn status(
        AxState(f): AxState<Arc<FakeStatuses>>,
        AxPath((_o, _r, sha)): AxPath<(String, String, String)>,
        headers: HeaderMap,
        axum::Json(b): axum::Json<Value>,
    ) -> (StatusCode, axum::Json<Value>) {
        assert_eq!(headers.get("authorization").unwrap(), "Bearer gh-status-token");
        if f.fail_first.load(std::sync::atomic::Ordering::SeqCst) > 0 {
            f.fail_first.fetch_sub(1, std::sync::atomic::Ordering::SeqCst);
            return (StatusCode::BAD_GATEWAY, axum::Json(json!({"message": "upstream trouble"})));
        }
        let text = |k: &str| b[k].as_str().unwrap_or_default().to_owned();
        f.seen.lock().unwrap().push((sha, text("state"), text("context"), text("description")));
        (StatusCode::CREATED, axum::Json(json!({"id": 1})))
    }
    let app = Router::new().route("/repos/{o}/{r}/statuses/{sha}", axum::routing::post(status)).with_state(fake);
    let l = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let base = format!("http://{}", l.local_addr().unwrap());
    tokio::spawn(async move { axum::serve(l, app).await.unwrap() });
    base
}

#[tokio::test]
async fn commit_statuses_follow_the_run_and_github_failures_fail_nothing() {
    let fake = Arc::new(FakeStatuses::default());
    let base = fake_github(fake.clone()).await;
    let h = harness_full(sqlite().await, &[], RateLimits::default(), Some(&base)).await;
    let op = h.operator();
    call(&h.app, Method::POST, "/v1/repositories", Some(&op), Some(json!({"repository": "acme/shop"}))).await;
    let (s, _, run) =
        call(&h.app, Method::POST, "/v1/runs", Some(&op), Some(json!({"repository": "acme/shop", "commit_sha": SHA1})))
            .await;
    assert_eq!(s, StatusCode::CREATED);
    let id = run["id"].as_str().unwrap().to_owned();
    let (s, _, planned) = call(&h.app, Method::PUT, &format!("/v1/runs/{id}/plan"), Some(&op), Some(plan_body())).await;
    assert_eq!(s, StatusCode::OK, "{planned}");
    let steps: Vec<String> = planned["phases"]
        .as_array()
        .unwrap()
        .iter()
        .flat_map(|p| p["tasks"][0]["steps"].as_array().unwrap().iter().map(|s| s["id"].as_str().unwrap().to_owned()))
        .collect();
    for step in &steps {
        let su = format!("/v1/steps/{step}/status");
        let (s, _, _) = call(&h.app, Method::PUT, &su, Some(&op), Some(json!({"status": "running"}))).await;
        assert_eq!(s, StatusCode::OK);
        let (s, _, _) =
            call(&h.app, Method::PUT, &su, Some(&op), Some(json!({"status": "success", "exit_code": 0}))).await;
        assert_eq!(s, StatusCode::OK);
    }
    let expected = [
        ("pending", "Pipeline created"),
        ("pending", "Discovered 1 projects, 2 phases"),
        ("pending", "Running phase 1 of 2 (50% complete)"),
    ];
    let deadline = std::time::Instant::now() + Duration::from_secs(10);
    loop {
        let seen = fake.seen.lock().unwrap().clone();
        if seen.last().is_some_and(|s| s.1 == "success") {
            let got: Vec<(&str, &str)> = seen.iter().map(|s| (s.1.as_str(), s.3.as_str())).collect();
            // In order: created, discovered, phase 1 done (when its last step finished), then
            // success — phase 2's only step finishing is the run finishing.
            assert_eq!(got.len(), 4, "{got:?}");
            assert_eq!(&got[..3], &expected[..], "{got:?}");
            assert!(got.last().unwrap().1.starts_with("Pipeline succeeded in "), "{got:?}");
            assert!(seen.iter().all(|s| s.0 == SHA1 && s.2 == "ci/catalyst-forge"), "{seen:?}");
            break;
        }
        assert!(std::time::Instant::now() < deadline, "no final status: {seen:?}");
        tokio::time::sleep(Duration::from_millis(50)).await;
    }

    // GitHub failing: the API answers as usual, the failure is only logged.
    fake.fail_first.store(100, std::sync::atomic::Ordering::SeqCst);
    let (s, _, run2) =
        call(&h.app, Method::POST, "/v1/runs", Some(&op), Some(json!({"repository": "acme/shop", "commit_sha": SHA2})))
            .await;
    assert_eq!(s, StatusCode::CREATED, "{run2}");
    let (s, _, _) =
        call(&h.app, Method::DELETE, &format!("/v1/runs/{}", run2["id"].as_str().unwrap()), Some(&op), None).await;
    assert_eq!(s, StatusCode::NO_CONTENT);
    // Both updates of that run (created, cancelled) were attempted and refused …
    let deadline = std::time::Instant::now() + Duration::from_secs(10);
    while fake.fail_first.load(std::sync::atomic::Ordering::SeqCst) > 98 {
        assert!(std::time::Instant::now() < deadline, "the updates were not attempted");
        tokio::time::sleep(Duration::from_millis(20)).await;
    }
    // … and once GitHub is back, later updates arrive (a cancelled run reports `error`).
    fake.fail_first.store(0, std::sync::atomic::Ordering::SeqCst);
    let sha3 = "3333333333333333333333333333333333333333";
    let (_, _, run3) =
        call(&h.app, Method::POST, "/v1/runs", Some(&op), Some(json!({"repository": "acme/shop", "commit_sha": sha3})))
            .await;
    call(&h.app, Method::DELETE, &format!("/v1/runs/{}", run3["id"].as_str().unwrap()), Some(&op), None).await;
    let deadline = std::time::Instant::now() + Duration::from_secs(10);
    loop {
        let seen = fake.seen.lock().unwrap().clone();
        let for3: Vec<_> = seen.iter().filter(|s| s.0 == sha3).map(|s| (s.1.clone(), s.3.clone())).collect();
        if for3.len() == 2 {
            assert_eq!(for3[1], ("error".to_owned(), "Pipeline cancelled".to_owned()), "{for3:?}");
            assert!(seen.iter().all(|s| s.0 != SHA2), "nothing for the run reported while GitHub failed: {seen:?}");
            break;
        }
        assert!(std::time::Instant::now() < deadline, "statuses of the third run: {seen:?}");
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
}
