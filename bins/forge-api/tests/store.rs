//! Store conformance: the same tests on SQLite (temp files) and PostgreSQL (a fresh database).
#![allow(missing_docs, clippy::unwrap_used, clippy::expect_used)]

mod common;

use std::sync::Arc;

use chrono::{Duration, Utc};
use common::*;
use forge_api::store::SqlStore;
use forge_core::model::{
    CreateApproval, Deployment, JobRecord, JobType, PhaseExecution, StatusUpdate, StepAction, StepExecution,
    TaskExecution, TriggerType,
};
use forge_core::ports::Store;
use forge_core::{DeploymentStatus, Environment, Error, ExecStatus, JobStatus, RunStatus};
use uuid::Uuid;

macro_rules! conformance {
    ($($name:ident),* $(,)?) => {
        mod sqlite_backend {
            $(
                #[tokio::test(flavor = "multi_thread", worker_threads = 4)]
                async fn $name() {
                    let db = super::common::sqlite().await;
                    super::$name(&db.store).await;
                    db.cleanup().await;
                }
            )*
        }
        mod postgres_backend {
            $(
                #[tokio::test(flavor = "multi_thread", worker_threads = 4)]
                async fn $name() {
                    let Some(db) = super::common::postgres().await else { return };
                    super::$name(&db.store).await;
                    db.cleanup().await;
                }
            )*
        }
    };
}

conformance!(
    repositories_and_run_idempotency,
    gapless_release_numbers_under_concurrency,
    one_release_per_triplet_under_concurrency,
    release_resolution,
    release_pagination,
    deployments_supersede,
    approvals_expire,
    run_status_aggregation,
    jobs_and_expiry,
    concurrent_run_creation,
    expected_release_number_is_checked,
    publisher_retry_updates_only_results,
);

async fn repositories_and_run_idempotency(store: &SqlStore) {
    let err = store.create_run(&run_req(1, false), "ci").await.unwrap_err();
    assert!(matches!(err, Error::Validation { ref field, .. } if field == "repository"), "{err}");
    assert!(store.register_repository(&register(), "op").await.unwrap().created);
    assert!(!store.register_repository(&register(), "op").await.unwrap().created);
    assert!(store.repository_exists(&repo()).await.unwrap());

    let first = store.create_run(&run_req(1, false), "ci").await.unwrap();
    assert!(first.created);
    assert_eq!(first.value.attempt, 1);
    let again = store.create_run(&run_req(1, false), "ci").await.unwrap();
    assert!(!again.created);
    assert_eq!(again.value.id, first.value.id);
    let rerun = store.create_run(&run_req(1, true), "ci").await.unwrap();
    assert!(rerun.created);
    assert_eq!(rerun.value.attempt, 2);
    assert_ne!(rerun.value.id, first.value.id);
    // The latest attempt is what a non-rerun request now returns.
    assert_eq!(store.create_run(&run_req(1, false), "ci").await.unwrap().value.id, rerun.value.id);
    let got = store.get_run(first.value.id).await.unwrap();
    assert_eq!(got, first.value);
    assert!(matches!(store.get_run(Uuid::new_v4()).await, Err(Error::NotFound { .. })));

    let cancelled = store.cancel_run(first.value.id, "op").await.unwrap();
    assert_eq!(cancelled.status, RunStatus::Cancelled);
    assert!(store.cancel_run(first.value.id, "op").await.is_ok(), "cancel is idempotent");
    assert_eq!(store.audit_count(&format!("run:{}", first.value.id)).await.unwrap(), 3);
    assert_eq!(store.audit_count("repository:acme/shop").await.unwrap(), 1);
}

async fn gapless_release_numbers_under_concurrency(store: &SqlStore) {
    let store = Arc::new(store.clone());
    let mut handles = Vec::new();
    for i in 0..50u64 {
        let s = store.clone();
        handles.push(tokio::spawn(async move {
            s.create_release(&release_req(sha(1000 + i), TriggerType::BranchPush, Some("main"), None), "ci").await
        }));
    }
    let mut numbers = Vec::new();
    for h in handles {
        let created = h.await.unwrap().unwrap();
        assert!(created.created);
        numbers.push(created.value.release_number);
    }
    numbers.sort_unstable();
    assert_eq!(numbers, (1..=50).collect::<Vec<u64>>());
    let page = store.list_releases(&repo(), &project(), 100, 0).await.unwrap();
    assert_eq!(page.total, 50);
}

