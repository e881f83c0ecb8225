//! Runs, task and step statuses, jobs.

use axum::Json;
use axum::body::Bytes;
use axum::extract::{Path, State};
use axum::http::StatusCode;
use axum::response::IntoResponse;
use forge_core::auth::Action;
use forge_core::model::{CreateRun, PhaseExecution, RunPlan, StatusUpdate};
use forge_core::ports::EventType;
use forge_core::{ExecStatus, RunStatus, StatusMachine};
use serde_json::json;
use uuid::Uuid;

use super::emit;
use crate::AppState;
use crate::auth::require;
use crate::error::ApiError;
use crate::extract::{Caller, parse_body, parse_field};
use crate::openapi::{CreateRunBody, ErrorBody, JobsDoc, RunDoc, RunPlanBody, StatusChangeDoc, StatusUpdateBody};

/// Creates a run (201), or returns the existing run of (repository, commit) (200) unless `rerun`.
#[utoipa::path(post, path = "/v1/runs", tag = "runs", request_body = CreateRunBody,
    responses((status = 201, description = "Created", body = RunDoc), (status = 200, description = "Existing run", body = RunDoc),
        (status = 401, body = ErrorBody), (status = 403, body = ErrorBody), (status = 422, body = ErrorBody),
        (status = 429, body = ErrorBody), (status = 500, body = ErrorBody)))]
pub(crate) async fn create_run(
    State(state): State<AppState>,
    Caller(caller): Caller,
    body: Bytes,
) -> Result<impl IntoResponse, ApiError> {
    require(&caller, Action::CreateRun)?;
    let req: CreateRun = parse_body(&body)?;
    state.limits.run_created(&req.repository.to_string())?;
    let created = state.store.create_run(&req, &caller.subject).await?;
    if created.created {
        if let Some(engine) = &state.workflows {
            // A run whose pipeline cannot start is cancelled, not left pending.
            match engine.submit(&created.value).await {
                Ok(handle) => tracing::info!(run = %created.value.id, %handle, "pipeline submitted"),
                Err(e) => {
                    tracing::error!(run = %created.value.id, error = %e, "submitting the pipeline failed; cancelling the run");
                    let _ = state.store.cancel_run(created.value.id, "forge-api").await;
                    return Err(ApiError::Internal(e));
                }
            }
        }
        emit(&state, EventType::RunCreated, &created.value).await;
        if let Some(n) = &state.statuses {
            n.created(&created.value);
        }
    }
    let status = if created.created { StatusCode::CREATED } else { StatusCode::OK };
    Ok((status, Json(created.value)))
}

/// Reads a run with its phases, tasks and steps.
#[utoipa::path(get, path = "/v1/runs/{id}", tag = "runs", params(("id" = String, Path, pattern = r"^[0-9a-fA-F]{8}-[0-9a-fA-F]{4}-[0-9a-fA-F]{4}-[0-9a-fA-F]{4}-[0-9a-fA-F]{12}$", description = "Run id (UUID)")),
    responses((status = 200, description = "The run", body = RunDoc), (status = 401, body = ErrorBody),
        (status = 404, body = ErrorBody), (status = 422, body = ErrorBody), (status = 500, body = ErrorBody)))]
pub(crate) async fn get_run(
    State(state): State<AppState>,
    Caller(caller): Caller,
    Path(id): Path<String>,
) -> Result<impl IntoResponse, ApiError> {
    require(&caller, Action::Read)?;
    let id: Uuid = parse_field("id", &id)?;
    Ok(Json(state.store.get_run(id).await?))
}

/// Cancels a run (204).
#[utoipa::path(delete, path = "/v1/runs/{id}", tag = "runs", params(("id" = String, Path, pattern = r"^[0-9a-fA-F]{8}-[0-9a-fA-F]{4}-[0-9a-fA-F]{4}-[0-9a-fA-F]{4}-[0-9a-fA-F]{12}$", description = "Run id (UUID)")),
    responses((status = 204, description = "Cancelled"), (status = 401, body = ErrorBody), (status = 403, body = ErrorBody),
        (status = 404, body = ErrorBody), (status = 409, body = ErrorBody), (status = 422, body = ErrorBody),
        (status = 500, body = ErrorBody)))]
pub(crate) async fn cancel_run(
    State(state): State<AppState>,
    Caller(caller): Caller,
    Path(id): Path<String>,
) -> Result<impl IntoResponse, ApiError> {
    require(&caller, Action::CancelRun)?;
    let id: Uuid = parse_field("id", &id)?;
    let run = state.store.cancel_run(id, &caller.subject).await?;
    if let Some(engine) = &state.workflows
        && let Err(e) = engine.cancel(&run).await
    {
        tracing::warn!(run = %run.id, error = %e, "stopping the pipeline failed; the run is cancelled");
    }
    emit(&state, EventType::RunCompleted, &json!({ "id": run.id, "status": run.status })).await;
    if let Some(n) = &state.statuses {
        n.finished(&run);
    }
    Ok(StatusCode::NO_CONTENT)
}

