//! Server configuration: a YAML file (`--config`) overlaid by flags and `FORGE_API_*`
//! environment variables.

use std::collections::BTreeMap;
use std::path::Path;

use forge_core::policy::EnvironmentPolicy;
use serde::{Deserialize, Serialize};

use crate::auth::OidcConfig;

/// The default database: a SQLite file in the working directory.
pub const DEFAULT_DATABASE_URL: &str = "sqlite://forge-api.db";

/// The default listen address.
pub const DEFAULT_LISTEN: &str = "127.0.0.1:8080";

/// The configuration file.
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Config {
    /// Database URL (`postgres://…` or `sqlite://path`).
    #[serde(default)]
    pub database_url: Option<String>,
    /// Listen address.
    #[serde(default)]
    pub listen: Option<String>,
    /// OIDC issuer settings; without them only the dev token authenticates.
    #[serde(default)]
    pub oidc: Option<OidcConfig>,
    /// Environment policies by environment name (SPEC §6.4). Empty: every environment uses
    /// the default policy; otherwise deployments to unlisted environments are refused.
    #[serde(default)]
    pub environments: BTreeMap<String, EnvironmentPolicy>,
    /// Rate limits.
    #[serde(default)]
    pub rate_limits: RateLimits,
    /// The GitOps repository remote (wired by the GitOps adapter).
    #[serde(default)]
    pub gitops: Option<GitopsConfig>,
    /// Argo Workflows: when set, every new run is submitted as a Workflow (SPEC §3.6).
    #[serde(default)]
    pub workflows: Option<WorkflowsConfig>,
    /// GitHub commit statuses (SPEC §3.7): when set, each run's commit gets `ci/catalyst-forge`
    /// updates; the token comes from `FORGE_API_GITHUB_TOKEN` only.
    #[serde(default)]
    pub github: Option<GithubConfig>,
}

/// Where commit statuses are reported.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct GithubConfig {
    /// REST API base (`https://api.github.com`, or an Enterprise `https://host/api/v3`).
    pub api_url: String,
    /// Link from each status to the run (e.g. a dashboard URL); optional.
    #[serde(default)]
    pub target_url: Option<String>,
}

/// Where and how runs are submitted to Argo Workflows.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct WorkflowsConfig {
    /// Kubernetes API server; default: in-cluster (`KUBERNETES_SERVICE_HOST`, service-account
    /// token).
    #[serde(default)]
    pub api_server: Option<String>,
    /// The `forge-worker` image the dispatcher steps run.
    pub image: String,
    /// This API's URL as the dispatchers reach it.
    pub api_url: String,
}

/// Rate limits (SPEC §9).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct RateLimits {
    /// Run creations per minute per repository (default 100).
    #[serde(default = "default_runs")]
    pub runs_per_minute: u32,
    /// Deployments per minute per environment (default 10).
    #[serde(default = "default_deployments")]
    pub deployments_per_minute: u32,
}

fn default_runs() -> u32 {
    100
}
fn default_deployments() -> u32 {
    10
}

impl Default for RateLimits {
    fn default() -> Self {
        Self { runs_per_minute: default_runs(), deployments_per_minute: default_deployments() }
    }
}

/// Where deployments commit ReleasePointers.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct GitopsConfig {
    /// Clone URL of the GitOps repository.
    pub url: String,
    /// Branch (default `main`).
    #[serde(default = "default_branch")]
    pub branch: String,
}

fn default_branch() -> String {
    "main".into()
}

/// A configuration file that could not be read.
#[derive(Debug, thiserror::Error)]
pub enum ConfigError {
    /// The file could not be read.
    #[error("reading configuration file {path}: {source}")]
    Read {
        /// Path.
        path: String,
        /// Cause.
        source: std::io::Error,
    },
    /// The file is not valid.
    #[error("configuration file {path} is invalid: {source}")]
    Parse {
        /// Path.
        path: String,
        /// Cause.
        source: serde_yaml::Error,
    },
}

impl Config {
    /// Reads a YAML configuration file.
    pub fn from_file(path: &Path) -> Result<Self, ConfigError> {
        let p = path.display().to_string();
        let text = std::fs::read_to_string(path).map_err(|source| ConfigError::Read { path: p.clone(), source })?;
        serde_yaml::from_str(&text).map_err(|source| ConfigError::Parse { path: p, source })
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn example_configuration_parses() {
        let path = Path::new(env!("CARGO_MANIFEST_DIR")).join("forge-api.example.yaml");
        let cfg = Config::from_file(&path).map_err(|e| e.to_string());
        let Ok(cfg) = cfg else { panic!("{cfg:?}") };
        assert_eq!(cfg.environments.len(), 2);
        assert!(cfg.environments["prod"].requires_approval);
        assert_eq!(cfg.oidc.map(|o| o.roles_claim), Some("realm_access.roles".to_owned()));
        assert!(serde_yaml::from_str::<Config>("bogus: 1").is_err(), "unknown keys are refused");
        // The commented-out sections of the example (`# ` lines; prose is `## `) parse once
        // uncommented.
        let text = std::fs::read_to_string(&path).unwrap_or_default();
        let tail: String = text
            .lines()
            .skip_while(|l| !l.starts_with("# workflows:"))
            .filter_map(|l| l.strip_prefix("# "))
            .collect::<Vec<_>>()
            .join("\n");
        let extra = serde_yaml::from_str::<Config>(&tail).map_err(|e| format!("{e}: {tail}"));
        let Ok(extra) = extra else { panic!("{extra:?}") };
        assert_eq!(extra.github.map(|g| g.api_url), Some("https://api.github.com".to_owned()));
        assert_eq!(extra.workflows.map(|w| w.image), Some("forge-worker:0.1.0".to_owned()));
    }
}
