//! The GitOps repository: deploy and rollback commits, push with conflict handling, queries.

use std::collections::BTreeMap;
use std::future::Future;
use std::path::Path;
use std::time::Duration;

use async_trait::async_trait;
use chrono::{DateTime, Utc};
use forge_core::ports::{GitIdentity, GitopsRemote, PointerCommit};
use forge_core::retry::RetryPolicy;
use forge_core::{CommitSha, PointerPath};
use rand::SeedableRng;
use rand::rngs::StdRng;
use tokio::sync::Mutex;

use crate::error::{GitopsError, Result};
use crate::git::{self, Git};
use crate::pointer::{PointerAliases, ReleasePointer};

/// Default number of attempts when concurrent writers keep moving the branch.
pub const DEFAULT_CONFLICT_ATTEMPTS: u32 = 25;
const ZERO_SHA: &str = "0000000000000000000000000000000000000000";
const TRACKING_PREFIX: &str = "refs/remotes/origin/";

/// Where the repository lives.
#[derive(Debug, Clone)]
enum Mode {
    /// A repository with a working tree and no remote (`.forge-local/gitops`).
    Local,
    /// A private bare clone of `url`; every write is pushed there.
    Remote { url: String },
}

/// The platform's default committer.
pub fn platform_committer() -> GitIdentity {
    GitIdentity { name: "Forge".to_owned(), email: "forge@forge.invalid".to_owned() }
}

/// The git identity of a deploying user: the identity as the name; the identity as the email
/// when it looks like one, else `<identity>@users.forge.invalid`.
pub fn author_for(identity: &str) -> GitIdentity {
    let clean: String = identity.chars().filter(|c| !c.is_control() && !matches!(c, '<' | '>')).collect();
    let email = if clean.contains('@') && !clean.contains(' ') {
        clean.clone()
    } else {
        let local: String = clean
            .chars()
            .map(|c| if c.is_ascii_alphanumeric() || matches!(c, '.' | '-' | '_') { c } else { '-' })
            .collect();
        format!("{local}@users.forge.invalid")
    };
    GitIdentity { name: clean, email }
}

/// The commit message of a deploy (SPEC §6.3): `Deploy <project> release <n> (<alias>) to <env>`.
pub fn deploy_message(pointer: &ReleasePointer) -> String {
    format!("Deploy {} release {} to {}", pointer.name, pointer.release_label(), pointer.environment)
}

/// The commit message of a rollback (SPEC §6.3).
pub fn rollback_message(target: &ReleasePointer, previous: &ReleasePointer, by: &str) -> String {
    format!(
        "Rollback {} in {} to release {}\n\nPrevious release: {}\nRolled back by: {}",
        target.name,
        target.environment,
        target.release_label(),
        previous.release_label(),
        by
    )
}

/// A deployment to write.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct DeployRequest {
    /// Where the pointer goes.
    pub path: PointerPath,
    /// The release (its commit SHA).
    pub release: CommitSha,
    /// Aliases recorded in the pointer and used in the message.
    pub aliases: PointerAliases,
    /// The deploying identity (the commit author).
    pub deployed_by: String,
    /// The approval that allowed it: approver and time.
    pub approval: Option<(String, DateTime<Utc>)>,
    /// The deployment time (`spec.deployedAt`).
    pub now: DateTime<Utc>,
}

impl DeployRequest {
    /// The pointer this request writes.
    pub fn pointer(&self) -> ReleasePointer {
        ReleasePointer {
            name: self.path.project.clone(),
            environment: self.path.environment.clone(),
            release: self.release,
            aliases: self.aliases.clone(),
            deployed_at: self.now,
            deployed_by: self.deployed_by.clone(),
            approved_by: self.approval.as_ref().map(|(by, _)| by.clone()),
            approved_at: self.approval.as_ref().map(|(_, at)| *at),
        }
    }
}

/// What a deploy or rollback wrote.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct DeployOutcome {
    /// The GitOps commit.
    pub commit: String,
    /// The pointer written.
    pub pointer: ReleasePointer,
    /// The commit message.
    pub message: String,
    /// Attempts needed (1 without conflicts).
    pub attempts: u32,
}

/// What a commit in a pointer's history did.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum ChangeKind {
    /// A `Deploy …` commit.
    Deploy,
    /// A `Rollback …` commit.
    Rollback,
    /// Anything else (a manual edit).
    Other,
}

