//! Packaging and verify+extract of a 1,000-resource (~5 MB YAML) release, with the SHA-256 of
//! the same bytes (in process, and the `sha256sum` tool) as the anchor.
#![allow(missing_docs, clippy::unwrap_used, clippy::expect_used)]

use std::hint::black_box;
use std::io::Write;

use bytes::Bytes;
use chrono::{TimeZone, Utc};
use criterion::{Criterion, criterion_group, criterion_main};
use forge_core::model::{ReleaseTrigger, TriggerType};
use forge_oci::{Digest, ExtractLimits, ReleaseImage, ReleaseInput, Resource, build_release_image};

fn input() -> ReleaseInput {
    let resources = (0..1000)
        .map(|i| {
            let mut yaml = format!(
                "apiVersion: apps/v1\nkind: Deployment\nmetadata:\n  name: svc-{i}\n  namespace: shop-web\n  labels:\n    app: svc-{i}\nspec:\n  replicas: 2\n  template:\n    spec:\n      containers:\n        - name: app\n          image: registry.example/acme/web@sha256:{}\n          env:\n",
                "ab".repeat(32)
            );
            let mut k = 0;
            while yaml.len() < 5200 {
                yaml.push_str(&format!("            - name: SETTING_{k:04}\n              value: \"value-{i}-{k}-lorem-ipsum-dolor\"\n"));
                k += 1;
            }
            Resource::new("Deployment", format!("svc-{i}"), Bytes::from(yaml)).unwrap()
        })
        .collect();
    ReleaseInput {
        id: "acme/shop/web/0123456789abcdef0123456789abcdef01234567".parse().unwrap(),
        number: 7,
        aliases: vec![],
        trigger: ReleaseTrigger {
            kind: TriggerType::BranchPush,
            branch: Some("main".into()),
            tag: None,
            actor: "ci".into(),
        },
        author: "ci".into(),
        message: "bench".into(),
        committed_at: Utc.with_ymd_and_hms(2026, 1, 1, 0, 0, 0).unwrap(),
        artifacts: vec![],
        resources,
    }
}

fn bench(c: &mut Criterion) {
    let input = input();
    let img = build_release_image(&input).unwrap();
    let tar = img.layers[1].clone();
    eprintln!("resources layer: {} bytes, {} resources", tar.len(), input.resources.len());

    let mut g = c.benchmark_group("release_1000");
    g.sample_size(20);
    g.bench_function("package", |b| b.iter(|| build_release_image(black_box(&input)).unwrap()));
    g.bench_function("verify_extract", |b| {
        b.iter(|| {
            let image = black_box(&img).clone();
            image.verify().unwrap();
            let rel = ReleaseImage::from_image(image).unwrap();
            rel.extract_resources(&ExtractLimits::default()).unwrap()
        })
    });
    g.bench_function("sha256_same_bytes", |b| b.iter(|| Digest::of(black_box(&tar))));

    let dir = tempfile::tempdir().unwrap();
    let file = dir.path().join("layer.tar");
    std::fs::File::create(&file).unwrap().write_all(&tar).unwrap();
    if std::process::Command::new("sha256sum").arg(&file).output().is_ok() {
        g.bench_function("sha256sum_tool", |b| {
            b.iter(|| std::process::Command::new("sha256sum").arg(&file).output().unwrap())
        });
    }
    g.finish();
}

criterion_group!(benches, bench);
criterion_main!(benches);
