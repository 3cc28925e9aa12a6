//! `POST /api/sms/send` and `POST /api/login/sms`: a 6-digit code to a number, then a login
//! (or registration) with it, optionally binding a registration ticket's WeChat identity.
//!
//! Codes come from the injected `Random` (uniform over 000000–999999), live `phone.code_ttl`
//! (5 minutes), survive `phone.code_attempts` (5) wrong tries, are single use, and are stored
//! only as HMAC-SHA256 under a key derived from the server key, with the purpose and the number
//! (so a database copy alone does not give them away). A new code replaces the pending one.
//! Sends are limited per number (one per `phone.sms_interval`, `phone.sms_per_number_per_hour`)
//! and per client address (`phone.sms_per_address_per_hour`), in memory (per process). The
//! answer is the same for every number: it says nothing of accounts.
//!
//! What a gateway failure means for the client is decided here, in [`Services::sms_error`].

use crate::clock::UnixMs;
use crate::ids::SmsCode;
use crate::phone::PhoneNumber;
use crate::random::bytes;
use crate::sms::{LimitWindow, SmsError, SmsMessage};
use crate::store::{NewSmsCode, PhoneLoginWrite, PhoneProof};

use super::phone_login::{parse_phone, parse_ticket};
use super::{Error, LoginOutput, Services, seconds_to_next};

/// The purposes a code can be sent for.
const PURPOSES: [&str; 1] = ["login"];

/// `POST /api/sms/send`, parsed from JSON.
#[derive(Debug)]
pub struct SmsSendRequest {
    /// The number as typed.
    pub phone: String,
    /// What the code is for: `login`.
    pub purpose: String,
}

/// A code on its way.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct SmsSent {
    /// Seconds the code stays usable.
    pub expires_in: u64,
    /// Seconds before another code can be sent to the number.
    pub resend_in: u64,
}

/// `POST /api/login/sms`, parsed from JSON.
#[derive(Debug)]
pub struct SmsLoginRequest {
    /// The number as typed.
    pub phone: String,
    /// The code as typed.
    pub code: String,
    /// A registration ticket, to bind its WeChat identity.
    pub ticket: Option<String>,
    /// The app of the session (default: the first configured; with a ticket, the ticket's).
    pub appid: Option<String>,
}

fn parse_purpose(text: &str) -> Result<&'static str, Error> {
    PURPOSES.into_iter().find(|p| *p == text).ok_or_else(|| {
        Error::field(
            "purpose",
            format!("must be one of: {}", PURPOSES.join(", ")),
        )
    })
}

/// A code as typed: exactly six ASCII digits.
fn parse_code(text: &str) -> Result<SmsCode, Error> {
    if text.len() == 6 && text.bytes().all(|b| b.is_ascii_digit()) {
        Ok(SmsCode::new(text))
    } else {
        Err(Error::field("code", "must be the 6 digits of the SMS code"))
    }
}

impl Services {
    /// A uniform 6-digit code (rejection sampling: no modulo bias).
    fn new_code(&self) -> SmsCode {
        // The largest multiple of 10^6 that fits in u32.
        const LIMIT: u32 = u32::MAX - (u32::MAX % 1_000_000) - 1;
        loop {
            let n = u32::from_le_bytes(bytes(self.random.as_ref()));
            if n <= LIMIT {
                return SmsCode::new(format!("{:06}", n % 1_000_000));
            }
        }
    }

    /// The stored form of a code.
    fn code_hash(&self, purpose: &str, phone: &PhoneNumber, code: &SmsCode) -> [u8; 32] {
        self.code_key.hash(&[purpose, &phone.e164(), code.expose()])
    }

