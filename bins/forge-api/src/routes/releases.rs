//! Releases.

use std::collections::HashMap;

use axum::Json;
use axum::body::Bytes;
use axum::extract::{Path, Query, State};
use axum::http::StatusCode;
use axum::response::IntoResponse;
use forge_core::auth::Action;
use forge_core::model::{CreateRelease, ReleaseArtifact};
use forge_core::ports::EventType;
use forge_core::{ProjectName, ReleaseStatus};
use serde::Deserialize;

use super::emit;
use crate::AppState;
use crate::auth::require;
use crate::error::{ApiError, FieldError};
use crate::extract::{Caller, parse_body, parse_field, repository};
use crate::openapi::{CreateReleaseBody, ErrorBody, ReleaseDoc, ReleasePageDoc, UpdatePublishingBody};

/// Largest page size.
const MAX_LIMIT: u32 = 100;

/// Records a release (201), or returns the existing one for the triplet (200).
#[utoipa::path(post, path = "/v1/releases", tag = "releases", request_body = CreateReleaseBody,
    responses((status = 201, description = "Created", body = ReleaseDoc), (status = 200, description = "Existing release", body = ReleaseDoc),
        (status = 401, body = ErrorBody), (status = 403, body = ErrorBody), (status = 422, body = ErrorBody),
        (status = 500, body = ErrorBody)))]
pub(crate) async fn create_release(
    State(state): State<AppState>,
    Caller(caller): Caller,
    body: Bytes,
) -> Result<impl IntoResponse, ApiError> {
    require(&caller, Action::CreateRelease)?;
    let req: CreateRelease = parse_body(&body)?;
    validate_release(&req)?;
    let created = state.store.create_release(&req, &caller.subject).await?;
    if created.created {
        emit(&state, EventType::ReleaseCreated, &created.value).await;
    }
    let status = if created.created { StatusCode::CREATED } else { StatusCode::OK };
    Ok((status, Json(created.value)))
}

/// Resolves a release id: alias → number → unique commit-SHA prefix (409 if ambiguous) → 404.
#[utoipa::path(get, path = "/v1/releases/{owner}/{name}/{project}/{release_id}", tag = "releases",
    params(("owner" = String, Path, pattern = r"^[A-Za-z0-9._-]{1,100}$"), ("name" = String, Path, pattern = r"^[A-Za-z0-9._-]{1,100}$"), ("project" = String, Path, pattern = r"^[a-z0-9]([a-z0-9-]{0,61}[a-z0-9])?$"),
        ("release_id" = String, Path, description = "Alias, release number or commit-SHA prefix (≥ 7 hex)")),
    responses((status = 200, description = "The release", body = ReleaseDoc), (status = 401, body = ErrorBody),
        (status = 404, body = ErrorBody), (status = 409, body = ErrorBody), (status = 422, body = ErrorBody),
        (status = 500, body = ErrorBody)))]
pub(crate) async fn get_release(
    State(state): State<AppState>,
    Caller(caller): Caller,
    Path((owner, name, project, release_id)): Path<(String, String, String, String)>,
) -> Result<impl IntoResponse, ApiError> {
    require(&caller, Action::Read)?;
    let repo = repository(&owner, &name)?;
    let project: ProjectName = parse_field("project", &project)?;
    Ok(Json(state.store.get_release(&repo, &project, &release_id).await?))
}

/// Body of `PUT /v1/releases/{owner}/{name}/{project}/{release_id}/publishing`.
#[derive(Debug, Deserialize)]
struct UpdatePublishing {
    artifacts: Vec<ReleaseArtifact>,
    status: ReleaseStatus,
}

/// Records the outcome of a publisher retry on a `partial` release (SPEC §4.3): only failed
/// publisher results may change, and the status must match them (409 otherwise, or when the
/// release is not `partial`).
#[utoipa::path(put, path = "/v1/releases/{owner}/{name}/{project}/{release_id}/publishing", tag = "releases",
    request_body = UpdatePublishingBody,
    params(("owner" = String, Path, pattern = r"^[A-Za-z0-9._-]{1,100}$"), ("name" = String, Path, pattern = r"^[A-Za-z0-9._-]{1,100}$"), ("project" = String, Path, pattern = r"^[a-z0-9]([a-z0-9-]{0,61}[a-z0-9])?$"),
        ("release_id" = String, Path, description = "Alias, release number or commit-SHA prefix (≥ 7 hex)")),
    responses((status = 200, description = "The updated release", body = ReleaseDoc), (status = 401, body = ErrorBody),
        (status = 403, body = ErrorBody), (status = 404, body = ErrorBody), (status = 409, body = ErrorBody),
        (status = 422, body = ErrorBody), (status = 500, body = ErrorBody)))]