/// One commit of a pointer's history.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct HistoryEntry {
    /// Commit SHA.
    pub commit: String,
    /// Author (the deploying identity).
    pub author: GitIdentity,
    /// Author time.
    pub time: DateTime<Utc>,
    /// Full commit message, without the trailing newline.
    pub message: String,
    /// Deploy, rollback or other.
    pub kind: ChangeKind,
    /// The pointer after the commit; `None` when the commit deleted it.
    pub pointer: Option<ReleasePointer>,
}

/// Outcome of publishing one commit.
enum Publish {
    Done,
    Conflict(String),
    Transient(String),
}

/// A GitOps repository, local or remote, implementing [`GitopsRemote`].
///
/// Writes never merge: each attempt builds one commit on the current tip with the one-file
/// change (plumbing: `hash-object`, a private index, `write-tree`, `commit-tree`), then moves
/// the branch with a compare-and-swap (`update-ref <new> <old>` locally, a non-forced push
/// remotely). A lost race is retried on the new tip with backoff, so concurrent writers never
/// lose an update and history stays linear.
#[derive(Debug)]
pub struct GitopsRepo {
    mode: Mode,
    git: Git,
    branch: String,
    committer: GitIdentity,
    retry: RetryPolicy,
    conflict_attempts: u32,
    lock: Mutex<()>,
}

impl GitopsRepo {
    /// Opens (creating if needed) a local repository with a working tree at `worktree`,
    /// e.g. `.forge-local/gitops`. Commits go straight to the branch; the working tree is
    /// updated after each write, so pointer files can be read from disk.
    pub async fn open_local(worktree: impl AsRef<Path>) -> Result<Self> {
        let wt = worktree.as_ref().to_path_buf();
        git::mkdir(&wt).await?;
        let git_dir = wt.join(".git");
        let git =
            Git { git_dir: git_dir.clone(), work_tree: Some(wt.clone()), home: wt.clone(), program: git::program() };
        if !git_dir.exists() {
            let init = Git { work_tree: None, ..git.clone() };
            init.run(&["init", "-q", "-b", "main"], &[], None).await?;
            init.run(&["config", "core.bare", "false"], &[], None).await?;
        }
        let home = git_dir.join("forge-home");
        git::mkdir(&home).await?;
        let git = Git { home, ..git };
        Ok(Self::with_git(Mode::Local, git))
    }

    /// Opens a remote repository at `url` (a path, `file://`, `git://`, `http(s)://` or ssh
    /// URL) through a private bare clone in `cache_dir` (created if needed). Each writer needs
    /// its own `cache_dir`.
    pub async fn open_remote(url: &str, cache_dir: impl AsRef<Path>) -> Result<Self> {
        let dir = cache_dir.as_ref().to_path_buf();
        git::mkdir(&dir).await?;
        let home = dir.join("forge-home");
        git::mkdir(&home).await?;
        let git = Git { git_dir: dir.clone(), work_tree: None, home, program: git::program() };
        if !dir.join("HEAD").exists() {
            git.run(&["init", "-q", "--bare", "-b", "main"], &[], None).await?;
        }
        Ok(Self::with_git(Mode::Remote { url: url.to_owned() }, git))
    }

    fn with_git(mode: Mode, git: Git) -> Self {
        Self {
            mode,
            git,
            branch: "main".to_owned(),
            committer: platform_committer(),
            retry: RetryPolicy::default(),
            conflict_attempts: DEFAULT_CONFLICT_ATTEMPTS,
            lock: Mutex::new(()),
        }
    }

    /// Sets the committer (the platform identity).
    pub fn with_committer(mut self, committer: GitIdentity) -> Self {
        self.committer = committer;
        self
    }

    /// Sets the backoff used for conflicts and transient failures (SPEC §10).
    pub fn with_retry(mut self, retry: RetryPolicy) -> Self {
        self.retry = retry;
        self
    }

    /// Sets how many conflicting attempts a write makes before giving up.
    pub fn with_conflict_attempts(mut self, attempts: u32) -> Self {
        self.conflict_attempts = attempts.max(1);
        self
    }

