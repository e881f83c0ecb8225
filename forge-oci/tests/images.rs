//! Builders, snapshots, reproducibility, layout store round trips and safe extraction.
#![allow(clippy::unwrap_used, clippy::expect_used)]

mod common;

use std::sync::Arc;

use bytes::Bytes;
use common::*;
use forge_core::ports::ImageStore;
use forge_oci::*;
use proptest::prelude::*;

fn rt() -> tokio::runtime::Runtime {
    tokio::runtime::Builder::new_multi_thread().worker_threads(2).enable_all().build().unwrap()
}

#[test]
fn release_manifest_snapshot() {
    let img = build_release_image(&release_input()).unwrap();
    insta::assert_json_snapshot!("release_manifest", json(&img.manifest_bytes));
    insta::assert_json_snapshot!("release_metadata", json(&img.layers[0]));
    // The digest pins byte-reproducibility across machines.
    insta::assert_snapshot!("release_digest", img.digest.to_string());
    let files = extract_tar(&img.layers[1], &ExtractLimits::default()).unwrap();
    let names: Vec<_> = files.iter().map(|f| f.name.as_str()).collect();
    assert_eq!(names, ["0001-Deployment-web-0.yaml", "0002-Service-web-1.yaml", "0003-ConfigMap-web-2.yaml"]);
}

#[test]
fn tracking_snapshots() {
    let img = build_tracking_image(&tracking_input()).unwrap();
    insta::assert_json_snapshot!("tracking_manifest", json(&img.manifest_bytes));
    insta::assert_json_snapshot!("tracking_metadata", json(&img.layers[0]));
    insta::assert_json_snapshot!("tracking_spdx", json(&img.layers[1]));
    insta::assert_json_snapshot!("tracking_attestation", json(&img.layers[2]));
    insta::assert_snapshot!("tracking_digest", img.digest.to_string());
    let t = TrackingImage::from_image(img).unwrap();
    assert_eq!(t.attestation.predicate_type, SLSA_PROVENANCE_V1);
}

#[test]
fn tar_entries_are_normalised() {
    let img = build_release_image(&release_input()).unwrap();
    let mut a = tar::Archive::new(&img.layers[1][..]);
    for e in a.entries().unwrap() {
        let e = e.unwrap();
        let h = e.header();
        assert_eq!(h.mode().unwrap(), 0o644);
        assert_eq!(h.uid().unwrap(), 0);
        assert_eq!(h.gid().unwrap(), 0);
        assert_eq!(h.mtime().unwrap(), 1_795_170_600);
        assert_eq!(h.username().unwrap(), Some(""));
        assert_eq!(h.groupname().unwrap(), Some(""));
    }
}

#[test]
fn wall_clock_does_not_matter() {
    let a = build_release_image(&release_input()).unwrap();
    std::thread::sleep(std::time::Duration::from_millis(1100));
    let b = build_release_image(&release_input()).unwrap();
    assert_eq!(a.digest, b.digest);
    let ta = build_tracking_image(&tracking_input()).unwrap();
    std::thread::sleep(std::time::Duration::from_millis(1100));
    assert_eq!(ta.digest, build_tracking_image(&tracking_input()).unwrap().digest);
}

