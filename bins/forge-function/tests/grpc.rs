//! Drives the real gRPC server (127.0.0.1:0) with a tonic client generated from the same proto:
//! every catalog kind in every environment and tier, refusals, the requirement round, and the
//! SPEC §6.5 precedence as a property.

mod common;

use std::collections::{BTreeMap, HashMap};

use common::*;
use forge_function::convert::{json_to_struct, struct_to_json};
use forge_function::proto::function_runner_service_client::FunctionRunnerServiceClient;
use forge_function::proto::{
    Condition, RequestMeta, Resource, Resources, RunFunctionRequest, RunFunctionResponse, Severity, State,
};
use forge_function::server::{REQ_CLUSTER, REQ_PROJECT, REQ_WORKLOAD};
use proptest::prelude::*;
use serde_json::{Value, json};
use tokio::sync::oneshot;
use tonic::transport::Channel;

type Client = FunctionRunnerServiceClient<Channel>;

struct Server {
    client: Client,
    stop: Option<oneshot::Sender<()>>,
    task: tokio::task::JoinHandle<Result<(), forge_function::FunctionError>>,
}

impl Server {
    async fn start() -> R<Self> {
        let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await?;
        let addr = listener.local_addr()?;
        let (tx, rx) = oneshot::channel::<()>();
        let task = tokio::spawn(forge_function::serve(listener, async {
            let _ = rx.await;
        }));
        let channel = Channel::from_shared(format!("http://{addr}"))?.connect().await?;
        let client = FunctionRunnerServiceClient::new(channel);
        Ok(Self { client, stop: Some(tx), task })
    }

    async fn stop(mut self) -> R {
        if let Some(s) = self.stop.take() {
            let _ = s.send(());
        }
        self.task.await??;
        Ok(())
    }

    async fn call(&mut self, req: RunFunctionRequest) -> R<RunFunctionResponse> {
        Ok(self.client.run_function(req).await?.into_inner())
    }
}

fn resource(v: &Value) -> R<Resource> {
    Ok(Resource { resource: Some(json_to_struct(v)?), ..Resource::default() })
}

fn resources(items: &[&Value]) -> R<Resources> {
    Ok(Resources { items: items.iter().map(|v| resource(v)).collect::<R<Vec<_>>>()? })
}

fn fixtures() -> R<Vec<Value>> {
    yaml_docs(&root().join("bins/forge-function/tests/fixtures/xrs.yaml"))
}

fn env_doc(env: &str, file: &str) -> R<Value> {
    yaml_doc(&root().join("examples/deploy/crossplane/environments").join(env).join(file))
}

/// A request for `xr` with the requirement rounds answered.
fn request(
    xr: &Value,
    cluster: Option<&Value>,
    project: Option<&Value>,
    context: Option<&Value>,
) -> R<RunFunctionRequest> {
    let mut req = RunFunctionRequest {
        meta: Some(RequestMeta { tag: "t1".into(), ..RequestMeta::default() }),
        observed: Some(State { composite: Some(resource(xr)?), resources: HashMap::new() }),
        ..RunFunctionRequest::default()
    };
    req.required_resources.insert(REQ_CLUSTER.into(), resources(&cluster.into_iter().collect::<Vec<_>>())?);
    req.required_resources.insert(REQ_PROJECT.into(), resources(&project.into_iter().collect::<Vec<_>>())?);
    if xr["kind"] == "Network" {
        let wl = json!({"apiVersion": "forge.io/v1", "kind": xr["spec"]["workload"]["kind"],
            "metadata": {"name": xr["spec"]["workload"]["name"], "namespace": xr["metadata"]["namespace"]}});
        req.required_resources.insert(REQ_WORKLOAD.into(), resources(&[&wl])?);
    }
    if let Some(c) = context {
        let ctx = json!({"apiextensions.crossplane.io/environment": c});
        req.context = Some(json_to_struct(&ctx)?);
    }
    Ok(req)
}

fn severity(s: i32) -> &'static str {
    match Severity::try_from(s) {
        Ok(Severity::Fatal) => "FATAL",
        Ok(Severity::Warning) => "WARNING",
        Ok(Severity::Normal) => "NORMAL",
        _ => "UNSPECIFIED",
    }
}

fn desired(resp: &RunFunctionResponse) -> BTreeMap<String, Value> {
    resp.desired
        .as_ref()
        .map(|d| {
            d.resources
                .iter()
                .filter_map(|(k, r)| r.resource.as_ref().map(|s| (k.clone(), struct_to_json(s))))
                .collect()
        })
        .unwrap_or_default()
}

