//! The `file` provider against real files.

mod common;

use std::path::Path;
use std::sync::Arc;

use common::reference;
use forge_core::ErrorCode;
use forge_secrets::conformance::{self, Fixture};
use forge_secrets::{FileProvider, SecretsError};
use serde_json::json;

const VALUE: &str = "file-secret-value-5e1d0b";

fn write(dir: &Path, name: &str, content: &str) -> String {
    let p = dir.join(name);
    std::fs::write(&p, content).expect("writing a fixture file");
    p.to_string_lossy().into_owned()
}

#[tokio::test]
async fn file_conformance_json() {
    let dir = tempfile::tempdir().expect("a temp dir");
    let raw = write(dir.path(), "token", VALUE);
    let doc = write(dir.path(), "creds.json", &format!(r#"{{"user": "forge", "db": {{"password": "{VALUE}-db"}}}}"#));
    let bad = write(dir.path(), "broken.json", &format!(r#"{{"password": "{VALUE}"#));
    let fixture = Fixture {
        present: reference(json!({"provider": "file", "path": raw})),
        value: VALUE.as_bytes().to_vec(),
        missing: reference(json!({"provider": "file", "path": dir.path().join("nope").to_string_lossy()})),
        keyed: Some((
            reference(json!({"provider": "file", "path": doc, "key": "db.password"})),
            format!("{VALUE}-db").into_bytes(),
        )),
        missing_key: Some(reference(json!({"provider": "file", "path": doc, "key": "db.pasword"}))),
        malformed: Some(reference(json!({"provider": "file", "path": bad, "key": "password"}))),
    };
    conformance::run(Arc::new(FileProvider::new()), &fixture).await;
}

#[tokio::test]
async fn file_conformance_yaml_with_base_dir() {
    let dir = tempfile::tempdir().expect("a temp dir");
    write(dir.path(), "token", VALUE);
    write(dir.path(), "creds.yaml", &format!("user: forge\ndb:\n  password: {VALUE}-db\n"));
    write(dir.path(), "broken.yml", &format!("password: [{VALUE}\n"));
    let fixture = Fixture {
        present: reference(json!({"provider": "file", "path": "token"})),
        value: VALUE.as_bytes().to_vec(),
        missing: reference(json!({"provider": "file", "path": "nope"})),
        keyed: Some((
            reference(json!({"provider": "file", "path": "creds.yaml", "key": "db.password"})),
            format!("{VALUE}-db").into_bytes(),
        )),
        missing_key: Some(reference(json!({"provider": "file", "path": "creds.yaml", "key": "password"}))),
        malformed: Some(reference(json!({"provider": "file", "path": "broken.yml", "key": "password"}))),
    };
    conformance::run(Arc::new(FileProvider::with_base_dir(dir.path())), &fixture).await;
}

#[tokio::test]
async fn file_errors_are_specific() {
    let dir = tempfile::tempdir().expect("a temp dir");
    let doc = write(dir.path(), "creds.json", r#"{"user": "forge", "password": "pw-9931"}"#);
    let p = FileProvider::new();

    let err = p.fetch(&reference(json!({"provider": "file", "path": doc, "key": "token"}))).await.err();
    let Some(SecretsError::KeyMissing { key, message, .. }) = &err else { panic!("expected KeyMissing: {err:?}") };
    assert_eq!((key.as_str(), message.as_str()), ("token", "available top-level keys: password, user"));

    let text = write(dir.path(), "plain.txt", "{not json at all");
    let err = p.fetch(&reference(json!({"provider": "file", "path": text, "key": "k"}))).await.err();
    assert!(matches!(&err, Some(SecretsError::Malformed { format: "JSON", .. })), "{err:?}");
    assert_eq!(
        err.map(|e| e.to_string()),
        Some(format!("secret file(key=k, path={text}): malformed JSON document: syntax error at line 1, column 2"))
    );

    // A directory is not a secret file.
    let r = reference(json!({"provider": "file", "path": dir.path().to_string_lossy()}));
    let err = p.fetch(&r).await.err();
    assert!(matches!(err, Some(SecretsError::Provider { .. })), "{err:?}");

    // The core error keeps the kind.
    let core = forge_secrets::SecretProvider::resolve(
        &p,
        &reference(json!({"provider": "file", "path": "/nonexistent/forge"})),
    )
    .await
    .err()
    .map(|e| e.code());
    assert_eq!(core, Some(ErrorCode::NotFound));
}

#[tokio::test]
async fn whole_file_bytes_are_exact() {
    let dir = tempfile::tempdir().expect("a temp dir");
    let p = dir.path().join("bin");
    std::fs::write(&p, [0u8, 159, 146, 150, b'\n']).expect("write");
    let v = FileProvider::new()
        .fetch(&reference(json!({"provider": "file", "path": p.to_string_lossy()})))
        .await
        .expect("resolves");
    assert_eq!(v.expose(), &[0u8, 159, 146, 150, b'\n']);
}
