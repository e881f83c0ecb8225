//! Status machines of SPEC §3.1 and §3.3, with legal transitions only, and the fail-fast
//! aggregation rules of SPEC §3.2.
//!
//! Transitions only move forward. `pending → running → {success, failed}`; a pending item may
//! also become `skipped` (fail-fast, or nothing to do) and a pending or running item may be
//! `cancelled` where the level supports it. Terminal states never change. Re-applying the
//! current state is accepted (idempotent status updates, SPEC §3.3).

use std::fmt;

use serde::{Deserialize, Serialize};

/// An attempted transition that the state machine forbids.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("illegal {machine} status transition {from} → {to}: {reason}")]
pub struct TransitionError {
    /// Which machine (`run`, `phase`, `task`, `step`, `job`, `deployment`).
    pub machine: &'static str,
    /// Current state.
    pub from: String,
    /// Requested state.
    pub to: String,
    /// Why it is refused.
    pub reason: &'static str,
}

/// A status enum with a transition relation.
pub trait StatusMachine: Copy + Eq + fmt::Display + 'static {
    /// Machine name used in errors.
    const MACHINE: &'static str;
    /// Whether the state is terminal.
    fn is_terminal(self) -> bool;
    /// Whether `self → to` is a legal move (not counting the idempotent `self → self`).
    fn can_move_to(self, to: Self) -> bool;
    /// Checks a transition; `self → self` is accepted as an idempotent update.
    fn transition(self, to: Self) -> Result<Self, TransitionError> {
        if self == to || self.can_move_to(to) {
            Ok(to)
        } else {
            Err(TransitionError {
                machine: Self::MACHINE,
                from: self.to_string(),
                to: to.to_string(),
                reason: if self.is_terminal() {
                    "the current state is terminal"
                } else {
                    "transitions only move forward"
                },
            })
        }
    }
}

