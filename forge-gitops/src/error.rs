//! The crate error.

use forge_core::Error as CoreError;

/// Everything that can go wrong in forge-gitops.
///
/// Messages name the file and the field path (for pointer and configuration files), the git
/// operation and its stderr (for repository operations), and what to do next. No variant holds
/// a foreign type, and none ever carries a secret value.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[non_exhaustive]
pub enum GitopsError {
    /// A file is not valid YAML.
    #[error("{file}: not valid YAML: {message}")]
    Yaml {
        /// The file (path or name).
        file: String,
        /// The parser's message, with line and column.
        message: String,
    },
    /// A file parsed as YAML but breaks its schema (unknown field, wrong kind, bad value).
    #[error("{file}: {field}: {message}")]
    Invalid {
        /// The file (path or name).
        file: String,
        /// Dotted field path (`spec.aliases.numeric`), or `<root>`.
        field: String,
        /// What is wrong and what is expected.
        message: String,
    },
    /// A git command failed.
    #[error("git {operation} failed: {message}")]
    Git {
        /// The git operation (`fetch`, `push`, `commit-tree`, …).
        operation: String,
        /// git's stderr (trimmed) or the spawn error.
        message: String,
    },
    /// The remote could not be reached after every retry.
    #[error("gitops remote `{remote}` unreachable after {attempts} attempts: {message}")]
    Unreachable {
        /// The remote URL.
        remote: String,
        /// Attempts made.
        attempts: u32,
        /// The last failure.
        message: String,
    },
    /// Concurrent writers kept winning the race; the change was not written.
    #[error("gave up writing `{path}` after {attempts} conflicting attempts; retry the deployment")]
    Conflict {
        /// The file being written.
        path: String,
        /// Attempts made.
        attempts: u32,
    },
    /// A file, revision or release does not exist.
    #[error("{what} not found")]
    NotFound {
        /// What was looked for.
        what: String,
    },
    /// A rollback was asked for but the history holds no earlier release.
    #[error("cannot roll back `{path}`: no previous release in its history")]
    NoPreviousRelease {
        /// The pointer path.
        path: String,
    },
    /// A reference (`<type>/<name>/<field>` …) does not parse.
    #[error("invalid reference `{input}`: {message}")]
    Reference {
        /// The reference as written.
        input: String,
        /// Which rule failed.
        message: String,
    },
    /// A filesystem operation failed.
    #[error("{path}: {message}")]
    Io {
        /// The path.
        path: String,
        /// The OS message.
        message: String,
    },
}

impl GitopsError {
    pub(crate) fn invalid(file: &str, field: &str, message: impl Into<String>) -> Self {
        let field = if field.is_empty() { "<root>".to_owned() } else { field.to_owned() };
        Self::Invalid { file: file.to_owned(), field, message: message.into() }
    }
    pub(crate) fn io(path: impl AsRef<std::path::Path>, e: &std::io::Error) -> Self {
        Self::Io { path: path.as_ref().display().to_string(), message: e.to_string() }
    }
}

const COMPONENT: &str = "gitops";

impl From<GitopsError> for CoreError {
    fn from(e: GitopsError) -> Self {
        match e {
            GitopsError::NotFound { what } => CoreError::NotFound { component: COMPONENT, what },
            GitopsError::Invalid { ref file, ref field, .. } => {
                let field = format!("{file}: {field}");
                CoreError::Validation { component: COMPONENT, field, message: e.to_string() }
            }
            GitopsError::Yaml { ref file, .. } => {
                let field = file.clone();
                CoreError::Validation { component: COMPONENT, field, message: e.to_string() }
            }
            GitopsError::Reference { ref input, .. } => {
                let field = input.clone();
                CoreError::Validation { component: COMPONENT, field, message: e.to_string() }
            }
            GitopsError::Conflict { .. } => CoreError::Conflict { component: COMPONENT, message: e.to_string() },
            GitopsError::NoPreviousRelease { .. } => {
                CoreError::Conflict { component: COMPONENT, message: e.to_string() }
            }
            GitopsError::Unreachable { .. } => {
                CoreError::Transient { component: COMPONENT, message: e.to_string(), source: Some(Box::new(e)) }
            }
            other => {
                CoreError::Other { component: COMPONENT, message: other.to_string(), source: Some(Box::new(other)) }
            }
        }
    }
}

/// Result alias with [`GitopsError`].
pub type Result<T, E = GitopsError> = std::result::Result<T, E>;
