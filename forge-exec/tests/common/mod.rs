//! Helpers shared by the integration tests.
#![allow(dead_code, clippy::panic)]

/// Whether tests that need moto can run: `AWS_ENDPOINT_URL` set. With
/// `FORGE_TEST_REQUIRE_SERVICES=1` a missing endpoint is a failure, otherwise a skip.
pub fn moto_available(test: &str) -> bool {
    if std::env::var_os("AWS_ENDPOINT_URL").is_some() {
        return true;
    }
    if std::env::var("FORGE_TEST_REQUIRE_SERVICES").as_deref() == Ok("1") {
        panic!(
            "{test}: FORGE_TEST_REQUIRE_SERVICES=1 but AWS_ENDPOINT_URL is unset; run `bash scripts/services.sh up && source scripts/services.env`"
        );
    }
    eprintln!("{test}: skipped: AWS_ENDPOINT_URL is unset (start moto with scripts/services.sh up)");
    false
}

/// A queue name unique to this test run (moto keeps state between runs).
pub fn unique_name(prefix: &str) -> String {
    format!("{prefix}-{}", uuid::Uuid::new_v4().simple())
}
