use std::sync::Arc;

use async_trait::async_trait;
use forge_core::ports::{BlobStore, Executor, StepOutcome, StepSpec};
use tokio::process::Command;

use super::{CancelFuture, process};
use crate::error::Error;

/// Runs a `script` step: `<shell> -c <run>` in the project directory.
#[derive(Clone)]
pub struct ScriptExecutor {
    blobs: Arc<dyn BlobStore>,
}

impl std::fmt::Debug for ScriptExecutor {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("ScriptExecutor").finish_non_exhaustive()
    }
}

impl ScriptExecutor {
    /// Logs to `blobs`.
    pub fn new(blobs: Arc<dyn BlobStore>) -> Self {
        Self { blobs }
    }
}

#[async_trait]
impl Executor for ScriptExecutor {
    async fn run(&self, spec: &StepSpec, cancel: CancelFuture) -> forge_core::Result<StepOutcome> {
        let run = spec.run.as_deref().ok_or_else(|| Error::InvalidStep {
            step: spec.name.clone(),
            message: "a script step needs `run`".into(),
        })?;
        let shell = if spec.shell.is_empty() { "sh" } else { spec.shell.as_str() };
        let dir = spec.repo_root.join(&spec.project_path);
        let mut cmd = Command::new(shell);
        cmd.arg("-c").arg(run).args(&spec.args).current_dir(&dir);
        process::set_secrets(&mut cmd, spec);
        process::run(cmd, shell, spec, self.blobs.clone(), cancel).await
    }
}
