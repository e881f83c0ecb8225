//! A conformance suite for [`SecretProvider`]s (feature `conformance`).
//!
//! Give [`run`] a provider and a [`Fixture`] describing what its backend holds; it panics with
//! a message on the first broken rule, so call it from a test. Every built-in provider runs it
//! against its real backend (the process environment, real files, Secrets Manager on moto);
//! third-party providers should too.
//!
//! The rules: the schema accepts the fixture's references and names the field it rejects;
//! present secrets resolve to their exact bytes, repeatedly and concurrently, directly and
//! through a [`ProviderRegistry`]; a missing secret is `not_found` and a missing `key` is
//! `not_found` naming the key; errors name the reference; no error, `Debug` or `Display` output
//! ever contains a value.

use std::sync::Arc;

use forge_core::ErrorCode;
use forge_core::ports::{SecretProvider, SecretRef, SecretValue};

use crate::ProviderRegistry;

/// What the provider's backend holds for the suite.
#[derive(Debug, Clone)]
pub struct Fixture {
    /// A reference that resolves.
    pub present: SecretRef,
    /// The bytes it resolves to (use a distinctive value: the suite searches output for it).
    pub value: Vec<u8>,
    /// A well-formed reference to a secret that does not exist.
    pub missing: SecretRef,
    /// A reference with a `key` into a document, and the bytes of that field.
    pub keyed: Option<(SecretRef, Vec<u8>)>,
    /// A reference whose `key` is absent from its (valid) document.
    pub missing_key: Option<SecretRef>,
    /// A reference with a `key` into a secret that is not a valid document.
    pub malformed: Option<SecretRef>,
}

/// Runs every check of the suite against `provider`.
pub async fn run(provider: Arc<dyn SecretProvider>, fixture: &Fixture) {
    schema_rules(provider.as_ref(), fixture);
    resolves_present(provider.as_ref(), fixture).await;
    missing_is_not_found(provider.as_ref(), fixture).await;
    keyed_fields(provider.as_ref(), fixture).await;
    concurrent_resolution(provider.as_ref(), fixture).await;
    through_registry(provider, fixture).await;
}

/// The provider's name matches the fixture, its schema accepts the fixture's references, and
/// it rejects unknown and missing required fields, naming them.
pub fn schema_rules(provider: &dyn SecretProvider, fixture: &Fixture) {
    let name = provider.name();
    assert!(!name.is_empty(), "a provider needs a name");
    assert_eq!(fixture.present.provider, name, "the fixture's references must name the provider");
    let schema = provider.schema();
    for f in &schema.fields {
        assert!(!f.description.is_empty(), "schema field `{}` needs a description", f.name);
    }
    for r in all_refs(fixture) {
        if let Err(e) = provider.validate(r) {
            panic!("the schema rejects the fixture reference {r}: {e}");
        }
    }
    let mut unknown = fixture.present.clone();
    unknown.fields.insert("conformanceUnknownField".into(), "x".into());
    match provider.validate(&unknown) {
        Ok(()) => panic!("an unknown field was accepted: {unknown}"),
        Err(e) => assert_eq!(e.field, "conformanceUnknownField", "the error must name the field: {e}"),
    }
    for f in schema.fields.iter().filter(|f| f.required) {
        let mut without = fixture.present.clone();
        without.fields.remove(&f.name);
        match provider.validate(&without) {
            Ok(()) => panic!("required field `{}` may be left out: {without}", f.name),
            Err(e) => assert_eq!(e.field, f.name, "the error must name the field: {e}"),
        }
    }
}

/// The present secret resolves to its exact bytes, twice, and its `Debug`/`Display` redact it.
pub async fn resolves_present(provider: &dyn SecretProvider, fixture: &Fixture) {
    for _ in 0..2 {
        let value = expect_value(provider, &fixture.present).await;
        assert_eq!(value.expose(), fixture.value.as_slice(), "wrong value for {}", fixture.present);
        assert_redacted(&value, &fixture.value);
    }
}

/// A missing secret is `not_found`, and the error names the reference.
pub async fn missing_is_not_found(provider: &dyn SecretProvider, fixture: &Fixture) {
    let err = expect_error(provider, &fixture.missing, &fixture.value).await;
    assert_eq!(err.code(), ErrorCode::NotFound, "{}: {err}", fixture.missing);
    assert!(err.to_string().contains(&fixture.missing.to_string()), "the error must name the reference: {err}");
}

