use async_trait::async_trait;
use uuid::Uuid;

use crate::Result;

/// Runs pipelines: the in-process phase scheduler locally, Argo Workflows in production.
#[async_trait]
pub trait WorkflowEngine: Send + Sync {
    /// Starts the pipeline of a run; returns an engine-specific handle (a Workflow name).
    async fn submit(&self, run_id: Uuid) -> Result<String>;
    /// Stops a running pipeline.
    async fn cancel(&self, handle: &str) -> Result<()>;
}
