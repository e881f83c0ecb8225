//! Benchmarks of the execution engine (a plain bench binary; run with
//! `cargo bench -p forge-exec --features sqs --bench exec`):
//!
//! 1. scheduler overhead: 100 projects × 3 phases (3 groups) of `script: "true"` steps with the
//!    real executor, against the raw cost of spawning the same processes, and against a no-op
//!    executor (pure scheduling cost);
//! 2. embedded queue throughput for no-op jobs (send → receive → ack), and a worker draining
//!    no-op jobs with an in-memory blob store;
//! 3. SQS adapter throughput against moto (when `AWS_ENDPOINT_URL` is set, feature `sqs`).
#![allow(clippy::unwrap_used, clippy::expect_used, missing_docs)]

use std::collections::HashMap;
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use async_trait::async_trait;
use bytes::Bytes;
use forge_core::model::{Job, JobType};
use forge_core::ports::{BlobStore, Executor, JobQueue, StepOutcome, StepSpec};
use forge_exec::blob::LocalBlobStore;
use forge_exec::executor::{ActionExecutor, CancelFuture};
use forge_exec::handler::{JobHandler, JobOutput};
use forge_exec::plan::{GroupPlan, PhasePlan, PipelinePlan, StepPlan, TaskPlan};
use forge_exec::queue::{EmbeddedQueue, QueueSettings, conformance::sample_job};
use forge_exec::scheduler::{NoopSink, Scheduler};
use forge_exec::worker::{Worker, WorkerConfig};
use tokio_util::sync::CancellationToken;

const PROJECTS: usize = 100;
const PHASES: usize = 3;

fn plan() -> PipelinePlan {
    let groups = ["build", "test", "package"]
        .iter()
        .enumerate()
        .take(PHASES)
        .map(|(i, phase)| GroupPlan {
            group: i as u32 + 1,
            phases: vec![PhasePlan {
                name: (*phase).into(),
                timeout: None,
                tasks: (0..PROJECTS)
                    .map(|p| TaskPlan {
                        project: format!("p{p:03}"),
                        project_path: ".".into(),
                        steps: vec![StepPlan::script("run", "true")],
                    })
                    .collect(),
            }],
        })
        .collect();
    PipelinePlan { groups }
}

struct NoopExecutor;

#[async_trait]
impl Executor for NoopExecutor {
    async fn run(&self, _spec: &StepSpec, _cancel: CancelFuture) -> forge_core::Result<StepOutcome> {
        Ok(StepOutcome { exit_code: Some(0), timed_out: false, cancelled: false })
    }
}

fn median(mut v: Vec<Duration>) -> Duration {
    v.sort();
    v[v.len() / 2]
}

async fn bench_scheduler() {
    let dir = tempfile::tempdir().unwrap();
    let blobs = Arc::new(LocalBlobStore::new(dir.path().join("blobs")).unwrap());
    let plan = plan();
    let steps = plan.step_count();
    let rounds = 5;

    // Raw spawn: the same number of `sh -c true`, PROJECTS at a time, PHASES rounds.
    let mut raw = Vec::new();
    for _ in 0..rounds {
        let t = Instant::now();
        for _ in 0..PHASES {
            let mut set = tokio::task::JoinSet::new();
            for _ in 0..PROJECTS {
                set.spawn(async { tokio::process::Command::new("sh").args(["-c", "true"]).status().await.unwrap() });
            }
            while set.join_next().await.is_some() {}
        }
        raw.push(t.elapsed());
    }

    let mut real = Vec::new();
    for r in 0..rounds {
        let s = Scheduler::new(Arc::new(ActionExecutor::new(blobs.clone())), Arc::new(NoopSink))
            .with_repo_root(dir.path())
            .with_log_prefix(format!("logs/bench-{r}"));
        let t = Instant::now();
        let report = s.run(&plan, CancellationToken::new()).await;
        real.push(t.elapsed());
        assert_eq!(report.status, forge_core::RunStatus::Success);
    }

    let mut pure = Vec::new();
    for _ in 0..rounds {
        let s = Scheduler::new(Arc::new(NoopExecutor), Arc::new(NoopSink));
        let t = Instant::now();
        s.run(&plan, CancellationToken::new()).await;
        pure.push(t.elapsed());
    }
    let (raw, real, pure) = (median(raw), median(real), median(pure));
    let per = |d: Duration| d.as_secs_f64() * 1000.0 / steps as f64;
    println!("scheduler: {PROJECTS} projects x {PHASES} phases = {steps} `true` steps (median of {rounds})");
    println!("  total with script executor : {:>9.1} ms ({:.3} ms/step)", real.as_secs_f64() * 1000.0, per(real));
    println!("  raw process spawn baseline : {:>9.1} ms ({:.3} ms/step)", raw.as_secs_f64() * 1000.0, per(raw));
    println!("  overhead beyond spawn      : {:>9.3} ms/step (target <= 2 ms)", per(real.saturating_sub(raw)));
    println!("  pure scheduling (no-op exec): {:>8.3} ms total, {:.4} ms/step", pure.as_secs_f64() * 1000.0, per(pure));
}

#[derive(Default)]
struct MemBlobs(Mutex<HashMap<String, Bytes>>);

