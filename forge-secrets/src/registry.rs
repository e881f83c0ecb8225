//! The provider registry: provider name → `Arc<dyn SecretProvider>`.

use std::collections::BTreeMap;
use std::fmt;
use std::sync::Arc;
use std::time::Duration;

use forge_core::ports::{SecretProvider, SecretRef, SecretRefError, SecretRefValidator, SecretValue};

use crate::cache::SecretCache;
use crate::error::SecretsError;
use crate::provider::env::EnvProvider;
use crate::provider::file::FileProvider;

/// Maps a reference's `provider` to the [`SecretProvider`] that resolves it, validates
/// references against the provider's schema, and caches resolved values for a short TTL.
///
/// Third parties add their own provider with [`ProviderRegistry::register`]. The registry is
/// also a [`SecretRefValidator`], so configuration loading can check references without
/// depending on any provider's adapter.
pub struct ProviderRegistry {
    providers: BTreeMap<String, Arc<dyn SecretProvider>>,
    cache: SecretCache,
}

impl ProviderRegistry {
    /// An empty registry with the default cache TTL ([`crate::DEFAULT_TTL`]).
    pub fn new() -> Self {
        Self { providers: BTreeMap::new(), cache: SecretCache::default() }
    }

    /// A registry with the built-in providers: `env`, `file` and, with the `aws` feature, `aws`.
    pub fn with_defaults() -> Self {
        let mut registry = Self::new();
        registry.register(EnvProvider::new());
        registry.register(FileProvider::new());
        #[cfg(feature = "aws")]
        registry.register(crate::AwsProvider::new());
        registry
    }

    /// Like [`ProviderRegistry::with_defaults`], with the `file` provider resolving relative
    /// paths against `dir` (the repository root, for references from its configuration).
    pub fn with_defaults_in(dir: impl Into<std::path::PathBuf>) -> Self {
        let mut registry = Self::with_defaults();
        registry.register(FileProvider::with_base_dir(dir));
        registry
    }

    /// Sets the cache TTL (`Duration::ZERO` disables caching); drops what was cached.
    pub fn with_cache_ttl(mut self, ttl: Duration) -> Self {
        self.cache = SecretCache::new(ttl);
        self
    }

    /// Registers `provider` under its [`SecretProvider::name`], returning the provider it
    /// replaces, if any.
    pub fn register(&mut self, provider: impl SecretProvider + 'static) -> Option<Arc<dyn SecretProvider>> {
        self.register_arc(Arc::new(provider))
    }

    /// Registers a shared provider under its [`SecretProvider::name`], returning the provider
    /// it replaces, if any. Cached values are dropped.
    pub fn register_arc(&mut self, provider: Arc<dyn SecretProvider>) -> Option<Arc<dyn SecretProvider>> {
        self.cache.clear();
        self.providers.insert(provider.name().to_owned(), provider)
    }

    /// The provider registered under `name`.
    pub fn provider(&self, name: &str) -> Option<&Arc<dyn SecretProvider>> {
        self.providers.get(name)
    }

    /// The registered provider names, sorted.
    pub fn names(&self) -> impl Iterator<Item = &str> {
        self.providers.keys().map(String::as_str)
    }

    /// The value cache.
    pub fn cache(&self) -> &SecretCache {
        &self.cache
    }

    /// Drops (and zeroes) every cached value.
    pub fn clear_cache(&self) {
        self.cache.clear();
    }

    /// Checks `reference` without resolving it: its provider must be registered and its
    /// fields must fit the provider's schema. Returns the provider.
    pub fn check(&self, reference: &SecretRef) -> Result<&Arc<dyn SecretProvider>, SecretsError> {
        let Some(provider) = self.providers.get(&reference.provider) else {
            return Err(self.unknown(reference));
        };
        provider.validate(reference).map_err(|e| SecretsError::invalid(reference, e))?;
        Ok(provider)
    }

