//! End to end: build a release with forge-oci, push it to the local registry and to an OCI
//! layout, write a pointer, run the real `forge-cmp` binary; then malicious and broken inputs.

use std::collections::BTreeMap;
use std::path::{Path, PathBuf};
use std::process::{Command, Output};
use std::time::{Duration, Instant};

use bytes::Bytes;
use chrono::{TimeZone, Utc};
use forge_core::model::{AliasKind, ReleaseAlias, ReleaseTrigger, TriggerType};
use forge_core::ports::ImageStore;
use forge_core::{CanonicalId, Repository};
use forge_oci::{
    ANNOTATION_LAYER_TYPE, BuiltImage, Descriptor, Digest, LayoutStore, MEDIA_TYPE_RELEASE_METADATA,
    MEDIA_TYPE_RELEASE_RESOURCES, RegistryConfig, RegistryStore, ReleaseInput, Resource, build_release_image,
    push_image,
};

type TestResult = Result<(), Box<dyn std::error::Error>>;
type R<T> = Result<T, Box<dyn std::error::Error>>;

const SHA: &str = "1111111111111111111111111111111111111111";

fn unique(prefix: &str) -> String {
    let nanos = std::time::SystemTime::now().duration_since(std::time::UNIX_EPOCH).map(|d| d.as_nanos()).unwrap_or(0);
    format!("{prefix}{}-{nanos}", std::process::id())
}

fn release(owner: &str, sha: &str, number: u64, resources: usize) -> R<BuiltImage> {
    let mut res = Vec::with_capacity(resources);
    for i in 0..resources {
        let (kind, yaml) = if i % 3 == 2 {
            (
                "Service",
                format!(
                    "apiVersion: v1\nkind: Service\nmetadata:\n  name: svc-{i}\nspec:\n  ports:\n  - port: {}\n",
                    8000 + i
                ),
            )
        } else {
            (
                "ConfigMap",
                format!("apiVersion: v1\nkind: ConfigMap\nmetadata:\n  name: cm-{i}\ndata:\n  index: \"{i}\"\n"),
            )
        };
        res.push(Resource::new(kind, format!("{}-{i}", kind.to_ascii_lowercase()), yaml)?);
    }
    let input = ReleaseInput {
        id: CanonicalId::new(Repository::new(owner, "shop")?, "web".parse()?, sha.parse()?),
        number,
        aliases: vec![ReleaseAlias { kind: AliasKind::Tag, alias: "v1.0.0".into() }],
        trigger: ReleaseTrigger {
            kind: TriggerType::Tag,
            branch: None,
            tag: Some("v1.0.0".into()),
            actor: "ci".into(),
        },
        author: "alice".into(),
        message: "release".into(),
        committed_at: Utc.with_ymd_and_hms(2026, 11, 1, 12, 0, 0).single().ok_or("time")?,
        artifacts: vec![],
        resources: res,
    };
    Ok(build_release_image(&input)?)
}

/// Re-assembles an image with replaced layers (and optionally a lying size for the resources).
fn craft(base: &BuiltImage, metadata: Vec<u8>, resources: Vec<u8>, resources_size: Option<u64>) -> BuiltImage {
    let mut manifest = base.manifest.clone();
    let mut res_desc =
        Descriptor::of(MEDIA_TYPE_RELEASE_RESOURCES, &resources).with_annotation(ANNOTATION_LAYER_TYPE, "resources");
    if let Some(size) = resources_size {
        res_desc.size = size;
    }
    manifest.layers = vec![
        Descriptor::of(MEDIA_TYPE_RELEASE_METADATA, &metadata).with_annotation(ANNOTATION_LAYER_TYPE, "metadata"),
        res_desc,
    ];
    let manifest_bytes = Bytes::from(manifest.to_bytes());
    BuiltImage {
        digest: Digest::of(&manifest_bytes),
        manifest,
        manifest_bytes,
        config: base.config.clone(),
        layers: vec![Bytes::from(metadata), Bytes::from(resources)],
    }
}