/// Records the planned phases → tasks → steps of a run once discovery is done, and marks the
/// run `running` (`success` when the plan is empty: nothing to do). Idempotent: a run that
/// already has phases is returned unchanged (200), so a retried dispatcher never duplicates
/// the plan. 409 when the run has no plan and is terminal (cancelled). With `failure` (and no
/// phases) discovery failed: the run is recorded `failed` (idempotent too).
#[utoipa::path(put, path = "/v1/runs/{id}/plan", tag = "runs", request_body = RunPlanBody,
    params(("id" = String, Path, pattern = r"^[0-9a-fA-F]{8}-[0-9a-fA-F]{4}-[0-9a-fA-F]{4}-[0-9a-fA-F]{4}-[0-9a-fA-F]{12}$", description = "Run id (UUID)")),
    responses((status = 200, description = "The planned run (or the existing plan)", body = RunDoc), (status = 401, body = ErrorBody),
        (status = 403, body = ErrorBody), (status = 404, body = ErrorBody), (status = 409, body = ErrorBody),
        (status = 422, body = ErrorBody), (status = 500, body = ErrorBody)))]
pub(crate) async fn plan_run(
    State(state): State<AppState>,
    Caller(caller): Caller,
    Path(id): Path<String>,
    body: Bytes,
) -> Result<impl IntoResponse, ApiError> {
    require(&caller, Action::UpdateStatus)?;
    let id: Uuid = parse_field("id", &id)?;
    let plan: RunPlan = parse_body(&body)?;
    check_plan(&plan.phases)?;
    if plan.failure.is_some() && !plan.phases.is_empty() {
        return Err(ApiError::field("failure", "a failed discovery has no phases: send `phases: []` with `failure`"));
    }
    let run = state.store.get_run(id).await?;
    if !run.phases.is_empty() || (plan.failure.is_some() && run.status == RunStatus::Failed) {
        return Ok(Json(run));
    }
    if run.status.is_terminal() {
        return Err(ApiError::Conflict(format!(
            "run {id} is {} and has no plan; a finished run cannot be planned (start a new run with `rerun`)",
            run.status
        )));
    }
    let now = chrono::Utc::now();
    let mut planned = run;
    planned.phases = plan.phases.into_iter().map(fresh_phase).collect();
    planned.started_at = planned.started_at.or(Some(now));
    // A failed discovery fails the run with nothing planned; an empty plan has nothing to do.
    planned.status = match (&plan.failure, planned.phases.is_empty()) {
        (Some(_), _) => RunStatus::Failed,
        (None, true) => RunStatus::Success,
        (None, false) => RunStatus::Running,
    };
    let completed = planned.status.is_terminal();
    planned.finished_at = completed.then_some(now);
    // The audit record names the caller (the stored run keeps its creator).
    planned.actor = caller.subject.clone();
    state.store.save_run(&planned).await?;
    if let Some(failure) = &plan.failure {
        tracing::warn!(run = %id, %failure, "discovery failed; run recorded as failed");
    }
    if completed {
        let mut event = json!({ "id": planned.id, "status": planned.status });
        if let Some(failure) = &plan.failure {
            event["error"] = json!(failure);
        }
        emit(&state, EventType::RunCompleted, &event).await;
    }
    let saved = state.store.get_run(id).await?;
    if let Some(n) = &state.statuses {
        if plan.failure.is_some() { n.finished(&saved) } else { n.planned(&saved) }
    }
    Ok(Json(saved))
}

/// Names must be present and unique where the dispatchers look them up: phases by name, tasks
/// by project within a phase, steps by name within a task.
fn check_plan(phases: &[PhaseExecution]) -> Result<(), ApiError> {
    let mut phase_names = std::collections::HashSet::new();
    for (pi, phase) in phases.iter().enumerate() {
        if phase.name.trim().is_empty() {
            return Err(ApiError::field(format!("phases[{pi}].name"), "a phase needs a name"));
        }
        if !phase_names.insert(phase.name.as_str()) {
            return Err(ApiError::field(
                format!("phases[{pi}].name"),
                format!("phase `{}` appears twice; list each phase once", phase.name),
            ));
        }
        let mut projects = std::collections::HashSet::new();
        for (ti, task) in phase.tasks.iter().enumerate() {
            if !projects.insert(task.project.as_str()) {
                return Err(ApiError::field(
                    format!("phases[{pi}].tasks[{ti}].project"),
                    format!("project `{}` appears twice in phase `{}`; one task per project", task.project, phase.name),
                ));
            }
            let mut steps = std::collections::HashSet::new();
            for (si, step) in task.steps.iter().enumerate() {
                let field = format!("phases[{pi}].tasks[{ti}].steps[{si}].name");
                if step.name.trim().is_empty() {
                    return Err(ApiError::field(field, "a step needs a name"));
                }
                if !steps.insert(step.name.as_str()) {
                    return Err(ApiError::field(
                        field,
                        format!("step `{}` appears twice in task `{}/{}`", step.name, phase.name, task.project),
                    ));
                }
            }
        }
    }
    Ok(())
}

