//! Running one child process in its own process group, with log streaming, timeout and
//! group-wide kill.

use std::path::PathBuf;
use std::process::Stdio;
use std::sync::Arc;
use std::time::Duration;

use forge_core::ports::{BlobStore, StepOutcome, StepSpec};
use nix::sys::signal::{Signal, killpg};
use nix::unistd::Pid;
use tokio::io::AsyncReadExt;
use tokio::process::Command;

use super::CancelFuture;
use crate::error::Error;

/// Time between SIGTERM and SIGKILL of a cancelled or timed-out step's process group.
const KILL_GRACE: Duration = Duration::from_millis(500);

/// Looks `program` up on `PATH` (or checks it, when it contains a `/`).
pub fn find_program(program: &str) -> Option<PathBuf> {
    use std::os::unix::fs::PermissionsExt;
    let executable =
        |p: &std::path::Path| p.metadata().is_ok_and(|m| m.is_file() && m.permissions().mode() & 0o111 != 0);
    if program.contains('/') {
        let p = PathBuf::from(program);
        return executable(&p).then_some(p);
    }
    let path = std::env::var_os("PATH")?;
    std::env::split_paths(&path).map(|d| d.join(program)).find(|p| executable(p))
}

fn signal_group(pgid: i32, sig: Signal) {
    // ESRCH (group already gone) is the normal case after a clean exit.
    let _ = killpg(Pid::from_raw(pgid), sig);
}

async fn pump<R: tokio::io::AsyncRead + Unpin>(mut r: R, blobs: Arc<dyn BlobStore>, key: String) {
    let mut buf = vec![0u8; 16 * 1024];
    loop {
        match r.read(&mut buf).await {
            Ok(0) | Err(_) => break,
            Ok(n) => {
                if let Err(e) = blobs.append(&key, &buf[..n]).await {
                    tracing::warn!(log_key = %key, error = %e, "could not append to the step log");
                }
            }
        }
    }
}

/// Runs `cmd` for `spec`: own process group, stdin closed, stdout and stderr appended to the
/// blob `spec.log_key`, secrets (already set on `cmd` by the caller) only in its environment.
pub(crate) async fn run(
    mut cmd: Command,
    program: &str,
    spec: &StepSpec,
    blobs: Arc<dyn BlobStore>,
    cancel: CancelFuture,
) -> forge_core::Result<StepOutcome> {
    cmd.process_group(0).stdin(Stdio::null()).stdout(Stdio::piped()).stderr(Stdio::piped()).kill_on_drop(true);
    // An empty log exists even for silent steps.
    blobs.append(&spec.log_key, b"").await?;
    let mut child = cmd.spawn().map_err(|source| Error::Process { program: program.to_owned(), source })?;
    let pgid = child.id().and_then(|id| i32::try_from(id).ok());
    let out = child.stdout.take().map(|r| tokio::spawn(pump(r, blobs.clone(), spec.log_key.clone())));
    let err = child.stderr.take().map(|r| tokio::spawn(pump(r, blobs.clone(), spec.log_key.clone())));

    let timeout = async {
        match spec.timeout {
            Some(t) => tokio::time::sleep(t).await,
            None => std::future::pending().await,
        }
    };
    let mut outcome = StepOutcome { exit_code: None, timed_out: false, cancelled: false };
    let status = tokio::select! {
        status = child.wait() => Some(status),
        () = timeout => { outcome.timed_out = true; None }
        () = cancel => { outcome.cancelled = true; None }
    };
    let status = match status {
        Some(s) => s,
        None => {
            if let Some(pgid) = pgid {
                signal_group(pgid, Signal::SIGTERM);
            }
            match tokio::time::timeout(KILL_GRACE, child.wait()).await {
                Ok(s) => s,
                Err(_) => {
                    if let Some(pgid) = pgid {
                        signal_group(pgid, Signal::SIGKILL);
                    }
                    child.wait().await
                }
            }
        }
    };
    // Whatever the leader left behind in its group (background jobs) goes too, so that no
    // process outlives its step and the log pipes close.
    if let Some(pgid) = pgid {
        signal_group(pgid, Signal::SIGKILL);
    }
    let status = status.map_err(|source| Error::Process { program: program.to_owned(), source })?;
    for task in [out, err].into_iter().flatten() {
        let _ = task.await;
    }
    if !outcome.timed_out && !outcome.cancelled {
        outcome.exit_code = status.code();
    }
    if outcome.timed_out {
        let note =
            format!("\n[forge] step timed out after {:?}; process group killed\n", spec.timeout.unwrap_or_default());
        let _ = blobs.append(&spec.log_key, note.as_bytes()).await;
    } else if outcome.cancelled {
        let _ = blobs.append(&spec.log_key, b"\n[forge] step cancelled; process group killed\n").await;
    }
    Ok(outcome)
}

/// Puts the step's secrets into the child's environment (and nowhere else).
pub(crate) fn set_secrets(cmd: &mut Command, spec: &StepSpec) {
    use std::os::unix::ffi::OsStrExt;
    for (name, value) in &spec.secrets {
        cmd.env(name, std::ffi::OsStr::from_bytes(value.expose()));
    }
}