    /// Sets the branch (default `main`).
    pub fn with_branch(mut self, branch: &str) -> Result<Self> {
        let ok = !branch.is_empty()
            && !branch.starts_with('-')
            && !branch.contains("..")
            && branch.chars().all(|c| c.is_ascii_alphanumeric() || matches!(c, '-' | '_' | '.' | '/'));
        if !ok {
            return Err(GitopsError::invalid(
                "gitops configuration",
                "branch",
                format!("`{branch}` is not a branch name"),
            ));
        }
        self.branch = branch.to_owned();
        Ok(self)
    }

    fn local_ref(&self) -> String {
        match self.mode {
            Mode::Local => format!("refs/heads/{}", self.branch),
            Mode::Remote { .. } => format!("{TRACKING_PREFIX}{}", self.branch),
        }
    }

    fn remote_label(&self) -> String {
        match &self.mode {
            Mode::Local => self.git.work_tree.as_ref().map(|p| p.display().to_string()).unwrap_or_default(),
            Mode::Remote { url } => git::redact(url),
        }
    }

    async fn tip(&self) -> Result<Option<String>> {
        let r = format!("{}^{{commit}}", self.local_ref());
        let out = self.git.output(&["rev-parse", "-q", "--verify", &r], &[], None).await?;
        Ok(if out.ok { Some(out.text()) } else { None })
    }

    /// Brings the local view up to date; returns the tip, or a transient failure message.
    async fn sync(&self) -> Result<std::result::Result<Option<String>, String>> {
        let Mode::Remote { url } = &self.mode else { return Ok(Ok(self.tip().await?)) };
        let spec = format!("+refs/heads/{0}:{TRACKING_PREFIX}{0}", self.branch);
        let out =
            self.git.output(&["fetch", "-q", "--no-tags", "--no-write-fetch-head", url, &spec], &[], None).await?;
        if out.ok {
            return Ok(Ok(self.tip().await?));
        }
        if out.stderr.contains("couldn't find remote ref") {
            // An empty remote: the first write creates the branch.
            let r = format!("{TRACKING_PREFIX}{}", self.branch);
            let _ = self.git.output(&["update-ref", "-d", &r], &[], None).await?;
            return Ok(Ok(None));
        }
        Ok(Err(out.stderr))
    }

    /// The current tip of the branch (fetching first in remote mode); `None` when empty.
    pub async fn head(&self) -> Result<Option<String>> {
        match self.sync().await? {
            Ok(tip) => Ok(tip),
            Err(message) => Err(GitopsError::Unreachable { remote: self.remote_label(), attempts: 1, message }),
        }
    }

    /// Builds one commit on `base` that writes `change`.
    async fn build_commit(&self, base: Option<&str>, change: &PointerCommit) -> Result<String> {
        validate_path(&change.path)?;
        let blob = self.git.run(&["hash-object", "-w", "--stdin"], &[], Some(&change.content)).await?.text();
        let index = self.git.git_dir.join(format!("forge-index-{}-{}", std::process::id(), rand::random::<u64>()));
        let index_s = index.to_string_lossy().into_owned();
        let env = [("GIT_INDEX_FILE", index_s.as_str())];
        let tree = async {
            if let Some(b) = base {
                self.git.run(&["read-tree", b], &env, None).await?;
            }
            let info = format!("100644,{blob},{}", change.path);
            self.git.run(&["update-index", "--add", "--cacheinfo", &info], &env, None).await?;
            Ok::<_, GitopsError>(self.git.run(&["write-tree"], &env, None).await?.text())
        }
        .await;
        let _ = tokio::fs::remove_file(&index).await;
        let tree = tree?;
        let a = &change.author;
        let c = &self.committer;
        let cenv = [
            ("GIT_AUTHOR_NAME", a.name.as_str()),
            ("GIT_AUTHOR_EMAIL", a.email.as_str()),
            ("GIT_COMMITTER_NAME", c.name.as_str()),
            ("GIT_COMMITTER_EMAIL", c.email.as_str()),
        ];
        let mut args = vec!["commit-tree", tree.as_str()];
        if let Some(b) = base {
            args.extend(["-p", b]);
        }
        args.extend(["-F", "-"]);
        let mut message = change.message.trim_end().to_owned();
        message.push('\n');
        Ok(self.git.run(&args, &cenv, Some(message.as_bytes())).await?.text())
    }

