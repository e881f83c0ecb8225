//! The crate error.

use forge_core::ports::{SecretRef, SecretRefError};

/// The component name used in [`forge_core::Error`]s raised by this crate.
pub const COMPONENT: &str = "secrets";

/// Why a secret reference could not be checked or resolved.
///
/// Every variant names the reference (its `Display` is safe to log: it says where the secret
/// is, never what it is) and, where there is one, the provider's own message. No variant ever
/// holds a secret value, and no variant holds a foreign error type.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[non_exhaustive]
pub enum SecretsError {
    /// The reference names a provider nobody registered (a configuration error).
    #[error("secret {reference}: unknown provider `{provider}` (known: {known}){hint}")]
    UnknownProvider {
        /// The reference.
        reference: SecretRef,
        /// The provider it names.
        provider: String,
        /// The registered providers, comma separated.
        known: String,
        /// A "did you mean" hint, empty when there is none.
        hint: String,
    },
    /// A field of the reference breaks its provider's schema (a configuration error).
    #[error("secret {reference}: invalid field `{field}`: {message}")]
    InvalidReference {
        /// The reference.
        reference: SecretRef,
        /// The field path, relative to the reference.
        field: String,
        /// What is wrong and what to do.
        message: String,
    },
    /// The secret does not exist (or not where the reference says: another region, path, …).
    #[error("secret {reference}: not found: {message}")]
    NotFound {
        /// The reference.
        reference: SecretRef,
        /// The provider's message and a hint.
        message: String,
    },
    /// The secret exists but has been scheduled for deletion.
    #[error("secret {reference}: deleted: {message}")]
    Deleted {
        /// The reference.
        reference: SecretRef,
        /// The provider's message.
        message: String,
    },
    /// The `key` the reference picks is not in the secret's document.
    #[error("secret {reference}: key `{key}` not found: {message}")]
    KeyMissing {
        /// The reference.
        reference: SecretRef,
        /// The key (dotted path) asked for.
        key: String,
        /// Which keys exist, or why the key cannot apply.
        message: String,
    },
    /// The reference picks a `key`, but the secret is not a valid JSON (or YAML) document.
    #[error("secret {reference}: malformed {format} document: {message}")]
    Malformed {
        /// The reference.
        reference: SecretRef,
        /// `JSON` or `YAML`.
        format: &'static str,
        /// Where parsing failed (line and column only, never the content).
        message: String,
    },
    /// The caller may not read the secret.
    #[error("secret {reference}: access denied: {message}")]
    AccessDenied {
        /// The reference.
        reference: SecretRef,
        /// The provider's message.
        message: String,
    },
    /// The provider rejected the credentials (missing, invalid or expired).
    #[error("secret {reference}: authentication failed: {message}")]
    Unauthorized {
        /// The reference.
        reference: SecretRef,
        /// The provider's message.
        message: String,
    },
    /// The provider is misconfigured (no region, invalid region, bad endpoint, …).
    #[error("secret {reference}: provider configuration: {message}")]
    Configuration {
        /// The reference.
        reference: SecretRef,
        /// What is wrong and what to do.
        message: String,
    },
    /// A failure worth retrying: timeouts, throttling, network errors, 5xx.
    #[error("secret {reference}: temporarily unavailable: {message}")]
    Transient {
        /// The reference.
        reference: SecretRef,
        /// The provider's message.
        message: String,
    },
    /// Any other provider failure.
    #[error("secret {reference}: {provider} provider failed: {message}")]
    Provider {
        /// The reference.
        reference: SecretRef,
        /// The provider name.
        provider: String,
        /// The provider's message.
        message: String,
    },
}

impl SecretsError {
    /// The reference the error is about.
    pub fn reference(&self) -> &SecretRef {
        match self {
            Self::UnknownProvider { reference, .. }
            | Self::InvalidReference { reference, .. }
            | Self::NotFound { reference, .. }
            | Self::Deleted { reference, .. }
            | Self::KeyMissing { reference, .. }
            | Self::Malformed { reference, .. }
            | Self::AccessDenied { reference, .. }
            | Self::Unauthorized { reference, .. }
            | Self::Configuration { reference, .. }
            | Self::Transient { reference, .. }
            | Self::Provider { reference, .. } => reference,
        }
    }

    /// Whether this is a configuration error (found without resolving anything).
    pub fn is_configuration(&self) -> bool {
        matches!(self, Self::UnknownProvider { .. } | Self::InvalidReference { .. })
    }

    /// The schema error for [`forge_core::ports::SecretRefValidator`], when this is one.
    pub fn to_ref_error(&self) -> Option<SecretRefError> {
        match self {
            Self::UnknownProvider { provider, known, hint, .. } => Some(SecretRefError {
                field: "provider".to_owned(),
                message: format!("unknown provider `{provider}` (known: {known}){hint}"),
            }),
            Self::InvalidReference { field, message, .. } => {
                Some(SecretRefError { field: field.clone(), message: message.clone() })
            }
            _ => None,
        }
    }

    pub(crate) fn invalid(reference: &SecretRef, e: SecretRefError) -> Self {
        Self::InvalidReference { reference: reference.clone(), field: e.field, message: e.message }
    }
}

impl From<SecretsError> for forge_core::Error {
    fn from(e: SecretsError) -> Self {
        use forge_core::Error as E;
        let display = e.to_string();
        match e {
            SecretsError::UnknownProvider { .. } => {
                E::Validation { component: COMPONENT, field: "provider".to_owned(), message: display }
            }
            SecretsError::InvalidReference { field, .. } => {
                E::Validation { component: COMPONENT, field, message: display }
            }
            SecretsError::NotFound { reference, message } | SecretsError::Deleted { reference, message } => {
                E::NotFound { component: COMPONENT, what: format!("secret {reference} ({message})") }
            }
            SecretsError::KeyMissing { reference, key, message } => {
                E::NotFound { component: COMPONENT, what: format!("key `{key}` of secret {reference} ({message})") }
            }
            SecretsError::AccessDenied { .. } => E::PermissionDenied { component: COMPONENT, message: display },
            SecretsError::Unauthorized { .. } => E::Unauthorized { component: COMPONENT, message: display },
            SecretsError::Transient { .. } => {
                E::Transient { component: COMPONENT, message: display.clone(), source: Some(Box::new(e)) }
            }
            SecretsError::Malformed { .. } | SecretsError::Configuration { .. } | SecretsError::Provider { .. } => {
                E::Other { component: COMPONENT, message: display.clone(), source: Some(Box::new(e)) }
            }
        }
    }
}
