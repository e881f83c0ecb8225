use async_trait::async_trait;

use crate::Result;

/// Who made a GitOps commit.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct GitIdentity {
    /// Name.
    pub name: String,
    /// Email.
    pub email: String,
}

/// One pointer write: one file, one commit (SPEC §6.3).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct PointerCommit {
    /// Path in the repository (`environments/<env>/<owner>/<name>/<project>/release.yaml`).
    pub path: String,
    /// The file content.
    pub content: Vec<u8>,
    /// Commit message.
    pub message: String,
    /// Author: the deploying identity.
    pub author: GitIdentity,
}

/// The GitOps repository as a remote record of deployments.
#[async_trait]
pub trait GitopsRemote: Send + Sync {
    /// Commits one file change on the latest head and pushes it, retrying on conflicts;
    /// returns the commit SHA.
    async fn commit_pointer(&self, change: &PointerCommit) -> Result<String>;
    /// Reads a file at a revision (`None` = the remote head); `NotFound` when absent.
    async fn read_file(&self, path: &str, revision: Option<&str>) -> Result<Vec<u8>>;
    /// Commits that touched `path`, newest first, as (commit SHA, file content at that commit).
    async fn file_history(&self, path: &str, limit: usize) -> Result<Vec<(String, Option<Vec<u8>>)>>;
}
