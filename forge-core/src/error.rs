//! The crate error, error codes and classes (SPEC §9, §10).
//!
//! Ports return [`Error`]: semantic variants callers can branch on, each carrying the
//! component that raised it and enough context to act, never a foreign error type in public
//! (adapters box their cause). Secret values must never be put into any field.

use std::fmt;

use serde::{Deserialize, Serialize};

/// A boxed cause, kept for the error chain.
pub type BoxError = Box<dyn std::error::Error + Send + Sync + 'static>;

/// Whether an error is worth retrying (SPEC §10).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum ErrorClass {
    /// Timeouts, 5xx, 429, visibility expiry: retried with backoff.
    Transient,
    /// 400, 401, 403, 404, validation: fail at once.
    Persistent,
}

/// The API error codes of SPEC §9, with their HTTP status.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum ErrorCode {
    /// 401.
    AuthenticationRequired,
    /// 403.
    PermissionDenied,
    /// 404.
    NotFound,
    /// 409.
    Conflict,
    /// 422.
    ValidationError,
    /// 429.
    RateLimited,
    /// 500.
    InternalError,
}

impl ErrorCode {
    /// The HTTP status code for this error code.
    pub fn http_status(self) -> u16 {
        match self {
            Self::AuthenticationRequired => 401,
            Self::PermissionDenied => 403,
            Self::NotFound => 404,
            Self::Conflict => 409,
            Self::ValidationError => 422,
            Self::RateLimited => 429,
            Self::InternalError => 500,
        }
    }
    /// The wire name (`not_found`, …).
    pub fn as_str(self) -> &'static str {
        match self {
            Self::AuthenticationRequired => "authentication_required",
            Self::PermissionDenied => "permission_denied",
            Self::NotFound => "not_found",
            Self::Conflict => "conflict",
            Self::ValidationError => "validation_error",
            Self::RateLimited => "rate_limited",
            Self::InternalError => "internal_error",
        }
    }
}

impl fmt::Display for ErrorCode {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

/// Classifies an HTTP status per SPEC §10: 408, 429 and 5xx are transient, everything else
/// persistent.
pub fn classify_http_status(status: u16) -> ErrorClass {
    match status {
        408 | 429 | 500..=599 => ErrorClass::Transient,
        _ => ErrorClass::Persistent,
    }
}

/// The error every port returns.
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum Error {
    /// The thing asked for does not exist.
    #[error("{component}: {what} not found")]
    NotFound {
        /// Component that looked.
        component: &'static str,
        /// What was looked for (a reference, an id — never a secret value).
        what: String,
    },
    /// Creating something that exists already.
    #[error("{component}: {what} already exists")]
    AlreadyExists {
        /// Component.
        component: &'static str,
        /// What exists.
        what: String,
    },
    /// A concurrent modification or a state conflict.
    #[error("{component}: conflict: {message}")]
    Conflict {
        /// Component.
        component: &'static str,
        /// What conflicted.
        message: String,
    },
    /// Missing or invalid credentials.
    #[error("{component}: authentication failed: {message}")]
    Unauthorized {
        /// Component.
        component: &'static str,
        /// Why.
        message: String,
    },
    /// Authenticated but not allowed.
    #[error("{component}: permission denied: {message}")]
    PermissionDenied {
        /// Component.
        component: &'static str,
        /// Which rule refused.
        message: String,
    },
    /// Input that breaks a rule.
    #[error("{component}: invalid {field}: {message}")]
    Validation {
        /// Component.
        component: &'static str,
        /// The field path.
        field: String,
        /// What is wrong and what to do.
        message: String,
    },
    /// A failure worth retrying (timeouts, 5xx, 429).
    #[error("{component}: {message}")]
    Transient {
        /// Component.
        component: &'static str,
        /// Context.
        message: String,
        /// Cause.
        #[source]
        source: Option<BoxError>,
    },
    /// Any other failure; not retried.
    #[error("{component}: {message}")]
    Other {
        /// Component.
        component: &'static str,
        /// Context.
        message: String,
        /// Cause.
        #[source]
        source: Option<BoxError>,
    },
}

impl Error {
    /// A transient error with a cause.
    pub fn transient(component: &'static str, message: impl Into<String>, source: impl Into<BoxError>) -> Self {
        Self::Transient { component, message: message.into(), source: Some(source.into()) }
    }
    /// A persistent error with a cause.
    pub fn other(component: &'static str, message: impl Into<String>, source: impl Into<BoxError>) -> Self {
        Self::Other { component, message: message.into(), source: Some(source.into()) }
    }
    /// A persistent error without a cause.
    pub fn msg(component: &'static str, message: impl Into<String>) -> Self {
        Self::Other { component, message: message.into(), source: None }
    }
    /// The retry class (SPEC §10).
    pub fn class(&self) -> ErrorClass {
        match self {
            Self::Transient { .. } => ErrorClass::Transient,
            _ => ErrorClass::Persistent,
        }
    }
    /// The API error code this error maps to.
    pub fn code(&self) -> ErrorCode {
        match self {
            Self::NotFound { .. } => ErrorCode::NotFound,
            Self::AlreadyExists { .. } | Self::Conflict { .. } => ErrorCode::Conflict,
            Self::Unauthorized { .. } => ErrorCode::AuthenticationRequired,
            Self::PermissionDenied { .. } => ErrorCode::PermissionDenied,
            Self::Validation { .. } => ErrorCode::ValidationError,
            Self::Transient { .. } | Self::Other { .. } => ErrorCode::InternalError,
        }
    }
    /// The component that raised the error.
    pub fn component(&self) -> &'static str {
        match self {
            Self::NotFound { component, .. }
            | Self::AlreadyExists { component, .. }
            | Self::Conflict { component, .. }
            | Self::Unauthorized { component, .. }
            | Self::PermissionDenied { component, .. }
            | Self::Validation { component, .. }
            | Self::Transient { component, .. }
            | Self::Other { component, .. } => component,
        }
    }
}

/// Result alias with the core [`Error`].
pub type Result<T, E = Error> = std::result::Result<T, E>;
