//! Runs, task and step statuses, jobs.

use axum::Json;
use axum::body::Bytes;
use axum::extract::{Path, State};
use axum::http::StatusCode;
use axum::response::IntoResponse;
use forge_core::auth::Action;
use forge_core::model::{CreateRun, StatusUpdate};
use forge_core::ports::EventType;
use serde_json::json;
use uuid::Uuid;

use super::emit;
use crate::AppState;
use crate::auth::require;
use crate::error::ApiError;
use crate::extract::{Caller, parse_body, parse_field};
use crate::openapi::{CreateRunBody, ErrorBody, JobsDoc, RunDoc, StatusChangeDoc, StatusUpdateBody};

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
    Ok(StatusCode::NO_CONTENT)
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
