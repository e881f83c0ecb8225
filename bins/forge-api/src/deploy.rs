//! Deployments (SPEC §6.3, §6.4): policy and approval checks, the ReleasePointer commit through
//! the [`GitopsRemote`] port, then the record. A failed commit records nothing, so no `active`
//! deployment exists without its pointer commit.

use std::collections::BTreeMap;
use std::sync::Arc;

use async_trait::async_trait;
use chrono::Utc;
use forge_core::model::{AliasKind, CreateDeployment, Deployment, Release};
use forge_core::policy::{EnvironmentPolicy, evaluate_policy};
use forge_core::ports::{GitIdentity, GitopsRemote, PointerCommit, Principal, Store};
use forge_core::{DeploymentStatus, PointerPath};
use serde_json::json;
use uuid::Uuid;

use crate::error::ApiError;

/// Carries out a deployment request.
#[async_trait]
pub trait Deployer: Send + Sync {
    /// Deploys (or rolls back) and returns the recorded, active deployment.
    async fn deploy(&self, req: &CreateDeployment, caller: &Principal) -> Result<Deployment, ApiError>;
}

/// The deployer over the store and a GitOps remote.
pub struct GitopsDeployer {
    store: Arc<dyn Store>,
    remote: Arc<dyn GitopsRemote>,
    policies: BTreeMap<String, EnvironmentPolicy>,
}

impl std::fmt::Debug for GitopsDeployer {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("GitopsDeployer").field("policies", &self.policies).finish_non_exhaustive()
    }
}

/// A GitOps remote for servers without one: every deployment fails with a clear message.
#[derive(Debug, Default, Clone, Copy)]
pub struct NoGitopsRemote;

#[async_trait]
impl GitopsRemote for NoGitopsRemote {
    async fn commit_pointer(&self, _change: &PointerCommit) -> forge_core::Result<String> {
        Err(forge_core::Error::Conflict {
            component: "gitops",
            message: "deployments are disabled: no GitOps repository is configured; set `gitops` in the configuration"
                .into(),
        })
    }
    async fn read_file(&self, path: &str, _revision: Option<&str>) -> forge_core::Result<Vec<u8>> {
        Err(forge_core::Error::NotFound { component: "gitops", what: path.to_owned() })
    }
    async fn file_history(&self, _path: &str, _limit: usize) -> forge_core::Result<Vec<(String, Option<Vec<u8>>)>> {
        Ok(Vec::new())
    }
}

/// Renders the ReleasePointer YAML of SPEC §6.2 with forge-gitops' canonical serializer (stable
/// key order, quoted RFC 3339 timestamps), so the plugin's strict parser reads back exactly
/// what was written.
pub fn render_pointer(
    release: &Release,
    environment: &str,
    deployed_by: &str,
    approved: Option<(&str, chrono::DateTime<Utc>)>,
) -> Result<String, ApiError> {
    let find = |kind| release.aliases.iter().find(|a| a.kind == kind).map(|a| a.alias.clone());
    let environment: forge_core::Environment =
        environment.parse().map_err(|e: forge_core::IdError| ApiError::field("environment", e.to_string()))?;
    let pointer = forge_gitops::ReleasePointer {
        name: release.project.clone(),
        environment,
        release: release.commit_sha,
        aliases: forge_gitops::PointerAliases {
            numeric: Some(release.release_number),
            tag: find(AliasKind::Tag),
            branch: find(AliasKind::Branch),
        },
        deployed_at: chrono::DateTime::from_timestamp(Utc::now().timestamp(), 0).unwrap_or_else(Utc::now),
        deployed_by: deployed_by.to_owned(),
        approved_by: approved.map(|(who, _)| who.to_owned()),
        approved_at: approved.map(|(_, at)| at),
    };
    Ok(pointer.to_yaml())
}

impl GitopsDeployer {
    /// A deployer with per-environment policies (empty: the default policy everywhere).
    pub fn new(
        store: Arc<dyn Store>,
        remote: Arc<dyn GitopsRemote>,
        policies: BTreeMap<String, EnvironmentPolicy>,
    ) -> Self {
        Self { store, remote, policies }
    }

