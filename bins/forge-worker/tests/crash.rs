//! Crash test (SPEC §3.3): the real `forge-worker` on an SQS queue (moto) is SIGKILLed in the
//! middle of a job; a second worker receives the redelivered job and completes it; the result
//! is recorded once under the job id, and a duplicate delivery is acknowledged without running.

use std::io::{Read, Write};
use std::net::TcpStream;
use std::path::Path;
use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};

use forge_exec::plan::{GroupPlan, PhasePlan, PipelinePlan, StepPlan, TaskPlan};
use forge_exec::queue::QueueSettings;
use forge_exec::queue::sqs::{SqsClient, SqsQueue, ensure_queues};
use forge_exec::worker::{JobResult, result_key};

type TestResult = Result<(), Box<dyn std::error::Error>>;

fn moto_available() -> bool {
    if std::env::var_os("AWS_ENDPOINT_URL").is_some() {
        return true;
    }
    assert!(
        std::env::var("FORGE_TEST_REQUIRE_SERVICES").as_deref() != Ok("1"),
        "FORGE_TEST_REQUIRE_SERVICES=1 but AWS_ENDPOINT_URL is unset; run scripts/services.sh up"
    );
    eprintln!("crash test skipped: AWS_ENDPOINT_URL is unset (start moto with scripts/services.sh up)");
    false
}

