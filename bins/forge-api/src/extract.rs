//! Request extraction: the authenticated caller, bodies with field-level errors, path values.

use std::str::FromStr;

use axum::extract::FromRequestParts;
use axum::http::header;
use axum::http::request::Parts;
use forge_core::ports::Principal;
use serde::de::DeserializeOwned;

use crate::AppState;
use crate::error::{ApiError, FieldError};

/// The authenticated caller of a `/v1` route.
#[derive(Debug, Clone)]
pub(crate) struct Caller(pub(crate) Principal);

impl FromRequestParts<AppState> for Caller {
    type Rejection = ApiError;

    async fn from_request_parts(parts: &mut Parts, state: &AppState) -> Result<Self, Self::Rejection> {
        let value = parts
            .headers
            .get(header::AUTHORIZATION)
            .ok_or_else(|| ApiError::Unauthenticated("no Authorization header".into()))?;
        let value = value.to_str().map_err(|_| ApiError::Unauthenticated("malformed Authorization header".into()))?;
        let token = value
            .strip_prefix("Bearer ")
            .or_else(|| value.strip_prefix("bearer "))
            .map(str::trim)
            .filter(|t| !t.is_empty())
            .ok_or_else(|| ApiError::Unauthenticated("the Authorization header is not a bearer token".into()))?;
        match state.identity.authenticate(token).await {
            Ok(p) => Ok(Caller(p)),
            Err(forge_core::Error::Unauthorized { message, .. }) => Err(ApiError::Unauthenticated(message)),
            Err(e @ forge_core::Error::Transient { .. }) => Err(ApiError::Internal(e)),
            Err(e) => Err(ApiError::Unauthenticated(e.to_string())),
        }
    }
}

/// Parses a JSON body, reporting the failing field path.
pub(crate) fn parse_body<T: DeserializeOwned>(body: &[u8]) -> Result<T, ApiError> {
    if body.is_empty() {
        return Err(ApiError::field("body", "a JSON object body is required"));
    }
    let mut de = serde_json::Deserializer::from_slice(body);
    let value: T = serde_path_to_error::deserialize(&mut de).map_err(|e| {
        let path = e.path().to_string();
        let field = if path == "." { "body".to_owned() } else { path };
        let inner = e.into_inner();
        // serde_json appends " at line L column C"; keep the message itself.
        let msg = inner.to_string();
        let msg = msg.split(" at line ").next().unwrap_or(&msg).to_owned();
        ApiError::Validation(vec![FieldError { field, message: msg }])
    })?;
    de.end().map_err(|_| ApiError::field("body", "trailing characters after the JSON value"))?;
    Ok(value)
}

/// Parses a path or query value with `FromStr`, naming the field on failure.
pub(crate) fn parse_field<T>(field: &str, value: &str) -> Result<T, ApiError>
where
    T: FromStr,
    T::Err: std::fmt::Display,
{
    value.parse::<T>().map_err(|e| ApiError::field(field, e.to_string()))
}

/// A repository from `{owner}/{name}` path segments.
pub(crate) fn repository(owner: &str, name: &str) -> Result<forge_core::Repository, ApiError> {
    forge_core::Repository::new(owner, name).map_err(|e| ApiError::field("repository", e.to_string()))
}