/// A planned phase as the server records it: new ids, everything `pending`, no results.
fn fresh_phase(mut phase: PhaseExecution) -> PhaseExecution {
    phase.id = Uuid::new_v4();
    phase.status = ExecStatus::Pending;
    phase.started_at = None;
    phase.finished_at = None;
    for task in &mut phase.tasks {
        task.id = Uuid::new_v4();
        task.status = ExecStatus::Pending;
        task.started_at = None;
        task.finished_at = None;
        for step in &mut task.steps {
            step.id = Uuid::new_v4();
            step.status = ExecStatus::Pending;
            step.exit_code = None;
            step.log_key = None;
            step.error = None;
            step.started_at = None;
            step.finished_at = None;
        }
    }
    phase
}

async fn update(
    state: AppState,
    caller: forge_core::ports::Principal,
    id: String,
    body: Bytes,
    step: bool,
) -> Result<Json<serde_json::Value>, ApiError> {
    require(&caller, Action::UpdateStatus)?;
    let id: Uuid = parse_field("id", &id)?;
    let update: StatusUpdate = parse_body(&body)?;
    let change = if step {
        state.store.update_step_status(id, &update, &caller.subject).await?
    } else {
        state.store.update_task_status(id, &update, &caller.subject).await?
    };
    if change.run_completed {
        emit(&state, EventType::RunCompleted, &json!({ "id": change.run_id, "status": change.run_status })).await;
    }
    if let Some(n) = &state.statuses {
        n.progressed(change);
    }
    Ok(Json(json!({ "run_id": change.run_id, "run_status": change.run_status, "run_completed": change.run_completed })))
}

/// Updates a task's status (legal transitions only; 409 otherwise).
#[utoipa::path(put, path = "/v1/tasks/{id}/status", tag = "runs", request_body = StatusUpdateBody,
    params(("id" = String, Path, pattern = r"^[0-9a-fA-F]{8}-[0-9a-fA-F]{4}-[0-9a-fA-F]{4}-[0-9a-fA-F]{4}-[0-9a-fA-F]{12}$", description = "Task id (UUID)")),
    responses((status = 200, description = "Updated", body = StatusChangeDoc), (status = 401, body = ErrorBody),
        (status = 403, body = ErrorBody), (status = 404, body = ErrorBody), (status = 409, body = ErrorBody),
        (status = 422, body = ErrorBody), (status = 500, body = ErrorBody)))]
pub(crate) async fn update_task(
    State(state): State<AppState>,
    Caller(caller): Caller,
    Path(id): Path<String>,
    body: Bytes,
) -> Result<impl IntoResponse, ApiError> {
    update(state, caller, id, body, false).await
}

/// Updates a step's status (legal transitions only; 409 otherwise).
#[utoipa::path(put, path = "/v1/steps/{id}/status", tag = "runs", request_body = StatusUpdateBody,
    params(("id" = String, Path, pattern = r"^[0-9a-fA-F]{8}-[0-9a-fA-F]{4}-[0-9a-fA-F]{4}-[0-9a-fA-F]{4}-[0-9a-fA-F]{12}$", description = "Step id (UUID)")),
    responses((status = 200, description = "Updated", body = StatusChangeDoc), (status = 401, body = ErrorBody),
        (status = 403, body = ErrorBody), (status = 404, body = ErrorBody), (status = 409, body = ErrorBody),
        (status = 422, body = ErrorBody), (status = 500, body = ErrorBody)))]
pub(crate) async fn update_step(
    State(state): State<AppState>,
    Caller(caller): Caller,
    Path(id): Path<String>,
    body: Bytes,
) -> Result<impl IntoResponse, ApiError> {
    update(state, caller, id, body, true).await
}

/// Jobs of a run (records expire after 7 days).
#[utoipa::path(get, path = "/v1/jobs/{run_id}", tag = "runs", params(("run_id" = String, Path, pattern = r"^[0-9a-fA-F]{8}-[0-9a-fA-F]{4}-[0-9a-fA-F]{4}-[0-9a-fA-F]{4}-[0-9a-fA-F]{12}$", description = "Run id (UUID)")),
    responses((status = 200, description = "Jobs", body = JobsDoc), (status = 401, body = ErrorBody),
        (status = 404, body = ErrorBody), (status = 422, body = ErrorBody), (status = 500, body = ErrorBody)))]
pub(crate) async fn jobs(
    State(state): State<AppState>,
    Caller(caller): Caller,
    Path(run_id): Path<String>,
) -> Result<impl IntoResponse, ApiError> {
    require(&caller, Action::Read)?;
    let run_id: Uuid = parse_field("run_id", &run_id)?;
    state.store.get_run(run_id).await?;
    Ok(Json(json!({ "jobs": state.store.jobs_for_run(run_id).await? })))
}
