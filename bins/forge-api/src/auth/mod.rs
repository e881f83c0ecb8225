//! Authentication: OIDC bearer JWTs ([`JwtIdentity`]) and the loopback-only dev token
//! ([`DevIdentity`]), combined by [`AuthChain`]; and the permission check of SPEC §8.

mod dev;
mod jwt;

use std::sync::Arc;

use async_trait::async_trait;
use forge_core::Error;
use forge_core::auth::{Action, roles_allow};
use forge_core::ports::{Identity, Principal};
use serde_json::json;

pub use dev::DevIdentity;
pub use jwt::{JwtIdentity, OidcConfig};

use crate::error::ApiError;

/// Tries the dev token first (when configured), then OIDC (when configured).
#[derive(Clone, Default)]
pub struct AuthChain {
    dev: Option<Arc<DevIdentity>>,
    oidc: Option<Arc<dyn Identity>>,
}

impl std::fmt::Debug for AuthChain {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("AuthChain").field("dev", &self.dev.is_some()).field("oidc", &self.oidc.is_some()).finish()
    }
}

impl AuthChain {
    /// A chain with an optional dev identity and an optional OIDC (or other) identity.
    pub fn new(dev: Option<DevIdentity>, oidc: Option<Arc<dyn Identity>>) -> Self {
        Self { dev: dev.map(Arc::new), oidc }
    }
}

#[async_trait]
impl Identity for AuthChain {
    async fn authenticate(&self, token: &str) -> forge_core::Result<Principal> {
        if let Some(dev) = &self.dev
            && let Ok(p) = dev.authenticate(token).await
        {
            return Ok(p);
        }
        match &self.oidc {
            Some(oidc) => oidc.authenticate(token).await,
            None => Err(Error::Unauthorized { component: "auth", message: "the token is not valid".into() }),
        }
    }
}

/// Refuses unless one of the principal's roles allows `action` (SPEC §8).
pub fn require(principal: &Principal, action: Action) -> Result<(), ApiError> {
    if roles_allow(principal.roles.iter(), action) {
        Ok(())
    } else {
        let roles: Vec<&str> = principal.roles.iter().map(|r| r.as_str()).collect();
        Err(ApiError::Forbidden {
            message: format!(
                "your roles ({}) do not allow `{}`; ask an operator for a role that does",
                if roles.is_empty() { "none".to_owned() } else { roles.join(", ") },
                action_name(action)
            ),
            details: json!({ "action": action_name(action), "roles": roles }),
        })
    }
}

/// The wire name of an action.
pub fn action_name(action: Action) -> &'static str {
    match action {
        Action::Read => "read",
        Action::CreateRun => "create_run",
        Action::UpdateStatus => "update_status",
        Action::CreateRelease => "create_release",
        Action::DeployDev => "deploy_dev",
        Action::DeployOther => "deploy_other",
        Action::CreateApproval => "create_approval",
        Action::RegisterRepository => "register_repository",
        Action::CancelRun => "cancel_run",
    }
}
