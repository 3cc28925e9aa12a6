//! Turning a client's `encryptedData` + `iv` into trusted JSON: decrypt with the session's
//! stored key, then check the watermark (this app, recent enough) before anything is used.

use serde_json::{Map, Value};

use crate::crypto::decrypt_open_data;
use crate::ids::SessionKey;

use super::{Authenticated, Error, Services};

/// How far in the future a watermark may be (clock skew between WeChat and us).
const MAX_SKEW_SECS: i64 = 300;

impl Services {
    /// Decrypts and checks open data; `what` names the expected payload in errors.
    pub(super) fn open_data(
        &self,
        auth: &Authenticated,
        key: &SessionKey,
        encrypted_data: &str,
        iv: &str,
        what: &'static str,
    ) -> Result<Map<String, Value>, Error> {
        let plain = decrypt_open_data(key, encrypted_data, iv).map_err(Error::open_data)?;
        let Ok(Value::Object(data)) = serde_json::from_slice::<Value>(&plain) else {
            return Err(Error::OpenDataShape(what));
        };
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
        if appid != auth.appid.as_str() {
            return Err(Error::WatermarkMismatch);
        }
        let now = self.now().secs();
        let max_age = i64::try_from(self.limits.open_data_max_age.as_secs()).unwrap_or(i64::MAX);
        if now.saturating_sub(timestamp) > max_age || timestamp.saturating_sub(now) > MAX_SKEW_SECS
        {
            return Err(Error::WatermarkExpired { timestamp });
        }
        if let Some(open_id) = data.get("openId") {
            if open_id.as_str() != Some(auth.openid.as_str()) {
                return Err(Error::IdentityMismatch);
            }
        }
        Ok(data)
    }
}
