//! The control plane's one error type and the only place its errors become HTTP:
//! `{"error":{"code":"<stable_machine_code>","message":"<for humans>"}}`.

use axum::Json;
use axum::http::StatusCode;
use axum::response::{IntoResponse, Response};
use serde::{Deserialize, Serialize};

use crate::engine::EngineError;

/// Errors of control-plane requests.
#[derive(Debug, thiserror::Error)]
pub enum ControlError {
    /// The body is not JSON, or not the JSON expected.
    #[error("{0}")]
    InvalidBody(String),
    /// A field has a bad value.
    #[error("invalid `{field}`: {message}")]
    InvalidField {
        /// The field.
        field: String,
        /// What is wrong.
        message: String,
    },
    /// Missing or wrong bearer token.
    #[error("this control plane needs `Authorization: Bearer <token>`")]
    Unauthorized,
    /// No such route.
    #[error("no control-plane route {method} {path}; see GET /__mock__/openapi.json")]
    NoRoute {
        /// Method.
        method: String,
        /// Path.
        path: String,
    },
    /// A known path with a method it does not take.
    #[error("{path} does not take {method}; see GET /__mock__/openapi.json")]
    MethodNotAllowed {
        /// Method.
        method: String,
        /// Path.
        path: String,
    },
    /// No such fault rule.
    #[error("no fault rule with id {0}")]
    UnknownFault(u64),
    /// An engine refusal.
    #[error(transparent)]
    Engine(#[from] EngineError),
}

/// The error body.
#[derive(Debug, Serialize, Deserialize)]
pub struct ErrorBody {
    /// The error.
    pub error: ErrorDetail,
}

/// Code and message.
#[derive(Debug, Serialize, Deserialize)]
pub struct ErrorDetail {
    /// Stable machine-readable code.
    pub code: String,
    /// For humans.
    pub message: String,
}

impl ControlError {
    fn parts(&self) -> (StatusCode, &'static str) {
        match self {
            ControlError::InvalidBody(_) => (StatusCode::BAD_REQUEST, "invalid_body"),
            ControlError::InvalidField { .. } => (StatusCode::BAD_REQUEST, "invalid_field"),
            ControlError::Unauthorized => (StatusCode::UNAUTHORIZED, "unauthorized"),
            ControlError::NoRoute { .. } => (StatusCode::NOT_FOUND, "not_found"),
            ControlError::MethodNotAllowed { .. } => {
                (StatusCode::METHOD_NOT_ALLOWED, "method_not_allowed")
            }
            ControlError::UnknownFault(_) => (StatusCode::NOT_FOUND, "unknown_fault"),
            ControlError::Engine(e) => match e {
                EngineError::UnknownApp(_) => (StatusCode::NOT_FOUND, "unknown_app"),
                EngineError::UnknownUser(_) => (StatusCode::NOT_FOUND, "unknown_user"),
                EngineError::AppExists(_) => (StatusCode::CONFLICT, "app_exists"),
                EngineError::UserExists(_) => (StatusCode::CONFLICT, "user_exists"),
                EngineError::NoPhone(_) => (StatusCode::CONFLICT, "no_phone"),
                EngineError::NoSession(_) => (StatusCode::CONFLICT, "no_session"),
                EngineError::NoStaleKey(_) => (StatusCode::CONFLICT, "no_stale_key"),
                EngineError::PhoneQuotaExhausted(_) => {
                    (StatusCode::CONFLICT, "phone_quota_exhausted")
                }
                EngineError::Invalid { .. } => (StatusCode::BAD_REQUEST, "invalid_field"),
                EngineError::WrongAppKind { .. } => (StatusCode::CONFLICT, "wrong_app_kind"),
                EngineError::UnknownPlatform(_) => (StatusCode::NOT_FOUND, "unknown_platform"),
                EngineError::PlatformExists(_) => (StatusCode::CONFLICT, "platform_exists"),
                EngineError::NotAuthorized { .. } => {
                    (StatusCode::NOT_FOUND, "unknown_authorization")
                }
            },
        }
    }
}

impl IntoResponse for ControlError {
    fn into_response(self) -> Response {
        let (status, code) = self.parts();
        let body = ErrorBody {
            error: ErrorDetail {
                code: code.into(),
                message: self.to_string(),
            },
        };
        (status, Json(body)).into_response()
    }
}
