//! Argo Workflow generation for the distributed mode (SPEC §3.6).
//!
//! One Workflow per run, submitted when the run is created, in namespace
//! `catalyst-forge-pipelines`, run by the service account `pipeline-workflow-runner`, with
//! `activeDeadlineSeconds: 86400`, `parallelism: 100` and pod garbage collection on completion.
//! The pipeline is only known after discovery, so the Workflow is generic and driven by the
//! discovery dispatcher's outputs:
//!
//! 1. `discovery` — a dispatcher for the discovery job. Besides its result it writes three
//!    output parameters: `groups` (a JSON array, one element per phase group in ascending
//!    order, each an array of `{"phase","project"}` tasks), `group-count`, and `releases` (the
//!    JSON array of release-triggered projects).
//! 2. `run-groups` — a recursive template: it runs group `index` as one dispatcher per task in
//!    parallel (`withParam` over the group's tasks), then calls itself with `index + 1` while
//!    groups remain. Groups therefore run one at a time in ascending order, phases of a group
//!    together, and a failed task stops the recursion (fail-fast: Argo does not start the next
//!    step of a `steps` template after a failure).
//! 3. `release` — one dispatcher per release-triggered project (`withParam` over `releases`;
//!    an empty list skips the step: the conditional release dispatchers).
//!
//! The run's branch and tag are Workflow parameters handed to every dispatcher, which puts
//! them into the job payload: discovery evaluates release triggers against them, and the
//! artifact job derives the release aliases from them.
//!
//! A dispatcher is `forge-worker dispatcher`: it submits a job to the queue and waits for its
//! result with backoff, writing the outputs under `/tmp/forge/`. The generator is pure (a
//! value in, a value out); [`ArgoClient`] submits it. Kubernetes cannot run on this machine, so
//! generated Workflows are validated against the Argo Workflows CRD schema and pinned by
//! snapshots in the tests; the expression syntax (`{{=…}}`, `jsonpath`, `asInt`) is Argo's
//! expression-template language (Argo Workflows ≥ 3.1).

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
/// Folder a dispatcher writes its outputs into.
pub const OUTPUT_DIR: &str = "/tmp/forge";

/// One task of a phase group, as the discovery dispatcher lists it in `groups`.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, serde::Deserialize)]
pub struct WorkflowTask {
    /// Phase name.
    pub phase: String,
    /// Project name.
    pub project: String,
}

/// What the generator needs.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct WorkflowSpec {
    /// Run id.
    pub run_id: Uuid,
    /// `owner/name`.
    pub repository: String,
    /// Commit SHA.
    pub commit_sha: String,
    /// Branch of the run (empty: none); release triggers are evaluated against it.
    pub branch: String,
    /// Tag of the run (empty: none).
    pub tag: String,
    /// Worker image running the dispatchers.
    pub image: String,
    /// API base URL the dispatchers report to.
    pub api_url: String,
}

/// The discovery dispatcher's `groups` output for a plan: groups ascending, tasks sorted by
/// (phase, project).
pub fn groups_output(groups: &[(u32, Vec<WorkflowTask>)]) -> Value {
    let mut g: Vec<(u32, Vec<WorkflowTask>)> = groups.iter().filter(|(_, t)| !t.is_empty()).cloned().collect();
    g.sort_by_key(|(n, _)| *n);
    Value::Array(
        g.into_iter()
            .map(|(_, mut tasks)| {
                tasks.sort_by(|a, b| (&a.phase, &a.project).cmp(&(&b.phase, &b.project)));
                json!(tasks)
            })
            .collect(),
    )
}

fn dispatch_args(job_type: &str, project: &str, phase: &str) -> Value {
    json!({"parameters": [
        {"name": "job-type", "value": job_type},
        {"name": "project", "value": project},
        {"name": "phase", "value": phase},
    ]})
}