fn metadata_with(base: &BuiltImage, digest: &str, count: u64) -> R<Vec<u8>> {
    let mut v: serde_json::Value = serde_json::from_slice(&base.layers[0])?;
    v["resources"]["digest"] = digest.into();
    v["resources"]["count"] = count.into();
    Ok(serde_json::to_vec(&v)?)
}

/// A one-entry ustar archive, name unchecked.
fn raw_tar(name: &str, data: &[u8]) -> Vec<u8> {
    let mut h = [0u8; 512];
    h[..name.len().min(100)].copy_from_slice(&name.as_bytes()[..name.len().min(100)]);
    h[100..108].copy_from_slice(b"0000644\0");
    h[108..116].copy_from_slice(b"0000000\0");
    h[116..124].copy_from_slice(b"0000000\0");
    h[124..136].copy_from_slice(format!("{:011o}\0", data.len()).as_bytes());
    h[136..148].copy_from_slice(b"00000000000\0");
    h[148..156].copy_from_slice(b"        ");
    h[156] = b'0';
    h[257..263].copy_from_slice(b"ustar\0");
    h[263..265].copy_from_slice(b"00");
    let sum: u32 = h.iter().map(|b| u32::from(*b)).sum();
    h[148..156].copy_from_slice(format!("{sum:06o}\0 ").as_bytes());
    let mut out = h.to_vec();
    out.extend_from_slice(data);
    out.resize(out.len().div_ceil(512) * 512 + 1024, 0);
    out
}

fn pointer_text(sha: &str, number: u64) -> String {
    format!(
        "apiVersion: forge.projectcatalyst.io/v1\nkind: ReleasePointer\nmetadata:\n  name: web\n  environment: dev\nspec:\n  release: \"{sha}\"\n  aliases:\n    numeric: {number}\n    tag: v1.0.0\n  deployedAt: \"2026-11-28T12:00:00Z\"\n  deployedBy: alice\n"
    )
}

/// Writes a pointer at `environments/dev/<owner>/shop/web/release.yaml` below `root`.
fn write_pointer(root: &Path, owner: &str, text: &str) -> R<PathBuf> {
    let dir = root.join("environments/dev").join(owner).join("shop/web");
    std::fs::create_dir_all(&dir)?;
    std::fs::write(dir.join("release.yaml"), text)?;
    Ok(dir)
}

fn run(dir: &Path, env: &[(&str, String)]) -> R<Output> {
    let mut cmd = Command::new(env!("CARGO_BIN_EXE_forge-cmp"));
    cmd.arg("generate").current_dir(dir).env_clear().env("PATH", std::env::var_os("PATH").unwrap_or_default());
    cmd.env("ARGOCD_APP_NAME", "web-dev").env("ARGOCD_APP_NAMESPACE", "argocd");
    for (k, v) in env {
        cmd.env(k, v);
    }
    Ok(cmd.output()?)
}

fn ok_stdout(out: &Output) -> R<String> {
    if !out.status.success() {
        return Err(format!("forge-cmp failed: {}", String::from_utf8_lossy(&out.stderr)).into());
    }
    assert!(out.stderr.is_empty(), "stderr: {}", String::from_utf8_lossy(&out.stderr));
    Ok(String::from_utf8(out.stdout.clone())?)
}

/// Asserts a failure: non-zero exit, nothing on stdout, one line on stderr; returns it.
fn failure(out: &Output) -> String {
    let stderr = String::from_utf8_lossy(&out.stderr).into_owned();
    assert!(!out.status.success(), "expected failure, got success");
    assert!(out.stdout.is_empty(), "stdout not empty: {}", String::from_utf8_lossy(&out.stdout));
    assert_eq!(stderr.lines().count(), 1, "not one line: {stderr}");
    assert!(stderr.starts_with("forge-cmp: "), "{stderr}");
    stderr.trim_end().to_owned()
}

fn registry() -> Option<String> {
    match std::env::var("FORGE_TEST_REGISTRY") {
        Ok(r) if !r.is_empty() => Some(r),
        _ => {
            assert!(
                std::env::var("FORGE_TEST_REQUIRE_SERVICES").as_deref() != Ok("1"),
                "FORGE_TEST_REGISTRY is required (source scripts/services.env)"
            );
            eprintln!("note: FORGE_TEST_REGISTRY not set; skipping the registry part");
            None
        }
    }
}

