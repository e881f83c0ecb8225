//! The dispatcher of an Argo Workflow step (SPEC §3.6): submit one job, wait for its result.
//!
//! The job id is derived from (run, type, project, phase), so a dispatcher pod that Argo
//! retries re-attaches to the job it already submitted instead of running the work twice: if
//! the result exists it is returned at once, otherwise the job is (re)sent — the worker keys
//! results by job id, so a duplicate delivery is harmless. The dispatcher then polls the result
//! blob with backoff until it appears or the timeout passes, and writes the step's output
//! parameters as files: `result.json` always; for discovery also `groups.json`,
//! `group-count.json` and `releases.json` (see [`crate::argo`]).
//!
//! With a [`RunReporter`] (the API, `--api-url`), the dispatcher also reports the outcome to
//! the run record: after discovery it records the planned phases → tasks → steps
//! ([`report_discovery`]), after a task job the statuses of its steps and of the task
//! ([`report_task`]). Both are idempotent (a retried dispatcher repeats nothing), and
//! [`report`] only logs their failures: the result file stays the contract for Argo.

use std::path::Path;
use std::time::Duration;

use async_trait::async_trait;
use forge_core::model::{Job, JobPayload, JobType, PipelineRun, RunPlan, StatusUpdate, StepAction, StepExecution};
use forge_core::ports::{BlobStore, JobQueue};
use forge_core::{CommitSha, ExecStatus, JobStatus, ProjectName, Repository, StatusMachine};
use serde_json::{Value, json};
use sha2::{Digest, Sha256};
use uuid::Uuid;

use crate::argo::{WorkflowTask, groups_output};
use crate::plan::{GroupPlan, PhasePlan, PipelinePlan, StepPlan, TaskPlan};
use crate::scheduler::{RunReport, StepReport, TaskReport};
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

/// The run record a dispatcher reports to (the Forge API, SPEC §9; `ApiRunReporter` in
/// `api_client` with the `api` feature).
#[async_trait]
pub trait RunReporter: Send + Sync {
    /// Reads the run with its phases → tasks → steps (`GET /v1/runs/{id}`).
    async fn get_run(&self, run_id: Uuid) -> forge_core::Result<PipelineRun>;
    /// Records the planned phases of the run (`PUT /v1/runs/{id}/plan`); a run that already
    /// has phases is returned unchanged.
    async fn plan_run(&self, run_id: Uuid, plan: &RunPlan) -> forge_core::Result<PipelineRun>;
    /// Updates a task's status (`PUT /v1/tasks/{id}/status`).
    async fn update_task(&self, task_id: Uuid, update: &StatusUpdate) -> forge_core::Result<()>;
    /// Updates a step's status (`PUT /v1/steps/{id}/status`).
    async fn update_step(&self, step_id: Uuid, update: &StatusUpdate) -> forge_core::Result<()>;
}

/// The configuration errors of a discovery document (`file:line:col: message`, or the message
/// alone), joined on one line and cut at 2000 bytes.
fn discovery_errors(document: &Value) -> Option<String> {
    let errors = document.get("errors")?.as_array()?;
    let lines: Vec<String> = errors
        .iter()
        .map(|e| {
            let message = e.get("message").and_then(Value::as_str);
            match (e.get("file").and_then(Value::as_str), e.get("line"), e.get("column"), message) {
                (Some(f), Some(l), Some(c), Some(m)) => format!("{f}:{l}:{c}: {m}"),
                (_, _, _, Some(m)) => m.to_owned(),
                _ => e.to_string(),
            }
        })
        .collect();
    let mut text = lines.join("; ");
    if text.len() > 2000 {
        let cut = (0..=2000).rev().find(|&i| text.is_char_boundary(i)).unwrap_or(0);
        text.truncate(cut);
        text.push('…');
    }
    (!text.is_empty()).then_some(text)
}

/// The discovery document of a discovery job's result (the result itself, or its `document`).
fn discovery_document(result: &JobResult) -> &Value {
    result.result.get("document").unwrap_or(&result.result)
}

