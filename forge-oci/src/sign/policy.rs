//! The signature policy the Argo CD plugin enforces.

use std::path::PathBuf;

use forge_core::ports::ImageStore;
use p256::ecdsa::VerifyingKey;

use super::artifact::verify_signature;
use super::error::SignError;
use super::key::{key_id, load_public_keys};
use crate::digest::Digest;

/// The per-application plugin setting (Argo CD prefixes plugin env with `ARGOCD_ENV_`):
/// comma-separated paths of PEM public key files.
pub const ENV_APP_KEYS: &str = "ARGOCD_ENV_FORGE_SIGNATURE_KEYS";
/// The operator setting on the plugin sidecar container: same format; when set it wins over
/// [`ENV_APP_KEYS`], which an Application's author controls.
pub const ENV_SIDECAR_KEYS: &str = "FORGE_SIGNATURE_KEYS";

/// "Serve only images signed by one of these keys."
#[derive(Clone)]
pub struct Policy {
    /// Trusted public keys; a valid signature from any one is enough.
    pub required_keys: Vec<VerifyingKey>,
}

impl std::fmt::Debug for Policy {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        let ids: Vec<String> = self.required_keys.iter().map(key_id).collect();
        f.debug_struct("Policy").field("required_keys", &ids).finish()
    }
}

impl Policy {
    /// A policy from PEM public key files.
    pub fn from_files<P: AsRef<std::path::Path>>(paths: &[P]) -> Result<Self, SignError> {
        let required_keys = load_public_keys(paths)?;
        if required_keys.is_empty() {
            return Err(SignError::NoKeys);
        }
        Ok(Self { required_keys })
    }

    /// A policy from a setting value: comma-separated PEM file paths (blank entries ignored).
    /// `None` when the value lists no path.
    pub fn from_setting(value: &str) -> Result<Option<Self>, SignError> {
        let paths: Vec<PathBuf> =
            value.split(',').map(str::trim).filter(|s| !s.is_empty()).map(PathBuf::from).collect();
        if paths.is_empty() {
            return Ok(None);
        }
        Self::from_files(&paths).map(Some)
    }

    /// The policy configured in the environment: [`ENV_SIDECAR_KEYS`] if set and non-empty,
    /// else [`ENV_APP_KEYS`]; `None` when neither lists a key (no signature required).
    pub fn from_env() -> Result<Option<Self>, SignError> {
        Self::from_lookup(|name| std::env::var(name).ok())
    }

    /// [`Policy::from_env`] over any variable lookup (for tests and embedding).
    pub fn from_lookup(lookup: impl Fn(&str) -> Option<String>) -> Result<Option<Self>, SignError> {
        for name in [ENV_SIDECAR_KEYS, ENV_APP_KEYS] {
            if let Some(v) = lookup(name)
                && let Some(p) = Self::from_setting(&v)?
            {
                return Ok(Some(p));
            }
        }
        Ok(None)
    }

    /// Requires a valid signature of `digest` in `repository` from one of the keys. The
    /// error's `Display` is the one-line reason to print.
    pub async fn enforce(&self, store: &dyn ImageStore, repository: &str, digest: &Digest) -> Result<(), SignError> {
        if self.required_keys.is_empty() {
            return Err(SignError::NoKeys);
        }
        let report = verify_signature(store, repository, digest, &self.required_keys).await?;
        if report.ok {
            return Ok(());
        }
        if !report.signed {
            return Err(SignError::Unsigned {
                repository: repository.to_owned(),
                digest: digest.to_string(),
                tag: report.signature_tag,
            });
        }
        Err(SignError::Untrusted {
            repository: repository.to_owned(),
            digest: digest.to_string(),
            reason: report.reason().unwrap_or_default(),
        })
    }
}
