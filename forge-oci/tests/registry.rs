//! The registry store against real registries (Debian docker-registry from scripts/services.sh),
//! a scripted fake for Bearer auth and 5xx/429 retries, and skopeo/umoci interop.
#![cfg(feature = "registry")]
#![allow(clippy::unwrap_used, clippy::expect_used)]

mod common;

use std::process::Command;
use std::sync::Arc;
use std::sync::atomic::{AtomicUsize, Ordering};

use common::*;
use forge_core::ports::{ImageStore, SecretValue};
use forge_core::retry::RetryPolicy;
use forge_oci::*;
use tokio::io::{AsyncReadExt, AsyncWriteExt};

fn rt() -> tokio::runtime::Runtime {
    tokio::runtime::Builder::new_multi_thread().worker_threads(2).enable_all().build().unwrap()
}

fn unique_repo(name: &str) -> String {
    let n = std::time::SystemTime::now().duration_since(std::time::UNIX_EPOCH).unwrap().as_nanos();
    format!("forge-test/{name}-{n}")
}

fn fast() -> RetryPolicy {
    RetryPolicy { attempts: 3, ..RetryPolicy::fast() }
}

fn store(addr: &str, auth: RegistryAuth) -> RegistryStore {
    RegistryStore::new(addr.parse().unwrap(), RegistryConfig { auth, retry: fast(), ..RegistryConfig::default() })
        .unwrap()
}

fn creds() -> RegistryAuth {
    RegistryAuth::Basic {
        username: std::env::var("FORGE_TEST_REGISTRY_USER").unwrap_or_else(|_| "forge".into()),
        password: SecretValue::from_string(
            std::env::var("FORGE_TEST_REGISTRY_PASSWORD").unwrap_or_else(|_| "s3cret".into()),
        ),
    }
}

#[test]
fn release_and_tracking_round_trip_with_identical_digests() {
    let Some(addr) = service("FORGE_TEST_REGISTRY") else { return };
    rt().block_on(async {
        let reg = store(&addr, RegistryAuth::Anonymous);
        reg.ping().await.unwrap();
        let repo = unique_repo("web");
        let img = build_release_image(&release_input()).unwrap();
        let d = push_image(&reg, &repo, &img, &[SHA, "v1.2.3", "42"]).await.unwrap();
        assert_eq!(d, img.digest);
        // Sorted by us (the registry returns them unsorted).
        assert_eq!(reg.list_tags(&repo).await.unwrap(), [SHA, "42", "v1.2.3"]);
        let back = pull_image(&reg, &repo, SHA).await.unwrap();
        assert_eq!(back, img);
        let report = verify_release(&reg, &repo, "v1.2.3").await.unwrap();
        assert!(report.ok, "{report:#?}");
        assert!(reproduce_release(&reg, &repo, img.digest.as_str()).await.unwrap().identical);

        // Same digest through the layout store, and copies both ways keep it.
        let dir = tempfile::tempdir().unwrap();
        let layout = LayoutStore::open(dir.path()).unwrap();
        assert_eq!(copy(&reg, &layout, &repo, SHA).await.unwrap(), img.digest);
        let repo2 = unique_repo("web-copy");
        assert_eq!(copy_image(&layout, &repo, &reg, &repo2, SHA, &["copied"]).await.unwrap(), img.digest);
        assert_eq!(pull_image(&reg, &repo2, "copied").await.unwrap(), img);

        let trepo = unique_repo("web/cli");
        let t = build_tracking_image(&tracking_input()).unwrap();
        let tag = format!("sha-{SHA}");
        push_image(&reg, &trepo, &t, &[&tag]).await.unwrap();
        let tb = pull_image(&reg, &trepo, &tag).await.unwrap();
        assert_eq!(tb.digest, t.digest);
        TrackingImage::from_image(tb).unwrap();
    });
}

