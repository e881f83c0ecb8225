//! `forge deploy`, `forge rollback`, `forge status --gitops` against a local GitOps repository
//! (`.forge-local/gitops` by default): thin wrappers over `forge_gitops`.
//!
//! Needs `forge-gitops`, `serde_json` and `chrono` in `bins/forge`'s dependencies.

use std::path::Path;

use anyhow::Context as _;
use chrono::{DateTime, Utc};
use forge_core::model::{Approval, ReleaseTrigger};
use forge_core::{CommitSha, PointerPath};
use forge_gitops::{
    Candidate, DeployOutcome, DeployRequest, FreezeOverride, GitopsRepo, PlatformConfig, PointerAliases,
    ReleasePointer, decide,
};
use serde_json::json;

/// What `forge deploy` needs.
#[derive(Debug, Clone)]
pub(crate) struct LocalDeploy {
    /// Where the pointer goes (`environments/<env>/<owner>/<name>/<project>/release.yaml`).
    pub(crate) path: PointerPath,
    /// The release's commit SHA.
    pub(crate) release: CommitSha,
    /// Aliases to record (number, tag, branch).
    pub(crate) aliases: PointerAliases,
    /// The deploying identity.
    pub(crate) deployed_by: String,
    /// The release's trigger; with `platform`, the SPEC §6.4 policy and freezes are checked.
    pub(crate) trigger: Option<ReleaseTrigger>,
    /// Environment policies (`--platform-config FILE`).
    pub(crate) platform: Option<PlatformConfig>,
    /// Approvals known for (release, environment).
    pub(crate) approvals: Vec<Approval>,
    /// Operator override of a freeze (`--override-freeze "<justification>"`).
    pub(crate) freeze_override: Option<FreezeOverride>,
}

/// `forge deploy`: decides (when a policy is configured), then writes the pointer commit.
/// A refusal is an error whose message names the rule and the actual values.
pub(crate) async fn deploy(gitops_dir: &Path, req: LocalDeploy, now: DateTime<Utc>) -> anyhow::Result<DeployOutcome> {
    let mut approval = None;
    if let (Some(platform), Some(trigger)) = (&req.platform, &req.trigger) {
        let settings = platform.settings(&req.path.environment);
        let label = req.aliases.numeric.map_or_else(|| req.release.to_string(), |n| n.to_string());
        let candidate = Candidate { trigger, release: &label, environment: &req.path.environment };
        let decision =
            decide(&settings.policy, &settings.freeze, candidate, &req.approvals, req.freeze_override.as_ref(), now)
                .map_err(|refusal| anyhow::anyhow!("deployment refused: {refusal}"))?;
        if let Some((freeze, o)) = &decision.overridden_freeze {
            tracing::warn!(freeze = %freeze, operator = %o.operator, justification = %o.justification, "freeze overridden");
        }
        approval = decision.approved_by.zip(decision.approved_at);
    }
    let repo = GitopsRepo::open_local(gitops_dir).await.with_context(|| format!("opening {}", gitops_dir.display()))?;
    let request = DeployRequest {
        path: req.path,
        release: req.release,
        aliases: req.aliases,
        deployed_by: req.deployed_by,
        approval,
        now,
    };
    Ok(repo.deploy(&request).await?)
}

/// `forge rollback`: deploys the previous active release of `path`.
pub(crate) async fn rollback(
    gitops_dir: &Path,
    path: &PointerPath,
    by: &str,
    now: DateTime<Utc>,
) -> anyhow::Result<DeployOutcome> {
    let repo = GitopsRepo::open_local(gitops_dir).await.with_context(|| format!("opening {}", gitops_dir.display()))?;
    Ok(repo.rollback(path, by, now).await?)
}

/// `forge status`: every pointer at a revision (`None` = the tip).
pub(crate) async fn deployed(
    gitops_dir: &Path,
    revision: Option<&str>,
) -> anyhow::Result<Vec<(PointerPath, ReleasePointer)>> {
    let repo = GitopsRepo::open_local(gitops_dir).await?;
    Ok(repo.deployed(revision).await?)
}

/// JSON shape of a deploy or rollback outcome (`--output json`).
pub(crate) fn outcome_json(out: &DeployOutcome) -> serde_json::Value {
    json!({
        "commit": out.commit,
        "message": out.message,
        "attempts": out.attempts,
        "project": out.pointer.name.as_str(),
        "environment": out.pointer.environment.as_str(),
        "release": out.pointer.release.as_str(),
        "releaseNumber": out.pointer.aliases.numeric,
        "deployedBy": out.pointer.deployed_by,
    })
}

/// Human line for an outcome.
pub(crate) fn outcome_line(out: &DeployOutcome) -> String {
    let subject = out.message.lines().next().unwrap_or_default();
    format!("{subject} ({})", &out.commit[..out.commit.len().min(12)])
}
