//! The development adapter: codes go to the log (warn level, target `login_core::sms`), not to
//! a phone. The configuration refuses it unless login-core listens on a loopback address (or
//! `sms.allow_log_provider` says otherwise), so a deployment cannot log codes by accident.

use async_trait::async_trait;

use super::{SmsError, SmsMessage, SmsReceipt, SmsSender};

/// Writes each code to the log.
#[derive(Clone, Copy, Debug, Default)]
pub struct LogSms;

#[async_trait]
impl SmsSender for LogSms {
    async fn send(&self, message: &SmsMessage) -> Result<SmsReceipt, SmsError> {
        tracing::warn!(
            target: "login_core::sms",
            phone = %message.phone.e164(),
            code = message.code.expose(),
            minutes = message.minutes(),
            "SMS code, logged instead of sent (sms.provider = \"log\", for development only)"
        );
        Ok(SmsReceipt::default())
    }
}