#[test]
fn registry_store_conformance() {
    let Some(addr) = service("FORGE_TEST_REGISTRY") else { return };
    let Some(auth_addr) = service("FORGE_TEST_REGISTRY_AUTH") else { return };
    rt().block_on(async {
        image_store_conformance(&store(&addr, RegistryAuth::Anonymous), &unique_repo("conf")).await;
        image_store_conformance(&store(&auth_addr, creds()), &unique_repo("conf-auth")).await;
    });
}

#[test]
fn unchanged_repush_heads_each_blob_and_uploads_nothing() {
    let Some(addr) = service("FORGE_TEST_REGISTRY") else { return };
    rt().block_on(async {
        let repo = unique_repo("repush");
        let img = build_release_image(&release_input()).unwrap();
        let first = store(&addr, RegistryAuth::Anonymous);
        push_image(&first, &repo, &img, &[SHA]).await.unwrap();
        let s = first.stats();
        assert_eq!((s.head, s.post, s.put), (3, 3, 4), "{s:?}");

        let again = store(&addr, RegistryAuth::Anonymous);
        push_image(&again, &repo, &img, &[SHA]).await.unwrap();
        let s = again.stats();
        assert_eq!(s.head, 3, "one HEAD per blob (config + 2 layers): {s:?}");
        assert_eq!(s.put, 1, "only the manifest: {s:?}");
        assert_eq!((s.post, s.patch, s.get), (0, 0, 0), "nothing uploaded: {s:?}");
        assert_eq!(s.bytes_sent, img.manifest_bytes.len() as u64);
    });
}

#[test]
fn persistent_errors_fail_at_once_with_the_registry_message() {
    let Some(addr) = service("FORGE_TEST_REGISTRY") else { return };
    rt().block_on(async {
        let reg = store(&addr, RegistryAuth::Anonymous);
        let repo = unique_repo("missing");
        let err = OciError::from(reg.get_manifest(&repo, "nope").await.unwrap_err());
        let text = err.to_string();
        assert!(matches!(err, OciError::Store(forge_core::Error::NotFound { .. })), "{text}");
        assert!(text.contains("MANIFEST_UNKNOWN") || text.contains("NAME_UNKNOWN"), "{text}");
        assert_eq!(reg.stats().get, 1, "404 is not retried");
        assert!(!reg.has_blob(&repo, Digest::of(b"nothing").as_str()).await.unwrap());
        // A manifest pointing at missing blobs is refused with the registry's code.
        let img = build_release_image(&release_input()).unwrap();
        let e = reg.put_manifest(&repo, "x", MEDIA_TYPE_OCI_MANIFEST, img.manifest_bytes.clone()).await.unwrap_err();
        assert!(e.to_string().contains("MANIFEST_BLOB_UNKNOWN"), "{e}");
    });
}

#[test]
fn basic_auth_registry() {
    let Some(addr) = service("FORGE_TEST_REGISTRY_AUTH") else { return };
    rt().block_on(async {
        let repo = unique_repo("auth");
        let img = build_release_image(&release_input()).unwrap();
        let reg = store(&addr, creds());
        push_image(&reg, &repo, &img, &[SHA]).await.unwrap();
        assert_eq!(pull_image(&reg, &repo, SHA).await.unwrap(), img);
        assert!(format!("{reg:?}").contains("<redacted>"));

        let anon = store(&addr, RegistryAuth::Anonymous);
        let e = OciError::from(anon.get_manifest(&repo, SHA).await.unwrap_err());
        assert!(matches!(e, OciError::Store(forge_core::Error::Unauthorized { .. })), "{e}");
        assert_eq!(anon.stats().get, 1);

        let wrong = store(
            &addr,
            RegistryAuth::Basic { username: "forge".into(), password: SecretValue::from_string("wrong-pass".into()) },
        );
        let e = OciError::from(wrong.get_manifest(&repo, SHA).await.unwrap_err());
        assert!(matches!(e, OciError::Store(forge_core::Error::Unauthorized { .. })), "{e}");
        assert!(!e.to_string().contains("wrong-pass"));
        assert_eq!(wrong.stats().get, 2, "challenge, then one authenticated attempt, no retries");
    });
}

