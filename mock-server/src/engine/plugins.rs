//! Plugin login (`wechat-api.md` 7a): a plugin running inside a host mini-program calls
//! `wx.pluginLogin` and gets a code (five minutes, single use, as `wx.login`'s); the plugin's
//! backend trades it with the plugin's own access token at `POST /wxa/getpluginopenpid` for the
//! user's openpid, an id per (plugin, user) that is no app's openid.
//!
//! A plugin is an app of the mock like any other: its token comes from `cgi-bin/token` with its
//! appid and secret. The control plane plays `wx.pluginLogin` (`POST /__mock__/wx/pluginLogin`).
//!
//! Which bad code gets which errcode is the mock's reading of the documented rows (the errmsg
//! is the rid alone for all of them, as captured): a live `wx.login` code, 1007 "openpid data
//! does not exist" (captured); no code, an unknown or expired code, or another plugin's, 1001
//! "invalid request parameter"; a code used already, 1000 (its row says "system error"; a
//! capture shows it for an unknown cause). The docs also list 1005 "plugin appid does not
//! match the data"; another plugin's code answers as an unknown one instead, so a backend
//! cannot tell other plugins' codes from made-up ones.

use serde::{Deserialize, Serialize};

use super::{CODE_TTL, Engine, EngineError, Map, State, login, maybe_sweep, tokens};
use crate::catalogue::WxError;
use crate::clock::Timestamp;
use crate::ids::{AppId, Generator, OpenPid, PluginCode, UserHandle};
use crate::reply::{Answer, Reply};
use crate::request::{PluginOpenpid, VendorRequest};

struct PluginCodeEntry {
    plugin: AppId,
    user: UserHandle,
    expires_at: Timestamp,
    used: bool,
}

#[derive(Default)]
pub(super) struct PluginCodes {
    codes: Map<PluginCode, PluginCodeEntry>,
    /// Codes minted per (plugin, user): numbers the next one.
    minted: Map<(AppId, UserHandle), u64>,
}

impl PluginCodes {
    pub fn sweep(&mut self, now: Timestamp) {
        // Used codes stay until they expire, so a reuse still answers 1000.
        self.codes.retain(|_, c| c.expires_at > now);
    }

    pub fn count(&self) -> usize {
        self.codes.len()
    }
}

/// What `wx.pluginLogin` answers: the success callback's shape plus what a test needs to know.
#[derive(Clone, Debug, Serialize, Deserialize, schemars::JsonSchema)]
pub struct PluginLoginGrant {
    /// The code for `getpluginopenpid` (32 alphanumerics; valid 5 minutes, single use).
    pub code: String,
    /// As in the real success callback.
    #[serde(rename = "errMsg")]
    #[schemars(extend("const" = "pluginLogin:ok"))]
    pub err_msg: String,
    /// What the code will map to (not part of the real callback).
    pub mock: PluginLoginFacts,
}

/// Facts about a minted plugin code (not part of the real callback).
#[derive(Clone, Debug, Serialize, Deserialize, schemars::JsonSchema)]
pub struct PluginLoginFacts {
    /// The host mini-program.
    pub appid: AppId,
    /// The plugin: its access token trades the code.
    pub plugin_appid: AppId,
    /// User handle.
    pub user: UserHandle,
    /// The openpid the code trades for: 28 characters, one per (plugin, user).
    pub openpid: OpenPid,
    /// When the code expires, Unix seconds.
    pub expires_at: i64,
}

