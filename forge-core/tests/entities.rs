//! Serde shapes of every entity: insta snapshots pin the JSON contract, proptest round-trips
//! prove parse(print(x)) == x.
#![cfg(feature = "proptest")]
#![allow(clippy::unwrap_used)]

use chrono::{TimeZone, Utc};
use forge_core::model::*;
use forge_core::ports::{Event, EventType, SecretRef, SecretValue};
use forge_core::strategies as s;
use forge_core::*;
use proptest::prelude::*;
use uuid::Uuid;

fn rt<T: serde::Serialize + serde::de::DeserializeOwned + PartialEq + std::fmt::Debug>(v: &T) {
    let json = serde_json::to_string(v).unwrap();
    let back: T = serde_json::from_str(&json).unwrap();
    assert_eq!(&back, v, "{json}");
}

proptest! {
    #[test] fn run_roundtrips(v in s::pipeline_run()) { rt(&v) }
    #[test] fn release_roundtrips(v in s::release()) { rt(&v) }
    #[test] fn deployment_roundtrips(v in s::deployment()) { rt(&v) }
    #[test] fn approval_roundtrips(v in s::approval()) { rt(&v) }
    #[test] fn job_roundtrips(v in s::job()) { rt(&v) }
}

fn sha() -> CommitSha {
    "0123456789abcdef0123456789abcdef01234567".parse().unwrap()
}
fn t0() -> chrono::DateTime<Utc> {
    Utc.with_ymd_and_hms(2026, 11, 28, 12, 0, 0).unwrap()
}
fn id(n: u128) -> Uuid {
    Uuid::from_u128(n)
}

fn sample_run() -> PipelineRun {
    PipelineRun {
        id: id(1),
        repository: "acme/shop".parse().unwrap(),
        commit_sha: sha(),
        branch: Some("main".into()),
        tag: None,
        attempt: 1,
        status: RunStatus::Running,
        actor: "github-webhook".into(),
        created_at: t0(),
        started_at: Some(t0()),
        finished_at: None,
        phases: vec![PhaseExecution {
            id: id(2),
            name: "build".into(),
            group: 1,
            status: ExecStatus::Running,
            started_at: Some(t0()),
            finished_at: None,
            tasks: vec![TaskExecution {
                id: id(3),
                project: "web".parse().unwrap(),
                project_path: "services/web".into(),
                status: ExecStatus::Running,
                started_at: Some(t0()),
                finished_at: None,
                steps: vec![StepExecution {
                    id: id(4),
                    name: "compile".into(),
                    action: StepAction::Script,
                    priority: 10,
                    status: ExecStatus::Success,
                    exit_code: Some(0),
                    log_key: Some("logs/1/4.log".into()),
                    error: None,
                    started_at: Some(t0()),
                    finished_at: Some(t0()),
                }],
            }],
        }],
    }
}

fn sample_release() -> Release {
    Release {
        id: id(10),
        repository: "acme/shop".parse().unwrap(),
        project: "web".parse().unwrap(),
        commit_sha: sha(),
        release_number: 42,
        status: ReleaseStatus::Complete,
        trigger: ReleaseTrigger {
            kind: TriggerType::Tag,
            branch: None,
            tag: Some("web/v1.2.3".into()),
            actor: "alice".into(),
        },
        oci_ref: "127.0.0.1:5000/acme/shop/web:0123456789abcdef0123456789abcdef01234567".into(),
        oci_digest: format!("sha256:{}", "a".repeat(64)),
        aliases: forge_core::alias::aliases_for(42, "web", Some("web/v1.2.3"), None),
        artifacts: vec![ReleaseArtifact {
            name: "web-image".parse().unwrap(),
            kind: ArtifactType::Container,
            digest: format!("sha256:{}", "b".repeat(64)),
            tracking_ref: "127.0.0.1:5000/acme/shop/web/web-image:sha-0123456789abcdef0123456789abcdef01234567".into(),
            primary_uri: Some("127.0.0.1:5000/acme/web:v1.2.3".into()),
            publishers: vec![PublishResult {
                publisher: "docker".into(),
                success: true,
                uri: Some("127.0.0.1:5000/acme/web:v1.2.3".into()),
                error: None,
            }],
        }],
        run_id: Some(id(1)),
        created_at: t0(),
    }
}

