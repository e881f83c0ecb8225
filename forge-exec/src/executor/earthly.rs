use std::sync::Arc;

use async_trait::async_trait;
use forge_core::ports::{BlobStore, Executor, StepOutcome, StepSpec};
use tokio::process::Command;

use super::{CancelFuture, process};
use crate::error::Error;

/// The command line of an `earthly` step (SPEC §3.5):
/// `earthly --ci ./<project_path>+<target> <args> --secret NAME …`. Secret *names* only; the
/// values go into the child's environment.
///
/// ```
/// # use forge_core::ports::StepSpec;
/// # use forge_core::model::StepAction;
/// let spec = StepSpec {
///     name: "build".into(), action: StepAction::Earthly, target: Some("+build".into()), run: None,
///     shell: String::new(), args: vec!["--VERSION=1".into()], repo_root: "/src".into(),
///     project_path: "services/auth".into(), timeout: None, secrets: Default::default(),
///     log_key: "logs/x".into(),
/// };
/// assert_eq!(
///     forge_exec::executor::earthly_command_line(&spec)?,
///     ["earthly", "--ci", "./services/auth+build", "--VERSION=1"],
/// );
/// # Ok::<(), forge_exec::Error>(())
/// ```
pub fn earthly_command_line(spec: &StepSpec) -> Result<Vec<String>, Error> {
    let target =
        spec.target.as_deref().map(|t| t.trim_start_matches('+')).filter(|t| !t.is_empty()).ok_or_else(|| {
            Error::InvalidStep { step: spec.name.clone(), message: "an earthly step needs a `target`".into() }
        })?;
    let path = spec.project_path.trim_start_matches("./").trim_end_matches('/');
    let qualified = if path.is_empty() || path == "." { format!("./+{target}") } else { format!("./{path}+{target}") };
    let mut line = vec!["earthly".to_owned(), "--ci".to_owned(), qualified];
    line.extend(spec.args.iter().cloned());
    for name in spec.secrets.keys() {
        line.push("--secret".to_owned());
        line.push(name.clone());
    }
    Ok(line)
}

/// Runs `earthly` steps with the real `earthly` from `PATH`, in the repository root.
#[derive(Clone)]
pub struct EarthlyExecutor {
    blobs: Arc<dyn BlobStore>,
    program: String,
}

impl std::fmt::Debug for EarthlyExecutor {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("EarthlyExecutor").field("program", &self.program).finish_non_exhaustive()
    }
}

impl EarthlyExecutor {
    /// Logs to `blobs`; runs `earthly` from `PATH`.
    pub fn new(blobs: Arc<dyn BlobStore>) -> Self {
        Self { blobs, program: "earthly".into() }
    }

    /// Runs another program in place of `earthly` (a wrapper, or a test double).
    pub fn with_program(mut self, program: impl Into<String>) -> Self {
        self.program = program.into();
        self
    }
}

#[async_trait]
impl Executor for EarthlyExecutor {
    async fn run(&self, spec: &StepSpec, cancel: CancelFuture) -> forge_core::Result<StepOutcome> {
        let line = earthly_command_line(spec)?;
        let program = process::find_program(&self.program)
            .ok_or_else(|| Error::ProgramNotFound { program: self.program.clone() })?;
        let mut cmd = Command::new(&program);
        cmd.args(&line[1..]).current_dir(&spec.repo_root);
        process::set_secrets(&mut cmd, spec);
        process::run(cmd, &self.program, spec, self.blobs.clone(), cancel).await
    }
}