impl Engine {
    /// The plugin's `wx.pluginLogin` for `user` inside `host` (the default app when `None`):
    /// a fresh code for `plugin`'s backend.
    pub fn wx_plugin_login(
        &self,
        host: Option<&AppId>,
        user: &UserHandle,
        plugin: &AppId,
    ) -> Result<PluginLoginGrant, EngineError> {
        let now = self.clock.now();
        let mut st = self.lock();
        let st = &mut *st;
        maybe_sweep(st, now);
        let host = host
            .cloned()
            .unwrap_or_else(|| st.dir.default_appid().clone());
        st.dir.app(&host)?;
        st.dir.app(plugin)?;
        if *plugin == host {
            return Err(EngineError::Invalid {
                field: "plugin_appid",
                message: "is the host mini-program itself; a plugin is another app".into(),
            });
        }
        st.dir.ensure_user(&self.idgen, user, st.options.strict)?;
        let codes = &mut st.plugins;
        let minted = codes
            .minted
            .entry((plugin.clone(), user.clone()))
            .or_default();
        let code = loop {
            let c = self.idgen.plugin_code(plugin, user, *minted);
            *minted += 1;
            if !codes.codes.contains_key(c.as_str()) {
                break c;
            }
        };
        let expires_at = now.plus(CODE_TTL);
        codes.codes.insert(
            code.clone(),
            PluginCodeEntry {
                plugin: plugin.clone(),
                user: user.clone(),
                expires_at,
                used: false,
            },
        );
        Ok(PluginLoginGrant {
            code: code.as_str().to_owned(),
            err_msg: "pluginLogin:ok".into(),
            mock: PluginLoginFacts {
                appid: host,
                plugin_appid: plugin.clone(),
                user: user.clone(),
                openpid: self.idgen.openpid(plugin, user),
                expires_at: expires_at.secs(),
            },
        })
    }
}

/// `POST /wxa/getpluginopenpid?access_token` with `{"code"}`, the token the plugin's.
pub(super) fn get_plugin_openpid(
    st: &mut State,
    idgen: &Generator,
    req: &VendorRequest,
    call: &PluginOpenpid,
    now: Timestamp,
) -> Answer {
    let token = tokens::token_app(st, call.access_token.as_deref(), now);
    let (_, user) = context(st, call, now);
    let result = judge(st, idgen, req, call, token.clone(), now);
    Answer {
        result,
        appid: token.ok(),
        user,
        tencent: None,
    }
}

/// The method (43002), the token (41001, 40001, 42001), the body (1022), then the code.
fn judge(
    st: &mut State,
    idgen: &Generator,
    req: &VendorRequest,
    call: &PluginOpenpid,
    token: Result<AppId, WxError>,
    now: Timestamp,
) -> Result<Reply, WxError> {
    if !req.method_allowed() {
        return Err(WxError::RequirePost);
    }
    let plugin = token?;
    let code = call.body.as_ref().map_err(|e| *e)?;
    let code = code.as_deref().ok_or(WxError::PluginInvalidParam)?;
    let Some(entry) = live_code(&mut st.plugins, &plugin, code, now) else {
        return Err(if login::is_live_login_code(st, code, now) {
            WxError::OpenpidNotExist
        } else {
            WxError::PluginInvalidParam
        });
    };
    if entry.used {
        return Err(WxError::PluginSystemError);
    }
    entry.used = true;
    Ok(Reply::Openpid {
        openpid: idgen.openpid(&plugin, &entry.user),
    })
}

/// `code` when it is a live code of `plugin`.
fn live_code<'a>(
    codes: &'a mut PluginCodes,
    plugin: &AppId,
    code: &str,
    now: Timestamp,
) -> Option<&'a mut PluginCodeEntry> {
    codes
        .codes
        .get_mut(code)
        .filter(|e| e.plugin == *plugin && e.expires_at > now)
}

/// Marks the request's code used (a fault that "still consumes the code").
pub(super) fn consume(st: &mut State, call: &PluginOpenpid, now: Timestamp) {
    let plugin = tokens::token_app(st, call.access_token.as_deref(), now);
    if let (Ok(plugin), Ok(Some(code))) = (plugin, &call.body)
        && let Some(entry) = live_code(&mut st.plugins, &plugin, code, now)
    {
        entry.used = true;
    }
}

/// App (the plugin whose token is sent) and user (the code's) of a getpluginopenpid request.
pub(super) fn context(
    st: &State,
    call: &PluginOpenpid,
    now: Timestamp,
) -> (Option<AppId>, Option<UserHandle>) {
    let plugin = tokens::token_app(st, call.access_token.as_deref(), now).ok();
    let user = match (&plugin, &call.body) {
        (Some(plugin), Ok(Some(code))) => st
            .plugins
            .codes
            .get(code.as_str())
            .filter(|e| e.plugin == *plugin)
            .map(|e| e.user.clone()),
        _ => None,
    };
    (plugin, user)
}
