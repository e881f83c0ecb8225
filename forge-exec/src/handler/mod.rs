//! Job handlers: what a worker does with each [`JobType`](forge_core::model::JobType).
//!
//! - [`TaskHandler`]: runs a project's steps for a phase through the [`Scheduler`](crate::scheduler::Scheduler)
//!   in a worktree of the [`RepoCache`].
//! - [`DiscoveryHandler`]: runs a [`Discoverer`] (forge-config's discovery, wired by the
//!   binary) on a worktree, cached by (repository, commit, branch, tag).
//! - [`ArtifactHandler`]: releases a project (release creation of SPEC §5.3) and records it
//!   through a [`ReleaseRecords`](forge_core::ports::ReleaseRecords) port.

use std::collections::{HashMap, VecDeque};
use std::path::Path;
use std::sync::{Arc, Mutex};

use async_trait::async_trait;
use forge_core::model::Job;
use forge_core::{CommitSha, Repository};
use tokio_util::sync::CancellationToken;

use crate::error::{Error, Result};
use crate::plan::PipelinePlan;
use crate::repo_cache::RepoCache;

mod artifact;
mod discovery;
mod task;

pub use artifact::{ArtifactHandler, ArtifactSettings};
pub use discovery::DiscoveryHandler;
pub use task::TaskHandler;

/// The refs release triggers are evaluated against: the branch and tag of the job's run.
pub use forge_config::trigger::GitContext;

/// The trigger context of a job (its payload's branch and tag).
pub fn git_of(job: &Job) -> GitContext {
    GitContext { branch: job.payload.branch.clone(), tag: job.payload.tag.clone(), git_ref: None }
}

fn key(repository: &Repository, commit: &CommitSha, git: &GitContext) -> CacheKey {
    (repository.to_string(), commit.to_string(), git.branch.clone(), git.tag.clone())
}

/// What a handler produced.
#[derive(Debug, Clone, PartialEq)]
pub struct JobOutput {
    /// Whether the job's work failed (a failed step, a config error): the result is still
    /// recorded and the message deleted; failures are not retried by redelivery.
    pub failed: bool,
    /// The result document stored under the job id.
    pub result: serde_json::Value,
}

/// Handles one kind of job.
#[async_trait]
pub trait JobHandler: Send + Sync {
    /// Runs `job`. `cancel` fires on the job timeout or a forced shutdown; the handler must
    /// stop its processes and return soon after. Transient errors
    /// ([`Error::is_transient`]) make the worker release the job for another attempt.
    async fn handle(&self, job: &Job, cancel: CancellationToken) -> Result<JobOutput>;
}

/// The result of discovery for one (repository, commit).
#[derive(Debug, Clone, PartialEq)]
pub struct Discovered {
    /// The discovery output document (SPEC §2.5).
    pub document: serde_json::Value,
    /// The pipeline to run.
    pub plan: PipelinePlan,
}

/// Discovers the pipeline of a checked-out repository. forge-config's discovery implements
/// this in the binaries; [`PlanFileDiscoverer`] is a stand-in for tests and local use.
#[async_trait]
pub trait Discoverer: Send + Sync {
    /// Discovers `checkout` (the repository at `commit`); release triggers are evaluated
    /// against `git` (the branch and tag of the job's run).
    async fn discover(
        &self,
        checkout: &Path,
        repository: &Repository,
        commit: &CommitSha,
        git: &GitContext,
    ) -> forge_core::Result<Discovered>;
}

/// Reads a ready-made [`PipelinePlan`] from `.forge/plan.json` in the checkout; the
/// document is the plan itself.
#[derive(Debug, Clone, Copy, Default)]
pub struct PlanFileDiscoverer;

#[async_trait]
impl Discoverer for PlanFileDiscoverer {
    async fn discover(
        &self,
        checkout: &Path,
        _: &Repository,
        _: &CommitSha,
        _: &GitContext,
    ) -> forge_core::Result<Discovered> {
        let path = checkout.join(".forge/plan.json");
        let text = tokio::fs::read(&path).await.map_err(|e| Error::io("reading the pipeline plan", &path, e))?;
        let plan: PipelinePlan = serde_json::from_slice(&text)
            .map_err(|source| Error::Json { context: format!("parsing {}", path.display()), source })?;
        let document = serde_json::to_value(&plan)
            .map_err(|source| Error::Json { context: "encoding the plan".into(), source })?;
        Ok(Discovered { document, plan })
    }
}

/// Discovery results cached by (repository, commit, branch, tag) — a commit's configuration
/// never changes (SPEC §3.4); the refs decide which release triggers match. Bounded; the oldest
/// entry goes first.
pub struct DiscoveryCache {
    discoverer: Arc<dyn Discoverer>,
    capacity: usize,
    entries: Mutex<CacheEntries>,
}

/// (repository, commit, branch, tag).
type CacheKey = (String, String, Option<String>, Option<String>);
/// The entries and their insertion order.
type CacheEntries = (HashMap<CacheKey, Arc<Discovered>>, VecDeque<CacheKey>);

impl std::fmt::Debug for DiscoveryCache {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("DiscoveryCache").field("capacity", &self.capacity).finish_non_exhaustive()
    }
}

impl DiscoveryCache {
    /// A cache of up to `capacity` results in front of `discoverer`.
    pub fn new(discoverer: Arc<dyn Discoverer>, capacity: usize) -> Self {
        Self { discoverer, capacity: capacity.max(1), entries: Mutex::new((HashMap::new(), VecDeque::new())) }
    }

    /// The cached result, if any.
    pub fn cached(&self, repository: &Repository, commit: &CommitSha, git: &GitContext) -> Option<Arc<Discovered>> {
        let key = key(repository, commit, git);
        self.entries.lock().unwrap_or_else(|p| p.into_inner()).0.get(&key).cloned()
    }

    /// The cached result, or discovery on `checkout` (then cached).
    pub async fn get(
        &self,
        checkout: &Path,
        repository: &Repository,
        commit: &CommitSha,
        git: &GitContext,
    ) -> Result<Arc<Discovered>> {
        if let Some(hit) = self.cached(repository, commit, git) {
            return Ok(hit);
        }
        let found = Arc::new(self.discoverer.discover(checkout, repository, commit, git).await?);
        let key = key(repository, commit, git);
        let mut guard = self.entries.lock().unwrap_or_else(|p| p.into_inner());
        let (map, order) = &mut *guard;
        if map.insert(key.clone(), found.clone()).is_none() {
            order.push_back(key);
        }
        while order.len() > self.capacity {
            if let Some(old) = order.pop_front() {
                map.remove(&old);
            }
        }
        Ok(found)
    }

    /// Checks out the commit (unless cached) and discovers it.
    pub async fn get_with_checkout(&self, repos: &RepoCache, job: &Job) -> Result<Arc<Discovered>> {
        let (repo, commit) = (&job.payload.repository, &job.payload.commit_sha);
        let git = git_of(job);
        if let Some(hit) = self.cached(repo, commit, &git) {
            return Ok(hit);
        }
        let wt = repos.checkout(repo, commit, &format!("{}-discovery", job.job_id)).await?;
        let found = self.get(&wt.path, repo, commit, &git).await;
        repos.release(wt).await?;
        found
    }
}