    /// Moves the branch from `base` to `commit`, atomically.
    async fn publish(&self, base: Option<&str>, commit: &str) -> Result<Publish> {
        match &self.mode {
            Mode::Local => {
                let r = self.local_ref();
                let old = base.unwrap_or(ZERO_SHA);
                let out = self.git.output(&["update-ref", "-m", "forge deploy", &r, commit, old], &[], None).await?;
                Ok(if out.ok { Publish::Done } else { Publish::Conflict(out.stderr) })
            }
            Mode::Remote { url } => {
                let spec = format!("{commit}:refs/heads/{}", self.branch);
                let out = self.git.output(&["push", "--porcelain", "-q", url, &spec], &[], None).await?;
                if out.ok {
                    let r = self.local_ref();
                    self.git.run(&["update-ref", &r, commit], &[], None).await?;
                    return Ok(Publish::Done);
                }
                let stdout = String::from_utf8_lossy(&out.stdout).into_owned();
                let rejected = stdout.lines().any(|l| l.starts_with('!'))
                    || ["non-fast-forward", "fetch first", "cannot lock ref", "failed to update ref", "stale info"]
                        .iter()
                        .any(|m| out.stderr.contains(m) || stdout.contains(m));
                let msg = if out.stderr.is_empty() { stdout.trim().to_owned() } else { out.stderr };
                Ok(if rejected { Publish::Conflict(msg) } else { Publish::Transient(msg) })
            }
        }
    }

    /// Updates the working tree of a local repository to the branch tip (best effort).
    async fn refresh_worktree(&self) {
        if !matches!(self.mode, Mode::Local) {
            return;
        }
        let head = self.git.output(&["symbolic-ref", "-q", "HEAD"], &[], None).await;
        if !matches!(head, Ok(ref o) if o.ok && o.text() == self.local_ref()) {
            return;
        }
        for attempt in 0..20u64 {
            match self.git.output(&["reset", "-q", "--hard"], &[], None).await {
                Ok(o) if o.ok => return,
                Ok(o) => tracing::debug!(stderr = %o.stderr, "gitops: working tree refresh failed; retrying"),
                Err(e) => tracing::debug!(error = %e, "gitops: working tree refresh failed; retrying"),
            }
            tokio::time::sleep(Duration::from_millis(10 * (attempt + 1))).await;
        }
        tracing::warn!(repo = %self.remote_label(), "gitops: could not refresh the working tree");
    }

    /// The write loop: plan a change on the current tip, commit, publish; on conflict re-plan
    /// on the new tip after a backoff.
    async fn write<F, Fut>(&self, path: &str, mut plan: F) -> Result<(String, PointerCommit, u32)>
    where
        F: FnMut(Option<String>) -> Fut,
        Fut: Future<Output = Result<PointerCommit>>,
    {
        let _guard = self.lock.lock().await;
        let mut rng = StdRng::from_entropy();
        let (mut conflicts, mut transients, mut attempts) = (0u32, 0u32, 0u32);
        // A commit whose push failed in transit: it may have landed anyway.
        let mut in_doubt: Option<(String, PointerCommit)> = None;
        loop {
            attempts += 1;
            let failure = match self.sync().await? {
                Err(message) => Err(message),
                Ok(base) => {
                    if let (Some((commit, change)), Some(tip)) = (&in_doubt, &base) {
                        let out = self.git.output(&["merge-base", "--is-ancestor", commit, tip], &[], None).await?;
                        if out.ok {
                            return Ok((commit.clone(), change.clone(), attempts));
                        }
                    }
                    let change = plan(base.clone()).await?;
                    let commit = self.build_commit(base.as_deref(), &change).await?;
                    match self.publish(base.as_deref(), &commit).await? {
                        Publish::Done => {
                            self.refresh_worktree().await;
                            return Ok((commit, change, attempts));
                        }
                        Publish::Conflict(m) => Ok(m),
                        Publish::Transient(m) => {
                            in_doubt = Some((commit, change));
                            Err(m)
                        }
                    }
                }
            };
            match failure {
                Ok(conflict) => {
                    conflicts += 1;
                    tracing::debug!(path, attempt = conflicts, reason = %conflict, "gitops: write lost a race; retrying on the new tip");
                    if conflicts >= self.conflict_attempts {
                        return Err(GitopsError::Conflict { path: path.to_owned(), attempts: conflicts });
                    }
                    tokio::time::sleep(self.retry.delay((conflicts - 1).min(16), &mut rng)).await;
                }
                Err(message) => {
                    transients += 1;
                    if transients >= self.retry.attempts {
                        return Err(GitopsError::Unreachable {
                            remote: self.remote_label(),
                            attempts: transients,
                            message,
                        });
                    }
                    tracing::warn!(remote = %self.remote_label(), attempt = transients, %message, "gitops: remote failed; retrying");
                    tokio::time::sleep(self.retry.delay(transients - 1, &mut rng)).await;
                }
            }
        }
    }

