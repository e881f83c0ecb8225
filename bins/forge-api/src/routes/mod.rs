//! The routes of SPEC §9.

pub(crate) mod deployments;
pub(crate) mod ops;
pub(crate) mod releases;
pub(crate) mod runs;

use axum::Router;
use axum::routing::{get, post, put};
use chrono::Utc;
use forge_core::ports::{Event, EventType};
use serde::Serialize;

use crate::AppState;
use crate::error::ApiError;

/// 401/403/422/429/500 responses every authenticated route may return (for the document).
pub(crate) fn router(state: AppState) -> Router {
    let v1 = Router::new()
        .route("/runs", post(runs::create_run))
        .route("/runs/{id}", get(runs::get_run).delete(runs::cancel_run))
        .route("/runs/{id}/plan", put(runs::plan_run))
        .route("/tasks/{id}/status", put(runs::update_task))
        .route("/steps/{id}/status", put(runs::update_step))
        .route("/jobs/{run_id}", get(runs::jobs))
        .route("/releases", post(releases::create_release))
        .route("/releases/{owner}/{name}/{project}", get(releases::list_releases))
        .route("/releases/{owner}/{name}/{project}/{release_id}", get(releases::get_release))
        .route("/releases/{owner}/{name}/{project}/{release_id}/publishing", put(releases::update_publishing))
        .route("/deployments", post(deployments::create_deployment))
        .route("/deployments/{env}/{owner}/{name}/{project}", get(deployments::list_deployments))
        .route("/approvals", post(deployments::create_approval))
        .route("/approvals/{release_id}/{env}", get(deployments::list_approvals))
        .route("/repositories", post(deployments::register_repository));
    Router::new()
        .nest("/v1", v1)
        .route("/healthz", get(ops::healthz))
        .route("/readyz", get(ops::readyz))
        .route("/metrics", get(ops::metrics))
        .route("/openapi.json", get(ops::openapi))
        .fallback(not_found)
        .layer(axum::middleware::from_fn_with_state(state.metrics.clone(), crate::metrics::track))
        .with_state(state)
}

async fn not_found() -> ApiError {
    ApiError::NotFound("no such route; see /openapi.json".into())
}

/// Emits an event; sink failures are logged, never returned.
pub(crate) async fn emit(state: &AppState, kind: EventType, data: &impl Serialize) {
    let event = Event { kind, time: Utc::now(), data: serde_json::to_value(data).unwrap_or_default() };
    if let Err(e) = state.events.emit(&event).await {
        tracing::warn!(error = %e, "event sink failed");
    }
}
