//! # forge-exec
//!
//! Forge execution (SPEC §3): job queues, hot workers, executors and the phase scheduler.
//!
//! - [`queue`]: the [`JobQueue`](forge_core::ports::JobQueue) adapters — [`queue::EmbeddedQueue`]
//!   (always on, SQS semantics in-process) and `queue::sqs` (feature `sqs`) — and the
//!   [`queue::conformance`] suite both pass.
//! - [`executor`]: `script` and `earthly` executors that stream logs to a
//!   [`BlobStore`](forge_core::ports::BlobStore), enforce timeouts and kill whole process groups.
//! - [`scheduler`]: runs a [`plan::PipelinePlan`] with groups, priority tiers and fail-fast.
//! - [`repo_cache`]: bare clones, a worktree per job, LRU eviction (SPEC §3.4).
//! - [`handler`]: the `task` and `discovery` job handlers; [`worker`]: the hot worker runtime
//!   with heartbeats, timeouts, graceful shutdown and [`metrics`].
//! - [`blob`]: the local-directory blob store.
//!
//! ```
//! use std::sync::Arc;
//! use forge_exec::blob::LocalBlobStore;
//! use forge_exec::executor::ActionExecutor;
//! use forge_exec::plan::{GroupPlan, PhasePlan, PipelinePlan, StepPlan, TaskPlan};
//! use forge_exec::scheduler::{NoopSink, Scheduler};
//! use forge_core::{ExecStatus, RunStatus};
//!
//! # tokio::runtime::Builder::new_current_thread().enable_all().build()?.block_on(async {
//! let dir = tempfile::tempdir()?;
//! let blobs = Arc::new(LocalBlobStore::new(dir.path().join("blobs"))?);
//! let task = TaskPlan {
//!     project: "web".into(),
//!     project_path: ".".into(),
//!     steps: vec![StepPlan::script("lint", "echo lint").with_priority(10), StepPlan::script("test", "exit 3")],
//! };
//! let plan = PipelinePlan {
//!     groups: vec![GroupPlan { group: 1, phases: vec![PhasePlan { name: "check".into(), timeout: None, tasks: vec![task] }] }],
//! };
//! let scheduler = Scheduler::new(Arc::new(ActionExecutor::new(blobs.clone())), Arc::new(NoopSink))
//!     .with_repo_root(dir.path())
//!     .with_log_prefix("logs/run-1");
//! let report = scheduler.run(&plan, Default::default()).await;
//! assert_eq!(report.status, RunStatus::Failed);
//! assert_eq!(report.step("check", "web", "lint").map(|s| s.status), Some(ExecStatus::Success));
//! assert_eq!(report.step("check", "web", "test").and_then(|s| s.exit_code), Some(3));
//! # Ok::<(), Box<dyn std::error::Error>>(())
//! # })?;
//! # Ok::<(), Box<dyn std::error::Error>>(())
//! ```
//!
//! ## Crate features
//! - `sqs`: the AWS SQS queue adapter (`queue::sqs`). Without it no AWS crate is compiled.
//! - `api`: [`ReleaseRecords`](forge_core::ports::ReleaseRecords) over the REST API (`api_client`).

#[cfg(feature = "api")]
pub mod api_client;
pub mod argo;
pub mod blob;
pub mod dispatch;
mod error;
pub mod executor;
pub mod github;
pub mod handler;
pub mod local;
pub mod metrics;
pub mod plan;
pub mod queue;
pub mod release;
pub mod repo_cache;
pub mod scheduler;
pub mod worker;

pub use error::{BoxError, Error, Result};