    /// Writes one file in one commit (retrying on conflicts); returns the commit SHA.
    pub async fn commit_change(&self, change: &PointerCommit) -> Result<String> {
        let (sha, _, _) = self.write(&change.path, |_| std::future::ready(Ok(change.clone()))).await?;
        Ok(sha)
    }

    /// Deploys a release: writes its pointer in one commit with the SPEC §6.3 message, authored
    /// by the deploying identity.
    pub async fn deploy(&self, req: &DeployRequest) -> Result<DeployOutcome> {
        let pointer = req.pointer();
        let message = deploy_message(&pointer);
        let change = PointerCommit {
            path: req.path.to_string(),
            content: pointer.to_yaml().into_bytes(),
            message: message.clone(),
            author: author_for(&req.deployed_by),
        };
        let (commit, _, attempts) = self.write(&change.path, |_| std::future::ready(Ok(change.clone()))).await?;
        Ok(DeployOutcome { commit, pointer, message, attempts })
    }

    /// Rolls back to the previous active release of `path` (found from history, recomputed on
    /// every attempt so a concurrent deploy is taken into account).
    pub async fn rollback(&self, path: &PointerPath, by: &str, now: DateTime<Utc>) -> Result<DeployOutcome> {
        let file = path.to_string();
        let (commit, change, attempts) = self
            .write(&file, |base| async move {
                let Some(base) = base else { return Err(GitopsError::NoPreviousRelease { path: path.to_string() }) };
                let history = self.history_at(path, &base, usize::MAX).await?;
                let (current, target) =
                    rollback_pair(&history).ok_or_else(|| GitopsError::NoPreviousRelease { path: path.to_string() })?;
                let pointer = ReleasePointer {
                    name: path.project.clone(),
                    environment: path.environment.clone(),
                    release: target.release,
                    aliases: target.aliases.clone(),
                    deployed_at: now,
                    deployed_by: by.to_owned(),
                    approved_by: None,
                    approved_at: None,
                };
                Ok(PointerCommit {
                    path: path.to_string(),
                    content: pointer.to_yaml().into_bytes(),
                    message: rollback_message(&pointer, &current, by),
                    author: author_for(by),
                })
            })
            .await?;
        let pointer = ReleasePointer::parse(&file, &change.content)?;
        Ok(DeployOutcome { commit, pointer, message: change.message, attempts })
    }

    async fn resolve_rev(&self, revision: Option<&str>) -> Result<Option<String>> {
        match revision {
            Some(r) => {
                if r.starts_with('-') {
                    return Err(GitopsError::NotFound { what: format!("revision `{r}`") });
                }
                let spec = format!("{r}^{{commit}}");
                let mut out = self.git.output(&["rev-parse", "-q", "--verify", &spec], &[], None).await?;
                if !out.ok && matches!(self.mode, Mode::Remote { .. }) {
                    self.head().await?;
                    out = self.git.output(&["rev-parse", "-q", "--verify", &spec], &[], None).await?;
                }
                if out.ok {
                    Ok(Some(out.text()))
                } else {
                    Err(GitopsError::NotFound { what: format!("revision `{r}`") })
                }
            }
            None => self.head().await,
        }
    }

    /// Reads a file at a revision (`None` = the current tip).
    pub async fn read(&self, path: &str, revision: Option<&str>) -> Result<Vec<u8>> {
        validate_path(path)?;
        let Some(rev) = self.resolve_rev(revision).await? else {
            return Err(GitopsError::NotFound { what: format!("`{path}` (the repository is empty)") });
        };
        let mut found = self.cat_batch(&[format!("{rev}:{path}")]).await?;
        found.pop().flatten().ok_or_else(|| GitopsError::NotFound { what: format!("`{path}` at {rev}") })
    }

