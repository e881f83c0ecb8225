//! The `env` provider against the real process environment.

mod common;

use std::sync::Arc;

use common::{in_child, reference};
use forge_core::ErrorCode;
use forge_secrets::conformance::{self, Fixture};
use forge_secrets::{EnvProvider, SecretProvider, SecretsError};
use serde_json::json;

const VALUE: &str = "env-secret-value-7f3a9c";

#[tokio::test]
async fn env_conformance() {
    if !in_child("env_conformance", &[("FORGE_TEST_ENV_SECRET", VALUE)]) {
        return;
    }
    let fixture = Fixture {
        present: reference(json!({"provider": "env", "name": "FORGE_TEST_ENV_SECRET"})),
        value: VALUE.as_bytes().to_vec(),
        missing: reference(json!({"provider": "env", "name": "FORGE_TEST_ENV_SURELY_UNSET_4242"})),
        keyed: None,
        missing_key: None,
        malformed: None,
    };
    conformance::run(Arc::new(EnvProvider::new()), &fixture).await;
}

#[tokio::test]
async fn unset_variable_is_not_found_and_named() {
    let r = reference(json!({"provider": "env", "name": "FORGE_TEST_ENV_SURELY_UNSET_4242"}));
    let err = EnvProvider::new().fetch(&r).err();
    let Some(SecretsError::NotFound { message, .. }) = &err else { panic!("expected NotFound, got {err:?}") };
    assert_eq!(message, "environment variable `FORGE_TEST_ENV_SURELY_UNSET_4242` is not set");
    let core = EnvProvider::new().resolve(&r).await.err().map(|e| (e.code(), e.to_string()));
    assert_eq!(
        core,
        Some((
            ErrorCode::NotFound,
            "secrets: secret env(name=FORGE_TEST_ENV_SURELY_UNSET_4242) (environment variable \
             `FORGE_TEST_ENV_SURELY_UNSET_4242` is not set) not found"
                .to_owned()
        ))
    );
}

#[tokio::test]
async fn empty_variable_resolves_to_empty() {
    if !in_child("empty_variable_resolves_to_empty", &[("FORGE_TEST_ENV_EMPTY", "")]) {
        return;
    }
    let r = reference(json!({"provider": "env", "name": "FORGE_TEST_ENV_EMPTY"}));
    let v = EnvProvider::new().resolve(&r).await.expect("an empty variable resolves");
    assert!(v.expose().is_empty());
}

#[test]
fn schema_rejects_bad_names() {
    let p = EnvProvider::new();
    assert_eq!(
        p.validate(&reference(json!({"provider": "env", "name": "A=B"}))).err().map(|e| e.field),
        Some("name".into())
    );
    assert!(p.validate(&reference(json!({"provider": "env", "name": "A", "env": "B"}))).is_ok());
}
