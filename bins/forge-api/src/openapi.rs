//! The OpenAPI 3.1 document (`/openapi.json`), generated from the route annotations.
//!
//! The schema types here describe the JSON shapes of forge-core's entities for the document;
//! requests are parsed into the forge-core types themselves.

#![allow(missing_docs)] // Field docs are the schema descriptions; the structs are documentation only.

use serde::Serialize;
use utoipa::openapi::security::{HttpAuthScheme, HttpBuilder, SecurityScheme};
use utoipa::{Modify, OpenApi, ToSchema};

/// `{"error":{"code","message","details"}}`.
#[derive(Serialize, ToSchema)]
pub struct ErrorBody {
    pub error: ErrorDetail,
}

/// An error.
#[derive(Serialize, ToSchema)]
pub struct ErrorDetail {
    /// `authentication_required`, `permission_denied`, `not_found`, `conflict`,
    /// `validation_error`, `rate_limited` or `internal_error`.
    pub code: String,
    /// What went wrong and what to do next.
    pub message: String,
    /// Structured details (for validation errors: `{"fields":[{"field","message"}]}`).
    #[schema(value_type = Object, nullable = true)]
    pub details: Option<serde_json::Value>,
}

/// Body of `POST /v1/repositories`.
#[derive(Serialize, ToSchema)]
pub struct RegisterRepositoryBody {
    /// `<owner>/<name>`.
    #[schema(pattern = r"^[A-Za-z0-9._-]{1,100}/[A-Za-z0-9._-]{1,100}$", example = "acme/shop")]
    pub repository: String,
    pub clone_url: Option<String>,
}

/// A registered repository.
#[derive(Serialize, ToSchema)]
pub struct RepositoryDoc {
    pub repository: String,
}

/// Body of `POST /v1/runs`.
#[derive(Serialize, ToSchema)]
pub struct CreateRunBody {
    #[schema(pattern = r"^[A-Za-z0-9._-]{1,100}/[A-Za-z0-9._-]{1,100}$", example = "acme/shop")]
    pub repository: String,
    /// 40 hex digits.
    #[schema(pattern = "^[0-9a-fA-F]{40}$")]
    pub commit_sha: String,
    pub branch: Option<String>,
    pub tag: Option<String>,
    /// Create a new attempt even if a run exists for the commit.
    #[serde(default)]
    pub rerun: Option<bool>,
}

/// A pipeline run with phases → tasks → steps.
#[derive(Serialize, ToSchema)]
pub struct RunDoc {
    pub id: String,
    pub repository: String,
    pub commit_sha: String,
    pub attempt: u32,
    /// `pending`, `running`, `success`, `failed`, `cancelled`.
    pub status: String,
    pub actor: String,
    pub created_at: String,
    #[schema(value_type = Vec<Object>)]
    pub phases: Vec<serde_json::Value>,
}

/// Body of `PUT /v1/runs/{id}/plan`: the planned phases (`id`, `name`, `group`, `status`,
/// `tasks`) → tasks (`id`, `project`, `project_path`, `status`, `steps`) → steps (`id`,
/// `name`, `action`, `priority`, `status`), in execution order. The server assigns new ids and
/// records every status as `pending`; phase names, projects within a phase and step names
/// within a task must be unique.
#[derive(Serialize, ToSchema)]
pub struct RunPlanBody {
    #[schema(value_type = Vec<Object>)]
    pub phases: Vec<serde_json::Value>,
    /// Discovery failed with this message: the run is recorded `failed` (`phases` must be empty).
    pub failure: Option<String>,
}

/// Execution status of a task or step.
#[derive(Serialize, ToSchema)]
#[serde(rename_all = "snake_case")]
pub enum ExecStatusDoc {
    Pending,
    Running,
    Success,
    Failed,
    Skipped,
    Cancelled,
}

/// Kind of release trigger.
#[derive(Serialize, ToSchema)]
#[serde(rename_all = "snake_case")]
pub enum TriggerTypeDoc {
    BranchPush,
    Tag,
    Manual,
}

