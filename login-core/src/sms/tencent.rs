//! Tencent Cloud SMS, `SendSms` of API 3.0 (version 2021-01-11): one signed JSON POST per code.
//!
//! Request: `POST <endpoint>` with `X-TC-Action: SendSms`, `X-TC-Version: 2021-01-11`,
//! `X-TC-Region`, `X-TC-Timestamp` (the injected clock), `Authorization` (TC3-HMAC-SHA256 over
//! `content-type;host`, see [`super::tc3`]) and the body
//! `{"PhoneNumberSet":["+86…"],"SmsSdkAppId","SignName","TemplateId","TemplateParamSet"}`.
//!
//! Answers: HTTP 200 either way. Success is
//! `{"Response":{"SendStatusSet":[{"SerialNo","PhoneNumber","Fee","SessionContext","Code":"Ok",
//! "Message","IsoCode"}],"RequestId"}}`; a request-level failure is
//! `{"Response":{"Error":{"Code","Message"},"RequestId"}}`; a per-number failure is a
//! `SendStatusSet` entry whose `Code` is not `Ok`. Both kinds of code are classified by
//! [`classify`] into an [`SmsError`].

use std::time::Duration;

use async_trait::async_trait;
use reqwest::Url;
use serde::Deserialize;
use serde_json::json;

use super::tc3::Signing;
use super::{LimitWindow, SmsError, SmsMessage, SmsReceipt, SmsSender};
use crate::clock::SharedClock;
use crate::config::TencentSmsConfig;

/// `X-TC-Action`.
pub const ACTION: &str = "SendSms";
/// `X-TC-Version`.
pub const VERSION: &str = "2021-01-11";
/// The product in the credential scope.
pub const SERVICE: &str = "sms";
/// The `Content-Type` sent and signed.
pub const CONTENT_TYPE: &str = "application/json; charset=utf-8";

/// The Tencent Cloud SMS adapter.
pub struct TencentSms {
    http: reqwest::Client,
    endpoint: Url,
    /// The `Host` header reqwest sends for `endpoint` (port included when not the default).
    host: String,
    config: TencentSmsConfig,
    clock: SharedClock,
}

impl std::fmt::Debug for TencentSms {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("TencentSms")
            .field("endpoint", &self.endpoint.as_str())
            .field("secret_id", &self.config.secret_id)
            .finish_non_exhaustive()
    }
}

impl TencentSms {
    /// An adapter for `config`, signing with the time of `clock`.
    pub fn new(config: &TencentSmsConfig, clock: SharedClock) -> Result<Self, String> {
        let endpoint = Url::parse(&config.endpoint)
            .map_err(|e| format!("sms.tencent.endpoint {:?}: {e}", config.endpoint))?;
        let host = match (endpoint.host_str(), endpoint.port()) {
            (Some(h), Some(p)) => format!("{h}:{p}"),
            (Some(h), None) => h.to_owned(),
            (None, _) => {
                return Err(format!(
                    "sms.tencent.endpoint {:?} has no host",
                    config.endpoint
                ));
            }
        };
        let http = reqwest::Client::builder()
            .timeout(config.timeout)
            .connect_timeout(config.timeout.min(Duration::from_secs(2)))
            .build()
            .map_err(|e| format!("sms.tencent: {e}"))?;
        Ok(Self {
            http,
            endpoint,
            host,
            config: config.clone(),
            clock,
        })
    }

    /// The request body for `message`.
    fn body(&self, message: &SmsMessage) -> String {
        let minutes = message.minutes().to_string();
        let params: Vec<String> = (self.config.template_params.iter())
            .map(|p| {
                p.replace("{code}", message.code.expose())
                    .replace("{minutes}", &minutes)
            })
            .collect();
        json!({
            "PhoneNumberSet": [message.phone.e164()],
            "SmsSdkAppId": self.config.sms_sdk_app_id,
            "SignName": self.config.sign_name,
            "TemplateId": self.config.template_id,
            "TemplateParamSet": params,
        })
        .to_string()
    }
}

#[derive(Debug, Deserialize)]
struct Envelope {
    #[serde(rename = "Response")]
    response: Body,
}

#[derive(Debug, Deserialize)]
struct Body {
    #[serde(rename = "Error")]
    error: Option<ApiError>,
    #[serde(rename = "SendStatusSet", default)]
    send_status_set: Vec<SendStatus>,
    #[serde(rename = "RequestId")]
    request_id: Option<String>,
}

#[derive(Debug, Deserialize)]
struct ApiError {
    #[serde(rename = "Code")]
    code: String,
    #[serde(rename = "Message", default)]
    message: String,
}

