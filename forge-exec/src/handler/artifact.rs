//! The `artifact` job: a project's release in the distributed mode (SPEC §3.6 step 3, §5.3).

use std::path::PathBuf;
use std::sync::Arc;

use async_trait::async_trait;
use forge_core::Registry;
use forge_core::model::Job;
use forge_core::ports::{ImageStore, ReleaseRecords};
use serde_json::json;
use tokio_util::sync::CancellationToken;

use super::{JobHandler, JobOutput, git_of};
use crate::error::{Error, Result};
use crate::local::ConfigDiscoverer;
use crate::local::GitContext as CommitFacts;
use crate::release::publisher::PublisherSet;
use crate::release::{NoProgress, ReleaseEnv, ReleaseGit, release_project};
use crate::repo_cache::RepoCache;

/// Where an artifact job releases to, and where it records the release.
#[derive(Clone)]
pub struct ArtifactSettings {
    /// Registry name in release refs.
    pub release_registry: Registry,
    /// Where release images go.
    pub release_store: Arc<dyn ImageStore>,
    /// Registry name in tracking refs.
    pub tracking_registry: Registry,
    /// Where tracking images go.
    pub tracking_store: Arc<dyn ImageStore>,
    /// Publishers by type (credentials are resolved at the moment of use).
    pub publishers: PublisherSet,
    /// Where releases are recorded: in production the REST API
    /// ([`ApiReleaseRecords`](crate::api_client) with the `api` feature).
    pub records: Arc<dyn ReleaseRecords>,
    /// Root of the per-job staging directories.
    pub staging_root: PathBuf,
    /// Identity recorded as the trigger's actor.
    pub actor: String,
    /// Signs every tracking and release image when set.
    pub signer: Option<Arc<dyn forge_oci::sign::Signer>>,
}

impl std::fmt::Debug for ArtifactSettings {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("ArtifactSettings")
            .field("release_registry", &self.release_registry)
            .field("tracking_registry", &self.tracking_registry)
            .field("publishers", &self.publishers)
            .field("staging_root", &self.staging_root)
            .finish_non_exhaustive()
    }
}

/// Handles `artifact` jobs: checks out the commit, discovers it with the run's branch and tag,
/// and releases the job's project with [`release_project`] — artifacts, publishers, tracking
/// images, rendering, the release image, then the record. The result is
/// `{"release": <Release>, "created": bool, "artifacts": [...]}`; a failed release is a failed
/// result `{"error": "..."}` (not redelivered: the release rules already leave nothing
/// half-done, and a retry is a new run or `forge release retry`).
#[derive(Debug, Clone)]
pub struct ArtifactHandler {
    repos: Arc<RepoCache>,
    discoverer: Arc<ConfigDiscoverer>,
    settings: ArtifactSettings,
}

impl ArtifactHandler {
    /// A handler with its collaborators.
    pub fn new(repos: Arc<RepoCache>, discoverer: Arc<ConfigDiscoverer>, settings: ArtifactSettings) -> Self {
        Self { repos, discoverer, settings }
    }
}

#[async_trait]
impl JobHandler for ArtifactHandler {
    async fn handle(&self, job: &Job, _cancel: CancellationToken) -> Result<JobOutput> {
        let p = &job.payload;
        let project = p.project.as_ref().ok_or_else(|| Error::Job {
            job_id: job.job_id,
            message: "an artifact job needs payload.project".into(),
        })?;
        let wt = self.repos.checkout(&p.repository, &p.commit_sha, &job.job_id.to_string()).await?;
        let outcome = async {
            let git = git_of(job);
            let discovery = self.discoverer.discovery(&wt.path, &git).await?;
            let facts = CommitFacts::discover(&wt.path)
                .map_err(|e| Error::Job { job_id: job.job_id, message: e.to_string() })?
                .ok_or_else(|| Error::Job {
                    job_id: job.job_id,
                    message: "the checkout is not a git work tree".into(),
                })?;
            let s = &self.settings;
            let env = ReleaseEnv {
                repository: p.repository.clone(),
                repo_root: wt.path.clone(),
                git: ReleaseGit {
                    commit: p.commit_sha,
                    branch: git.branch.clone(),
                    tag: git.tag.clone(),
                    committed_at: facts.committed_at,
                    author: facts.author,
                    message: facts.message,
                },
                actor: s.actor.clone(),
                run_id: Some(job.run_id),
                release_registry: s.release_registry.clone(),
                release_store: s.release_store.clone(),
                tracking_registry: s.tracking_registry.clone(),
                tracking_store: s.tracking_store.clone(),
                publishers: s.publishers.clone(),
                store: s.records.clone(),
                staging_root: s.staging_root.join(job.job_id.to_string()),
                progress: Arc::new(NoProgress),
                dry_run: false,
                signer: s.signer.clone(),
            };
            let result = release_project(&env, &discovery, project.as_str()).await;
            let _ = std::fs::remove_dir_all(&env.staging_root);
            Ok::<_, Error>(result)
        }
        .await;
        self.repos.release(wt).await?;
        Ok(match outcome? {
            Ok(out) => {
                tracing::info!(project = %project, number = out.release.release_number, created = out.created, status = %out.release.status, "released");
                JobOutput {
                    failed: false,
                    result: json!({
                        "release": out.release,
                        "created": out.created,
                        "artifacts": out.artifacts.iter().map(|a| json!({
                            "name": a.name, "digest": a.digest, "tracking": a.tracking.0,
                            "trackingDigest": a.tracking.1, "publishers": a.publishers, "skipped": a.skipped,
                        })).collect::<Vec<_>>(),
                    }),
                }
            }
            Err(e) => {
                tracing::warn!(project = %project, error = %e, "release failed");
                JobOutput { failed: true, result: json!({"error": e.to_string()}) }
            }
        })
    }
}
