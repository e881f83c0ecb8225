//! The `forge-api` binary: `migrate`, `--help`, and the dev-token loopback rule.
#![allow(missing_docs, clippy::unwrap_used, clippy::expect_used)]

use std::process::Command;

fn bin() -> Command {
    let mut c = Command::new(env!("CARGO_BIN_EXE_forge-api"));
    for (k, _) in std::env::vars() {
        if k.starts_with("FORGE_API_") {
            c.env_remove(k);
        }
    }
    c
}

#[test]
fn migrate_creates_a_sqlite_database_twice_idempotently() {
    let dir = tempfile::tempdir().unwrap();
    let url = format!("sqlite://{}", dir.path().join("m.db").display());
    for _ in 0..2 {
        let out = bin().args(["migrate", "--database-url", &url]).output().unwrap();
        assert!(out.status.success(), "{}", String::from_utf8_lossy(&out.stderr));
    }
    assert!(dir.path().join("m.db").exists());
    // The environment variable mirrors the flag.
    let out = bin().arg("migrate").env("FORGE_API_DATABASE_URL", &url).output().unwrap();
    assert!(out.status.success());
}

#[test]
fn dev_token_is_refused_off_loopback() {
    let dir = tempfile::tempdir().unwrap();
    let url = format!("sqlite://{}", dir.path().join("d.db").display());
    let out = bin()
        .args(["serve", "--listen", "0.0.0.0:0", "--database-url", &url, "--dev-token", "dev-token-123"])
        .output()
        .unwrap();
    assert!(!out.status.success());
    let err = String::from_utf8_lossy(&out.stderr);
    assert!(err.contains("loopback"), "{err}");
    assert!(!err.contains("dev-token-123"), "the token is never printed: {err}");
}

#[test]
fn serve_without_authentication_is_refused() {
    let out = bin().args(["serve", "--listen", "127.0.0.1:0", "--database-url", "sqlite://x.db"]).output().unwrap();
    assert!(!out.status.success());
    assert!(String::from_utf8_lossy(&out.stderr).contains("no authentication configured"));
}

#[test]
fn help_documents_flags_and_environment() {
    let out = bin().args(["serve", "--help"]).output().unwrap();
    let help = String::from_utf8_lossy(&out.stdout);
    for needle in
        ["--listen", "--database-url", "--config", "--dev-token", "FORGE_API_DATABASE_URL", "FORGE_API_DEV_TOKEN"]
    {
        assert!(help.contains(needle), "{needle} missing from --help");
    }
    let out = bin().arg("--help").output().unwrap();
    let help = String::from_utf8_lossy(&out.stdout);
    for needle in ["serve", "migrate", "oidc", "environments", "rate_limits"] {
        assert!(help.contains(needle), "{needle} missing from --help:\n{help}");
    }
}