async fn one_release_per_triplet_under_concurrency(store: &SqlStore) {
    let store = Arc::new(store.clone());
    let mut handles = Vec::new();
    for _ in 0..50 {
        let s = store.clone();
        handles.push(tokio::spawn(async move {
            s.create_release(&release_req(sha(7), TriggerType::Tag, None, Some("web/v1.0.0")), "ci").await
        }));
    }
    let mut ids = std::collections::BTreeSet::new();
    let mut created = 0;
    for h in handles {
        let r = h.await.unwrap().unwrap();
        created += usize::from(r.created);
        ids.insert(r.value.id);
        assert_eq!(r.value.release_number, 1);
    }
    assert_eq!(created, 1);
    assert_eq!(ids.len(), 1);
    let page = store.list_releases(&repo(), &project(), 20, 0).await.unwrap();
    assert_eq!(page.total, 1);
}

async fn release_resolution(store: &SqlStore) {
    let a = store
        .create_release(&release_req(sha_with_prefix("abcdef01", 1), TriggerType::BranchPush, Some("main"), None), "ci")
        .await
        .unwrap()
        .value;
    let b = store
        .create_release(&release_req(sha_with_prefix("abcdef02", 2), TriggerType::Tag, None, Some("web/v1.2.3")), "ci")
        .await
        .unwrap()
        .value;
    assert_eq!((a.release_number, b.release_number), (1, 2));
    let (r, p) = (repo(), project());
    assert_eq!(store.get_release(&r, &p, "main-1").await.unwrap().id, a.id);
    assert_eq!(store.get_release(&r, &p, "v1.2.3").await.unwrap().id, b.id);
    assert_eq!(store.get_release(&r, &p, "2").await.unwrap().id, b.id);
    assert_eq!(store.get_release(&r, &p, "abcdef02").await.unwrap().id, b.id);
    assert_eq!(store.get_release(&r, &p, "ABCDEF01").await.unwrap().id, a.id);
    match store.get_release(&r, &p, "abcdef0").await {
        Err(Error::Conflict { message, .. }) => {
            assert!(message.contains(a.commit_sha.as_str()) && message.contains(b.commit_sha.as_str()), "{message}");
        }
        other => panic!("expected an ambiguity conflict, got {other:?}"),
    }
    assert!(matches!(store.get_release(&r, &p, "abc").await, Err(Error::NotFound { .. })));
    assert!(matches!(store.get_release(&r, &p, "99").await, Err(Error::NotFound { .. })));
    assert!(matches!(store.get_release(&r, &p, "1234567").await, Err(Error::NotFound { .. })));
    let other: forge_core::ProjectName = "api".parse().unwrap();
    assert!(matches!(store.get_release(&r, &other, "1").await, Err(Error::NotFound { .. })));
    let got = store.get_release(&r, &p, "1").await.unwrap();
    assert_eq!(got, a);
    assert_eq!(store.audit_count(&format!("release:{}", a.id)).await.unwrap(), 1);
}

async fn release_pagination(store: &SqlStore) {
    for i in 0..5 {
        store.create_release(&release_req(sha(i), TriggerType::Manual, None, None), "ci").await.unwrap();
    }
    let page = store.list_releases(&repo(), &project(), 2, 1).await.unwrap();
    assert_eq!(page.total, 5);
    assert_eq!((page.limit, page.offset), (2, 1));
    assert_eq!(page.releases.iter().map(|r| r.release_number).collect::<Vec<_>>(), vec![4, 3]);
    assert_eq!(page.releases[0].aliases.len(), 1, "numeric alias loaded");
    let empty = store.list_releases(&repo(), &project(), 2, 10).await.unwrap();
    assert!(empty.releases.is_empty());
}

fn deployment(release: &forge_core::model::Release, env: &Environment) -> Deployment {
    Deployment {
        id: Uuid::new_v4(),
        release_id: release.id,
        repository: release.repository.clone(),
        project: release.project.clone(),
        environment: env.clone(),
        release_number: release.release_number,
        status: DeploymentStatus::Active,
        deployed_by: "op".into(),
        approved_by: None,
        gitops_commit: Some("f".repeat(40)),
        rollback: false,
        created_at: Utc::now(),
    }
}

