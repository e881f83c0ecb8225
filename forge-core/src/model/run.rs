//! Pipeline runs and their executions (SPEC §3.1).

use chrono::{DateTime, Utc};
use serde::{Deserialize, Serialize};
use uuid::Uuid;

use crate::id::{CommitSha, ProjectName, Repository};
use crate::status::{ExecStatus, RunStatus};

/// How a step runs (SPEC §2.4, §3.5).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum StepAction {
    /// `earthly --ci ./path+target`.
    Earthly,
    /// `shell -c run` in the project directory.
    Script,
}

/// A pipeline run: one execution of the pipeline of a repository at a commit.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct PipelineRun {
    /// Run id.
    pub id: Uuid,
    /// Repository.
    pub repository: Repository,
    /// Commit.
    pub commit_sha: CommitSha,
    /// Branch, when the run is for a branch push.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub branch: Option<String>,
    /// Tag, when the run is for a tag push.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub tag: Option<String>,
    /// Attempt number: 1 for the first run of (repository, commit), incremented by re-runs.
    pub attempt: u32,
    /// Status.
    pub status: RunStatus,
    /// Who or what started it.
    pub actor: String,
    /// Creation time.
    pub created_at: DateTime<Utc>,
    /// Start time.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub started_at: Option<DateTime<Utc>>,
    /// End time.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub finished_at: Option<DateTime<Utc>>,
    /// Phases, in execution order (group, then name).
    #[serde(default)]
    pub phases: Vec<PhaseExecution>,
}

/// One phase of a run.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct PhaseExecution {
    /// Phase execution id.
    pub id: Uuid,
    /// Phase name (`build`, `test`, …).
    pub name: String,
    /// Group number: lower runs first, same group runs together.
    pub group: u32,
    /// Status.
    pub status: ExecStatus,
    /// Start time.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub started_at: Option<DateTime<Utc>>,
    /// End time.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub finished_at: Option<DateTime<Utc>>,
    /// One task per project that has steps in the phase.
    #[serde(default)]
    pub tasks: Vec<TaskExecution>,
}

/// The steps of one project in one phase.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct TaskExecution {
    /// Task id.
    pub id: Uuid,
    /// Project.
    pub project: ProjectName,
    /// Project directory relative to the repository root.
    pub project_path: String,
    /// Status.
    pub status: ExecStatus,
    /// Start time.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub started_at: Option<DateTime<Utc>>,
    /// End time.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub finished_at: Option<DateTime<Utc>>,
    /// Steps, sorted by priority (desc) then name.
    #[serde(default)]
    pub steps: Vec<StepExecution>,
}

/// One step.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct StepExecution {
    /// Step id.
    pub id: Uuid,
    /// Step name, unique within the phase of a project.
    pub name: String,
    /// Action.
    pub action: StepAction,
    /// Priority: higher runs first.
    pub priority: i64,
    /// Status.
    pub status: ExecStatus,
    /// Exit code of the process, when it ran.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub exit_code: Option<i32>,
    /// Blob-store key of the step's log.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub log_key: Option<String>,
    /// Failure reason (never contains secret values).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub error: Option<String>,
    /// Start time.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub started_at: Option<DateTime<Utc>>,
    /// End time.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub finished_at: Option<DateTime<Utc>>,
}

/// Body of `PUT /tasks/{id}/status` and `PUT /steps/{id}/status`.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct StatusUpdate {
    /// New status.
    pub status: ExecStatus,
    /// Exit code (steps).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub exit_code: Option<i32>,
    /// Log key (steps).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub log_key: Option<String>,
    /// Failure reason.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub error: Option<String>,
}

/// Body of `POST /runs`.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct CreateRun {
    /// Repository.
    pub repository: Repository,
    /// Commit.
    pub commit_sha: CommitSha,
    /// Branch.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub branch: Option<String>,
    /// Tag.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub tag: Option<String>,
    /// Force a new attempt even if a run for the commit exists.
    #[serde(default)]
    pub rerun: bool,
}

/// Body of `PUT /runs/{id}/plan`: the planned phases → tasks → steps of a run, recorded once
/// discovery is done. The server assigns the ids and resets every status to `pending`.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct RunPlan {
    /// Phases, in execution order (group, then name).
    pub phases: Vec<PhaseExecution>,
    /// Discovery failed with this message: the run is recorded `failed` (no phases allowed).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub failure: Option<String>,
}
