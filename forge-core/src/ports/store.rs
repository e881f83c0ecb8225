use async_trait::async_trait;
use uuid::Uuid;

use crate::Result;
use crate::id::{Environment, ProjectName, Repository};
use crate::model::{
    Approval, CreateApproval, CreateRelease, CreateRun, Deployment, JobRecord, PipelineRun, RegisterRepository,
    Release, ReleaseArtifact, ReleasePage, StatusUpdate,
};
use crate::status::{ReleaseStatus, RunStatus};

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
    /// `true` if this update made its phase terminal (SPEC §3.7 "Running phase X of N").
    pub phase_completed: bool,
    /// Phases of the run that are terminal after the update.
    pub phases_done: usize,
    /// Phases of the run.
    pub phases_total: usize,
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
    /// Records the outcome of a publisher retry on a `partial` release (SPEC §4.3): replaces
    /// the publisher results of its artifacts and sets its status (`complete` once every
    /// publisher has succeeded, else `partial`). Nothing else of a release ever changes: the
    /// artifacts must keep their names, types, digests, tracking refs and primary URIs (they are
    /// baked into the immutable release image), and a release that is not `partial` is a
    /// conflict.
    async fn update_release_publishing(
        &self,
        release_id: Uuid,
        artifacts: &[ReleaseArtifact],
        status: ReleaseStatus,
        actor: &str,
    ) -> Result<Release>;
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

/// The part of the store that release creation needs (SPEC §5.3). A process that records
/// through the REST API instead of a database (a worker in the distributed mode) implements just
/// this; every [`Store`] provides it through [`StoreReleases`].
#[async_trait]
pub trait ReleaseRecords: Send + Sync {
    /// Resolves a release id (SPEC §5.1) within a project.
    async fn get_release(&self, repo: &Repository, project: &ProjectName, id: &str) -> Result<Release>;
    /// The number of the newest release of a project, if any.
    async fn latest_release_number(&self, repo: &Repository, project: &ProjectName) -> Result<Option<u64>>;
    /// Creates a release, or returns the existing one for the triplet.
    async fn create_release(&self, req: &CreateRelease, actor: &str) -> Result<Created<Release>>;
    /// See [`Store::update_release_publishing`].
    async fn update_release_publishing(
        &self,
        release_id: Uuid,
        artifacts: &[ReleaseArtifact],
        status: ReleaseStatus,
        actor: &str,
    ) -> Result<Release>;
}

/// A [`Store`] as [`ReleaseRecords`].
#[derive(Clone)]
pub struct StoreReleases(pub std::sync::Arc<dyn Store>);

impl std::fmt::Debug for StoreReleases {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str("StoreReleases")
    }
}

#[async_trait]
impl ReleaseRecords for StoreReleases {
    async fn get_release(&self, repo: &Repository, project: &ProjectName, id: &str) -> Result<Release> {
        self.0.get_release(repo, project, id).await
    }
    async fn latest_release_number(&self, repo: &Repository, project: &ProjectName) -> Result<Option<u64>> {
        Ok(self.0.list_releases(repo, project, 1, 0).await?.releases.first().map(|r| r.release_number))
    }
    async fn create_release(&self, req: &CreateRelease, actor: &str) -> Result<Created<Release>> {
        self.0.create_release(req, actor).await
    }
    async fn update_release_publishing(
        &self,
        release_id: Uuid,
        artifacts: &[ReleaseArtifact],
        status: ReleaseStatus,
        actor: &str,
    ) -> Result<Release> {
        self.0.update_release_publishing(release_id, artifacts, status, actor).await
    }
}