async fn deployments_supersede(store: &SqlStore) {
    let r1 = store.create_release(&release_req(sha(1), TriggerType::Manual, None, None), "ci").await.unwrap().value;
    let r2 = store.create_release(&release_req(sha(2), TriggerType::Manual, None, None), "ci").await.unwrap().value;
    let dev: Environment = "dev".parse().unwrap();
    let prod: Environment = "prod".parse().unwrap();
    let d1 = store.record_deployment(&deployment(&r1, &dev)).await.unwrap();
    tokio::time::sleep(std::time::Duration::from_millis(2)).await;
    let d2 = store.record_deployment(&deployment(&r2, &dev)).await.unwrap();
    store.record_deployment(&deployment(&r1, &prod)).await.unwrap();
    let history = store.list_deployments(&repo(), &project(), &dev).await.unwrap();
    assert_eq!(history.len(), 2);
    assert_eq!((history[0].id, history[0].status), (d2.id, DeploymentStatus::Active));
    assert_eq!((history[1].id, history[1].status), (d1.id, DeploymentStatus::Superseded));
    assert_eq!(history[0].gitops_commit.as_deref(), Some("f".repeat(40).as_str()));
    let prod_history = store.list_deployments(&repo(), &project(), &prod).await.unwrap();
    assert_eq!(prod_history.len(), 1);
    assert_eq!(prod_history[0].status, DeploymentStatus::Active);

    // Concurrent deployers: exactly one active afterwards.
    let s = Arc::new(store.clone());
    let mut handles = Vec::new();
    for _ in 0..10 {
        let (s, r, e) = (s.clone(), r1.clone(), dev.clone());
        handles.push(tokio::spawn(async move { s.record_deployment(&deployment(&r, &e)).await }));
    }
    for h in handles {
        h.await.unwrap().unwrap();
    }
    let history = store.list_deployments(&repo(), &project(), &dev).await.unwrap();
    assert_eq!(history.len(), 12);
    assert_eq!(history.iter().filter(|d| d.status == DeploymentStatus::Active).count(), 1);
    assert_eq!(store.audit_count(&format!("deployment:{}", d1.id)).await.unwrap(), 1);
}

async fn approvals_expire(store: &SqlStore) {
    let r = store.create_release(&release_req(sha(3), TriggerType::Manual, None, None), "ci").await.unwrap().value;
    let prod: Environment = "prod".parse().unwrap();
    let req = CreateApproval {
        repository: repo(),
        project: project(),
        release: "1".into(),
        environment: prod.clone(),
        comment: Some("ok".into()),
    };
    let a = store.create_approval(&req, &r, "alice").await.unwrap();
    assert_eq!(a.expires_at - a.created_at, Duration::hours(24));
    assert!(a.is_active(Utc::now()));
    assert!(!a.is_active(Utc::now() + Duration::hours(25)));
    let listed = store.approvals(r.id, &prod).await.unwrap();
    assert_eq!(listed, vec![a.clone()]);
    assert!(store.approvals(r.id, &"dev".parse().unwrap()).await.unwrap().is_empty());
    assert_eq!(store.audit_count(&format!("approval:{}", a.id)).await.unwrap(), 1);
}

fn planned_run(run: &forge_core::model::PipelineRun) -> forge_core::model::PipelineRun {
    let step = |name: &str, priority| StepExecution {
        id: Uuid::new_v4(),
        name: name.into(),
        action: StepAction::Earthly,
        priority,
        status: ExecStatus::Pending,
        exit_code: None,
        log_key: None,
        error: None,
        started_at: None,
        finished_at: None,
    };
    let mut run = run.clone();
    run.phases = vec![PhaseExecution {
        id: Uuid::new_v4(),
        name: "build".into(),
        group: 1,
        status: ExecStatus::Pending,
        started_at: None,
        finished_at: None,
        tasks: vec![TaskExecution {
            id: Uuid::new_v4(),
            project: project(),
            project_path: "web".into(),
            status: ExecStatus::Pending,
            started_at: None,
            finished_at: None,
            steps: vec![step("image", 10), step("lint", 5)],
        }],
    }];
    run
}

