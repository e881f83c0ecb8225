//! Secret values never reach logs, errors or Debug output.
//!
//! Resolves secrets of every provider, on success and failure paths, directly, through the
//! registry and through `check_references`, with a global `tracing` subscriber capturing every
//! event and span at TRACE level (the AWS SDK's own included). Then searches the captured
//! output, every error's Display/Debug/source chain, every value's Debug/Display/serde form and
//! the check report for the secret bytes.

mod common;

use std::io::Write;
use std::sync::{Arc, Mutex};

use common::{contains, in_child, reference, unique};
use forge_secrets::{ProviderRegistry, SecretRef, check_references};
use serde_json::json;
use tracing_subscriber::fmt::format::FmtSpan;

#[derive(Clone, Default)]
struct Capture(Arc<Mutex<Vec<u8>>>);

impl Write for Capture {
    fn write(&mut self, buf: &[u8]) -> std::io::Result<usize> {
        self.0.lock().unwrap_or_else(std::sync::PoisonError::into_inner).extend_from_slice(buf);
        Ok(buf.len())
    }
    fn flush(&mut self) -> std::io::Result<()> {
        Ok(())
    }
}

impl Capture {
    fn text(&self) -> Vec<u8> {
        self.0.lock().unwrap_or_else(std::sync::PoisonError::into_inner).clone()
    }
}

/// Everything printed about a resolution.
#[derive(Default)]
struct Seen(Vec<u8>);

impl Seen {
    fn result(&mut self, r: &SecretRef, res: &forge_core::Result<forge_secrets::SecretValue>) -> Option<Vec<u8>> {
        match res {
            Ok(v) => {
                let shown = format!("{v:?} {v:#?} {v} {}", serde_json::to_string(v).unwrap_or_default());
                self.0.extend_from_slice(shown.as_bytes());
                Some(v.expose().to_vec())
            }
            Err(e) => {
                let mut shown = format!("{r}: {e} | {e:?} | {e:#?}");
                let mut source = std::error::Error::source(e);
                while let Some(s) = source {
                    shown.push_str(&format!(" | {s} | {s:?}"));
                    source = s.source();
                }
                self.0.extend_from_slice(shown.as_bytes());
                None
            }
        }
    }
}

