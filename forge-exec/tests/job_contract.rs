//! The job message contract of SPEC §3.3, pinned by snapshots.

use forge_core::model::{Job, JobPayload, JobType};
use uuid::Uuid;

fn job(kind: JobType) -> Job {
    Job {
        job_id: Uuid::from_u128(0x1111_1111_1111_4111_8111_1111_1111_1111),
        run_id: Uuid::from_u128(0x2222_2222_2222_4222_8222_2222_2222_2222),
        kind,
        payload: JobPayload {
            repository: "acme/shop".parse().expect("repository"),
            commit_sha: "0123456789abcdef0123456789abcdef01234567".parse().expect("sha"),
            project: (kind != JobType::Discovery).then(|| "web".parse().expect("project")),
            phase: (kind == JobType::Task).then(|| "build".to_owned()),
            steps: if kind == JobType::Task { vec!["compile".into(), "lint".into()] } else { vec![] },
            branch: None,
            tag: None,
        },
        result_path: "file:///var/lib/forge/blobs/results/11111111-1111-4111-8111-111111111111.json".into(),
    }
}

#[test]
fn task_job_message() {
    insta::assert_json_snapshot!(job(JobType::Task));
}

#[test]
fn discovery_job_message() {
    insta::assert_json_snapshot!(job(JobType::Discovery));
}

#[test]
fn artifact_job_message() {
    insta::assert_json_snapshot!(job(JobType::Artifact));
}

#[test]
fn job_messages_round_trip_and_accept_minimal_payloads() {
    for kind in [JobType::Task, JobType::Discovery, JobType::Artifact] {
        let j = job(kind);
        let text = serde_json::to_string(&j).expect("encode");
        assert_eq!(serde_json::from_str::<Job>(&text).expect("decode"), j);
    }
    let minimal = r#"{"job_id":"11111111-1111-4111-8111-111111111111","run_id":"22222222-2222-4222-8222-222222222222",
        "type":"discovery","payload":{"repository":"acme/shop","commit_sha":"0123456789abcdef0123456789abcdef01234567"},
        "result_path":"file:///r"}"#;
    let j: Job = serde_json::from_str(minimal).expect("minimal discovery job");
    assert_eq!(j.kind, JobType::Discovery);
    assert!(j.payload.steps.is_empty());
    assert!(
        serde_json::from_str::<Job>(&minimal.replace("discovery", "deploy")).is_err(),
        "unknown job types are refused"
    );
}