async fn run_status_aggregation(store: &SqlStore) {
    store.register_repository(&register(), "op").await.unwrap();
    let run = store.create_run(&run_req(9, false), "ci").await.unwrap().value;
    let planned = planned_run(&run);
    store.save_run(&planned).await.unwrap();
    assert_eq!(store.get_run(run.id).await.unwrap(), planned, "nested plan round-trips");
    let steps = &planned.phases[0].tasks[0].steps;
    let upd = |status| StatusUpdate { status, exit_code: None, log_key: None, error: None };
    let c = store.update_step_status(steps[0].id, &upd(ExecStatus::Running), "w").await.unwrap();
    assert_eq!((c.run_status, c.run_completed), (RunStatus::Running, false));
    let done =
        StatusUpdate { status: ExecStatus::Success, exit_code: Some(0), log_key: Some("logs/1".into()), error: None };
    let c = store.update_step_status(steps[0].id, &done, "w").await.unwrap();
    assert_eq!(c.run_status, RunStatus::Running);
    // Illegal: success → running.
    let err = store.update_step_status(steps[0].id, &upd(ExecStatus::Running), "w").await.unwrap_err();
    assert!(matches!(err, Error::Conflict { .. }), "{err}");
    // Idempotent re-application.
    store.update_step_status(steps[0].id, &done, "w").await.unwrap();
    store.update_step_status(steps[1].id, &upd(ExecStatus::Running), "w").await.unwrap();
    let c = store.update_step_status(steps[1].id, &upd(ExecStatus::Success), "w").await.unwrap();
    assert_eq!((c.run_status, c.run_completed), (RunStatus::Success, true));
    let got = store.get_run(run.id).await.unwrap();
    assert_eq!(got.status, RunStatus::Success);
    assert!(got.finished_at.is_some());
    assert_eq!(got.phases[0].status, ExecStatus::Success);
    assert_eq!(got.phases[0].tasks[0].status, ExecStatus::Success);
    assert_eq!(got.phases[0].tasks[0].steps[0].exit_code, Some(0));
    assert_eq!(got.phases[0].tasks[0].steps[0].log_key.as_deref(), Some("logs/1"));
    assert!(matches!(
        store.update_task_status(Uuid::new_v4(), &upd(ExecStatus::Running), "w").await,
        Err(Error::NotFound { .. })
    ));
    assert!(
        matches!(store.cancel_run(run.id, "op").await, Err(Error::Conflict { .. })),
        "terminal runs cannot be cancelled"
    );
}

async fn jobs_and_expiry(store: &SqlStore) {
    store.register_repository(&register(), "op").await.unwrap();
    let run = store.create_run(&run_req(5, false), "ci").await.unwrap().value;
    let now = Utc::now();
    let mut job = JobRecord {
        job_id: Uuid::new_v4(),
        run_id: run.id,
        kind: JobType::Discovery,
        status: JobStatus::Pending,
        result_path: None,
        error: None,
        updated_at: now,
        expires_at: now + Duration::days(forge_core::model::JOB_STATUS_TTL_DAYS),
    };
    store.upsert_job(&job).await.unwrap();
    job.status = JobStatus::Completed;
    job.result_path = Some("blob://results/1".into());
    store.upsert_job(&job).await.unwrap();
    let jobs = store.jobs_for_run(run.id).await.unwrap();
    assert_eq!(jobs.len(), 1);
    assert_eq!(jobs[0].status, JobStatus::Completed);
    assert_eq!(jobs[0].result_path.as_deref(), Some("blob://results/1"));
    let expired = JobRecord { job_id: Uuid::new_v4(), expires_at: now - Duration::seconds(1), ..job.clone() };
    store.upsert_job(&expired).await.unwrap();
    assert_eq!(store.jobs_for_run(run.id).await.unwrap().len(), 1, "expired jobs are not listed");
    assert_eq!(store.purge_expired_jobs().await.unwrap(), 1);
    store.ping().await.unwrap();
}

async fn concurrent_run_creation(store: &SqlStore) {
    store.register_repository(&register(), "op").await.unwrap();
    let s = Arc::new(store.clone());
    let mut handles = Vec::new();
    for _ in 0..20 {
        let s = s.clone();
        handles.push(tokio::spawn(async move { s.create_run(&run_req(77, false), "ci").await }));
    }
    let mut created = 0;
    let mut ids = std::collections::BTreeSet::new();
    for h in handles {
        let r = h.await.unwrap().unwrap();
        created += usize::from(r.created);
        ids.insert(r.value.id);
    }
    assert_eq!((created, ids.len()), (1, 1), "one run per (repository, commit)");
    let mut handles = Vec::new();
    for _ in 0..10 {
        let s = s.clone();
        handles.push(tokio::spawn(async move { s.create_run(&run_req(77, true), "ci").await }));
    }
    let mut attempts = Vec::new();
    for h in handles {
        attempts.push(h.await.unwrap().unwrap().value.attempt);
    }
    attempts.sort_unstable();
    assert_eq!(attempts, (2..=11).collect::<Vec<u32>>(), "re-runs get distinct, gapless attempts");
}