proptest! {
    #![proptest_config(ProptestConfig { cases: 24, failure_persistence: None, ..ProptestConfig::default() })]

    /// Shuffled aliases and artifacts, a different sub-second commit time and a different
    /// temporary layout directory all give one digest, also after a store round trip.
    #[test]
    fn one_digest(seed in any::<u64>(), nanos in 0u32..1_000_000_000) {
        use rand_shuffle::shuffle;
        let base = build_release_image(&release_input()).unwrap();
        let mut input = release_input();
        shuffle(&mut input.aliases, seed);
        shuffle(&mut input.artifacts, seed.rotate_left(7));
        input.aliases.push(input.aliases[0].clone());
        input.committed_at += chrono::Duration::nanoseconds(i64::from(nanos));
        let img = build_release_image(&input).unwrap();
        prop_assert_eq!(&img.digest, &base.digest);

        let dir = tempfile::tempdir().unwrap();
        let store = LayoutStore::open(dir.path().join(format!("x{seed}"))).unwrap();
        let pulled = rt().block_on(async {
            push_image(&store, REPO, &img, &[SHA]).await?;
            pull_image(&store, REPO, SHA).await
        }).unwrap();
        prop_assert_eq!(pulled.digest, base.digest);
    }

    /// Resource order is significant: declaration order is the file order.
    #[test]
    fn resources_keep_declaration_order(n in 1usize..20, seed in any::<u64>()) {
        let mut input = release_input();
        input.resources = common::resources(n);
        rand_shuffle::shuffle(&mut input.resources, seed);
        let img = build_release_image(&input).unwrap();
        let rel = ReleaseImage::from_image(img).unwrap();
        let files = rel.extract_resources(&ExtractLimits::default()).unwrap();
        for (i, (f, r)) in files.iter().zip(&input.resources).enumerate() {
            prop_assert_eq!(&f.name, &r.file_name(i));
            prop_assert_eq!(&f.data[..], &r.yaml()[..]);
        }
    }

    /// Any name with an unsafe component is refused, and nothing is written.
    #[test]
    fn unsafe_names_rejected(prefix in "[a-z]{0,5}", evil in prop::sample::select(vec!["../", "/", "./", "a/../../", "../../", "x\\..\\y"])) {
        let name = format!("{evil}{prefix}evil.yaml");
        let t = raw_tar(&[(b"ok.yaml", b'0', b"", b"a: 1\n"), (name.as_bytes(), b'0', b"", b"pwned\n")]);
        let dir = tempfile::tempdir().unwrap();
        let target = dir.path().join("out");
        let err = extract_tar_to_dir(&t, &target, &ExtractLimits::default()).unwrap_err();
        prop_assert!(matches!(err, OciError::UnsafeArchive { .. }), "{err}");
        prop_assert!(!target.exists());
        prop_assert_eq!(std::fs::read_dir(dir.path()).unwrap().count(), 0);
    }

    /// Arbitrary bytes never panic the extractor or the manifest parser.
    #[test]
    fn garbage_never_panics(data in prop::collection::vec(any::<u8>(), 0..4096)) {
        let _ = extract_tar(&data, &ExtractLimits::default());
        let _ = ImageManifest::parse(&data);
        let _ = ImageIndex::parse(&data);
    }
}

mod rand_shuffle {
    /// Fisher-Yates with a tiny deterministic generator.
    pub fn shuffle<T>(v: &mut [T], mut seed: u64) {
        for i in (1..v.len()).rev() {
            seed ^= seed << 13;
            seed ^= seed >> 7;
            seed ^= seed << 17;
            let j = (seed % (i as u64 + 1)) as usize;
            v.swap(i, j);
        }
    }
}

#[test]
fn malicious_layers_rejected_with_reason() {
    let limits = ExtractLimits::default();
    let cases: Vec<(Vec<u8>, &str)> = vec![
        (raw_tar(&[(b"/etc/passwd", b'0', b"", b"x")]), "absolute path"),
        (raw_tar(&[(b"../../x", b'0', b"", b"x")]), "`..` component"),
        (raw_tar(&[(b"link", b'2', b"/etc/passwd", b"")]), "not a regular file"),
        (raw_tar(&[(b"hard", b'1', b"/etc/passwd", b"")]), "not a regular file"),
        (raw_tar(&[(b"dir/", b'5', b"", b"")]), "not a regular file"),
        (raw_tar(&[(b"dev", b'3', b"", b"")]), "not a regular file"),
        (raw_tar(&[(b"a", b'0', b"", b"1"), (b"a", b'0', b"", b"2")]), "duplicate"),
        // A PAX header or a GNU long name that rewrites an innocent name.
        (
            raw_tar(&[(b"PaxHeader", b'x', b"", b"19 path=../../evil\n"), (b"innocent", b'0', b"", b"x")]),
            "`..` component",
        ),
        (
            raw_tar(&[(b"././@LongLink", b'L', b"", b"/etc/cron.d/x\0"), (b"innocent", b'0', b"", b"x")]),
            "absolute path",
        ),
        (raw_tar(&[(b"PaxHeader", b'x', b"", b"20 linkpath=/etc/pw\n"), (b"l", b'2', b"", b"")]), "not a regular file"),
    ];
    for (t, why) in cases {
        let err = extract_tar(&t, &limits).unwrap_err();
        assert!(err.to_string().contains(why), "{err} should mention {why}");
    }
    let many: Vec<(Vec<u8>, Vec<u8>)> = (0..11).map(|i| (format!("f{i}").into_bytes(), b"x".to_vec())).collect();
    let entries: Vec<RawEntry<'_>> = many.iter().map(|(n, d)| (&n[..], b'0', &b""[..], &d[..])).collect();
    let small = ExtractLimits { max_entries: 10, ..limits };
    assert!(matches!(extract_tar(&raw_tar(&entries), &small), Err(OciError::LimitExceeded { .. })));
    let big = raw_tar(&[(b"big", b'0', b"", &[b'a'; 2000])]);
    let tiny = ExtractLimits { max_file_bytes: 1000, ..limits };
    assert!(extract_tar(&big, &tiny).unwrap_err().to_string().contains("size of `big`"));
    let total = ExtractLimits { max_total_bytes: 1500, ..limits };
    let two = raw_tar(&[(b"a", b'0', b"", &[b'a'; 1000]), (b"b", b'0', b"", &[b'a'; 1000])]);
    assert!(extract_tar(&two, &total).unwrap_err().to_string().contains("total extracted size"));
    // Truncated content.
    let mut cut = raw_tar(&[(b"a", b'0', b"", &[b'a'; 1000])]);
    cut.truncate(700);
    assert!(extract_tar(&cut, &limits).is_err());
}

