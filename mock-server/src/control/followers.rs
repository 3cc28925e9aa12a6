//! The control plane's follower route: `POST /apps/{appid}/followers` makes a user follow (or
//! stop following) an official account, as the user would in WeChat, so the account's backend
//! can ask `cgi-bin/user/info` about them.

use axum::Json;
use axum::extract::State;

use super::{Body, ControlError, Ctx, PathParam, path_param, wx_error};
use crate::engine::{FollowerSpec, FollowerView};
use crate::ids::AppId;

pub(super) async fn follow(
    State(s): Ctx,
    appid: PathParam,
    Body(spec): Body<FollowerSpec>,
) -> Result<Json<FollowerView>, ControlError> {
    let appid = path_param(appid, "appid")?;
    Ok(Json(
        s.engine
            .follow(&AppId::new(appid), spec)
            .map_err(wx_error)?,
    ))
}
