use async_trait::async_trait;
use uuid::Uuid;

use crate::Result;
use crate::id::{Environment, ProjectName, Repository};
use crate::model::{
    Approval, CreateApproval, CreateRelease, CreateRun, Deployment, JobRecord, PipelineRun, RegisterRepository,
    Release, ReleasePage, StatusUpdate,
};
use crate::status::RunStatus;

/// Whether a create call made something new or returned what existed (idempotency).
#[derive(Debug, Clone, PartialEq)]
pub struct Created<T> {
    /// The entity.
    pub value: T,
    /// `true` if it was created by this call.
    pub created: bool,
}

/// The effect of a task or step status update on its run.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct StatusChange {
    /// The run the task or step belongs to.
    pub run_id: Uuid,
    /// The run status after the update (aggregated from its phases).
    pub run_status: RunStatus,
    /// `true` if this update made the run terminal (emit `pipeline.run.completed` once).
    pub run_completed: bool,
}

/// Persistence of runs, releases, deployments and approvals (PostgreSQL or SQLite behind the
/// API). Implementations keep the unique keys of SPEC §9 and gapless release numbers.
#[async_trait]
pub trait Store: Send + Sync {
    /// Checks that the database answers (`/readyz`).
    async fn ping(&self) -> Result<()>;
    /// Registers a repository (idempotent).
    async fn register_repository(&self, req: &RegisterRepository, actor: &str) -> Result<Created<Repository>>;
    /// Whether a repository is registered.
    async fn repository_exists(&self, repo: &Repository) -> Result<bool>;
    /// Creates a run, or returns the existing one for (repository, commit) unless `rerun`.
    async fn create_run(&self, req: &CreateRun, actor: &str) -> Result<Created<PipelineRun>>;
    /// Reads a run with phases → tasks → steps.
    async fn get_run(&self, id: Uuid) -> Result<PipelineRun>;
    /// Replaces the planned phases/tasks/steps of a run (after discovery).
    async fn save_run(&self, run: &PipelineRun) -> Result<()>;
    /// Cancels a run.
    async fn cancel_run(&self, id: Uuid, actor: &str) -> Result<PipelineRun>;
    /// Updates a task's status (legal transitions only) and re-aggregates its phase and run.
    async fn update_task_status(&self, id: Uuid, update: &StatusUpdate, actor: &str) -> Result<StatusChange>;
    /// Updates a step's status (legal transitions only) and re-aggregates its task, phase and run.
    async fn update_step_status(&self, id: Uuid, update: &StatusUpdate, actor: &str) -> Result<StatusChange>;
    /// Records or updates a job.
    async fn upsert_job(&self, job: &JobRecord) -> Result<()>;
    /// Jobs of a run.
    async fn jobs_for_run(&self, run_id: Uuid) -> Result<Vec<JobRecord>>;
    /// Creates a release (one transaction), or returns the existing one for the triplet.
    async fn create_release(&self, req: &CreateRelease, actor: &str) -> Result<Created<Release>>;
    /// Resolves a release id (SPEC §5.1) within a project.
    async fn get_release(&self, repo: &Repository, project: &ProjectName, id: &str) -> Result<Release>;
    /// Lists releases, newest first.
    async fn list_releases(
        &self,
        repo: &Repository,
        project: &ProjectName,
        limit: u32,
        offset: u64,
    ) -> Result<ReleasePage>;
    /// Records a deployment as active and supersedes the previous active one, atomically
    /// (with an audit row).
    async fn record_deployment(&self, deployment: &Deployment) -> Result<Deployment>;
    /// Deletes job records whose expiry has passed; returns how many (SPEC §3.3: 7 days).
    async fn purge_expired_jobs(&self) -> Result<u64>;
    /// Deployment history of a project in an environment, newest first.
    async fn list_deployments(
        &self,
        repo: &Repository,
        project: &ProjectName,
        env: &Environment,
    ) -> Result<Vec<Deployment>>;
    /// Records an approval.
    async fn create_approval(&self, req: &CreateApproval, release: &Release, approver: &str) -> Result<Approval>;
    /// Approvals of a release for an environment.
    async fn approvals(&self, release_id: Uuid, env: &Environment) -> Result<Vec<Approval>>;
}
