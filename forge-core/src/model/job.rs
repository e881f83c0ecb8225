//! The job message contract (SPEC §3.3).

use chrono::{DateTime, Utc};
use serde::{Deserialize, Serialize};
use uuid::Uuid;

use crate::id::{CommitSha, ProjectName, Repository};
use crate::status::JobStatus;

/// Job retention (SPEC §3.3): status kept 7 days.
pub const JOB_STATUS_TTL_DAYS: i64 = 7;

/// Kind of job.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum JobType {
    /// Discover projects and build the pipeline.
    Discovery,
    /// Run a project's steps for a phase.
    Task,
    /// Build and publish a project's artifacts.
    Artifact,
}

/// The job payload.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct JobPayload {
    /// Repository.
    pub repository: Repository,
    /// Commit.
    pub commit_sha: CommitSha,
    /// Project (task and artifact jobs).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub project: Option<ProjectName>,
    /// Phase (task jobs).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub phase: Option<String>,
    /// Step names (task jobs).
    #[serde(default)]
    pub steps: Vec<String>,
    /// Branch of the run, for release triggers (discovery and artifact jobs).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub branch: Option<String>,
    /// Tag of the run, for release triggers (discovery and artifact jobs).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub tag: Option<String>,
}

/// A job message as it travels on a queue. Carries only references — never secret values.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Job {
    /// Job id; results are keyed by it, so running a job twice is safe.
    pub job_id: Uuid,
    /// Run the job belongs to.
    pub run_id: Uuid,
    /// Kind.
    #[serde(rename = "type")]
    pub kind: JobType,
    /// Payload.
    pub payload: JobPayload,
    /// Where the worker writes the result (blob URI).
    pub result_path: String,
}

/// The recorded state of a job.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct JobRecord {
    /// Job id.
    pub job_id: Uuid,
    /// Run.
    pub run_id: Uuid,
    /// Kind.
    #[serde(rename = "type")]
    pub kind: JobType,
    /// Status.
    pub status: JobStatus,
    /// Result blob URI, once completed.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub result_path: Option<String>,
    /// Failure reason.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub error: Option<String>,
    /// Last update.
    pub updated_at: DateTime<Utc>,
    /// When the record may be deleted.
    pub expires_at: DateTime<Utc>,
}
