//! Secret references in configuration (SPEC §7), validated through the
//! [`SecretRefValidator`] port.

use forge_core::ports::secret::{SecretRef, SecretRefValidator};

use super::decode::{Decoder, join};
use crate::error::ConfigError;
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
    if allow_env
        && let Some(env) = node.get("env")
    {
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
        d.errors.push(ConfigError::new(format!("invalid secret reference: {}", e.message)).at_field(field).at(d.doc, at.span));
        return None;
    }
    Some(r)
}

fn is_env_name(s: &str) -> bool {
    let mut c = s.chars();
    c.next().is_some_and(|f| f.is_ascii_alphabetic() || f == '_') && c.all(|x| x.is_ascii_alphanumeric() || x == '_')
}
