//! A typed client for the control plane, for tests and tools written in Rust.

use serde::Serialize;
use serde::de::DeserializeOwned;

use crate::config::{AppSpec, UserSpec};
use crate::control::{ClockView, ErrorBody};
use crate::engine::{
    AppView, LoginGrant, PhoneGrant, ShareInfoGrant, SmsMessage, SmsOutbox, StateView,
    UserKeyGrant, UserView, WeRunGrant,
};
use crate::faults::FaultSpec;
use crate::ids::{AppId, UserHandle};
use crate::journal::JournalPage;
use crate::opendata::{RuleEra, Tamper, UserInfoApi, UserInfoGrant};
use crate::tencent::{SmsConfigPatch, SmsConfigView};

/// Errors of control-plane calls.
#[derive(Debug, thiserror::Error)]
pub enum ClientError {
    /// The request did not complete.
    #[error("control-plane request failed: {0}")]
    Http(#[from] reqwest::Error),
    /// The control plane refused the request.
    #[error("control plane answered {status} {code}: {message}")]
    Api {
        /// HTTP status.
        status: u16,
        /// Stable error code.
        code: String,
        /// Message.
        message: String,
    },
}

/// Control-plane client bound to one mock server.
#[derive(Clone, Debug)]
pub struct ControlClient {
    base: String,
    token: Option<String>,
    http: reqwest::Client,
}

impl ControlClient {
    /// A client for the mock at `base_url` (`http://127.0.0.1:PORT`).
    pub fn new(base_url: &str, token: Option<&str>) -> Self {
        Self {
            base: format!("{}/__mock__", base_url.trim_end_matches('/')),
            token: token.map(str::to_owned),
            http: reqwest::Client::new(),
        }
    }

    async fn call<T: DeserializeOwned>(
        &self,
        method: reqwest::Method,
        path: &str,
        body: Option<&(impl Serialize + ?Sized)>,
    ) -> Result<T, ClientError> {
        let mut req = self.http.request(method, format!("{}{path}", self.base));
        if let Some(t) = &self.token {
            req = req.bearer_auth(t);
        }
        if let Some(b) = body {
            req = req.json(b);
        }
        let resp = req.send().await?;
        let status = resp.status();
        let bytes = resp.bytes().await?;
        if status.is_success() {
            serde_json::from_slice(&bytes).map_err(|e| ClientError::Api {
                status: status.as_u16(),
                code: "unexpected_body".into(),
                message: e.to_string(),
            })
        } else {
            let (code, message) = match serde_json::from_slice::<ErrorBody>(&bytes) {
                Ok(e) => (e.error.code, e.error.message),
                Err(_) => (
                    "unexpected_body".into(),
                    String::from_utf8_lossy(&bytes).into_owned(),
                ),
            };
            Err(ClientError::Api {
                status: status.as_u16(),
                code,
                message,
            })
        }
    }

    async fn get<T: DeserializeOwned>(&self, path: &str) -> Result<T, ClientError> {
        self.call(reqwest::Method::GET, path, None::<&()>).await
    }

    async fn post<T: DeserializeOwned>(
        &self,
        path: &str,
        body: &(impl Serialize + ?Sized),
    ) -> Result<T, ClientError> {
        self.call(reqwest::Method::POST, path, Some(body)).await
    }

    /// The simulated mini-program's `wx.login` for `user` in `appid`.
    pub async fn wx_login(&self, appid: &AppId, user: &str) -> Result<LoginGrant, ClientError> {
        self.post(
            "/wx/login",
            &serde_json::json!({"appid": appid, "user": user}),
        )
        .await
    }

    /// The simulated getPhoneNumber button: a phone-number code.
    pub async fn wx_phone_code(
        &self,
        appid: &AppId,
        user: &str,
    ) -> Result<PhoneGrant, ClientError> {
        self.post(
            "/wx/getPhoneNumber",
            &serde_json::json!({"appid": appid, "user": user}),
        )
        .await
    }

