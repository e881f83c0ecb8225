//! The `env` provider: `{provider: env, name}` reads a variable of the process environment.

use async_trait::async_trait;
use forge_core::ports::{ProviderSchema, SecretProvider, SecretRef, SecretRefError, SecretValue};

use super::{field, required};
use crate::error::SecretsError;

/// Resolves `{provider: env, name}` from the process environment.
///
/// A variable that is set but empty resolves to an empty value; one that is not set is
/// [`SecretsError::NotFound`].
#[derive(Debug, Clone, Copy, Default)]
pub struct EnvProvider;

impl EnvProvider {
    /// The provider name used in references.
    pub const NAME: &'static str = "env";

    /// A new provider.
    pub fn new() -> Self {
        Self
    }

    /// Resolves a reference, with this crate's error.
    pub fn fetch(&self, reference: &SecretRef) -> Result<SecretValue, SecretsError> {
        let name = required(reference, "name")?;
        match std::env::var_os(name) {
            Some(v) => Ok(SecretValue::new(os_bytes(v))),
            None => Err(SecretsError::NotFound {
                reference: reference.clone(),
                message: format!("environment variable `{name}` is not set"),
            }),
        }
    }
}

#[cfg(unix)]
fn os_bytes(v: std::ffi::OsString) -> Vec<u8> {
    std::os::unix::ffi::OsStringExt::into_vec(v)
}

#[cfg(not(unix))]
fn os_bytes(v: std::ffi::OsString) -> Vec<u8> {
    v.to_string_lossy().into_owned().into_bytes()
}

#[async_trait]
impl SecretProvider for EnvProvider {
    fn name(&self) -> &str {
        Self::NAME
    }

    fn schema(&self) -> ProviderSchema {
        ProviderSchema { fields: vec![field("name", true, "the environment variable to read")] }
    }

    fn validate(&self, reference: &SecretRef) -> Result<(), SecretRefError> {
        forge_core::ports::validate_secret_ref(&self.schema(), reference)?;
        match reference.field("name") {
            Some(n) if n.contains('=') || n.contains('\0') => Err(SecretRefError {
                field: "name".to_owned(),
                message: format!("`{n}` is not a valid environment variable name (no `=` or NUL)"),
            }),
            _ => Ok(()),
        }
    }

    async fn resolve(&self, reference: &SecretRef) -> forge_core::Result<SecretValue> {
        tracing::debug!(reference = %reference, "resolving secret from the environment");
        self.fetch(reference).map_err(Into::into)
    }
}