#[tokio::test]
async fn secret_values_never_appear_in_output() {
    let env_secret = unique("ENVSECRET");
    if !in_child("secret_values_never_appear_in_output", &[("FORGE_TEST_REDACTION_ENV", &env_secret)]) {
        return;
    }
    // In the child: the value the parent generated.
    let env_secret = std::env::var("FORGE_TEST_REDACTION_ENV").expect("set by the parent");
    let capture = Capture::default();
    let writer = capture.clone();
    let subscriber = tracing_subscriber::fmt()
        .with_max_level(tracing::Level::TRACE)
        .with_span_events(FmtSpan::FULL)
        .with_ansi(false)
        .with_writer(move || writer.clone())
        .finish();
    tracing::subscriber::set_global_default(subscriber).expect("the only subscriber of this process");
    tracing::info!("capture started");

    let dir = tempfile::tempdir().expect("a temp dir");
    let file_secret = unique("FILESECRET");
    let doc_secret = unique("DOCSECRET");
    let bad_secret = unique("BADSECRET");
    let raw = dir.path().join("raw");
    let doc = dir.path().join("doc.json");
    let bad = dir.path().join("bad.json");
    let yaml = dir.path().join("doc.yaml");
    std::fs::write(&raw, &file_secret).expect("write");
    std::fs::write(&doc, json!({"user": "forge", "password": doc_secret, "n": 1}).to_string()).expect("write");
    std::fs::write(&bad, format!(r#"{{"password": "{bad_secret}""#)).expect("write");
    std::fs::write(&yaml, format!("password: [{bad_secret}\n")).expect("write");

    #[cfg_attr(not(feature = "aws"), allow(unused_mut))]
    let mut secrets = vec![env_secret.clone(), file_secret.clone(), doc_secret.clone(), bad_secret.clone()];
    #[cfg_attr(not(feature = "aws"), allow(unused_mut))]
    let mut cases: Vec<(SecretRef, Option<String>)> = vec![
        (reference(json!({"provider": "env", "name": "FORGE_TEST_REDACTION_ENV"})), Some(env_secret.clone())),
        (reference(json!({"provider": "env", "name": "FORGE_TEST_REDACTION_UNSET"})), None),
        (reference(json!({"provider": "file", "path": raw})), Some(file_secret.clone())),
        (reference(json!({"provider": "file", "path": doc, "key": "password"})), Some(doc_secret.clone())),
        (reference(json!({"provider": "file", "path": doc, "key": "token"})), None),
        (reference(json!({"provider": "file", "path": doc, "key": "password.deeper"})), None),
        (reference(json!({"provider": "file", "path": bad, "key": "password"})), None),
        (reference(json!({"provider": "file", "path": yaml, "key": "password"})), None),
        (reference(json!({"provider": "file", "path": dir.path().join("missing")})), None),
        (reference(json!({"provider": "nope", "name": "x"})), None),
    ];
    #[cfg(feature = "aws")]
    let with_aws = common::aws_available();
    #[cfg(feature = "aws")]
    if with_aws {
        aws_cases(&mut cases, &mut secrets).await;
    }

    let registry = ProviderRegistry::with_defaults();
    let mut seen = Seen::default();
    for (r, want) in &cases {
        for _ in 0..2 {
            // Twice: the second time through the cache.
            let got = seen.result(r, &registry.resolve(r).await);
            assert_eq!(got.as_deref(), want.as_ref().map(String::as_bytes), "{r}");
        }
        if let Some(provider) = registry.provider(&r.provider) {
            let got = seen.result(r, &provider.resolve(r).await);
            assert_eq!(got.as_deref(), want.as_ref().map(String::as_bytes), "{r}");
        }
    }
    let refs: Vec<(String, SecretRef)> =
        cases.iter().enumerate().map(|(i, (r, _))| (format!("case[{i}]"), r.clone())).collect();
    registry.clear_cache();
    let report = check_references(&refs, &registry).await;
    assert_eq!(report.failed(), cases.iter().filter(|(_, w)| w.is_none()).count());
    seen.0.extend_from_slice(format!("{report}\n{}\n{report:?}\n{registry:?}", report.to_json()).as_bytes());

    let logs = capture.text();
    assert!(contains(&logs, b"resolving secret"), "the subscriber captured nothing");
    #[cfg(feature = "aws")]
    if with_aws {
        // The SDK's own TRACE output (requests, responses, retries) was captured too.
        assert!(contains(&logs, b"GetSecretValue"), "the AWS SDK's tracing output was not captured");
    }
    for secret in &secrets {
        assert!(!contains(&logs, secret.as_bytes()), "a secret value appears in the tracing output");
        assert!(!contains(&seen.0, secret.as_bytes()), "a secret value appears in an error, Debug or report");
    }
    println!(
        "checked {} bytes of logs and {} bytes of errors/Debug for {} secrets",
        logs.len(),
        seen.0.len(),
        secrets.len()
    );
}

#[cfg(feature = "aws")]
async fn aws_cases(cases: &mut Vec<(SecretRef, Option<String>)>, secrets: &mut Vec<String>) {
    use aws_config::BehaviorVersion;
    use aws_sdk_secretsmanager::primitives::Blob;

    let client = aws_sdk_secretsmanager::Client::new(&aws_config::defaults(BehaviorVersion::latest()).load().await);
    let plain = unique("AWSSECRET");
    let inner = unique("AWSJSONSECRET");
    let binary = unique("AWSBINSECRET");
    let bad = unique("AWSBADSECRET");
    let names: Vec<String> = (0..4).map(|i| format!("forge-test/{}", unique(&format!("redaction{i}")))).collect();
    let doc = json!({"user": "forge", "password": inner}).to_string();
    for (name, value) in [(&names[0], &plain), (&names[1], &doc), (&names[3], &format!("{{\"password\": \"{bad}\""))] {
        client.create_secret().name(name).secret_string(value).send().await.expect("create_secret on moto");
    }
    client
        .create_secret()
        .name(&names[2])
        .secret_binary(Blob::new(binary.as_bytes().to_vec()))
        .send()
        .await
        .expect("create_secret on moto");
    secrets.extend([plain.clone(), inner.clone(), binary.clone(), bad]);
    cases.extend([
        (reference(json!({"provider": "aws", "secretName": names[0]})), Some(plain)),
        (reference(json!({"provider": "aws", "secretName": names[1], "key": "password"})), Some(inner)),
        (reference(json!({"provider": "aws", "secretName": names[1], "key": "token"})), None),
        (reference(json!({"provider": "aws", "secretName": names[2]})), Some(binary)),
        (reference(json!({"provider": "aws", "secretName": names[3], "key": "password"})), None),
        (reference(json!({"provider": "aws", "secretName": names[0], "region": "eu-west-1"})), None),
        (reference(json!({"provider": "aws", "secretName": "forge-test/never-created-redaction"})), None),
    ]);
}
