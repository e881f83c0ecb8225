//! The crate error.

use std::path::PathBuf;
use std::time::Duration;

/// A boxed cause.
pub type BoxError = Box<dyn std::error::Error + Send + Sync + 'static>;

/// Errors raised by forge-exec's queues, executors, repository cache, scheduler and worker.
///
/// Messages name the input that was refused and, where it helps, what to do next. Secret
/// values never appear in any field.
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum Error {
    /// A filesystem operation failed.
    #[error("{context}: {path}: {source}")]
    Io {
        /// What was being done.
        context: &'static str,
        /// The path involved.
        path: PathBuf,
        /// The cause.
        #[source]
        source: std::io::Error,
    },
    /// A blob key that could escape the store root or is empty.
    #[error("invalid blob key {key:?}: {reason}; use a relative path of plain segments like `results/<job>.json`")]
    InvalidKey {
        /// The refused key.
        key: String,
        /// Why.
        reason: &'static str,
    },
    /// A git command failed.
    #[error("git {args} failed (exit {code:?}): {stderr}")]
    Git {
        /// The arguments, space-joined.
        args: String,
        /// Exit code.
        code: Option<i32>,
        /// Trimmed standard error.
        stderr: String,
    },
    /// A required program is not installed.
    #[error("`{program}` was not found on PATH; install it or use a `script` step instead")]
    ProgramNotFound {
        /// The program.
        program: String,
    },
    /// A step definition is incomplete.
    #[error("step {step:?}: {message}")]
    InvalidStep {
        /// Step name.
        step: String,
        /// What is missing.
        message: String,
    },
    /// A child process could not be started or awaited.
    #[error("process {program:?}: {source}")]
    Process {
        /// The program.
        program: String,
        /// The cause.
        #[source]
        source: std::io::Error,
    },
    /// A queue adapter failed.
    #[error("queue ({adapter}): {message}")]
    Queue {
        /// Adapter name (`embedded`, `sqs`).
        adapter: &'static str,
        /// Context.
        message: String,
        /// Whether retrying may help.
        transient: bool,
        /// Cause.
        #[source]
        source: Option<BoxError>,
    },
    /// A job could not be handled.
    #[error("job {job_id}: {message}")]
    Job {
        /// Job id.
        job_id: uuid::Uuid,
        /// What went wrong.
        message: String,
    },
    /// Something ran longer than allowed.
    #[error("{what} timed out after {after:?}")]
    Timeout {
        /// What.
        what: String,
        /// Limit.
        after: Duration,
    },
    /// A JSON document could not be encoded or decoded.
    #[error("{context}: {source}")]
    Json {
        /// What was being read or written.
        context: String,
        /// The cause.
        #[source]
        source: serde_json::Error,
    },
    /// An error from a port (blob store, queue, executor, discoverer).
    #[error(transparent)]
    Port(#[from] forge_core::Error),
}

impl Error {
    pub(crate) fn io(context: &'static str, path: impl Into<PathBuf>, source: std::io::Error) -> Self {
        Self::Io { context, path: path.into(), source }
    }

    /// Whether retrying the operation may succeed (SPEC §10).
    pub fn is_transient(&self) -> bool {
        match self {
            Self::Queue { transient, .. } => *transient,
            Self::Timeout { .. } => true,
            Self::Port(e) => e.class() == forge_core::ErrorClass::Transient,
            _ => false,
        }
    }
}

impl From<Error> for forge_core::Error {
    fn from(e: Error) -> Self {
        match e {
            Error::Port(inner) => inner,
            Error::Io { ref source, .. } if source.kind() == std::io::ErrorKind::NotFound => {
                forge_core::Error::NotFound { component: "forge-exec", what: e.to_string() }
            }
            Error::InvalidKey { ref key, .. } => {
                let field = format!("blob key {key:?}");
                forge_core::Error::Validation { component: "forge-exec", field, message: e.to_string() }
            }
            other if other.is_transient() => forge_core::Error::Transient {
                component: "forge-exec",
                message: other.to_string(),
                source: Some(Box::new(other)),
            },
            other => forge_core::Error::Other {
                component: "forge-exec",
                message: other.to_string(),
                source: Some(Box::new(other)),
            },
        }
    }
}

/// Result alias with the crate [`Error`].
pub type Result<T, E = Error> = std::result::Result<T, E>;
