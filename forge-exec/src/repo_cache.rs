//! The hot worker's repository cache (SPEC §3.4) on the git CLI: one bare clone per
//! repository, fetched as needed, a worktree per job at the job's commit (removed afterwards),
//! and size-bounded LRU eviction of bare clones that no job is using.
//!
//! Concurrent jobs of one repository share its bare clone: clone, fetch and `worktree
//! add/remove` run under a per-repository async mutex; the jobs themselves run concurrently
//! in their own worktrees.

use std::collections::HashMap;
use std::path::{Path, PathBuf};
use std::sync::{Arc, Mutex};
use std::time::SystemTime;

use forge_core::{CommitSha, Repository};
use tokio::process::Command;

use crate::error::{Error, Result};

#[derive(Default)]
struct RepoEntry {
    lock: Arc<tokio::sync::Mutex<()>>,
    active: usize,
    last_used: Option<SystemTime>,
}

/// The cache. Share it behind an `Arc`.
pub struct RepoCache {
    root: PathBuf,
    url_template: String,
    max_bytes: u64,
    repos: Mutex<HashMap<String, RepoEntry>>,
}

impl std::fmt::Debug for RepoCache {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("RepoCache")
            .field("root", &self.root)
            .field("url_template", &self.url_template)
            .field("max_bytes", &self.max_bytes)
            .finish_non_exhaustive()
    }
}

/// A checked-out worktree of one job. Call [`RepoCache::release`] when done.
#[derive(Debug)]
pub struct Worktree {
    /// The checkout directory.
    pub path: PathBuf,
    /// The repository.
    pub repository: Repository,
    /// The commit checked out (detached HEAD).
    pub commit: CommitSha,
}

async fn git(dir: Option<&Path>, args: &[&str]) -> Result<String> {
    let mut cmd = Command::new("git");
    if let Some(d) = dir {
        cmd.arg("-C").arg(d);
    }
    cmd.args(args).env("GIT_TERMINAL_PROMPT", "0").kill_on_drop(true);
    let out = cmd.output().await.map_err(|source| Error::Process { program: "git".into(), source })?;
    if out.status.success() {
        Ok(String::from_utf8_lossy(&out.stdout).trim().to_owned())
    } else {
        Err(Error::Git {
            args: args.join(" "),
            code: out.status.code(),
            stderr: String::from_utf8_lossy(&out.stderr).trim().to_owned(),
        })
    }
}

fn dir_size(path: &Path) -> u64 {
    let mut total = 0;
    let mut stack = vec![path.to_path_buf()];
    while let Some(p) = stack.pop() {
        let Ok(entries) = std::fs::read_dir(&p) else { continue };
        for e in entries.flatten() {
            match e.metadata() {
                Ok(m) if m.is_dir() => stack.push(e.path()),
                Ok(m) => total += m.len(),
                Err(_) => {}
            }
        }
    }
    total
}

impl RepoCache {
    /// A cache under `root`. `url_template` maps a repository to its clone URL with the
    /// placeholders `{owner}`, `{name}` and `{repository}` (`owner/name`), e.g.
    /// `https://github.com/{repository}.git` or `file:///srv/git/{owner}/{name}`. Bare clones
    /// beyond `max_bytes` in total are evicted, least recently used first.
    pub fn new(root: impl Into<PathBuf>, url_template: impl Into<String>, max_bytes: u64) -> Result<Self> {
        let root = root.into();
        for d in ["repos", "worktrees"] {
            let p = root.join(d);
            std::fs::create_dir_all(&p).map_err(|e| Error::io("creating repository cache", &p, e))?;
        }
        // Bare clones left by an earlier process take part in eviction too.
        let mut repos = HashMap::new();
        for owner in std::fs::read_dir(root.join("repos")).into_iter().flatten().flatten() {
            for bare in std::fs::read_dir(owner.path()).into_iter().flatten().flatten() {
                let file = bare.file_name().to_string_lossy().into_owned();
                let Some(name) = file.strip_suffix(".git") else { continue };
                let key = format!("{}/{name}", owner.file_name().to_string_lossy());
                let last_used = bare.metadata().and_then(|m| m.modified()).ok();
                repos.insert(key, RepoEntry { last_used, ..RepoEntry::default() });
            }
        }
        Ok(Self { root, url_template: url_template.into(), max_bytes, repos: Mutex::new(repos) })
    }

    /// The clone URL of a repository.
    pub fn url_of(&self, repo: &Repository) -> String {
        self.url_template
            .replace("{repository}", &repo.to_string())
            .replace("{owner}", repo.owner())
            .replace("{name}", repo.name())
    }

    /// The bare clone directory of a repository.
    pub fn bare_path(&self, repo: &Repository) -> PathBuf {
        self.root.join("repos").join(repo.owner()).join(format!("{}.git", repo.name()))
    }

