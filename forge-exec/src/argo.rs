//! Argo Workflow generation for the distributed mode (SPEC §3.6).
//!
//! One Workflow per run, in namespace `catalyst-forge-pipelines`, run by the service account
//! `pipeline-workflow-runner`, with `activeDeadlineSeconds: 86400`, `parallelism: 100` and pod
//! garbage collection on completion. Its entry template is a sequence of step groups:
//!
//! 1. a discovery dispatcher;
//! 2. each phase group in ascending order, with one dispatcher per (phase, project) task running
//!    in parallel inside the group (Argo runs the inner list of a `steps` entry in parallel and
//!    the outer list in sequence — exactly the group semantics of SPEC §3.2; fail-fast follows
//!    from Argo stopping a `steps` template at the first failed group);
//! 3. one release dispatcher per release-triggered project, each guarded by a `when` on the
//!    discovery step's `releaseProjects` output so a later discovery decision is honoured.
//!
//! A dispatcher is `forge-worker dispatcher`: it submits a job to the queue and waits for its
//! status with backoff, writing the job result to `/tmp/forge/result.json`, which becomes the
//! step's output parameter. The generator is pure (a value in, a value out); submitting the
//! Workflow through the Kubernetes API is the adapter's job. Kubernetes cannot run on this
//! machine, so the wire contract is checked by validating generated Workflows against the
//! Argo Workflows CRD schema (tests) rather than by a live cluster.

use serde::Serialize;
use serde_json::{Value, json};
use uuid::Uuid;

/// Namespace the pipelines run in.
pub const PIPELINE_NAMESPACE: &str = "catalyst-forge-pipelines";
/// Service account of the workflow pods.
pub const PIPELINE_SERVICE_ACCOUNT: &str = "pipeline-workflow-runner";
/// Pipeline hard limit (SPEC §3.2): 24 h.
pub const ACTIVE_DEADLINE_SECONDS: u64 = 86_400;
/// Maximum pods of one workflow running at once.
pub const PARALLELISM: u64 = 100;
/// Where a dispatcher writes the job result.
pub const RESULT_PATH: &str = "/tmp/forge/result.json";

/// One task of a phase: a project's steps of that phase.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct WorkflowTask {
    /// Phase name.
    pub phase: String,
    /// Project name.
    pub project: String,
}

/// One phase group.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct WorkflowGroup {
    /// Group number.
    pub group: u32,
    /// Tasks running in parallel in the group.
    pub tasks: Vec<WorkflowTask>,
}

/// Everything the generator needs.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct WorkflowSpec {
    /// Run id.
    pub run_id: Uuid,
    /// `owner/name`.
    pub repository: String,
    /// Commit SHA.
    pub commit_sha: String,
    /// Worker image running the dispatchers.
    pub image: String,
    /// API base URL the dispatchers report to.
    pub api_url: String,
    /// Phase groups, ascending.
    pub groups: Vec<WorkflowGroup>,
    /// Projects whose release trigger matched.
    pub release_projects: Vec<String>,
}

/// Builds a DNS-1123 step name from parts (Argo step names must be DNS labels-ish).
fn step_name(parts: &[&str]) -> String {
    let raw = parts.join("-").to_ascii_lowercase();
    let mut s: String = raw.chars().map(|c| if c.is_ascii_alphanumeric() || c == '-' { c } else { '-' }).collect();
    s.truncate(63);
    s.trim_matches('-').to_owned()
}

fn dispatch(name: String, job_type: &str, project: &str, phase: &str) -> Value {
    json!({
        "name": name,
        "template": "dispatch",
        "arguments": {"parameters": [
            {"name": "job-type", "value": job_type},
            {"name": "project", "value": project},
            {"name": "phase", "value": phase},
        ]},
    })
}

