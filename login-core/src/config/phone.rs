//! Configuration of the phone-first logins: each app's registration policy, registration
//! tickets, SMS codes and their limits, passwords, and the SMS gateway.

use std::time::Duration;

use serde::Deserialize;

use super::{Config, ConfigError};

/// What `POST /api/login` does for a WeChat user no account knows (by openid, or by unionid
/// from another app of the same open platform).
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum Registration {
    /// Create the user at once (the WeChat identity is the account).
    #[default]
    Auto,
    /// Answer `401 registration_required` with a registration ticket: the client verifies a
    /// phone number (SMS code, password, or WeChat's phone number) and the account is made
    /// then. Nothing but the ticket is written.
    PhoneRequired,
}

impl std::str::FromStr for Registration {
    type Err = String;

    fn from_str(s: &str) -> Result<Self, String> {
        match s {
            "auto" => Ok(Self::Auto),
            "phone_required" => Ok(Self::PhoneRequired),
            other => Err(format!(
                "registration must be \"auto\" or \"phone_required\", not {other:?}"
            )),
        }
    }
}

/// Tickets, SMS codes and passwords.
#[derive(Clone, Debug, Deserialize)]
#[serde(default, deny_unknown_fields)]
pub struct PhoneConfig {
    /// How long a registration ticket stays usable (once).
    #[serde(with = "humantime_serde")]
    pub ticket_ttl: Duration,
    /// How long an SMS code stays usable (once).
    #[serde(with = "humantime_serde")]
    pub code_ttl: Duration,
    /// Wrong tries a code survives; the last one voids it.
    pub code_attempts: u32,
    /// Least time between two codes sent to one number (`0s`: none). The limits below are off
    /// when 0.
    #[serde(with = "humantime_serde")]
    pub sms_interval: Duration,
    /// Codes sent to one number per hour.
    pub sms_per_number_per_hour: u32,
    /// Codes requested from one client address per hour.
    pub sms_per_address_per_hour: u32,
    /// Password logins per number within `password_window`.
    pub password_attempts_per_number: u32,
    /// Password logins per client address within `password_window`.
    pub password_attempts_per_address: u32,
    /// The window of the two limits above, from the first attempt.
    #[serde(with = "humantime_serde")]
    pub password_window: Duration,
    /// Shortest password accepted, in characters.
    pub password_min_chars: usize,
    /// argon2id's work per hash.
    pub password_hash: PasswordHashConfig,
}

impl Default for PhoneConfig {
    fn default() -> Self {
        Self {
            ticket_ttl: Duration::from_secs(600),
            code_ttl: Duration::from_secs(300),
            code_attempts: 5,
            sms_interval: Duration::from_secs(60),
            sms_per_number_per_hour: 5,
            sms_per_address_per_hour: 20,
            password_attempts_per_number: 10,
            password_attempts_per_address: 50,
            password_window: Duration::from_secs(900),
            password_min_chars: 8,
            password_hash: PasswordHashConfig::default(),
        }
    }
}

/// argon2id parameters (the defaults are OWASP's: 19 MiB, 2 passes, 1 lane).
#[derive(Clone, Copy, Debug, Deserialize)]
#[serde(default, deny_unknown_fields)]
pub struct PasswordHashConfig {
    /// Memory per hash, in KiB.
    pub memory_kib: u32,
    /// Passes over the memory.
    pub iterations: u32,
    /// Lanes.
    pub parallelism: u32,
}

impl Default for PasswordHashConfig {
    fn default() -> Self {
        Self {
            memory_kib: 19_456,
            iterations: 2,
            parallelism: 1,
        }
    }
}

/// Where SMS codes go.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum SmsProvider {
    /// No SMS: `POST /api/sms/send` answers `503 sms_unavailable`.
    #[default]
    None,
    /// Development: codes are written to the log. Refused unless `listen` is a loopback address
    /// or `sms.allow_log_provider` is set.
    Log,
    /// Tencent Cloud SMS (`SendSms`, API 3.0).
    Tencent,
}

impl std::str::FromStr for SmsProvider {
    type Err = String;

    fn from_str(s: &str) -> Result<Self, String> {
        match s {
            "none" => Ok(Self::None),
            "log" => Ok(Self::Log),
            "tencent" => Ok(Self::Tencent),
            other => Err(format!(
                "the SMS provider must be \"none\", \"log\" or \"tencent\", not {other:?}"
            )),
        }
    }
}

