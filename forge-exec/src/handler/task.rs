use std::sync::Arc;

use async_trait::async_trait;
use forge_core::RunStatus;
use forge_core::model::Job;
use forge_core::ports::Executor;
use tokio_util::sync::CancellationToken;

use super::{DiscoveryCache, JobHandler, JobOutput};
use crate::error::{Error, Result};
use crate::repo_cache::RepoCache;
use crate::scheduler::{Scheduler, StatusSink};

/// Handles `task` jobs: checks out the commit, finds the project's steps of the phase in the
/// discovered plan, and runs them with the scheduler (priority tiers, fail-fast, timeouts).
/// The result is the scheduler's [`RunReport`](crate::scheduler::RunReport).
#[derive(Clone)]
pub struct TaskHandler {
    repos: Arc<RepoCache>,
    discovery: Arc<DiscoveryCache>,
    executor: Arc<dyn Executor>,
    sink: Arc<dyn StatusSink>,
}

impl std::fmt::Debug for TaskHandler {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("TaskHandler").field("repos", &self.repos).finish_non_exhaustive()
    }
}

impl TaskHandler {
    /// A handler with its collaborators.
    pub fn new(
        repos: Arc<RepoCache>,
        discovery: Arc<DiscoveryCache>,
        executor: Arc<dyn Executor>,
        sink: Arc<dyn StatusSink>,
    ) -> Self {
        Self { repos, discovery, executor, sink }
    }
}

#[async_trait]
impl JobHandler for TaskHandler {
    async fn handle(&self, job: &Job, cancel: CancellationToken) -> Result<JobOutput> {
        let p = &job.payload;
        let bad = |m: &str| Error::Job { job_id: job.job_id, message: m.to_owned() };
        let phase = p.phase.as_deref().ok_or_else(|| bad("a task job needs payload.phase"))?;
        let project = p.project.as_ref().ok_or_else(|| bad("a task job needs payload.project"))?;
        let wt = self.repos.checkout(&p.repository, &p.commit_sha, &job.job_id.to_string()).await?;
        let result = async {
            let found = self.discovery.get(&wt.path, &p.repository, &p.commit_sha, &super::git_of(job)).await?;
            let plan = found.plan.select_task(phase, project.as_str(), &p.steps).ok_or_else(|| {
                bad(&format!("project {project} has no steps in phase {phase:?} at {}", p.commit_sha.short(12)))
            })?;
            let scheduler = Scheduler::new(self.executor.clone(), self.sink.clone())
                .with_repo_root(&wt.path)
                .with_log_prefix(format!("logs/{}/{}", job.run_id, job.job_id));
            let report = scheduler.run(&plan, cancel).await;
            let failed = report.status != RunStatus::Success;
            let result = serde_json::to_value(&report)
                .map_err(|source| Error::Json { context: "encoding the report".into(), source })?;
            Ok(JobOutput { failed, result })
        }
        .await;
        self.repos.release(wt).await?;
        result
    }
}
