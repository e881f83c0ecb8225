//! Shared test fixtures.
#![allow(dead_code, clippy::unwrap_used, clippy::expect_used)]

use bytes::Bytes;
use chrono::{TimeZone, Utc};
use forge_core::model::{AliasKind, ArtifactType, ReleaseAlias, ReleaseTrigger, TriggerType};
use forge_oci::*;

pub const SHA: &str = "0123456789abcdef0123456789abcdef01234567";
pub const REPO: &str = "acme/shop/web";

pub fn resources(n: usize) -> Vec<Resource> {
    (0..n)
        .map(|i| {
            let kind = if i % 3 == 0 { "Deployment" } else if i % 3 == 1 { "Service" } else { "ConfigMap" };
            let name = format!("web-{i}");
            let yaml = format!("apiVersion: v1\nkind: {kind}\nmetadata:\n  name: {name}\n  namespace: shop-web\ndata:\n  index: \"{i}\"\n");
            Resource::new(kind, name, Bytes::from(yaml)).unwrap()
        })
        .collect()
}

pub fn release_input() -> ReleaseInput {
    ReleaseInput {
        id: format!("acme/shop/web/{SHA}").parse().unwrap(),
        number: 42,
        aliases: vec![
            ReleaseAlias { kind: AliasKind::Tag, alias: "v1.2.3".into() },
            ReleaseAlias { kind: AliasKind::Numeric, alias: "42".into() },
            ReleaseAlias { kind: AliasKind::Branch, alias: "main-42".into() },
        ],
        trigger: ReleaseTrigger {
            kind: TriggerType::Tag,
            branch: None,
            tag: Some("v1.2.3".into()),
            actor: "ci-bot".into(),
        },
        author: "Ada Lovelace <ada@example.com>".into(),
        message: "Add the checkout page\n\nLonger body.".into(),
        committed_at: Utc.with_ymd_and_hms(2026, 11, 20, 10, 30, 0).unwrap(),
        artifacts: vec![
            ArtifactEntry {
                name: "web".parse().unwrap(),
                kind: ArtifactType::Container,
                digest: format!("sha256:{}", "a".repeat(64)),
                tracking_ref: format!("tracking.example/acme/shop/web/web:sha-{SHA}"),
                primary_uri: Some("registry.example/acme/web:v1.2.3".into()),
            },
            ArtifactEntry {
                name: "cli".parse().unwrap(),
                kind: ArtifactType::Binary,
                digest: format!("sha256:{}", "b".repeat(64)),
                tracking_ref: format!("tracking.example/acme/shop/web/cli:sha-{SHA}"),
                primary_uri: None,
            },
        ],
        resources: resources(3),
    }
}

pub fn tracking_input() -> TrackingInput {
    let tref: forge_core::TrackingRef = format!("tracking.example/acme/shop/web/cli:sha-{SHA}").parse().unwrap();
    let committed = Utc.with_ymd_and_hms(2026, 11, 20, 10, 30, 0).unwrap();
    let bin = b"\x7fELF fake binary".to_vec();
    let digest = Digest::of(&bin);
    let sbom = SpdxDocument::generate(&SbomInput {
        name: "cli".into(),
        version: SHA.into(),
        namespace: tref.to_string(),
        created: committed,
        artifact_digest: digest.clone(),
        files: vec![SbomFile::from_bytes("cli", &bin)],
    });
    TrackingInput {
        tracking_ref: tref,
        kind: ArtifactType::Binary,
        digest,
        published: vec![PublishedLocation {
            publisher: "github".into(),
            uri: "https://github.com/acme/shop/releases/v1.2.3/cli".into(),
        }],
        build: BuildInfo {
            run_id: Some("6f1c1f3e-0000-4000-8000-000000000001".into()),
            producer: "earthly".into(),
            target: Some("./services/web+cli".into()),
            args: vec![],
            started_at: Utc.with_ymd_and_hms(2026, 11, 20, 10, 31, 0).unwrap(),
            finished_at: Utc.with_ymd_and_hms(2026, 11, 20, 10, 33, 20).unwrap(),
        },
        sources: vec![],
        committed_at: committed,
        sbom: Sbom::Spdx(Box::new(sbom)),
    }
}

pub fn json(bytes: &[u8]) -> serde_json::Value {
    serde_json::from_slice(bytes).unwrap()
}

/// Writes a tar by hand (for malicious layers): (name, type flag, link target, content).
/// (name, type flag, link target, content).
pub type RawEntry<'a> = (&'a [u8], u8, &'a [u8], &'a [u8]);

