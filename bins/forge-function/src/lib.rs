//! The Forge Crossplane composition function.
//!
//! Projects declare environment-independent composite resources of the `forge.io/v1` catalog
//! (`Deployment`, `Stateful`, `Job`, `CronJob`, `Network`, `Secrets`, `ConfigMaps`, `Storage`;
//! XRDs and Compositions in `examples/deploy/crossplane/`). Crossplane calls this function over
//! gRPC (`apiextensions.fn.proto.v1.FunctionRunnerService/RunFunction`, [`server`]) for every XR;
//! the function reads the cluster-wide and per-project EnvironmentConfigs ([`env`](mod@env)), resolves every
//! environment-specific input by SPEC §6.5 precedence with forge-gitops, and returns the desired
//! Kubernetes objects ([`compose`](mod@compose)). [`preview`] runs the same code without a cluster, for
//! `forge render --env <env>`.
//!
//! # What a real Crossplane adds that is not tested here
//! - **mTLS.** Crossplane dials functions with mutual TLS (certificates mounted by the function
//!   runtime). The `tls` feature adds `serve_tls` and the binary's `--tls-cert-dir`; the tests
//!   drive the plaintext server only (Crossplane's `--insecure` development mode).
//! - **The requirement loop.** Crossplane re-runs the function until the returned requirements
//!   are stable and answers them from the API server; the tests answer them by hand.
//! - **Readiness and connection details.** Composed resources are left `READY_UNSPECIFIED` so
//!   Crossplane's default readiness checks apply; no connection details are published.
//! - **Server-side validation.** The API server validates composed objects against installed
//!   CRDs (Gateway API, external-dns, External Secrets); the tests validate only the built-in
//!   kinds against the Kubernetes v1.32 schemas, and the CRD-backed kinds by shape snapshots.
//! - **Older Crossplane.** Requirements are stated in `requirements.resources` (Crossplane v2);
//!   Crossplane v1's deprecated `extra_resources` requirements are not sent (answers in either
//!   map are read).
//! - **StatefulSet governing Service.** A `Stateful` sets `serviceName: <name>`; the headless
//!   Service that gives its pods stable DNS names is not composed (a `Network` composes a normal
//!   Service named after the Network).
//! - **Function packaging.** A Crossplane `Function` package (xpkg with `crossplane.yaml`) and
//!   its image are not built here.

pub mod compose;
pub mod convert;
pub mod env;
mod error;
pub mod server;

/// Code generated from `proto/run_function.proto` (Crossplane's function protocol).
#[allow(missing_docs, clippy::all, clippy::pedantic, rust_2018_idioms)]
pub mod proto {
    include!(concat!(env!("OUT_DIR"), "/apiextensions.r#fn.proto.v1.rs"));
}

pub use compose::{Composed, Finding, KINDS, Severity, WorkloadCheck, compose};
pub use env::Env;
pub use error::FunctionError;
pub use server::{ForgeFunction, run, serve};

use serde_json::Value;

/// Previews what the function composes for `xr` in an environment, without a cluster.
///
/// `cluster_env` and `project_env` are the two EnvironmentConfig tiers, either as Crossplane
/// `EnvironmentConfig` objects or as their bare `data`; `project_env` may be `null`. A `Network`'s
/// workload cannot be looked up here and is assumed to exist. Returns the composed objects, or
/// [`FunctionError::Refused`] with every FATAL explanation.
pub fn preview(xr: &Value, cluster_env: &Value, project_env: &Value) -> Result<Vec<Value>, FunctionError> {
    let cluster = env::data_of(cluster_env);
    let project = env::data_of(project_env);
    let env = Env::from_tiers(&[
        (env::Tier::Cluster, "cluster EnvironmentConfig", &cluster),
        (env::Tier::Project, "project EnvironmentConfig", &project),
    ])?;
    let composed = compose(xr, &env, WorkloadCheck::NotChecked);
    if composed.is_refused() {
        let msgs = composed.findings.into_iter().filter(|f| f.severity == Severity::Fatal).map(|f| f.message).collect();
        return Err(FunctionError::Refused(msgs));
    }
    Ok(composed.resources.into_iter().map(|(_, v)| v).collect())
}
