//! Status transitions, fail-fast aggregation, alias resolution, policy and retry rules.
#![allow(clippy::unwrap_used)]

use chrono::{Duration, TimeZone, Utc};
use forge_core::alias::*;
use forge_core::auth::{Action, Role, role_allows};
use forge_core::model::*;
use forge_core::policy::*;
use forge_core::retry::RetryPolicy;
use forge_core::status::*;
use forge_core::*;
use uuid::Uuid;

#[test]
fn run_transitions_only_move_forward() {
    use RunStatus::*;
    let legal = [
        (Pending, Running),
        (Pending, Failed),
        (Pending, Cancelled),
        (Running, Success),
        (Running, Failed),
        (Running, Cancelled),
    ];
    for from in RunStatus::ALL {
        for to in RunStatus::ALL {
            let ok = from == to || legal.contains(&(*from, *to));
            assert_eq!(from.transition(*to).is_ok(), ok, "{from} -> {to}");
        }
    }
    let e = Success.transition(Running).unwrap_err();
    assert!(e.to_string().contains("terminal"), "{e}");
    let e = Running.transition(Pending).unwrap_err();
    assert!(e.to_string().contains("only move forward"), "{e}");
}

#[test]
fn exec_transitions() {
    use ExecStatus::*;
    assert!(Pending.transition(Running).is_ok());
    assert!(Pending.transition(Skipped).is_ok());
    assert!(Running.transition(Cancelled).is_ok());
    assert!(Running.transition(Success).is_ok());
    assert!(Running.transition(Skipped).is_err(), "a running step cannot be skipped");
    assert!(Success.transition(Failed).is_err());
    assert!(Skipped.transition(Running).is_err());
    assert!(Cancelled.transition(Running).is_err());
    assert!(Failed.transition(Failed).is_ok(), "idempotent update");
}

#[test]
fn job_and_deployment_transitions() {
    assert!(JobStatus::Running.transition(JobStatus::Pending).is_ok(), "released jobs go back to pending");
    assert!(JobStatus::Completed.transition(JobStatus::Running).is_err());
    assert!(DeploymentStatus::Active.transition(DeploymentStatus::Superseded).is_ok());
    assert!(DeploymentStatus::Superseded.transition(DeploymentStatus::Active).is_err());
    assert!(DeploymentStatus::Pending.transition(DeploymentStatus::Superseded).is_err());
}

#[test]
fn aggregation_rules() {
    use ExecStatus::*;
    assert_eq!(aggregate([Success, Success]), Success);
    assert_eq!(aggregate([Success, Failed, Running]), Failed);
    assert_eq!(aggregate([Success, Cancelled]), Failed);
    assert_eq!(aggregate([Success, Running]), Running);
    assert_eq!(aggregate([Success, Pending]), Running);
    assert_eq!(aggregate([Pending, Pending]), Pending);
    assert_eq!(aggregate([Skipped, Skipped]), Skipped);
    assert_eq!(aggregate([Skipped, Success]), Success);
    assert_eq!(aggregate([]), Success);
    assert_eq!(run_status_from_phases([Success, Failed]), RunStatus::Failed);
    assert_eq!(run_status_from_phases([Success, Success]), RunStatus::Success);
    assert_eq!(fail_fast(Running), Cancelled);
    assert_eq!(fail_fast(Pending), Skipped);
    assert_eq!(fail_fast(Success), Success);
}

fn sha(c: char) -> CommitSha {
    c.to_string().repeat(40).parse().unwrap()
}

