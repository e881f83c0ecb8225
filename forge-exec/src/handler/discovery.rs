use std::sync::Arc;

use async_trait::async_trait;
use forge_core::model::Job;
use tokio_util::sync::CancellationToken;

use super::{DiscoveryCache, JobHandler, JobOutput};
use crate::error::Result;
use crate::repo_cache::RepoCache;

/// Handles `discovery` jobs: the discovery document of the job's commit.
#[derive(Debug, Clone)]
pub struct DiscoveryHandler {
    repos: Arc<RepoCache>,
    cache: Arc<DiscoveryCache>,
}

impl DiscoveryHandler {
    /// Checks out through `repos`, discovers through `cache`.
    pub fn new(repos: Arc<RepoCache>, cache: Arc<DiscoveryCache>) -> Self {
        Self { repos, cache }
    }
}

#[async_trait]
impl JobHandler for DiscoveryHandler {
    async fn handle(&self, job: &Job, _cancel: CancellationToken) -> Result<JobOutput> {
        let found = self.cache.get_with_checkout(&self.repos, job).await?;
        let failed = found.document.get("errors").and_then(|e| e.as_array()).is_some_and(|e| !e.is_empty());
        Ok(JobOutput { failed, result: found.document.clone() })
    }
}
