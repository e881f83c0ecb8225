//! Generated Argo Workflows (SPEC §3.6): snapshot of the exact object, and validation against
//! the Argo Workflows v1alpha1 CRD schema (tests/data, Apache-2.0, from argo-workflows v4.1.2).
#![allow(clippy::unwrap_used, clippy::expect_used)]

use forge_exec::argo::*;
use uuid::Uuid;

fn spec() -> WorkflowSpec {
    WorkflowSpec {
        run_id: Uuid::from_u128(7),
        repository: "acme/shop".into(),
        commit_sha: "0123456789abcdef0123456789abcdef01234567".into(),
        image: "forge-worker:0.1.0".into(),
        api_url: "http://forge-api.forge.svc:8080".into(),
        groups: vec![
            WorkflowGroup {
                group: 2,
                tasks: vec![
                    WorkflowTask { phase: "test".into(), project: "web".into() },
                    WorkflowTask { phase: "build".into(), project: "api".into() },
                    WorkflowTask { phase: "build".into(), project: "web".into() },
                ],
            },
            WorkflowGroup { group: 1, tasks: vec![WorkflowTask { phase: "check".into(), project: "api".into() }] },
            WorkflowGroup { group: 3, tasks: vec![] },
        ],
        release_projects: vec!["web".into(), "api".into()],
    }
}

fn validator() -> jsonschema::Validator {
    let schema: serde_json::Value =
        serde_json::from_str(include_str!("data/workflow-v1alpha1.openAPIV3Schema.json")).expect("schema parses");
    jsonschema::draft7::new(&schema).expect("schema compiles")
}

#[test]
fn workflow_snapshot() {
    let wf = generate_workflow(&spec());
    insta::assert_yaml_snapshot!(wf);
}

#[test]
fn workflow_follows_spec_rules() {
    let wf = generate_workflow(&spec());
    let s = &wf["spec"];
    assert_eq!(wf["metadata"]["namespace"], PIPELINE_NAMESPACE);
    assert_eq!(s["serviceAccountName"], "pipeline-workflow-runner");
    assert_eq!(s["activeDeadlineSeconds"], 86400);
    assert_eq!(s["parallelism"], 100);
    assert_eq!(s["podGC"]["strategy"], "OnWorkflowCompletion");
    let steps = s["templates"][0]["steps"].as_array().unwrap();
    // discovery, group 1, group 2 (empty group 3 dropped), releases
    assert_eq!(steps.len(), 4);
    assert_eq!(steps[0][0]["name"], "discovery");
    assert_eq!(steps[1][0]["name"], "g-1-check-api");
    let g2: Vec<&str> = steps[2].as_array().unwrap().iter().map(|v| v["name"].as_str().unwrap()).collect();
    assert_eq!(g2, ["g-2-build-api", "g-2-build-web", "g-2-test-web"]);
    let rel: Vec<&str> = steps[3].as_array().unwrap().iter().map(|v| v["name"].as_str().unwrap()).collect();
    assert_eq!(rel, ["release-api", "release-web"]);
    assert!(steps[3][0]["when"].as_str().unwrap().contains("steps.discovery.outputs.parameters.result"));
}

#[test]
fn workflow_validates_against_the_crd_schema() {
    let v = validator();
    let wf = generate_workflow(&spec());
    let errors: Vec<String> = v.iter_errors(&wf).map(|e| format!("{e} at {}", e.instance_path)).collect();
    assert!(errors.is_empty(), "{errors:#?}");
    // And the validator is not vacuous: a broken workflow is rejected.
    let mut bad = wf.clone();
    bad["spec"]["parallelism"] = serde_json::json!("many");
    assert!(!v.is_valid(&bad));
    let mut bad = wf;
    bad["spec"]["templates"][1]["container"]["args"] = serde_json::json!("not-a-list");
    assert!(!v.is_valid(&bad));
}

