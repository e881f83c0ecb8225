//! Concurrent deployers in separate processes against one bare remote, and pushes through
//! `git daemon`.
//!
//! The multi-process test re-invokes this test binary: the parent spawns N children running
//! the `child_deployer` test with `FORGE_GITOPS_CHILD_*` set; without those variables
//! `child_deployer` does nothing.

mod common;

use std::collections::BTreeMap;
use std::net::TcpListener;
use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};

use common::{TestResult, bare, git, request};
use forge_core::retry::RetryPolicy;
use forge_gitops::GitopsRepo;

const PROCESSES: u64 = 10;
const DEPLOYS_PER_PROCESS: u64 = 3;
const PROJECTS: u64 = 4;

fn path_for(n: u64) -> String {
    format!("environments/prod/acme/shop/svc{}/release.yaml", n % PROJECTS)
}

fn policy() -> RetryPolicy {
    RetryPolicy {
        base: Duration::from_millis(10),
        max: Duration::from_millis(300),
        jitter: Duration::from_millis(100),
        attempts: 5,
    }
}

#[tokio::test]
async fn child_deployer() -> TestResult {
    let (Ok(url), Ok(id), Ok(cache)) = (
        std::env::var("FORGE_GITOPS_CHILD_URL"),
        std::env::var("FORGE_GITOPS_CHILD_ID"),
        std::env::var("FORGE_GITOPS_CHILD_CACHE"),
    ) else {
        return Ok(());
    };
    let id: u64 = id.parse()?;
    let repo = GitopsRepo::open_remote(&url, &cache).await?.with_retry(policy()).with_conflict_attempts(200);
    for j in 0..DEPLOYS_PER_PROCESS {
        let n = id * 100 + j + 1;
        let out = repo.deploy(&request(&path_for(id + j), n, &format!("deployer-{id}"))?).await?;
        println!("FORGE-ATTEMPTS {n} {}", out.attempts);
    }
    Ok(())
}

#[test]
fn separate_processes_never_lose_an_update() -> TestResult {
    if std::env::var_os("FORGE_GITOPS_CHILD_URL").is_some() {
        return Ok(());
    }
    let dir = tempfile::tempdir()?;
    let remote = dir.path().join("remote.git");
    bare(&remote)?;
    let exe = std::env::current_exe()?;
    let started = Instant::now();
    let children: Vec<Child> = (0..PROCESSES)
        .map(|id| {
            Command::new(&exe)
                .args(["child_deployer", "--exact", "--nocapture", "--test-threads=1"])
                .env("FORGE_GITOPS_CHILD_URL", remote.display().to_string())
                .env("FORGE_GITOPS_CHILD_ID", id.to_string())
                .env("FORGE_GITOPS_CHILD_CACHE", dir.path().join(format!("cache-{id}")))
                .stdout(Stdio::piped())
                .stderr(Stdio::piped())
                .spawn()
        })
        .collect::<Result<_, _>>()?;
    let mut attempts = BTreeMap::new();
    for child in children {
        let out = child.wait_with_output()?;
        let stdout = String::from_utf8_lossy(&out.stdout);
        assert!(out.status.success(), "child failed:\n{stdout}\n{}", String::from_utf8_lossy(&out.stderr));
        for line in stdout.lines().filter_map(|l| l.split_once("FORGE-ATTEMPTS ").map(|(_, r)| r)) {
            let mut it = line.split(' ');
            if let (Some(n), Some(a)) = (it.next(), it.next()) {
                attempts.insert(n.parse::<u64>()?, a.parse::<u32>()?);
            }
        }
    }
    let elapsed = started.elapsed();
    let total = PROCESSES * DEPLOYS_PER_PROCESS;
    assert_eq!(attempts.len() as u64, total, "every deploy reported");

    // Every deployment is in the history exactly once, and the history is linear.
    let log = git(&remote, &["log", "--format=%s", "main"])?;
    let subjects: Vec<&str> = log.lines().collect();
    assert_eq!(subjects.len() as u64, total);
    for id in 0..PROCESSES {
        for j in 0..DEPLOYS_PER_PROCESS {
            let n = id * 100 + j + 1;
            let expected = format!("Deploy svc{} release {n} (v{n}.0.0) to prod", (id + j) % PROJECTS);
            assert_eq!(subjects.iter().filter(|s| **s == expected).count(), 1, "{expected}");
        }
    }
    assert_eq!(git(&remote, &["rev-list", "--merges", "--count", "main"])?.trim(), "0");
    assert_eq!(git(&remote, &["rev-list", "--count", "main"])?.trim(), total.to_string());

    // Each project's pointer is the last deploy of it in history order.
    for p in 0..PROJECTS {
        let path = format!("environments/prod/acme/shop/svc{p}/release.yaml");
        let last = git(&remote, &["log", "-1", "--format=%s", "main", "--", &path])?;
        let n: String = last.split(" release ").nth(1).unwrap_or("").split(' ').next().unwrap_or("").to_owned();
        let file = git(&remote, &["show", &format!("main:{path}")])?;
        assert!(file.contains(&format!("numeric: {n}\n")), "{path}: {last}");
    }
    let max = attempts.values().max().copied().unwrap_or(0);
    let sum: u32 = attempts.values().sum();
    println!(
        "{PROCESSES} processes, {total} deploys in {:.2?}; attempts: max {max}, mean {:.2}",
        elapsed,
        f64::from(sum) / total as f64
    );
    Ok(())
}

struct Daemon(Child);

impl Drop for Daemon {
    fn drop(&mut self) {
        let _ = self.0.kill();
        let _ = self.0.wait();
    }
}

fn daemon_program() -> std::path::PathBuf {
    let libexec = std::path::PathBuf::from("/usr/local/libexec/git-core/git-daemon");
    if libexec.exists() { libexec } else { "git-daemon".into() }
}

#[tokio::test]
async fn push_through_git_daemon() -> TestResult {
    let dir = tempfile::tempdir()?;
    let base = dir.path().join("served");
    bare(&base.join("gitops.git"))?;
    let port = TcpListener::bind("127.0.0.1:0")?.local_addr()?.port();
    let daemon = Daemon(
        Command::new(daemon_program())
            .args(["--export-all", "--enable=receive-pack", "--reuseaddr", "--listen=127.0.0.1"])
            .arg(format!("--port={port}"))
            .arg(format!("--base-path={}", base.display()))
            .arg(&base)
            .stdout(Stdio::null())
            .stderr(Stdio::null())
            .spawn()?,
    );
    common::wait_for_port(port, "git daemon");
    let url = format!("git://127.0.0.1:{port}/gitops.git");
    let b = common::two_writers_deploy_and_roll_back(&url, dir.path(), &base.join("gitops.git")).await?;
    assert_eq!(b.deployed(None).await?.len(), 2);
    drop(daemon);
    Ok(())
}
