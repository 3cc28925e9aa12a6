//! What the phone-first logins share: parsing the number, ticket and app of a request, opening a
//! session, and the one write (`Store::phone_login`) whose refusals become answers here.

use crate::ids::{LoginToken, Ticket};
use crate::phone::PhoneNumber;
use crate::random::bytes;
use crate::store::{
    AppChoice, NewSession, PhoneLoginOutcome, PhoneLoginWrite, PhoneRefusal, WeChatSource,
};

use super::{Error, LoginOutput, Services};

impl Services {
    /// A new login token and the session row it opens.
    pub(super) fn new_session(&self) -> (LoginToken, NewSession) {
        let now = self.now();
        let token = LoginToken::from_bytes(bytes(self.random.as_ref()));
        let session = NewSession {
            token_hash: token.hash(),
            expires_at: now.plus(self.sessions.ttl),
            absolute_expires_at: now.plus(self.sessions.max_lifetime),
        };
        (token, session)
    }

    /// The app a phone login names, or the default one.
    pub(super) fn app_choice(&self, appid: Option<&str>) -> Result<AppChoice, Error> {
        let app = self.app(appid)?.appid.clone();
        Ok(match appid {
            Some(_) => AppChoice::Given(app),
            None => AppChoice::Default(app),
        })
    }

    /// Counts a login's result in the metrics.
    pub(super) fn count_login(&self, result: &Result<LoginOutput, Error>) {
        self.metrics.login(match result {
            Ok(out) if out.is_new => "new",
            Ok(_) => "returning",
            Err(e) => e.code(),
        });
    }

    /// Writes a phone login; refusals become their errors.
    pub(super) async fn store_phone_login(
        &self,
        token: LoginToken,
        write: PhoneLoginWrite,
    ) -> Result<LoginOutput, Error> {
        self.try_phone_login(token, write).await?.map_err(refused)
    }

    /// Writes a phone login: `Ok(Err(refusal))` when the store refused it.
    pub(super) async fn try_phone_login(
        &self,
        token: LoginToken,
        write: PhoneLoginWrite,
    ) -> Result<Result<LoginOutput, PhoneRefusal>, Error> {
        let expires_at = write.session.expires_at;
        Ok(match self.store.phone_login(write).await? {
            PhoneLoginOutcome::LoggedIn {
                user,
                is_new,
                appid,
            } => {
                tracing::info!(%appid, user = %user.id, is_new, "phone login");
                Ok(LoginOutput {
                    token,
                    expires_at,
                    user: *user,
                    is_new,
                })
            }
            PhoneLoginOutcome::Refused(refusal) => Err(refusal),
        })
    }
}

/// The answer to a refused phone login.
pub(super) fn refused(refusal: PhoneRefusal) -> Error {
    match refusal {
        PhoneRefusal::TicketInvalid => Error::TicketInvalid,
        PhoneRefusal::CodeMissing => Error::SmsCodeExpired(
            "no SMS code is pending for this number (none was sent, or it was used or replaced): request one with POST /api/sms/send",
        ),
        PhoneRefusal::CodeExpired => {
            Error::SmsCodeExpired("the SMS code expired: request a new one")
        }
        PhoneRefusal::CodeWrong { attempts_left: 0 } => Error::SmsCodeExhausted,
        PhoneRefusal::CodeWrong { attempts_left } => Error::SmsCodeInvalid { attempts_left },
        PhoneRefusal::CodeExhausted => Error::SmsCodeExhausted,
        PhoneRefusal::PhoneBoundToOtherWeChat => Error::PhoneBoundToOtherWeChat,
        PhoneRefusal::WeChatBoundToOtherPhone => Error::WeChatBoundToOtherPhone,
        PhoneRefusal::PhoneConflict => Error::PhoneConflict,
        // The password service retries these; reaching here means it kept changing.
        PhoneRefusal::PasswordChanged => {
            tracing::warn!("a number's password kept changing during a password login");
            Error::Internal
        }
    }
}

/// The number of a request: `phone` names the field in errors.
pub(super) fn parse_phone(text: &str) -> Result<PhoneNumber, Error> {
    PhoneNumber::parse(text).map_err(|e| Error::field("phone", e.to_string()))
}

/// The WeChat identity of a request: its ticket, or none.
pub(super) fn parse_ticket(text: Option<&str>) -> Result<WeChatSource, Error> {
    match text {
        None => Ok(WeChatSource::None),
        Some(t) => Ticket::parse(t).map(|t| WeChatSource::Ticket(t.hash())).ok_or_else(|| {
            Error::field(
                "ticket",
                format!(
                    "is not a registration ticket (the {} characters of `registration.ticket` in a registration_required answer)",
                    Ticket::LEN
                ),
            )
        }),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn refusals_have_their_own_codes() {
        let codes: Vec<&str> = [
            PhoneRefusal::TicketInvalid,
            PhoneRefusal::CodeMissing,
            PhoneRefusal::CodeExpired,
            PhoneRefusal::CodeWrong { attempts_left: 2 },
            PhoneRefusal::CodeWrong { attempts_left: 0 },
            PhoneRefusal::CodeExhausted,
            PhoneRefusal::PhoneBoundToOtherWeChat,
            PhoneRefusal::WeChatBoundToOtherPhone,
            PhoneRefusal::PhoneConflict,
            PhoneRefusal::PasswordChanged,
        ]
        .into_iter()
        .map(|r| refused(r).code())
        .collect();
        assert_eq!(
            codes,
            [
                "ticket_invalid",
                "sms_code_expired",
                "sms_code_expired",
                "sms_code_invalid",
                "sms_code_exhausted",
                "sms_code_exhausted",
                "phone_bound_to_other_wechat",
                "wechat_bound_to_other_phone",
                "phone_conflict",
                "internal"
            ]
        );
        assert!(
            refused(PhoneRefusal::CodeWrong { attempts_left: 2 })
                .to_string()
                .contains("2 tries left")
        );
        assert!(matches!(parse_ticket(None), Ok(WeChatSource::None)));
        assert!(matches!(
            parse_ticket(Some("nope")),
            Err(Error::InvalidField { ref field, .. }) if field == "ticket"
        ));
        let t = Ticket::from_bytes([3; 32]);
        assert!(
            matches!(parse_ticket(Some(t.expose())), Ok(WeChatSource::Ticket(h)) if h == t.hash())
        );
    }
}
