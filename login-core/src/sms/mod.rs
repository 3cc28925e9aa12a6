//! Sending SMS codes: the port ([`SmsSender`], one call, no policy), and its adapters: nothing
//! configured ([`NoSms`]), the log for development ([`log::LogSms`]), and Tencent Cloud SMS
//! ([`tencent::TencentSms`], signed with [`tc3`]). What a failure means for the client is
//! decided in one place, `service/sms.rs`.

pub mod log;
pub mod tc3;
pub mod tencent;

use std::time::Duration;

use async_trait::async_trait;

use crate::ids::SmsCode;
use crate::phone::PhoneNumber;

/// One verification code to deliver.
#[derive(Clone, Debug)]
pub struct SmsMessage {
    /// The number.
    pub phone: PhoneNumber,
    /// The code.
    pub code: SmsCode,
    /// How long the code stays usable (templates say it in minutes).
    pub ttl: Duration,
}

impl SmsMessage {
    /// The code's lifetime in whole minutes, at least 1.
    pub fn minutes(&self) -> u64 {
        self.ttl.as_secs().div_ceil(60).max(1)
    }
}

/// What the gateway said of a delivered message.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct SmsReceipt {
    /// The gateway's id of the message (`SerialNo`).
    pub serial_no: Option<String>,
    /// The gateway's id of the request (`RequestId`).
    pub request_id: Option<String>,
}

/// How long a gateway's limit lasts.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum LimitWindow {
    /// This many seconds.
    Seconds(u64),
    /// Until the next hour.
    Hour,
    /// Until midnight, China time (UTC+8): daily quotas.
    DayInChina,
}

/// How a send failed.
#[derive(Clone, Debug, PartialEq, Eq, thiserror::Error)]
pub enum SmsError {
    /// No provider is configured (`sms.provider = "none"`).
    #[error("no SMS provider is configured")]
    NotConfigured,
    /// The gateway's limit for this number or this account.
    #[error("the SMS gateway's limit {code}")]
    RateLimited {
        /// The gateway's code (`LimitExceeded.PhoneNumberDailyLimit`).
        code: String,
        /// Until when.
        window: LimitWindow,
    },
    /// The gateway refused the number: invalid, blocked, or in a region not served.
    #[error("the SMS gateway refused the number: {code}")]
    NumberRefused {
        /// The gateway's code.
        code: String,
    },
    /// The gateway rejected this server's credentials, signature, template or account.
    #[error("the SMS gateway rejected this server's setup: {code}: {message}")]
    Misconfigured {
        /// The gateway's code (`AuthFailure.SignatureFailure`).
        code: String,
        /// The gateway's message.
        message: String,
    },
    /// The gateway failed, was unreachable, too slow, or answered something unusable.
    #[error("the SMS gateway is unavailable: {0}")]
    Unavailable(String),
}

/// An SMS gateway: one call per message, exactly as on the wire; no retries.
#[async_trait]
pub trait SmsSender: Send + Sync + 'static {
    /// Sends `message`.
    async fn send(&self, message: &SmsMessage) -> Result<SmsReceipt, SmsError>;
}

/// No gateway: every send is [`SmsError::NotConfigured`].
#[derive(Clone, Copy, Debug, Default)]
pub struct NoSms;

#[async_trait]
impl SmsSender for NoSms {
    async fn send(&self, _: &SmsMessage) -> Result<SmsReceipt, SmsError> {
        Err(SmsError::NotConfigured)
    }
}