/// Generates the Workflow object (as JSON) for a run.
pub fn generate_workflow(spec: &WorkflowSpec) -> Value {
    let mut steps: Vec<Value> = vec![json!([dispatch("discovery".into(), "discovery", "", "")])];
    let mut groups = spec.groups.clone();
    groups.sort_by_key(|g| g.group);
    for g in &groups {
        if g.tasks.is_empty() {
            continue;
        }
        let mut tasks = g.tasks.clone();
        tasks.sort_by(|a, b| (&a.phase, &a.project).cmp(&(&b.phase, &b.project)));
        let parallel: Vec<Value> = tasks
            .iter()
            .map(|t| {
                dispatch(step_name(&["g", &g.group.to_string(), &t.phase, &t.project]), "task", &t.project, &t.phase)
            })
            .collect();
        steps.push(Value::Array(parallel));
    }
    let mut releases = spec.release_projects.clone();
    releases.sort();
    releases.dedup();
    if !releases.is_empty() {
        let parallel: Vec<Value> = releases
            .iter()
            .map(|p| {
                let mut d = dispatch(step_name(&["release", p]), "artifact", p, "");
                if let Some(obj) = d.as_object_mut() {
                    obj.insert(
                        "when".into(),
                        Value::String(format!(
                            "'{{{{steps.discovery.outputs.parameters.result}}}}' =~ '\"releaseProjects\":\\[[^]]*\"{p}\"'"
                        )),
                    );
                }
                d
            })
            .collect();
        steps.push(Value::Array(parallel));
    }
    let run = spec.run_id.to_string();
    json!({
        "apiVersion": "argoproj.io/v1alpha1",
        "kind": "Workflow",
        "metadata": {
            "name": format!("forge-run-{run}"),
            "namespace": PIPELINE_NAMESPACE,
            "labels": {
                "app.kubernetes.io/managed-by": "forge",
                "forge.projectcatalyst.io/run-id": run,
            },
            "annotations": {
                "forge.projectcatalyst.io/repository": spec.repository,
                "forge.projectcatalyst.io/commit": spec.commit_sha,
            },
        },
        "spec": {
            "serviceAccountName": PIPELINE_SERVICE_ACCOUNT,
            "activeDeadlineSeconds": ACTIVE_DEADLINE_SECONDS,
            "parallelism": PARALLELISM,
            "podGC": {"strategy": "OnWorkflowCompletion"},
            "entrypoint": "pipeline",
            "arguments": {"parameters": [
                {"name": "run-id", "value": run},
                {"name": "repository", "value": spec.repository},
                {"name": "commit-sha", "value": spec.commit_sha},
            ]},
            "templates": [
                {"name": "pipeline", "steps": steps},
                {
                    "name": "dispatch",
                    "inputs": {"parameters": [{"name": "job-type"}, {"name": "project"}, {"name": "phase"}]},
                    "retryStrategy": {"limit": "2", "retryPolicy": "OnError"},
                    "container": {
                        "image": spec.image,
                        "command": ["forge-worker", "dispatcher"],
                        "args": [
                            "--api-url", spec.api_url,
                            "--run-id", "{{workflow.parameters.run-id}}",
                            "--repository", "{{workflow.parameters.repository}}",
                            "--commit-sha", "{{workflow.parameters.commit-sha}}",
                            "--type", "{{inputs.parameters.job-type}}",
                            "--project", "{{inputs.parameters.project}}",
                            "--phase", "{{inputs.parameters.phase}}",
                            "--output", RESULT_PATH,
                        ],
                        "env": [{"name": "FORGE_API_TOKEN", "valueFrom": {"secretKeyRef": {"name": "forge-dispatcher-token", "key": "token"}}}],
                        "resources": {"requests": {"cpu": "50m", "memory": "32Mi"}, "limits": {"memory": "128Mi"}},
                    },
                    "outputs": {"parameters": [{"name": "result", "valueFrom": {"path": RESULT_PATH}}]},
                },
            ],
        },
    })
}

#[cfg(feature = "argo")]
pub use submit::ArgoClient;

#[cfg(feature = "argo")]
mod submit {
    //! Submitting Workflows to the Kubernetes API.
    //!
    //! A thin client over the Kubernetes REST API rather than the `kube` crate: submission is
    //! one `POST /apis/argoproj.io/v1alpha1/namespaces/{ns}/workflows` (and a `DELETE` to
    //! cancel), authenticated with the pod's service-account bearer token. `kube` and
    //! `k8s-openapi` would add minutes of compile time for those two calls. No Kubernetes API
    //! can run on this machine, so the wire contract (path, headers, body, status handling) is
    //! tested against a local HTTP server.

    use std::path::Path;

    use forge_core::ports::SecretValue;
    use forge_core::{Error, classify_http_status};
    use serde_json::Value;

    use super::PIPELINE_NAMESPACE;

    const COMPONENT: &str = "argo";

    /// A client submitting Workflows.
    pub struct ArgoClient {
        http: reqwest::Client,
        api_server: String,
        token: Option<SecretValue>,
    }

