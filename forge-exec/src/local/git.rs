//! The git context of a local run: commit, branch, tag, commit time and author of the work
//! tree holding the repository, read with the `git` CLI.

use std::path::{Path, PathBuf};
use std::process::Command;

use chrono::{DateTime, Utc};
use forge_core::CommitSha;

use super::LocalError;

/// What `forge run` knows about the commit it runs.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct GitContext {
    /// The work tree's top-level directory.
    pub toplevel: PathBuf,
    /// `HEAD`.
    pub commit: CommitSha,
    /// The checked-out branch (`None` when detached).
    pub branch: Option<String>,
    /// A tag pointing at `HEAD` (the first in version order), if any.
    pub tag: Option<String>,
    /// Commit time: the only timestamp of a release image.
    pub committed_at: DateTime<Utc>,
    /// `Name <email>` of the author.
    pub author: String,
    /// Subject line of the commit message.
    pub message: String,
    /// URL of the `origin` remote, if any.
    pub origin: Option<String>,
}

fn git(dir: &Path, args: &[&str]) -> Result<Option<String>, LocalError> {
    let out = Command::new("git")
        .arg("-C")
        .arg(dir)
        .args(args)
        .env("GIT_TERMINAL_PROMPT", "0")
        .output()
        .map_err(|e| LocalError::Git { message: format!("cannot run `git {}`: {e}", args.join(" ")) })?;
    if out.status.success() { Ok(Some(String::from_utf8_lossy(&out.stdout).trim().to_owned())) } else { Ok(None) }
}

impl GitContext {
    /// Reads the context of the work tree containing `path`; `Ok(None)` when `path` is not
    /// inside a git work tree.
    pub fn discover(path: &Path) -> Result<Option<Self>, LocalError> {
        let Some(toplevel) = git(path, &["rev-parse", "--show-toplevel"])? else {
            return Ok(None);
        };
        let Some(head) = git(path, &["rev-parse", "--verify", "-q", "HEAD"])? else {
            return Err(LocalError::Git {
                message: format!(
                    "{} is a git work tree without commits; commit first or pass --commit",
                    path.display()
                ),
            });
        };
        let commit: CommitSha =
            head.parse().map_err(|e| LocalError::Git { message: format!("HEAD is not a commit SHA: {e}") })?;
        let branch = git(path, &["symbolic-ref", "--short", "-q", "HEAD"])?.filter(|b| !b.is_empty());
        let tag = git(path, &["tag", "--points-at", "HEAD", "--sort=version:refname"])?
            .and_then(|t| t.lines().next().map(str::to_owned))
            .filter(|t| !t.is_empty());
        let show = git(path, &["show", "-s", "--format=%cI%n%an <%ae>%n%s", "HEAD"])?.unwrap_or_default();
        let mut lines = show.lines();
        let committed_at = lines
            .next()
            .and_then(|t| DateTime::parse_from_rfc3339(t).ok())
            .map(|t| t.with_timezone(&Utc))
            .ok_or_else(|| LocalError::Git { message: "cannot read the commit time of HEAD".into() })?;
        let author = lines.next().unwrap_or_default().to_owned();
        let message = lines.next().unwrap_or_default().to_owned();
        let origin = git(path, &["remote", "get-url", "origin"])?.filter(|o| !o.is_empty());
        Ok(Some(Self { toplevel: PathBuf::from(toplevel), commit, branch, tag, committed_at, author, message, origin }))
    }
}

/// The `owner/name` of a GitHub remote URL (`https://github.com/o/n(.git)`, `git@github.com:o/n`).
pub fn github_repository(url: &str) -> Option<String> {
    let rest = url
        .strip_prefix("https://github.com/")
        .or_else(|| url.strip_prefix("http://github.com/"))
        .or_else(|| url.strip_prefix("git@github.com:"))
        .or_else(|| url.strip_prefix("ssh://git@github.com/"))?;
    let rest = rest.trim_end_matches('/').trim_end_matches(".git");
    let mut parts = rest.split('/');
    let (o, n) = (parts.next()?, parts.next()?);
    if parts.next().is_some() || o.is_empty() || n.is_empty() {
        return None;
    }
    Some(format!("{o}/{n}"))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn github_urls() {
        assert_eq!(github_repository("https://github.com/acme/shop.git").as_deref(), Some("acme/shop"));
        assert_eq!(github_repository("git@github.com:acme/shop").as_deref(), Some("acme/shop"));
        assert_eq!(github_repository("/tmp/shop"), None);
        assert_eq!(github_repository("https://github.com/acme"), None);
    }
}