    /// The getPhoneNumber button with an optional tamper on its legacy `encryptedData`.
    pub async fn wx_phone_number(
        &self,
        appid: &AppId,
        user: &str,
        tamper: Option<Tamper>,
    ) -> Result<PhoneGrant, ClientError> {
        self.post(
            "/wx/getPhoneNumber",
            &serde_json::json!({"appid": appid, "user": user, "tamper": tamper}),
        )
        .await
    }

    /// `wx.getUserInfo` or `wx.getUserProfile` (by `api`); `era` left out: the app's rules.
    pub async fn wx_user_info(
        &self,
        appid: &AppId,
        user: &str,
        api: UserInfoApi,
        era: Option<RuleEra>,
        tamper: Option<Tamper>,
    ) -> Result<UserInfoGrant, ClientError> {
        let path = match api {
            UserInfoApi::GetUserInfo => "/wx/getUserInfo",
            UserInfoApi::GetUserProfile => "/wx/getUserProfile",
        };
        self.post(
            path,
            &serde_json::json!({"appid": appid, "user": user, "era": era, "tamper": tamper}),
        )
        .await
    }

    /// `wx.getShareInfo` for a share card opened in the chat group named `group`.
    pub async fn wx_share_info(
        &self,
        appid: &AppId,
        user: &str,
        group: &str,
        tamper: Option<Tamper>,
    ) -> Result<ShareInfoGrant, ClientError> {
        self.post(
            "/wx/getShareInfo",
            &serde_json::json!({"appid": appid, "user": user, "group": group, "tamper": tamper}),
        )
        .await
    }

    /// `wx.getWeRunData`; `steps` (exactly 31, oldest first) left out: derived from the seed.
    pub async fn wx_werun(
        &self,
        appid: &AppId,
        user: &str,
        steps: Option<&[u32]>,
        tamper: Option<Tamper>,
    ) -> Result<WeRunGrant, ClientError> {
        self.post(
            "/wx/getWeRunData",
            &serde_json::json!({"appid": appid, "user": user, "steps": steps, "tamper": tamper}),
        )
        .await
    }

    /// `wx.getUserCryptoManager().getLatestUserKey()`: the latest user encrypt key and, with
    /// `data`, its ciphertext under that key.
    pub async fn wx_user_key(
        &self,
        appid: &AppId,
        user: &str,
        data: Option<&serde_json::Value>,
    ) -> Result<UserKeyGrant, ClientError> {
        self.post(
            "/wx/getUserCryptoManager",
            &serde_json::json!({"appid": appid, "user": user, "data": data}),
        )
        .await
    }

    /// Creates an app.
    pub async fn create_app(&self, spec: &AppSpec) -> Result<AppView, ClientError> {
        self.post("/apps", spec).await
    }

    /// Creates a user.
    pub async fn create_user(&self, spec: &UserSpec) -> Result<UserView, ClientError> {
        self.post("/users", spec).await
    }

    /// Changes a user.
    pub async fn patch_user(
        &self,
        handle: &UserHandle,
        spec: &UserSpec,
    ) -> Result<UserView, ClientError> {
        self.call(
            reqwest::Method::PATCH,
            &format!("/users/{handle}"),
            Some(spec),
        )
        .await
    }

    /// One user.
    pub async fn user(&self, handle: &str) -> Result<UserView, ClientError> {
        self.get(&format!("/users/{handle}")).await
    }

    /// The whole state.
    pub async fn state(&self) -> Result<StateView, ClientError> {
        self.get("/state").await
    }

    /// Back to the startup state.
    pub async fn reset(&self) -> Result<serde_json::Value, ClientError> {
        self.post("/reset", &()).await
    }

    /// Changes options (a JSON object of the fields to change).
    pub async fn set_options(
        &self,
        patch: &serde_json::Value,
    ) -> Result<serde_json::Value, ClientError> {
        self.call(reqwest::Method::PATCH, "/options", Some(patch))
            .await
    }

