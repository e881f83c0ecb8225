//! A thin runner for the `git` command line.
//!
//! Every invocation gets an explicit environment: inherited `GIT_*` variables are removed (so a
//! caller's `GIT_DIR` or `GIT_INDEX_FILE` cannot redirect us), user and system configuration
//! are ignored (`GIT_CONFIG_NOSYSTEM`, `GIT_CONFIG_GLOBAL=/dev/null`, `HOME` set to a private
//! directory), prompts are disabled, and the locale is fixed so stderr can be matched.

use std::path::{Path, PathBuf};
use std::process::Stdio;

use tokio::io::AsyncWriteExt;
use tokio::process::Command;

use crate::error::{GitopsError, Result};

/// Variables kept from the caller's environment (transport configuration only).
const KEEP: &[&str] = &["GIT_SSH", "GIT_SSH_COMMAND", "GIT_SSL_CAINFO", "GIT_SSL_NO_VERIFY", "GIT_EXEC_PATH"];

/// The outcome of a git command that is allowed to fail.
pub(crate) struct Out {
    pub(crate) ok: bool,
    pub(crate) stdout: Vec<u8>,
    pub(crate) stderr: String,
}

impl Out {
    pub(crate) fn text(&self) -> String {
        String::from_utf8_lossy(&self.stdout).trim_end().to_owned()
    }
}

/// A git binary bound to one repository directory.
#[derive(Debug, Clone)]
pub(crate) struct Git {
    /// `--git-dir` (a bare repository or a `.git` directory).
    pub(crate) git_dir: PathBuf,
    /// The working tree, when there is one.
    pub(crate) work_tree: Option<PathBuf>,
    /// Private `HOME`.
    pub(crate) home: PathBuf,
    /// The git executable.
    pub(crate) program: PathBuf,
}

impl Git {
    fn command(&self, args: &[&str], env: &[(&str, &str)]) -> Command {
        let mut cmd = Command::new(&self.program);
        for (k, _) in std::env::vars_os() {
            if let Some(k) = k.to_str()
                && k.starts_with("GIT_")
                && !KEEP.contains(&k)
            {
                cmd.env_remove(k);
            }
        }
        cmd.env("GIT_CONFIG_NOSYSTEM", "1")
            .env("GIT_CONFIG_GLOBAL", "/dev/null")
            .env("HOME", &self.home)
            .env("XDG_CONFIG_HOME", &self.home)
            .env("GIT_TERMINAL_PROMPT", "0")
            .env("GIT_ASKPASS", "true")
            .env("LC_ALL", "C")
            .env("LANG", "C");
        cmd.arg("--git-dir").arg(&self.git_dir);
        if let Some(wt) = &self.work_tree {
            cmd.arg("--work-tree").arg(wt);
        }
        cmd.args(["-c", "core.hooksPath=/dev/null", "-c", "gc.auto=0", "-c", "maintenance.auto=false"]);
        cmd.args(["-c", "core.quotePath=false", "-c", "commit.gpgSign=false"]);
        cmd.args(args);
        for (k, v) in env {
            cmd.env(k, v);
        }
        cmd.kill_on_drop(true);
        cmd
    }

    /// Runs git, returning its output whether or not it succeeded.
    pub(crate) async fn output(&self, args: &[&str], env: &[(&str, &str)], stdin: Option<&[u8]>) -> Result<Out> {
        let op = args.first().copied().unwrap_or("git").to_owned();
        let mut cmd = self.command(args, env);
        cmd.stdout(Stdio::piped()).stderr(Stdio::piped());
        cmd.stdin(if stdin.is_some() { Stdio::piped() } else { Stdio::null() });
        let mut child = cmd.spawn().map_err(|e| GitopsError::Git {
            operation: op.clone(),
            message: format!("cannot run `{}`: {e}", self.program.display()),
        })?;
        if let (Some(data), Some(mut pipe)) = (stdin, child.stdin.take()) {
            let data = data.to_vec();
            // Write concurrently with reading so large inputs cannot deadlock.
            let writer = tokio::spawn(async move {
                let _ = pipe.write_all(&data).await;
                let _ = pipe.shutdown().await;
            });
            let out = child.wait_with_output().await;
            let _ = writer.await;
            return Self::finish(&op, out);
        }
        Self::finish(&op, child.wait_with_output().await)
    }

    fn finish(op: &str, out: std::io::Result<std::process::Output>) -> Result<Out> {
        let out = out.map_err(|e| GitopsError::Git { operation: op.to_owned(), message: e.to_string() })?;
        Ok(Out {
            ok: out.status.success(),
            stdout: out.stdout,
            stderr: redact(String::from_utf8_lossy(&out.stderr).trim()),
        })
    }

    /// Runs git and fails with its stderr unless it succeeded.
    pub(crate) async fn run(&self, args: &[&str], env: &[(&str, &str)], stdin: Option<&[u8]>) -> Result<Out> {
        let out = self.output(args, env, stdin).await?;
        if out.ok {
            Ok(out)
        } else {
            Err(GitopsError::Git {
                operation: args.first().copied().unwrap_or("git").to_owned(),
                message: first_lines(&out.stderr),
            })
        }
    }
}

/// The git executable: `FORGE_GIT` if set, else `git` from `PATH`.
pub(crate) fn program() -> PathBuf {
    std::env::var_os("FORGE_GIT").map_or_else(|| PathBuf::from("git"), PathBuf::from)
}

fn first_lines(s: &str) -> String {
    let lines: Vec<&str> = s.lines().filter(|l| !l.trim().is_empty()).take(4).collect();
    if lines.is_empty() { "exited with an error and no message".to_owned() } else { lines.join(" | ") }
}

/// Removes `user:password@` from URLs in a message.
pub(crate) fn redact(s: &str) -> String {
    let mut out = String::with_capacity(s.len());
    let mut rest = s;
    while let Some(i) = rest.find("://") {
        let (head, tail) = rest.split_at(i + 3);
        out.push_str(head);
        let end = tail.find(|c: char| c.is_whitespace() || c == '/' || c == '\'' || c == '"').unwrap_or(tail.len());
        let authority = &tail[..end];
        match authority.rfind('@') {
            Some(at) => {
                out.push_str("***@");
                out.push_str(&authority[at + 1..]);
            }
            None => out.push_str(authority),
        }
        rest = &tail[end..];
    }
    out.push_str(rest);
    out
}

/// Creates a directory (and parents).
pub(crate) async fn mkdir(path: &Path) -> Result<()> {
    tokio::fs::create_dir_all(path).await.map_err(|e| GitopsError::io(path, &e))
}

#[cfg(test)]
mod tests {
    #[test]
    fn redacts_credentials() {
        assert_eq!(
            super::redact("fatal: unable to access 'https://user:tok@host/x.git/': 403"),
            "fatal: unable to access 'https://***@host/x.git/': 403"
        );
        assert_eq!(super::redact("git://127.0.0.1:9/r"), "git://127.0.0.1:9/r");
    }
}
