//! The gRPC side: `apiextensions.fn.proto.v1.FunctionRunnerService/RunFunction`.
//!
//! Each call returns the same [`Requirements`] (Crossplane re-runs the function until they are
//! stable): the cluster EnvironmentConfig `forge-environment` under [`REQ_CLUSTER`], the project's
//! EnvironmentConfig (label `forge.io/namespace=<XR namespace>`) under [`REQ_PROJECT`] and, for a
//! `Network`, its workload XR under [`REQ_WORKLOAD`]. Until Crossplane has answered every
//! requirement the response carries only the requirements and the desired state it was given.

use std::collections::HashMap;
use std::future::Future;
use std::time::Duration;

use serde_json::Value;
use tokio::net::TcpListener;
use tonic::{Request, Response, Status};

use crate::compose::{self, Composed, Finding, Severity as FindingSeverity, WorkloadCheck};
use crate::convert::{json_to_struct, struct_to_json};
use crate::env::{self, CLUSTER_CONFIG_NAME, CONTEXT_ENVIRONMENT_KEY, Env, PROJECT_LABEL, Tier};
use crate::error::FunctionError;
use crate::proto::function_runner_service_server::{FunctionRunnerService, FunctionRunnerServiceServer};
use crate::proto::resource_selector::Match;
use crate::proto::{
    Condition, MatchLabels, Requirements, Resource, ResourceSelector, Resources, ResponseMeta, Result as PbResult,
    RunFunctionRequest, RunFunctionResponse, Severity, State, Status as CondStatus, Target,
};

/// Requirement key of the cluster-wide EnvironmentConfig.
pub const REQ_CLUSTER: &str = "forge-cluster-environment";
/// Requirement key of the per-project EnvironmentConfig.
pub const REQ_PROJECT: &str = "forge-project-environment";
/// Requirement key of the workload a `Network` exposes.
pub const REQ_WORKLOAD: &str = "forge-network-workload";
/// The condition type the function sets on the composite resource.
pub const CONDITION_TYPE: &str = "Composed";
/// The API version of Crossplane's EnvironmentConfig.
pub const ENVIRONMENT_CONFIG_API: &str = "apiextensions.crossplane.io/v1beta1";
/// How long Crossplane may cache a response.
pub const RESPONSE_TTL: Duration = Duration::from_secs(60);

/// The function service (stateless).
#[derive(Debug, Clone, Copy, Default)]
pub struct ForgeFunction;

#[tonic::async_trait]
impl FunctionRunnerService for ForgeFunction {
    async fn run_function(
        &self,
        request: Request<RunFunctionRequest>,
    ) -> Result<Response<RunFunctionResponse>, Status> {
        let response = run(&request.into_inner());
        Ok(Response::new(response))
    }
}

/// Serves the function on `listener` until `shutdown` completes, in plaintext (Crossplane's
/// `--insecure` development mode; `serve_tls`, with the `tls` feature, adds mutual TLS).
pub async fn serve(listener: TcpListener, shutdown: impl Future<Output = ()>) -> Result<(), FunctionError> {
    serve_with(tonic::transport::Server::builder(), listener, shutdown).await
}

/// Serves the function with mutual TLS from `dir`, the layout Crossplane's function runtime
/// mounts: `tls.crt` and `tls.key` (the server identity) and `ca.crt` (the CA of the clients).
/// Errors name the files, never their content.
#[cfg(feature = "tls")]
pub async fn serve_tls(
    listener: TcpListener,
    dir: &std::path::Path,
    shutdown: impl Future<Output = ()>,
) -> Result<(), FunctionError> {
    use tonic::transport::{Certificate, Identity, ServerTlsConfig};
    let read = |name: &str| {
        let path = dir.join(name);
        std::fs::read(&path).map_err(|source| FunctionError::Listen { addr: path.display().to_string(), source })
    };
    let identity = Identity::from_pem(read("tls.crt")?, read("tls.key")?);
    let tls = ServerTlsConfig::new().identity(identity).client_ca_root(Certificate::from_pem(read("ca.crt")?));
    let builder = tonic::transport::Server::builder().tls_config(tls)?;
    serve_with(builder, listener, shutdown).await
}

