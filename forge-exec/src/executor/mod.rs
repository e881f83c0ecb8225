//! Executors (SPEC §3.5): [`ScriptExecutor`], [`EarthlyExecutor`] and [`ActionExecutor`], which
//! picks one by the step's action. All stream the child's output to the blob store under the
//! step's log key, record the exit code, enforce the step timeout, and on cancellation kill
//! the child's whole process group.

use std::pin::Pin;
use std::sync::Arc;

use async_trait::async_trait;
use forge_core::model::StepAction;
use forge_core::ports::{BlobStore, Executor, StepOutcome, StepSpec};

mod earthly;
mod process;
mod script;

pub use earthly::{EarthlyExecutor, earthly_command_line};
pub use process::find_program;
pub use script::ScriptExecutor;

/// A cancellation signal as the [`Executor`] port takes it.
pub type CancelFuture = Pin<Box<dyn std::future::Future<Output = ()> + Send>>;

/// Runs `script` steps with [`ScriptExecutor`] and `earthly` steps with [`EarthlyExecutor`].
#[derive(Clone)]
pub struct ActionExecutor {
    script: ScriptExecutor,
    earthly: EarthlyExecutor,
}

impl std::fmt::Debug for ActionExecutor {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("ActionExecutor").finish_non_exhaustive()
    }
}

impl ActionExecutor {
    /// Both executors, logging to `blobs`.
    pub fn new(blobs: Arc<dyn BlobStore>) -> Self {
        Self { script: ScriptExecutor::new(blobs.clone()), earthly: EarthlyExecutor::new(blobs) }
    }
}

#[async_trait]
impl Executor for ActionExecutor {
    async fn run(&self, spec: &StepSpec, cancel: CancelFuture) -> forge_core::Result<StepOutcome> {
        match spec.action {
            StepAction::Script => self.script.run(spec, cancel).await,
            StepAction::Earthly => self.earthly.run(spec, cancel).await,
        }
    }
}
