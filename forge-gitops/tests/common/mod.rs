//! Helpers shared by the integration tests.
#![allow(dead_code, missing_docs)]

use std::net::TcpStream;
use std::path::Path;
use std::process::Command;
use std::time::{Duration, Instant};

use chrono::{DateTime, Utc};
use forge_core::retry::RetryPolicy;
use forge_gitops::{DeployRequest, GitopsRepo, PointerAliases};

pub type TestResult = Result<(), Box<dyn std::error::Error>>;

/// Runs git in `dir` with no user configuration; returns stdout.
pub fn git(dir: &Path, args: &[&str]) -> Result<String, Box<dyn std::error::Error>> {
    let out = Command::new("git")
        .arg("-C")
        .arg(dir)
        .args(args)
        .env("GIT_CONFIG_NOSYSTEM", "1")
        .env("GIT_CONFIG_GLOBAL", "/dev/null")
        .output()?;
    if !out.status.success() {
        return Err(format!("git {args:?}: {}", String::from_utf8_lossy(&out.stderr)).into());
    }
    Ok(String::from_utf8(out.stdout)?)
}

/// Creates an empty bare repository with `main` as its default branch.
pub fn bare(dir: &Path) -> TestResult {
    std::fs::create_dir_all(dir)?;
    git(dir, &["init", "-q", "--bare", "-b", "main"])?;
    Ok(())
}

pub fn sha(n: u64) -> String {
    format!("{n:040x}")
}

pub fn time(s: &str) -> DateTime<Utc> {
    s.parse().unwrap_or_default()
}

pub fn request(path: &str, n: u64, by: &str) -> Result<DeployRequest, Box<dyn std::error::Error>> {
    Ok(DeployRequest {
        path: path.parse()?,
        release: sha(n).parse()?,
        aliases: PointerAliases { numeric: Some(n), tag: Some(format!("v{n}.0.0")), branch: None },
        deployed_by: by.to_owned(),
        approval: None,
        now: time("2026-11-28T12:00:00Z"),
    })
}

pub fn fast() -> RetryPolicy {
    RetryPolicy::fast()
}

/// Waits until something listens on `127.0.0.1:port` (at most 10 s).
pub fn wait_for_port(port: u16, what: &str) {
    let deadline = Instant::now() + Duration::from_secs(10);
    while TcpStream::connect(("127.0.0.1", port)).is_err() {
        assert!(Instant::now() < deadline, "{what} did not start");
        std::thread::sleep(Duration::from_millis(20));
    }
}

/// Two writers with their own clones of the remote `url` (under `dir`): concurrent deploys of
/// two projects, a third deploy and a rollback — four commits on `served`'s `main`, no merges.
/// Returns the second writer for further checks.
pub async fn two_writers_deploy_and_roll_back(
    url: &str,
    dir: &Path,
    served: &Path,
) -> Result<GitopsRepo, Box<dyn std::error::Error>> {
    let a = GitopsRepo::open_remote(url, dir.join("a")).await?.with_retry(RetryPolicy::fast());
    let b = GitopsRepo::open_remote(url, dir.join("b")).await?.with_retry(RetryPolicy::fast());
    let (qa, qb) = (
        request("environments/dev/acme/shop/web/release.yaml", 1, "alice")?,
        request("environments/dev/acme/shop/api/release.yaml", 2, "bob")?,
    );
    let (ra, rb) = tokio::join!(a.deploy(&qa), b.deploy(&qb));
    ra?;
    rb?;
    a.deploy(&request("environments/dev/acme/shop/web/release.yaml", 3, "alice")?).await?;
    let web = "environments/dev/acme/shop/web/release.yaml".parse()?;
    let rolled = b.rollback(&web, "carol", time("2026-11-28T14:00:00Z")).await?;
    assert_eq!(rolled.pointer.aliases.numeric, Some(1));
    assert_eq!(git(served, &["rev-list", "--count", "main"])?.trim(), "4");
    assert_eq!(git(served, &["rev-list", "--merges", "--count", "main"])?.trim(), "0");
    Ok(b)
}