async fn serve_with(
    mut builder: tonic::transport::Server,
    listener: TcpListener,
    shutdown: impl Future<Output = ()>,
) -> Result<(), FunctionError> {
    builder
        .add_service(FunctionRunnerServiceServer::new(ForgeFunction))
        .serve_with_incoming_shutdown(tonic::transport::server::TcpIncoming::from(listener), shutdown)
        .await?;
    Ok(())
}

fn selector_by_name(api_version: &str, kind: &str, name: &str, namespace: Option<&str>) -> ResourceSelector {
    ResourceSelector {
        api_version: api_version.to_owned(),
        kind: kind.to_owned(),
        r#match: Some(Match::MatchName(name.to_owned())),
        namespace: namespace.map(str::to_owned),
    }
}

/// The requirements for composing `xr` (see the module docs).
pub fn requirements(xr: &Value) -> Requirements {
    let mut resources = HashMap::new();
    resources.insert(
        REQ_CLUSTER.to_owned(),
        selector_by_name(ENVIRONMENT_CONFIG_API, "EnvironmentConfig", CLUSTER_CONFIG_NAME, None),
    );
    let ns = xr.pointer("/metadata/namespace").and_then(Value::as_str);
    if let Some(ns) = ns {
        resources.insert(
            REQ_PROJECT.to_owned(),
            ResourceSelector {
                api_version: ENVIRONMENT_CONFIG_API.to_owned(),
                kind: "EnvironmentConfig".to_owned(),
                r#match: Some(Match::MatchLabels(MatchLabels {
                    labels: HashMap::from([(PROJECT_LABEL.to_owned(), ns.to_owned())]),
                })),
                namespace: None,
            },
        );
    }
    if xr.get("kind").and_then(Value::as_str) == Some("Network") {
        let kind = xr.pointer("/spec/workload/kind").and_then(Value::as_str);
        let name = xr.pointer("/spec/workload/name").and_then(Value::as_str);
        if let (Some(kind), Some(name)) = (kind, name)
            && compose::NETWORK_WORKLOAD_KINDS.contains(&kind)
        {
            resources.insert(REQ_WORKLOAD.to_owned(), selector_by_name(compose::XR_API_VERSION, kind, name, ns));
        }
    }
    Requirements { resources, ..Requirements::default() }
}

#[allow(deprecated)] // extra_resources: answered by Crossplane versions before required_resources.
fn answered<'a>(req: &'a RunFunctionRequest, key: &str) -> Option<&'a Resources> {
    req.required_resources.get(key).or_else(|| req.extra_resources.get(key))
}

fn items(r: Option<&Resources>) -> Vec<Value> {
    r.map(|r| r.items.iter().filter_map(|i| i.resource.as_ref()).map(struct_to_json).collect()).unwrap_or_default()
}

/// Handles one `RunFunction` call. Input problems are FATAL results, never gRPC errors.
pub fn run(req: &RunFunctionRequest) -> RunFunctionResponse {
    let tag = req.meta.as_ref().map(|m| m.tag.clone()).unwrap_or_default();
    let mut resp = RunFunctionResponse {
        meta: Some(ResponseMeta {
            tag,
            ttl: Some(prost_types::Duration { seconds: RESPONSE_TTL.as_secs() as i64, nanos: 0 }),
        }),
        desired: req.desired.clone(),
        context: req.context.clone(),
        ..RunFunctionResponse::default()
    };
    let Some(xr) = req.observed.as_ref().and_then(|o| o.composite.as_ref()).and_then(|c| c.resource.as_ref()) else {
        finish(&mut resp, vec![fatal("NoComposite", "the request has no observed composite resource".into())]);
        return resp;
    };
    let xr = struct_to_json(xr);
    let reqs = requirements(&xr);
    let pending = reqs.resources.keys().any(|k| answered(req, k).is_none());
    resp.requirements = Some(reqs);
    if pending {
        return resp;
    }
    let env = match load_env(req) {
        Ok(e) => e,
        Err(f) => {
            finish(&mut resp, vec![f]);
            return resp;
        }
    };
    let workload = match answered(req, REQ_WORKLOAD) {
        None => WorkloadCheck::NotChecked,
        Some(r) if r.items.is_empty() => WorkloadCheck::Missing,
        Some(_) => WorkloadCheck::Found,
    };
    let composed = compose::compose(&xr, &env, workload);
    let Composed { resources, mut findings } = composed;
    if !findings.iter().any(|f| f.severity == FindingSeverity::Fatal) {
        let desired = resp.desired.get_or_insert_with(State::default);
        let n = resources.len();
        for (key, obj) in resources {
            match json_to_struct(&obj) {
                Ok(s) => {
                    desired.resources.insert(key, Resource { resource: Some(s), ..Resource::default() });
                }
                Err(e) => findings.push(fatal("Internal", format!("composed `{key}` is not an object: {e}"))),
            }
        }
        findings.push(Finding {
            severity: FindingSeverity::Normal,
            reason: "Composed".into(),
            message: format!("composed {n} resource(s) in environment `{}`", env.environment),
        });
    }
    finish(&mut resp, findings);
    resp
}