    impl std::fmt::Debug for ArgoClient {
        fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
            f.debug_struct("ArgoClient").field("api_server", &self.api_server).finish_non_exhaustive()
        }
    }

    impl ArgoClient {
        /// A client for `api_server` (`https://kubernetes.default.svc`) with a bearer token.
        pub fn new(api_server: &str, token: Option<SecretValue>) -> forge_core::Result<Self> {
            let http = reqwest::Client::builder()
                .timeout(std::time::Duration::from_secs(30))
                .build()
                .map_err(|e| Error::other(COMPONENT, "building the HTTP client", e))?;
            Ok(Self { http, api_server: api_server.trim_end_matches('/').to_owned(), token })
        }

        /// The in-cluster client: `KUBERNETES_SERVICE_HOST`/`_PORT` and the mounted
        /// service-account token.
        pub fn in_cluster() -> forge_core::Result<Self> {
            let host = std::env::var("KUBERNETES_SERVICE_HOST")
                .map_err(|_| Error::msg(COMPONENT, "KUBERNETES_SERVICE_HOST is not set: not running in a cluster"))?;
            let port = std::env::var("KUBERNETES_SERVICE_PORT").unwrap_or_else(|_| "443".into());
            let token_path = Path::new("/var/run/secrets/kubernetes.io/serviceaccount/token");
            let token = std::fs::read_to_string(token_path)
                .map_err(|e| Error::other(COMPONENT, format!("reading {}", token_path.display()), e))?;
            Self::new(&format!("https://{host}:{port}"), Some(SecretValue::from_string(token.trim().to_owned())))
        }

        fn req(&self, rb: reqwest::RequestBuilder) -> reqwest::RequestBuilder {
            let rb = rb.header("Accept", "application/json");
            match &self.token {
                Some(t) => rb.bearer_auth(t.expose_str().unwrap_or_default()),
                None => rb,
            }
        }

        async fn check(resp: reqwest::Response, what: &str) -> forge_core::Result<Value> {
            let status = resp.status().as_u16();
            let body: Value = resp.json().await.unwrap_or(Value::Null);
            if (200..300).contains(&status) {
                return Ok(body);
            }
            let msg = format!(
                "{what}: the Kubernetes API answered {status}: {}",
                body.get("message").and_then(Value::as_str).unwrap_or("no message")
            );
            Err(match (status, classify_http_status(status)) {
                (_, forge_core::ErrorClass::Transient) => {
                    Error::Transient { component: COMPONENT, message: msg, source: None }
                }
                (401, _) => Error::Unauthorized { component: COMPONENT, message: msg },
                (403, _) => Error::PermissionDenied { component: COMPONENT, message: msg },
                (404, _) => Error::NotFound { component: COMPONENT, what: msg },
                (409, _) => Error::AlreadyExists { component: COMPONENT, what: msg },
                _ => Error::msg(COMPONENT, msg),
            })
        }

        /// Submits a Workflow (from [`generate_workflow`](super::generate_workflow)); returns
        /// its name. A Workflow of that name that exists already (a retried submission) counts
        /// as submitted.
        pub async fn submit(&self, workflow: &Value) -> forge_core::Result<String> {
            let ns = workflow["metadata"]["namespace"].as_str().unwrap_or(PIPELINE_NAMESPACE);
            let name = workflow["metadata"]["name"].as_str().unwrap_or_default().to_owned();
            let url = format!("{}/apis/argoproj.io/v1alpha1/namespaces/{ns}/workflows", self.api_server);
            let resp = self
                .req(self.http.post(url).json(workflow))
                .send()
                .await
                .map_err(|e| Error::transient(COMPONENT, "submitting the workflow", e))?;
            match Self::check(resp, "submitting the workflow").await {
                Ok(body) => Ok(body["metadata"]["name"].as_str().map(str::to_owned).unwrap_or(name)),
                Err(Error::AlreadyExists { .. }) => Ok(name),
                Err(e) => Err(e),
            }
        }

        /// Deletes (cancels) a Workflow.
        pub async fn cancel(&self, namespace: &str, name: &str) -> forge_core::Result<()> {
            let url = format!("{}/apis/argoproj.io/v1alpha1/namespaces/{namespace}/workflows/{name}", self.api_server);
            let resp = self
                .req(self.http.delete(url))
                .send()
                .await
                .map_err(|e| Error::transient(COMPONENT, "deleting the workflow", e))?;
            match Self::check(resp, "deleting the workflow").await {
                Ok(_) | Err(Error::NotFound { .. }) => Ok(()),
                Err(e) => Err(e),
            }
        }
    }
}