#[derive(Debug, Deserialize)]
struct SendStatus {
    #[serde(rename = "SerialNo", default)]
    serial_no: Option<String>,
    #[serde(rename = "PhoneNumber", default)]
    phone_number: Option<String>,
    #[serde(rename = "Code")]
    code: String,
    #[serde(rename = "Message", default)]
    message: String,
}

#[async_trait]
impl SmsSender for TencentSms {
    async fn send(&self, message: &SmsMessage) -> Result<SmsReceipt, SmsError> {
        let payload = self.body(message);
        let timestamp = self.clock.now().secs();
        let authorization = Signing {
            secret_id: &self.config.secret_id,
            secret_key: &self.config.secret_key.0,
            service: SERVICE,
            host: &self.host,
            content_type: CONTENT_TYPE,
            timestamp,
        }
        .authorization(&payload);
        let resp = self
            .http
            .post(self.endpoint.clone())
            .header("Authorization", authorization)
            .header("Content-Type", CONTENT_TYPE)
            .header("X-TC-Action", ACTION)
            .header("X-TC-Version", VERSION)
            .header("X-TC-Region", &self.config.region)
            .header("X-TC-Timestamp", timestamp.to_string())
            .body(payload)
            .send()
            .await
            .map_err(|e| {
                SmsError::Unavailable(if e.is_timeout() {
                    format!("no answer within {:?}", self.config.timeout)
                } else {
                    format!("connection failed: {e}")
                })
            })?;
        let status = resp.status();
        let text = resp
            .text()
            .await
            .map_err(|e| SmsError::Unavailable(format!("the answer was cut short: {e}")))?;
        if !status.is_success() {
            return Err(SmsError::Unavailable(format!("HTTP {}", status.as_u16())));
        }
        read_answer(&text, &message.phone.e164())
    }
}

/// Reads a 200 answer to a send to `e164`.
fn read_answer(text: &str, e164: &str) -> Result<SmsReceipt, SmsError> {
    let Envelope { response } = serde_json::from_str(text)
        .map_err(|e| SmsError::Unavailable(format!("an answer that is not SendSms's JSON: {e}")))?;
    if let Some(error) = response.error {
        return Err(classify(&error.code, &error.message));
    }
    let status = (response.send_status_set.iter())
        .find(|s| s.phone_number.as_deref() == Some(e164))
        .or_else(|| response.send_status_set.first())
        .ok_or_else(|| SmsError::Unavailable("an answer without a SendStatus".into()))?;
    if status.code != "Ok" {
        return Err(classify(&status.code, &status.message));
    }
    Ok(SmsReceipt {
        serial_no: status.serial_no.clone(),
        request_id: response.request_id,
    })
}

/// What a Tencent Cloud error code means here: the gateway's limits, a number it refuses,
/// trouble on its side, or (everything else: authentication, signature, template, account,
/// parameters) this server's setup.
pub fn classify(code: &str, message: &str) -> SmsError {
    let limited = |window| SmsError::RateLimited {
        code: code.to_owned(),
        window,
    };
    match code {
        "LimitExceeded.PhoneNumberThirtySecondLimit" => limited(LimitWindow::Seconds(30)),
        "LimitExceeded.DeliveryFrequencyLimit" => limited(LimitWindow::Seconds(60)),
        "LimitExceeded.PhoneNumberOneHourLimit" => limited(LimitWindow::Hour),
        "LimitExceeded.PhoneNumberDailyLimit"
        | "LimitExceeded.PhoneNumberSameContentDailyLimit"
        | "LimitExceeded.DailyLimit"
        | "LimitExceeded.AppDailyLimit"
        | "LimitExceeded.AppGlobalDailyLimit"
        | "LimitExceeded.AppMainlandChinaDailyLimit"
        | "LimitExceeded.AppCountryOrRegionDailyLimit" => limited(LimitWindow::DayInChina),
        c if c.starts_with("RequestLimitExceeded") => limited(LimitWindow::Seconds(1)),
        "InvalidParameterValue.IncorrectPhoneNumber"
        | "FailedOperation.PhoneNumberInBlacklist"
        | "LimitExceeded.AppCountryOrRegionInBlacklist"
        | "UnsupportedOperation.UnsupportedRegion" => SmsError::NumberRefused {
            code: code.to_owned(),
        },
        c if c.starts_with("InternalError") || c.starts_with("ResourceUnavailable") => {
            SmsError::Unavailable(format!("{c}: {message}"))
        }
        c => SmsError::Misconfigured {
            code: c.to_owned(),
            message: message.to_owned(),
        },
    }
}

#[cfg(test)]
mod tests;
