//! [`ApiError`]: the one error type of the API, rendered as `{"error":{"code","message","details"}}`.

use axum::Json;
use axum::http::{HeaderValue, StatusCode, header};
use axum::response::{IntoResponse, Response};
use forge_core::ErrorCode;
use serde::Serialize;
use serde_json::{Value, json};

/// An API error: a SPEC §9 code, a message safe to show, and structured details.
#[derive(Debug, thiserror::Error)]
pub enum ApiError {
    /// No or invalid credentials (401).
    #[error("authentication required: {0}")]
    Unauthenticated(String),
    /// Authenticated but not allowed (403), with details (the refused rule).
    #[error("permission denied: {message}")]
    Forbidden {
        /// What was refused.
        message: String,
        /// Structured details (rule, role, action).
        details: Value,
    },
    /// Missing entity (404).
    #[error("not found: {0}")]
    NotFound(String),
    /// Conflict (409).
    #[error("conflict: {0}")]
    Conflict(String),
    /// Field-level validation failures (422).
    #[error("validation failed: {}", .0.iter().map(|f| format!("{}: {}", f.field, f.message)).collect::<Vec<_>>().join("; "))]
    Validation(Vec<FieldError>),
    /// Rate limit exceeded (429), with the seconds to wait.
    #[error("rate limit exceeded for {scope}; retry after {retry_after} s")]
    RateLimited {
        /// What was limited (`runs:acme/shop`).
        scope: String,
        /// Seconds until a request would be accepted.
        retry_after: u64,
    },
    /// Anything else (500): the cause is logged, never returned.
    #[error("internal error: {0}")]
    Internal(#[source] forge_core::Error),
}

/// One invalid field.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct FieldError {
    /// Field path (`trigger.type`, `limit`).
    pub field: String,
    /// What is wrong and what to do.
    pub message: String,
}

impl ApiError {
    /// A single-field validation error.
    pub fn field(field: impl Into<String>, message: impl Into<String>) -> Self {
        Self::Validation(vec![FieldError { field: field.into(), message: message.into() }])
    }

    /// The SPEC §9 code.
    pub fn code(&self) -> ErrorCode {
        match self {
            Self::Unauthenticated(_) => ErrorCode::AuthenticationRequired,
            Self::Forbidden { .. } => ErrorCode::PermissionDenied,
            Self::NotFound(_) => ErrorCode::NotFound,
            Self::Conflict(_) => ErrorCode::Conflict,
            Self::Validation(_) => ErrorCode::ValidationError,
            Self::RateLimited { .. } => ErrorCode::RateLimited,
            Self::Internal(_) => ErrorCode::InternalError,
        }
    }

    /// The HTTP status.
    pub fn status(&self) -> StatusCode {
        match self.code() {
            ErrorCode::AuthenticationRequired => StatusCode::UNAUTHORIZED,
            ErrorCode::PermissionDenied => StatusCode::FORBIDDEN,
            ErrorCode::NotFound => StatusCode::NOT_FOUND,
            ErrorCode::Conflict => StatusCode::CONFLICT,
            ErrorCode::ValidationError => StatusCode::UNPROCESSABLE_ENTITY,
            ErrorCode::RateLimited => StatusCode::TOO_MANY_REQUESTS,
            ErrorCode::InternalError => StatusCode::INTERNAL_SERVER_ERROR,
        }
    }

    fn message_and_details(&self) -> (String, Value) {
        match self {
            Self::Unauthenticated(m) => {
                (format!("{m}; send `Authorization: Bearer <token>` with a valid token"), Value::Null)
            }
            Self::Forbidden { message, details } => (message.clone(), details.clone()),
            Self::NotFound(m) | Self::Conflict(m) => (m.clone(), Value::Null),
            Self::Validation(fields) => {
                ("the request is invalid; fix the listed fields and retry".to_owned(), json!({ "fields": fields }))
            }
            Self::RateLimited { scope, retry_after } => (
                format!("too many requests for {scope}; retry after {retry_after} seconds"),
                json!({ "scope": scope, "retry_after": retry_after }),
            ),
            Self::Internal(_) => {
                ("an internal error occurred; retry later or contact the operators".to_owned(), Value::Null)
            }
        }
    }
}

impl From<forge_core::Error> for ApiError {
    fn from(e: forge_core::Error) -> Self {
        use forge_core::Error as E;
        match e {
            E::NotFound { .. } => Self::NotFound(e.to_string()),
            E::AlreadyExists { .. } | E::Conflict { .. } => Self::Conflict(e.to_string()),
            E::Unauthorized { message, .. } => Self::Unauthenticated(message),
            E::PermissionDenied { ref message, .. } => {
                Self::Forbidden { message: message.clone(), details: Value::Null }
            }
            E::Validation { field, message, .. } => Self::Validation(vec![FieldError { field, message }]),
            other => Self::Internal(other),
        }
    }
}

impl IntoResponse for ApiError {
    fn into_response(self) -> Response {
        if let Self::Internal(e) = &self {
            let mut chain = e.to_string();
            let mut src = std::error::Error::source(e);
            while let Some(s) = src {
                chain.push_str(": ");
                chain.push_str(&s.to_string());
                src = s.source();
            }
            tracing::error!(component = e.component(), error = %chain, "internal error");
        } else {
            tracing::debug!(error = %self, "request refused");
        }
        let (message, details) = self.message_and_details();
        let body = json!({ "error": { "code": self.code().as_str(), "message": message, "details": details } });
        let mut resp = (self.status(), Json(body)).into_response();
        if let Self::RateLimited { retry_after, .. } = &self
            && let Ok(v) = HeaderValue::from_str(&retry_after.to_string())
        {
            resp.headers_mut().insert(header::RETRY_AFTER, v);
        }
        resp
    }
}