    /// Resolves `reference`: checks it, then answers from the cache or asks its provider.
    ///
    /// Errors name the reference and the provider's message, never the value.
    pub async fn resolve(&self, reference: &SecretRef) -> forge_core::Result<SecretValue> {
        let provider = self.check(reference)?;
        if let Some(value) = self.cache.get(reference) {
            tracing::debug!(reference = %reference, "secret served from the cache");
            return Ok(value);
        }
        tracing::debug!(reference = %reference, provider = provider.name(), "resolving secret");
        match provider.resolve(reference).await {
            Ok(value) => {
                self.cache.insert(reference, &value);
                Ok(value)
            }
            Err(e) => {
                tracing::debug!(reference = %reference, error = %e, "secret resolution failed");
                Err(e)
            }
        }
    }

    fn unknown(&self, reference: &SecretRef) -> SecretsError {
        let name = reference.provider.as_str();
        let hint = self
            .providers
            .keys()
            .map(|k| (edit_distance(name, k), k))
            .filter(|(d, k)| *d <= 2 && *d < k.len())
            .min()
            .map(|(_, k)| format!("; did you mean `{k}`?"))
            .unwrap_or_default();
        let known: Vec<&str> = self.names().collect();
        SecretsError::UnknownProvider {
            reference: reference.clone(),
            provider: name.to_owned(),
            known: if known.is_empty() { "none".to_owned() } else { known.join(", ") },
            hint,
        }
    }
}

impl Default for ProviderRegistry {
    fn default() -> Self {
        Self::with_defaults()
    }
}

impl fmt::Debug for ProviderRegistry {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("ProviderRegistry")
            .field("providers", &self.providers.keys().collect::<Vec<_>>())
            .field("cache", &self.cache)
            .finish()
    }
}

impl SecretRefValidator for ProviderRegistry {
    fn validate(&self, reference: &SecretRef) -> Result<(), SecretRefError> {
        match self.check(reference) {
            Ok(_) => Ok(()),
            Err(e) => Err(e
                .to_ref_error()
                .unwrap_or_else(|| SecretRefError { field: "provider".to_owned(), message: e.to_string() })),
        }
    }
}

/// Levenshtein distance, for "did you mean" hints on short names.
fn edit_distance(a: &str, b: &str) -> usize {
    let b: Vec<char> = b.chars().collect();
    let mut prev: Vec<usize> = (0..=b.len()).collect();
    for (i, ca) in a.chars().enumerate() {
        let mut cur = vec![i + 1; b.len() + 1];
        for (j, cb) in b.iter().enumerate() {
            let sub = prev[j] + usize::from(ca != *cb);
            cur[j + 1] = sub.min(prev[j + 1] + 1).min(cur[j] + 1);
        }
        prev = cur;
    }
    prev[b.len()]
}

