//! The control plane's SMS routes: the gateway's configuration (`/sms/config`) and the outbox of
//! messages it accepted (`/sms`), from which tests read the codes a real phone would get.

use axum::Json;
use axum::extract::State;
use axum::http::Uri;

use super::{Body, ControlError, Ctx, Res};
use crate::engine::{SmsFilter, SmsOutbox};
use crate::tencent::{SmsConfigPatch, SmsConfigView};

pub(super) async fn config(State(s): Ctx) -> Json<SmsConfigView> {
    Json(s.engine.sms_config())
}

pub(super) async fn patch_config(
    State(s): Ctx,
    Body(patch): Body<SmsConfigPatch>,
) -> Res<SmsConfigView> {
    Ok(Json(s.engine.patch_sms_config(&patch)?))
}

pub(super) async fn outbox(State(s): Ctx, uri: Uri) -> Res<SmsOutbox> {
    let filter: SmsFilter = serde_urlencoded::from_str(uri.query().unwrap_or("")).map_err(|e| {
        ControlError::InvalidField {
            field: "query".into(),
            message: e.to_string(),
        }
    })?;
    Ok(Json(s.engine.sms_outbox(&filter)?))
}

/// Messages removed from the outbox (`DELETE /sms`).
#[derive(serde::Serialize, schemars::JsonSchema)]
pub(super) struct Cleared {
    /// How many messages were removed.
    removed: usize,
}

pub(super) async fn clear(State(s): Ctx) -> Json<Cleared> {
    Json(Cleared {
        removed: s.engine.clear_sms_outbox(),
    })
}