fn condition(c: &Condition) -> Value {
    let status = forge_function::proto::Status::try_from(c.status).map(|s| s.as_str_name()).unwrap_or("?");
    json!({"type": c.r#type, "status": status, "reason": c.reason, "message": c.message})
}

/// The response as a reviewable value: results, conditions, desired objects by key.
fn summary(resp: &RunFunctionResponse) -> Value {
    let results: Vec<Value> = resp
        .results
        .iter()
        .map(|r| json!({"severity": severity(r.severity), "reason": r.reason, "message": r.message}))
        .collect();
    json!({
        "results": results,
        "conditions": resp.conditions.iter().map(condition).collect::<Vec<_>>(),
        "desired": desired(resp),
    })
}

/// Validates every composed object of a built-in kind against the Kubernetes v1.32 schemas;
/// returns how many were validated.
fn validate_k8s(objects: &BTreeMap<String, Value>) -> R<usize> {
    let mut n = 0;
    for (key, obj) in objects {
        let api = obj["apiVersion"].as_str().unwrap_or_default();
        let builtin = !api.split('/').next().unwrap_or_default().contains('.') || !api.contains('/');
        match k8s_schema_file(obj) {
            Some(file) => {
                let schema: Value = serde_json::from_slice(&std::fs::read(&file)?)?;
                let errors = validate(&schema, obj)?;
                assert!(errors.is_empty(), "{key} ({}): {errors:?}", file.display());
                n += 1;
            }
            None => assert!(!builtin, "{key}: no schema for built-in {api}"),
        }
    }
    Ok(n)
}

#[tokio::test]
async fn every_kind_in_every_environment_and_tier() -> R {
    let mut server = Server::start().await?;
    let xrs = fixtures()?;
    let mut validated = 0;
    for env in ["dev", "production"] {
        let cluster = env_doc(env, "env.yaml")?;
        let project = env_doc(env, "project-shop-web.yaml")?;
        for (tier, proj) in [("cluster", None), ("cluster-and-project", Some(&project))] {
            let mut all = serde_json::Map::new();
            for xr in &xrs {
                let kind = xr["kind"].as_str().unwrap_or_default().to_owned();
                let resp = server.call(request(xr, Some(&cluster), proj, None)?).await?;
                assert!(
                    resp.results.iter().all(|r| r.severity != Severity::Fatal as i32),
                    "{env}/{tier}/{kind}: {:?}",
                    resp.results
                );
                assert_eq!(resp.meta.as_ref().map(|m| m.tag.as_str()), Some("t1"));
                let objects = desired(&resp);
                assert!(!objects.is_empty(), "{env}/{tier}/{kind}: {:?}", resp.results);
                validated += validate_k8s(&objects)?;
                // `forge render` composes the same objects without a cluster.
                let preview = forge_function::preview(xr, &cluster, proj.unwrap_or(&Value::Null))?;
                assert_eq!(
                    preview,
                    objects.values().cloned().collect::<Vec<_>>().sorted_like(&preview),
                    "{env}/{tier}/{kind}"
                );
                all.insert(kind, summary(&resp));
            }
            insta::assert_yaml_snapshot!(format!("{env}-{tier}"), Value::Object(all));
        }
    }
    assert_eq!(validated, 32, "every built-in object is validated");
    server.stop().await
}

/// Order-insensitive comparison helper: returns `self` reordered like `like` when both hold the
/// same objects.
trait SortedLike {
    fn sorted_like(self, like: &[Value]) -> Vec<Value>;
}

impl SortedLike for Vec<Value> {
    fn sorted_like(mut self, like: &[Value]) -> Vec<Value> {
        let mut out = Vec::new();
        for l in like {
            if let Some(i) = self.iter().position(|v| v == l) {
                out.push(self.remove(i));
            }
        }
        out.extend(self);
        out
    }
}

#[tokio::test]
async fn context_environment_is_used_without_the_cluster_config() -> R {
    let mut server = Server::start().await?;
    let ctx = json!({"apiVersion": "internal.crossplane.io/v1alpha1", "kind": "Environment",
        "environment": "staging", "domain": "staging.example.com",
        "defaults": {"Network": {"dnsTarget": "10.0.0.7"}, "Secrets": {"global": true}},
        "overrides": {"api": {"path": "/ignored-not-an-input"}}});
    let mut out = serde_json::Map::new();
    for xr in fixtures()?.iter().filter(|x| x["kind"] == "Network" || x["kind"] == "Secrets") {
        let resp = server.call(request(xr, None, None, Some(&ctx))?).await?;
        validate_k8s(&desired(&resp))?;
        out.insert(xr["kind"].as_str().unwrap_or_default().to_owned(), summary(&resp));
    }
    insta::assert_yaml_snapshot!("context-environment", Value::Object(out));
    server.stop().await
}

#[tokio::test]
async fn first_round_only_states_requirements_and_keeps_desired_state() -> R {
    let mut server = Server::start().await?;
    let xrs = fixtures()?;
    let network = xrs.iter().find(|x| x["kind"] == "Network").ok_or_else(|| anyhow::anyhow!("no Network"))?;
    let earlier = json!({"apiVersion": "v1", "kind": "ServiceAccount", "metadata": {"name": "from-an-earlier-step"}});
    let mut desired_in = State::default();
    desired_in.resources.insert("earlier".into(), resource(&earlier)?);
    let req = RunFunctionRequest {
        observed: Some(State { composite: Some(resource(network)?), resources: HashMap::new() }),
        desired: Some(desired_in.clone()),
        ..RunFunctionRequest::default()
    };
    let resp = server.call(req).await?;
    assert!(resp.results.is_empty());
    let reqs = resp.requirements.ok_or_else(|| anyhow::anyhow!("no requirements"))?;
    let mut keys: Vec<&String> = reqs.resources.keys().collect();
    keys.sort();
    assert_eq!(keys, [REQ_CLUSTER, REQ_WORKLOAD, REQ_PROJECT]);
    let wl = &reqs.resources[REQ_WORKLOAD];
    assert_eq!(
        (wl.api_version.as_str(), wl.kind.as_str(), wl.namespace.as_deref()),
        ("forge.io/v1", "Deployment", Some("shop-web"))
    );
    assert_eq!(resp.desired, Some(desired_in.clone()));
    // Answered: the earlier step's resource is kept next to the composed ones.
    let cluster = env_doc("dev", "env.yaml")?;
    let mut req = request(network, Some(&cluster), None, None)?;
    req.desired = Some(desired_in);
    let got = desired(&server.call(req).await?);
    assert_eq!(got.keys().collect::<Vec<_>>(), ["dnsendpoint", "earlier", "httproute", "service"]);
    server.stop().await
}

#[tokio::test]
async fn refusals_are_explained() -> R {
    let mut server = Server::start().await?;
    let cluster = env_doc("dev", "env.yaml")?;
    let xrs = fixtures()?;
    let find = |k: &str| xrs.iter().find(|x| x["kind"] == k).cloned().ok_or_else(|| anyhow::anyhow!("no {k}"));
    let mut cases: Vec<(&str, RunFunctionRequest)> = Vec::new();

    let mut d = find("Deployment")?;
    d["spec"]["env"] = json!([
        {"name": "A", "ref": "platform::queue/jobs/url"},
        {"name": "B", "ref": "shop-payments::network/api/url"},
        {"name": "C", "ref": "database/main/host"},
        {"name": "D", "ref": "not a reference"},
    ]);
    cases.push(("unknown-references", request(&d, Some(&cluster), None, None)?));

    let mut d = find("Deployment")?;
    d["spec"]["volumes"] = json!([{"name": "x", "mountPath": "/x", "ref": "platform::storage/shared/claim"}]);
    cases.push(("volume-from-another-scope", request(&d, Some(&cluster), None, None)?));

    let n = find("Network")?;
    let mut req = request(&n, Some(&cluster), None, None)?;
    req.required_resources.insert(REQ_WORKLOAD.into(), Resources::default());
    cases.push(("network-without-workload", req));

    let mut n2 = n.clone();
    n2["spec"]["workload"] = json!({"kind": "Job", "name": "migrate"});
    cases.push(("network-of-a-job", request(&n2, Some(&cluster), None, None)?));

    cases.push(("no-environment", request(&n, None, None, None)?));

    let mut bad = cluster.clone();
    bad["data"]["replicas"] = json!(3);
    cases.push(("unknown-environment-key", request(&find("Storage")?, Some(&bad), None, None)?));

    let p = env_doc("dev", "project-shop-web.yaml")?;
    let mut req = request(&find("Storage")?, Some(&cluster), None, None)?;
    req.required_resources.insert(REQ_PROJECT.into(), resources(&[&p, &p])?);
    cases.push(("two-project-configs", req));

    let mut s = find("Secrets")?;
    s["spec"]["data"] = json!([{"key": "k", "path": "../escape"}]);
    cases.push(("secret-path-escape", request(&s, Some(&cluster), None, None)?));

    let mut c = find("CronJob")?;
    c["spec"].as_object_mut().map(|m| m.remove("schedule"));
    cases.push(("cronjob-without-schedule", request(&c, Some(&cluster), None, None)?));

    let mut x = find("Storage")?;
    x["apiVersion"] = json!("forge.io/v2");
    cases.push(("wrong-api-version", request(&x, Some(&cluster), None, None)?));

    let mut out = serde_json::Map::new();
    for (name, req) in cases {
        let resp = server.call(req).await?;
        assert!(resp.results.iter().any(|r| r.severity == Severity::Fatal as i32), "{name}: not refused");
        assert!(desired(&resp).is_empty(), "{name}: composed despite refusal");
        let cond = resp.conditions.first().ok_or_else(|| anyhow::anyhow!("{name}: no condition"))?;
        assert_eq!(cond.status, forge_function::proto::Status::ConditionFalse as i32, "{name}");
        out.insert(name.to_owned(), summary(&resp));
    }
    insta::assert_yaml_snapshot!("refusals", Value::Object(out));
    server.stop().await
}

#[test]
fn high_availability_with_one_replica_warns() -> R {
    let xr = json!({"apiVersion": "forge.io/v1", "kind": "Deployment", "metadata": {"name": "api"},
        "spec": {"image": "x", "replicas": 1, "highAvailability": true}});
    let cluster = json!({"environment": "dev"});
    let env = forge_function::Env::from_tiers(&[(forge_function::env::Tier::Cluster, "c", &cluster)])?;
    let c = forge_function::compose(&xr, &env, forge_function::WorkloadCheck::NotChecked);
    assert!(!c.is_refused());
    assert_eq!(c.resources.iter().map(|(k, _)| k.as_str()).collect::<Vec<_>>(), ["deployment", "pdb"]);
    assert!(c.findings.iter().any(|f| f.reason == "HighAvailabilityWithOneReplica"));
    Ok(())
}

proptest! {
    #![proptest_config(ProptestConfig { cases: 48, ..ProptestConfig::default() })]

    /// SPEC §6.5 through the function: override → spec → cluster default → built-in, for the
    /// replicas and memory of a Deployment and the size of a Storage.
    #[test]
    fn precedence_through_the_function(
        over in proptest::option::of(0i64..100),
        spec in proptest::option::of(100i64..200),
        cluster in proptest::option::of(200i64..300),
        mem in (proptest::option::of(0u8..3), proptest::option::of(0u8..3), proptest::option::of(0u8..3)),
    ) {
        let rt = tokio::runtime::Builder::new_current_thread().enable_all().build().map_err(|e| TestCaseError::fail(e.to_string()))?;
        let got: R<(Value, Value)> = rt.block_on(async {
            let mut server = Server::start().await?;
            let mut xr = json!({"apiVersion": "forge.io/v1", "kind": "Deployment",
                "metadata": {"name": "api", "namespace": "shop-web"}, "spec": {"image": "x"}});
            let mut defaults = json!({"Deployment": {}});
            let mut overrides = json!({"api": {}, "other": {"replicas": -1, "memory": "bad"}});
            if let Some(v) = over { overrides["api"]["replicas"] = json!(v); }
            if let Some(v) = spec { xr["spec"]["replicas"] = json!(v); }
            if let Some(v) = cluster { defaults["Deployment"]["replicas"] = json!(v); }
            if let Some(v) = mem.0 { overrides["api"]["memory"] = json!(format!("{v}Mi")); }
            if let Some(v) = mem.1 { xr["spec"]["resources"] = json!({"memory": format!("{}Mi", 10 + v)}); }
            if let Some(v) = mem.2 { defaults["Deployment"]["memory"] = json!(format!("{}Mi", 20 + v)); }
            defaults["Job"] = json!({"replicas": -2, "memory": "bad"});
            let c = json!({"kind": "EnvironmentConfig", "data": {"environment": "dev", "defaults": defaults}});
            let p = json!({"kind": "EnvironmentConfig", "metadata": {"name": "p"}, "data": {"overrides": overrides}});
            let resp = server.call(request(&xr, Some(&c), Some(&p), None)?).await?;
            let d = desired(&resp);
            server.stop().await?;
            let dep = d.get("deployment").cloned().unwrap_or(Value::Null);
            Ok((dep["spec"]["replicas"].clone(),
                dep["spec"]["template"]["spec"]["containers"][0]["resources"]["requests"]["memory"].clone()))
        });
        let (replicas, memory) = got.map_err(|e| TestCaseError::fail(e.to_string()))?;
        let want = over.or(spec).or(cluster).unwrap_or(1);
        prop_assert_eq!(replicas, json!(want));
        let want_mem = mem.0.map(|v| format!("{v}Mi"))
            .or(mem.1.map(|v| format!("{}Mi", 10 + v)))
            .or(mem.2.map(|v| format!("{}Mi", 20 + v)))
            .unwrap_or_else(|| "128Mi".into());
        prop_assert_eq!(memory, json!(want_mem));
    }
}
