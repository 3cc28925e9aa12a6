//! The one place errors become HTTP: status, headers and the JSON shape
//! `{"error":{"code","message"}}`.

use axum::Json;
use axum::http::{HeaderValue, StatusCode, header};
use axum::response::{IntoResponse, Response};
use serde::Serialize;

use crate::service::Error;

/// The error body.
#[derive(Debug, Serialize, serde::Deserialize)]
pub struct ErrorBody {
    /// The error.
    pub error: ErrorDetail,
}

/// The error's code and message.
#[derive(Debug, Serialize, serde::Deserialize)]
pub struct ErrorDetail {
    /// Stable machine code.
    pub code: String,
    /// For humans.
    pub message: String,
}

fn status(e: &Error) -> StatusCode {
    use crate::crypto::OpenDataError;
    match e {
        Error::InvalidJson(_)
        | Error::InvalidField { .. }
        | Error::UnknownApp(_)
        | Error::CodeInvalid
        | Error::CodeUsed
        | Error::SignatureMismatch
        | Error::OpenData(_)
        | Error::OpenDataShape(_)
        | Error::WatermarkMismatch
        | Error::WatermarkExpired { .. }
        | Error::IdentityMismatch
        | Error::PhoneCodeInvalid => match e {
            Error::OpenData(OpenDataError::BadSessionKey) => StatusCode::UNAUTHORIZED,
            _ => StatusCode::BAD_REQUEST,
        },
        Error::UnsupportedMediaType => StatusCode::UNSUPPORTED_MEDIA_TYPE,
        Error::PayloadTooLarge { .. } => StatusCode::PAYLOAD_TOO_LARGE,
        Error::NotFound { .. } => StatusCode::NOT_FOUND,
        Error::MethodNotAllowed { .. } => StatusCode::METHOD_NOT_ALLOWED,
        Error::RateLimited { .. } | Error::UpstreamRateLimited { .. } => {
            StatusCode::TOO_MANY_REQUESTS
        }
        Error::UserBlocked => StatusCode::FORBIDDEN,
        Error::UpstreamBusy => StatusCode::SERVICE_UNAVAILABLE,
        Error::UpstreamTimeout => StatusCode::GATEWAY_TIMEOUT,
        Error::UpstreamFailed => StatusCode::BAD_GATEWAY,
        Error::Misconfigured | Error::Internal => StatusCode::INTERNAL_SERVER_ERROR,
        Error::LoginRequired(_) | Error::SessionKeyStale => StatusCode::UNAUTHORIZED,
        Error::PhoneConflict => StatusCode::CONFLICT,
    }
}

impl IntoResponse for Error {
    fn into_response(self) -> Response {
        let status = status(&self);
        let body = ErrorBody {
            error: ErrorDetail {
                code: self.code().to_owned(),
                message: self.to_string(),
            },
        };
        let mut resp = (status, Json(body)).into_response();
        let headers = resp.headers_mut();
        let retry_after = match &self {
            Error::RateLimited { retry_after, .. } | Error::UpstreamRateLimited { retry_after } => {
                Some(*retry_after)
            }
            Error::UpstreamBusy => Some(1),
            _ => None,
        };
        if let Some(secs) = retry_after {
            headers.insert(header::RETRY_AFTER, HeaderValue::from(secs));
        }
        if status == StatusCode::UNAUTHORIZED {
            headers.insert(
                header::WWW_AUTHENTICATE,
                HeaderValue::from_static("Bearer realm=\"login-core\""),
            );
        }
        resp
    }
}
