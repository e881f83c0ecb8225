//! The dev-mode identity: one static token carrying the operator role. The server refuses to
//! start with it unless bound to a loopback address (see [`crate::check_dev_mode`]).

use std::collections::BTreeSet;

use async_trait::async_trait;
use forge_core::Error;
use forge_core::auth::Role;
use forge_core::ports::{Identity, Principal};

/// A static bearer token that authenticates as `dev` with the operator role.
pub struct DevIdentity {
    token: String,
}

impl std::fmt::Debug for DevIdentity {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str("DevIdentity(<redacted>)")
    }
}

impl DevIdentity {
    /// A dev identity for `token` (must not be empty).
    pub fn new(token: impl Into<String>) -> Result<Self, Error> {
        let token = token.into();
        if token.len() < 8 {
            return Err(Error::Validation {
                component: "auth",
                field: "dev_token".into(),
                message: "the dev token must have at least 8 characters".into(),
            });
        }
        Ok(Self { token })
    }
}

/// Compares without an early exit on the first differing byte.
fn constant_time_eq(a: &[u8], b: &[u8]) -> bool {
    if a.len() != b.len() {
        return false;
    }
    a.iter().zip(b).fold(0u8, |acc, (x, y)| acc | (x ^ y)) == 0
}

#[async_trait]
impl Identity for DevIdentity {
    async fn authenticate(&self, token: &str) -> forge_core::Result<Principal> {
        if constant_time_eq(token.as_bytes(), self.token.as_bytes()) {
            Ok(Principal { subject: "dev".into(), roles: BTreeSet::from([Role::Operator]) })
        } else {
            Err(Error::Unauthorized { component: "auth", message: "the token is not valid".into() })
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[tokio::test]
    async fn dev_token_matches_exactly() {
        let dev = DevIdentity::new("s3cret-token").map_err(|e| e.to_string());
        let Ok(dev) = dev else { panic!("valid token refused") };
        assert!(dev.authenticate("s3cret-token").await.is_ok());
        assert!(dev.authenticate("s3cret-tokeN").await.is_err());
        assert!(dev.authenticate("").await.is_err());
        assert!(DevIdentity::new("short").is_err());
        assert!(!format!("{dev:?}").contains("s3cret"));
    }
}
