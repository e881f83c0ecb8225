//! The `file` provider: `{provider: file, path, key?}` reads a file, or one field of a JSON or
//! YAML file.

use std::io::ErrorKind;
use std::path::{Path, PathBuf};

use async_trait::async_trait;
use forge_core::ports::{ProviderSchema, SecretProvider, SecretRef, SecretValue};
use zeroize::Zeroizing;

use super::{field, optional, required};
use crate::document::{Format, pick_key};
use crate::error::SecretsError;

/// Resolves `{provider: file, path, key?}` from the local file system.
///
/// Without `key` the value is the file's exact bytes (a trailing newline is kept). With `key`
/// the file is parsed (JSON when it ends in `.json` or starts with `{` or `[`, YAML otherwise)
/// and the field at `key` (a top-level key or a dotted path) is the value. Relative paths are
/// resolved against the base directory, when one is set, else the working directory.
#[derive(Debug, Clone, Default)]
pub struct FileProvider {
    base_dir: Option<PathBuf>,
}

impl FileProvider {
    /// The provider name used in references.
    pub const NAME: &'static str = "file";

    /// A provider resolving relative paths against the working directory.
    pub fn new() -> Self {
        Self::default()
    }

    /// A provider resolving relative paths against `dir` (a repository root, say).
    pub fn with_base_dir(dir: impl Into<PathBuf>) -> Self {
        Self { base_dir: Some(dir.into()) }
    }

    /// Resolves a reference, with this crate's error.
    pub async fn fetch(&self, reference: &SecretRef) -> Result<SecretValue, SecretsError> {
        let path = required(reference, "path")?;
        let key = optional(reference, "key")?;
        let full = self.full_path(Path::new(path));
        let bytes = Zeroizing::new(tokio::fs::read(&full).await.map_err(|e| {
            let message = format!("cannot read `{}`: {}", full.display(), io_message(&e));
            match e.kind() {
                ErrorKind::NotFound => SecretsError::NotFound { reference: reference.clone(), message },
                ErrorKind::PermissionDenied => SecretsError::AccessDenied { reference: reference.clone(), message },
                _ => SecretsError::Provider { reference: reference.clone(), provider: Self::NAME.to_owned(), message },
            }
        })?);
        match key {
            None => Ok(SecretValue::new(bytes.to_vec())),
            Some(key) => pick_key(reference, &bytes, format_of(&full, &bytes), key),
        }
    }

    fn full_path(&self, path: &Path) -> PathBuf {
        match &self.base_dir {
            Some(base) if path.is_relative() => base.join(path),
            _ => path.to_path_buf(),
        }
    }
}

/// The OS message of an I/O error (`No such file or directory`), without the error's Debug.
fn io_message(e: &std::io::Error) -> String {
    match e.kind() {
        ErrorKind::NotFound => "no such file".to_owned(),
        ErrorKind::PermissionDenied => "permission denied".to_owned(),
        _ => e.to_string(),
    }
}

fn format_of(path: &Path, bytes: &[u8]) -> Format {
    let ext = path.extension().and_then(|e| e.to_str()).map(str::to_ascii_lowercase);
    match ext.as_deref() {
        Some("json") => Format::Json,
        Some("yaml" | "yml") => Format::Yaml,
        _ => match bytes.iter().find(|b| !b.is_ascii_whitespace()) {
            Some(b'{' | b'[') => Format::Json,
            _ => Format::Yaml,
        },
    }
}

#[async_trait]
impl SecretProvider for FileProvider {
    fn name(&self) -> &str {
        Self::NAME
    }

    fn schema(&self) -> ProviderSchema {
        ProviderSchema {
            fields: vec![
                field("path", true, "the file to read; relative paths start at the base directory"),
                field("key", false, "a field of a JSON or YAML file; a dotted path such as `db.password`"),
            ],
        }
    }

    async fn resolve(&self, reference: &SecretRef) -> forge_core::Result<SecretValue> {
        tracing::debug!(reference = %reference, "resolving secret from a file");
        self.fetch(reference).await.map_err(Into::into)
    }
}
