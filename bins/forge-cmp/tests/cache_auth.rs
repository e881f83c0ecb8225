//! The content-addressed cache (no I/O at all for a cached SHA with immutable tags; corrupt
//! entries ignored) and registry credentials from a mounted file against the basic-auth registry.

use std::path::Path;
use std::process::{Command, Output};

use chrono::{TimeZone, Utc};
use forge_core::model::{AliasKind, ReleaseAlias, ReleaseTrigger, TriggerType};
use forge_core::ports::SecretValue;
use forge_core::{CanonicalId, Repository};
use forge_oci::{
    BuiltImage, LayoutStore, RegistryAuth, RegistryConfig, RegistryStore, ReleaseInput, Resource, build_release_image,
    push_image,
};

type R<T> = Result<T, Box<dyn std::error::Error>>;

const SHA: &str = "5555555555555555555555555555555555555555";

fn release(owner: &str) -> R<BuiltImage> {
    let resources = (0..3)
        .map(|i| {
            Resource::new(
                "ConfigMap",
                format!("cm-{i}"),
                format!("apiVersion: v1\nkind: ConfigMap\nmetadata:\n  name: cm-{i}\n"),
            )
        })
        .collect::<Result<Vec<_>, _>>()?;
    Ok(build_release_image(&ReleaseInput {
        id: CanonicalId::new(Repository::new(owner, "shop")?, "web".parse()?, SHA.parse()?),
        number: 3,
        aliases: vec![ReleaseAlias { kind: AliasKind::Branch, alias: "main-3".into() }],
        trigger: ReleaseTrigger {
            kind: TriggerType::BranchPush,
            branch: Some("main".into()),
            tag: None,
            actor: "ci".into(),
        },
        author: "alice".into(),
        message: "m".into(),
        committed_at: Utc.with_ymd_and_hms(2026, 11, 2, 0, 0, 0).single().ok_or("time")?,
        artifacts: vec![],
        resources,
    })?)
}

fn pointer_dir(root: &Path, owner: &str) -> R<std::path::PathBuf> {
    let dir = root.join("environments/dev").join(owner).join("shop/web");
    std::fs::create_dir_all(&dir)?;
    std::fs::write(
        dir.join("release.yaml"),
        format!(
            "apiVersion: forge.projectcatalyst.io/v1\nkind: ReleasePointer\nmetadata: {{name: web, environment: dev}}\nspec:\n  release: \"{SHA}\"\n  aliases: {{numeric: 3, branch: main-3}}\n  deployedAt: \"2026-11-28T12:00:00Z\"\n  deployedBy: alice\n"
        ),
    )?;
    Ok(dir)
}

fn run(dir: &Path, env: &[(&str, String)]) -> R<Output> {
    let mut cmd = Command::new(env!("CARGO_BIN_EXE_forge-cmp"));
    cmd.arg("generate").current_dir(dir).env_clear();
    for (k, v) in env {
        cmd.env(k, v);
    }
    Ok(cmd.output()?)
}

fn stdout(out: &Output) -> R<String> {
    if !out.status.success() {
        return Err(format!("forge-cmp failed: {}", String::from_utf8_lossy(&out.stderr)).into());
    }
    Ok(String::from_utf8(out.stdout.clone())?)
}

#[tokio::test]
async fn cache_serves_without_any_io_and_ignores_corruption() -> R<()> {
    let tmp = tempfile::tempdir()?;
    let layout = tmp.path().join("oci");
    let store = LayoutStore::open(&layout)?;
    push_image(&store, "acme/shop/web", &release("acme")?, &[SHA]).await?;
    let dir = pointer_dir(&tmp.path().join("gitops"), "acme")?;
    let cache = tmp.path().join("cache");
    let base = vec![
        ("ARGOCD_ENV_FORGE_REGISTRY", format!("oci:{}", layout.display())),
        ("ARGOCD_ENV_FORGE_CACHE_DIR", cache.display().to_string()),
    ];
    let mut immutable = base.clone();
    immutable.push(("ARGOCD_ENV_FORGE_IMMUTABLE_TAGS", "true".into()));
    let first = stdout(&run(&dir, &immutable)?)?;

    // The store disappears: with immutable tags the cached SHA still renders ...
    std::fs::rename(&layout, tmp.path().join("gone"))?;
    assert_eq!(stdout(&run(&dir, &immutable)?)?, first);
    // ... while mutable tags must resolve the tag, and fail cleanly.
    let out = run(&dir, &base)?;
    assert!(!out.status.success() && out.stdout.is_empty());
    assert!(String::from_utf8_lossy(&out.stderr).contains("unreachable"), "{}", String::from_utf8_lossy(&out.stderr));
    std::fs::rename(tmp.path().join("gone"), &layout)?;

    // A corrupted cache entry is ignored and replaced by a verified pull.
    let entries: Vec<_> = std::fs::read_dir(cache.join("manifests"))?.collect::<Result<_, _>>()?;
    assert_eq!(entries.len(), 1);
    let entry = entries[0].path();
    let text = std::fs::read_to_string(&entry)?.replace("cm-1", "evil");
    std::fs::write(&entry, text)?;
    let again = stdout(&run(&dir, &base)?)?;
    assert_eq!(again, first);
    assert!(!again.contains("evil"));
    Ok(())
}

