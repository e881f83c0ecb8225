//! Errors of the composition function library.

use thiserror::Error;

/// Why a composition could not be produced.
#[derive(Debug, Error)]
pub enum FunctionError {
    /// A value that must be a JSON object was something else.
    #[error("expected an object, found {what}")]
    NotAnObject {
        /// The JSON type found.
        what: String,
    },
    /// The composite resource or an EnvironmentConfig is malformed.
    #[error("{what}: {message}")]
    Invalid {
        /// The object and field, e.g. `Deployment/api spec.image`.
        what: String,
        /// What is wrong.
        message: String,
    },
    /// The function refused to compose; each entry explains one refusal.
    #[error("composition refused: {}", .0.join("; "))]
    Refused(Vec<String>),
    /// The gRPC server failed.
    #[error("gRPC server: {0}")]
    Transport(#[from] tonic::transport::Error),
    /// Binding or reading the listen socket failed.
    #[error("listen on {addr}: {source}")]
    Listen {
        /// The address.
        addr: String,
        /// The I/O error.
        source: std::io::Error,
    },
}

impl FunctionError {
    pub(crate) fn invalid(what: impl Into<String>, message: impl Into<String>) -> Self {
        Self::Invalid { what: what.into(), message: message.into() }
    }
}