    fn entries(&self) -> std::sync::MutexGuard<'_, HashMap<String, RepoEntry>> {
        self.repos.lock().unwrap_or_else(|p| p.into_inner())
    }

    fn lock_of(&self, repo: &Repository) -> Arc<tokio::sync::Mutex<()>> {
        self.entries().entry(repo.to_string()).or_default().lock.clone()
    }

    /// Checks out `commit` of `repo` into a new worktree named after `job` (so that runs never
    /// share one), cloning or fetching the bare repository as needed.
    pub async fn checkout(&self, repo: &Repository, commit: &CommitSha, job: &str) -> Result<Worktree> {
        let lock = self.lock_of(repo);
        let _guard = lock.lock().await;
        let bare = self.bare_path(repo);
        if !bare.join("HEAD").exists() {
            self.clone_bare(repo, &bare).await?;
        }
        let object = format!("{}^{{commit}}", commit.as_str());
        if git(Some(&bare), &["cat-file", "-e", &object]).await.is_err() {
            git(
                Some(&bare),
                &["fetch", "--quiet", "--prune", "origin", "+refs/heads/*:refs/heads/*", "+refs/tags/*:refs/tags/*"],
            )
            .await?;
            if git(Some(&bare), &["cat-file", "-e", &object]).await.is_err() {
                // Commits not on a branch or tag (pull-request heads): ask for the object itself.
                git(Some(&bare), &["fetch", "--quiet", "origin", commit.as_str()]).await.map_err(|e| match e {
                    Error::Git { args, code, stderr } => Error::Git {
                        args,
                        code,
                        stderr: format!("{stderr} (commit {commit} is not in {}; was it pushed?)", self.url_of(repo)),
                    },
                    other => other,
                })?;
            }
        }
        let safe_job: String =
            job.chars().map(|c| if c.is_ascii_alphanumeric() || c == '-' { c } else { '_' }).collect();
        let path = self.root.join("worktrees").join(format!("{safe_job}-{}", commit.short(12)));
        if path.exists() {
            // A leftover of a crashed attempt of the same job: start clean.
            let _ = git(Some(&bare), &["worktree", "remove", "--force", &path.to_string_lossy()]).await;
            let _ = tokio::fs::remove_dir_all(&path).await;
            let _ = git(Some(&bare), &["worktree", "prune"]).await;
        }
        git(Some(&bare), &["worktree", "add", "--detach", "--force", &path.to_string_lossy(), commit.as_str()]).await?;
        {
            let mut entries = self.entries();
            let e = entries.entry(repo.to_string()).or_default();
            e.active += 1;
            e.last_used = Some(SystemTime::now());
        }
        Ok(Worktree { path, repository: repo.clone(), commit: *commit })
    }

    async fn clone_bare(&self, repo: &Repository, bare: &Path) -> Result<()> {
        let parent = bare.parent().unwrap_or(&self.root);
        tokio::fs::create_dir_all(parent).await.map_err(|e| Error::io("creating repository directory", parent, e))?;
        let tmp = parent.join(format!(".{}.clone-{}", repo.name(), uuid::Uuid::new_v4().simple()));
        let url = self.url_of(repo);
        let result = git(None, &["clone", "--bare", "--quiet", &url, &tmp.to_string_lossy()]).await;
        if let Err(e) = result {
            let _ = tokio::fs::remove_dir_all(&tmp).await;
            return Err(e);
        }
        if bare.exists() {
            let _ = tokio::fs::remove_dir_all(bare).await;
        }
        tokio::fs::rename(&tmp, bare).await.map_err(|e| Error::io("moving the clone into place", bare, e))
    }

    /// Removes a job's worktree, then evicts bare clones over the size bound.
    pub async fn release(&self, wt: Worktree) -> Result<()> {
        let lock = self.lock_of(&wt.repository);
        {
            let _guard = lock.lock().await;
            let bare = self.bare_path(&wt.repository);
            if git(Some(&bare), &["worktree", "remove", "--force", &wt.path.to_string_lossy()]).await.is_err() {
                let _ = tokio::fs::remove_dir_all(&wt.path).await;
                let _ = git(Some(&bare), &["worktree", "prune"]).await;
            }
            let mut entries = self.entries();
            if let Some(e) = entries.get_mut(&wt.repository.to_string()) {
                e.active = e.active.saturating_sub(1);
                e.last_used = Some(SystemTime::now());
            }
        }
        self.evict().await;
        Ok(())
    }

    /// Total size of the bare clones, in bytes.
    pub fn size(&self) -> u64 {
        dir_size(&self.root.join("repos"))
    }

    /// Evicts least-recently-used idle bare clones until the total fits `max_bytes`.
    /// Returns the evicted repositories.
    pub async fn evict(&self) -> Vec<String> {
        let mut evicted = Vec::new();
        loop {
            let repos_dir = self.root.join("repos");
            let total = dir_size(&repos_dir);
            if total <= self.max_bytes {
                return evicted;
            }
            let victim = {
                let entries = self.entries();
                entries
                    .iter()
                    .filter(|(name, e)| e.active == 0 && !evicted.contains(*name))
                    .min_by_key(|(_, e)| e.last_used)
                    .map(|(name, e)| (name.clone(), e.lock.clone()))
            };
            let Some((name, lock)) = victim else { return evicted };
            let Ok(repo) = name.parse::<Repository>() else { return evicted };
            let _guard = lock.lock().await;
            let still_idle = self.entries().get(&name).is_some_and(|e| e.active == 0);
            if still_idle {
                let bare = self.bare_path(&repo);
                if let Err(e) = tokio::fs::remove_dir_all(&bare).await {
                    tracing::warn!(repository = %name, error = %e, "could not evict bare clone");
                }
                tracing::info!(repository = %name, total_bytes = total, limit = self.max_bytes, "evicted bare clone (LRU)");
            }
            evicted.push(name);
        }
    }
}
