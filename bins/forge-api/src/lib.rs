//! # forge-api
//!
//! The Forge REST API (SPEC §8, §9) as a library: [`app`] builds the axum [`Router`] from an
//! [`AppState`] (the store, the identity verifier, the event sink and the deployer), which the
//! `forge-api` binary serves and tests drive in-process.
//!
//! - Storage: [`store::SqlStore`] on PostgreSQL or SQLite with embedded migrations; gapless
//!   release numbers under concurrency; an audit row for every state change.
//! - Authentication: OIDC JWTs checked against the issuer's JWKS ([`auth::JwtIdentity`]) or, on
//!   loopback only, a static dev token ([`auth::DevIdentity`]); the SPEC §8 permission table on
//!   every `/v1` route.
//! - Deployments: [`deploy::GitopsDeployer`] checks the environment policy and approvals, commits
//!   the ReleasePointer through the [`forge_core::ports::GitopsRemote`] port and records the
//!   deployment only once the commit exists.
//! - Operations: `/healthz`, `/readyz`, `/metrics` (Prometheus text), `/openapi.json`
//!   (OpenAPI 3.1), rate limits (429 with `Retry-After`).
//!
//! ```
//! use forge_api::config::Config;
//!
//! let cfg: Config = serde_yaml::from_str("database_url: sqlite://forge.db\nrate_limits: {runs_per_minute: 5}\n")?;
//! assert_eq!(cfg.rate_limits.runs_per_minute, 5);
//! assert_eq!(cfg.rate_limits.deployments_per_minute, 10);
//! # Ok::<(), Box<dyn std::error::Error>>(())
//! ```

pub mod auth;
pub mod commit_status;
pub mod config;
pub mod deploy;
pub mod error;
pub mod events;
mod extract;
pub mod metrics;
pub mod openapi;
pub mod ratelimit;
mod routes;
pub mod store;

use std::net::SocketAddr;
use std::sync::Arc;

use axum::Router;
use forge_core::ports::{EventSink, Identity, Store};

pub use error::{ApiError, FieldError};

/// Everything the handlers share.
#[derive(Clone)]
pub struct AppState {
    /// Persistence.
    pub store: Arc<dyn Store>,
    /// Bearer-token verification.
    pub identity: Arc<dyn Identity>,
    /// Event sink (SPEC §9 events).
    pub events: Arc<dyn EventSink>,
    /// Deployment logic (policy, approvals, pointer commit).
    pub deployer: Arc<dyn deploy::Deployer>,
    /// Rate limits.
    pub limits: Arc<ratelimit::RateLimiter>,
    /// Request metrics.
    pub metrics: Arc<metrics::Metrics>,
    /// The workflow engine new runs are submitted to (Argo Workflows in production); `None`
    /// when workers are driven some other way (tests, `forge run`).
    pub workflows: Option<Arc<dyn forge_core::ports::WorkflowEngine>>,
    /// Commit statuses along each run's lifecycle (SPEC §3.7); `None`: not reported.
    pub statuses: Option<commit_status::RunStatusNotifier>,
}

impl std::fmt::Debug for AppState {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("AppState").finish_non_exhaustive()
    }
}

/// Builds the router: `/v1/*`, `/healthz`, `/readyz`, `/metrics`, `/openapi.json`.
pub fn app(state: AppState) -> Router {
    routes::router(state)
}

/// Refuses a dev token unless the server listens on a loopback address (SPEC §8 dev mode).
pub fn check_dev_mode(listen: SocketAddr, dev_token: bool) -> Result<(), forge_core::Error> {
    if dev_token && !listen.ip().is_loopback() {
        return Err(forge_core::Error::Validation {
            component: "api",
            field: "dev_token".into(),
            message: format!(
                "a dev token is only accepted on a loopback listen address, not {listen}; \
                 listen on 127.0.0.1 or configure OIDC"
            ),
        });
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn dev_mode_requires_loopback() {
        let lo: SocketAddr = "127.0.0.1:8080".parse().unwrap_or_else(|_| unreachable!());
        let lo6: SocketAddr = "[::1]:8080".parse().unwrap_or_else(|_| unreachable!());
        let any: SocketAddr = "0.0.0.0:8080".parse().unwrap_or_else(|_| unreachable!());
        assert!(check_dev_mode(lo, true).is_ok());
        assert!(check_dev_mode(lo6, true).is_ok());
        assert!(check_dev_mode(any, true).is_err());
        assert!(check_dev_mode(any, false).is_ok());
    }
}
