//! The crate error.

use std::path::PathBuf;

use forge_core::BoxError;

/// Component name used when mapping into [`forge_core::Error`].
pub(crate) const COMPONENT: &str = "forge-oci";

/// Everything that can go wrong building, storing, reading or verifying OCI content.
///
/// Variants are semantic so that callers can branch on them; no foreign error type appears in
/// public (causes are boxed). Secret values never appear in any field.
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum OciError {
    /// A builder input breaks a rule (resource name, commit time, …).
    #[error("invalid {field}: {message}")]
    InvalidInput {
        /// The input field (`resources[3].name`, …).
        field: String,
        /// What is wrong and what to do.
        message: String,
    },
    /// A string is not a `sha256:<64 lowercase hex>` digest.
    #[error("invalid digest `{input}`: {reason}")]
    InvalidDigest {
        /// The offending input (truncated).
        input: String,
        /// The rule that failed.
        reason: String,
    },
    /// Content does not hash to the digest that names it.
    #[error("digest mismatch for {what}: expected {expected}, computed {actual}")]
    DigestMismatch {
        /// What was checked (`layer 1`, `manifest`, `resources digest in metadata`, …).
        what: String,
        /// The digest that was recorded.
        expected: String,
        /// The digest of the bytes.
        actual: String,
    },
    /// Content does not have the size its descriptor records.
    #[error("size mismatch for {what}: descriptor says {expected} bytes, got {actual}")]
    SizeMismatch {
        /// What was checked.
        what: String,
        /// The recorded size.
        expected: u64,
        /// The actual size.
        actual: u64,
    },
    /// Content is over a safety limit.
    #[error("{what} exceeds the limit of {limit} ({actual})")]
    LimitExceeded {
        /// Which limit (`manifest size`, `entry count`, …).
        what: String,
        /// The limit.
        limit: u64,
        /// The observed value (at least).
        actual: u64,
    },
    /// A manifest or index that cannot be parsed or breaks the OCI rules.
    #[error("invalid manifest: {message}")]
    InvalidManifest {
        /// What is wrong.
        message: String,
    },
    /// An image that is not the kind expected (wrong artifactType, layer media types or order).
    #[error("not a {expected} image: {message}")]
    WrongImageKind {
        /// The kind expected (`release`, `tracking`).
        expected: &'static str,
        /// What differs.
        message: String,
    },
    /// The release metadata layer cannot be read.
    #[error("invalid release metadata: {message}")]
    InvalidMetadata {
        /// What is wrong.
        message: String,
    },
    /// A tar layer holds an entry that extraction refuses; nothing was written outside the
    /// target.
    #[error("unsafe archive entry `{entry}`: {reason}")]
    UnsafeArchive {
        /// The entry name (lossy UTF-8, truncated).
        entry: String,
        /// Why it was refused.
        reason: String,
    },
    /// A manifest, tag or blob does not exist.
    #[error("{what} not found{}", message.as_deref().map(|m| format!(": {m}")).unwrap_or_default())]
    NotFound {
        /// What was looked for.
        what: String,
        /// The store's message, if any.
        message: Option<String>,
    },
    /// The registry refused the credentials (401).
    #[error("registry {registry}: authentication failed: {message}")]
    Unauthorized {
        /// The registry host.
        registry: String,
        /// The registry's message.
        message: String,
    },
    /// The registry denied access (403).
    #[error("registry {registry}: access denied: {message}")]
    Denied {
        /// The registry host.
        registry: String,
        /// The registry's message.
        message: String,
    },
    /// Any other non-retryable registry answer (400, 405, …).
    #[error("registry {registry}: HTTP {status}: {message}")]
    Registry {
        /// The registry host.
        registry: String,
        /// The HTTP status.
        status: u16,
        /// The registry's message.
        message: String,
    },
    /// A failure that was retried and still failed: timeouts, connection errors, 5xx, 429.
    #[error("registry {registry}: {message} (after {attempts} attempts)")]
    Transient {
        /// The registry host.
        registry: String,
        /// The last failure.
        message: String,
        /// Attempts made.
        attempts: u32,
        /// Cause.
        #[source]
        source: Option<BoxError>,
    },
    /// A local file operation failed.
    #[error("{operation} {}: {source}", path.display())]
    Io {
        /// What was being done (`write blob`, …).
        operation: &'static str,
        /// The path involved.
        path: PathBuf,
        /// The cause.
        #[source]
        source: std::io::Error,
    },
    /// An error from another image store, through the port.
    #[error(transparent)]
    Store(#[from] forge_core::Error),
}

impl OciError {
    pub(crate) fn invalid(field: impl Into<String>, message: impl Into<String>) -> Self {
        Self::InvalidInput { field: field.into(), message: message.into() }
    }
    pub(crate) fn manifest(message: impl Into<String>) -> Self {
        Self::InvalidManifest { message: message.into() }
    }
    pub(crate) fn unsafe_entry(entry: impl AsRef<[u8]>, reason: impl Into<String>) -> Self {
        let e = String::from_utf8_lossy(entry.as_ref());
        Self::UnsafeArchive { entry: truncate(&e, 200), reason: reason.into() }
    }
    pub(crate) fn io(operation: &'static str, path: impl Into<PathBuf>, source: std::io::Error) -> Self {
        Self::Io { operation, path: path.into(), source }
    }

    /// Whether retrying could help (SPEC §10).
    pub fn is_transient(&self) -> bool {
        match self {
            Self::Transient { .. } => true,
            Self::Store(e) => e.class() == forge_core::ErrorClass::Transient,
            _ => false,
        }
    }
}

pub(crate) fn truncate(s: &str, max: usize) -> String {
    if s.len() <= max {
        return s.to_owned();
    }
    let mut end = max;
    while !s.is_char_boundary(end) {
        end -= 1;
    }
    format!("{}…", &s[..end])
}

impl From<OciError> for forge_core::Error {
    fn from(e: OciError) -> Self {
        use forge_core::Error as E;
        match e {
            OciError::Store(inner) => inner,
            OciError::NotFound { what, message } => E::NotFound {
                component: COMPONENT,
                what: match message {
                    Some(m) => format!("{what} ({m})"),
                    None => what,
                },
            },
            OciError::Unauthorized { registry, message } => {
                E::Unauthorized { component: COMPONENT, message: format!("registry {registry}: {message}") }
            }
            OciError::Denied { registry, message } => {
                E::PermissionDenied { component: COMPONENT, message: format!("registry {registry}: {message}") }
            }
            OciError::InvalidInput { ref field, ref message } => {
                E::Validation { component: COMPONENT, field: field.clone(), message: message.clone() }
            }
            OciError::InvalidDigest { ref input, ref reason } => {
                E::Validation { component: COMPONENT, field: "digest".into(), message: format!("`{input}`: {reason}") }
            }
            OciError::Transient { .. } => {
                E::Transient { component: COMPONENT, message: e.to_string(), source: Some(Box::new(e)) }
            }
            other => E::Other { component: COMPONENT, message: other.to_string(), source: Some(Box::new(other)) },
        }
    }
}

/// Result alias with [`OciError`].
pub type Result<T, E = OciError> = std::result::Result<T, E>;
