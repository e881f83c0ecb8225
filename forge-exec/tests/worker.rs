//! The worker runtime on the embedded queue, and the task/discovery handlers end to end on a
//! real git repository.

use std::process::Command;
use std::sync::Arc;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::time::Duration;

use async_trait::async_trait;
use forge_core::JobStatus;
use forge_core::model::{Job, JobType};
use forge_core::ports::{BlobStore, JobQueue};
use forge_exec::blob::LocalBlobStore;
use forge_exec::executor::ActionExecutor;
use forge_exec::handler::{DiscoveryCache, DiscoveryHandler, JobHandler, JobOutput, PlanFileDiscoverer, TaskHandler};
use forge_exec::plan::{GroupPlan, PhasePlan, PipelinePlan, StepPlan, TaskPlan};
use forge_exec::queue::{EmbeddedQueue, QueueSettings, conformance::sample_job};
use forge_exec::repo_cache::RepoCache;
use forge_exec::scheduler::NoopSink;
use forge_exec::worker::{JobResult, Worker, WorkerConfig, result_key};
use tokio_util::sync::CancellationToken;

type TestResult = Result<(), Box<dyn std::error::Error>>;

/// Sleeps `delay` (or until cancelled), counting runs.
struct Sleepy {
    delay: Duration,
    runs: AtomicUsize,
}

#[async_trait]
impl JobHandler for Sleepy {
    async fn handle(&self, _job: &Job, cancel: CancellationToken) -> forge_exec::Result<JobOutput> {
        self.runs.fetch_add(1, Ordering::SeqCst);
        tokio::select! {
            () = tokio::time::sleep(self.delay) => Ok(JobOutput { failed: false, result: serde_json::json!({"ok": true}) }),
            () = cancel.cancelled() => Ok(JobOutput { failed: true, result: serde_json::Value::Null }),
        }
    }
}

fn config(vt: Duration) -> WorkerConfig {
    WorkerConfig {
        concurrency: 4,
        wait: Duration::from_millis(100),
        visibility_timeout: vt,
        heartbeat: vt / 3,
        job_timeout: Duration::from_secs(30),
        shutdown_grace: Duration::from_secs(5),
    }
}

async fn result(blobs: &LocalBlobStore, job: &Job) -> Option<JobResult> {
    let bytes = blobs.get(&result_key(job.job_id)).await.ok()?;
    serde_json::from_slice(&bytes).ok()
}

