use async_trait::async_trait;

use crate::Result;
use crate::model::PipelineRun;

/// Runs pipelines: the in-process phase scheduler locally, Argo Workflows in production.
#[async_trait]
pub trait WorkflowEngine: Send + Sync {
    /// Starts the pipeline of a new run; returns an engine-specific handle (a Workflow name).
    /// Submitting the same run twice must not start it twice.
    async fn submit(&self, run: &PipelineRun) -> Result<String>;
    /// Stops a running pipeline.
    async fn cancel(&self, run: &PipelineRun) -> Result<()>;
}