#[test]
fn connection_failures_are_retried_then_transient() {
    rt().block_on(async {
        // A port nobody listens on.
        let l = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
        let addr = l.local_addr().unwrap().to_string();
        drop(l);
        let reg = store(&addr, RegistryAuth::Anonymous);
        let err = reg.get_manifest("a/b", "t").await.unwrap_err();
        assert_eq!(err.class(), forge_core::ErrorClass::Transient, "{err}");
        assert_eq!(reg.stats().get, 3);
    });
}

/// A scripted HTTP server: answers each request with the next canned response (or the last
/// one), recording request heads.
async fn fake_server(responses: Vec<String>) -> (String, Arc<std::sync::Mutex<Vec<String>>>) {
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let addr = listener.local_addr().unwrap().to_string();
    let seen = Arc::new(std::sync::Mutex::new(Vec::new()));
    let n = Arc::new(AtomicUsize::new(0));
    let (seen2, addr2) = (seen.clone(), addr.clone());
    tokio::spawn(async move {
        loop {
            let Ok((mut sock, _)) = listener.accept().await else { return };
            let (seen, n, responses, addr) = (seen2.clone(), n.clone(), responses.clone(), addr2.clone());
            tokio::spawn(async move {
                loop {
                    let mut buf = Vec::new();
                    let mut b = [0u8; 4096];
                    while !buf.windows(4).any(|w| w == b"\r\n\r\n") {
                        match sock.read(&mut b).await {
                            Ok(0) | Err(_) => return,
                            Ok(k) => buf.extend_from_slice(&b[..k]),
                        }
                    }
                    seen.lock().unwrap().push(String::from_utf8_lossy(&buf).into_owned());
                    let i = n.fetch_add(1, Ordering::SeqCst).min(responses.len() - 1);
                    let r = responses[i].replace("{ADDR}", &addr);
                    if sock.write_all(r.as_bytes()).await.is_err() {
                        return;
                    }
                }
            });
        }
    });
    (addr, seen)
}

fn http(status: &str, headers: &[&str], body: &str) -> String {
    let mut s = format!("HTTP/1.1 {status}\r\ncontent-length: {}\r\n", body.len());
    for h in headers {
        s.push_str(h);
        s.push_str("\r\n");
    }
    s.push_str("\r\n");
    s.push_str(body);
    s
}

