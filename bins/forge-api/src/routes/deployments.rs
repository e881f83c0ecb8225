//! Deployments, approvals and repositories.

use axum::Json;
use axum::body::Bytes;
use axum::extract::{Path, State};
use axum::http::StatusCode;
use axum::response::IntoResponse;
use forge_core::auth::Action;
use forge_core::model::{CreateApproval, CreateDeployment, RegisterRepository};
use forge_core::ports::EventType;
use forge_core::{Environment, ProjectName};
use serde_json::json;
use uuid::Uuid;

use super::emit;
use crate::AppState;
use crate::auth::require;
use crate::error::ApiError;
use crate::extract::{Caller, parse_body, parse_field, repository};
use crate::openapi::{
    ApprovalDoc, ApprovalsDoc, CreateApprovalBody, CreateDeploymentBody, DeploymentDoc, DeploymentsDoc, ErrorBody,
    RegisterRepositoryBody, RepositoryDoc,
};

/// Deploys a release (or rolls back): policy, approval, pointer commit, record (201).
#[utoipa::path(post, path = "/v1/deployments", tag = "deployments", request_body = CreateDeploymentBody,
    responses((status = 201, description = "Deployed", body = DeploymentDoc), (status = 401, body = ErrorBody),
        (status = 403, description = "Role or policy refused", body = ErrorBody), (status = 404, body = ErrorBody),
        (status = 409, body = ErrorBody), (status = 422, body = ErrorBody), (status = 429, body = ErrorBody),
        (status = 500, body = ErrorBody)))]
pub(crate) async fn create_deployment(
    State(state): State<AppState>,
    Caller(caller): Caller,
    body: Bytes,
) -> Result<impl IntoResponse, ApiError> {
    // The permission depends on the environment, so the body is read first.
    let req: CreateDeployment = match parse_body(&body) {
        Ok(r) => r,
        Err(e) => {
            require(&caller, Action::DeployDev).or_else(|_| require(&caller, Action::DeployOther))?;
            return Err(e);
        }
    };
    require(&caller, Action::deploy_to(req.environment.as_str()))?;
    state.limits.deployment(req.environment.as_str())?;
    let deployment = state.deployer.deploy(&req, &caller).await?;
    emit(&state, EventType::DeploymentCreated, &deployment).await;
    Ok((StatusCode::CREATED, Json(deployment)))
}

/// Deployment history of a project in an environment, newest first.
#[utoipa::path(get, path = "/v1/deployments/{env}/{owner}/{name}/{project}", tag = "deployments",
    params(("env" = String, Path, pattern = r"^[a-z0-9]([a-z0-9-]{0,61}[a-z0-9])?$"), ("owner" = String, Path, pattern = r"^[A-Za-z0-9._-]{1,100}$"), ("name" = String, Path, pattern = r"^[A-Za-z0-9._-]{1,100}$"), ("project" = String, Path, pattern = r"^[a-z0-9]([a-z0-9-]{0,61}[a-z0-9])?$")),
    responses((status = 200, description = "History", body = DeploymentsDoc), (status = 401, body = ErrorBody),
        (status = 422, body = ErrorBody), (status = 500, body = ErrorBody)))]
pub(crate) async fn list_deployments(
    State(state): State<AppState>,
    Caller(caller): Caller,
    Path((env, owner, name, project)): Path<(String, String, String, String)>,
) -> Result<impl IntoResponse, ApiError> {
    require(&caller, Action::Read)?;
    let env: Environment = parse_field("env", &env)?;
    let repo = repository(&owner, &name)?;
    let project: ProjectName = parse_field("project", &project)?;
    Ok(Json(json!({ "deployments": state.store.list_deployments(&repo, &project, &env).await? })))
}

/// Approves a release for an environment (expires after 24 h).
#[utoipa::path(post, path = "/v1/approvals", tag = "approvals", request_body = CreateApprovalBody,
    responses((status = 201, description = "Approved", body = ApprovalDoc), (status = 401, body = ErrorBody),
        (status = 403, body = ErrorBody), (status = 404, body = ErrorBody), (status = 409, body = ErrorBody),
        (status = 422, body = ErrorBody), (status = 500, body = ErrorBody)))]
pub(crate) async fn create_approval(
    State(state): State<AppState>,
    Caller(caller): Caller,
    body: Bytes,
) -> Result<impl IntoResponse, ApiError> {
    require(&caller, Action::CreateApproval)?;
    let req: CreateApproval = parse_body(&body)?;
    let release = state.store.get_release(&req.repository, &req.project, &req.release).await?;
    let approval = state.store.create_approval(&req, &release, &caller.subject).await?;
    Ok((StatusCode::CREATED, Json(approval)))
}

/// Approvals of a release (by id) for an environment.
#[utoipa::path(get, path = "/v1/approvals/{release_id}/{env}", tag = "approvals",
    params(("release_id" = String, Path, pattern = r"^[0-9a-fA-F]{8}-[0-9a-fA-F]{4}-[0-9a-fA-F]{4}-[0-9a-fA-F]{4}-[0-9a-fA-F]{12}$", description = "Release id (UUID)"), ("env" = String, Path, pattern = r"^[a-z0-9]([a-z0-9-]{0,61}[a-z0-9])?$")),
    responses((status = 200, description = "Approvals", body = ApprovalsDoc), (status = 401, body = ErrorBody),
        (status = 422, body = ErrorBody), (status = 500, body = ErrorBody)))]
pub(crate) async fn list_approvals(
    State(state): State<AppState>,
    Caller(caller): Caller,
    Path((release_id, env)): Path<(String, String)>,
) -> Result<impl IntoResponse, ApiError> {
    require(&caller, Action::Read)?;
    let release_id: Uuid = parse_field("release_id", &release_id)?;
    let env: Environment = parse_field("env", &env)?;
    Ok(Json(json!({ "approvals": state.store.approvals(release_id, &env).await? })))
}

/// Registers a repository (201; 200 if already registered).
#[utoipa::path(post, path = "/v1/repositories", tag = "repositories", request_body = RegisterRepositoryBody,
    responses((status = 201, description = "Registered", body = RepositoryDoc), (status = 200, description = "Already registered", body = RepositoryDoc),
        (status = 401, body = ErrorBody), (status = 403, body = ErrorBody), (status = 422, body = ErrorBody),
        (status = 500, body = ErrorBody)))]
pub(crate) async fn register_repository(
    State(state): State<AppState>,
    Caller(caller): Caller,
    body: Bytes,
) -> Result<impl IntoResponse, ApiError> {
    require(&caller, Action::RegisterRepository)?;
    let req: RegisterRepository = parse_body(&body)?;
    let created = state.store.register_repository(&req, &caller.subject).await?;
    let status = if created.created { StatusCode::CREATED } else { StatusCode::OK };
    Ok((status, Json(json!({ "repository": created.value }))))
}
