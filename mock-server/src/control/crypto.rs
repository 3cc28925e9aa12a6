//! The control plane's encrypted network channel: the mini-program's
//! `wx.getUserCryptoManager().getLatestUserKey()` (`/wx/getUserCryptoManager`), whose keys a
//! backend fetches with getuserencryptkey.

use axum::Json;
use axum::extract::State;
use serde::{Deserialize, Serialize};

use super::{Body, Ctx, Res, app_or_default, wx_error};
use crate::engine::UserKeyGrant;
use crate::ids::{AppId, UserHandle};

/// Body of `POST /wx/getUserCryptoManager`.
#[derive(Debug, Clone, Serialize, Deserialize, schemars::JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct UserCryptoCall {
    /// The app; left out or `null`: the default app.
    #[serde(default)]
    pub appid: Option<AppId>,
    /// User handle; the user must have logged in to the app.
    pub user: UserHandle,
    /// Data the mini-program encrypts with the key: a string as its UTF-8 text, any other JSON
    /// value as its compact JSON. Left out or `null`: nothing is encrypted.
    #[serde(default)]
    pub data: Option<serde_json::Value>,
}

pub(super) async fn wx_user_crypto(
    State(s): Ctx,
    Body(call): Body<UserCryptoCall>,
) -> Res<UserKeyGrant> {
    let appid = app_or_default(&s, &call.appid);
    let plaintext = call.data.map(|d| match d {
        serde_json::Value::String(text) => text.into_bytes(),
        other => other.to_string().into_bytes(),
    });
    Ok(Json(
        s.engine
            .wx_user_key(&appid, &call.user, plaintext.as_deref())
            .map_err(wx_error)?,
    ))
}