    /// Reads and parses the pointer at `path` at a revision; `None` when there is none.
    pub async fn read_pointer(&self, path: &PointerPath, revision: Option<&str>) -> Result<Option<ReleasePointer>> {
        let file = path.to_string();
        match self.read(&file, revision).await {
            Ok(bytes) => Ok(Some(ReleasePointer::parse(&file, &bytes)?)),
            Err(GitopsError::NotFound { .. }) => Ok(None),
            Err(e) => Err(e),
        }
    }

    /// What is deployed where at a revision (`None` = the tip): every pointer, sorted by path.
    /// A pointer file that does not parse fails the query with its path and field.
    pub async fn deployed(&self, revision: Option<&str>) -> Result<Vec<(PointerPath, ReleasePointer)>> {
        let Some(rev) = self.resolve_rev(revision).await? else { return Ok(Vec::new()) };
        let out = self.git.run(&["ls-tree", "-r", "-z", "--name-only", &rev, "--", "environments"], &[], None).await?;
        let mut paths = BTreeMap::new();
        for name in out.stdout.split(|b| *b == 0) {
            let name = String::from_utf8_lossy(name);
            if let Ok(p) = name.parse::<PointerPath>() {
                paths.insert(name.into_owned(), p);
            }
        }
        let specs: Vec<String> = paths.keys().map(|p| format!("{rev}:{p}")).collect();
        let contents = self.cat_batch(&specs).await?;
        let mut result = Vec::with_capacity(paths.len());
        for ((file, path), content) in paths.into_iter().zip(contents) {
            if let Some(bytes) = content {
                result.push((path, ReleasePointer::parse(&file, &bytes)?));
            }
        }
        Ok(result)
    }

    /// The deployment history of a project in an environment, newest first (at most `limit`).
    pub async fn history(&self, path: &PointerPath, limit: usize) -> Result<Vec<HistoryEntry>> {
        match self.head().await? {
            Some(tip) => self.history_at(path, &tip, limit).await,
            None => Ok(Vec::new()),
        }
    }

    async fn history_at(&self, path: &PointerPath, rev: &str, limit: usize) -> Result<Vec<HistoryEntry>> {
        let file = path.to_string();
        let mut args = vec!["log".to_owned(), "-z".to_owned(), "--format=%H%x1f%an%x1f%ae%x1f%aI%x1f%B".to_owned()];
        if limit != usize::MAX {
            args.push(format!("-n{limit}"));
        }
        args.extend([rev.to_owned(), "--".to_owned(), file.clone()]);
        let args: Vec<&str> = args.iter().map(String::as_str).collect();
        let out = self.git.run(&args, &[], None).await?;
        let mut entries = Vec::new();
        for record in out.stdout.split(|b| *b == 0) {
            let record = String::from_utf8_lossy(record);
            let record = record.trim_start_matches('\n');
            if record.is_empty() {
                continue;
            }
            let parts: Vec<&str> = record.splitn(5, '\u{1f}').collect();
            let [commit, name, email, time, message] = parts[..] else { continue };
            let message = message.trim_end().to_owned();
            let kind = if message.starts_with("Deploy ") {
                ChangeKind::Deploy
            } else if message.starts_with("Rollback ") {
                ChangeKind::Rollback
            } else {
                ChangeKind::Other
            };
            let time = DateTime::parse_from_rfc3339(time).map(|t| t.with_timezone(&Utc)).unwrap_or_default();
            entries.push(HistoryEntry {
                commit: commit.to_owned(),
                author: GitIdentity { name: name.to_owned(), email: email.to_owned() },
                time,
                message,
                kind,
                pointer: None,
            });
        }
        let specs: Vec<String> = entries.iter().map(|e| format!("{}:{file}", e.commit)).collect();
        let contents = self.cat_batch(&specs).await?;
        for (entry, content) in entries.iter_mut().zip(contents) {
            if let Some(bytes) = content {
                let label = format!("{file}@{}", &entry.commit[..entry.commit.len().min(12)]);
                entry.pointer = Some(ReleasePointer::parse(&label, &bytes)?);
            }
        }
        Ok(entries)
    }

    /// The release a rollback of `path` would restore: the previous active release, with
    /// rollbacks popping what they undid. `None` when there is none.
    pub async fn previous_release(&self, path: &PointerPath) -> Result<Option<ReleasePointer>> {
        let history = self.history(path, usize::MAX).await?;
        Ok(rollback_pair(&history).map(|(_, target)| target))
    }