    /// Sends a code to a number; `client` is the requester's address, for rate limiting.
    pub async fn send_sms_code(&self, client: &str, req: SmsSendRequest) -> Result<SmsSent, Error> {
        let phone = parse_phone(&req.phone)?;
        let purpose = parse_purpose(&req.purpose)?;
        let now = self.now();
        self.sms_per_address
            .admit(client, now, "codes requested from this address")
            .await?;
        let key = phone.e164();
        self.sms_interval
            .admit(&key, now, "codes sent to this number (one per interval)")
            .await?;
        self.sms_per_number
            .admit(&key, now, "codes sent to this number this hour")
            .await?;

        let code = self.new_code();
        let code_hash = self.code_hash(purpose, &phone, &code);
        self.store
            .save_sms_code(NewSmsCode {
                phone: phone.clone(),
                purpose,
                code_hash,
                expires_at: now.plus(self.phone.code_ttl),
                now,
            })
            .await?;
        let message = SmsMessage {
            phone: phone.clone(),
            code,
            ttl: self.phone.code_ttl,
        };
        match self.sms.send(&message).await {
            Ok(receipt) => {
                tracing::info!(phone = %phone.masked(), serial_no = ?receipt.serial_no, "SMS code sent");
                Ok(SmsSent {
                    expires_in: self.phone.code_ttl.as_secs(),
                    resend_in: self.phone.sms_interval.as_secs(),
                })
            }
            Err(e) => {
                // Nobody received it: it must not stay pending.
                if let Err(discard) = self
                    .store
                    .discard_sms_code(&phone, purpose, code_hash)
                    .await
                {
                    tracing::error!(error = %discard, "an unsent SMS code could not be discarded");
                }
                Err(self.sms_error(&phone, e))
            }
        }
    }

    /// What a gateway failure means for the client: the one place SMS errors are mapped.
    fn sms_error(&self, phone: &PhoneNumber, e: SmsError) -> Error {
        match e {
            SmsError::NotConfigured => {
                tracing::warn!(
                    "an SMS code was requested but sms.provider is \"none\": configure a provider"
                );
                Error::SmsUnavailable {
                    reason: "SMS is not set up on this server",
                    retry_after: None,
                }
            }
            SmsError::RateLimited { code, window } => {
                tracing::warn!(phone = %phone.masked(), code, "the SMS gateway's limit");
                let now = self.now();
                Error::SmsRateLimited {
                    retry_after: match window {
                        LimitWindow::Seconds(s) => s.max(1),
                        LimitWindow::Hour => seconds_to_next(now, 3600),
                        // Tencent's daily quotas reset at midnight, China time (UTC+8).
                        LimitWindow::DayInChina => {
                            seconds_to_next(UnixMs(now.0 + 8 * 3_600_000), 86_400)
                        }
                    },
                }
            }
            SmsError::NumberRefused { code } => {
                tracing::info!(phone = %phone.masked(), code, "the SMS gateway refused a number");
                Error::SmsNumberRefused
            }
            SmsError::Misconfigured { code, message } => {
                tracing::error!(
                    code,
                    message,
                    "the SMS gateway rejected this server's setup: check sms.tencent (keys, SDK app id, sign name, template)"
                );
                Error::Misconfigured
            }
            SmsError::Unavailable(detail) => {
                tracing::warn!(detail, "the SMS gateway is unavailable");
                Error::SmsUnavailable {
                    reason: "the SMS gateway is unavailable: retry shortly",
                    retry_after: Some(5),
                }
            }
        }
    }

    /// Logs in (or registers) with a number and the code sent to it; `client` is the
    /// requester's address, for rate limiting.
    pub async fn sms_login(
        &self,
        client: &str,
        req: SmsLoginRequest,
    ) -> Result<LoginOutput, Error> {
        let result = self.sms_login_inner(client, req).await;
        self.count_login(&result);
        result
    }

    async fn sms_login_inner(
        &self,
        client: &str,
        req: SmsLoginRequest,
    ) -> Result<LoginOutput, Error> {
        let phone = parse_phone(&req.phone)?;
        let code = parse_code(&req.code)?;
        let wechat = parse_ticket(req.ticket.as_deref())?;
        let app = self.app_choice(req.appid.as_deref())?;
        let now = self.now();
        self.admit_login_from(client, now).await?;
        let purpose = PURPOSES[0];
        let (token, session) = self.new_session();
        let write = PhoneLoginWrite {
            app,
            phone: phone.info(),
            wechat,
            proof: PhoneProof::SmsCode {
                purpose,
                code_hash: self.code_hash(purpose, &phone, &code),
                max_attempts: self.phone.code_attempts,
            },
            session,
            now,
        };
        self.store_phone_login(token, write).await
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn inputs_are_checked() {
        assert_eq!(parse_purpose("login").ok(), Some("login"));
        assert!(
            matches!(parse_purpose("Login"), Err(Error::InvalidField { field, reason }) if field == "purpose" && reason.contains("login"))
        );
        assert!(parse_code("012345").is_ok());
        for bad in ["12345", "1234567", "12345a", "１２３４５６", " 12345", ""] {
            assert!(
                matches!(parse_code(bad), Err(Error::InvalidField { ref field, .. }) if field == "code"),
                "{bad:?}"
            );
        }
    }
}