pub fn raw_tar(entries: &[RawEntry<'_>]) -> Vec<u8> {
    let mut out = Vec::new();
    for (name, kind, link, data) in entries {
        let mut h = [0u8; 512];
        h[..name.len().min(100)].copy_from_slice(&name[..name.len().min(100)]);
        h[100..107].copy_from_slice(b"0000644");
        h[108..115].copy_from_slice(b"0000000");
        h[116..123].copy_from_slice(b"0000000");
        let size = format!("{:011o}", data.len());
        h[124..135].copy_from_slice(size.as_bytes());
        h[136..147].copy_from_slice(b"00000000000");
        h[156] = *kind;
        h[157..157 + link.len().min(100)].copy_from_slice(&link[..link.len().min(100)]);
        h[257..263].copy_from_slice(b"ustar\0");
        h[263..265].copy_from_slice(b"00");
        h[148..156].copy_from_slice(b"        ");
        let sum: u32 = h.iter().map(|&b| b as u32).sum();
        let cks = format!("{sum:06o}\0 ");
        h[148..156].copy_from_slice(cks.as_bytes());
        out.extend_from_slice(&h);
        out.extend_from_slice(data);
        let pad = (512 - data.len() % 512) % 512;
        out.extend(std::iter::repeat_n(0u8, pad));
    }
    out.extend([0u8; 1024]);
    out
}

/// Reads a required service address; fails when FORGE_TEST_REQUIRE_SERVICES=1, else None
/// (the caller skips with a note).
pub fn service(var: &str) -> Option<String> {
    match std::env::var(var) {
        Ok(v) if !v.is_empty() => Some(v),
        _ => {
            if std::env::var("FORGE_TEST_REQUIRE_SERVICES").as_deref() == Ok("1") {
                panic!(
                    "{var} is not set and FORGE_TEST_REQUIRE_SERVICES=1; run `bash scripts/services.sh up && source scripts/services.env`"
                );
            }
            eprintln!("note: skipping, {var} is not set (run scripts/services.sh up and source scripts/services.env)");
            None
        }
    }
}

/// The `ImageStore` port contract, run against every adapter.
pub async fn image_store_conformance(store: &dyn forge_core::ports::ImageStore, repo: &str) {
    let blob = Bytes::from(format!("blob for {repo}"));
    let d = Digest::of(&blob);
    assert!(!store.has_blob(repo, d.as_str()).await.unwrap());
    let missing = store.get_blob(repo, d.as_str()).await.unwrap_err();
    assert!(matches!(missing, forge_core::Error::NotFound { .. }), "{missing}");
    // A blob whose bytes do not match the digest is refused.
    assert!(store.put_blob(repo, d.as_str(), Bytes::from_static(b"other")).await.is_err());
    store.put_blob(repo, d.as_str(), blob.clone()).await.unwrap();
    store.put_blob(repo, d.as_str(), blob.clone()).await.unwrap(); // idempotent
    assert!(store.has_blob(repo, d.as_str()).await.unwrap());
    assert_eq!(store.get_blob(repo, d.as_str()).await.unwrap(), blob);
    assert!(store.has_blob(repo, "sha256:nothex").await.is_err());

    let img = build_release_image(&release_input()).unwrap();
    for (desc, data) in img.blobs() {
        store.put_blob(repo, desc.digest.as_str(), data.clone()).await.unwrap();
    }
    let mt = MEDIA_TYPE_OCI_MANIFEST;
    assert_eq!(store.put_manifest(repo, "b-tag", mt, img.manifest_bytes.clone()).await.unwrap(), img.digest.as_str());
    assert_eq!(store.put_manifest(repo, "a-tag", mt, img.manifest_bytes.clone()).await.unwrap(), img.digest.as_str());
    assert_eq!(
        store.put_manifest(repo, img.digest.as_str(), mt, img.manifest_bytes.clone()).await.unwrap(),
        img.digest.as_str()
    );
    // By digest with the wrong bytes is refused.
    assert!(store.put_manifest(repo, d.as_str(), mt, img.manifest_bytes.clone()).await.is_err());
    for r in ["a-tag", "b-tag", img.digest.as_str()] {
        let m = store.get_manifest(repo, r).await.unwrap();
        assert_eq!(m.bytes, img.manifest_bytes);
        assert_eq!(m.digest, img.digest.as_str());
        assert_eq!(m.media_type, mt);
    }
    assert_eq!(store.list_tags(repo).await.unwrap(), ["a-tag", "b-tag"]);
    let e = store.get_manifest(repo, "missing-tag").await.unwrap_err();
    assert!(matches!(e, forge_core::Error::NotFound { .. }), "{e}");
    // Re-tagging moves the tag.
    let other = build_tracking_image(&tracking_input()).unwrap();
    for (desc, data) in other.blobs() {
        store.put_blob(repo, desc.digest.as_str(), data.clone()).await.unwrap();
    }
    store.put_manifest(repo, "a-tag", mt, other.manifest_bytes.clone()).await.unwrap();
    assert_eq!(store.get_manifest(repo, "a-tag").await.unwrap().digest, other.digest.as_str());
    assert_eq!(store.list_tags(repo).await.unwrap(), ["a-tag", "b-tag"]);
}
