//! Helpers shared by the integration tests.
#![allow(dead_code, missing_docs)]

use std::path::Path;
use std::process::Command;

use chrono::{DateTime, Utc};
use forge_core::retry::RetryPolicy;
use forge_gitops::{DeployRequest, PointerAliases};

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
