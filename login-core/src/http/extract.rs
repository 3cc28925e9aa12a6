//! Extractors: JSON bodies whose errors name the field, the bearer session, the client address.
//! Every rejection is an [`HttpError`], so malformed input gets the same error shape as
//! everything else.

use std::net::SocketAddr;

use axum::body::Bytes;
use axum::extract::{ConnectInfo, FromRequest, FromRequestParts, Request};
use axum::http::request::Parts;
use axum::http::{StatusCode, header};
use serde::Deserialize as _;
use serde::de::DeserializeOwned;

use crate::service::{Authenticated, Error};

use super::error::HttpError;

use super::AppState;

/// A JSON body: `Content-Type: application/json`, at most the configured size, every field
/// checked; errors name the field.
#[derive(Debug)]
pub struct JsonBody<T>(pub T);

impl<T: DeserializeOwned> FromRequest<AppState> for JsonBody<T> {
    type Rejection = HttpError;

    async fn from_request(req: Request, state: &AppState) -> Result<Self, Self::Rejection> {
        let is_json = req
            .headers()
            .get(header::CONTENT_TYPE)
            .and_then(|v| v.to_str().ok())
            .and_then(|v| v.split(';').next())
            .is_some_and(|m| m.trim().eq_ignore_ascii_case("application/json"));
        if !is_json {
            return Err(HttpError::UnsupportedMediaType);
        }
        let bytes = Bytes::from_request(req, state).await.map_err(|r| {
            if r.status() == StatusCode::PAYLOAD_TOO_LARGE {
                HttpError::PayloadTooLarge {
                    limit: state.body_limit,
                }
            } else {
                HttpError::InvalidJson("the body could not be read".into())
            }
        })?;
        parse_json(&bytes).map(JsonBody)
    }
}

/// Parses a JSON body into `T`, naming the offending field on failure.
pub fn parse_json<T: DeserializeOwned>(bytes: &[u8]) -> Result<T, HttpError> {
    // serde reads a struct from an array of its fields too; bodies must be objects.
    if bytes.iter().find(|b| !b.is_ascii_whitespace()) != Some(&b'{') {
        return match serde_json::from_slice::<serde::de::IgnoredAny>(bytes) {
            Ok(_) => Err(Error::field("body", "must be a JSON object").into()),
            Err(e) => Err(HttpError::InvalidJson(e.to_string())),
        };
    }
    let mut de = serde_json::Deserializer::from_slice(bytes);
    let value: T = serde_path_to_error::deserialize(&mut de).map_err(|e| {
        let path = e.path().to_string();
        let inner = e.into_inner();
        let message = inner.to_string();
        // Valid JSON by the grammar, but beyond what a number here can hold: name the field.
        if message.starts_with("number out of range") {
            return field_error(&path, "is a number out of range");
        }
        if !inner.is_data() {
            return HttpError::InvalidJson(message);
        }
        // A field error is found before the end of the text is read: text that is not JSON
        // further on (`{"phone":"1"} x`) is the first thing to fix.
        if let Some(syntax) = syntax_error(bytes) {
            return HttpError::InvalidJson(syntax);
        }
        field_error(&path, &strip_position(&message))
    })?;
    // Nothing but whitespace may follow the value.
    de.end()
        .map_err(|e| HttpError::InvalidJson(e.to_string()))?;
    Ok(value)
}

/// What makes `bytes` not one JSON value, if anything (numbers beyond f64 are left to the
/// typed parse, which names their field).
fn syntax_error(bytes: &[u8]) -> Option<String> {
    let mut de = serde_json::Deserializer::from_slice(bytes);
    let result = serde::de::IgnoredAny::deserialize(&mut de).and_then(|_| de.end());
    match result {
        Err(e) if !e.to_string().starts_with("number out of range") => Some(e.to_string()),
        _ => None,
    }
}

fn strip_position(msg: &str) -> String {
    match msg.find(" at line ") {
        Some(i) => msg[..i].to_owned(),
        None => msg.to_owned(),
    }
}

