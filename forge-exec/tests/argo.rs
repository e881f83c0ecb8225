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
        branch: "main".into(),
        tag: String::new(),
        image: "forge-worker:0.1.0".into(),
        api_url: "http://forge-api.forge.svc:8080".into(),
    }
}

fn validator() -> jsonschema::Validator {
    let schema: serde_json::Value =
        serde_json::from_str(include_str!("data/workflow-v1alpha1.openAPIV3Schema.json")).expect("schema parses");
    jsonschema::draft7::new(&schema).expect("schema compiles")
}

#[test]
fn workflow_snapshot() {
    insta::assert_yaml_snapshot!(generate_workflow(&spec()));
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
    let names: Vec<&str> = steps.iter().map(|g| g[0]["name"].as_str().unwrap()).collect();
    assert_eq!(names, ["discovery", "groups", "release"], "discovery, then the groups, then releases");
    assert_eq!(steps[2][0]["withParam"], "{{steps.discovery.outputs.parameters.releases}}");
    // The group recursion advances the index and stops after the last group.
    let rg = &s["templates"][1];
    assert_eq!(rg["name"], "run-groups");
    assert_eq!(rg["steps"][1][0]["template"], "run-groups");
    assert!(rg["steps"][1][0]["when"].as_str().unwrap().contains("+ 1 <"));
}

#[test]
fn groups_output_orders_groups_and_tasks() {
    let t = |phase: &str, project: &str| WorkflowTask { phase: phase.into(), project: project.into() };
    let out = groups_output(&[
        (2, vec![t("test", "web"), t("build", "web"), t("build", "api")]),
        (1, vec![t("check", "api")]),
        (3, vec![]),
    ]);
    assert_eq!(
        out,
        serde_json::json!([
            [{"phase": "check", "project": "api"}],
            [{"phase": "build", "project": "api"}, {"phase": "build", "project": "web"}, {"phase": "test", "project": "web"}],
        ])
    );
}

#[test]
fn workflow_validates_against_the_crd_schema() {
    let v = validator();
    let wf = generate_workflow(&spec());
    let errors: Vec<String> = v.iter_errors(&wf).map(|e| format!("{e} at {}", e.instance_path)).collect();
    assert!(errors.is_empty(), "{errors:#?}");
    // And the validator is not vacuous: broken workflows are rejected.
    let mut bad = wf.clone();
    bad["spec"]["parallelism"] = serde_json::json!("many");
    assert!(!v.is_valid(&bad));
    let mut bad = wf;
    bad["spec"]["templates"][3]["container"]["args"] = serde_json::json!("not-a-list");
    assert!(!v.is_valid(&bad));
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
