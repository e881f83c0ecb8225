//! The `aws` provider against AWS Secrets Manager on moto (`scripts/services.sh up`, then
//! `source scripts/services.env`). Skipped with a note when `AWS_ENDPOINT_URL` is unset, unless
//! `FORGE_TEST_REQUIRE_SERVICES=1`. Each test creates secrets with unique names.
#![cfg(feature = "aws")]

mod common;

use std::sync::Arc;

use aws_config::BehaviorVersion;
use aws_sdk_secretsmanager::Client;
use aws_sdk_secretsmanager::config::Region;
use aws_sdk_secretsmanager::primitives::Blob;
use common::{aws_available, in_child, reference, unique};
use forge_core::{ErrorClass, ErrorCode};
use forge_secrets::conformance::{self, Fixture};
use forge_secrets::{AwsProvider, ProviderRegistry, SecretProvider, SecretsError};
use serde_json::json;

async fn client(region: &str) -> Client {
    let conf = aws_config::defaults(BehaviorVersion::latest()).region(Region::new(region.to_owned())).load().await;
    Client::new(&conf)
}

/// Creates a string secret and returns its name and ARN.
async fn create_string(region: &str, label: &str, value: &str) -> (String, String) {
    let name = format!("forge-test/{}", unique(label));
    let out = client(region)
        .await
        .create_secret()
        .name(&name)
        .secret_string(value)
        .send()
        .await
        .expect("create_secret on moto");
    (name, out.arn().unwrap_or_default().to_owned())
}

async fn create_binary(region: &str, label: &str, value: &[u8]) -> String {
    let name = format!("forge-test/{}", unique(label));
    client(region)
        .await
        .create_secret()
        .name(&name)
        .secret_binary(Blob::new(value.to_vec()))
        .send()
        .await
        .expect("create_secret (binary) on moto");
    name
}

#[tokio::test]
async fn aws_conformance() {
    if !aws_available() {
        return;
    }
    let value = unique("aws-conformance-value");
    let (plain, _) = create_string("us-east-1", "plain", &value).await;
    let doc = json!({"username": "forge", "db": {"password": format!("{value}-db")}}).to_string();
    let (json_name, _) = create_string("us-east-1", "json", &doc).await;
    let fixture = Fixture {
        present: reference(json!({"provider": "aws", "secretName": plain, "region": "us-east-1"})),
        value: value.clone().into_bytes(),
        missing: reference(
            json!({"provider": "aws", "secretName": unique("forge-test/missing"), "region": "us-east-1"}),
        ),
        keyed: Some((
            reference(json!({"provider": "aws", "secretName": json_name, "key": "db.password"})),
            format!("{value}-db").into_bytes(),
        )),
        missing_key: Some(reference(json!({"provider": "aws", "secretName": json_name, "key": "password"}))),
        malformed: Some(reference(json!({"provider": "aws", "secretName": plain, "key": "password"}))),
    };
    conformance::run(Arc::new(AwsProvider::new()), &fixture).await;
}