    /// Moves the clock forward (`"5m"`, `"301s"`).
    pub async fn advance(&self, by: &str) -> Result<ClockView, ClientError> {
        self.post("/clock", &serde_json::json!({ "advance": by }))
            .await
    }

    /// Sets the clock to Unix seconds.
    pub async fn set_clock(&self, unix_secs: i64) -> Result<ClockView, ClientError> {
        self.post("/clock", &serde_json::json!({ "set": unix_secs }))
            .await
    }

    /// Freezes the clock.
    pub async fn freeze(&self) -> Result<ClockView, ClientError> {
        self.post("/clock", &serde_json::json!({ "freeze": true }))
            .await
    }

    /// Reads the journal; `query` is a query string such as `endpoint=jscode2session`.
    pub async fn journal(&self, query: &str) -> Result<JournalPage, ClientError> {
        self.get(&format!("/journal?{query}")).await
    }

    /// Adds a fault rule and returns it as stored.
    pub async fn add_fault(&self, spec: &FaultSpec) -> Result<serde_json::Value, ClientError> {
        self.post("/faults", spec).await
    }

    /// Removes every fault rule.
    pub async fn clear_faults(&self) -> Result<serde_json::Value, ClientError> {
        self.call(reqwest::Method::DELETE, "/faults", None::<&()>)
            .await
    }

    /// Removes one fault rule.
    pub async fn remove_fault(&self, id: u64) -> Result<serde_json::Value, ClientError> {
        self.call(
            reqwest::Method::DELETE,
            &format!("/faults/{id}"),
            None::<&()>,
        )
        .await
    }

    /// The SMS outbox; `query` is a query string such as `since=3` (see [`Self::sms_to`] for
    /// phone numbers, whose `+` must be percent-encoded).
    pub async fn sms_outbox(&self, query: &str) -> Result<SmsOutbox, ClientError> {
        self.get(&format!("/sms?{query}")).await
    }

    /// Every message the SMS gateway sent to `phone` (any form SendSms takes:
    /// `+8613800138000`, `13800138000`), oldest first.
    pub async fn sms_to(&self, phone: &str) -> Result<Vec<SmsMessage>, ClientError> {
        let query = serde_urlencoded::to_string([("phone", phone)]).unwrap_or_default();
        Ok(self.sms_outbox(&query).await?.messages)
    }

    /// The latest message the SMS gateway sent to `phone`, if any.
    pub async fn last_sms(&self, phone: &str) -> Result<Option<SmsMessage>, ClientError> {
        let query =
            serde_urlencoded::to_string([("phone", phone), ("last", "1")]).unwrap_or_default();
        Ok(self.sms_outbox(&query).await?.messages.pop())
    }

    /// The code of the latest verification message to `phone`: what the user would type.
    pub async fn last_sms_code(&self, phone: &str) -> Result<Option<String>, ClientError> {
        Ok(self.last_sms(phone).await?.and_then(|m| m.code))
    }

    /// Empties the SMS outbox; returns `{"removed": n}`.
    pub async fn clear_sms(&self) -> Result<serde_json::Value, ClientError> {
        self.call(reqwest::Method::DELETE, "/sms", None::<&()>)
            .await
    }

    /// The SMS gateway's configuration: key, SmsSdkAppIds, sign names, templates, limits.
    pub async fn sms_config(&self) -> Result<SmsConfigView, ClientError> {
        self.get("/sms/config").await
    }

    /// Changes the SMS gateway's configuration.
    pub async fn set_sms_config(
        &self,
        patch: &SmsConfigPatch,
    ) -> Result<SmsConfigView, ClientError> {
        self.call(reqwest::Method::PATCH, "/sms/config", Some(patch))
            .await
    }

    /// Any control-plane call, with an optional JSON body, answered as JSON: for bodies
    /// written elsewhere (a scenario file, a seed file) that have no type here.
    pub async fn raw(
        &self,
        method: reqwest::Method,
        path: &str,
        body: Option<&serde_json::Value>,
    ) -> Result<serde_json::Value, ClientError> {
        self.call(method, path, body).await
    }
}