#[tokio::test]
async fn credentials_file_against_basic_auth_registry() -> R<()> {
    let (Ok(reg), Ok(user), Ok(pass)) = (
        std::env::var("FORGE_TEST_REGISTRY_AUTH"),
        std::env::var("FORGE_TEST_REGISTRY_USER"),
        std::env::var("FORGE_TEST_REGISTRY_PASSWORD"),
    ) else {
        assert!(
            std::env::var("FORGE_TEST_REQUIRE_SERVICES").as_deref() != Ok("1"),
            "FORGE_TEST_REGISTRY_AUTH/_USER/_PASSWORD are required (source scripts/services.env)"
        );
        eprintln!("note: basic-auth registry not configured; skipping");
        return Ok(());
    };
    let tmp = tempfile::tempdir()?;
    let nanos = std::time::SystemTime::now().duration_since(std::time::UNIX_EPOCH)?.as_nanos();
    let owner = format!("auth{nanos}");
    let auth = RegistryAuth::Basic { username: user.clone(), password: SecretValue::from_string(pass.clone()) };
    let store = RegistryStore::new(reg.parse()?, RegistryConfig { auth, ..RegistryConfig::default() })?;
    push_image(&store, &format!("{owner}/shop/web"), &release(&owner)?, &[SHA]).await?;
    let dir = pointer_dir(&tmp.path().join("gitops"), &owner)?;

    // `user:password` file.
    let plain = tmp.path().join("creds");
    std::fs::write(&plain, format!("{user}:{pass}\n"))?;
    let env = |file: &Path| {
        vec![
            ("ARGOCD_ENV_FORGE_REGISTRY", reg.clone()),
            ("ARGOCD_ENV_FORGE_CACHE_DIR", "off".to_owned()),
            ("ARGOCD_ENV_FORGE_REGISTRY_CREDENTIALS", file.display().to_string()),
            ("ARGOCD_ENV_FORGE_RETRY_ATTEMPTS", "1".to_owned()),
        ]
    };
    let out = stdout(&run(&dir, &env(&plain))?)?;
    assert!(out.contains("name: cm-2"));

    // Docker config.json.
    use base64::Engine as _;
    let docker = tmp.path().join("config.json");
    let token = base64::engine::general_purpose::STANDARD.encode(format!("{user}:{pass}"));
    std::fs::write(&docker, format!("{{\"auths\": {{\"{reg}\": {{\"auth\": \"{token}\"}}}}}}"))?;
    assert_eq!(stdout(&run(&dir, &env(&docker))?)?, out);

    // Wrong password: one line, no secret in it, nothing on stdout.
    let wrong = tmp.path().join("wrong");
    std::fs::write(&wrong, format!("{user}:not-the-password\n"))?;
    let bad = run(&dir, &env(&wrong))?;
    let stderr = String::from_utf8_lossy(&bad.stderr).into_owned();
    assert!(!bad.status.success() && bad.stdout.is_empty(), "{stderr}");
    assert_eq!(stderr.lines().count(), 1, "{stderr}");
    assert!(!stderr.contains("not-the-password") && !stderr.contains(&pass), "{stderr}");
    assert!(stderr.contains("denied access") || stderr.contains("authentication"), "{stderr}");

    // No credentials at all.
    let anon = run(&dir, &[("ARGOCD_ENV_FORGE_REGISTRY", reg.clone()), ("ARGOCD_ENV_FORGE_CACHE_DIR", "off".into())])?;
    assert!(!anon.status.success() && anon.stdout.is_empty());
    Ok(())
}
