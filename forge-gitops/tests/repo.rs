//! Deploy, rollback, queries and pushes against real git repositories.

mod common;

use common::{TestResult, bare, fast, git, request, sha, time};
use forge_core::ports::{GitopsRemote, PointerCommit};
use forge_gitops::{ChangeKind, GitopsError, GitopsRepo, author_for};

const WEB: &str = "environments/dev/acme/shop/web/release.yaml";
const API: &str = "environments/dev/acme/shop/api/release.yaml";

#[tokio::test]
async fn local_deploy_rollback_history() -> TestResult {
    let dir = tempfile::tempdir()?;
    let wt = dir.path().join("gitops");
    let repo = GitopsRepo::open_local(&wt).await?.with_retry(fast());
    assert_eq!(repo.head().await?, None);
    for n in 1..=3 {
        let out = repo.deploy(&request(WEB, n, "alice@example.com")?).await?;
        assert_eq!(out.message, format!("Deploy web release {n} (v{n}.0.0) to dev"));
        assert_eq!(out.attempts, 1);
    }
    repo.deploy(&request(API, 9, "bob")?).await?;

    // Author = deploying identity; committer = platform.
    let who = git(&wt, &["log", "-1", "--format=%an <%ae>|%cn <%ce>"])?;
    assert_eq!(who.trim(), "bob <bob@users.forge.invalid>|Forge <forge@forge.invalid>");

    // Rollback from 3 to 2, then 2 to 1.
    let web = WEB.parse()?;
    assert_eq!(repo.previous_release(&web).await?.map(|p| p.release.to_string()), Some(sha(2)));
    let rb = repo.rollback(&web, "carol", time("2026-11-28T13:00:00Z")).await?;
    assert_eq!(
        rb.message,
        "Rollback web in dev to release 2 (v2.0.0)\n\nPrevious release: 3 (v3.0.0)\nRolled back by: carol"
    );
    assert_eq!(git(&wt, &["log", "-1", "--format=%B"])?.trim_end(), rb.message);
    let rb2 = repo.rollback(&web, "carol", time("2026-11-28T13:05:00Z")).await?;
    assert_eq!(rb2.pointer.release.to_string(), sha(1));
    assert!(matches!(
        repo.rollback(&web, "carol", time("2026-11-28T13:06:00Z")).await,
        Err(GitopsError::NoPreviousRelease { .. })
    ));

    // History, newest first.
    let h = repo.history(&web, 10).await?;
    let kinds: Vec<_> = h.iter().map(|e| (e.kind, e.pointer.as_ref().map(|p| p.aliases.numeric))).collect();
    assert_eq!(
        kinds,
        vec![
            (ChangeKind::Rollback, Some(Some(1))),
            (ChangeKind::Rollback, Some(Some(2))),
            (ChangeKind::Deploy, Some(Some(3))),
            (ChangeKind::Deploy, Some(Some(2))),
            (ChangeKind::Deploy, Some(Some(1))),
        ]
    );
    assert_eq!(h[0].author, author_for("carol"));
    assert_eq!(repo.history(&web, 2).await?.len(), 2);

    // What is deployed where, now and at an older revision.
    let now = repo.deployed(None).await?;
    let summary: Vec<_> = now.iter().map(|(p, ptr)| (p.to_string(), ptr.aliases.numeric)).collect();
    assert_eq!(summary, vec![(API.to_owned(), Some(9)), (WEB.to_owned(), Some(1))]);
    let then = repo.deployed(Some(&h[2].commit)).await?;
    // At web's third deploy, api was not deployed yet.
    assert_eq!(then.len(), 1);
    assert_eq!(then[0].1.aliases.numeric, Some(3));
    assert!(matches!(repo.deployed(Some("nope")).await, Err(GitopsError::NotFound { .. })));

    // The working tree follows the branch; history is linear.
    let on_disk = std::fs::read_to_string(wt.join(WEB))?;
    assert_eq!(on_disk, rb2.pointer.to_yaml());
    assert_eq!(git(&wt, &["status", "--porcelain"])?, "");
    assert_eq!(git(&wt, &["rev-list", "--merges", "--count", "HEAD"])?.trim(), "0");
    assert_eq!(git(&wt, &["rev-list", "--count", "HEAD"])?.trim(), "6");
    Ok(())
}

#[tokio::test]
async fn identical_inputs_give_identical_files() -> TestResult {
    let dir = tempfile::tempdir()?;
    let mut blobs = Vec::new();
    for i in 0..2 {
        let repo = GitopsRepo::open_local(dir.path().join(format!("r{i}"))).await?;
        repo.deploy(&request(WEB, 5, "alice")?).await?;
        blobs.push(git(&dir.path().join(format!("r{i}")), &["rev-parse", &format!("HEAD:{WEB}")])?);
    }
    assert_eq!(blobs[0], blobs[1]);
    Ok(())
}