    fn policy(&self, env: &str) -> Result<EnvironmentPolicy, ApiError> {
        if self.policies.is_empty() {
            return Ok(EnvironmentPolicy::default());
        }
        self.policies.get(env).cloned().ok_or_else(|| {
            let known: Vec<&str> = self.policies.keys().map(String::as_str).collect();
            ApiError::field("environment", format!("unknown environment `{env}`; configured: {}", known.join(", ")))
        })
    }

    /// The release a rollback returns to and the one it replaces.
    async fn rollback_target(&self, req: &CreateDeployment) -> Result<(Release, Release), ApiError> {
        let history = self.store.list_deployments(&req.repository, &req.project, &req.environment).await?;
        let current = history.iter().position(|d| d.status == DeploymentStatus::Active).ok_or_else(|| {
            ApiError::Conflict(format!("{} has no active deployment in {} to roll back", req.project, req.environment))
        })?;
        let active = &history[current];
        let previous = history[current + 1..]
            .iter()
            .find(|d| d.status == DeploymentStatus::Superseded && d.release_id != active.release_id)
            .ok_or_else(|| {
                ApiError::Conflict(format!(
                    "{} has no previous release in {} to roll back to",
                    req.project, req.environment
                ))
            })?;
        let target =
            self.store.get_release(&req.repository, &req.project, &previous.release_number.to_string()).await?;
        let from = self.store.get_release(&req.repository, &req.project, &active.release_number.to_string()).await?;
        Ok((target, from))
    }
}

#[async_trait]
impl Deployer for GitopsDeployer {
    async fn deploy(&self, req: &CreateDeployment, caller: &Principal) -> Result<Deployment, ApiError> {
        let env = req.environment.as_str();
        let policy = self.policy(env)?;
        let (release, previous) = if req.rollback {
            let (t, f) = self.rollback_target(req).await?;
            (t, Some(f))
        } else {
            (self.store.get_release(&req.repository, &req.project, &req.release).await?, None)
        };
        let approvals = self.store.approvals(release.id, &req.environment).await?;
        let decision = evaluate_policy(
            &policy,
            &release.trigger,
            &release.release_number.to_string(),
            env,
            &approvals,
            Utc::now(),
        )
        .map_err(|refusal| ApiError::Forbidden {
            message: format!("deployment refused: {refusal}"),
            details: serde_json::to_value(&refusal).unwrap_or_else(|_| json!({})),
        })?;
        let approved = decision.approved_by.as_deref().zip(decision.approved_at);
        let content = render_pointer(&release, env, &caller.subject, approved)?;
        let message = match &previous {
            Some(prev) => format!(
                "Rollback {} in {env} to release {} ({})\n\nPrevious release: {} ({})\nRolled back by: {}\n",
                release.project,
                release.release_number,
                release.display_alias(),
                prev.release_number,
                prev.display_alias(),
                caller.subject
            ),
            None => format!(
                "Deploy {} release {} ({}) to {env}",
                release.project,
                release.release_number,
                release.display_alias()
            ),
        };
        let path = PointerPath::new(req.environment.clone(), req.repository.clone(), req.project.clone());
        let change = PointerCommit {
            path: path.to_string(),
            content: content.into_bytes(),
            message,
            author: GitIdentity { name: caller.subject.clone(), email: format!("{}@forge.invalid", caller.subject) },
        };
        let sha = self.remote.commit_pointer(&change).await.map_err(|e| {
            tracing::error!(error = %e, path = %change.path, "pointer commit failed; nothing recorded");
            ApiError::from(e)
        })?;
        let deployment = Deployment {
            id: Uuid::new_v4(),
            release_id: release.id,
            repository: req.repository.clone(),
            project: req.project.clone(),
            environment: req.environment.clone(),
            release_number: release.release_number,
            status: DeploymentStatus::Active,
            deployed_by: caller.subject.clone(),
            approved_by: decision.approved_by,
            gitops_commit: Some(sha),
            rollback: req.rollback,
            created_at: Utc::now(),
        };
        Ok(self.store.record_deployment(&deployment).await?)
    }
}