#[test]
fn extraction_to_dir_refuses_non_empty_target() {
    let img = build_release_image(&release_input()).unwrap();
    let rel = ReleaseImage::from_image(img).unwrap();
    let dir = tempfile::tempdir().unwrap();
    let names = rel.extract_resources_to_dir(&dir.path().join("out"), &ExtractLimits::default()).unwrap();
    assert_eq!(names.len(), 3);
    assert!(rel.extract_resources_to_dir(&dir.path().join("out"), &ExtractLimits::default()).is_err());
    let stream = rel.resources_yaml_stream(&ExtractLimits::default()).unwrap();
    assert_eq!(String::from_utf8(stream).unwrap().matches("---\n").count(), 3);
}

#[test]
fn layout_round_trip_verify_reproduce() {
    rt().block_on(async {
        let dir = tempfile::tempdir().unwrap();
        let store = LayoutStore::open(dir.path()).unwrap();
        let img = build_release_image(&release_input()).unwrap();
        push_image(&store, REPO, &img, &[SHA, "v1.2.3", "42"]).await.unwrap();
        assert_eq!(store.list_tags(REPO).await.unwrap(), [SHA, "42", "v1.2.3"]);
        let report = verify_release(&store, REPO, SHA).await.unwrap();
        assert!(report.ok, "{report:#?}");
        assert_eq!(report.resource_count, Some(3));
        let by_digest = verify_release(&store, REPO, img.digest.as_str()).await.unwrap();
        assert!(by_digest.ok);
        let r = reproduce_release(&store, REPO, "v1.2.3").await.unwrap();
        assert!(r.identical, "{r:?}");
        let rel = pull_release(&store, REPO, "42").await.unwrap();
        assert_eq!(rel.metadata.release.number, 42);
        // Layout files are valid.
        let layout: serde_json::Value =
            serde_json::from_slice(&std::fs::read(dir.path().join("oci-layout")).unwrap()).unwrap();
        assert_eq!(layout["imageLayoutVersion"], "1.0.0");
        let index = ImageIndex::parse(&std::fs::read(dir.path().join("index.json")).unwrap()).unwrap();
        assert_eq!(index.manifests.len(), 3);
        assert_eq!(
            index.manifests[0].annotation(ANNOTATION_REF_NAME),
            Some("acme/shop/web:0123456789abcdef0123456789abcdef01234567")
        );
        assert_eq!(index.manifests[0].artifact_type.as_deref(), Some(ARTIFACT_TYPE_RELEASE));
        // Re-push writes nothing new and keeps one entry per tag.
        push_image(&store, REPO, &img, &[SHA]).await.unwrap();
        assert_eq!(
            ImageIndex::parse(&std::fs::read(dir.path().join("index.json")).unwrap()).unwrap().manifests.len(),
            3
        );
        // Missing things are NotFound.
        let e = OciError::from(store.get_manifest(REPO, "nope").await.unwrap_err());
        assert!(matches!(e, OciError::Store(forge_core::Error::NotFound { .. })), "{e}");
        // Tracking image too.
        let t = build_tracking_image(&tracking_input()).unwrap();
        push_image(&store, "acme/shop/web/cli", &t, &[&format!("sha-{SHA}")]).await.unwrap();
        let back = pull_image(&store, "acme/shop/web/cli", &format!("sha-{SHA}")).await.unwrap();
        assert_eq!(back, t);
    });
}