/// Body of `PUT /v1/tasks/{id}/status` and `PUT /v1/steps/{id}/status`.
#[derive(Serialize, ToSchema)]
pub struct StatusUpdateBody {
    pub status: ExecStatusDoc,
    pub exit_code: Option<i32>,
    pub log_key: Option<String>,
    pub error: Option<String>,
}

/// The effect of a status update on its run.
#[derive(Serialize, ToSchema)]
pub struct StatusChangeDoc {
    pub run_id: String,
    pub run_status: String,
    pub run_completed: bool,
}

/// Jobs of a run.
#[derive(Serialize, ToSchema)]
pub struct JobsDoc {
    #[schema(value_type = Vec<Object>)]
    pub jobs: Vec<serde_json::Value>,
}

/// Trigger of a release.
#[derive(Serialize, ToSchema)]
pub struct TriggerDoc {
    #[serde(rename = "type")]
    pub kind: TriggerTypeDoc,
    pub branch: Option<String>,
    pub tag: Option<String>,
    pub actor: String,
}

/// Body of `POST /v1/releases`.
#[derive(Serialize, ToSchema)]
pub struct CreateReleaseBody {
    #[schema(pattern = r"^[A-Za-z0-9._-]{1,100}/[A-Za-z0-9._-]{1,100}$", example = "acme/shop")]
    pub repository: String,
    #[schema(pattern = r"^[a-z0-9]([a-z0-9-]{0,61}[a-z0-9])?$")]
    pub project: String,
    #[schema(pattern = "^[0-9a-fA-F]{40}$")]
    pub commit_sha: String,
    pub trigger: TriggerDoc,
    pub oci_ref: String,
    pub oci_digest: String,
    #[schema(value_type = Option<Vec<Object>>)]
    pub aliases: Option<Vec<serde_json::Value>>,
    #[schema(value_type = Option<Vec<Object>>)]
    pub artifacts: Option<Vec<serde_json::Value>>,
    /// `complete` or `partial`.
    pub status: Option<String>,
    pub run_id: Option<String>,
    /// The number baked into the release image; 409 when the project's next number differs.
    #[schema(minimum = 1)]
    pub expected_number: Option<u64>,
}

/// Body of `PUT /v1/releases/{owner}/{name}/{project}/{release_id}/publishing`: the release's
/// artifacts with the new publisher results. Names, types, digests, tracking refs, primary URIs
/// and successful publisher results must stay as recorded.
#[derive(Serialize, ToSchema)]
pub struct UpdatePublishingBody {
    #[schema(value_type = Vec<Object>)]
    pub artifacts: Vec<serde_json::Value>,
    /// `complete` once every publisher has succeeded, else `partial`.
    pub status: ReleaseStatusDoc,
}

/// Publication state of a release.
#[derive(Serialize, ToSchema)]
#[serde(rename_all = "snake_case")]
pub enum ReleaseStatusDoc {
    Complete,
    Partial,
}

/// A release.
#[derive(Serialize, ToSchema)]
pub struct ReleaseDoc {
    pub id: String,
    pub repository: String,
    pub project: String,
    pub commit_sha: String,
    pub release_number: u64,
    pub status: String,
    pub trigger: TriggerDoc,
    pub oci_ref: String,
    pub oci_digest: String,
    #[schema(value_type = Vec<Object>)]
    pub aliases: Vec<serde_json::Value>,
    #[schema(value_type = Vec<Object>)]
    pub artifacts: Vec<serde_json::Value>,
    pub created_at: String,
}

/// A page of releases.
#[derive(Serialize, ToSchema)]
pub struct ReleasePageDoc {
    pub releases: Vec<ReleaseDoc>,
    pub total: u64,
    pub limit: u32,
    pub offset: u64,
}

