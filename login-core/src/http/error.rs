//! The one place errors become HTTP: the HTTP layer's error (the service's, or a request that
//! never reached a service: not JSON, wrong media type, too large, no such route or method)
//! with its status, headers and the JSON shape `{"error":{"code","message"}}`.

use axum::Json;
use axum::http::{HeaderValue, StatusCode, header};
use axum::response::{IntoResponse, Response};
use serde::Serialize;

use crate::service::Error;

/// What an HTTP request failed with.
#[derive(Debug, thiserror::Error)]
pub enum HttpError {
    /// A use case refused or failed.
    #[error(transparent)]
    Service(#[from] Error),
    /// The body is not JSON (or not UTF-8).
    #[error("the request body is not valid JSON: {0}")]
    InvalidJson(String),
    /// The body is not `application/json`.
    #[error("the request body must be JSON (Content-Type: application/json)")]
    UnsupportedMediaType,
    /// The body is larger than the limit.
    #[error("the request body is larger than {limit} bytes")]
    PayloadTooLarge {
        /// The limit.
        limit: usize,
    },
    /// No such route.
    #[error("no route {method} {path}")]
    NotFound {
        /// The method.
        method: String,
        /// The path.
        path: String,
    },
    /// The route exists with another method.
    #[error("{path} does not accept {method}")]
    MethodNotAllowed {
        /// The method.
        method: String,
        /// The path.
        path: String,
    },
}

impl HttpError {
    /// The stable machine code clients switch on.
    pub fn code(&self) -> &'static str {
        match self {
            Self::Service(e) => e.code(),
            Self::InvalidJson(_) => "invalid_json",
            Self::UnsupportedMediaType => "unsupported_media_type",
            Self::PayloadTooLarge { .. } => "payload_too_large",
            Self::NotFound { .. } => "not_found",
            Self::MethodNotAllowed { .. } => "method_not_allowed",
        }
    }
}

/// Every error: a stable machine `code` and a message for humans; a `registration_required` answer
/// adds the registration ticket.
#[derive(Debug, Serialize, serde::Deserialize, schemars::JsonSchema)]
#[schemars(rename = "Error")]
pub struct ErrorBody {
    /// The error.
    pub error: ErrorDetail,
    /// With `registration_required` only: the ticket for the phone step.
    #[serde(skip_serializing_if = "Option::is_none", default)]
    pub registration: Option<RegistrationDetail>,
}

/// The registration ticket of a `registration_required` answer.
#[derive(Debug, Serialize, serde::Deserialize, schemars::JsonSchema)]
#[schemars(rename = "Registration")]
pub struct RegistrationDetail {
    /// Single use; stands for this WeChat identity (its session_key kept on the server): for `POST
    /// /api/login/sms` or `/api/login/password`.
    #[schemars(length(min = 43, max = 43))]
    pub ticket: String,
    /// When it stops working: Unix seconds.
    pub expires_at: i64,
    /// Seconds until then (`phone.ticket_ttl`, default 600).
    pub expires_in: u64,
}

/// The error's code and message.
#[derive(Debug, Serialize, serde::Deserialize, schemars::JsonSchema)]
pub struct ErrorDetail {
    /// Stable machine code.
    pub code: String,
    /// For humans; names the field for input errors.
    pub message: String,
}

fn status(e: &HttpError) -> StatusCode {
    match e {
        HttpError::Service(e) => service_status(e),
        HttpError::InvalidJson(_) => StatusCode::BAD_REQUEST,
        HttpError::UnsupportedMediaType => StatusCode::UNSUPPORTED_MEDIA_TYPE,
        HttpError::PayloadTooLarge { .. } => StatusCode::PAYLOAD_TOO_LARGE,
        HttpError::NotFound { .. } => StatusCode::NOT_FOUND,
        HttpError::MethodNotAllowed { .. } => StatusCode::METHOD_NOT_ALLOWED,
    }
}

fn service_status(e: &Error) -> StatusCode {
    use crate::crypto::OpenDataError;
    match e {
        Error::InvalidField { .. }
        | Error::UnknownApp(_)
        | Error::CodeInvalid
        | Error::CodeUsed
        | Error::SignatureMismatch
        | Error::OpenData(_)
        | Error::OpenDataShape(_)
        | Error::WatermarkMismatch
        | Error::WatermarkExpired { .. }
        | Error::IdentityMismatch
        | Error::PhoneCodeInvalid
        | Error::SmsCodeExpired(_)
        | Error::SmsCodeInvalid { .. }
        | Error::SmsCodeExhausted
        | Error::SmsNumberRefused => match e {
            Error::OpenData(OpenDataError::BadSessionKey) => StatusCode::UNAUTHORIZED,
            _ => StatusCode::BAD_REQUEST,
        },
        Error::RateLimited { .. }
        | Error::UpstreamRateLimited { .. }
        | Error::SmsRateLimited { .. } => StatusCode::TOO_MANY_REQUESTS,
        Error::UserBlocked => StatusCode::FORBIDDEN,
        Error::UpstreamBusy | Error::SmsUnavailable { .. } | Error::StoreUnavailable => {
            StatusCode::SERVICE_UNAVAILABLE
        }
        Error::UpstreamTimeout => StatusCode::GATEWAY_TIMEOUT,
        Error::UpstreamFailed => StatusCode::BAD_GATEWAY,
        Error::Misconfigured | Error::Internal => StatusCode::INTERNAL_SERVER_ERROR,
        Error::LoginRequired(_)
        | Error::SessionKeyStale
        | Error::RegistrationRequired { .. }
        | Error::TicketInvalid
        | Error::PasswordIncorrect
        | Error::PasswordNotSet => StatusCode::UNAUTHORIZED,
        Error::PhoneConflict
        | Error::PhoneBoundToOtherWeChat
        | Error::WeChatBoundToOtherPhone
        | Error::WeChatRequired => StatusCode::CONFLICT,
    }
}

impl IntoResponse for HttpError {
    fn into_response(self) -> Response {
        let status = status(&self);
        let registration = match &self {
            HttpError::Service(Error::RegistrationRequired {
                ticket,
                expires_at,
                expires_in,
            }) => Some(RegistrationDetail {
                ticket: ticket.expose().to_owned(),
                expires_at: expires_at.secs(),
                expires_in: *expires_in,
            }),
            _ => None,
        };
        let body = ErrorBody {
            error: ErrorDetail {
                code: self.code().to_owned(),
                message: self.to_string(),
            },
            registration,
        };
        let mut resp = (status, Json(body)).into_response();
        let headers = resp.headers_mut();
        let retry_after = match &self {
            HttpError::Service(
                Error::RateLimited { retry_after, .. }
                | Error::UpstreamRateLimited { retry_after }
                | Error::SmsRateLimited { retry_after },
            ) => Some(*retry_after),
            HttpError::Service(Error::UpstreamBusy | Error::StoreUnavailable) => Some(1),
            HttpError::Service(Error::SmsUnavailable { retry_after, .. }) => *retry_after,
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