#[test]
fn bearer_token_flow_and_transient_statuses() {
    rt().block_on(async {
        let manifest =
            String::from_utf8(build_release_image(&release_input()).unwrap().manifest_bytes.to_vec()).unwrap();
        let (addr, seen) = fake_server(vec![
            http("503 Service Unavailable", &[], "busy"),
            http("429 Too Many Requests", &[], ""),
            http(
                "401 Unauthorized",
                &[r#"www-authenticate: Bearer realm="http://{ADDR}/token",service="fake",scope="repository:a/b:pull""#],
                r#"{"errors":[{"code":"UNAUTHORIZED","message":"authentication required"}]}"#,
            ),
            http("200 OK", &["content-type: application/json"], r#"{"token":"tok-123"}"#),
            http("200 OK", &["content-type: application/vnd.oci.image.manifest.v1+json"], &manifest),
        ])
        .await;
        let reg = store(&addr, creds());
        let m = reg.get_manifest("a/b", "t").await.unwrap();
        assert_eq!(m.bytes.len(), manifest.len());
        let seen = seen.lock().unwrap();
        assert_eq!(seen.len(), 5, "{seen:#?}");
        assert!(seen[3].starts_with("GET /token?service=fake&scope=repository%3Aa%2Fb%3Apull"), "{}", seen[3]);
        assert!(seen[3].to_ascii_lowercase().contains("authorization: basic "), "token endpoint gets basic creds");
        assert!(seen[4].to_ascii_lowercase().contains("authorization: bearer tok-123"));
        assert!(seen[4].to_ascii_lowercase().contains("accept: application/vnd.oci.image.manifest.v1+json"));
        assert_eq!(reg.stats().token, 1);
    });
    rt().block_on(async {
        // 403 fails at once with the registry's message.
        let (addr, seen) = fake_server(vec![http(
            "403 Forbidden",
            &[],
            r#"{"errors":[{"code":"DENIED","message":"no push for you"}]}"#,
        )])
        .await;
        let reg = store(&addr, RegistryAuth::Anonymous);
        let e = OciError::from(reg.get_blob("a/b", Digest::of(b"x").as_str()).await.unwrap_err());
        assert!(e.to_string().contains("DENIED: no push for you"), "{e}");
        assert!(matches!(e, OciError::Store(forge_core::Error::PermissionDenied { .. })));
        assert_eq!(seen.lock().unwrap().len(), 1);
    });
    rt().block_on(async {
        // A registry serving wrong bytes for a digest is caught.
        let (addr, _) = fake_server(vec![http("200 OK", &[], "not the content")]).await;
        let reg = store(&addr, RegistryAuth::Anonymous);
        let e = OciError::from(reg.get_blob("a/b", Digest::of(b"x").as_str()).await.unwrap_err());
        assert!(is_content_error(&e), "{e}");
    });
}

fn have(tool: &str) -> bool {
    Command::new(tool).arg("--version").output().is_ok_and(|o| o.status.success())
}

#[test]
fn skopeo_interop_both_ways() {
    let Some(addr) = service("FORGE_TEST_REGISTRY") else { return };
    if !have("skopeo") {
        assert!(std::env::var("FORGE_TEST_REQUIRE_SERVICES").as_deref() != Ok("1"), "skopeo missing");
        eprintln!("note: skipping, skopeo not installed");
        return;
    }
    rt().block_on(async {
        let reg = store(&addr, RegistryAuth::Anonymous);
        for (name, img, tag) in [
            ("release", build_release_image(&release_input()).unwrap(), SHA.to_owned()),
            ("tracking", build_tracking_image(&tracking_input()).unwrap(), format!("sha-{SHA}")),
        ] {
            let repo = unique_repo(name);
            push_image(&reg, &repo, &img, &[&tag]).await.unwrap();
            // registry -> skopeo -> OCI layout -> our layout store, byte-exact.
            let dir = tempfile::tempdir().unwrap();
            let oci = dir.path().join("oci");
            let out = Command::new("skopeo")
                .args(["copy", "--src-tls-verify=false"])
                .arg(format!("docker://{addr}/{repo}:{tag}"))
                .arg(format!("oci:{}:{tag}", oci.display()))
                .output()
                .unwrap();
            assert!(out.status.success(), "skopeo copy: {}", String::from_utf8_lossy(&out.stderr));
            let layout = LayoutStore::open(&oci).unwrap();
            let back = pull_image(&layout, "", &tag).await.unwrap();
            assert_eq!(back, img, "{name}: byte-exact through skopeo");
            if name == "release" {
                assert!(verify_release(&layout, "", &tag).await.unwrap().ok);
            }

            // umoci refuses artifacts (no image config, non-tar layers): recorded in the docs.
            if have("umoci") {
                let out = Command::new("umoci")
                    .args(["unpack", "--rootless", "--image"])
                    .arg(format!("{}:{tag}", oci.display()))
                    .arg(dir.path().join("bundle"))
                    .output()
                    .unwrap();
                eprintln!(
                    "umoci unpack {name}: success={} {}",
                    out.status.success(),
                    String::from_utf8_lossy(&out.stderr).trim()
                );
            }

            // our layout -> skopeo -> registry keeps the digest.
            let ours = tempfile::tempdir().unwrap();
            let ol = LayoutStore::open(ours.path()).unwrap();
            push_image(&ol, "", &img, &["x1"]).await.unwrap();
            let repo2 = unique_repo(&format!("{name}-from-layout"));
            let out = Command::new("skopeo")
                .args(["copy", "--dest-tls-verify=false"])
                .arg(format!("oci:{}:x1", ours.path().display()))
                .arg(format!("docker://{addr}/{repo2}:x1"))
                .output()
                .unwrap();
            assert!(out.status.success(), "skopeo copy from our layout: {}", String::from_utf8_lossy(&out.stderr));
            assert_eq!(pull_image(&reg, &repo2, "x1").await.unwrap().digest, img.digest);
        }
    });
}

/// A secret provider that hands out one value, standing in for `env`/`file`/`aws`.
struct OneSecret(String);

#[async_trait::async_trait]
impl forge_core::ports::SecretProvider for OneSecret {
    fn name(&self) -> &str {
        "test"
    }
    fn schema(&self) -> forge_core::ports::ProviderSchema {
        forge_core::ports::ProviderSchema::default()
    }
    async fn resolve(&self, _r: &forge_core::ports::SecretRef) -> forge_core::Result<SecretValue> {
        Ok(SecretValue::from_string(self.0.clone()))
    }
}

#[test]
fn credentials_resolved_through_the_secret_port() {
    let Some(addr) = service("FORGE_TEST_REGISTRY_AUTH") else { return };
    rt().block_on(async {
        let password = std::env::var("FORGE_TEST_REGISTRY_PASSWORD").unwrap_or_else(|_| "s3cret".into());
        let user = std::env::var("FORGE_TEST_REGISTRY_USER").unwrap_or_else(|_| "forge".into());
        let reference: forge_core::ports::SecretRef =
            serde_json::from_value(serde_json::json!({"provider": "test", "name": "REGISTRY_PASSWORD"})).unwrap();
        let auth = RegistryAuth::basic_from_secret(&OneSecret(password.clone()), user, &reference).await.unwrap();
        assert!(!format!("{auth:?}").contains(&password));
        let reg = store(&addr, auth);
        reg.ping().await.unwrap();
        let repo = unique_repo("secret");
        let img = build_tracking_image(&tracking_input()).unwrap();
        push_image(&reg, &repo, &img, &["t"]).await.unwrap();
        assert_eq!(reg.list_tags(&repo).await.unwrap(), ["t"]);
    });
}

#[test]
fn registry_path_prefix() {
    let Some(addr) = service("FORGE_TEST_REGISTRY") else { return };
    rt().block_on(async {
        let prefixed = store(&format!("{addr}/forge-prefix"), RegistryAuth::Anonymous);
        let repo = unique_repo("p");
        let img = build_release_image(&release_input()).unwrap();
        push_image(&prefixed, &repo, &img, &["t"]).await.unwrap();
        let plain = store(&addr, RegistryAuth::Anonymous);
        assert_eq!(pull_image(&plain, &format!("forge-prefix/{repo}"), "t").await.unwrap(), img);
    });
}

#[path = "../../bins/forge/src/cmd/release_verify.rs"]
mod release_verify;

#[test]
fn cli_release_verify_on_a_registry() {
    let Some(addr) = service("FORGE_TEST_REGISTRY") else { return };
    let repo = unique_repo("cli");
    let img = build_release_image(&release_input()).unwrap();
    rt().block_on(async { push_image(&store(&addr, RegistryAuth::Anonymous), &repo, &img, &[SHA]).await.unwrap() });
    assert_eq!(release_verify::run(&format!("{addr}/{repo}:{SHA}"), true).unwrap(), 0);
    assert_eq!(release_verify::run(&format!("{addr}/{repo}@{}", img.digest), false).unwrap(), 0);
    let err = release_verify::run(&format!("{addr}/{repo}:missing"), false).unwrap_err();
    assert!(format!("{err:#}").contains("not found"), "{err:#}");
}
