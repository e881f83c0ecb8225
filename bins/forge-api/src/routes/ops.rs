//! `/healthz`, `/readyz`, `/metrics`, `/openapi.json`.

use axum::Json;
use axum::extract::State;
use axum::http::{StatusCode, header};
use axum::response::IntoResponse;
use serde_json::json;

use crate::AppState;

/// Liveness.
#[utoipa::path(get, path = "/healthz", security(()), tag = "ops",
    responses((status = 200, description = "The process is up", body = crate::openapi::HealthDoc)))]
pub(crate) async fn healthz() -> impl IntoResponse {
    Json(json!({ "status": "ok" }))
}

/// Readiness: the database answers.
#[utoipa::path(get, path = "/readyz", security(()), tag = "ops",
    responses((status = 200, description = "Ready", body = crate::openapi::HealthDoc),
              (status = 503, description = "The database is unreachable", body = crate::openapi::HealthDoc)))]
pub(crate) async fn readyz(State(state): State<AppState>) -> impl IntoResponse {
    match state.store.ping().await {
        Ok(()) => (StatusCode::OK, Json(json!({ "status": "ok" }))),
        Err(e) => {
            tracing::warn!(error = %e, "readiness check failed");
            (StatusCode::SERVICE_UNAVAILABLE, Json(json!({ "status": "unavailable" })))
        }
    }
}

/// Prometheus metrics.
#[utoipa::path(get, path = "/metrics", security(()), tag = "ops",
    responses((status = 200, description = "Prometheus text format", body = String, content_type = "text/plain")))]
pub(crate) async fn metrics(State(state): State<AppState>) -> impl IntoResponse {
    ([(header::CONTENT_TYPE, "text/plain; version=0.0.4")], state.metrics.render())
}

/// The OpenAPI document.
pub(crate) async fn openapi() -> impl IntoResponse {
    Json(crate::openapi::document())
}