/// The pipeline plan of a discovery result document: the SPEC §2.5 discovery output
/// (`phaseGroups` ascending, phases sorted by name, one task per project with steps in the
/// phase, projects in document order), or a ready-made [`PipelinePlan`] (`groups`, as the
/// plan-file discoverer writes it). Only what the run record needs is read: names, paths,
/// actions, priorities, targets and scripts.
pub fn plan_from_document(document: &Value) -> Result<PipelinePlan> {
    let invalid = |message: String| Error::Json {
        context: "the discovery document".into(),
        source: serde::de::Error::custom(message),
    };
    if document.get("groups").is_some() && document.get("phaseGroups").is_none() {
        return serde_json::from_value(document.clone())
            .map_err(|source| Error::Json { context: "the pipeline plan of the discovery result".into(), source });
    }
    let Some(groups) = document.get("phaseGroups").and_then(Value::as_array) else {
        return Err(invalid("neither `phaseGroups` (a discovery output) nor `groups` (a pipeline plan)".into()));
    };
    let projects = document.get("projects").and_then(Value::as_array).map(Vec::as_slice).unwrap_or_default();
    let mut plan = PipelinePlan::default();
    for g in groups {
        let group = g["group"]
            .as_u64()
            .and_then(|n| u32::try_from(n).ok())
            .ok_or_else(|| invalid(format!("phase group without a valid `group` number: {g}")))?;
        let mut phases = Vec::new();
        for phase in g["phases"].as_array().into_iter().flatten().filter_map(Value::as_str) {
            let mut tasks = Vec::new();
            for p in projects {
                let Some(steps) = p["phases"][phase].as_array().filter(|s| !s.is_empty()) else { continue };
                let project = p["name"].as_str().ok_or_else(|| invalid(format!("project without a name: {p}")))?;
                project.parse::<ProjectName>().map_err(|e| invalid(format!("project `{project}`: {e}")))?;
                let steps = steps.iter().map(|s| step_from_document(s, project, phase)).collect::<Result<_>>()?;
                tasks.push(TaskPlan {
                    project: project.to_owned(),
                    project_path: p["path"].as_str().unwrap_or_default().to_owned(),
                    steps,
                });
            }
            if !tasks.is_empty() {
                phases.push(PhasePlan { name: phase.to_owned(), timeout: None, tasks });
            }
        }
        if !phases.is_empty() {
            plan.groups.push(GroupPlan { group, phases });
        }
    }
    plan.groups.sort_by_key(|g| g.group);
    Ok(plan)
}

fn step_from_document(s: &Value, project: &str, phase: &str) -> Result<StepPlan> {
    let context = || format!("step of project `{project}` in phase `{phase}` of the discovery document");
    let name = s["name"].as_str().ok_or_else(|| Error::Json {
        context: context(),
        source: serde::de::Error::custom(format!("a step without a name: {s}")),
    })?;
    let action: StepAction = serde_json::from_value(s["action"].clone())
        .map_err(|source| Error::Json { context: format!("{} (`{name}`): its action", context()), source })?;
    let text = |field: &str| s[field].as_str().map(str::to_owned);
    Ok(StepPlan {
        target: text("target"),
        run: text("run"),
        priority: s["priority"].as_i64().unwrap_or_default(),
        action,
        ..StepPlan::script(name, "")
    })
}

/// Reports a finished discovery job: records the planned phases → tasks → steps of the run
/// (the API marks the run `running`, or `success` when there is nothing to run). A failed
/// discovery records nothing.
pub async fn report_discovery(reporter: &dyn RunReporter, run_id: Uuid, result: &JobResult) -> Result<()> {
    if result.status != JobStatus::Completed {
        let message = result
            .error
            .clone()
            .or_else(|| discovery_errors(discovery_document(result)))
            .unwrap_or_else(|| "discovery failed".to_owned());
        tracing::warn!(run = %run_id, job_id = %result.job_id, %message, "discovery failed; recording the run as failed");
        let run = reporter.plan_run(run_id, &RunPlan { phases: Vec::new(), failure: Some(message) }).await?;
        tracing::info!(run = %run_id, status = %run.status, "run recorded");
        return Ok(());
    }
    let plan = plan_from_document(discovery_document(result))?;
    let phases = crate::local::planned_phases(&plan);
    let run = reporter.plan_run(run_id, &RunPlan { phases, failure: None }).await?;
    tracing::info!(run = %run_id, status = %run.status, phases = run.phases.len(), "run plan recorded");
    Ok(())
}

