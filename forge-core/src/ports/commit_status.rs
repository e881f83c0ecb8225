use async_trait::async_trait;
use serde::{Deserialize, Serialize};

use crate::Result;
use crate::id::{CommitSha, Repository};

/// The commit-status context Forge reports under (SPEC §3.7).
pub const STATUS_CONTEXT: &str = "ci/catalyst-forge";

/// GitHub commit-status states.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum CommitState {
    /// In progress.
    Pending,
    /// Succeeded.
    Success,
    /// Failed.
    Failure,
    /// Cancelled or unknown.
    Error,
}

/// Maps a pipeline state name to a commit state (SPEC §3.7): pending/discovering/running →
/// pending, succeeded/success → success, failed → failure, anything else → error.
pub fn commit_state_for(pipeline_state: &str) -> CommitState {
    match pipeline_state {
        "pending" | "discovering" | "running" => CommitState::Pending,
        "succeeded" | "success" => CommitState::Success,
        "failed" => CommitState::Failure,
        _ => CommitState::Error,
    }
}

/// Reports commit statuses (log locally; GitHub REST in production). Failures are logged by
/// callers and never fail a run.
#[async_trait]
pub trait CommitStatusReporter: Send + Sync {
    /// Sets the status of a commit.
    async fn set_status(&self, repo: &Repository, sha: &CommitSha, state: CommitState, description: &str)
    -> Result<()>;
    /// Posts (or updates) the run summary comment on a pull request.
    async fn comment(&self, repo: &Repository, pull_request: u64, body: &str) -> Result<()>;
}