async fn layout_with(dir: &Path, owner: &str, images: &[(&BuiltImage, &str)]) -> R<LayoutStore> {
    let store = LayoutStore::open(dir)?;
    for (image, tag) in images {
        push_image(&store, &format!("{owner}/shop/web"), image, &[tag]).await?;
    }
    Ok(store)
}

#[tokio::test]
async fn generate_from_layout_and_registry() -> TestResult {
    let tmp = tempfile::tempdir()?;
    let owner = "acme";
    let image = release(owner, SHA, 7, 4)?;
    let layout = tmp.path().join("oci");
    layout_with(&layout, owner, &[(&image, SHA)]).await?;
    let dir = write_pointer(&tmp.path().join("gitops"), owner, &pointer_text(SHA, 7))?;
    let cache = tmp.path().join("cache");
    let env = vec![
        ("ARGOCD_ENV_FORGE_REGISTRY", format!("oci:{}", layout.display())),
        ("ARGOCD_ENV_FORGE_CACHE_DIR", cache.display().to_string()),
    ];
    let from_layout = ok_stdout(&run(&dir, &env)?)?;
    insta::assert_snapshot!("manifests", from_layout);
    // Cached: same bytes.
    assert_eq!(ok_stdout(&run(&dir, &env)?)?, from_layout);
    // Namespace injection through an Argo CD parameter.
    let mut ns_env = env.clone();
    ns_env.push(("ARGOCD_APP_PARAMETERS", r#"[{"name":"inject-namespace","string":"true"}]"#.into()));
    insta::assert_snapshot!("manifests_with_namespace", ok_stdout(&run(&dir, &ns_env)?)?);

    // The same release through the registry gives the same stream.
    if let Some(reg) = registry() {
        let owner = unique("cmp");
        let image = release(&owner, SHA, 7, 4)?;
        let store = RegistryStore::new(reg.parse()?, RegistryConfig::default())?;
        push_image(&store, &format!("{owner}/shop/web"), &image, &[SHA]).await?;
        let dir = write_pointer(&tmp.path().join("gitops"), &owner, &pointer_text(SHA, 7))?;
        let env = vec![("ARGOCD_ENV_FORGE_REGISTRY", reg.clone()), ("ARGOCD_ENV_FORGE_CACHE_DIR", "off".to_owned())];
        assert_eq!(ok_stdout(&run(&dir, &env)?)?, from_layout);
        // Source path from Argo CD instead of the working directory.
        let flat = tmp.path().join("flat");
        std::fs::create_dir_all(&flat)?;
        std::fs::copy(dir.join("release.yaml"), flat.join("release.yaml"))?;
        let mut env2 = env.clone();
        env2.push(("ARGOCD_APP_SOURCE_PATH", format!("environments/dev/{owner}/shop/web")));
        assert_eq!(ok_stdout(&run(&flat, &env2)?)?, from_layout);
        // Missing tag.
        let other = "2222222222222222222222222222222222222222";
        std::fs::write(dir.join("release.yaml"), pointer_text(other, 7))?;
        let e = failure(&run(&dir, &env)?);
        assert!(e.starts_with(&format!("forge-cmp: release image {reg}/{owner}/shop/web:{other} not found")), "{e}");
    }
    Ok(())
}

#[tokio::test]
async fn malicious_and_broken_inputs() -> TestResult {
    let tmp = tempfile::tempdir()?;
    let good = release("acme", SHA, 7, 2)?;
    let repo = "acme/shop/web";
    let mut cases: BTreeMap<&str, String> = BTreeMap::new();
    let env_for = |layout: &Path| {
        vec![
            ("ARGOCD_ENV_FORGE_REGISTRY", format!("oci:{}", layout.display())),
            ("ARGOCD_ENV_FORGE_CACHE_DIR", "off".to_owned()),
        ]
    };
    let gitops = tmp.path().join("gitops");
    let dir = write_pointer(&gitops, "acme", &pointer_text(SHA, 7))?;

    // Tampered layer: the blob on disk no longer matches its digest.
    let layout = tmp.path().join("tampered");
    layout_with(&layout, "acme", &[(&good, SHA)]).await?;
    let blob = layout.join("blobs/sha256").join(good.manifest.layers[1].digest.hex());
    let mut bytes = std::fs::read(&blob)?;
    if let Some(b) = bytes.get_mut(600) {
        *b ^= 0x20;
    }
    std::fs::write(&blob, bytes)?;
    cases.insert("tampered layer", failure(&run(&dir, &env_for(&layout))?));

    // Wrong resources digest in the metadata.
    let wrong = Digest::of(b"something else").to_string();
    let image = craft(&good, metadata_with(&good, &wrong, 2)?, good.layers[1].to_vec(), None);
    let layout = tmp.path().join("wrong-digest");
    layout_with(&layout, "acme", &[(&image, SHA)]).await?;
    cases.insert("wrong metadata digest", failure(&run(&dir, &env_for(&layout))?));

    // Path traversal in the tar.
    let tar = raw_tar("../0001-ConfigMap-evil.yaml", b"apiVersion: v1\nkind: ConfigMap\nmetadata: {name: evil}\n");
    let image = craft(&good, metadata_with(&good, Digest::of(&tar).as_str(), 1)?, tar, None);
    let layout = tmp.path().join("traversal");
    layout_with(&layout, "acme", &[(&image, SHA)]).await?;
    cases.insert("path traversal", failure(&run(&dir, &env_for(&layout))?));

    // Huge layer: a 17 MiB resource (over the per-file limit) ...
    let tar = raw_tar("0001-ConfigMap-huge.yaml", &vec![b'#'; 17 * 1024 * 1024]);
    let image = craft(&good, metadata_with(&good, Digest::of(&tar).as_str(), 1)?, tar, None);
    let layout = tmp.path().join("huge");
    layout_with(&layout, "acme", &[(&image, SHA)]).await?;
    cases.insert("huge file in layer", failure(&run(&dir, &env_for(&layout))?));
    // ... and a descriptor announcing 600 MiB (refused before any download).
    let image = craft(&good, good.layers[0].to_vec(), good.layers[1].to_vec(), Some(600 * 1024 * 1024));
    let layout = tmp.path().join("huge-descriptor");
    let store = LayoutStore::open(&layout)?;
    for (d, data) in image.blobs() {
        store.put_blob(repo, d.digest.as_str(), data.clone()).await?;
    }
    store.put_manifest(repo, SHA, image.media_type(), image.manifest_bytes.clone()).await?;
    cases.insert("huge layer descriptor", failure(&run(&dir, &env_for(&layout))?));

    // The image is another release than the pointer names.
    let other = release("acme", "3333333333333333333333333333333333333333", 7, 2)?;
    let layout = tmp.path().join("other");
    layout_with(&layout, "acme", &[(&other, SHA)]).await?;
    cases.insert("image of another commit", failure(&run(&dir, &env_for(&layout))?));

    // Missing tag.
    let layout = tmp.path().join("good");
    layout_with(&layout, "acme", &[(&good, SHA)]).await?;
    let dir_missing = write_pointer(&tmp.path().join("g2"), "acme", &pointer_text(&"4".repeat(40), 7))?;
    cases.insert("missing tag", failure(&run(&dir_missing, &env_for(&layout))?));

    // Pointer problems.
    let bad = pointer_text(SHA, 7).replace("  deployedBy: alice\n", "  deployedBy: alice\n  extra: 1\n");
    let dir_bad = write_pointer(&tmp.path().join("g3"), "acme", &bad)?;
    cases.insert("pointer with unknown field", failure(&run(&dir_bad, &env_for(&layout))?));
    let dir_num = write_pointer(&tmp.path().join("g4"), "acme", &pointer_text(SHA, 8))?;
    cases.insert("pointer with another release number", failure(&run(&dir_num, &env_for(&layout))?));
    let empty = tmp.path().join("empty");
    std::fs::create_dir_all(&empty)?;
    cases.insert("no pointer", failure(&run(&empty, &env_for(&layout))?));
    cases.insert("no registry setting", failure(&run(&dir, &[])?));

    // Registry unreachable, after retries.
    let unreachable = vec![
        ("ARGOCD_ENV_FORGE_REGISTRY", "127.0.0.1:9".to_owned()),
        ("ARGOCD_ENV_FORGE_CACHE_DIR", "off".to_owned()),
        ("ARGOCD_ENV_FORGE_RETRY_ATTEMPTS", "2".to_owned()),
        ("ARGOCD_ENV_FORGE_RETRY_BASE_MS", "10".to_owned()),
    ];
    cases.insert("registry unreachable", failure(&run(&dir, &unreachable)?));

    let root = tmp.path().display().to_string();
    let report: String = cases.iter().map(|(k, v)| format!("{k}:\n  {}\n", v.replace(&root, "<tmp>"))).collect();
    insta::assert_snapshot!("failures", report);
    Ok(())
}

fn median(mut v: Vec<Duration>) -> Duration {
    v.sort();
    v[v.len() / 2]
}

/// Wall time of `forge-cmp generate` for a 1,000-resource release, cold and warm, against the
/// local registry, compared with `skopeo copy` of the same image to an OCI layout. Prints the
/// numbers; set `FORGE_CMP_BENCH=1` to run (meaningful with `--release`).
#[tokio::test]
async fn bench_1000_resources() -> TestResult {
    if std::env::var("FORGE_CMP_BENCH").as_deref() != Ok("1") {
        return Ok(());
    }
    let Some(reg) = registry() else { return Ok(()) };
    let tmp = tempfile::tempdir()?;
    let owner = unique("bench");
    let image = release(&owner, SHA, 7, 1000)?;
    let store = RegistryStore::new(reg.parse()?, RegistryConfig::default())?;
    push_image(&store, &format!("{owner}/shop/web"), &image, &[SHA]).await?;
    let dir = write_pointer(&tmp.path().join("gitops"), &owner, &pointer_text(SHA, 7))?;
    let mut cold = Vec::new();
    let mut warm_resolve = Vec::new();
    let mut warm_immutable = Vec::new();
    let mut skopeo = Vec::new();
    for i in 0..7 {
        let cache = tmp.path().join(format!("cache-{i}"));
        let env = vec![
            ("ARGOCD_ENV_FORGE_REGISTRY", reg.clone()),
            ("ARGOCD_ENV_FORGE_CACHE_DIR", cache.display().to_string()),
        ];
        let t = Instant::now();
        let out = run(&dir, &env)?;
        cold.push(t.elapsed());
        ok_stdout(&out)?;
        let t = Instant::now();
        ok_stdout(&run(&dir, &env)?)?;
        warm_resolve.push(t.elapsed());
        let mut imm = env.clone();
        imm.push(("ARGOCD_ENV_FORGE_IMMUTABLE_TAGS", "true".to_owned()));
        ok_stdout(&run(&dir, &imm)?)?;
        let t = Instant::now();
        ok_stdout(&run(&dir, &imm)?)?;
        warm_immutable.push(t.elapsed());
        let dest = tmp.path().join(format!("skopeo-{i}"));
        let t = Instant::now();
        let st = Command::new("skopeo")
            .args(["copy", "-q", "--src-tls-verify=false"])
            .arg(format!("docker://{reg}/{owner}/shop/web:{SHA}"))
            .arg(format!("oci:{}:{SHA}", dest.display()))
            .status()?;
        skopeo.push(t.elapsed());
        assert!(st.success(), "skopeo copy failed");
    }
    println!(
        "forge-cmp 1000 resources: cold {:.1?}, warm (tag resolve) {:.1?}, warm (immutable tags) {:.1?}; skopeo copy {:.1?}",
        median(cold),
        median(warm_resolve),
        median(warm_immutable),
        median(skopeo)
    );
    Ok(())
}
