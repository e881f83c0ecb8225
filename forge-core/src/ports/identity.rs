use std::collections::BTreeSet;

use async_trait::async_trait;

use crate::Result;
use crate::auth::Role;

/// An authenticated caller.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Principal {
    /// Subject (user name or service account).
    pub subject: String,
    /// Roles.
    pub roles: BTreeSet<Role>,
}

/// Verifies bearer tokens (a static dev token on loopback; OIDC JWTs via JWKS in production).
#[async_trait]
pub trait Identity: Send + Sync {
    /// Authenticates a bearer token; `Unauthorized` on any failure.
    async fn authenticate(&self, token: &str) -> Result<Principal>;
}