/// Builds a field error from serde's message: `missing field `x``, `unknown field `x``, ...
fn field_error(path: &str, msg: &str) -> HttpError {
    let quoted = msg.split('`').nth(1).map(str::to_owned).unwrap_or_default();
    let field = |name: String, reason: String| HttpError::Service(Error::field(name, reason));
    let join = |name: &str| {
        if path == "." || path.is_empty() {
            name.to_owned()
        } else if path == name || path.ends_with(&format!(".{name}")) {
            // serde_path_to_error already descended into the field.
            path.to_owned()
        } else {
            format!("{path}.{name}")
        }
    };
    if msg.starts_with("missing field") {
        field(join(&quoted), "is required".into())
    } else if msg.starts_with("unknown field") {
        let expected = msg
            .split_once(", expected")
            .map(|(_, e)| e.trim())
            .unwrap_or("");
        field(
            join(&quoted),
            format!("is not accepted (expected {expected})"),
        )
    } else if msg.starts_with("duplicate field") {
        field(join(&quoted), "is given more than once".into())
    } else if path == "." || path.is_empty() {
        field(
            "body".into(),
            format!("{msg} (the body must be a JSON object)"),
        )
    } else {
        field(path.to_owned(), msg.to_owned())
    }
}

/// The session behind `Authorization: Bearer <token>`; 401 `login_required` without one.
#[derive(Debug, Clone)]
pub struct Session(pub Authenticated);

impl FromRequestParts<AppState> for Session {
    type Rejection = HttpError;

    async fn from_request_parts(parts: &mut Parts, state: &AppState) -> Result<Self, HttpError> {
        let bearer = parts
            .headers
            .get(header::AUTHORIZATION)
            .and_then(|v| v.to_str().ok())
            .and_then(|v| {
                let (scheme, token) = v.trim().split_once(' ')?;
                scheme.eq_ignore_ascii_case("bearer").then(|| token.trim())
            });
        Ok(Session(state.services.authenticate(bearer).await?))
    }
}

/// The client's address: the peer, or the first `X-Forwarded-For` entry when trusted.
#[derive(Debug, Clone)]
pub struct ClientAddr(pub String);

impl FromRequestParts<AppState> for ClientAddr {
    type Rejection = HttpError;

    async fn from_request_parts(parts: &mut Parts, state: &AppState) -> Result<Self, HttpError> {
        if state.trust_forwarded_for {
            if let Some(first) = parts
                .headers
                .get("x-forwarded-for")
                .and_then(|v| v.to_str().ok())
                .and_then(|v| v.split(',').next())
                .map(str::trim)
                .filter(|s| s.parse::<std::net::IpAddr>().is_ok())
            {
                return Ok(ClientAddr(first.to_owned()));
            }
        }
        let peer = parts
            .extensions
            .get::<ConnectInfo<SocketAddr>>()
            .map(|c| c.0.ip().to_string())
            .unwrap_or_else(|| "unknown".into());
        Ok(ClientAddr(peer))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[derive(Debug, serde::Deserialize)]
    #[serde(deny_unknown_fields)]
    #[allow(dead_code)]
    struct Body {
        code: String,
        n: Option<u32>,
    }

    fn err(json: &str) -> (String, String) {
        match parse_json::<Body>(json.as_bytes()) {
            Err(HttpError::Service(Error::InvalidField { field, reason })) => (field, reason),
            Err(HttpError::InvalidJson(m)) => ("<json>".into(), m),
            other => panic!("unexpected {other:?}"),
        }
    }

    #[test]
    fn errors_name_the_field() {
        assert_eq!(err("{}").0, "code");
        assert_eq!(err(r#"{"code":5}"#).0, "code");
        assert_eq!(err(r#"{"code":"a","x":1}"#).0, "x");
        assert_eq!(err(r#"{"code":"a","code":"b"}"#).0, "code");
        assert_eq!(err(r#"{"code":"a","n":-1}"#).0, "n");
        assert_eq!(err("[]").0, "body");
        assert_eq!(err(r#"["a", 1]"#).0, "body");
        assert_eq!(err("\"a\"").0, "body");
        assert_eq!(err("").0, "<json>");
        assert_eq!(err(r#"{"code": 1e309}"#).0, "code");
        assert_eq!(err("{").0, "<json>");
        assert_eq!(err(r#"{"code":"a"} x"#).0, "<json>");
        assert_eq!(
            err(r#"{"n":1} x"#).0,
            "<json>",
            "not JSON beats a missing field"
        );
        assert_eq!(err(r#"{"n":1}{}"#).0, "<json>");
        assert_eq!(err(r#"{"x":1e999,"code":"a"}"#).0, "x");
        assert_eq!(err("\u{feff}{}").0, "<json>");
        assert!(parse_json::<Body>(br#" {"code":"a"} "#).is_ok());
        let (_, invalid_utf8) = match parse_json::<Body>(b"{\"code\":\"\xff\"}") {
            Err(HttpError::InvalidJson(m)) => ("", m),
            other => panic!("unexpected {other:?}"),
        };
        assert!(
            invalid_utf8.contains("UTF-8") || invalid_utf8.contains("unicode"),
            "{invalid_utf8}"
        );
    }
}