/// `key` picks a field; a missing key is `not_found` naming the key; a malformed document is
/// an error. No message carries a value.
pub async fn keyed_fields(provider: &dyn SecretProvider, fixture: &Fixture) {
    let mut secrets = vec![fixture.value.clone()];
    if let Some((r, expected)) = &fixture.keyed {
        let value = expect_value(provider, r).await;
        assert_eq!(value.expose(), expected.as_slice(), "wrong value for {r}");
        assert_redacted(&value, expected);
        secrets.push(expected.clone());
    }
    if let Some(r) = &fixture.missing_key {
        for secret in &secrets {
            let err = expect_error(provider, r, secret).await;
            assert_eq!(err.code(), ErrorCode::NotFound, "{r}: {err}");
            if let Some(key) = r.field("key") {
                assert!(err.to_string().contains(key), "the error must name the key `{key}`: {err}");
            }
        }
    }
    if let Some(r) = &fixture.malformed {
        for secret in &secrets {
            let err = expect_error(provider, r, secret).await;
            assert_ne!(err.code(), ErrorCode::NotFound, "a malformed document is not a missing secret: {err}");
        }
    }
}

/// Four concurrent resolutions of the present secret agree.
pub async fn concurrent_resolution(provider: &dyn SecretProvider, fixture: &Fixture) {
    let r = &fixture.present;
    let (a, b, c, d) = tokio::join!(provider.resolve(r), provider.resolve(r), provider.resolve(r), provider.resolve(r));
    for v in [a, b, c, d] {
        match v {
            Ok(v) => assert_eq!(v.expose(), fixture.value.as_slice()),
            Err(e) => panic!("concurrent resolution of {r} failed: {e}"),
        }
    }
}

/// The provider works behind a [`ProviderRegistry`]: resolution, caching and clearing.
pub async fn through_registry(provider: Arc<dyn SecretProvider>, fixture: &Fixture) {
    let mut registry = ProviderRegistry::new();
    registry.register_arc(provider);
    if let Err(e) = registry.check(&fixture.present) {
        panic!("the registry rejects {}: {e}", fixture.present);
    }
    for _ in 0..2 {
        match registry.resolve(&fixture.present).await {
            Ok(v) => assert_eq!(v.expose(), fixture.value.as_slice()),
            Err(e) => panic!("registry resolution of {} failed: {e}", fixture.present),
        }
    }
    assert_eq!(registry.cache().len(), 1, "a resolved value is cached");
    registry.clear_cache();
    assert!(registry.cache().is_empty(), "clear_cache empties the cache");
    match registry.resolve(&fixture.missing).await {
        Ok(_) => panic!("{} resolved through the registry", fixture.missing),
        Err(e) => assert_eq!(e.code(), ErrorCode::NotFound),
    }
    assert!(registry.cache().is_empty(), "failures are not cached");
    let debug = format!("{registry:?}");
    assert!(!contains(debug.as_bytes(), &fixture.value), "the registry's Debug shows the value");
}

async fn expect_value(provider: &dyn SecretProvider, r: &SecretRef) -> SecretValue {
    match provider.resolve(r).await {
        Ok(v) => v,
        Err(e) => panic!("{r} did not resolve: {e}"),
    }
}

async fn expect_error(provider: &dyn SecretProvider, r: &SecretRef, secret: &[u8]) -> forge_core::Error {
    match provider.resolve(r).await {
        Ok(v) => panic!("{r} resolved ({} bytes), expected an error", v.expose().len()),
        Err(e) => {
            let mut text = format!("{e} | {e:?} | {e:#?}");
            let mut source = std::error::Error::source(&e);
            while let Some(s) = source {
                text.push_str(&format!(" | {s} | {s:?}"));
                source = s.source();
            }
            assert!(!contains(text.as_bytes(), secret), "an error about {r} contains a secret value");
            e
        }
    }
}

fn assert_redacted(value: &SecretValue, secret: &[u8]) {
    let shown = format!("{value:?} {value} {value:#?}");
    assert!(!contains(shown.as_bytes(), secret), "Debug/Display of a value shows it");
}

fn all_refs(f: &Fixture) -> impl Iterator<Item = &SecretRef> {
    [Some(&f.present), Some(&f.missing), f.keyed.as_ref().map(|(r, _)| r), f.missing_key.as_ref(), f.malformed.as_ref()]
        .into_iter()
        .flatten()
}

/// Whether `needle` occurs in `haystack` (an empty needle never does).
pub fn contains(haystack: &[u8], needle: &[u8]) -> bool {
    !needle.is_empty() && haystack.windows(needle.len()).any(|w| w == needle)
}
