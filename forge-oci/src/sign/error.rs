//! The signing module's error.

use crate::error::OciError;

/// Component name used when mapping into [`forge_core::Error`].
const COMPONENT: &str = "forge-oci/sign";

/// Everything that can go wrong loading keys, signing or verifying signatures.
///
/// Every message is one line. No variant ever holds private key material, a password or a
/// PEM body: key problems are described by the PEM label and the rule that failed only.
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum SignError {
    /// A private key cannot be used (unsupported format, wrong password, not P-256, …).
    #[error("signing key {what}: {message}")]
    PrivateKey {
        /// Which key (a secret reference or `private key`), never its value.
        what: String,
        /// What is wrong and what to do.
        message: String,
    },
    /// A public key cannot be used.
    #[error("public key {what}: {message}")]
    PublicKey {
        /// Which key (a file path or `public key`).
        what: String,
        /// What is wrong and what to do.
        message: String,
    },
    /// A secret could not be resolved through the secret provider.
    #[error("resolving {what} from {reference}: {message}")]
    Secret {
        /// `signing key` or `signing key password`.
        what: &'static str,
        /// The secret reference (safe to show: where, never what).
        reference: String,
        /// The provider's error (it names the reference, never the value).
        message: String,
    },
    /// Signing failed.
    #[error("signing failed: {message}")]
    Signing {
        /// What went wrong.
        message: String,
    },
    /// A signing input is not acceptable (empty repository, bad `optional` field, …).
    #[error("invalid {field}: {message}")]
    InvalidInput {
        /// The input.
        field: String,
        /// What is wrong.
        message: String,
    },
    /// The image has no signature artifact (no `sha256-<hex>.sig` tag).
    #[error("{repository}@{digest} is not signed (no {tag} signature artifact)")]
    Unsigned {
        /// Repository.
        repository: String,
        /// Manifest digest.
        digest: String,
        /// The signature tag looked for.
        tag: String,
    },
    /// Signatures exist but none is valid for a required key.
    #[error("{repository}@{digest}: no valid signature from a trusted key: {reason}")]
    Untrusted {
        /// Repository.
        repository: String,
        /// Manifest digest.
        digest: String,
        /// Why each signature was refused (one line).
        reason: String,
    },
    /// A policy with no keys cannot be enforced.
    #[error("signature policy has no public keys")]
    NoKeys,
    /// Reading a public key file failed.
    #[error("reading public key {}: {source}", path.display())]
    Io {
        /// The file.
        path: std::path::PathBuf,
        /// The cause.
        #[source]
        source: std::io::Error,
    },
    /// Reading or writing the image store failed.
    #[error(transparent)]
    Oci(#[from] OciError),
}

impl SignError {
    pub(crate) fn private_key(what: impl Into<String>, message: impl Into<String>) -> Self {
        Self::PrivateKey { what: what.into(), message: message.into() }
    }
    pub(crate) fn public_key(what: impl Into<String>, message: impl Into<String>) -> Self {
        Self::PublicKey { what: what.into(), message: message.into() }
    }
    /// Whether the error is a verification verdict (unsigned or untrusted image) rather than
    /// an access or configuration problem.
    pub fn is_verdict(&self) -> bool {
        matches!(self, Self::Unsigned { .. } | Self::Untrusted { .. })
    }
}

impl From<forge_core::Error> for SignError {
    fn from(e: forge_core::Error) -> Self {
        Self::Oci(OciError::Store(e))
    }
}

impl From<SignError> for forge_core::Error {
    fn from(e: SignError) -> Self {
        use forge_core::Error as E;
        match e {
            SignError::Oci(inner) => inner.into(),
            SignError::InvalidInput { field, message } => E::Validation { component: COMPONENT, field, message },
            other => E::Other { component: COMPONENT, message: other.to_string(), source: Some(Box::new(other)) },
        }
    }
}
