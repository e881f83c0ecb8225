//! Compiles and exercises the CLI glue in `bins/forge/src/cmd/gitops.rs` (owned here, wired by
//! the `forge` binary).

#[allow(dead_code)]
#[path = "../../bins/forge/src/cmd/gitops.rs"]
mod gitops;

mod common;

use common::{TestResult, sha, time};
use forge_core::model::{ReleaseTrigger, TriggerType};
use forge_gitops::{FreezeOverride, PlatformConfig, PointerAliases};

#[tokio::test]
async fn deploy_refuse_override_rollback() -> TestResult {
    let dir = tempfile::tempdir()?;
    let platform = PlatformConfig::parse(
        "platform.yaml",
        b"environments:\n  dev:\n    allowed_triggers: [branch_push]\n    freeze:\n      recurring: [{days: [sat], reason: weekend}]\n",
    )?;
    let trigger =
        ReleaseTrigger { kind: TriggerType::BranchPush, branch: Some("main".into()), tag: None, actor: "ci".into() };
    let mk = |n: u64, o: Option<FreezeOverride>| -> Result<gitops::LocalDeploy, Box<dyn std::error::Error>> {
        Ok(gitops::LocalDeploy {
            path: "environments/dev/acme/shop/web/release.yaml".parse()?,
            release: sha(n).parse()?,
            aliases: PointerAliases { numeric: Some(n), tag: None, branch: Some(format!("main-{n}")) },
            deployed_by: "alice".into(),
            trigger: Some(trigger.clone()),
            platform: Some(platform.clone()),
            approvals: vec![],
            freeze_override: o,
        })
    };
    let wed = time("2026-11-25T10:00:00Z");
    let out = gitops::deploy(dir.path(), mk(1, None)?, wed).await?;
    assert_eq!(gitops::outcome_json(&out)["message"], "Deploy web release 1 (main-1) to dev");
    gitops::deploy(dir.path(), mk(2, None)?, wed).await?;
    let sat = time("2026-11-28T10:00:00Z");
    let refused = gitops::deploy(dir.path(), mk(3, None)?, sat).await.err().map(|e| e.to_string());
    assert!(refused.unwrap_or_default().starts_with("deployment refused: environment `dev` is frozen"));
    let o = FreezeOverride { operator: "ops".into(), justification: "incident 42 hotfix".into() };
    gitops::deploy(dir.path(), mk(3, Some(o))?, sat).await?;
    let rb = gitops::rollback(dir.path(), &"environments/dev/acme/shop/web/release.yaml".parse()?, "bob", sat).await?;
    assert!(gitops::outcome_line(&rb).starts_with("Rollback web in dev to release 2 (main-2) ("));
    assert_eq!(gitops::deployed(dir.path(), None).await?.len(), 1);
    Ok(())
}