macro_rules! status_enum {
    ($(#[$m:meta])* $name:ident, $machine:literal { $($(#[$vm:meta])* $v:ident = $s:literal),+ $(,)? }) => {
        $(#[$m])*
        #[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize, PartialOrd, Ord)]
        #[serde(rename_all = "snake_case")]
        pub enum $name { $($(#[$vm])* $v),+ }
        impl $name {
            /// Every state, in declaration order.
            pub const ALL: &'static [$name] = &[$($name::$v),+];
            /// The wire name.
            pub fn as_str(self) -> &'static str { match self { $($name::$v => $s),+ } }
        }
        impl fmt::Display for $name {
            fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result { f.pad(self.as_str()) }
        }
        impl std::str::FromStr for $name {
            type Err = crate::id::IdError;
            fn from_str(s: &str) -> Result<Self, Self::Err> {
                match s {
                    $($s => Ok($name::$v),)+
                    _ => Err(crate::id::IdError {
                        kind: $machine,
                        input: s.to_owned(),
                        rule: format!("expected one of: {}", [$($s),+].join(", ")),
                    }),
                }
            }
        }
    };
}

status_enum!(
    /// Status of a pipeline run.
    RunStatus, "run status" {
        /// Created, not started.
        Pending = "pending",
        /// Discovery or phases are running.
        Running = "running",
        /// Every phase succeeded.
        Success = "success",
        /// A step failed (fail-fast) or timed out.
        Failed = "failed",
        /// Cancelled by an operator.
        Cancelled = "cancelled",
    }
);

impl StatusMachine for RunStatus {
    const MACHINE: &'static str = "run";
    fn is_terminal(self) -> bool {
        matches!(self, Self::Success | Self::Failed | Self::Cancelled)
    }
    fn can_move_to(self, to: Self) -> bool {
        use RunStatus::*;
        matches!((self, to), (Pending, Running | Failed | Cancelled) | (Running, Success | Failed | Cancelled))
    }
}

status_enum!(
    /// Status of a phase, a task or a step (SPEC §3.1). `cancelled` is only used for steps
    /// stopped by fail-fast while running.
    ExecStatus, "execution status" {
        /// Not started.
        Pending = "pending",
        /// Running.
        Running = "running",
        /// Finished successfully.
        Success = "success",
        /// Finished with a failure (or timed out).
        Failed = "failed",
        /// Never started because of fail-fast, or nothing to do.
        Skipped = "skipped",
        /// Stopped while running because another step failed.
        Cancelled = "cancelled",
    }
);

impl StatusMachine for ExecStatus {
    const MACHINE: &'static str = "execution";
    fn is_terminal(self) -> bool {
        matches!(self, Self::Success | Self::Failed | Self::Skipped | Self::Cancelled)
    }
    fn can_move_to(self, to: Self) -> bool {
        use ExecStatus::*;
        matches!(
            (self, to),
            (Pending, Running | Skipped | Failed | Cancelled) | (Running, Success | Failed | Cancelled)
        )
    }
}

status_enum!(
    /// Status of a queued job (SPEC §3.3).
    JobStatus, "job status" {
        /// Submitted, not picked up.
        Pending = "pending",
        /// A worker is running it.
        Running = "running",
        /// Finished and its result recorded.
        Completed = "completed",
        /// Failed (after retries, or persistently).
        Failed = "failed",
    }
);

impl StatusMachine for JobStatus {
    const MACHINE: &'static str = "job";
    fn is_terminal(self) -> bool {
        matches!(self, Self::Completed | Self::Failed)
    }
    fn can_move_to(self, to: Self) -> bool {
        use JobStatus::*;
        // A running job may go back to pending when its worker releases it (SIGTERM) or its
        // visibility expires; that is redelivery, not regression of a finished job.
        matches!((self, to), (Pending, Running | Failed) | (Running, Completed | Failed | Pending))
    }
}

status_enum!(
    /// Status of a deployment (SPEC §6.4).
    DeploymentStatus, "deployment status" {
        /// Recorded, pointer commit not yet pushed.
        Pending = "pending",
        /// The current deployment of the project in the environment.
        Active = "active",
        /// Replaced by a newer deployment.
        Superseded = "superseded",
        /// The pointer commit failed; never became active.
        Failed = "failed",
    }
);

impl StatusMachine for DeploymentStatus {
    const MACHINE: &'static str = "deployment";
    fn is_terminal(self) -> bool {
        matches!(self, Self::Superseded | Self::Failed)
    }
    fn can_move_to(self, to: Self) -> bool {
        use DeploymentStatus::*;
        matches!((self, to), (Pending, Active | Failed) | (Active, Superseded))
    }
}

status_enum!(
    /// Publication state of a release (SPEC §4.3).
    ReleaseStatus, "release status" {
        /// Every publisher succeeded.
        Complete = "complete",
        /// At least one publisher failed; a retry publishes only the failed destinations.
        Partial = "partial",
    }
);

/// Aggregates child statuses into the parent status under fail-fast (SPEC §3.2):
/// any `failed` child → `failed`; else any `cancelled` → `failed` (the run was stopped);
/// else any running → `running`; else all `pending` → `pending`; else any pending → `running`
/// (partially done); else all `skipped` → `skipped`; else `success`.
/// An empty set of children is `success` (nothing to do).
pub fn aggregate(children: impl IntoIterator<Item = ExecStatus>) -> ExecStatus {
    let (mut n, mut failed, mut cancelled, mut running, mut pending, mut skipped) = (0, 0, 0, 0, 0, 0);
    for c in children {
        n += 1;
        match c {
            ExecStatus::Failed => failed += 1,
            ExecStatus::Cancelled => cancelled += 1,
            ExecStatus::Running => running += 1,
            ExecStatus::Pending => pending += 1,
            ExecStatus::Skipped => skipped += 1,
            ExecStatus::Success => {}
        }
    }
    if failed > 0 || cancelled > 0 {
        ExecStatus::Failed
    } else if running > 0 {
        ExecStatus::Running
    } else if n > 0 && pending == n {
        ExecStatus::Pending
    } else if pending > 0 {
        ExecStatus::Running
    } else if n > 0 && skipped == n {
        ExecStatus::Skipped
    } else {
        ExecStatus::Success
    }
}

/// The run status implied by the aggregate of its phases.
pub fn run_status_from_phases(phases: impl IntoIterator<Item = ExecStatus>) -> RunStatus {
    match aggregate(phases) {
        ExecStatus::Failed | ExecStatus::Cancelled => RunStatus::Failed,
        ExecStatus::Running => RunStatus::Running,
        ExecStatus::Pending => RunStatus::Pending,
        ExecStatus::Success | ExecStatus::Skipped => RunStatus::Success,
    }
}

/// What fail-fast does to a step that has not finished when another step fails (SPEC §3.2):
/// running steps are cancelled, pending ones are skipped, finished ones are left alone.
pub fn fail_fast(status: ExecStatus) -> ExecStatus {
    match status {
        ExecStatus::Running => ExecStatus::Cancelled,
        ExecStatus::Pending => ExecStatus::Skipped,
        other => other,
    }
}
