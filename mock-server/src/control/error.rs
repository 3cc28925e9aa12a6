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

/// Every control-plane error: a stable machine-readable code and a message for humans.
#[derive(Debug, Serialize, Deserialize, schemars::JsonSchema)]
#[schemars(rename = "Error")]
pub struct ErrorBody {
    /// The error.
    pub error: ErrorDetail,
}

/// Code and message.
#[derive(Debug, Serialize, Deserialize, schemars::JsonSchema)]
pub struct ErrorDetail {
    /// Stable machine-readable code.
    #[schemars(with = "ErrorCode")]
    pub code: String,
    /// For humans; may change between versions.
    pub message: String,
}

/// A control-plane error's stable code; `x-http-status` gives the HTTP status each is answered
/// with.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize, Deserialize, schemars::JsonSchema)]
#[serde(rename_all = "snake_case")]
#[schemars(transform = ErrorCode::http_statuses)]
pub enum ErrorCode {
    /// 400: the body is missing, is not a JSON object, or does not have the expected shape (for
    /// `POST /clock`: asks for nothing).
    InvalidBody,
    /// 400: a field, path parameter or query parameter has a bad value; the message names it.
    InvalidField,
    /// 401: the server was started with `--control-token` and the request has no or a wrong
    /// `Authorization: Bearer <token>`.
    Unauthorized,
    /// 404: no control-plane route for this path.
    NotFound,
    /// 405: a known path with a method it does not take.
    MethodNotAllowed,
    /// 404: no app with this appid.
    UnknownApp,
    /// 404: no user with this handle (a lookup, or a `/wx/*` call in `strict` mode).
    UnknownUser,
    /// 404: no fault rule with this id.
    UnknownFault,
    /// 409: an app with this appid exists already.
    AppExists,
    /// 409: a user with this handle exists already.
    UserExists,
    /// 409: the user has no phone number to share.
    NoPhone,
    /// 409: the user has never logged in to the app (`POST /wx/login`), so there is no
    /// session_key to encrypt open data with.
    NoSession,
    /// 409: the `stale_key` tamper was asked for, but the user's session_key in the app has never
    /// changed.
    NoStaleKey,
    /// 409: the app has no phone-number quota left (`phone_quota` 0). `POST /wx/getPhoneNumber`
    /// answers this as the button does (200, `errno` 1400001), not as an error.
    PhoneQuotaExhausted,
    /// 409: the app is not of the kind the call needs: a mini-program's call (`/wx/*`,
    /// `/payments`) for an official account, or followers for a mini-program.
    WrongAppKind,
    /// 404: no third-party platform with this `component_appid`.
    UnknownPlatform,
    /// 409: a third-party platform with this `component_appid` exists already.
    PlatformExists,
    /// 404: the app has not authorised the third-party platform
    /// (`DELETE .../authorizations/{appid}`).
    UnknownAuthorization,
}

impl ErrorCode {
    /// Every code, in the order the document lists them.
    pub const ALL: [ErrorCode; 18] = [
        ErrorCode::InvalidBody,
        ErrorCode::InvalidField,
        ErrorCode::Unauthorized,
        ErrorCode::NotFound,
        ErrorCode::MethodNotAllowed,
        ErrorCode::UnknownApp,
        ErrorCode::UnknownUser,
        ErrorCode::UnknownFault,
        ErrorCode::AppExists,
        ErrorCode::UserExists,
        ErrorCode::NoPhone,
        ErrorCode::NoSession,
        ErrorCode::NoStaleKey,
        ErrorCode::PhoneQuotaExhausted,
        ErrorCode::WrongAppKind,
        ErrorCode::UnknownPlatform,
        ErrorCode::PlatformExists,
        ErrorCode::UnknownAuthorization,
    ];

    /// The code as the body carries it.
    pub fn as_str(self) -> &'static str {
        match self {
            ErrorCode::InvalidBody => "invalid_body",
            ErrorCode::InvalidField => "invalid_field",
            ErrorCode::Unauthorized => "unauthorized",
            ErrorCode::NotFound => "not_found",
            ErrorCode::MethodNotAllowed => "method_not_allowed",
            ErrorCode::UnknownApp => "unknown_app",
            ErrorCode::UnknownUser => "unknown_user",
            ErrorCode::UnknownFault => "unknown_fault",
            ErrorCode::AppExists => "app_exists",
            ErrorCode::UserExists => "user_exists",
            ErrorCode::NoPhone => "no_phone",
            ErrorCode::NoSession => "no_session",
            ErrorCode::NoStaleKey => "no_stale_key",
            ErrorCode::PhoneQuotaExhausted => "phone_quota_exhausted",
            ErrorCode::WrongAppKind => "wrong_app_kind",
            ErrorCode::UnknownPlatform => "unknown_platform",
            ErrorCode::PlatformExists => "platform_exists",
            ErrorCode::UnknownAuthorization => "unknown_authorization",
        }
    }

    /// The HTTP status an error with this code is answered with.
    pub fn status(self) -> StatusCode {
        match self {
            ErrorCode::InvalidBody | ErrorCode::InvalidField => StatusCode::BAD_REQUEST,
            ErrorCode::Unauthorized => StatusCode::UNAUTHORIZED,
            ErrorCode::MethodNotAllowed => StatusCode::METHOD_NOT_ALLOWED,
            ErrorCode::NotFound
            | ErrorCode::UnknownApp
            | ErrorCode::UnknownUser
            | ErrorCode::UnknownFault
            | ErrorCode::UnknownPlatform
            | ErrorCode::UnknownAuthorization => StatusCode::NOT_FOUND,
            ErrorCode::AppExists
            | ErrorCode::UserExists
            | ErrorCode::NoPhone
            | ErrorCode::NoSession
            | ErrorCode::NoStaleKey
            | ErrorCode::PhoneQuotaExhausted
            | ErrorCode::WrongAppKind
            | ErrorCode::PlatformExists => StatusCode::CONFLICT,
        }
    }

    /// Adds `x-http-status`, each code's status, to the schema.
    fn http_statuses(schema: &mut schemars::Schema) {
        let statuses: serde_json::Map<String, serde_json::Value> = Self::ALL
            .iter()
            .map(|c| (c.as_str().to_owned(), c.status().as_u16().into()))
            .collect();
        schema.insert("x-http-status".into(), statuses.into());
    }
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
