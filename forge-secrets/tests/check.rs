//! `check_references`: the report behind `forge secrets check`.

mod common;

use common::{in_child, reference};
use forge_secrets::{CheckOutcome, EnvProvider, FileProvider, ProviderRegistry, SecretRef, check_references};
use serde_json::json;

#[tokio::test]
async fn report_lists_every_reference_and_never_a_value() {
    if !in_child("report_lists_every_reference_and_never_a_value", &[("FORGE_TEST_CHECK_SECRET", "check-value-31337")])
    {
        return;
    }
    let refs: Vec<(String, SecretRef)> = vec![
        (
            "project.ci.steps[0].secrets[0]".into(),
            reference(json!({"provider": "env", "name": "FORGE_TEST_CHECK_SECRET"})),
        ),
        (
            "project.ci.steps[0].secrets[1]".into(),
            reference(json!({"provider": "env", "name": "FORGE_TEST_CHECK_UNSET"})),
        ),
        ("project.ci.steps[1].secrets[0]".into(), reference(json!({"provider": "vault", "path": "kv/app"}))),
        ("project.ci.steps[1].secrets[1]".into(), reference(json!({"provider": "file", "paht": "/x"}))),
        (
            "project.ci.steps[2].secrets[0]".into(),
            reference(json!({"provider": "file", "path": "/nonexistent/forge/db"})),
        ),
        ("project.deploy.secrets[0]".into(), reference(json!({"provider": "env", "name": "FORGE_TEST_CHECK_SECRET"}))),
    ];
    // Exactly env + file, so the snapshot does not depend on the `aws` feature.
    let mut registry = ProviderRegistry::new();
    registry.register(EnvProvider::new());
    registry.register(FileProvider::new());
    let report = check_references(&refs, &registry).await;
    assert!(!report.is_ok());
    assert_eq!((report.total(), report.failed()), (6, 4));
    assert!(matches!(&report.entries()[2].outcome, CheckOutcome::Invalid { field, .. } if field == "provider"));
    assert!(matches!(&report.entries()[3].outcome, CheckOutcome::Invalid { field, .. } if field == "path"));

    let text = report.to_string();
    let json = report.to_json();
    assert!(!text.contains("check-value-31337") && !json.contains("check-value-31337"));
    insta::assert_snapshot!("report_text", text);
    insta::assert_snapshot!("report_json", json);
}

#[tokio::test]
async fn empty_and_all_ok_reports() {
    let registry = ProviderRegistry::with_defaults();
    let report = check_references(&[], &registry).await;
    assert!(report.is_ok());
    assert_eq!(report.to_string(), "0 secret references checked, 0 failed");

    let dir = tempfile::tempdir().expect("a temp dir");
    let path = dir.path().join("token");
    std::fs::write(&path, "t0k3n").expect("write");
    let refs = vec![("a".to_owned(), reference(json!({"provider": "file", "path": path})))];
    let report = check_references(&refs, &registry).await;
    assert!(report.is_ok(), "{report}");
    assert!(report.to_string().ends_with("1 secret reference checked, 0 failed"));
}