#[tokio::test]
async fn remote_mode_two_writers_and_port() -> TestResult {
    let dir = tempfile::tempdir()?;
    let remote = dir.path().join("remote.git");
    bare(&remote)?;
    let url = remote.display().to_string();
    let a = GitopsRepo::open_remote(&url, dir.path().join("a")).await?.with_retry(fast());
    let b = GitopsRepo::open_remote(&format!("file://{url}"), dir.path().join("b")).await?.with_retry(fast());
    a.deploy(&request(WEB, 1, "alice")?).await?;
    // b has never fetched; its write must land on top of a's.
    b.deploy(&request(API, 2, "bob")?).await?;
    a.deploy(&request(WEB, 3, "alice")?).await?;
    let log = git(&remote, &["log", "--format=%s", "main"])?;
    assert_eq!(
        log,
        "Deploy web release 3 (v3.0.0) to dev\nDeploy api release 2 (v2.0.0) to dev\nDeploy web release 1 (v1.0.0) to dev\n"
    );
    // Through the port.
    let port: &dyn GitopsRemote = &b;
    let bytes = port.read_file(WEB, None).await?;
    assert!(String::from_utf8(bytes)?.contains("numeric: 3"));
    let hist = port.file_history(WEB, 10).await?;
    assert_eq!(hist.len(), 2);
    let change = PointerCommit {
        path: "environments/dev/env.yml".into(),
        content: b"defaults: {}\n".to_vec(),
        message: "Set dev defaults".into(),
        author: author_for("ops"),
    };
    let sha = port.commit_pointer(&change).await?;
    assert_eq!(git(&remote, &["rev-parse", "main"])?.trim(), sha);
    let missing = port.read_file("environments/prod/x.yaml", None).await;
    assert!(matches!(missing, Err(forge_core::Error::NotFound { .. })));
    let unsafe_path = PointerCommit { path: "../escape".into(), ..change };
    assert!(matches!(port.commit_pointer(&unsafe_path).await, Err(forge_core::Error::Validation { .. })));
    Ok(())
}

#[tokio::test]
async fn unreachable_remote_fails_after_retries() -> TestResult {
    let dir = tempfile::tempdir()?;
    let repo = GitopsRepo::open_remote("git://127.0.0.1:9/nothing.git", dir.path().join("c")).await?.with_retry(fast());
    match repo.deploy(&request(WEB, 1, "alice")?).await {
        Err(GitopsError::Unreachable { attempts, .. }) => assert_eq!(attempts, fast().attempts),
        other => panic!("expected Unreachable, got {other:?}"),
    }
    Ok(())
}

#[tokio::test]
async fn bad_pointer_in_repository_gets_a_clear_error() -> TestResult {
    let dir = tempfile::tempdir()?;
    let repo = GitopsRepo::open_local(dir.path().join("g")).await?;
    let change = PointerCommit {
        path: WEB.into(),
        content: b"apiVersion: forge.projectcatalyst.io/v1\nkind: ReleasePointer\nmetadata: {name: web, environment: dev}\nspec: {release: abc}\n".to_vec(),
        message: "hand edit".into(),
        author: author_for("mallory"),
    };
    repo.commit_change(&change).await?;
    let e = repo.deployed(None).await.err().map(|e| e.to_string());
    assert_eq!(
        e.as_deref(),
        Some(
            "environments/dev/acme/shop/web/release.yaml: spec.release: invalid commit SHA `abc`: must be exactly 40 hex digits (found 3 characters)"
        )
    );
    Ok(())
}

#[tokio::test]
async fn concurrent_tasks_in_one_process() -> TestResult {
    let dir = tempfile::tempdir()?;
    let remote = dir.path().join("remote.git");
    bare(&remote)?;
    let url = remote.display().to_string();
    let mut handles = Vec::new();
    for w in 0..4u64 {
        let repo = GitopsRepo::open_remote(&url, dir.path().join(format!("w{w}"))).await?.with_retry(fast());
        handles.push(tokio::spawn(async move {
            for i in 0..3u64 {
                let n = w * 10 + i + 1;
                let path = if w % 2 == 0 { WEB } else { API };
                repo.deploy(&request(path, n, "ci").map_err(|e| e.to_string())?).await.map_err(|e| e.to_string())?;
            }
            Ok::<_, String>(())
        }));
    }
    for h in handles {
        h.await??;
    }
    assert_eq!(git(&remote, &["rev-list", "--count", "main"])?.trim(), "12");
    assert_eq!(git(&remote, &["rev-list", "--merges", "--count", "main"])?.trim(), "0");
    Ok(())
}
