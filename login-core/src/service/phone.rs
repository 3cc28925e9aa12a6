//! `POST /api/me/phone`: bind a phone number from a phone-number code (getuserphonenumber) or
//! from the legacy encryptedData, with the conflict and join rules decided by the store.

use crate::domain::{PhoneInfo, User};
use crate::ids::{PhoneCode, UserId};
use crate::store::{PhoneOutcome, PhoneWrite};
use crate::wechat::opendata::PhoneData;
use crate::wechat::{Endpoint, WeChatError, errcode};

use super::opendata::Forwarded;
use super::{Authenticated, Error, Services};

/// A phone binding request.
#[derive(Debug)]
pub enum PhoneRequest {
    /// A code from the getPhoneNumber button.
    Code(String),
    /// The legacy encrypted payload.
    Encrypted {
        /// `encryptedData`.
        encrypted_data: String,
        /// `iv`.
        iv: String,
    },
}

/// The result of a phone binding.
#[derive(Debug)]
pub struct PhoneOutput {
    /// The account the number is bound to (after a join: the account joined).
    pub user: User,
    /// The account that was merged into `user`, when the number's owner was joined.
    pub merged_from: Option<UserId>,
}

impl Services {
    /// Binds a phone number to the logged-in user.
    pub async fn bind_phone(
        &self,
        auth: &Authenticated,
        req: PhoneRequest,
    ) -> Result<PhoneOutput, Error> {
        let openid = auth.wechat()?.clone();
        let app = self.app(Some(auth.appid.as_str()))?.clone();
        let phone = match req {
            PhoneRequest::Code(code) => {
                let code =
                    PhoneCode::parse(&code).map_err(|e| Error::field("code", e.to_string()))?;
                self.wechat
                    .phone_number(&app, &code, Some(&openid))
                    .await
                    .map_err(|e| match e {
                        WeChatError::Api {
                            errcode: errcode::CODE_INVALID,
                            ..
                        } => Error::PhoneCodeInvalid,
                        e => self.upstream(Endpoint::PhoneNumber, &app.appid, e),
                    })?
            }
            PhoneRequest::Encrypted { encrypted_data, iv } => {
                let sent = Forwarded {
                    encrypted_data: &encrypted_data,
                    iv: &iv,
                    signed: None,
                };
                phone_of_open_data(self.open_data(auth, sent, PHONE_DATA).await?)?
            }
        };
        if !phone.is_plausible() {
            tracing::warn!(appid = %app.appid, "WeChat gave an implausible phone number");
            return Err(Error::UpstreamFailed);
        }
        let outcome = self
            .store
            .bind_phone(PhoneWrite {
                user_id: auth.user_id,
                appid: auth.appid.clone(),
                openid,
                phone,
                now: self.now(),
            })
            .await
            .map_err(|e| match e {
                crate::store::StoreError::NotFound(_) => Error::LoginRequired(
                    "the session's WeChat identity no longer exists: log in again",
                ),
                e => e.into(),
            })?;
        match outcome {
            PhoneOutcome::Bound(user) => Ok(PhoneOutput {
                user,
                merged_from: None,
            }),
            PhoneOutcome::Joined { user, merged_from } => {
                tracing::info!(user = %user.id, merged_from = %merged_from, "phone number joined an existing account");
                Ok(PhoneOutput {
                    user,
                    merged_from: Some(merged_from),
                })
            }
            PhoneOutcome::Conflict => Err(Error::PhoneConflict),
        }
    }
}

/// What phone-number open data is called in errors.
pub(super) const PHONE_DATA: &str = "a phone number";

/// The number in decrypted phone-number open data.
pub(super) fn phone_of_open_data(data: PhoneData) -> Result<PhoneInfo, Error> {
    PhoneInfo::try_from(data).map_err(|_| Error::OpenDataShape(PHONE_DATA))
}
