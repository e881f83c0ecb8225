//! Snapshots of the wire shapes: the OpenAPI document, the error body and the ReleasePointer.
#![allow(missing_docs, clippy::unwrap_used, clippy::expect_used)]

use axum::response::IntoResponse;
use forge_api::deploy::render_pointer;
use forge_api::{ApiError, FieldError};
use forge_core::ReleaseStatus;
use forge_core::model::{AliasKind, Release, ReleaseAlias, ReleaseTrigger, TriggerType};

#[test]
fn openapi_document() {
    let doc = serde_json::to_value(forge_api::openapi::document()).unwrap();
    insta::assert_json_snapshot!("openapi", doc);
}

#[tokio::test]
async fn error_bodies() {
    let cases = vec![
        ApiError::Validation(vec![
            FieldError { field: "commit_sha".into(), message: "must be 40 hex digits".into() },
            FieldError { field: "trigger.type".into(), message: "unknown variant `nightly`".into() },
        ]),
        ApiError::RateLimited { scope: "runs:acme/shop".into(), retry_after: 12 },
        ApiError::Internal(forge_core::Error::msg("store", "secret internals")),
        ApiError::Unauthenticated("the token is not valid".into()),
    ];
    let mut out = Vec::new();
    for e in cases {
        let resp = e.into_response();
        let status = resp.status().as_u16();
        let retry = resp.headers().get("retry-after").map(|v| v.to_str().unwrap().to_owned());
        let body = axum::body::to_bytes(resp.into_body(), 1 << 20).await.unwrap();
        let body: serde_json::Value = serde_json::from_slice(&body).unwrap();
        out.push(serde_json::json!({ "status": status, "retry_after": retry, "body": body }));
    }
    insta::assert_json_snapshot!("error_bodies", out);
}

#[test]
fn release_pointer() {
    let release = Release {
        id: uuid::Uuid::nil(),
        repository: "acme/shop".parse().unwrap(),
        project: "web".parse().unwrap(),
        commit_sha: "0123456789abcdef0123456789abcdef01234567".parse().unwrap(),
        release_number: 42,
        status: ReleaseStatus::Complete,
        trigger: ReleaseTrigger {
            kind: TriggerType::Tag,
            branch: Some("main".into()),
            tag: Some("web/v1.2.3".into()),
            actor: "ci".into(),
        },
        oci_ref: "registry.example:5000/acme/shop/web:0123456789abcdef0123456789abcdef01234567".into(),
        oci_digest: "sha256:00".into(),
        aliases: vec![
            ReleaseAlias { kind: AliasKind::Numeric, alias: "42".into() },
            ReleaseAlias { kind: AliasKind::Tag, alias: "v1.2.3".into() },
            ReleaseAlias { kind: AliasKind::Branch, alias: "main-42".into() },
        ],
        artifacts: Vec::new(),
        run_id: None,
        created_at: chrono::DateTime::from_timestamp(1_700_000_000, 0).unwrap(),
    };
    let approved_at = chrono::DateTime::from_timestamp(1_700_000_100, 0).unwrap();
    let yaml = render_pointer(&release, "prod", "olga", Some(("anna", approved_at))).unwrap();
    let yaml: String = yaml
        .lines()
        .map(|l| if l.trim_start().starts_with("deployedAt:") { "  deployedAt: <now>" } else { l })
        .collect::<Vec<_>>()
        .join("\n");
    insta::assert_snapshot!("release_pointer", yaml);
}
