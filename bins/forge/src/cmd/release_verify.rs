//! `forge release verify <ref|path>`: offline verification of a release image.
//!
//! The target is an OCI image layout directory (`DIR`, `DIR:<ref.name>`, `DIR@sha256:…`,
//! `oci:DIR[:ref]`) or a registry reference `<registry>/<owner>/<name>/<project>[:<tag>|@<digest>]`.
//! Registry credentials, when needed, come from `FORGE_REGISTRY_USERNAME` and
//! `FORGE_REGISTRY_PASSWORD`. Every digest is re-derived (manifest, config, layers, the
//! metadata's resources digest), the resources are extracted safely in memory, and the image is
//! rebuilt from its recorded inputs and compared. Exit code 0 when every check passes, 1 when
//! one fails; access problems are errors.

use anyhow::Context as _;
use forge_core::ports::{ImageStore, SecretValue};
use forge_oci::{
    ImageLocation, LayoutStore, RegistryAuth, RegistryConfig, RegistryStore, VerifyReport, layout_targets,
    verify_release,
};

/// A release to verify: repository, reference, and how errors name it.
type Target = (String, String, String);

/// Opens the store behind `target` and lists the releases to verify in it: every release
/// image of a layout (or the one named), or the one registry reference.
fn open_target(target: &str) -> anyhow::Result<(Box<dyn ImageStore>, Vec<Target>)> {
    let location = ImageLocation::parse(target).with_context(|| format!("cannot read target `{target}`"))?;
    match location {
        ImageLocation::Layout { path, reference } => {
            let store = LayoutStore::open(&path).with_context(|| format!("opening OCI layout {}", path.display()))?;
            let targets = layout_targets(&store, reference.as_deref())?;
            if targets.is_empty() {
                anyhow::bail!("no release image in {}; pass DIR:<ref.name> to pick one", path.display());
            }
            let targets = targets.into_iter().map(|(repo, reference)| (repo, reference.clone(), reference)).collect();
            Ok((Box::new(store), targets))
        }
        ImageLocation::Registry { registry, repository, reference } => {
            let auth = match (std::env::var("FORGE_REGISTRY_USERNAME"), std::env::var("FORGE_REGISTRY_PASSWORD")) {
                (Ok(username), Ok(password)) => {
                    RegistryAuth::Basic { username, password: SecretValue::from_string(password) }
                }
                _ => RegistryAuth::Anonymous,
            };
            let store = RegistryStore::new(registry.clone(), RegistryConfig { auth, ..RegistryConfig::default() })?;
            let label = format!("{registry}/{repository}:{reference}");
            Ok((Box::new(store), vec![(repository, reference, label)]))
        }
    }
}

/// Its own runtime helper (not `cmd::runtime`): forge-oci's tests compile this file on its own.
fn runtime() -> anyhow::Result<tokio::runtime::Runtime> {
    tokio::runtime::Builder::new_current_thread().enable_all().build().context("starting the async runtime")
}

/// Runs the command; returns the process exit code.
pub fn run(target: &str, output_json: bool) -> anyhow::Result<i32> {
    let (store, targets) = open_target(target)?;
    let reports: Vec<VerifyReport> = runtime()?.block_on(async {
        let mut out = Vec::new();
        for (repo, reference, label) in targets {
            out.push(verify_release(&*store, &repo, &reference).await.with_context(|| format!("verifying {label}"))?);
        }
        anyhow::Ok(out)
    })?;
    let ok = reports.iter().all(|r| r.ok);
    if output_json {
        let value =
            if reports.len() == 1 { serde_json::to_value(&reports[0])? } else { serde_json::to_value(&reports)? };
        println!("{}", serde_json::to_string_pretty(&value)?);
    } else {
        for r in &reports {
            let id = r.canonical_id.as_deref().unwrap_or("?");
            let digest = r.manifest_digest.as_deref().unwrap_or("?");
            println!("{} {id} ({digest})", if r.ok { "verified" } else { "FAILED" });
            for c in &r.checks {
                println!("  {} {}: {}", if c.ok { "ok  " } else { "FAIL" }, c.name, c.detail);
            }
        }
    }
    Ok(if ok { 0 } else { 1 })
}

/// `forge release verify --key PUB… <target>`: [`run`]'s digest checks plus cosign signature
/// verification of each release against the PEM public keys in `keys` (any one suffices).
/// Exit code 0 when every digest check passes and every release has a valid signature, 1
/// otherwise; unreadable keys and access problems are errors.
// forge-oci's tests compile this file with `#[path]`; some of them call only `run`.
#[allow(dead_code)]
pub fn run_with_keys(target: &str, keys: &[std::path::PathBuf], output_json: bool) -> anyhow::Result<i32> {
    use forge_oci::Digest;
    use forge_oci::sign::{SignatureReport, load_public_keys, verify_signature};

    anyhow::ensure!(!keys.is_empty(), "--key needs at least one PEM public key file");
    let public_keys = load_public_keys(keys)?;
    let (store, targets) = open_target(target)?;
    async fn check(
        store: &dyn forge_core::ports::ImageStore,
        repo: &str,
        reference: &str,
        label: &str,
        keys: &[forge_oci::sign::VerifyingKey],
    ) -> anyhow::Result<(VerifyReport, Option<SignatureReport>)> {
        let report = verify_release(store, repo, reference).await.with_context(|| format!("verifying {label}"))?;
        let signature = match report.manifest_digest.as_deref().map(str::parse::<Digest>) {
            Some(Ok(digest)) => Some(
                verify_signature(store, repo, &digest, keys)
                    .await
                    .with_context(|| format!("verifying the signature of {label}"))?,
            ),
            _ => None,
        };
        Ok((report, signature))
    }
    let results: Vec<(VerifyReport, Option<SignatureReport>)> = runtime()?.block_on(async {
        let mut out = Vec::new();
        for (repo, reference, label) in targets {
            out.push(check(&*store, &repo, &reference, &label, &public_keys).await?);
        }
        anyhow::Ok(out)
    })?;
    let ok = results.iter().all(|(r, s)| r.ok && s.as_ref().is_some_and(|s| s.ok));
    if output_json {
        let items: Vec<serde_json::Value> =
            results.iter().map(|(r, s)| serde_json::json!({ "release": r, "signature": s })).collect();
        let value = if items.len() == 1 { items[0].clone() } else { serde_json::Value::Array(items) };
        println!("{}", serde_json::to_string_pretty(&value)?);
    } else {
        for (r, s) in &results {
            let id = r.canonical_id.as_deref().unwrap_or("?");
            let digest = r.manifest_digest.as_deref().unwrap_or("?");
            let signed = s.as_ref().is_some_and(|s| s.ok);
            println!("{} {id} ({digest})", if r.ok && signed { "verified" } else { "FAILED" });
            for c in &r.checks {
                println!("  {} {}: {}", if c.ok { "ok  " } else { "FAIL" }, c.name, c.detail);
            }
            match s {
                Some(s) if s.ok => {
                    let detail = s.signatures.iter().find(|c| c.ok).map_or("", |c| c.detail.as_str());
                    println!("  ok   signature: {detail}");
                }
                Some(s) => println!("  FAIL signature: {}", s.reason().unwrap_or_default()),
                None => println!("  FAIL signature: manifest digest unknown"),
            }
        }
    }
    Ok(if ok { 0 } else { 1 })
}