#[test]
fn tampering_is_detected() {
    rt().block_on(async {
        let dir = tempfile::tempdir().unwrap();
        let store = LayoutStore::open(dir.path()).unwrap();
        let img = build_release_image(&release_input()).unwrap();
        push_image(&store, REPO, &img, &[SHA]).await.unwrap();
        let layer = &img.manifest.layers[1].digest;
        let path = dir.path().join("blobs/sha256").join(layer.hex());
        let mut data = std::fs::read(&path).unwrap();
        data[600] ^= 1;
        std::fs::write(&path, &data).unwrap();
        let report = verify_release(&store, REPO, SHA).await.unwrap();
        assert!(!report.ok);
        let failed: Vec<_> = report.failures().map(|c| c.name.clone()).collect();
        assert_eq!(failed, ["layer 1 (resources)"]);
        let err = pull_image(&store, REPO, SHA).await.unwrap_err();
        assert!(is_content_error(&err), "{err}");
        // A metadata layer whose resources digest lies is caught even with valid blob digests.
        let mut input = release_input();
        input.resources.pop();
        let other = build_release_image(&input).unwrap();
        let mut m = img.manifest.clone();
        m.layers[1] = other.manifest.layers[1].clone();
        let forged = BuiltImage {
            manifest_bytes: Bytes::from(m.to_bytes()),
            digest: Digest::of(&m.to_bytes()),
            manifest: m,
            config: img.config.clone(),
            layers: vec![img.layers[0].clone(), other.layers[1].clone()],
        };
        forged.verify().unwrap();
        let err = ReleaseImage::from_image(forged).unwrap_err();
        assert!(err.to_string().contains("resources digest in metadata"), "{err}");
    });
}

#[test]
fn concurrent_writers_in_one_process() {
    rt().block_on(async {
        let dir = tempfile::tempdir().unwrap();
        let img = build_release_image(&release_input()).unwrap();
        let mut tasks = Vec::new();
        for i in 0..24 {
            // Separate store values on the same directory share one lock.
            let store = Arc::new(LayoutStore::open(dir.path()).unwrap());
            let img = img.clone();
            tasks.push(tokio::spawn(async move { push_image(store.as_ref(), REPO, &img, &[&format!("t{i}")]).await }));
        }
        for t in tasks {
            t.await.unwrap().unwrap();
        }
        let store = LayoutStore::open(dir.path()).unwrap();
        assert_eq!(store.list_tags(REPO).await.unwrap().len(), 24);
        let leftovers: Vec<_> = std::fs::read_dir(dir.path())
            .unwrap()
            .filter_map(|e| e.ok())
            .filter(|e| e.file_name().to_string_lossy().starts_with(".forge-tmp"))
            .collect();
        assert!(leftovers.is_empty());
    });
}

#[test]
fn copy_between_layouts_and_by_digest() {
    rt().block_on(async {
        let a = tempfile::tempdir().unwrap();
        let b = tempfile::tempdir().unwrap();
        let src = LayoutStore::open(a.path()).unwrap();
        let dst = LayoutStore::open(b.path()).unwrap();
        let img = build_release_image(&release_input()).unwrap();
        push_image(&src, REPO, &img, &[SHA]).await.unwrap();
        let d = copy(&src, &dst, REPO, SHA).await.unwrap();
        assert_eq!(d, img.digest);
        assert_eq!(pull_image(&dst, REPO, img.digest.as_str()).await.unwrap(), img);
        // Into the plain-tag namespace (repository "") that skopeo uses.
        copy_image(&src, REPO, &dst, "", SHA, &["latest"]).await.unwrap();
        assert_eq!(dst.list_tags("").await.unwrap(), ["latest"]);
    });
}