pub(crate) async fn update_publishing(
    State(state): State<AppState>,
    Caller(caller): Caller,
    Path((owner, name, project, release_id)): Path<(String, String, String, String)>,
    body: Bytes,
) -> Result<impl IntoResponse, ApiError> {
    require(&caller, Action::CreateRelease)?;
    let repo = repository(&owner, &name)?;
    let project: ProjectName = parse_field("project", &project)?;
    let req: UpdatePublishing = parse_body(&body)?;
    let release = state.store.get_release(&repo, &project, &release_id).await?;
    let updated =
        state.store.update_release_publishing(release.id, &req.artifacts, req.status, &caller.subject).await?;
    Ok(Json(updated))
}

/// Lists the releases of a project, newest first.
#[utoipa::path(get, path = "/v1/releases/{owner}/{name}/{project}", tag = "releases",
    params(("owner" = String, Path, pattern = r"^[A-Za-z0-9._-]{1,100}$"), ("name" = String, Path, pattern = r"^[A-Za-z0-9._-]{1,100}$"), ("project" = String, Path, pattern = r"^[a-z0-9]([a-z0-9-]{0,61}[a-z0-9])?$"),
        ("limit" = Option<u32>, Query, minimum = 1, maximum = 100, description = "Page size, 1..=100 (default 20)"),
        ("offset" = Option<u64>, Query, description = "Offset (default 0)")),
    responses((status = 200, description = "A page", body = ReleasePageDoc), (status = 401, body = ErrorBody),
        (status = 422, body = ErrorBody), (status = 500, body = ErrorBody)))]
pub(crate) async fn list_releases(
    State(state): State<AppState>,
    Caller(caller): Caller,
    Path((owner, name, project)): Path<(String, String, String)>,
    Query(params): Query<HashMap<String, String>>,
) -> Result<impl IntoResponse, ApiError> {
    require(&caller, Action::Read)?;
    let repo = repository(&owner, &name)?;
    let project: ProjectName = parse_field("project", &project)?;
    let mut errors = Vec::new();
    let limit = match params.get("limit").map(|v| v.parse::<u32>()) {
        None => 20,
        Some(Ok(n)) if (1..=MAX_LIMIT).contains(&n) => n,
        Some(_) => {
            errors.push(FieldError {
                field: "limit".into(),
                message: format!("must be an integer from 1 to {MAX_LIMIT}"),
            });
            20
        }
    };
    let offset = match params.get("offset").map(|v| v.parse::<u64>()) {
        None => 0,
        Some(Ok(n)) if n <= i64::MAX as u64 => n,
        Some(_) => {
            errors.push(FieldError { field: "offset".into(), message: "must be a non-negative integer".into() });
            0
        }
    };
    if !errors.is_empty() {
        return Err(ApiError::Validation(errors));
    }
    Ok(Json(state.store.list_releases(&repo, &project, limit, offset).await?))
}

/// Checks what the types do not: alias values and trigger names (usable in a URL segment).
fn validate_release(req: &CreateRelease) -> Result<(), ApiError> {
    let mut errors = Vec::new();
    let ok_segment = |s: &str| {
        !s.is_empty() && s.len() <= 128 && s.chars().all(|c| c.is_ascii_alphanumeric() || matches!(c, '.' | '_' | '-'))
    };
    for (i, a) in req.aliases.iter().enumerate() {
        if !ok_segment(&a.alias) {
            errors.push(FieldError {
                field: format!("aliases[{i}].alias"),
                message: "must be 1 to 128 characters of A-Z, a-z, 0-9, `.`, `_` and `-`".into(),
            });
        } else if a.kind == forge_core::model::AliasKind::Custom && a.alias.bytes().all(|b| b.is_ascii_digit()) {
            errors.push(FieldError {
                field: format!("aliases[{i}].alias"),
                message: "a custom alias must not be a number (numbers name releases)".into(),
            });
        }
    }
    let name_ok = |s: &str| !s.is_empty() && s.len() <= 255 && !s.chars().any(|c| c.is_control() || c == ' ');
    if req.trigger.branch.as_deref().is_some_and(|b| !name_ok(b)) {
        errors.push(FieldError { field: "trigger.branch".into(), message: "must be a git branch name".into() });
    }
    if req.trigger.tag.as_deref().is_some_and(|t| !name_ok(t)) {
        errors.push(FieldError { field: "trigger.tag".into(), message: "must be a git tag name".into() });
    }
    if req.trigger.actor.trim().is_empty() {
        errors.push(FieldError { field: "trigger.actor".into(), message: "must not be empty".into() });
    }
    if errors.is_empty() { Ok(()) } else { Err(ApiError::Validation(errors)) }
}
