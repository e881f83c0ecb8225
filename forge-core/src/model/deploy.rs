//! Deployments and approvals (SPEC §6).

use chrono::{DateTime, Duration, Utc};
use serde::{Deserialize, Serialize};
use uuid::Uuid;

use crate::id::{Environment, ProjectName, Repository};
use crate::status::DeploymentStatus;

/// Default approval lifetime (SPEC §6.4): 24 hours.
pub const DEFAULT_APPROVAL_TTL_HOURS: i64 = 24;

/// A deployment of a release to an environment.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Deployment {
    /// Deployment id.
    pub id: Uuid,
    /// Release deployed.
    pub release_id: Uuid,
    /// Repository.
    pub repository: Repository,
    /// Project.
    pub project: ProjectName,
    /// Environment.
    pub environment: Environment,
    /// Release number (for messages).
    pub release_number: u64,
    /// Status.
    pub status: DeploymentStatus,
    /// Identity that deployed.
    pub deployed_by: String,
    /// Approver, when approval was required.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub approved_by: Option<String>,
    /// The GitOps commit that wrote the pointer.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub gitops_commit: Option<String>,
    /// Whether this deployment was a rollback.
    #[serde(default)]
    pub rollback: bool,
    /// Creation time.
    pub created_at: DateTime<Utc>,
}

/// Body of `POST /deployments`.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct CreateDeployment {
    /// Repository.
    pub repository: Repository,
    /// Project.
    pub project: ProjectName,
    /// Release id (alias, number or SHA prefix; SPEC §5.1).
    pub release: String,
    /// Target environment.
    pub environment: Environment,
    /// Roll back to the previous active release instead (ignores `release`).
    #[serde(default)]
    pub rollback: bool,
}

/// An approval of a release for an environment.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Approval {
    /// Approval id.
    pub id: Uuid,
    /// Release approved.
    pub release_id: Uuid,
    /// Environment.
    pub environment: Environment,
    /// Approver identity.
    pub approver: String,
    /// Optional comment.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub comment: Option<String>,
    /// When it was given.
    pub created_at: DateTime<Utc>,
    /// When it stops counting.
    pub expires_at: DateTime<Utc>,
}

impl Approval {
    /// Whether the approval counts at `now`.
    pub fn is_active(&self, now: DateTime<Utc>) -> bool {
        self.created_at <= now && now < self.expires_at
    }
    /// Expiry for an approval given at `now` with the default TTL.
    pub fn default_expiry(now: DateTime<Utc>) -> DateTime<Utc> {
        now + Duration::hours(DEFAULT_APPROVAL_TTL_HOURS)
    }
}

/// Body of `POST /approvals`.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct CreateApproval {
    /// Repository.
    pub repository: Repository,
    /// Project.
    pub project: ProjectName,
    /// Release id (alias, number or SHA prefix).
    pub release: String,
    /// Environment.
    pub environment: Environment,
    /// Comment.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub comment: Option<String>,
}

/// Body of `POST /repositories`.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct RegisterRepository {
    /// Repository.
    pub repository: Repository,
    /// Clone URL.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub clone_url: Option<String>,
}