#[test]
fn sbom_from_archives() {
    let t = write_deterministic_tar([("bin/web", &b"binary"[..]), ("README", &b"hi"[..])], 0).unwrap();
    let files = sbom_files_from_tar(&t, &ExtractLimits::default()).unwrap();
    assert_eq!(files.iter().map(|f| f.path.as_str()).collect::<Vec<_>>(), ["README", "bin/web"]);
    let mut gz = flate2::write::GzEncoder::new(Vec::new(), flate2::Compression::fast());
    std::io::Write::write_all(&mut gz, &t).unwrap();
    let tgz = gz.finish().unwrap();
    assert_eq!(sbom_files_from_tar_gz(&tgz, &ExtractLimits::default()).unwrap(), files);
    assert_eq!(files[1].sha256, "9a3a45d01531a20e89ac6ae10b0b0beb0492acd7216a368aa062d1a5fecaf9cd");
}

#[test]
fn resource_validation() {
    assert!(Resource::new("Deployment", "../x", "a").is_err());
    assert!(Resource::new("Deploy-ment", "x", "a").is_err());
    assert!(Resource::from_yaml("kind: Service\n").is_err());
    let r = Resource::from_yaml("kind: Service\nmetadata:\n  name: web\n").unwrap();
    assert_eq!(r.file_name(9), "0010-Service-web.yaml");
}

/// The CLI glue of `forge release verify` (bins/forge/src/cmd/release_verify.rs), compiled and
/// exercised here so it stays in step with this crate.
#[cfg(feature = "registry")]
#[path = "../../bins/forge/src/cmd/release_verify.rs"]
mod release_verify;

#[cfg(feature = "registry")]
#[test]
fn cli_release_verify_on_a_layout() {
    let dir = tempfile::tempdir().unwrap();
    let img = build_release_image(&release_input()).unwrap();
    rt().block_on(async {
        let store = LayoutStore::open(dir.path()).unwrap();
        push_image(&store, REPO, &img, &[SHA]).await.unwrap();
        let t = build_tracking_image(&tracking_input()).unwrap();
        push_image(&store, "acme/shop/web/cli", &t, &["sha-x"]).await.unwrap();
    });
    let p = dir.path().display().to_string();
    assert_eq!(release_verify::run(&p, true).unwrap(), 0);
    assert_eq!(release_verify::run(&format!("{p}:{REPO}:{SHA}"), false).unwrap(), 0);
    assert_eq!(release_verify::run(&format!("{p}@{}", img.digest), false).unwrap(), 0);
    // Tamper with the metadata layer: exit code 1.
    let path = dir.path().join("blobs/sha256").join(img.manifest.layers[0].digest.hex());
    let mut data = std::fs::read(&path).unwrap();
    data[10] ^= 1;
    std::fs::write(&path, &data).unwrap();
    assert_eq!(release_verify::run(&p, false).unwrap(), 1);
    assert!(release_verify::run(&format!("{p}:nope"), false).is_err());
}

#[test]
fn image_locations() {
    let l = ImageLocation::parse("127.0.0.1:5000/acme/shop/web:abc").unwrap();
    assert_eq!(
        l,
        ImageLocation::Registry {
            registry: "127.0.0.1:5000".parse().unwrap(),
            repository: "acme/shop/web".into(),
            reference: "abc".into()
        }
    );
    let d = Digest::of(b"x");
    let l = ImageLocation::parse(&format!("registry.example/acme/shop/web@{d}")).unwrap();
    assert!(matches!(l, ImageLocation::Registry { reference, .. } if reference == d.as_str()));
    let l = ImageLocation::parse("127.0.0.1:5000/acme/web").unwrap();
    assert!(matches!(l, ImageLocation::Registry { reference, .. } if reference == "latest"));
    assert!(ImageLocation::parse("justaname").is_err());
}

#[test]
fn layout_store_conformance() {
    rt().block_on(async {
        let dir = tempfile::tempdir().unwrap();
        let store = LayoutStore::open(dir.path()).unwrap();
        image_store_conformance(&store, REPO).await;
        image_store_conformance(&store, "").await;
    });
}
