//! Executors on real processes: logs, exit codes, timeouts, secrets, process-tree kill.

use std::collections::BTreeMap;
use std::path::Path;
use std::sync::Arc;
use std::time::{Duration, Instant};

use forge_core::model::StepAction;
use forge_core::ports::{BlobStore, Executor, SecretValue, StepSpec};
use forge_exec::blob::LocalBlobStore;
use forge_exec::executor::{ActionExecutor, EarthlyExecutor, ScriptExecutor, earthly_command_line};

type TestResult = Result<(), Box<dyn std::error::Error>>;

fn spec(root: &Path, run: &str) -> StepSpec {
    StepSpec {
        name: "s".into(),
        action: StepAction::Script,
        target: None,
        run: Some(run.into()),
        shell: "sh".into(),
        args: vec![],
        repo_root: root.to_path_buf(),
        project_path: "proj".into(),
        timeout: None,
        secrets: BTreeMap::new(),
        log_key: "logs/s.log".into(),
    }
}

fn setup() -> Result<(tempfile::TempDir, Arc<LocalBlobStore>), Box<dyn std::error::Error>> {
    let dir = tempfile::tempdir()?;
    std::fs::create_dir_all(dir.path().join("repo/proj"))?;
    let blobs = Arc::new(LocalBlobStore::new(dir.path().join("blobs"))?);
    Ok((dir, blobs))
}

fn never() -> forge_exec::executor::CancelFuture {
    Box::pin(std::future::pending())
}

async fn log(blobs: &LocalBlobStore, key: &str) -> String {
    String::from_utf8_lossy(&blobs.get(key).await.unwrap_or_default()).into_owned()
}

#[tokio::test]
async fn script_runs_in_project_dir_streams_log_and_records_exit_code() -> TestResult {
    let (dir, blobs) = setup()?;
    let exec = ScriptExecutor::new(blobs.clone());
    let out = exec.run(&spec(&dir.path().join("repo"), "pwd; echo out; echo err >&2; exit 7"), never()).await?;
    assert_eq!(out.exit_code, Some(7));
    assert!(!out.success());
    let text = log(&blobs, "logs/s.log").await;
    assert!(text.contains("/repo/proj\n"), "{text}");
    assert!(text.contains("out\n") && text.contains("err\n"), "{text}");
    let ok = exec.run(&spec(&dir.path().join("repo"), "true"), never()).await?;
    assert!(ok.success());
    Ok(())
}

