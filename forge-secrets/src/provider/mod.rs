//! The built-in providers: `env`, `file` and (feature `aws`) `aws`.

use forge_core::ports::{FieldKind, SchemaField, SecretRef};

use crate::error::SecretsError;

#[cfg(feature = "aws")]
pub(crate) mod aws;
pub(crate) mod env;
pub(crate) mod file;

/// A schema field.
pub(crate) fn field(name: &str, required: bool, description: &str) -> SchemaField {
    SchemaField { name: name.to_owned(), kind: FieldKind::String, required, description: description.to_owned() }
}

/// A required string field of a reference (already schema-checked, but never trusted).
pub(crate) fn required<'a>(reference: &'a SecretRef, name: &str) -> Result<&'a str, SecretsError> {
    match reference.field(name) {
        Some(v) if !v.is_empty() => Ok(v),
        _ => Err(SecretsError::InvalidReference {
            reference: reference.clone(),
            field: name.to_owned(),
            message: "required, as a non-empty string".to_owned(),
        }),
    }
}

/// An optional string field; present but empty or not a string is an error.
pub(crate) fn optional<'a>(reference: &'a SecretRef, name: &str) -> Result<Option<&'a str>, SecretsError> {
    match reference.fields.get(name) {
        None => Ok(None),
        Some(_) => required(reference, name).map(Some),
    }
}