fn fatal(reason: &str, message: String) -> Finding {
    Finding { severity: FindingSeverity::Fatal, reason: reason.to_owned(), message }
}

fn load_env(req: &RunFunctionRequest) -> Result<Env, Finding> {
    let cluster = items(answered(req, REQ_CLUSTER));
    let project = items(answered(req, REQ_PROJECT));
    if project.len() > 1 {
        return Err(fatal(
            "AmbiguousEnvironment",
            format!(
                "{} EnvironmentConfigs carry the label `{PROJECT_LABEL}` of this namespace; expected at most one",
                project.len()
            ),
        ));
    }
    let context_env =
        req.context.as_ref().and_then(|c| c.fields.get(CONTEXT_ENVIRONMENT_KEY)).map(crate::convert::value_to_json);
    let mut tiers: Vec<(Tier, String, Value)> = Vec::new();
    match (cluster.first(), context_env) {
        (Some(c), _) => {
            tiers.push((Tier::Cluster, format!("EnvironmentConfig `{CLUSTER_CONFIG_NAME}`"), env::data_of(c)))
        }
        (None, Some(ctx)) => {
            tiers.push((Tier::Merged, format!("context `{CONTEXT_ENVIRONMENT_KEY}`"), env::data_of(&ctx)))
        }
        (None, None) => {
            return Err(fatal(
                "EnvironmentNotFound",
                format!(
                    "no EnvironmentConfig `{CLUSTER_CONFIG_NAME}` and no `{CONTEXT_ENVIRONMENT_KEY}` context: the environment is unknown"
                ),
            ));
        }
    }
    if let Some(p) = project.first() {
        let name = p.pointer("/metadata/name").and_then(Value::as_str).unwrap_or("?");
        tiers.push((Tier::Project, format!("EnvironmentConfig `{name}`"), env::data_of(p)));
    }
    let refs: Vec<(Tier, &str, &Value)> = tiers.iter().map(|(t, w, v)| (*t, w.as_str(), v)).collect();
    Env::from_tiers(&refs).map_err(|e| fatal("InvalidEnvironment", e.to_string()))
}

fn finish(resp: &mut RunFunctionResponse, findings: Vec<Finding>) {
    let fatal: Vec<&Finding> = findings.iter().filter(|f| f.severity == FindingSeverity::Fatal).collect();
    let condition = match fatal.first() {
        Some(first) => Condition {
            r#type: CONDITION_TYPE.to_owned(),
            status: CondStatus::ConditionFalse as i32,
            reason: first.reason.clone(),
            message: Some(fatal.iter().map(|f| f.message.as_str()).collect::<Vec<_>>().join("; ")),
            target: Some(Target::CompositeAndClaim as i32),
        },
        None => Condition {
            r#type: CONDITION_TYPE.to_owned(),
            status: CondStatus::ConditionTrue as i32,
            reason: "Composed".to_owned(),
            message: None,
            target: Some(Target::CompositeAndClaim as i32),
        },
    };
    resp.conditions.push(condition);
    for f in findings {
        let severity = match f.severity {
            FindingSeverity::Fatal => Severity::Fatal,
            FindingSeverity::Warning => Severity::Warning,
            FindingSeverity::Normal => Severity::Normal,
        };
        resp.results.push(PbResult {
            severity: severity as i32,
            message: f.message,
            reason: Some(f.reason),
            target: Some(Target::CompositeAndClaim as i32),
        });
    }
}
