//! The HTTP surface: the router, shared state, the metrics middleware and the OpenAPI
//! document served at `/openapi.json`.

pub mod dto;
pub mod error;
pub mod extract;
mod handlers;
pub mod openapi;

use std::sync::Arc;
use std::time::Instant;

use axum::Router;
use axum::extract::{DefaultBodyLimit, MatchedPath, Request, State};
use axum::middleware::{self, Next};
use axum::response::Response;
use axum::routing::{get, post};

use crate::clock::SharedClock;
use crate::service::Services;

/// The OpenAPI 3.1 document of this API.
pub const OPENAPI: &str = include_str!("openapi.json");

/// Every route: (method, path). Kept equal to the router and the OpenAPI document by tests.
pub const ROUTES: &[(&str, &str)] = &[
    ("POST", "/api/login"),
    ("POST", "/api/sms/send"),
    ("POST", "/api/login/sms"),
    ("POST", "/api/login/password"),
    ("POST", "/api/session/refresh"),
    ("POST", "/api/logout"),
    ("GET", "/api/session/check"),
    ("GET", "/api/me"),
    ("POST", "/api/me/profile"),
    ("POST", "/api/me/phone"),
    ("GET", "/healthz"),
    ("GET", "/readyz"),
    ("GET", "/metrics"),
    ("GET", "/openapi.json"),
];

/// What handlers share.
#[derive(Clone)]
pub struct AppState {
    /// The use cases.
    pub services: Arc<Services>,
    /// Time, for `expires_in`.
    pub clock: SharedClock,
    /// The body limit, for its error message.
    pub body_limit: usize,
    /// Whether `X-Forwarded-For` names the client.
    pub trust_forwarded_for: bool,
}

/// The whole HTTP surface.
pub fn router(state: AppState) -> Router {
    Router::new()
        .route("/api/login", post(handlers::login))
        .route("/api/sms/send", post(handlers::sms_send))
        .route("/api/login/sms", post(handlers::sms_login))
        .route("/api/login/password", post(handlers::password_login))
        .route("/api/session/refresh", post(handlers::refresh))
        .route("/api/logout", post(handlers::logout))
        .route("/api/session/check", get(handlers::check))
        .route("/api/me", get(handlers::me))
        .route("/api/me/profile", post(handlers::profile))
        .route("/api/me/phone", post(handlers::phone))
        .route("/healthz", get(handlers::healthz))
        .route("/readyz", get(handlers::readyz))
        .route("/metrics", get(handlers::metrics))
        .route("/openapi.json", get(handlers::openapi))
        .fallback(handlers::not_found)
        .method_not_allowed_fallback(handlers::wrong_method)
        .layer(middleware::from_fn_with_state(state.clone(), record))
        .layer(DefaultBodyLimit::max(state.body_limit))
        .with_state(state)
}

/// Counts each request by route and status, with its latency.
async fn record(State(s): State<AppState>, req: Request, next: Next) -> Response {
    let route = req
        .extensions()
        .get::<MatchedPath>()
        .map(|p| p.as_str().to_owned())
        .unwrap_or_else(|| "unmatched".into());
    let method = req.method().to_string();
    let started = Instant::now();
    let resp = next.run(req).await;
    s.services
        .metrics()
        .request(&route, &method, resp.status().as_u16(), started.elapsed());
    resp
}