/// Reports a finished task job: the statuses of the task's steps (each `pending → running →`
/// its final status, with exit code, log key and error), then the task's. Steps already in
/// their final status are skipped, so a redelivered result changes nothing. A job that failed
/// without a report (no checkout, no plan) fails the task with the job's error.
pub async fn report_task(
    reporter: &dyn RunReporter,
    run_id: Uuid,
    phase: &str,
    project: &str,
    result: &JobResult,
) -> Result<()> {
    let run = reporter.get_run(run_id).await?;
    let task = run
        .phases
        .iter()
        .filter(|p| p.name == phase)
        .flat_map(|p| &p.tasks)
        .find(|t| t.project.as_str() == project)
        .ok_or_else(|| forge_core::Error::NotFound {
            component: "dispatcher",
            what: format!("task {phase}/{project} in the plan of run {run_id} (was discovery reported?)"),
        })?;
    let report: Option<RunReport> = serde_json::from_value(result.result.clone()).ok();
    let task_report: Option<&TaskReport> = report
        .as_ref()
        .into_iter()
        .flat_map(|r| &r.phases)
        .filter(|p| p.name == phase)
        .flat_map(|p| &p.tasks)
        .find(|t| t.project == project);
    let Some(task_report) = task_report else {
        let update = StatusUpdate {
            status: ExecStatus::Failed,
            exit_code: None,
            log_key: None,
            error: Some(result.error.clone().unwrap_or_else(|| "the task job produced no report".into())),
        };
        if !task.status.is_terminal() {
            reporter.update_task(task.id, &update).await?;
        }
        return Ok(());
    };
    for step in &task.steps {
        match task_report.steps.iter().find(|s| s.name == step.name) {
            Some(sr) => report_step(reporter, run_id, step, sr).await?,
            None => tracing::debug!(run = %run_id, step = %step.name, "step not in the task's report; left as is"),
        }
    }
    if task.status != task_report.status && !task.status.is_terminal() {
        let update = StatusUpdate { status: task_report.status, exit_code: None, log_key: None, error: None };
        match reporter.update_task(task.id, &update).await {
            // The step updates already moved the task (the API aggregates it from its steps).
            Err(forge_core::Error::Conflict { message, .. }) => {
                tracing::debug!(run = %run_id, task = %task.id, %message, "task status already aggregated");
            }
            other => other?,
        }
    }
    Ok(())
}

/// Moves one step to its reported status along legal transitions.
async fn report_step(reporter: &dyn RunReporter, run_id: Uuid, step: &StepExecution, sr: &StepReport) -> Result<()> {
    let target = sr.status;
    if step.status == target {
        return Ok(());
    }
    if step.status.is_terminal() {
        tracing::warn!(step = %step.id, name = %step.name, current = %step.status, reported = %target,
            "step already finished with another status; not changed");
        return Ok(());
    }
    // A step that ran goes through `running` (pending → skipped needs no start).
    let ran = matches!(target, ExecStatus::Success | ExecStatus::Cancelled)
        || (target == ExecStatus::Failed && (sr.exit_code.is_some() || sr.log_key.is_some()));
    if ran && step.status == ExecStatus::Pending && step.status.can_move_to(ExecStatus::Running) {
        let running = StatusUpdate { status: ExecStatus::Running, exit_code: None, log_key: None, error: None };
        match reporter.update_step(step.id, &running).await {
            // Another dispatcher of the same job got there first; the final update decides.
            Err(forge_core::Error::Conflict { .. }) => {}
            other => other?,
        }
    }
    let update =
        StatusUpdate { status: target, exit_code: sr.exit_code, log_key: sr.log_key.clone(), error: sr.error.clone() };
    match reporter.update_step(step.id, &update).await {
        Ok(()) => Ok(()),
        Err(forge_core::Error::Conflict { component, message }) => {
            // Illegal transition: done if a concurrent report already set the same status.
            let now = reporter.get_run(run_id).await?;
            let current = now.phases.iter().flat_map(|p| &p.tasks).flat_map(|t| &t.steps).find(|s| s.id == step.id);
            if current.is_some_and(|s| s.status == target) {
                Ok(())
            } else {
                Err(forge_core::Error::Conflict { component, message }.into())
            }
        }
        Err(e) => Err(e.into()),
    }
}

/// Reports a finished job to the run record when a reporter is configured: discovery → the
/// plan, task → step and task statuses; artifact jobs have nothing to report. Failures are
/// logged, never returned: the result file is the contract for Argo.
pub async fn report(reporter: &dyn RunReporter, req: &DispatchRequest, result: &JobResult) {
    let outcome = match req.kind {
        JobType::Discovery => report_discovery(reporter, req.run_id, result).await,
        JobType::Task => {
            let project = req.project.as_ref().map(ProjectName::as_str).unwrap_or_default();
            report_task(reporter, req.run_id, req.phase.as_deref().unwrap_or_default(), project, result).await
        }
        JobType::Artifact => Ok(()),
    };
    if let Err(e) = outcome {
        tracing::warn!(run = %req.run_id, job_id = %result.job_id, kind = ?req.kind, error = %e,
            "reporting the job to the API failed; the run record may lag (the job result stands)");
    }
}