#[tokio::test]
async fn string_json_key_and_binary_secrets() {
    if !aws_available() {
        return;
    }
    let p = AwsProvider::new();
    let (name, arn) = create_string("us-east-1", "string", "plain-text-value").await;
    let v = p.fetch(&reference(json!({"provider": "aws", "secretName": name}))).await.expect("string secret");
    assert_eq!(v.expose(), b"plain-text-value");
    // By ARN too.
    let v = p.fetch(&reference(json!({"provider": "aws", "secretName": arn}))).await.expect("secret by ARN");
    assert_eq!(v.expose(), b"plain-text-value");

    let (json_name, _) = create_string("us-east-1", "json", r#"{"user":"forge","port":5432,"tls":{"ca":"CA"}}"#).await;
    for (key, want) in [("user", &b"forge"[..]), ("port", b"5432"), ("tls.ca", b"CA"), ("tls", br#"{"ca":"CA"}"#)] {
        let r = reference(json!({"provider": "aws", "secretName": json_name, "key": key}));
        let v = p.fetch(&r).await.expect("json key");
        assert_eq!(v.expose(), want, "key {key}");
    }

    let bytes = [0u8, 1, 2, 254, 255, b'x'];
    let bin = create_binary("us-east-1", "binary", &bytes).await;
    let v = p.fetch(&reference(json!({"provider": "aws", "secretName": bin}))).await.expect("binary secret");
    assert_eq!(v.expose(), &bytes);

    let bin_json = create_binary("us-east-1", "binary-json", br#"{"token":"from-binary"}"#).await;
    let r = reference(json!({"provider": "aws", "secretName": bin_json, "key": "token"}));
    assert_eq!(p.fetch(&r).await.expect("binary json key").expose(), b"from-binary");
}

#[tokio::test]
async fn missing_key_and_malformed_json() {
    if !aws_available() {
        return;
    }
    let p = AwsProvider::new();
    let (json_name, _) = create_string("us-east-1", "json", r#"{"user":"forge","password":"pw-4471"}"#).await;
    let r = reference(json!({"provider": "aws", "secretName": json_name, "key": "token"}));
    match p.fetch(&r).await {
        Err(SecretsError::KeyMissing { key, message, .. }) => {
            assert_eq!(key, "token");
            assert_eq!(message, "available top-level keys: password, user");
        }
        other => panic!("expected KeyMissing, got {other:?}"),
    }
    let (plain, _) = create_string("us-east-1", "notjson", "{pw-4471").await;
    let r = reference(json!({"provider": "aws", "secretName": plain, "key": "password"}));
    match p.fetch(&r).await {
        Err(e @ SecretsError::Malformed { format: "JSON", .. }) => {
            assert!(!e.to_string().contains("pw-4471"), "{e}");
            let core: forge_core::Error = e.into();
            assert_eq!(core.code(), ErrorCode::InternalError);
        }
        other => panic!("expected Malformed, got {other:?}"),
    }
}

#[tokio::test]
async fn missing_secret_is_not_found() {
    if !aws_available() {
        return;
    }
    let name = unique("forge-test/never-created");
    let r = reference(json!({"provider": "aws", "secretName": name}));
    match AwsProvider::new().fetch(&r).await {
        Err(SecretsError::NotFound { message, .. }) => {
            assert!(message.starts_with("ResourceNotFoundException: "), "{message}");
            assert!(message.ends_with("; looked in region us-east-1, check `secretName` and `region`"), "{message}");
        }
        other => panic!("expected NotFound, got {other:?}"),
    }
}

#[tokio::test]
async fn deleted_secret() {
    if !aws_available() {
        return;
    }
    let (name, _) = create_string("us-east-1", "deleted", "soon-gone-value").await;
    client("us-east-1")
        .await
        .delete_secret()
        .secret_id(&name)
        .recovery_window_in_days(7)
        .send()
        .await
        .expect("delete_secret on moto");
    let r = reference(json!({"provider": "aws", "secretName": name}));
    let err = AwsProvider::new().fetch(&r).await.err();
    let Some(e @ SecretsError::Deleted { .. }) = err else { panic!("expected Deleted, got {err:?}") };
    assert!(e.to_string().contains("InvalidRequestException"), "{e}");
    let core: forge_core::Error = e.into();
    assert_eq!(core.code(), ErrorCode::NotFound);

    // Deleted without recovery: gone.
    let (name, _) = create_string("us-east-1", "force-deleted", "gone-value").await;
    client("us-east-1")
        .await
        .delete_secret()
        .secret_id(&name)
        .force_delete_without_recovery(true)
        .send()
        .await
        .expect("force delete on moto");
    let r = reference(json!({"provider": "aws", "secretName": name}));
    assert!(matches!(AwsProvider::new().fetch(&r).await, Err(SecretsError::NotFound { .. })));
}

#[tokio::test]
async fn wrong_region() {
    if !aws_available() {
        return;
    }
    let (name, _) = create_string("us-east-1", "regional", "regional-value").await;
    let p = AwsProvider::new();
    let r = reference(json!({"provider": "aws", "secretName": name, "region": "eu-west-1"}));
    match p.fetch(&r).await {
        Err(SecretsError::NotFound { message, .. }) => assert!(message.contains("region eu-west-1"), "{message}"),
        other => panic!("expected NotFound, got {other:?}"),
    }
    // The default region of the provider applies to references without one.
    let r = reference(json!({"provider": "aws", "secretName": name}));
    assert!(matches!(
        AwsProvider::with_default_region("eu-west-1").fetch(&r).await,
        Err(SecretsError::NotFound { .. })
    ));
    let v = AwsProvider::with_default_region("us-east-1").fetch(&r).await.expect("right region");
    assert_eq!(v.expose(), b"regional-value");
    // A region that is not one is caught when configuration loads.
    let bad = reference(json!({"provider": "aws", "secretName": name, "region": "moon-base"}));
    assert_eq!(p.validate(&bad).err().map(|e| e.field), Some("region".to_owned()));
}

#[tokio::test]
async fn cache_serves_until_cleared() {
    if !aws_available() {
        return;
    }
    let (name, _) = create_string("us-east-1", "rotated", "before-rotation").await;
    let registry = ProviderRegistry::with_defaults();
    let r = reference(json!({"provider": "aws", "secretName": name}));
    assert_eq!(registry.resolve(&r).await.expect("resolves").expose(), b"before-rotation");
    client("us-east-1")
        .await
        .put_secret_value()
        .secret_id(&name)
        .secret_string("after-rotation")
        .send()
        .await
        .expect("put_secret_value on moto");
    assert_eq!(registry.resolve(&r).await.expect("cached").expose(), b"before-rotation");
    registry.clear_cache();
    assert_eq!(registry.resolve(&r).await.expect("fresh").expose(), b"after-rotation");
}

#[tokio::test]
async fn unreachable_endpoint_is_transient() {
    if !aws_available() {
        return;
    }
    if !in_child(
        "unreachable_endpoint_is_transient",
        &[("AWS_ENDPOINT_URL", "http://127.0.0.1:9"), ("AWS_MAX_ATTEMPTS", "1")],
    ) {
        return;
    }
    let r = reference(json!({"provider": "aws", "secretName": "forge-test/anything"}));
    let err = AwsProvider::new().resolve(&r).await.expect_err("no server there");
    assert_eq!(err.class(), ErrorClass::Transient, "{err}");
    assert!(err.to_string().contains("cannot reach Secrets Manager in region us-east-1"), "{err}");
}

#[tokio::test]
async fn missing_region_is_a_configuration_error() {
    if !aws_available() {
        return;
    }
    // No region anywhere (moto accepts any credentials, so this is the configuration error to test).
    if !in_child(
        "missing_region_is_a_configuration_error",
        &[("AWS_REGION", ""), ("AWS_DEFAULT_REGION", ""), ("AWS_CONFIG_FILE", "/nonexistent"), ("AWS_PROFILE", "none")],
    ) {
        return;
    }
    let r = reference(json!({"provider": "aws", "secretName": "forge-test/anything"}));
    match AwsProvider::new().fetch(&r).await {
        Err(SecretsError::Configuration { message, .. }) => assert!(message.starts_with("no AWS region"), "{message}"),
        other => panic!("expected Configuration, got {other:?}"),
    }
}