/// The registry is itself a provider: it dispatches each reference to the provider it names,
/// so code that takes one [`SecretProvider`] (publishers, signing) can resolve any reference.
#[async_trait::async_trait]
impl SecretProvider for ProviderRegistry {
    fn name(&self) -> &str {
        "registry"
    }
    fn schema(&self) -> forge_core::ports::ProviderSchema {
        forge_core::ports::ProviderSchema::default()
    }
    fn validate(&self, reference: &SecretRef) -> Result<(), SecretRefError> {
        SecretRefValidator::validate(self, reference)
    }
    async fn resolve(&self, reference: &SecretRef) -> forge_core::Result<SecretValue> {
        ProviderRegistry::resolve(self, reference).await
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn r(v: serde_json::Value) -> SecretRef {
        match serde_json::from_value(v) {
            Ok(r) => r,
            Err(e) => panic!("bad test reference: {e}"),
        }
    }

    #[test]
    fn defaults_and_names() {
        let reg = ProviderRegistry::with_defaults();
        let names: Vec<&str> = reg.names().collect();
        #[cfg(feature = "aws")]
        assert_eq!(names, ["aws", "env", "file"]);
        #[cfg(not(feature = "aws"))]
        assert_eq!(names, ["env", "file"]);
        assert!(format!("{reg:?}").starts_with("ProviderRegistry { providers: ["));
    }

    #[test]
    fn unknown_provider_is_a_configuration_error_with_a_hint() {
        let reg = ProviderRegistry::with_defaults();
        let err = reg.check(&r(serde_json::json!({"provider": "fiel", "path": "x"}))).err();
        let Some(err @ SecretsError::UnknownProvider { .. }) = err else { panic!("expected UnknownProvider: {err:?}") };
        assert!(err.is_configuration());
        assert!(err.to_string().contains("did you mean `file`?"), "{err}");
        let re = SecretRefValidator::validate(&reg, err.reference()).err();
        assert_eq!(re.map(|e| e.field), Some("provider".to_owned()));
        let core: forge_core::Error = err.into();
        assert_eq!(core.code(), forge_core::ErrorCode::ValidationError);
    }

    #[test]
    fn bad_fields_name_the_field() {
        let reg = ProviderRegistry::with_defaults();
        for (v, field) in [
            (serde_json::json!({"provider": "env"}), "name"),
            (serde_json::json!({"provider": "env", "name": ""}), "name"),
            (serde_json::json!({"provider": "env", "name": 3}), "name"),
            (serde_json::json!({"provider": "env", "name": "A", "nmae": "B"}), "nmae"),
            (serde_json::json!({"provider": "env", "name": "A=B"}), "name"),
            (serde_json::json!({"provider": "file", "key": "k"}), "path"),
        ] {
            let got = SecretRefValidator::validate(&reg, &r(v.clone())).err().map(|e| e.field);
            assert_eq!(got.as_deref(), Some(field), "{v}");
        }
        // `env` (the variable a step exposes the secret as) is always allowed.
        assert!(reg.check(&r(serde_json::json!({"provider": "env", "name": "A", "env": "B"}))).is_ok());
    }

    #[test]
    fn usable_as_the_configuration_port() {
        // What forge-config holds: the port, not the adapters.
        let port: Arc<dyn SecretRefValidator> = Arc::new(ProviderRegistry::with_defaults());
        assert!(port.validate(&r(serde_json::json!({"provider": "file", "path": "a", "key": "b.c"}))).is_ok());
        let err = port.validate(&r(serde_json::json!({"provider": "file", "path": "a", "kye": "b"}))).err();
        assert_eq!(
            err.map(|e| (e.field, e.message)),
            Some(("kye".to_owned(), "unknown field for provider `file` (known: path, key)".to_owned()))
        );
    }

    #[test]
    fn third_party_providers_replace_and_extend() {
        struct Vault;
        #[async_trait::async_trait]
        impl SecretProvider for Vault {
            fn name(&self) -> &str {
                "vault"
            }
            fn schema(&self) -> forge_core::ports::ProviderSchema {
                forge_core::ports::ProviderSchema { fields: vec![crate::provider::field("path", true, "kv path")] }
            }
            async fn resolve(&self, _: &SecretRef) -> forge_core::Result<SecretValue> {
                Ok(SecretValue::from_string("from-vault".into()))
            }
        }
        let mut reg = ProviderRegistry::with_defaults();
        assert!(reg.register(Vault).is_none());
        assert!(reg.register(Vault).is_some(), "registering a name again replaces the provider");
        assert!(reg.check(&r(serde_json::json!({"provider": "vault", "path": "kv/app"}))).is_ok());
        assert_eq!(
            reg.check(&r(serde_json::json!({"provider": "vault"})))
                .err()
                .and_then(|e| e.to_ref_error())
                .map(|e| e.field),
            Some("path".to_owned())
        );
    }

    #[test]
    fn empty_registry_lists_none() {
        let reg = ProviderRegistry::new();
        let err = reg.check(&r(serde_json::json!({"provider": "env", "name": "A"}))).err();
        assert!(err.is_some_and(|e| e.to_string().contains("(known: none)")));
    }

    #[test]
    fn distance() {
        assert_eq!(edit_distance("fiel", "file"), 2);
        assert_eq!(edit_distance("aws", "aws"), 0);
        assert_eq!(edit_distance("", "env"), 3);
    }
}