#[test]
fn empty_pipeline_is_still_valid() {
    let mut s = spec();
    s.groups.clear();
    s.release_projects.clear();
    let wf = generate_workflow(&s);
    assert_eq!(wf["spec"]["templates"][0]["steps"].as_array().unwrap().len(), 1);
    assert!(validator().is_valid(&wf));
}

#[cfg(feature = "argo")]
mod submit {
    use std::sync::{Arc, Mutex};

    use axum::extract::{Path, State};
    use axum::http::{HeaderMap, StatusCode};
    use axum::routing::{delete, post};
    use axum::{Json, Router};
    use forge_core::ports::SecretValue;
    use forge_exec::argo::{ArgoClient, generate_workflow};
    use serde_json::{Value, json};

    type S = Arc<Mutex<Vec<(String, String, Value)>>>;

    async fn create(
        State(s): State<S>,
        h: HeaderMap,
        Path(ns): Path<String>,
        Json(b): Json<Value>,
    ) -> (StatusCode, Json<Value>) {
        if h.get("authorization").and_then(|v| v.to_str().ok()) != Some("Bearer sa-token") {
            return (StatusCode::UNAUTHORIZED, Json(json!({"kind": "Status", "message": "Unauthorized"})));
        }
        let mut seen = s.lock().unwrap();
        let name = b["metadata"]["name"].as_str().unwrap().to_owned();
        if seen.iter().any(|(_, n, _)| *n == name) {
            return (
                StatusCode::CONFLICT,
                Json(
                    json!({"kind": "Status", "reason": "AlreadyExists", "message": format!("workflows.argoproj.io \"{name}\" already exists")}),
                ),
            );
        }
        seen.push((ns, name, b.clone()));
        (StatusCode::CREATED, Json(b))
    }

    async fn remove(State(s): State<S>, Path((_ns, name)): Path<(String, String)>) -> (StatusCode, Json<Value>) {
        let mut seen = s.lock().unwrap();
        let before = seen.len();
        seen.retain(|(_, n, _)| *n != name);
        if seen.len() == before {
            (StatusCode::NOT_FOUND, Json(json!({"kind": "Status", "message": "not found"})))
        } else {
            (StatusCode::OK, Json(json!({"kind": "Status", "status": "Success"})))
        }
    }

    #[tokio::test]
    async fn submit_and_cancel_follow_the_kubernetes_api() {
        let state: S = Arc::default();
        let app = Router::new()
            .route("/apis/argoproj.io/v1alpha1/namespaces/{ns}/workflows", post(create))
            .route("/apis/argoproj.io/v1alpha1/namespaces/{ns}/workflows/{name}", delete(remove))
            .with_state(state.clone());
        let l = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
        let base = format!("http://{}", l.local_addr().unwrap());
        tokio::spawn(async move { axum::serve(l, app).await.unwrap() });

        let wf = generate_workflow(&super::spec());
        let client = ArgoClient::new(&base, Some(SecretValue::from_string("sa-token".into()))).unwrap();
        let name = client.submit(&wf).await.unwrap();
        assert_eq!(name, "forge-run-00000000-0000-0000-0000-000000000007");
        // A retried submission is idempotent.
        assert_eq!(client.submit(&wf).await.unwrap(), name);
        {
            let seen = state.lock().unwrap();
            assert_eq!(seen.len(), 1);
            assert_eq!(seen[0].0, "catalyst-forge-pipelines");
            assert_eq!(seen[0].2, wf);
        }
        client.cancel("catalyst-forge-pipelines", &name).await.unwrap();
        client.cancel("catalyst-forge-pipelines", &name).await.unwrap();
        assert!(state.lock().unwrap().is_empty());

        let anonymous = ArgoClient::new(&base, None).unwrap();
        let e = anonymous.submit(&wf).await.unwrap_err();
        assert!(matches!(e, forge_core::Error::Unauthorized { .. }), "{e}");
    }
}
