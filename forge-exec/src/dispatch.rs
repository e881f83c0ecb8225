//! The dispatcher of an Argo Workflow step (SPEC §3.6): submit one job, wait for its result.
//!
//! The job id is derived from (run, type, project, phase), so a dispatcher pod that Argo
//! retries re-attaches to the job it already submitted instead of running the work twice: if
//! the result exists it is returned at once, otherwise the job is (re)sent — the worker keys
//! results by job id, so a duplicate delivery is harmless. The dispatcher then polls the result
//! blob with backoff until it appears or the timeout passes, and writes the step's output
//! parameters as files: `result.json` always; for discovery also `groups.json`,
//! `group-count.json` and `releases.json` (see [`crate::argo`]).

use std::path::Path;
use std::time::Duration;

use forge_core::model::{Job, JobPayload, JobType};
use forge_core::ports::{BlobStore, JobQueue};
use forge_core::{CommitSha, JobStatus, ProjectName, Repository};
use serde_json::{Value, json};
use sha2::{Digest, Sha256};
use uuid::Uuid;

use crate::argo::{WorkflowTask, groups_output};
use crate::worker::{JobResult, result_key};
use crate::{Error, Result};

/// One job to dispatch.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct DispatchRequest {
    /// Run.
    pub run_id: Uuid,
    /// Repository.
    pub repository: Repository,
    /// Commit.
    pub commit_sha: CommitSha,
    /// Job type.
    pub kind: JobType,
    /// Project (task and artifact jobs).
    pub project: Option<ProjectName>,
    /// Phase (task jobs).
    pub phase: Option<String>,
    /// Branch of the run (release triggers; not part of the job id).
    pub branch: Option<String>,
    /// Tag of the run (release triggers; not part of the job id).
    pub tag: Option<String>,
}

/// The deterministic job id of a dispatch request.
pub fn job_id_for(req: &DispatchRequest) -> Uuid {
    let kind = match req.kind {
        JobType::Discovery => "discovery",
        JobType::Task => "task",
        JobType::Artifact => "artifact",
    };
    let key = format!(
        "{}|{kind}|{}|{}",
        req.run_id,
        req.project.as_ref().map(ProjectName::as_str).unwrap_or_default(),
        req.phase.as_deref().unwrap_or_default()
    );
    let d = Sha256::digest(key.as_bytes());
    let mut b = [0u8; 16];
    b.copy_from_slice(&d[..16]);
    // RFC 4122 variant, version 8 (custom).
    b[6] = (b[6] & 0x0f) | 0x80;
    b[8] = (b[8] & 0x3f) | 0x80;
    Uuid::from_bytes(b)
}

async fn read_result(blobs: &dyn BlobStore, job_id: Uuid) -> Result<Option<JobResult>> {
    match blobs.get(&result_key(job_id)).await {
        Ok(bytes) => serde_json::from_slice(&bytes)
            .map(Some)
            .map_err(|source| Error::Json { context: format!("result of job {job_id}"), source }),
        Err(forge_core::Error::NotFound { .. }) => Ok(None),
        Err(e) => Err(e.into()),
    }
}

/// Submits the job (unless its result exists) and waits for the result.
pub async fn dispatch(
    queue: &dyn JobQueue,
    blobs: &dyn BlobStore,
    req: &DispatchRequest,
    timeout: Duration,
    poll: Duration,
) -> Result<JobResult> {
    let job_id = job_id_for(req);
    if let Some(r) = read_result(blobs, job_id).await? {
        tracing::info!(%job_id, "result already recorded; not resubmitting");
        return Ok(r);
    }
    let job = Job {
        job_id,
        run_id: req.run_id,
        kind: req.kind,
        payload: JobPayload {
            repository: req.repository.clone(),
            commit_sha: req.commit_sha,
            project: req.project.clone(),
            phase: req.phase.clone(),
            steps: Vec::new(),
            branch: req.branch.clone(),
            tag: req.tag.clone(),
        },
        result_path: blobs.uri(&result_key(job_id)),
    };
    queue.send(&job).await?;
    tracing::info!(%job_id, kind = ?req.kind, "job submitted; waiting for its result");
    let deadline = tokio::time::Instant::now() + timeout;
    let mut delay = poll;
    loop {
        if let Some(r) = read_result(blobs, job_id).await? {
            return Ok(r);
        }
        if tokio::time::Instant::now() >= deadline {
            return Err(Error::Timeout { what: format!("waiting for the result of job {job_id}"), after: timeout });
        }
        tokio::time::sleep(delay).await;
        delay = (delay * 2).min(Duration::from_secs(10));
    }
}

/// The discovery outputs of a discovery result document (SPEC §2.5 shape): `(groups,
/// group-count, releases)`.
pub fn discovery_outputs(document: &Value) -> (Value, usize, Value) {
    let mut groups: Vec<(u32, Vec<WorkflowTask>)> = Vec::new();
    for g in document["phaseGroups"].as_array().into_iter().flatten() {
        let n = g["group"].as_u64().unwrap_or(0) as u32;
        let mut tasks = Vec::new();
        for phase in g["phases"].as_array().into_iter().flatten().filter_map(Value::as_str) {
            for p in document["projects"].as_array().into_iter().flatten() {
                if p["phases"][phase].as_array().is_some_and(|s| !s.is_empty())
                    && let Some(name) = p["name"].as_str()
                {
                    tasks.push(WorkflowTask { phase: phase.to_owned(), project: name.to_owned() });
                }
            }
        }
        groups.push((n, tasks));
    }
    let out = groups_output(&groups);
    let count = out.as_array().map_or(0, Vec::len);
    let releases = document.get("releaseProjects").cloned().unwrap_or_else(|| json!([]));
    (out, count, releases)
}

/// Writes the step's output files into `dir`; returns whether the job succeeded.
pub fn write_outputs(dir: &Path, kind: JobType, result: &JobResult) -> Result<bool> {
    let io = |e: std::io::Error| Error::io("writing dispatcher outputs", dir, e);
    std::fs::create_dir_all(dir).map_err(io)?;
    let text = serde_json::to_vec(result).map_err(|source| Error::Json { context: "the job result".into(), source })?;
    std::fs::write(dir.join("result.json"), text).map_err(io)?;
    if kind == JobType::Discovery {
        let doc = result.result.get("document").unwrap_or(&result.result);
        let (groups, count, releases) = discovery_outputs(doc);
        std::fs::write(dir.join("groups.json"), groups.to_string()).map_err(io)?;
        std::fs::write(dir.join("group-count.json"), count.to_string()).map_err(io)?;
        std::fs::write(dir.join("releases.json"), releases.to_string()).map_err(io)?;
    }
    Ok(result.status == JobStatus::Completed)
}