/// Generates the Workflow object (as JSON) for a run.
pub fn generate_workflow(spec: &WorkflowSpec) -> Value {
    let run = spec.run_id.to_string();
    let out = |name: &str| json!({"name": name, "valueFrom": {"path": format!("{OUTPUT_DIR}/{name}.json")}});
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
                {"name": "branch", "value": spec.branch},
                {"name": "tag", "value": spec.tag},
            ]},
            "templates": [
                {
                    "name": "pipeline",
                    "steps": [
                        [{"name": "discovery", "template": "dispatch-discovery"}],
                        [{
                            "name": "groups",
                            "template": "run-groups",
                            "when": "{{steps.discovery.outputs.parameters.group-count}} > 0",
                            "arguments": {"parameters": [
                                {"name": "groups", "value": "{{steps.discovery.outputs.parameters.groups}}"},
                                {"name": "index", "value": "0"},
                            ]},
                        }],
                        [{
                            "name": "release",
                            "template": "dispatch",
                            "withParam": "{{steps.discovery.outputs.parameters.releases}}",
                            "arguments": dispatch_args("artifact", "{{item}}", ""),
                        }],
                    ],
                },
                {
                    "name": "run-groups",
                    "inputs": {"parameters": [{"name": "groups"}, {"name": "index"}]},
                    "steps": [
                        [{
                            "name": "task",
                            "template": "dispatch",
                            "withParam": "{{=toJson(jsonpath(inputs.parameters.groups, '$[' + inputs.parameters.index + ']'))}}",
                            "arguments": dispatch_args("task", "{{item.project}}", "{{item.phase}}"),
                        }],
                        [{
                            "name": "next",
                            "template": "run-groups",
                            "when": "{{=asInt(inputs.parameters.index) + 1 < len(jsonpath(inputs.parameters.groups, '$'))}}",
                            "arguments": {"parameters": [
                                {"name": "groups", "value": "{{inputs.parameters.groups}}"},
                                {"name": "index", "value": "{{=asInt(inputs.parameters.index) + 1}}"},
                            ]},
                        }],
                    ],
                },
                dispatcher_template(spec, "dispatch-discovery", Some(json!({"parameters": [
                    out("result"), out("groups"), out("group-count"), out("releases"),
                ]}))),
                dispatcher_template(spec, "dispatch", Some(json!({"parameters": [out("result")]}))),
            ],
        },
    })
}

fn dispatcher_template(spec: &WorkflowSpec, name: &str, outputs: Option<Value>) -> Value {
    let discovery = name == "dispatch-discovery";
    let (job_type, project, phase) = if discovery {
        ("discovery", String::new(), String::new())
    } else {
        (
            "{{inputs.parameters.job-type}}",
            "{{inputs.parameters.project}}".to_owned(),
            "{{inputs.parameters.phase}}".to_owned(),
        )
    };
    let mut t = json!({
        "name": name,
        "retryStrategy": {"limit": "2", "retryPolicy": "OnError"},
        "container": {
            "image": spec.image,
            "command": ["forge-worker", "dispatcher"],
            "args": [
                "--api-url", spec.api_url,
                "--run-id", "{{workflow.parameters.run-id}}",
                "--repository", "{{workflow.parameters.repository}}",
                "--commit-sha", "{{workflow.parameters.commit-sha}}",
                "--branch", "{{workflow.parameters.branch}}",
                "--tag", "{{workflow.parameters.tag}}",
                "--type", job_type,
                "--project", project,
                "--phase", phase,
                "--output-dir", OUTPUT_DIR,
            ],
            "env": [{"name": "FORGE_API_TOKEN", "valueFrom": {"secretKeyRef": {"name": "forge-dispatcher-token", "key": "token"}}}],
            "resources": {"requests": {"cpu": "50m", "memory": "32Mi"}, "limits": {"memory": "128Mi"}},
        },
    });
    if !discovery {
        t["inputs"] = json!({"parameters": [{"name": "job-type"}, {"name": "project"}, {"name": "phase"}]});
    }
    if let Some(o) = outputs {
        t["outputs"] = o;
    }
    t
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

/// Argo Workflows as the [`WorkflowEngine`](forge_core::ports::WorkflowEngine): one generated
/// Workflow per run, submitted through the Kubernetes API (feature `argo`).
#[cfg(feature = "argo")]
#[derive(Debug)]
pub struct ArgoEngine {
    /// The client.
    pub client: ArgoClient,
    /// Worker image running the dispatchers.
    pub image: String,
    /// API base URL the dispatchers report to.
    pub api_url: String,
}

#[cfg(feature = "argo")]
#[async_trait::async_trait]
impl forge_core::ports::WorkflowEngine for ArgoEngine {
    async fn submit(&self, run: &forge_core::model::PipelineRun) -> forge_core::Result<String> {
        let wf = generate_workflow(&WorkflowSpec {
            run_id: run.id,
            repository: run.repository.to_string(),
            commit_sha: run.commit_sha.to_string(),
            branch: run.branch.clone().unwrap_or_default(),
            tag: run.tag.clone().unwrap_or_default(),
            image: self.image.clone(),
            api_url: self.api_url.clone(),
        });
        self.client.submit(&wf).await
    }
    async fn cancel(&self, run: &forge_core::model::PipelineRun) -> forge_core::Result<()> {
        self.client.cancel(PIPELINE_NAMESPACE, &format!("forge-run-{}", run.id)).await
    }
}
