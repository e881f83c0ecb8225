//! Helpers shared by the integration tests.
#![allow(dead_code)]

use std::process::Command;
use std::time::{SystemTime, UNIX_EPOCH};

use forge_secrets::SecretRef;

const CHILD: &str = "FORGE_SECRETS_TEST_CHILD";

/// Runs the test `name` again in a child process with `vars` added to its real environment
/// (the crate forbids `unsafe`, so `std::env::set_var` is out). Returns `true` in the child,
/// where the test body should run, and `false` in the parent once the child passed.
pub fn in_child(name: &str, vars: &[(&str, &str)]) -> bool {
    if std::env::var_os(CHILD).is_some() {
        return true;
    }
    let exe = std::env::current_exe().expect("the test binary's path");
    let out = Command::new(exe)
        .args([name, "--exact", "--nocapture", "--test-threads=1"])
        .env(CHILD, "1")
        .envs(vars.iter().copied())
        .output()
        .expect("running the test binary");
    let stdout = String::from_utf8_lossy(&out.stdout);
    let stderr = String::from_utf8_lossy(&out.stderr);
    println!("--- child {name} stdout ---\n{stdout}\n--- child stderr ---\n{stderr}");
    assert!(out.status.success(), "child test {name} failed");
    assert!(stdout.contains("1 passed"), "child test {name} did not run");
    false
}

/// A value no test output could contain by chance.
pub fn unique(label: &str) -> String {
    let nanos = SystemTime::now().duration_since(UNIX_EPOCH).map(|d| d.as_nanos()).unwrap_or_default();
    format!("{label}-{}-{nanos}", std::process::id())
}

/// A reference from JSON.
pub fn reference(v: serde_json::Value) -> SecretRef {
    serde_json::from_value(v).expect("a valid reference")
}

/// Whether moto is configured. Panics when `FORGE_TEST_REQUIRE_SERVICES=1` and it is not.
pub fn aws_available() -> bool {
    if std::env::var_os("AWS_ENDPOINT_URL").is_some() {
        return true;
    }
    if std::env::var("FORGE_TEST_REQUIRE_SERVICES").as_deref() == Ok("1") {
        panic!(
            "FORGE_TEST_REQUIRE_SERVICES=1 but AWS_ENDPOINT_URL is unset: run `bash scripts/services.sh up` \
             and `source scripts/services.env`"
        );
    }
    eprintln!("note: skipping: AWS_ENDPOINT_URL is unset (start moto with scripts/services.sh)");
    false
}

/// Whether `needle` occurs in `haystack`.
pub fn contains(haystack: &[u8], needle: &[u8]) -> bool {
    !needle.is_empty() && haystack.windows(needle.len()).any(|w| w == needle)
}