fn git(dir: &Path, args: &[&str]) -> Result<String, Box<dyn std::error::Error>> {
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

fn lines(p: &Path) -> usize {
    std::fs::read_to_string(p).map(|s| s.lines().count()).unwrap_or(0)
}

fn wait_for(what: &str, within: Duration, f: impl Fn() -> bool) -> Result<(), String> {
    let deadline = Instant::now() + within;
    while Instant::now() < deadline {
        if f() {
            return Ok(());
        }
        std::thread::sleep(Duration::from_millis(50));
    }
    Err(format!("timed out waiting for {what}"))
}

fn free_port() -> Result<u16, std::io::Error> {
    Ok(std::net::TcpListener::bind("127.0.0.1:0")?.local_addr()?.port())
}

fn worker(tmp: &Path, url: &str, cache: &str, metrics_port: u16) -> std::io::Result<Child> {
    Command::new(env!("CARGO_BIN_EXE_forge-worker"))
        .env("FORGE_WORKER_DISCOVERER", "plan-file")
        .args([
            "run",
            "--queue-url",
            url,
            "--concurrency",
            "2",
            "--visibility-timeout",
            "2s",
            "--heartbeat",
            "500ms",
            "--wait-time",
            "1s",
        ])
        .args(["--metrics-addr", &format!("127.0.0.1:{metrics_port}")])
        .arg("--blob-dir")
        .arg(tmp.join("blobs"))
        .arg("--cache-dir")
        .arg(tmp.join(cache))
        .args(["--repo-url-template", &format!("file://{}/src/{{owner}}/{{name}}", tmp.display())])
        .env("RUST_LOG", "info")
        .stdout(Stdio::null())
        .stderr(std::fs::File::create(tmp.join(format!("{cache}.log")))?)
        .spawn()
}

fn scrape(port: u16) -> std::io::Result<String> {
    let mut s = TcpStream::connect(("127.0.0.1", port))?;
    s.write_all(b"GET /metrics HTTP/1.1\r\nHost: x\r\n\r\n")?;
    let mut out = String::new();
    s.read_to_string(&mut out)?;
    Ok(out)
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn sigkilled_worker_job_is_redelivered_and_completed_once() -> TestResult {
    if !moto_available() {
        return Ok(());
    }
    let tmp = tempfile::tempdir()?;
    let tmp = tmp.path();
    let marks = tmp.join("marks");
    std::fs::create_dir_all(&marks)?;
    // The repository: one project with one slow step that leaves marks.
    let src = tmp.join("src/acme/shop");
    std::fs::create_dir_all(src.join(".forge"))?;
    std::fs::create_dir_all(src.join("web"))?;
    std::fs::write(src.join("web/.keep"), "")?;
    let script = format!("echo start >> {m}/starts; sleep 3; echo end >> {m}/ends", m = marks.display());
    let task =
        TaskPlan { project: "web".into(), project_path: "web".into(), steps: vec![StepPlan::script("work", script)] };
    let plan = PipelinePlan {
        groups: vec![GroupPlan {
            group: 1,
            phases: vec![PhasePlan { name: "build".into(), timeout: None, tasks: vec![task] }],
        }],
    };
    std::fs::write(src.join(".forge/plan.json"), serde_json::to_vec_pretty(&plan)?)?;
    git(&src, &["init", "-q", "-b", "main"])?;
    git(&src, &["add", "."])?;
    git(&src, &["commit", "-qm", "init"])?;
    let sha = git(&src, &["rev-parse", "HEAD"])?;

    let client = SqsClient::from_env().await;
    let name = format!("crash-{}", uuid::Uuid::new_v4().simple());
    let urls = ensure_queues(&client, &name, QueueSettings::TASKS.with_visibility(Duration::from_secs(2))).await?;
    let queue = SqsQueue::new(client, urls.queue.clone());
    let mut job = forge_exec::queue::conformance::sample_job();
    job.payload.commit_sha = sha.parse()?;
    job.payload.steps = vec!["work".into()];
    forge_core::ports::JobQueue::send(&queue, &job).await?;

    // Worker 1 starts the job and is killed mid-step.
    let mut w1 = worker(tmp, &urls.queue, "cache1", free_port()?)?;
    wait_for("worker 1 to start the step", Duration::from_secs(30), || lines(&marks.join("starts")) >= 1)?;
    w1.kill()?; // SIGKILL
    w1.wait()?;
    let result_path = tmp.join("blobs").join(result_key(job.job_id));
    assert!(!result_path.exists(), "no result from the killed worker");

    // Worker 2 receives the redelivered job (after the 2 s visibility timeout) and completes it.
    let port = free_port()?;
    let mut w2 = worker(tmp, &urls.queue, "cache2", port)?;
    wait_for("the result", Duration::from_secs(40), || result_path.exists())?;
    let result: JobResult = serde_json::from_slice(&std::fs::read(&result_path)?)?;
    assert_eq!(result.status, forge_core::JobStatus::Completed, "{result:?}");
    assert_eq!(result.job_id, job.job_id);
    assert!(result.receive_count >= 2, "completed on a redelivery: {result:?}");
    assert_eq!(lines(&marks.join("starts")), 2, "run once by each worker");

    // A duplicate message of the finished job: acknowledged, not run again.
    forge_core::ports::JobQueue::send(&queue, &job).await?;
    wait_for("the duplicate to be acknowledged", Duration::from_secs(20), || {
        scrape(port)
            .map(|m| m.contains(r#"forge_worker_jobs_total{outcome="duplicate",type="task"} 1"#))
            .unwrap_or(false)
    })?;
    assert_eq!(lines(&marks.join("starts")), 2);
    let metrics = scrape(port)?;
    assert!(metrics.contains(r#"forge_worker_jobs_total{outcome="completed",type="task"} 1"#), "{metrics}");

    // The queue is empty: nothing left to redeliver, nothing dead-lettered.
    let left = forge_core::ports::JobQueue::receive(&queue, 10, Duration::from_secs(3)).await?;
    assert!(left.is_empty(), "queue drained: {left:?}");

    // SIGTERM: a clean exit.
    Command::new("kill").args(["-TERM", &w2.id().to_string()]).status()?;
    let status = w2.wait()?;
    assert!(status.success(), "graceful exit on SIGTERM: {status:?}");
    Ok(())
}

#[test]
fn help_documents_every_setting() -> TestResult {
    let out = Command::new(env!("CARGO_BIN_EXE_forge-worker"))
        .env("FORGE_WORKER_DISCOVERER", "plan-file")
        .args(["run", "--help"])
        .output()?;
    let help = String::from_utf8_lossy(&out.stdout);
    for var in [
        "FORGE_WORKER_QUEUE_URL",
        "FORGE_WORKER_EMBEDDED",
        "FORGE_WORKER_CONCURRENCY",
        "FORGE_WORKER_METRICS_ADDR",
        "FORGE_WORKER_BLOB_DIR",
        "FORGE_WORKER_CACHE_DIR",
        "FORGE_WORKER_CACHE_MAX_BYTES",
        "FORGE_WORKER_REPO_URL_TEMPLATE",
        "FORGE_WORKER_VISIBILITY_TIMEOUT",
        "FORGE_WORKER_HEARTBEAT",
        "FORGE_WORKER_WAIT_TIME",
        "FORGE_WORKER_JOB_TIMEOUT",
        "FORGE_WORKER_SHUTDOWN_GRACE",
    ] {
        assert!(help.contains(var), "--help mentions {var}");
    }
    let top = Command::new(env!("CARGO_BIN_EXE_forge-worker"))
        .env("FORGE_WORKER_DISCOVERER", "plan-file")
        .arg("--help")
        .output()?;
    assert!(String::from_utf8_lossy(&top.stdout).contains("dispatcher"));
    Ok(())
}

#[test]
fn embedded_mode_runs_seeded_jobs_and_exits_when_idle() -> TestResult {
    let tmp = tempfile::tempdir()?;
    let tmp = tmp.path();
    let src = tmp.join("src/acme/shop");
    std::fs::create_dir_all(src.join(".forge"))?;
    let task = TaskPlan {
        project: "web".into(),
        project_path: ".".into(),
        steps: vec![StepPlan::script("hello", "echo hello")],
    };
    let plan = PipelinePlan {
        groups: vec![GroupPlan {
            group: 1,
            phases: vec![PhasePlan { name: "build".into(), timeout: None, tasks: vec![task] }],
        }],
    };
    std::fs::write(src.join(".forge/plan.json"), serde_json::to_vec(&plan)?)?;
    git(&src, &["init", "-q", "-b", "main"])?;
    git(&src, &["add", "."])?;
    git(&src, &["commit", "-qm", "init"])?;
    let mut job = forge_exec::queue::conformance::sample_job();
    job.payload.commit_sha = git(&src, &["rev-parse", "HEAD"])?.parse()?;
    std::fs::write(tmp.join("jobs.jsonl"), format!("{}\n", serde_json::to_string(&job)?))?;
    let out = Command::new(env!("CARGO_BIN_EXE_forge-worker"))
        .env("FORGE_WORKER_DISCOVERER", "plan-file")
        .args(["run", "--embedded", "--exit-when-idle", "--metrics-addr", "off", "--wait-time", "200ms"])
        .arg("--seed-jobs")
        .arg(tmp.join("jobs.jsonl"))
        .arg("--blob-dir")
        .arg(tmp.join("blobs"))
        .arg("--cache-dir")
        .arg(tmp.join("cache"))
        .args(["--repo-url-template", &format!("file://{}/src/{{owner}}/{{name}}", tmp.display())])
        .output()?;
    assert!(out.status.success(), "{}", String::from_utf8_lossy(&out.stderr));
    let result: JobResult = serde_json::from_slice(&std::fs::read(tmp.join("blobs").join(result_key(job.job_id)))?)?;
    assert_eq!(result.status, forge_core::JobStatus::Completed);
    Ok(())
}