async fn wait_until<F: Fn() -> bool>(f: F, within: Duration) -> bool {
    let deadline = tokio::time::Instant::now() + within;
    while tokio::time::Instant::now() < deadline {
        if f() {
            return true;
        }
        tokio::time::sleep(Duration::from_millis(20)).await;
    }
    f()
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn heartbeat_keeps_long_jobs_invisible_and_results_are_idempotent() -> TestResult {
    let dir = tempfile::tempdir()?;
    let blobs = Arc::new(LocalBlobStore::new(dir.path())?);
    // A heartbeat every 333 ms keeps a 1 s visibility; the margin absorbs a loaded machine.
    let vt = Duration::from_millis(1000);
    let queue = Arc::new(EmbeddedQueue::new(QueueSettings::TASKS.with_visibility(vt)));
    // Each job runs 3× the visibility timeout: without heartbeats it would be redelivered.
    let handler = Arc::new(Sleepy { delay: vt * 3, runs: AtomicUsize::new(0) });
    let worker = Worker::builder(queue.clone(), blobs.clone())
        .handler(JobType::Task, handler.clone())
        .config(config(vt))
        .build();
    let jobs: Vec<Job> = (0..6).map(|_| sample_job()).collect();
    for j in &jobs {
        queue.send(j).await?;
    }
    let stop = CancellationToken::new();
    let run = tokio::spawn({
        let (w, s) = (worker.clone(), stop.clone());
        async move { w.run(s).await }
    });
    assert!(wait_until(|| queue.is_empty(), Duration::from_secs(20)).await, "all jobs acknowledged");
    assert_eq!(handler.runs.load(Ordering::SeqCst), 6, "no job ran twice");
    for j in &jobs {
        let r = result(&blobs, j).await.ok_or("result recorded")?;
        assert_eq!(r.status, JobStatus::Completed);
        assert_eq!(r.receive_count, 1);
    }
    // A duplicate message of a finished job is acknowledged without running again.
    queue.send(&jobs[0]).await?;
    assert!(wait_until(|| queue.is_empty(), Duration::from_secs(5)).await);
    assert_eq!(handler.runs.load(Ordering::SeqCst), 6);
    stop.cancel();
    let stats = run.await?;
    assert_eq!(stats.received, 7);
    let text = worker.metrics().render();
    assert!(text.contains(r#"forge_worker_jobs_total{outcome="completed",type="task"} 6"#), "{text}");
    assert!(text.contains(r#"forge_worker_jobs_total{outcome="duplicate",type="task"} 1"#), "{text}");
    assert!(text.contains("forge_worker_queue_lag_seconds_count"), "{text}");
    Ok(())
}

#[tokio::test]
async fn shutdown_finishes_running_jobs_within_the_grace_period() -> TestResult {
    let dir = tempfile::tempdir()?;
    let blobs = Arc::new(LocalBlobStore::new(dir.path())?);
    let queue = Arc::new(EmbeddedQueue::new(QueueSettings::TASKS));
    let handler = Arc::new(Sleepy { delay: Duration::from_millis(500), runs: AtomicUsize::new(0) });
    let worker = Worker::builder(queue.clone(), blobs.clone())
        .handler(JobType::Task, handler.clone())
        .config(config(Duration::from_secs(30)))
        .build();
    let job = sample_job();
    queue.send(&job).await?;
    let stop = CancellationToken::new();
    let run = tokio::spawn({
        let (w, s) = (worker.clone(), stop.clone());
        async move { w.run(s).await }
    });
    assert!(wait_until(|| handler.runs.load(Ordering::SeqCst) == 1, Duration::from_secs(5)).await);
    stop.cancel(); // SIGTERM while the job runs
    let late = sample_job();
    queue.send(&late).await?;
    run.await?;
    assert_eq!(result(&blobs, &job).await.map(|r| r.status), Some(JobStatus::Completed), "the running job finished");
    assert!(result(&blobs, &late).await.is_none(), "no new job was received after the signal");
    assert_eq!(queue.len(), 1);
    Ok(())
}

#[tokio::test]
async fn shutdown_past_the_grace_period_releases_the_job() -> TestResult {
    let dir = tempfile::tempdir()?;
    let blobs = Arc::new(LocalBlobStore::new(dir.path())?);
    let queue = Arc::new(EmbeddedQueue::new(QueueSettings::TASKS));
    let handler = Arc::new(Sleepy { delay: Duration::from_secs(60), runs: AtomicUsize::new(0) });
    let mut cfg = config(Duration::from_secs(30));
    cfg.shutdown_grace = Duration::from_millis(200);
    let worker =
        Worker::builder(queue.clone(), blobs.clone()).handler(JobType::Task, handler.clone()).config(cfg).build();
    let job = sample_job();
    queue.send(&job).await?;
    let stop = CancellationToken::new();
    let run = tokio::spawn({
        let (w, s) = (worker.clone(), stop.clone());
        async move { w.run(s).await }
    });
    assert!(wait_until(|| handler.runs.load(Ordering::SeqCst) == 1, Duration::from_secs(5)).await);
    stop.cancel();
    tokio::time::timeout(Duration::from_secs(5), run).await??;
    assert!(result(&blobs, &job).await.is_none(), "nothing recorded for a released job");
    let again = queue.receive(1, Duration::from_millis(100)).await?;
    assert_eq!(again.len(), 1, "released at once, visible to the next worker");
    assert_eq!(again[0].receive_count, 2);
    Ok(())
}

#[tokio::test]
async fn job_timeout_cancels_and_records_failure() -> TestResult {
    let dir = tempfile::tempdir()?;
    let blobs = Arc::new(LocalBlobStore::new(dir.path())?);
    let queue = Arc::new(EmbeddedQueue::new(QueueSettings::TASKS));
    let handler = Arc::new(Sleepy { delay: Duration::from_secs(60), runs: AtomicUsize::new(0) });
    let mut cfg = config(Duration::from_secs(30));
    cfg.job_timeout = Duration::from_millis(200);
    let worker = Worker::builder(queue.clone(), blobs.clone()).handler(JobType::Task, handler).config(cfg).build();
    let job = sample_job();
    queue.send(&job).await?;
    let stop = CancellationToken::new();
    let run = tokio::spawn({
        let (w, s) = (worker.clone(), stop.clone());
        async move { w.run(s).await }
    });
    assert!(wait_until(|| queue.is_empty(), Duration::from_secs(5)).await);
    stop.cancel();
    run.await?;
    let r = result(&blobs, &job).await.ok_or("recorded")?;
    assert_eq!(r.status, JobStatus::Failed);
    assert!(r.error.unwrap_or_default().contains("timed out"));
    Ok(())
}

fn git(dir: &std::path::Path, args: &[&str]) -> Result<String, Box<dyn std::error::Error>> {
    let out = Command::new("git")
        .arg("-C")
        .arg(dir)
        .args(["-c", "user.name=t", "-c", "user.email=t@example.invalid", "-c", "commit.gpgsign=false"])
        .args(args)
        .output()?;
    if !out.status.success() {
        return Err(String::from_utf8_lossy(&out.stderr).into_owned().into());
    }
    Ok(String::from_utf8_lossy(&out.stdout).trim().to_owned())
}

#[tokio::test]
async fn task_and_discovery_jobs_on_a_real_repository() -> TestResult {
    let tmp = tempfile::tempdir()?;
    let src = tmp.path().join("src/acme/shop");
    std::fs::create_dir_all(src.join(".forge"))?;
    std::fs::create_dir_all(src.join("services/web"))?;
    let task = TaskPlan {
        project: "web".into(),
        project_path: "services/web".into(),
        steps: vec![
            StepPlan::script("first", "echo first > first.txt").with_priority(10),
            StepPlan::script("second", "cat first.txt && echo second"),
        ],
    };
    let plan = PipelinePlan {
        groups: vec![GroupPlan {
            group: 1,
            phases: vec![PhasePlan { name: "build".into(), timeout: None, tasks: vec![task] }],
        }],
    };
    std::fs::write(src.join(".forge/plan.json"), serde_json::to_vec_pretty(&plan)?)?;
    std::fs::write(src.join("services/web/README"), "web")?;
    git(&src, &["init", "-q", "-b", "main"])?;
    git(&src, &["add", "."])?;
    git(&src, &["commit", "-qm", "init"])?;
    let sha = git(&src, &["rev-parse", "HEAD"])?;

    let blobs = Arc::new(LocalBlobStore::new(tmp.path().join("blobs"))?);
    let repos = Arc::new(RepoCache::new(
        tmp.path().join("cache"),
        format!("file://{}/src/{{owner}}/{{name}}", tmp.path().display()),
        u64::MAX,
    )?);
    let discovery = Arc::new(DiscoveryCache::new(Arc::new(PlanFileDiscoverer), 16));
    let exec = Arc::new(ActionExecutor::new(blobs.clone()));
    let queue = Arc::new(EmbeddedQueue::new(QueueSettings::TASKS));
    let worker = Worker::builder(queue.clone(), blobs.clone())
        .handler(JobType::Task, Arc::new(TaskHandler::new(repos.clone(), discovery.clone(), exec, Arc::new(NoopSink))))
        .handler(JobType::Discovery, Arc::new(DiscoveryHandler::new(repos.clone(), discovery.clone())))
        .config(config(Duration::from_secs(30)))
        .build();

    let mut disc = sample_job();
    disc.kind = JobType::Discovery;
    disc.payload.commit_sha = sha.parse()?;
    let mut job = sample_job();
    job.payload.commit_sha = sha.parse()?;
    job.payload.steps.clear();
    queue.send(&disc).await?;
    queue.send(&job).await?;
    let stop = CancellationToken::new();
    let run = tokio::spawn({
        let (w, s) = (worker.clone(), stop.clone());
        async move { w.run(s).await }
    });
    assert!(wait_until(|| queue.is_empty(), Duration::from_secs(20)).await);
    stop.cancel();
    run.await?;
    let d = result(&blobs, &disc).await.ok_or("discovery result")?;
    assert_eq!(d.status, JobStatus::Completed);
    assert_eq!(d.result["groups"][0]["phases"][0]["name"], "build");
    assert!(
        discovery.cached(&disc.payload.repository, &disc.payload.commit_sha, &Default::default()).is_some(),
        "cached by (repo, commit)"
    );
    let t = result(&blobs, &job).await.ok_or("task result")?;
    assert_eq!(t.status, JobStatus::Completed, "{t:?}");
    let log_key = t.result["phases"][0]["tasks"][0]["steps"][1]["log_key"].as_str().ok_or("log key")?.to_owned();
    let log = blobs.get(&log_key).await?;
    assert_eq!(String::from_utf8_lossy(&log), "first\nsecond\n", "tiers ran in order in the project directory");
    assert_eq!(std::fs::read_dir(tmp.path().join("cache/worktrees"))?.count(), 0, "worktrees removed");
    Ok(())
}
