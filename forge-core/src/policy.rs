//! Environment promotion policy (SPEC §6.4) as a pure decision.
//!
//! A deployment is allowed only if the release's trigger is in `allowed_triggers`, its branch
//! matches one of `allowed_branches` (globs; an empty list allows any branch), and — when the
//! environment requires approval — an unexpired approval exists for (release, environment).
//! A refusal names the rule and the actual values.

use chrono::{DateTime, Utc};
use globset::Glob;
use serde::{Deserialize, Serialize};

use crate::model::{Approval, ReleaseTrigger, TriggerType};

/// The policy of one environment.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct EnvironmentPolicy {
    /// Triggers whose releases may be deployed here.
    #[serde(default = "all_triggers")]
    pub allowed_triggers: Vec<TriggerType>,
    /// Branch globs (`main`, `release/*`); empty allows any branch.
    #[serde(default)]
    pub allowed_branches: Vec<String>,
    /// Deploy automatically after a release.
    #[serde(default)]
    pub auto_deploy: bool,
    /// Require an active approval.
    #[serde(default)]
    pub requires_approval: bool,
}

fn all_triggers() -> Vec<TriggerType> {
    vec![TriggerType::BranchPush, TriggerType::Tag, TriggerType::Manual]
}

impl Default for EnvironmentPolicy {
    fn default() -> Self {
        Self {
            allowed_triggers: all_triggers(),
            allowed_branches: Vec::new(),
            auto_deploy: false,
            requires_approval: false,
        }
    }
}

/// Why a policy refused a deployment.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error, Serialize, Deserialize)]
#[serde(tag = "rule", rename_all = "snake_case")]
pub enum PolicyRefusal {
    /// The trigger is not allowed.
    #[error("policy rule allowed_triggers refuses trigger `{actual}` (allowed: {})", allowed.iter().map(|t| t.as_str()).collect::<Vec<_>>().join(", "))]
    AllowedTriggers {
        /// The release's trigger.
        actual: TriggerType,
        /// What the policy allows.
        allowed: Vec<TriggerType>,
    },
    /// The branch matches no allowed glob.
    #[error("policy rule allowed_branches refuses branch {} (allowed: {})", actual.as_deref().map(|b| format!("`{b}`")).unwrap_or_else(|| "<none>".into()), allowed.join(", "))]
    AllowedBranches {
        /// The release's branch.
        actual: Option<String>,
        /// Allowed globs.
        allowed: Vec<String>,
    },
    /// An allowed-branches glob is malformed.
    #[error("policy rule allowed_branches has an invalid glob `{glob}`: {message}")]
    InvalidGlob {
        /// The glob.
        glob: String,
        /// Parser message.
        message: String,
    },
    /// Approval required but none active.
    #[error("policy rule requires_approval: no active approval for release {release} in `{environment}` ({detail})")]
    RequiresApproval {
        /// Release number or id.
        release: String,
        /// Environment.
        environment: String,
        /// `no approval` or `approval by X expired at T`.
        detail: String,
    },
}

/// A successful decision.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct PolicyDecision {
    /// The approval that satisfied `requires_approval`, if one was needed.
    pub approved_by: Option<String>,
    /// When that approval was given.
    pub approved_at: Option<DateTime<Utc>>,
}

/// Decides whether a release with `trigger` may be deployed under `policy` at `now`, given
/// the approvals recorded for (release, environment).
pub fn evaluate_policy(
    policy: &EnvironmentPolicy,
    trigger: &ReleaseTrigger,
    release: &str,
    environment: &str,
    approvals: &[Approval],
    now: DateTime<Utc>,
) -> Result<PolicyDecision, PolicyRefusal> {
    if !policy.allowed_triggers.contains(&trigger.kind) {
        return Err(PolicyRefusal::AllowedTriggers { actual: trigger.kind, allowed: policy.allowed_triggers.clone() });
    }
    if !policy.allowed_branches.is_empty() {
        let mut ok = false;
        if let Some(branch) = trigger.branch.as_deref() {
            for g in &policy.allowed_branches {
                let glob = Glob::new(g)
                    .map_err(|e| PolicyRefusal::InvalidGlob { glob: g.clone(), message: e.kind().to_string() })?;
                if glob.compile_matcher().is_match(branch) {
                    ok = true;
                    break;
                }
            }
        }
        if !ok {
            return Err(PolicyRefusal::AllowedBranches {
                actual: trigger.branch.clone(),
                allowed: policy.allowed_branches.clone(),
            });
        }
    }
    if policy.requires_approval {
        let relevant: Vec<&Approval> = approvals.iter().filter(|a| a.environment.as_str() == environment).collect();
        if let Some(a) = relevant.iter().filter(|a| a.is_active(now)).max_by_key(|a| a.created_at) {
            return Ok(PolicyDecision { approved_by: Some(a.approver.clone()), approved_at: Some(a.created_at) });
        }
        let detail = match relevant.iter().max_by_key(|a| a.expires_at) {
            Some(a) => format!("approval by {} expired at {}", a.approver, a.expires_at.to_rfc3339()),
            None => "no approval".to_owned(),
        };
        return Err(PolicyRefusal::RequiresApproval {
            release: release.to_owned(),
            environment: environment.to_owned(),
            detail,
        });
    }
    Ok(PolicyDecision { approved_by: None, approved_at: None })
}