#[async_trait]
impl BlobStore for MemBlobs {
    async fn put(&self, key: &str, data: Bytes) -> forge_core::Result<()> {
        self.0.lock().unwrap().insert(key.to_owned(), data);
        Ok(())
    }
    async fn get(&self, key: &str) -> forge_core::Result<Bytes> {
        self.0
            .lock()
            .unwrap()
            .get(key)
            .cloned()
            .ok_or(forge_core::Error::NotFound { component: "mem", what: key.to_owned() })
    }
    async fn append(&self, _key: &str, _data: &[u8]) -> forge_core::Result<()> {
        Ok(())
    }
    fn uri(&self, key: &str) -> String {
        format!("mem://{key}")
    }
}

struct NoopHandler;

#[async_trait]
impl JobHandler for NoopHandler {
    async fn handle(&self, _job: &Job, _cancel: CancellationToken) -> forge_exec::Result<JobOutput> {
        Ok(JobOutput { failed: false, result: serde_json::Value::Null })
    }
}

async fn bench_embedded() {
    let n = 200_000;
    let jobs: Vec<Job> = (0..n).map(|_| sample_job()).collect();
    let q = EmbeddedQueue::new(QueueSettings::TASKS);
    let t = Instant::now();
    for j in &jobs {
        q.send(j).await.unwrap();
    }
    let mut done = 0;
    while done < n {
        for d in q.receive(10, Duration::ZERO).await.unwrap() {
            q.ack(&d).await.unwrap();
            done += 1;
        }
    }
    let e = t.elapsed();
    println!(
        "embedded queue: {n} no-op jobs send+receive+ack in {:.1} ms = {:.0} jobs/s (target >= 50,000)",
        e.as_secs_f64() * 1000.0,
        n as f64 / e.as_secs_f64()
    );

    // The worker runtime draining no-op jobs (result recorded in memory, then ack).
    let n = 50_000;
    let q = Arc::new(EmbeddedQueue::new(QueueSettings::TASKS));
    for _ in 0..n {
        q.send(&sample_job()).await.unwrap();
    }
    let cfg = WorkerConfig { concurrency: 64, wait: Duration::from_millis(10), ..WorkerConfig::default() };
    let worker = Worker::builder(q.clone(), Arc::new(MemBlobs::default()))
        .handler(JobType::Task, Arc::new(NoopHandler))
        .config(cfg)
        .build();
    let stop = CancellationToken::new();
    let t = Instant::now();
    let run = tokio::spawn({
        let (w, s) = (worker.clone(), stop.clone());
        async move { w.run(s).await }
    });
    while !q.is_empty() {
        tokio::time::sleep(Duration::from_millis(1)).await;
    }
    let e = t.elapsed();
    stop.cancel();
    run.await.unwrap();
    println!(
        "worker on embedded queue: {n} no-op jobs in {:.1} ms = {:.0} jobs/s (concurrency 64, in-memory results)",
        e.as_secs_f64() * 1000.0,
        n as f64 / e.as_secs_f64()
    );
}

#[cfg(feature = "sqs")]
async fn bench_sqs() {
    use forge_exec::queue::sqs::{SqsClient, SqsQueue, ensure_queues};
    if std::env::var_os("AWS_ENDPOINT_URL").is_none() {
        println!("sqs on moto: skipped (AWS_ENDPOINT_URL unset)");
        return;
    }
    let client = SqsClient::from_env().await;
    let name = format!("bench-{}", uuid::Uuid::new_v4().simple());
    let urls = ensure_queues(&client, &name, QueueSettings::TASKS).await.unwrap();
    let q = Arc::new(SqsQueue::new(client, urls.queue));
    let n = 500;
    let t = Instant::now();
    let mut set = tokio::task::JoinSet::new();
    for w in 0..8 {
        let q = q.clone();
        set.spawn(async move {
            for _ in (w..n).step_by(8) {
                q.send(&sample_job()).await.unwrap();
            }
        });
    }
    while set.join_next().await.is_some() {}
    let sent = t.elapsed();
    let t = Instant::now();
    let done = Arc::new(std::sync::atomic::AtomicUsize::new(0));
    for _ in 0..8 {
        let (q, done) = (q.clone(), done.clone());
        set.spawn(async move {
            while done.load(std::sync::atomic::Ordering::SeqCst) < n {
                for d in q.receive(10, Duration::from_secs(1)).await.unwrap() {
                    q.ack(&d).await.unwrap();
                    done.fetch_add(1, std::sync::atomic::Ordering::SeqCst);
                }
            }
        });
    }
    while set.join_next().await.is_some() {}
    let drained = t.elapsed();
    println!(
        "sqs on moto: {n} jobs sent in {:.0} ms ({:.0}/s, 8 senders); received+acked in {:.0} ms ({:.0}/s, 8 consumers, batches of 10)",
        sent.as_secs_f64() * 1000.0,
        n as f64 / sent.as_secs_f64(),
        drained.as_secs_f64() * 1000.0,
        n as f64 / drained.as_secs_f64()
    );
}

fn main() {
    // `cargo bench` passes `--bench`; with a filter argument, run only matching parts.
    let filter: Vec<String> = std::env::args().skip(1).filter(|a| !a.starts_with("--")).collect();
    let want = |name: &str| filter.is_empty() || filter.iter().any(|f| name.contains(f.as_str()));
    let rt = tokio::runtime::Builder::new_multi_thread().enable_all().build().unwrap();
    rt.block_on(async {
        if want("scheduler") {
            bench_scheduler().await;
        }
        if want("embedded") {
            bench_embedded().await;
        }
        #[cfg(feature = "sqs")]
        if want("sqs") {
            bench_sqs().await;
        }
    });
}
