//! Turning a client's `encryptedData` + `iv` (and `rawData` + `signature`, when sent) into
//! trusted JSON: check the signature and decrypt with the session's stored key, then check the
//! watermark (this app, recent enough) before anything is used, then read as the payload's
//! layout (`wechat::opendata`). When the data does not open,
//! WeChat is asked whether the stored key is still current: a `wx.login` the backend never saw
//! rotates the key at WeChat, and every later payload is sealed with a key this server lacks.

use serde::de::DeserializeOwned;
use serde_json::{Map, Value};

use crate::crypto::{OpenDataError, constant_time_eq, decrypt_open_data, raw_data_signature};
use crate::ids::{AppId, OpenId, SessionKey};
use crate::wechat::Endpoint;

use super::session::KeyVerdict;
use super::{Authenticated, Error, Services};

/// How far in the future a watermark may be (clock skew between WeChat and us).
const MAX_SKEW_SECS: i64 = 300;

/// Open data as the client forwarded it.
#[derive(Clone, Copy, Debug)]
pub(super) struct Forwarded<'a> {
    /// `encryptedData`.
    pub encrypted_data: &'a str,
    /// `iv`.
    pub iv: &'a str,
    /// `rawData` and `signature`, if the client sent them.
    pub signed: Option<(&'a str, &'a str)>,
}

impl Services {
    /// Checks and decrypts open data with the session's stored key, then its watermark, and
    /// reads it as `T`; `what` names the expected payload in errors. Refused data that a
    /// rotated key would explain is [`Error::SessionKeyStale`] when WeChat says the stored key
    /// is no longer current.
    pub(super) async fn open_data<T: DeserializeOwned>(
        &self,
        auth: &Authenticated,
        sent: Forwarded<'_>,
        what: &'static str,
    ) -> Result<T, Error> {
        let openid = auth.wechat()?;
        let key = self.session_key(&auth.appid, openid).await?;
        let data = match unseal(&key, sent, what) {
            Ok(data) => data,
            Err(refusal) => return Err(self.explain(auth, openid, &key, refusal).await),
        };
        let data = self.check_watermark(&auth.appid, openid, data, what)?;
        read(data, what)
    }

    /// Checks and decrypts open data with a session_key fresh from a code exchange of the same
    /// request (nothing stored to judge: a refusal stands), then its watermark, and reads it as
    /// `T`.
    pub(super) fn open_fresh<T: DeserializeOwned>(
        &self,
        appid: &AppId,
        openid: &OpenId,
        key: &SessionKey,
        sent: Forwarded<'_>,
        what: &'static str,
    ) -> Result<T, Error> {
        let data = unseal(key, sent, what)?;
        let data = self.check_watermark(appid, openid, data, what)?;
        read(data, what)
    }

    /// The answer to data that did not open. A bad signature, bad padding or bytes that are
    /// not JSON are what data sealed under another key gives, so WeChat's checksession judges
    /// the stored key: stale, and the client must log in again (401); current, and the data
    /// itself is bad (the refusal stands). Without a verdict (transport, `-1`) the refusal
    /// stands too: a data error is not turned into a 5xx.
    async fn explain(
        &self,
        auth: &Authenticated,
        openid: &OpenId,
        key: &SessionKey,
        refusal: Error,
    ) -> Error {
        let wrong_key_would_do_this = matches!(
            refusal,
            Error::SignatureMismatch
                | Error::OpenData(OpenDataError::Undecryptable)
                | Error::OpenDataShape(_)
        );
        if !wrong_key_would_do_this {
            return refusal;
        }
        let Ok(app) = self.app(Some(auth.appid.as_str())) else {
            return refusal;
        };
        match self.judge_session_key(app, openid, key).await {
            Ok(KeyVerdict::Current) => refusal,
            Ok(KeyVerdict::Stale) => Error::SessionKeyStale,
            Err(e) => {
                tracing::warn!(
                    appid = %auth.appid,
                    endpoint = Endpoint::CheckSession.as_str(),
                    error = %e,
                    refusal = refusal.code(),
                    "open data did not open and WeChat could not say whether the stored session_key is current; answering the data error"
                );
                refusal
            }
        }
    }

    /// The watermark names `app` and is recent; any `openId` is `openid`.
    fn check_watermark(
        &self,
        app: &AppId,
        openid: &OpenId,
        data: Map<String, Value>,
        what: &'static str,
    ) -> Result<Map<String, Value>, Error> {
        let watermark = data.get("watermark").and_then(Value::as_object);
        let appid = watermark
            .and_then(|w| w.get("appid"))
            .and_then(Value::as_str);
        let timestamp = watermark
            .and_then(|w| w.get("timestamp"))
            .and_then(Value::as_i64);
        let (Some(appid), Some(timestamp)) = (appid, timestamp) else {
            return Err(Error::OpenDataShape(what));
        };
        if appid != app.as_str() {
            return Err(Error::WatermarkMismatch);
        }
        let now = self.now().secs();
        let max_age = i64::try_from(self.limits.open_data_max_age.as_secs()).unwrap_or(i64::MAX);
        if now.saturating_sub(timestamp) > max_age || timestamp.saturating_sub(now) > MAX_SKEW_SECS
        {
            return Err(Error::WatermarkExpired { timestamp });
        }
        if let Some(open_id) = data.get("openId") {
            if open_id.as_str() != Some(openid.as_str()) {
                return Err(Error::IdentityMismatch);
            }
        }
        Ok(data)
    }
}

/// Checked open data as its payload's layout.
fn read<T: DeserializeOwned>(data: Map<String, Value>, what: &'static str) -> Result<T, Error> {
    serde_json::from_value(Value::Object(data)).map_err(|_| Error::OpenDataShape(what))
}

/// The signature (when sent) and the decryption under `key`: the JSON object inside.
fn unseal(
    key: &SessionKey,
    sent: Forwarded<'_>,
    what: &'static str,
) -> Result<Map<String, Value>, Error> {
    if let Some((raw_data, signature)) = sent.signed {
        let expected = raw_data_signature(raw_data, key);
        if !constant_time_eq(&expected, &signature.to_ascii_lowercase()) {
            return Err(Error::SignatureMismatch);
        }
    }
    let plain = decrypt_open_data(key, sent.encrypted_data, sent.iv).map_err(Error::open_data)?;
    match serde_json::from_slice::<Value>(&plain) {
        Ok(Value::Object(data)) => Ok(data),
        _ => Err(Error::OpenDataShape(what)),
    }
}
