//! The control-plane half of the journal: every call that changed something (a `POST`, `PATCH`
//! or `DELETE` answered 2xx) is kept with its body and answer, placed after the vendor requests
//! journaled so far, so a session made by hand (a `wx.login`, a fault, a clock move, then the
//! backend's `jscode2session`) can be read back in order (`harness record`). Served at
//! `GET /__mock__/journal/control`.

use std::sync::{Arc, OnceLock};

use axum::Json;
use axum::body::{Body as HttpBody, Bytes};
use axum::extract::{Request, State};
use axum::http::{Method, Uri};
use axum::middleware::Next;
use axum::response::Response;

use super::{ControlError, Ctx, Res};
use crate::journal::{ControlFilter, ControlPage, ControlRecord};

/// Where [`super::Body`] leaves the bytes it read, for [`record`] to keep: the body is read
/// once, by the handler's extractor, and shared (a `Bytes` clone copies nothing).
#[derive(Clone, Debug, Default)]
pub struct BodySlot(Arc<OnceLock<Bytes>>);

impl BodySlot {
    /// Keeps the request body (the first one given; a request has one).
    pub fn fill(&self, bytes: &Bytes) {
        let _ = self.0.set(bytes.clone());
    }
}

/// Reads pass through; a change that succeeded is journaled with its body and answer.
pub(super) async fn record(State(s): Ctx, mut req: Request, next: Next) -> Response {
    let method = req.method().clone();
    if matches!(method, Method::GET | Method::HEAD | Method::OPTIONS) {
        return next.run(req).await;
    }
    // Nested under `/__mock__`: the path here is the route's own (`/wx/login`).
    let target = req
        .uri()
        .path_and_query()
        .map_or_else(|| req.uri().path().to_owned(), |pq| pq.as_str().to_owned());
    let slot = BodySlot::default();
    req.extensions_mut().insert(slot.clone());
    let res = next.run(req).await;
    if !res.status().is_success() {
        return res;
    }
    let (parts, body) = res.into_parts();
    // Every control-plane answer is one in-memory buffer: collecting it copies nothing and
    // cannot fail; were it to, the answer goes out empty rather than half-journaled.
    let Ok(response) = axum::body::to_bytes(body, usize::MAX).await else {
        return Response::from_parts(parts, HttpBody::empty());
    };
    s.journal.record_control(ControlRecord {
        time: s.engine.clock().now(),
        method,
        target,
        body: slot.0.get().cloned().unwrap_or_default(),
        status: parts.status.as_u16(),
        response: response.clone(),
    });
    Response::from_parts(parts, HttpBody::from(response))
}

/// `GET /__mock__/journal/control`.
pub(super) async fn read(State(s): Ctx, uri: Uri) -> Res<ControlPage> {
    let filter: ControlFilter =
        serde_urlencoded::from_str(uri.query().unwrap_or("")).map_err(|e| {
            ControlError::InvalidField {
                field: "query".into(),
                message: e.to_string(),
            }
        })?;
    Ok(Json(s.journal.read_control(&filter)))
}
