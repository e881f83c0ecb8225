//! Secret references in configuration (SPEC §7), validated through the
//! [`SecretRefValidator`] port.

use forge_core::ports::{SecretRef, SecretRefValidator};

use super::decode::{Decoder, join};
use crate::error::ConfigError;
use crate::suggest;
use crate::tree::Node;

/// Decodes `{provider, ...fields}` and validates it; `allow_env` admits the step-only `env`
/// field (the environment variable the value is exposed as).
pub(crate) fn secret_ref(
    d: &mut Decoder<'_>,
    node: &Node,
    path: &str,
    validator: &dyn SecretRefValidator,
    allow_env: bool,
) -> Option<SecretRef> {
    let fields = d.fields(node, path)?;
    let provider = match node.get("provider") {
        None => {
            d.missing(node, path, "provider", "a provider name such as \"aws\", \"env\" or \"file\"");
            return None;
        }
        Some(p) => d.string(p, &join(path, "provider"))?,
    };
    let mut map = std::collections::BTreeMap::new();
    for (k, v) in fields {
        if k == "provider" {
            continue;
        }
        if k == "env" && !allow_env {
            d.error(v, &join(path, k), "`env` is only allowed in a step's secrets");
            continue;
        }
        match v.to_json() {
            Some(j) => {
                map.insert(k.clone(), j);
            }
            None => {
                d.mismatch(v, &join(path, k), "a concrete value");
                return None;
            }
        }
    }
    if allow_env && let Some(env) = node.get("env") {
        let ep = join(path, "env");
        if let Some(name) = d.string(env, &ep)
            && !is_env_name(&name)
        {
            d.errors.push(
                ConfigError::new(format!("`{name}` is not an environment variable name"))
                    .expected_found("[A-Za-z_][A-Za-z0-9_]*", format!("{name:?}"))
                    .at_field(ep)
                    .at(d.doc, env.span),
            );
        }
    }
    let r = SecretRef { provider, fields: map };
    if let Err(e) = validator.validate(&r) {
        let at = node.get(&e.field).unwrap_or(node);
        let field = if e.field.is_empty() { path.to_owned() } else { join(path, &e.field) };
        // A required field reported missing may be misspelt among the fields present.
        let hint = if node.get(&e.field).is_none() {
            fields
                .iter()
                .map(|(k, _)| k.as_str())
                .find(|k| suggest::did_you_mean(k, [e.field.as_str()]).is_some())
                .map(|k| format!("`{k}` is not a field of provider `{}`; did you mean `{}`?", r.provider, e.field))
        } else {
            None
        };
        d.errors.push(
            ConfigError::new(format!("invalid secret reference: {}", e.message))
                .at_field(field)
                .at(d.doc, at.span)
                .maybe_hint(hint),
        );
        return None;
    }
    Some(r)
}

fn is_env_name(s: &str) -> bool {
    let mut c = s.chars();
    c.next().is_some_and(|f| f.is_ascii_alphabetic() || f == '_') && c.all(|x| x.is_ascii_alphanumeric() || x == '_')
}

/// A [`SecretRefValidator`] from provider schemas alone (no adapters): what the CLI uses to
/// check references when loading configuration. [`SchemaValidator::builtin`] knows the
/// providers of SPEC §7 (`aws`, `env`, `file`); add extension providers with
/// [`SchemaValidator::with_provider`]. A provider registry of `forge-secrets` is another
/// implementation of the same port.
#[derive(Debug, Clone, Default)]
pub struct SchemaValidator {
    providers: std::collections::BTreeMap<String, forge_core::ports::ProviderSchema>,
}

impl SchemaValidator {
    /// The built-in providers: `aws {secretName, region?, key?}`, `env {name}`, `file {path, key?}`.
    pub fn builtin() -> Self {
        use forge_core::ports::{FieldKind, ProviderSchema, SchemaField};
        let f = |name: &str, required: bool, description: &str| SchemaField {
            name: name.into(),
            kind: FieldKind::String,
            required,
            description: description.into(),
        };
        Self::default()
            .with_provider(
                "aws",
                ProviderSchema {
                    fields: vec![
                        f("secretName", true, "name or ARN of the AWS Secrets Manager secret"),
                        f("region", false, "AWS region"),
                        f("key", false, "field of a JSON secret"),
                    ],
                },
            )
            .with_provider("env", ProviderSchema { fields: vec![f("name", true, "environment variable")] })
            .with_provider(
                "file",
                ProviderSchema { fields: vec![f("path", true, "file path"), f("key", false, "field of a JSON file")] },
            )
    }

    /// Adds (or replaces) a provider's schema.
    pub fn with_provider(mut self, name: impl Into<String>, schema: forge_core::ports::ProviderSchema) -> Self {
        self.providers.insert(name.into(), schema);
        self
    }
}

impl SecretRefValidator for SchemaValidator {
    fn validate(&self, reference: &SecretRef) -> Result<(), forge_core::ports::SecretRefError> {
        match self.providers.get(&reference.provider) {
            Some(schema) => forge_core::ports::validate_secret_ref(schema, reference),
            None => {
                let known: Vec<&str> = self.providers.keys().map(String::as_str).collect();
                let hint = crate::suggest::hint(&reference.provider, known.iter().copied())
                    .map(|h| format!("; {h}"))
                    .unwrap_or_default();
                Err(forge_core::ports::SecretRefError {
                    field: "provider".into(),
                    message: format!("unknown provider `{}` (known: {}){hint}", reference.provider, known.join(", ")),
                })
            }
        }
    }
}