#[test]
fn snapshot_run() {
    insta::assert_json_snapshot!(sample_run());
}

#[test]
fn snapshot_release() {
    insta::assert_json_snapshot!(sample_release());
}

#[test]
fn snapshot_release_page() {
    insta::assert_json_snapshot!(ReleasePage { releases: vec![sample_release()], total: 1, limit: 20, offset: 0 });
}

#[test]
fn snapshot_deployment_and_approval() {
    let d = Deployment {
        id: id(20),
        release_id: id(10),
        repository: "acme/shop".parse().unwrap(),
        project: "web".parse().unwrap(),
        environment: "production".parse().unwrap(),
        release_number: 42,
        status: DeploymentStatus::Active,
        deployed_by: "alice".into(),
        approved_by: Some("bob".into()),
        gitops_commit: Some("f".repeat(40)),
        rollback: false,
        created_at: t0(),
    };
    insta::assert_json_snapshot!("deployment", d);
    let a = Approval {
        id: id(30),
        release_id: id(10),
        environment: "production".parse().unwrap(),
        approver: "bob".into(),
        comment: Some("LGTM".into()),
        created_at: t0(),
        expires_at: Approval::default_expiry(t0()),
    };
    insta::assert_json_snapshot!("approval", a);
}

#[test]
fn snapshot_job_message() {
    let j = Job {
        job_id: id(40),
        run_id: id(1),
        kind: JobType::Task,
        payload: JobPayload {
            repository: "acme/shop".parse().unwrap(),
            commit_sha: sha(),
            project: Some("web".parse().unwrap()),
            phase: Some("test".into()),
            steps: vec!["unit".into(), "lint".into()],
            branch: None,
            tag: None,
        },
        result_path: "file:///var/forge/results/40.json".into(),
    };
    insta::assert_json_snapshot!("job_message", j);
    let rec = JobRecord {
        job_id: id(40),
        run_id: id(1),
        kind: JobType::Task,
        status: JobStatus::Completed,
        result_path: Some("file:///var/forge/results/40.json".into()),
        error: None,
        updated_at: t0(),
        expires_at: t0() + chrono::Duration::days(model::JOB_STATUS_TTL_DAYS),
    };
    insta::assert_json_snapshot!("job_record", rec);
}

#[test]
fn snapshot_requests() {
    let run = CreateRun {
        repository: "acme/shop".parse().unwrap(),
        commit_sha: sha(),
        branch: Some("main".into()),
        tag: None,
        rerun: false,
    };
    insta::assert_json_snapshot!("create_run", run);
    let dep = CreateDeployment {
        repository: "acme/shop".parse().unwrap(),
        project: "web".parse().unwrap(),
        release: "v1.2.3".into(),
        environment: "staging".parse().unwrap(),
        rollback: false,
    };
    insta::assert_json_snapshot!("create_deployment", dep);
    let ev = Event { kind: EventType::ReleaseCreated, time: t0(), data: serde_json::json!({"release": 42}) };
    insta::assert_json_snapshot!("event", ev);
}

#[test]
fn secret_value_is_redacted_everywhere() {
    let v = SecretValue::from_string("hunter2-very-secret".into());
    assert!(!format!("{v:?}").contains("hunter2"));
    assert!(!format!("{v}").contains("hunter2"));
    assert!(!serde_json::to_string(&v).unwrap().contains("hunter2"));
    assert_eq!(v.expose_str(), Some("hunter2-very-secret"));
    let r: SecretRef = serde_json::from_str(r#"{"provider":"aws","secretName":"db","key":"password"}"#).unwrap();
    assert_eq!(r.to_string(), "aws(key=password, secretName=db)");
}

#[test]
fn unknown_status_is_rejected_with_choices() {
    let e = "done".parse::<RunStatus>().unwrap_err();
    assert!(e.to_string().contains("pending, running, success, failed, cancelled"), "{e}");
    assert!(serde_json::from_str::<ExecStatus>("\"done\"").is_err());
}
