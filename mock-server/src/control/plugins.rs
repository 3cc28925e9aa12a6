//! The control plane's plugin route: `POST /wx/pluginLogin` plays a plugin's `wx.pluginLogin`
//! inside a host mini-program, for `wxa/getpluginopenpid`.

use axum::Json;
use axum::extract::State;
use serde::{Deserialize, Serialize};

use super::{Body, Ctx, Res, wx_error};
use crate::engine::PluginLoginGrant;
use crate::ids::{AppId, UserHandle};

/// A plugin's `wx.pluginLogin` inside a host mini-program.
#[derive(Debug, Clone, Serialize, Deserialize, schemars::JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct PluginLoginCall {
    /// The host mini-program; left out or `null`: the default app.
    #[serde(default)]
    pub appid: Option<AppId>,
    /// User handle. Unless `strict`, an unknown user is created on the fly.
    pub user: UserHandle,
    /// The plugin: an app of the mock other than the host.
    pub plugin_appid: AppId,
}

pub(super) async fn login(
    State(s): Ctx,
    Body(call): Body<PluginLoginCall>,
) -> Res<PluginLoginGrant> {
    Ok(Json(
        s.engine
            .wx_plugin_login(call.appid.as_ref(), &call.user, &call.plugin_appid)
            .map_err(wx_error)?,
    ))
}