#[test]
fn alias_resolution_precedence() {
    let s1: CommitSha = "abcdef1111111111111111111111111111111111".parse().unwrap();
    let s2: CommitSha = "abcdef2222222222222222222222222222222222".parse().unwrap();
    let s3 = sha('3');
    let a1 = aliases_for(1, "web", Some("web/v1.0.0"), None);
    let a2 = aliases_for(2, "web", None, Some("main"));
    // A custom alias "1" on release 3 takes precedence over release number 1.
    let a3 = vec![ReleaseAlias { kind: AliasKind::Custom, alias: "1".into() }];
    let rs = [
        ReleaseKey { number: 1, commit: &s1, aliases: &a1 },
        ReleaseKey { number: 2, commit: &s2, aliases: &a2 },
        ReleaseKey { number: 3, commit: &s3, aliases: &a3 },
    ];
    assert_eq!(resolve_release_id("v1.0.0", &rs), Resolution::Found { index: 0, by: MatchedBy::Alias });
    assert_eq!(resolve_release_id("main-2", &rs), Resolution::Found { index: 1, by: MatchedBy::Alias });
    assert_eq!(resolve_release_id("1", &rs), Resolution::Found { index: 0, by: MatchedBy::Alias });
    assert_eq!(resolve_release_id("3", &rs), Resolution::Found { index: 2, by: MatchedBy::Number });
    assert_eq!(resolve_release_id("abcdef2", &rs), Resolution::Found { index: 1, by: MatchedBy::ShaPrefix });
    assert_eq!(resolve_release_id("ABCDEF2", &rs), Resolution::Found { index: 1, by: MatchedBy::ShaPrefix });
    assert_eq!(resolve_release_id("abcdef", &rs), Resolution::NotFound, "prefix shorter than 7");
    assert_eq!(resolve_release_id("abcdef1", &rs), Resolution::Found { index: 0, by: MatchedBy::ShaPrefix });
    assert_eq!(resolve_release_id("abcdefa", &rs), Resolution::NotFound);
    let s4: CommitSha = "abcdef1999999999999999999999999999999999".parse().unwrap();
    let rs2 = [rs[0].clone(), ReleaseKey { number: 4, commit: &s4, aliases: &[] }];
    assert_eq!(resolve_release_id("abcdef1", &rs2), Resolution::Ambiguous { candidates: vec![0, 1] });
    assert_eq!(resolve_release_id("9", &rs), Resolution::NotFound);
}

#[test]
fn release_number_rules() {
    assert_eq!(next_release_number(None), 1);
    assert_eq!(next_release_number(Some(41)), 42);
    assert!(is_gapless(&[3, 1, 2]));
    assert!(!is_gapless(&[1, 3]));
    assert!(!is_gapless(&[2]));
    assert_eq!(tag_alias("web/v1.2.3", "web"), "v1.2.3");
    assert_eq!(tag_alias("v1.2.3", "web"), "v1.2.3");
    assert_eq!(branch_alias("feature/x", 7), "feature-x-7");
}

fn trig(kind: TriggerType, branch: Option<&str>) -> ReleaseTrigger {
    ReleaseTrigger { kind, branch: branch.map(Into::into), tag: None, actor: "ci".into() }
}

fn approval(env: &str, at: chrono::DateTime<Utc>) -> Approval {
    Approval {
        id: Uuid::nil(),
        release_id: Uuid::nil(),
        environment: env.parse().unwrap(),
        approver: "bob".into(),
        comment: None,
        created_at: at,
        expires_at: Approval::default_expiry(at),
    }
}

#[test]
fn policy_rules_and_refusals() {
    let now = Utc.with_ymd_and_hms(2026, 11, 28, 12, 0, 0).unwrap();
    let prod = EnvironmentPolicy {
        allowed_triggers: vec![TriggerType::Tag, TriggerType::BranchPush],
        allowed_branches: vec!["main".into(), "release/*".into()],
        auto_deploy: false,
        requires_approval: true,
    };
    // Trigger refused.
    let e = evaluate_policy(&prod, &trig(TriggerType::Manual, Some("main")), "42", "production", &[], now).unwrap_err();
    assert!(matches!(e, PolicyRefusal::AllowedTriggers { actual: TriggerType::Manual, .. }));
    assert!(e.to_string().contains("allowed_triggers") && e.to_string().contains("manual"), "{e}");
    // Branch refused, with the actual value.
    let e = evaluate_policy(&prod, &trig(TriggerType::BranchPush, Some("feature/x")), "42", "production", &[], now)
        .unwrap_err();
    assert!(e.to_string().contains("`feature/x`") && e.to_string().contains("release/*"), "{e}");
    // No branch at all.
    let e = evaluate_policy(&prod, &trig(TriggerType::Tag, None), "42", "production", &[], now).unwrap_err();
    assert!(e.to_string().contains("<none>"), "{e}");
    // Approval missing.
    let t = trig(TriggerType::BranchPush, Some("release/1.2"));
    let e = evaluate_policy(&prod, &t, "42", "production", &[], now).unwrap_err();
    assert!(e.to_string().contains("no approval"), "{e}");
    // Approval for another environment does not count.
    let e = evaluate_policy(&prod, &t, "42", "production", &[approval("staging", now)], now).unwrap_err();
    assert!(matches!(e, PolicyRefusal::RequiresApproval { .. }));
    // Expired approval names the expiry.
    let old = approval("production", now - Duration::hours(25));
    let e = evaluate_policy(&prod, &t, "42", "production", &[old], now).unwrap_err();
    assert!(e.to_string().contains("expired"), "{e}");
    // Active approval allows and reports the approver.
    let ok = evaluate_policy(&prod, &t, "42", "production", &[approval("production", now - Duration::hours(1))], now)
        .unwrap();
    assert_eq!(ok.approved_by.as_deref(), Some("bob"));
    // Default policy allows everything without approval.
    assert!(
        evaluate_policy(&EnvironmentPolicy::default(), &trig(TriggerType::Manual, None), "1", "dev", &[], now).is_ok()
    );
    // Bad globs are reported, not ignored.
    let bad = EnvironmentPolicy { allowed_branches: vec!["[".into()], ..EnvironmentPolicy::default() };
    assert!(matches!(
        evaluate_policy(&bad, &trig(TriggerType::Manual, Some("main")), "1", "dev", &[], now),
        Err(PolicyRefusal::InvalidGlob { .. })
    ));
    // Policy YAML shape rejects unknown fields.
    assert!(serde_yaml::from_str::<EnvironmentPolicy>("requires_aproval: true").is_err());
}