/// The SMS gateway.
#[derive(Clone, Debug, Default, Deserialize)]
#[serde(default, deny_unknown_fields)]
pub struct SmsConfig {
    /// `none`, `log` or `tencent`.
    pub provider: SmsProvider,
    /// Let the log provider run on a non-loopback address (a shared test server).
    pub allow_log_provider: bool,
    /// Tencent Cloud SMS, for `provider = "tencent"`.
    pub tencent: TencentSmsConfig,
}

/// A Tencent Cloud SecretKey, redacted in `Debug`.
#[derive(Clone, Default, Deserialize)]
#[serde(transparent)]
pub struct TencentSecretKey(pub String);

impl std::fmt::Debug for TencentSecretKey {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str("TencentSecretKey(<redacted>)")
    }
}

/// Tencent Cloud SMS `SendSms` (API 3.0, version 2021-01-11).
#[derive(Clone, Debug, Deserialize)]
#[serde(default, deny_unknown_fields)]
pub struct TencentSmsConfig {
    /// The URL requests are POSTed to; its host is the signed `Host` (point it at the mock).
    pub endpoint: String,
    /// `X-TC-Region`.
    pub region: String,
    /// The API key's SecretId.
    pub secret_id: String,
    /// The API key's SecretKey.
    pub secret_key: TencentSecretKey,
    /// `SmsSdkAppId`: the SMS application.
    pub sms_sdk_app_id: String,
    /// `SignName`: the approved signature (mainland numbers).
    pub sign_name: String,
    /// `TemplateId`: the approved verification-code template.
    pub template_id: String,
    /// `TemplateParamSet`, in the template's order: `{code}` is replaced by the code, `{minutes}`
    /// by its lifetime in minutes.
    pub template_params: Vec<String>,
    /// Time budget of one request.
    #[serde(with = "humantime_serde")]
    pub timeout: Duration,
}

impl Default for TencentSmsConfig {
    fn default() -> Self {
        Self {
            endpoint: "https://sms.tencentcloudapi.com".into(),
            region: "ap-guangzhou".into(),
            secret_id: String::new(),
            secret_key: TencentSecretKey::default(),
            sms_sdk_app_id: String::new(),
            sign_name: String::new(),
            template_id: String::new(),
            template_params: vec!["{code}".into(), "{minutes}".into()],
            timeout: Duration::from_secs(5),
        }
    }
}

/// Checks the phone and SMS settings of `config`.
pub(super) fn validate(config: &Config) -> Result<(), ConfigError> {
    let bad = |m: String| Err(ConfigError::Invalid(m));
    let phone = &config.phone;
    if phone.ticket_ttl.is_zero() || phone.code_ttl.is_zero() {
        return bad("phone.ticket_ttl and phone.code_ttl must be positive".into());
    }
    if phone.code_attempts == 0 {
        return bad("phone.code_attempts must be at least 1".into());
    }
    if phone.password_window.is_zero() {
        return bad("phone.password_window must be positive".into());
    }
    if !(6..=crate::password::MAX_CHARS).contains(&phone.password_min_chars) {
        return bad(format!(
            "phone.password_min_chars must be 6 to {}",
            crate::password::MAX_CHARS
        ));
    }
    let sms = &config.sms;
    match sms.provider {
        SmsProvider::None => {}
        SmsProvider::Log => {
            if !config.listen.ip().is_loopback() && !sms.allow_log_provider {
                return bad(format!(
                    "sms.provider = \"log\" writes every code to the log, which is for development: it is refused \
                     while listen ({}) is not a loopback address. Configure sms.provider = \"tencent\", or set \
                     sms.allow_log_provider = true for a shared test server",
                    config.listen
                ));
            }
        }
        SmsProvider::Tencent => {
            let t = &sms.tencent;
            for (key, value) in [
                ("secret_id", &t.secret_id),
                ("secret_key", &t.secret_key.0),
                ("sms_sdk_app_id", &t.sms_sdk_app_id),
                ("sign_name", &t.sign_name),
                ("template_id", &t.template_id),
                ("region", &t.region),
            ] {
                if value.trim().is_empty() {
                    return bad(format!(
                        "sms.tencent.{key} is required with sms.provider = \"tencent\""
                    ));
                }
            }
            if !(t.endpoint.starts_with("http://") || t.endpoint.starts_with("https://")) {
                return bad("sms.tencent.endpoint must be an http:// or https:// URL".into());
            }
            if t.timeout.is_zero() {
                return bad("sms.tencent.timeout must be positive".into());
            }
            if !t.template_params.iter().any(|p| p.contains("{code}")) {
                return bad("sms.tencent.template_params must contain {code}".into());
            }
        }
    }
    Ok(())
}
