//! The repository cache on real git repositories.

use std::path::Path;
use std::process::Command;
use std::sync::Arc;

use forge_core::{CommitSha, Repository};
use forge_exec::repo_cache::RepoCache;

type TestResult = Result<(), Box<dyn std::error::Error>>;

fn git(dir: &Path, args: &[&str]) -> Result<String, Box<dyn std::error::Error>> {
    let out = Command::new("git")
        .arg("-C")
        .arg(dir)
        .args(["-c", "user.name=t", "-c", "user.email=t@example.invalid", "-c", "commit.gpgsign=false"])
        .args(args)
        .output()?;
    if !out.status.success() {
        return Err(format!("git {args:?}: {}", String::from_utf8_lossy(&out.stderr)).into());
    }
    Ok(String::from_utf8_lossy(&out.stdout).trim().to_owned())
}

/// A source repository `<root>/src/<owner>/<name>` with one commit per content.
fn source(root: &Path, repo: &str, contents: &[&str]) -> Result<Vec<CommitSha>, Box<dyn std::error::Error>> {
    let dir = root.join("src").join(repo);
    std::fs::create_dir_all(&dir)?;
    git(&dir, &["init", "-q", "-b", "main"])?;
    let mut shas = Vec::new();
    for c in contents {
        std::fs::write(dir.join("file.txt"), c)?;
        git(&dir, &["add", "."])?;
        git(&dir, &["commit", "-q", "-m", c])?;
        shas.push(git(&dir, &["rev-parse", "HEAD"])?.parse()?);
    }
    Ok(shas)
}

fn cache(root: &Path, max: u64) -> Result<RepoCache, forge_exec::Error> {
    RepoCache::new(root.join("cache"), format!("file://{}/src/{{owner}}/{{name}}", root.display()), max)
}

#[tokio::test]
async fn worktrees_per_job_at_their_commit_and_fetch_of_new_commits() -> TestResult {
    let tmp = tempfile::tempdir()?;
    let shas = source(tmp.path(), "acme/shop", &["one", "two"])?;
    let repo: Repository = "acme/shop".parse()?;
    let cache = cache(tmp.path(), u64::MAX)?;
    let a = cache.checkout(&repo, &shas[0], "job-a").await?;
    let b = cache.checkout(&repo, &shas[1], "job-b").await?;
    assert_ne!(a.path, b.path);
    assert_eq!(std::fs::read_to_string(a.path.join("file.txt"))?, "one");
    assert_eq!(std::fs::read_to_string(b.path.join("file.txt"))?, "two");
    // A commit pushed after the clone is fetched.
    let dir = tmp.path().join("src/acme/shop");
    std::fs::write(dir.join("file.txt"), "three")?;
    git(&dir, &["commit", "-qam", "three"])?;
    let third: CommitSha = git(&dir, &["rev-parse", "HEAD"])?.parse()?;
    let c = cache.checkout(&repo, &third, "job-c").await?;
    assert_eq!(std::fs::read_to_string(c.path.join("file.txt"))?, "three");
    // A commit that exists nowhere is a clear error.
    let missing: CommitSha = "dead000000000000000000000000000000000000".parse()?;
    let err = cache.checkout(&repo, &missing, "job-d").await.err().map(|e| e.to_string()).unwrap_or_default();
    assert!(err.contains("was it pushed"), "{err}");
    for wt in [a, b, c] {
        let p = wt.path.clone();
        cache.release(wt).await?;
        assert!(!p.exists(), "worktree removed");
    }
    let listed = git(&cache.bare_path(&repo), &["worktree", "list"])?;
    assert_eq!(listed.lines().count(), 1, "only the bare repository remains: {listed}");
    Ok(())
}

#[tokio::test]
async fn concurrent_jobs_share_one_bare_clone() -> TestResult {
    let tmp = tempfile::tempdir()?;
    let shas = source(tmp.path(), "acme/shop", &["one", "two"])?;
    let repo: Repository = "acme/shop".parse()?;
    let cache = Arc::new(cache(tmp.path(), u64::MAX)?);
    let mut handles = Vec::new();
    for i in 0..8 {
        let (cache, repo, sha) = (cache.clone(), repo.clone(), shas[i % 2]);
        handles.push(tokio::spawn(async move {
            let wt = cache.checkout(&repo, &sha, &format!("job-{i}")).await?;
            let content = std::fs::read_to_string(wt.path.join("file.txt")).unwrap_or_default();
            cache.release(wt).await?;
            Ok::<_, forge_exec::Error>(content)
        }));
    }
    for (i, h) in handles.into_iter().enumerate() {
        assert_eq!(h.await??, if i % 2 == 0 { "one" } else { "two" });
    }
    let repos = std::fs::read_dir(tmp.path().join("cache/repos/acme"))?.count();
    assert_eq!(repos, 1, "one bare clone");
    Ok(())
}

#[tokio::test]
async fn lru_eviction_keeps_the_cache_under_its_bound() -> TestResult {
    let tmp = tempfile::tempdir()?;
    let a = source(tmp.path(), "acme/a", &["a"])?;
    let b = source(tmp.path(), "acme/b", &["b"])?;
    let (ra, rb): (Repository, Repository) = ("acme/a".parse()?, "acme/b".parse()?);
    // Measure one clone, then allow a bit more than one.
    let unbounded = cache(tmp.path(), u64::MAX)?;
    let wt = unbounded.checkout(&ra, &a[0], "size").await?;
    unbounded.release(wt).await?;
    let one = unbounded.size();
    drop(unbounded);
    std::fs::remove_dir_all(tmp.path().join("cache"))?;

    let cache = cache(tmp.path(), one + one / 2)?;
    let wa = cache.checkout(&ra, &a[0], "ja").await?;
    cache.release(wa).await?;
    let wb = cache.checkout(&rb, &b[0], "jb").await?;
    // While `b` is in use it cannot be evicted; `a` (least recently used, idle) goes.
    let evicted = cache.evict().await;
    assert_eq!(evicted, vec!["acme/a".to_owned()]);
    assert!(!cache.bare_path(&ra).exists());
    assert!(cache.bare_path(&rb).exists());
    cache.release(wb).await?;
    assert!(cache.size() <= one + one / 2);
    // An evicted repository is cloned again on demand.
    let again = cache.checkout(&ra, &a[0], "ja2").await?;
    assert_eq!(std::fs::read_to_string(again.path.join("file.txt"))?, "a");
    cache.release(again).await?;
    Ok(())
}