    /// Reads many `<rev>:<path>` objects with one `git cat-file --batch`.
    async fn cat_batch(&self, specs: &[String]) -> Result<Vec<Option<Vec<u8>>>> {
        if specs.is_empty() {
            return Ok(Vec::new());
        }
        let mut input = String::new();
        for s in specs {
            input.push_str(s);
            input.push('\n');
        }
        let out = self.git.run(&["cat-file", "--batch"], &[], Some(input.as_bytes())).await?;
        let data = out.stdout;
        let mut pos = 0;
        let mut result = Vec::with_capacity(specs.len());
        let bad = || GitopsError::Git { operation: "cat-file".into(), message: "unexpected --batch output".into() };
        for _ in specs {
            let nl = data.get(pos..).ok_or_else(bad)?.iter().position(|b| *b == b'\n').ok_or_else(bad)? + pos;
            let header = String::from_utf8_lossy(&data[pos..nl]).into_owned();
            pos = nl + 1;
            let fields: Vec<&str> = header.split(' ').collect();
            match fields[..] {
                [_, "blob", size] => {
                    let size: usize = size.parse().map_err(|_| bad())?;
                    let end = pos.checked_add(size).filter(|e| *e <= data.len()).ok_or_else(bad)?;
                    result.push(Some(data[pos..end].to_vec()));
                    pos = end + 1;
                }
                [_, _, size] => {
                    // Not a blob (a tree at that path): treat as absent.
                    let size: usize = size.parse().map_err(|_| bad())?;
                    pos = pos.saturating_add(size + 1).min(data.len());
                    result.push(None);
                }
                _ => result.push(None),
            }
        }
        Ok(result)
    }
}

/// From a newest-first history, the (current, rollback target) pair: replays the history
/// oldest first as a stack of active releases — a deploy pushes (unless it redeploys the top),
/// a rollback pops back to its target, a deletion clears.
pub(crate) fn rollback_pair(history: &[HistoryEntry]) -> Option<(ReleasePointer, ReleasePointer)> {
    let mut stack: Vec<&ReleasePointer> = Vec::new();
    for entry in history.iter().rev() {
        let Some(p) = &entry.pointer else {
            stack.clear();
            continue;
        };
        match entry.kind {
            ChangeKind::Rollback => match stack.iter().rposition(|q| q.release == p.release) {
                Some(i) => {
                    stack.truncate(i);
                    stack.push(p);
                }
                None => stack.push(p),
            },
            ChangeKind::Deploy | ChangeKind::Other => {
                if stack.last().is_some_and(|q| q.release == p.release) {
                    stack.pop();
                }
                stack.push(p);
            }
        }
    }
    let n = stack.len();
    if n < 2 {
        return None;
    }
    Some((stack[n - 1].clone(), stack[n - 2].clone()))
}

fn validate_path(path: &str) -> Result<()> {
    let ok = !path.is_empty()
        && !path.starts_with('/')
        && path.split('/').all(|c| !c.is_empty() && c != "." && c != ".." && c != ".git")
        && !path.chars().any(|c| c.is_control() || c == '\\');
    if ok {
        Ok(())
    } else {
        Err(GitopsError::invalid("gitops change", "path", format!("`{path}` is not a safe repository path")))
    }
}

#[async_trait]
impl GitopsRemote for GitopsRepo {
    async fn commit_pointer(&self, change: &PointerCommit) -> forge_core::Result<String> {
        Ok(self.commit_change(change).await?)
    }

    async fn read_file(&self, path: &str, revision: Option<&str>) -> forge_core::Result<Vec<u8>> {
        Ok(self.read(path, revision).await?)
    }

    async fn file_history(&self, path: &str, limit: usize) -> forge_core::Result<Vec<(String, Option<Vec<u8>>)>> {
        validate_path(path).map_err(forge_core::Error::from)?;
        let Some(tip) = self.head().await? else { return Ok(Vec::new()) };
        let n = format!("-n{limit}");
        let out = self.git.run(&["log", "--format=%H", &n, &tip, "--", path], &[], None).await?;
        let commits: Vec<String> = out.text().lines().map(str::to_owned).collect();
        let specs: Vec<String> = commits.iter().map(|c| format!("{c}:{path}")).collect();
        let contents = self.cat_batch(&specs).await?;
        Ok(commits.into_iter().zip(contents).collect())
    }
}
