//! The Argo step dispatcher against the real embedded queue, local blob store and worker
//! runtime: submit, wait, write outputs; a retried dispatcher re-attaches instead of resubmitting.
#![allow(clippy::unwrap_used, clippy::expect_used)]

use std::sync::Arc;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::time::Duration;

use async_trait::async_trait;
use forge_core::model::{Job, JobType};
use forge_exec::blob::LocalBlobStore;
use forge_exec::dispatch::{
    DispatchRequest, discovery_outputs, dispatch, job_id_for, plan_from_document, write_outputs,
};
use forge_exec::handler::{JobHandler, JobOutput};
use forge_exec::queue::{EmbeddedQueue, QueueSettings};
use forge_exec::worker::{Worker, WorkerConfig};
use serde_json::json;
use tokio_util::sync::CancellationToken;
use uuid::Uuid;

struct Discovers(AtomicUsize);

#[async_trait]
impl JobHandler for Discovers {
    async fn handle(&self, _job: &Job, _cancel: CancellationToken) -> forge_exec::Result<JobOutput> {
        self.0.fetch_add(1, Ordering::SeqCst);
        Ok(JobOutput {
            failed: false,
            result: json!({
                "phaseGroups": [{"group": 2, "phases": ["build", "test"]}, {"group": 1, "phases": ["check"]}],
                "projects": [
                    {"name": "api", "phases": {"check": [{"name": "lint"}], "build": [{"name": "compile"}]}},
                    {"name": "web", "phases": {"check": [], "test": [{"name": "unit"}]}},
                ],
                "releaseProjects": ["api"],
            }),
        })
    }
}

fn request() -> DispatchRequest {
    DispatchRequest {
        run_id: Uuid::from_u128(42),
        repository: "acme/shop".parse().unwrap(),
        commit_sha: "0123456789abcdef0123456789abcdef01234567".parse().unwrap(),
        kind: JobType::Discovery,
        project: None,
        phase: None,
        branch: Some("main".into()),
        tag: None,
    }
}

#[tokio::test]
async fn dispatcher_submits_waits_and_writes_outputs() {
    let dir = tempfile::tempdir().unwrap();
    let queue = Arc::new(EmbeddedQueue::new(QueueSettings::DISCOVERY));
    let blobs = Arc::new(LocalBlobStore::new(dir.path().join("blobs")).unwrap());
    let handler = Arc::new(Discovers(AtomicUsize::new(0)));
    let worker = Worker::builder(queue.clone(), blobs.clone())
        .handler(JobType::Discovery, handler.clone())
        .config(WorkerConfig { wait: Duration::from_millis(50), ..WorkerConfig::default() })
        .build();
    let stop = CancellationToken::new();
    let w = tokio::spawn({
        let stop = stop.clone();
        async move { worker.run(stop).await }
    });

    let req = request();
    let r = dispatch(&*queue, &*blobs, &req, Duration::from_secs(20), Duration::from_millis(20)).await.unwrap();
    assert_eq!(r.job_id, job_id_for(&req));
    let out = dir.path().join("out");
    assert!(write_outputs(&out, JobType::Discovery, &r).unwrap());
    assert_eq!(
        std::fs::read_to_string(out.join("groups.json")).unwrap(),
        r#"[[{"phase":"check","project":"api"}],[{"phase":"build","project":"api"},{"phase":"test","project":"web"}]]"#
    );
    assert_eq!(std::fs::read_to_string(out.join("group-count.json")).unwrap(), "2");
    assert_eq!(std::fs::read_to_string(out.join("releases.json")).unwrap(), r#"["api"]"#);

    // A retried dispatcher pod (same run, type, project, phase) re-attaches: no second job.
    let again = dispatch(&*queue, &*blobs, &req, Duration::from_secs(5), Duration::from_millis(20)).await.unwrap();
    assert_eq!(again.job_id, r.job_id);
    assert_eq!(handler.0.load(Ordering::SeqCst), 1);
    stop.cancel();
    w.await.unwrap();
}

#[tokio::test]
async fn dispatcher_times_out_without_a_worker() {
    let dir = tempfile::tempdir().unwrap();
    let queue = EmbeddedQueue::new(QueueSettings::DISCOVERY);
    let blobs = LocalBlobStore::new(dir.path()).unwrap();
    let e =
        dispatch(&queue, &blobs, &request(), Duration::from_millis(200), Duration::from_millis(20)).await.unwrap_err();
    assert!(e.to_string().contains("timed out"), "{e}");
}

#[test]
fn job_ids_are_deterministic_and_distinct() {
    let a = request();
    let mut b = request();
    b.kind = JobType::Task;
    b.project = Some("api".parse().unwrap());
    b.phase = Some("build".into());
    assert_eq!(job_id_for(&a), job_id_for(&request()));
    assert_ne!(job_id_for(&a), job_id_for(&b));
    let (g, n, r) = discovery_outputs(&json!({}));
    assert_eq!((g, n, r), (json!([]), 0, json!([])));
}

#[test]
fn plans_come_from_discovery_documents_and_plan_files() {
    // SPEC §2.5: groups ascending, phases as listed, one task per project with steps.
    let doc = json!({
        "phaseGroups": [{"group": 2, "phases": ["test"]}, {"group": 1, "phases": ["build", "check"]}],
        "projects": [
            {"name": "api", "path": "services/api", "phases": {"build": [{"name": "image", "action": "earthly",
             "target": "+image", "priority": 5}], "check": []}},
            {"name": "web", "path": "web", "phases": {"test": [{"name": "unit", "action": "script", "run": "make"}]}},
        ],
    });
    let plan = plan_from_document(&doc).unwrap();
    let shape: Vec<String> = plan
        .groups
        .iter()
        .flat_map(|g| g.phases.iter().map(move |p| (g.group, p)))
        .map(|(g, p)| {
            format!("{g}:{}:{}", p.name, p.tasks.iter().map(|t| t.project.as_str()).collect::<Vec<_>>().join(","))
        })
        .collect();
    assert_eq!(shape, ["1:build:api", "2:test:web"]);
    let image = &plan.groups[0].phases[0].tasks[0].steps[0];
    assert_eq!((image.name.as_str(), image.priority, image.target.as_deref()), ("image", 5, Some("+image")));
    assert_eq!(plan.groups[1].phases[0].tasks[0].steps[0].run.as_deref(), Some("make"));
    // A plan-file discoverer's document is the plan itself.
    assert_eq!(plan_from_document(&serde_json::to_value(&plan).unwrap()).unwrap(), plan);
    // Anything else is an error, as are steps without names or with unknown actions.
    assert!(plan_from_document(&json!({"projects": []})).is_err());
    let mut bad = doc.clone();
    bad["projects"][0]["phases"]["build"][0]["action"] = json!("docker");
    assert!(plan_from_document(&bad).unwrap_err().to_string().contains("image"));
    let mut bad = doc;
    bad["projects"][1]["name"] = json!("Not Valid");
    assert!(plan_from_document(&bad).is_err());
}