/// Body of `POST /v1/deployments`.
#[derive(Serialize, ToSchema)]
pub struct CreateDeploymentBody {
    #[schema(pattern = r"^[A-Za-z0-9._-]{1,100}/[A-Za-z0-9._-]{1,100}$", example = "acme/shop")]
    pub repository: String,
    #[schema(pattern = r"^[a-z0-9]([a-z0-9-]{0,61}[a-z0-9])?$")]
    pub project: String,
    /// Alias, number or commit-SHA prefix (SPEC §5.1).
    pub release: String,
    #[schema(pattern = r"^[a-z0-9]([a-z0-9-]{0,61}[a-z0-9])?$")]
    pub environment: String,
    /// Roll back to the previous active release (ignores `release`).
    pub rollback: Option<bool>,
}

/// A deployment.
#[derive(Serialize, ToSchema)]
pub struct DeploymentDoc {
    pub id: String,
    pub release_id: String,
    pub repository: String,
    pub project: String,
    pub environment: String,
    pub release_number: u64,
    /// `pending`, `active`, `superseded`, `failed`.
    pub status: String,
    pub deployed_by: String,
    pub approved_by: Option<String>,
    pub gitops_commit: Option<String>,
    pub rollback: bool,
    pub created_at: String,
}

/// Deployment history, newest first.
#[derive(Serialize, ToSchema)]
pub struct DeploymentsDoc {
    pub deployments: Vec<DeploymentDoc>,
}

/// Body of `POST /v1/approvals`.
#[derive(Serialize, ToSchema)]
pub struct CreateApprovalBody {
    #[schema(pattern = r"^[A-Za-z0-9._-]{1,100}/[A-Za-z0-9._-]{1,100}$", example = "acme/shop")]
    pub repository: String,
    #[schema(pattern = r"^[a-z0-9]([a-z0-9-]{0,61}[a-z0-9])?$")]
    pub project: String,
    pub release: String,
    #[schema(pattern = r"^[a-z0-9]([a-z0-9-]{0,61}[a-z0-9])?$")]
    pub environment: String,
    pub comment: Option<String>,
}

/// An approval.
#[derive(Serialize, ToSchema)]
pub struct ApprovalDoc {
    pub id: String,
    pub release_id: String,
    pub environment: String,
    pub approver: String,
    pub comment: Option<String>,
    pub created_at: String,
    pub expires_at: String,
}

/// Approvals of a release for an environment.
#[derive(Serialize, ToSchema)]
pub struct ApprovalsDoc {
    pub approvals: Vec<ApprovalDoc>,
}

/// Health.
#[derive(Serialize, ToSchema)]
pub struct HealthDoc {
    pub status: String,
}

struct BearerAuth;

impl Modify for BearerAuth {
    fn modify(&self, openapi: &mut utoipa::openapi::OpenApi) {
        let components = openapi.components.get_or_insert_with(Default::default);
        components.add_security_scheme(
            "bearer",
            SecurityScheme::Http(HttpBuilder::new().scheme(HttpAuthScheme::Bearer).bearer_format("JWT").build()),
        );
    }
}

/// The document.
#[derive(OpenApi)]
#[openapi(
    info(title = "Forge API", description = "Runs, releases, deployments and approvals (SPEC §9)."),
    modifiers(&BearerAuth),
    security(("bearer" = [])),
    paths(
        crate::routes::runs::create_run,
        crate::routes::runs::get_run,
        crate::routes::runs::cancel_run,
        crate::routes::runs::plan_run,
        crate::routes::runs::update_task,
        crate::routes::runs::update_step,
        crate::routes::runs::jobs,
        crate::routes::releases::create_release,
        crate::routes::releases::get_release,
        crate::routes::releases::list_releases,
        crate::routes::releases::update_publishing,
        crate::routes::deployments::create_deployment,
        crate::routes::deployments::list_deployments,
        crate::routes::deployments::create_approval,
        crate::routes::deployments::list_approvals,
        crate::routes::deployments::register_repository,
        crate::routes::ops::healthz,
        crate::routes::ops::readyz,
        crate::routes::ops::metrics,
    )
)]
pub struct ApiDoc;

/// The OpenAPI document as JSON.
pub fn document() -> utoipa::openapi::OpenApi {
    ApiDoc::openapi()
}