#[tokio::test]
async fn secrets_reach_only_the_child_environment() -> TestResult {
    let (dir, blobs) = setup()?;
    let mut s = spec(&dir.path().join("repo"), r#"test "$(printf %s "$API_TOKEN" | wc -c)" -eq 7 && echo matched"#);
    s.secrets.insert("API_TOKEN".into(), SecretValue::from_string("hunter2".into()));
    let out = ScriptExecutor::new(blobs.clone()).run(&s, never()).await?;
    assert_eq!(out.exit_code, Some(0));
    assert!(std::env::var_os("API_TOKEN").is_none(), "not set in the worker's own environment");
    assert!(!format!("{s:?}").contains("hunter2"), "Debug of the spec redacts secret values");
    assert!(log(&blobs, "logs/s.log").await.contains("matched"));
    Ok(())
}

#[tokio::test]
async fn timeout_fails_the_step_and_kills_it() -> TestResult {
    let (dir, blobs) = setup()?;
    let mut s = spec(&dir.path().join("repo"), "sleep 30");
    s.timeout = Some(Duration::from_millis(300));
    let start = Instant::now();
    let out = ScriptExecutor::new(blobs.clone()).run(&s, never()).await?;
    assert!(out.timed_out && !out.success());
    assert!(start.elapsed() < Duration::from_secs(5));
    assert!(log(&blobs, "logs/s.log").await.contains("timed out"));
    Ok(())
}

fn alive(pid: i32) -> bool {
    // A zombie is dead for our purposes; /proc says which.
    std::fs::read_to_string(format!("/proc/{pid}/stat"))
        .map(|s| s.rsplit(')').next().is_some_and(|rest| !rest.trim_start().starts_with('Z')))
        .unwrap_or(false)
}

#[tokio::test]
async fn cancellation_kills_the_whole_process_tree() -> TestResult {
    let (dir, blobs) = setup()?;
    let pids = dir.path().join("pids");
    // A shell that starts a grandchild (a subshell running sleep) and waits.
    let script = format!(
        "sh -c 'echo $$ >> {p}; exec sleep 60' & echo $$ >> {p}; sleep 60 & echo $! >> {p}; wait",
        p = pids.display()
    );
    let s = spec(&dir.path().join("repo"), &script);
    let (tx, rx) = tokio::sync::oneshot::channel::<()>();
    let cancel: forge_exec::executor::CancelFuture = Box::pin(async move {
        let _ = rx.await;
    });
    let exec = ScriptExecutor::new(blobs.clone());
    let run = tokio::spawn(async move { exec.run(&s, cancel).await });
    // Wait for all three processes to exist.
    let deadline = Instant::now() + Duration::from_secs(10);
    let ids = loop {
        let ids: Vec<i32> =
            std::fs::read_to_string(&pids).unwrap_or_default().lines().filter_map(|l| l.trim().parse().ok()).collect();
        if ids.len() >= 3 || Instant::now() > deadline {
            break ids;
        }
        tokio::time::sleep(Duration::from_millis(20)).await;
    };
    assert_eq!(ids.len(), 3, "three processes started: {ids:?}");
    assert!(ids.iter().all(|&p| alive(p)));
    let _ = tx.send(());
    let out = run.await??;
    assert!(out.cancelled);
    tokio::time::sleep(Duration::from_millis(200)).await;
    let survivors: Vec<_> = ids.iter().copied().filter(|&p| alive(p)).collect();
    assert!(survivors.is_empty(), "no orphans survive cancellation: {survivors:?}");
    Ok(())
}

#[tokio::test]
async fn background_processes_do_not_outlive_a_finished_step() -> TestResult {
    let (dir, blobs) = setup()?;
    let pidfile = dir.path().join("bg");
    let s = spec(&dir.path().join("repo"), &format!("sleep 60 & echo $! > {}; echo done", pidfile.display()));
    let start = Instant::now();
    let out = ScriptExecutor::new(blobs.clone()).run(&s, never()).await?;
    assert_eq!(out.exit_code, Some(0));
    assert!(start.elapsed() < Duration::from_secs(5), "the log pipe held by the background job does not block");
    let pid: i32 = std::fs::read_to_string(&pidfile)?.trim().parse()?;
    tokio::time::sleep(Duration::from_millis(100)).await;
    assert!(!alive(pid), "background job {pid} was killed with the group");
    Ok(())
}

fn earthly_spec() -> StepSpec {
    let mut s = spec(Path::new("/src"), "");
    s.action = StepAction::Earthly;
    s.run = None;
    s.target = Some("+build".into());
    s.project_path = "services/auth".into();
    s.args = vec!["--VERSION=1.2.3".into(), "--push".into()];
    s.secrets.insert("NPM_TOKEN".into(), SecretValue::from_string("s3cr3t-npm".into()));
    s.secrets.insert("AWS_KEY".into(), SecretValue::from_string("s3cr3t-aws".into()));
    s
}

#[test]
fn earthly_command_line_is_exact() -> TestResult {
    let line = earthly_command_line(&earthly_spec())?;
    insta::assert_json_snapshot!(line);
    assert!(!line.iter().any(|a| a.contains("s3cr3t")), "secret values are never on the command line");
    let mut root = earthly_spec();
    root.project_path = ".".into();
    root.secrets.clear();
    root.args.clear();
    assert_eq!(earthly_command_line(&root)?, ["earthly", "--ci", "./+build"]);
    root.target = None;
    assert!(earthly_command_line(&root).is_err());
    Ok(())
}

#[tokio::test]
async fn earthly_runs_with_secrets_in_env_and_reports_a_missing_binary() -> TestResult {
    let (dir, blobs) = setup()?;
    // A stand-in `earthly` that prints its arguments and the secret's presence.
    let fake = dir.path().join("earthly");
    std::fs::write(
        &fake,
        "#!/bin/sh\necho \"args: $*\"\necho \"pwd: $(pwd)\"\ntest -n \"$NPM_TOKEN\" && echo npm-secret-present\n",
    )?;
    std::fs::set_permissions(&fake, std::os::unix::fs::PermissionsExt::from_mode(0o755))?;
    let mut s = earthly_spec();
    s.repo_root = dir.path().join("repo");
    let exec = EarthlyExecutor::new(blobs.clone()).with_program(fake.display().to_string());
    let out = exec.run(&s, never()).await?;
    assert_eq!(out.exit_code, Some(0));
    let text = log(&blobs, "logs/s.log").await;
    assert!(
        text.contains("args: --ci ./services/auth+build --VERSION=1.2.3 --push --secret AWS_KEY --secret NPM_TOKEN"),
        "{text}"
    );
    assert!(text.contains("npm-secret-present"));
    assert!(!text.contains("s3cr3t"));

    let missing = EarthlyExecutor::new(blobs.clone()).with_program("forge-no-such-earthly");
    let err = missing.run(&s, never()).await.err().map(|e| e.to_string()).unwrap_or_default();
    assert!(err.contains("forge-no-such-earthly") && err.contains("not found on PATH"), "{err}");

    // The action executor dispatches by action.
    let action = ActionExecutor::new(blobs.clone());
    let script = spec(&dir.path().join("repo"), "exit 0");
    assert!(action.run(&script, never()).await?.success());
    Ok(())
}