async fn expected_release_number_is_checked(store: &SqlStore) {
    let mut req = release_req(sha(1), TriggerType::BranchPush, Some("main"), None);
    req.expected_number = Some(2);
    let err = store.create_release(&req, "ci").await.unwrap_err();
    assert!(matches!(err, Error::Conflict { ref message, .. } if message.contains("next one is 1")), "{err}");
    assert_eq!(store.list_releases(&repo(), &project(), 10, 0).await.unwrap().total, 0, "nothing recorded");
    req.expected_number = Some(1);
    assert_eq!(store.create_release(&req, "ci").await.unwrap().value.release_number, 1);
    // The triplet exists: the existing release whatever number is expected.
    req.expected_number = Some(5);
    let again = store.create_release(&req, "ci").await.unwrap();
    assert!(!again.created);
    assert_eq!(again.value.release_number, 1);
}

async fn publisher_retry_updates_only_results(store: &SqlStore) {
    use forge_core::ReleaseStatus;
    use forge_core::model::{ArtifactType, PublishResult, ReleaseArtifact};
    let ok = |p: &str| PublishResult { publisher: p.into(), success: true, uri: Some(format!("{p}://x")), error: None };
    let failed =
        |p: &str| PublishResult { publisher: p.into(), success: false, uri: None, error: Some("502 upstream".into()) };
    let artifact = |publishers: Vec<PublishResult>| ReleaseArtifact {
        name: "cli".parse().unwrap(),
        kind: ArtifactType::Binary,
        digest: format!("sha256:{}", "cd".repeat(32)),
        tracking_ref: "registry.example/acme/shop/web/cli:sha-x".into(),
        primary_uri: Some("docker://x".into()),
        publishers,
    };
    let mut req = release_req(sha(2), TriggerType::BranchPush, Some("main"), None);
    req.artifacts = vec![artifact(vec![ok("docker"), failed("github")])];
    req.status = ReleaseStatus::Partial;
    let r = store.create_release(&req, "ci").await.unwrap().value;

    // Status must match the results.
    let fixed = vec![artifact(vec![ok("docker"), ok("github")])];
    let e = store.update_release_publishing(r.id, &fixed, ReleaseStatus::Partial, "op").await.unwrap_err();
    assert!(matches!(e, Error::Conflict { ref message, .. } if message.contains("expected `complete`")), "{e}");
    // A successful result cannot be replaced, nor a digest changed.
    let regressed = vec![artifact(vec![failed("docker"), ok("github")])];
    let e = store.update_release_publishing(r.id, &regressed, ReleaseStatus::Partial, "op").await.unwrap_err();
    assert!(matches!(e, Error::Conflict { ref message, .. } if message.contains("immutable")), "{e}");
    let mut other_digest = fixed.clone();
    other_digest[0].digest = format!("sha256:{}", "ef".repeat(32));
    let e = store.update_release_publishing(r.id, &other_digest, ReleaseStatus::Complete, "op").await.unwrap_err();
    assert!(matches!(e, Error::Conflict { .. }), "{e}");
    assert_eq!(store.get_release(&repo(), &project(), "1").await.unwrap().status, ReleaseStatus::Partial);

    // The legal update.
    let done = store.update_release_publishing(r.id, &fixed, ReleaseStatus::Complete, "op").await.unwrap();
    assert_eq!(done.status, ReleaseStatus::Complete);
    assert_eq!(done.artifacts, fixed);
    assert_eq!(done.oci_digest, r.oci_digest);
    assert_eq!(done.aliases, r.aliases);
    assert_eq!(store.audit_count(&format!("release:{}", r.id)).await.unwrap(), 2);
    // Complete: nothing more to retry.
    let e = store.update_release_publishing(r.id, &fixed, ReleaseStatus::Complete, "op").await.unwrap_err();
    assert!(matches!(e, Error::Conflict { ref message, .. } if message.contains("only a partial release")), "{e}");
    assert!(matches!(
        store.update_release_publishing(Uuid::new_v4(), &fixed, ReleaseStatus::Complete, "op").await,
        Err(Error::NotFound { .. })
    ));
}