#[test]
fn retry_policy_matches_spec() {
    let p = RetryPolicy::default();
    assert_eq!(p.backoff(0), std::time::Duration::from_secs(1));
    assert_eq!(p.backoff(3), std::time::Duration::from_secs(8));
    assert_eq!(p.backoff(6), std::time::Duration::from_secs(60));
    assert_eq!(p.backoff(100), std::time::Duration::from_secs(60));
    let a = p.schedule(7);
    assert_eq!(a, p.schedule(7), "deterministic for a seed");
    assert_eq!(a.len(), 4, "5 attempts → 4 delays");
    for (i, d) in a.iter().enumerate() {
        let base = p.backoff(i as u32);
        assert!(*d >= base && *d <= base + p.jitter, "delay {i} = {d:?}");
    }
    assert!(p.should_retry(0, ErrorClass::Transient));
    assert!(!p.should_retry(4, ErrorClass::Transient));
    assert!(!p.should_retry(0, ErrorClass::Persistent));
    assert_eq!(classify_http_status(503), ErrorClass::Transient);
    assert_eq!(classify_http_status(429), ErrorClass::Transient);
    assert_eq!(classify_http_status(404), ErrorClass::Persistent);
    assert_eq!(classify_http_status(401), ErrorClass::Persistent);
}

#[test]
fn permission_table() {
    use Action::*;
    use Role::*;
    let table: &[(Action, &[Role])] = &[
        (Read, &[Developer, Approver, Operator, ServiceAccount]),
        (CreateRun, &[Operator, ServiceAccount]),
        (UpdateStatus, &[Operator, ServiceAccount]),
        (CreateRelease, &[Operator, ServiceAccount]),
        (DeployDev, &[Developer, Operator, ServiceAccount]),
        (DeployOther, &[Operator, ServiceAccount]),
        (CreateApproval, &[Approver, Operator]),
        (RegisterRepository, &[Operator]),
        (CancelRun, &[Operator]),
    ];
    for (action, allowed) in table {
        for role in Role::ALL {
            assert_eq!(role_allows(role, *action), allowed.contains(&role), "{role} {action:?}");
        }
    }
    assert_eq!(Action::deploy_to("dev"), DeployDev);
    assert_eq!(Action::deploy_to("production"), DeployOther);
}

#[test]
fn error_codes_map_to_http() {
    let e = Error::NotFound { component: "store", what: "release 42".into() };
    assert_eq!(e.code().http_status(), 404);
    assert_eq!(e.class(), ErrorClass::Persistent);
    let e = Error::transient("registry", "503 from registry", std::io::Error::other("x"));
    assert_eq!(e.class(), ErrorClass::Transient);
    assert_eq!(e.code(), ErrorCode::InternalError);
    assert_eq!(serde_json::to_string(&ErrorCode::ValidationError).unwrap(), "\"validation_error\"");
}
