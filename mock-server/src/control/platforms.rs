//! The control plane's third-party platform routes: create and show platforms (with the
//! `component_verify_ticket` WeChat pushed last), have mini-programs authorise them or withdraw,
//! and push a fresh ticket at once.

use axum::Json;
use axum::extract::rejection::PathRejection;
use axum::extract::{Path, State};
use axum::http::StatusCode;
use serde::{Deserialize, Serialize};

use super::{Body, ControlError, Ctx, PathParam, Res, path_param};
use crate::config::PlatformSpec;
use crate::engine::PlatformView;
use crate::ids::AppId;

pub(super) async fn create(
    State(s): Ctx,
    Body(spec): Body<PlatformSpec>,
) -> Result<(StatusCode, Json<PlatformView>), ControlError> {
    Ok((StatusCode::CREATED, Json(s.engine.create_platform(spec)?)))
}

pub(super) async fn show(State(s): Ctx, id: PathParam) -> Res<PlatformView> {
    let id = path_param(id, "component_appid")?;
    Ok(Json(s.engine.platform(&AppId::new(id))?))
}

/// The mini-program that authorises the platform.
#[derive(Debug, Clone, Serialize, Deserialize, schemars::JsonSchema)]
#[serde(deny_unknown_fields)]
#[schemars(rename = "PlatformAuthorization")]
pub struct Authorization {
    /// An app of the mock.
    pub appid: AppId,
}

pub(super) async fn authorize(
    State(s): Ctx,
    id: PathParam,
    Body(body): Body<Authorization>,
) -> Res<PlatformView> {
    let id = path_param(id, "component_appid")?;
    Ok(Json(
        s.engine.authorize_platform(&AppId::new(id), &body.appid)?,
    ))
}

pub(super) async fn withdraw(
    State(s): Ctx,
    ids: Result<Path<(String, String)>, PathRejection>,
) -> Res<PlatformView> {
    let Path((id, appid)) = ids.map_err(|e| ControlError::InvalidField {
        field: "component_appid".into(),
        message: e.body_text(),
    })?;
    Ok(Json(
        s.engine
            .withdraw_platform(&AppId::new(id), &AppId::new(appid))?,
    ))
}

pub(super) async fn push_ticket(State(s): Ctx, id: PathParam) -> Res<PlatformView> {
    let id = path_param(id, "component_appid")?;
    Ok(Json(s.engine.push_ticket(&AppId::new(id))?))
}
