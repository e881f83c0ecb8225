use std::collections::BTreeMap;
use std::fmt;

use async_trait::async_trait;
use serde::{Deserialize, Serialize};
use zeroize::{Zeroize, ZeroizeOnDrop};

use crate::Result;

/// A reference to a secret (SPEC §7): `{provider, ...provider fields}`. Safe to log: it holds
/// where the secret is, never its value.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct SecretRef {
    /// Provider name (`aws`, `env`, `file`, …).
    pub provider: String,
    /// Provider-specific fields.
    #[serde(flatten)]
    pub fields: BTreeMap<String, serde_json::Value>,
}

impl SecretRef {
    /// A string field of the reference.
    pub fn field(&self, name: &str) -> Option<&str> {
        self.fields.get(name).and_then(|v| v.as_str())
    }
}

impl fmt::Display for SecretRef {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{}(", self.provider)?;
        for (i, (k, v)) in self.fields.iter().enumerate() {
            let sep = if i == 0 { "" } else { ", " };
            match v.as_str() {
                Some(s) => write!(f, "{sep}{k}={s}")?,
                None => write!(f, "{sep}{k}={v}")?,
            }
        }
        f.write_str(")")
    }
}

/// A secret value: redacted in `Debug`, `Display` and serde, zeroed on drop, readable only
/// through [`SecretValue::expose`].
#[derive(Clone, Zeroize, ZeroizeOnDrop)]
pub struct SecretValue(Vec<u8>);

impl SecretValue {
    /// Wraps bytes.
    pub fn new(bytes: Vec<u8>) -> Self {
        Self(bytes)
    }
    /// Wraps a string.
    pub fn from_string(s: String) -> Self {
        Self(s.into_bytes())
    }
    /// The secret bytes. Call only at the point of use.
    pub fn expose(&self) -> &[u8] {
        &self.0
    }
    /// The secret as UTF-8, if it is.
    pub fn expose_str(&self) -> Option<&str> {
        std::str::from_utf8(&self.0).ok()
    }
}

impl fmt::Debug for SecretValue {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("SecretValue(<redacted>)")
    }
}
impl fmt::Display for SecretValue {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("<redacted>")
    }
}
impl Serialize for SecretValue {
    fn serialize<S: serde::Serializer>(&self, s: S) -> std::result::Result<S::Ok, S::Error> {
        s.serialize_str("<redacted>")
    }
}

/// The kind of a field in a provider's schema.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum FieldKind {
    /// A string.
    String,
    /// A boolean.
    Bool,
}

/// One field of a provider's reference schema.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct SchemaField {
    /// Field name.
    pub name: String,
    /// Kind.
    pub kind: FieldKind,
    /// Whether it must be present.
    pub required: bool,
    /// What it is for (shown in errors).
    pub description: String,
}

/// The fields a provider accepts in a [`SecretRef`].
#[derive(Debug, Clone, PartialEq, Eq, Default, Serialize, Deserialize)]
pub struct ProviderSchema {
    /// The fields. Fields not listed are rejected, except `env` (used by steps to name the
    /// environment variable) and `provider`.
    pub fields: Vec<SchemaField>,
}

/// Why a reference does not fit its provider's schema.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error, Serialize, Deserialize)]
#[error("secret reference field `{field}`: {message}")]
pub struct SecretRefError {
    /// The field (relative to the reference).
    pub field: String,
    /// What is wrong and what to do.
    pub message: String,
}

/// Validates a reference against a schema (pure; shared by every provider and by
/// configuration loading).
pub fn validate_secret_ref(schema: &ProviderSchema, r: &SecretRef) -> std::result::Result<(), SecretRefError> {
    for f in &schema.fields {
        match r.fields.get(&f.name) {
            None if f.required => {
                return Err(SecretRefError {
                    field: f.name.clone(),
                    message: format!("required by provider `{}` ({})", r.provider, f.description),
                });
            }
            None => {}
            Some(v) => {
                let ok = match f.kind {
                    FieldKind::String => v.as_str().is_some_and(|s| !s.is_empty()),
                    FieldKind::Bool => v.is_boolean(),
                };
                if !ok {
                    let want = match f.kind {
                        FieldKind::String => "a non-empty string",
                        FieldKind::Bool => "a boolean",
                    };
                    return Err(SecretRefError {
                        field: f.name.clone(),
                        message: format!("expected {want}, found {v}"),
                    });
                }
            }
        }
    }
    for k in r.fields.keys() {
        if k != "env" && !schema.fields.iter().any(|f| &f.name == k) {
            let known: Vec<&str> = schema.fields.iter().map(|f| f.name.as_str()).collect();
            return Err(SecretRefError {
                field: k.clone(),
                message: format!("unknown field for provider `{}` (known: {})", r.provider, known.join(", ")),
            });
        }
    }
    Ok(())
}

/// Resolves secret references of one provider (SPEC §7).
#[async_trait]
pub trait SecretProvider: Send + Sync {
    /// The provider name used in references (`aws`, `env`, `file`).
    fn name(&self) -> &str;
    /// The schema of its reference fields.
    fn schema(&self) -> ProviderSchema;
    /// Checks a reference without resolving it. The default checks it against
    /// [`SecretProvider::schema`]; providers may add rules of their own (a region's shape, …).
    fn validate(&self, reference: &SecretRef) -> std::result::Result<(), SecretRefError> {
        validate_secret_ref(&self.schema(), reference)
    }
    /// Resolves a reference. Errors name the reference, never the value.
    async fn resolve(&self, reference: &SecretRef) -> Result<SecretValue>;
}

/// Validates references against provider schemas without resolving them: the port
/// configuration loading uses, so it does not depend on any provider's adapter.
pub trait SecretRefValidator: Send + Sync {
    /// Checks one reference; unknown providers and bad fields are errors.
    fn validate(&self, reference: &SecretRef) -> std::result::Result<(), SecretRefError>;
}
