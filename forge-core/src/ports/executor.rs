use std::collections::BTreeMap;
use std::path::PathBuf;
use std::time::Duration;

use async_trait::async_trait;

use crate::Result;
use crate::model::StepAction;
use crate::ports::SecretValue;

/// Everything needed to run one step.
#[derive(Debug, Clone)]
pub struct StepSpec {
    /// Step name.
    pub name: String,
    /// Action.
    pub action: StepAction,
    /// Earthly target (`+build`).
    pub target: Option<String>,
    /// Script text.
    pub run: Option<String>,
    /// Shell for scripts.
    pub shell: String,
    /// Extra arguments.
    pub args: Vec<String>,
    /// Repository root on disk.
    pub repo_root: PathBuf,
    /// Project directory relative to the root.
    pub project_path: String,
    /// Timeout.
    pub timeout: Option<Duration>,
    /// Resolved secrets: environment variable name → value (child environment only).
    pub secrets: BTreeMap<String, SecretValue>,
    /// Blob-store key for the log.
    pub log_key: String,
}

/// How a step ended.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct StepOutcome {
    /// Exit code (`None` when killed or never started).
    pub exit_code: Option<i32>,
    /// Whether it timed out.
    pub timed_out: bool,
    /// Whether it was cancelled.
    pub cancelled: bool,
}

impl StepOutcome {
    /// Whether the step succeeded.
    pub fn success(&self) -> bool {
        self.exit_code == Some(0) && !self.timed_out && !self.cancelled
    }
}

/// Runs steps (`script`, `earthly`).
#[async_trait]
pub trait Executor: Send + Sync {
    /// Runs a step to completion, streaming its log to the blob store; `cancel` resolving
    /// stops it (killing the whole process tree).
    async fn run(
        &self,
        spec: &StepSpec,
        cancel: std::pin::Pin<Box<dyn std::future::Future<Output = ()> + Send>>,
    ) -> Result<StepOutcome>;
}
