//! `POST /api/login`: exchange a `wx.login` code, find or create the user, open a session.
//! Nothing is written unless WeChat's exchange succeeded.
//!
//! A WeChat user no account knows is created at once under `registration = "auto"`; under
//! `phone_required` the answer is `registration_required` with a ticket (the only row
//! written). With a phone number from WeChat in the same request (`phone_code`, or the legacy
//! encryptedData), a known user logs in as ever and the number is not looked at; an unknown
//! one is registered with the number, or joins the account that has it (see
//! `store/sqlite/phone_login.rs` for the rules), whatever the policy.

use crate::clock::UnixMs;
use crate::crypto::check_open_data_shape;
use crate::domain::{PhoneInfo, User};
use crate::ids::{JsCode, LoginToken, PhoneCode, Ticket};
use crate::random::bytes;
use crate::store::{
    AppChoice, LoginWrite, NewTicket, PhoneLoginWrite, PhoneProof, WeChatIdentity, WeChatSource,
};
use crate::wechat::{AppCredentials, CodeSession, Endpoint, WeChatError, errcode};

use super::opendata::Forwarded;
use super::phone::{PHONE_DATA, phone_of_open_data};
use super::ratelimit::admit_all;
use super::{Error, Services};
use crate::config::Registration;

/// A login request, parsed from JSON and checked for shape.
#[derive(Debug)]
pub struct LoginRequest {
    /// The code as the client sent it.
    pub code: String,
    /// The app, when the server serves several.
    pub appid: Option<String>,
    /// The user's phone number from WeChat, sent with the code.
    pub phone: Option<LoginPhone>,
}

/// A phone number from WeChat sent with the login code.
#[derive(Debug)]
pub enum LoginPhone {
    /// A getPhoneNumber code.
    Code(String),
    /// The legacy encryptedData and iv (from a getPhoneNumber after the wx.login).
    Encrypted {
        /// `encryptedData`.
        encrypted_data: String,
        /// `iv`.
        iv: String,
    },
}

/// A [`LoginPhone`] checked for shape (before WeChat is asked anything).
enum CheckedPhone {
    Code(PhoneCode),
    Encrypted { encrypted_data: String, iv: String },
}

/// A successful login.
#[derive(Debug)]
pub struct LoginOutput {
    /// The login token: shown to the client once, stored only as a hash.
    pub token: LoginToken,
    /// When the session ends unless used.
    pub expires_at: UnixMs,
    /// The user.
    pub user: User,
    /// Whether this login created the user.
    pub is_new: bool,
}

impl Services {
    /// Logs a user in with a `wx.login` code; `client` is the requester's address, for rate
    /// limiting.
    pub async fn login(&self, client: &str, req: LoginRequest) -> Result<LoginOutput, Error> {
        let result = self.login_inner(client, req).await;
        self.count_login(&result);
        result
    }

    async fn login_inner(&self, client: &str, req: LoginRequest) -> Result<LoginOutput, Error> {
        let code = JsCode::parse(&req.code).map_err(|e| Error::field("code", e.to_string()))?;
        let phone = match req.phone {
            None => None,
            Some(LoginPhone::Code(c)) => Some(CheckedPhone::Code(
                PhoneCode::parse(&c).map_err(|e| Error::field("phone_code", e.to_string()))?,
            )),
            Some(LoginPhone::Encrypted { encrypted_data, iv }) => {
                check_open_data_shape(&encrypted_data, &iv).map_err(Error::open_data)?;
                Some(CheckedPhone::Encrypted { encrypted_data, iv })
            }
        };
        let app = self.app(req.appid.as_deref())?.clone();
        let now = self.now();
        // Both limits in one call to the store.
        let fingerprint = code.fingerprint();
        admit_all(
            &[
                (&self.per_address, client, "logins from this address"),
                (&self.per_code, &fingerprint, "attempts with this code"),
            ],
            now,
        )
        .await?;

        let session = self
            .wechat
            .code2session(&app, &code)
            .await
            .map_err(|e| match e {
                WeChatError::Api {
                    errcode: errcode::CODE_INVALID,
                    ..
                } => Error::CodeInvalid,
                WeChatError::Api {
                    errcode: errcode::CODE_BEEN_USED,
                    ..
                } => Error::CodeUsed,
                WeChatError::Api {
                    errcode: errcode::USER_BLOCKED,
                    ..
                } => Error::UserBlocked,
                e => self.upstream(Endpoint::Code2Session, &app.appid, e),
            })?;
        if session.session_key.aes_key().is_none() || session.openid.as_str().is_empty() {
            tracing::warn!(appid = %app.appid, "jscode2session answered an unusable openid or session_key");
            return Err(Error::UpstreamFailed);
        }

        // WeChat's answer is good: from here on, one transaction writes everything.
        let now = self.now();
        let (token, new_session) = self.new_session();
        let expires_at = new_session.expires_at;
        let write = LoginWrite {
            sealed_session_key: self.seal_session_key(
                &app.appid,
                &session.openid,
                &session.session_key,
            ),
            appid: app.appid.clone(),
            openid: session.openid.clone(),
            unionid: session.unionid.clone(),
            session: new_session,
            now,
        };
        let policy = (self.registration.get(&app.appid).copied()).unwrap_or_default();
        let outcome = match (phone, policy) {
            (None, Registration::Auto) => self.store.record_login(write).await?,
            (phone, _) => match self.store.login_registered(write.clone()).await? {
                Some(outcome) => outcome,
                None => {
                    let Some(phone) = phone else {
                        return Err(self.issue_ticket(write).await?);
                    };
                    return self
                        .register_with_wechat_phone(&app, session, phone, token, write)
                        .await;
                }
            },
        };
        tracing::info!(appid = %app.appid, user = %outcome.user.id, is_new = outcome.is_new, "login");
        Ok(LoginOutput {
            token,
            expires_at,
            user: outcome.user,
            is_new: outcome.is_new,
        })
    }

    /// Stores a ticket for the identity of `write`: the `registration_required` answer.
    async fn issue_ticket(&self, write: LoginWrite) -> Result<Error, Error> {
        let ticket = Ticket::from_bytes(bytes(self.random.as_ref()));
        let expires_at = write.now.plus(self.phone.ticket_ttl);
        self.store
            .create_ticket(NewTicket {
                hash: ticket.hash(),
                identity: WeChatIdentity {
                    appid: write.appid.clone(),
                    openid: write.openid,
                    unionid: write.unionid,
                    sealed_session_key: write.sealed_session_key,
                },
                expires_at,
                now: write.now,
            })
            .await?;
        tracing::info!(appid = %write.appid, "registration required: ticket issued");
        Ok(Error::RegistrationRequired {
            ticket,
            expires_at,
            expires_in: self.phone.ticket_ttl.as_secs(),
        })
    }

    /// A WeChat user no account knows, with the number WeChat gives: registers, or joins the
    /// number's account.
    async fn register_with_wechat_phone(
        &self,
        app: &AppCredentials,
        session: CodeSession,
        phone: CheckedPhone,
        token: LoginToken,
        write: LoginWrite,
    ) -> Result<LoginOutput, Error> {
        let info: PhoneInfo = match phone {
            CheckedPhone::Code(code) => self
                .wechat
                .phone_number(app, &code, Some(&session.openid))
                .await
                .map_err(|e| match e {
                    WeChatError::Api {
                        errcode: errcode::CODE_INVALID,
                        ..
                    } => Error::PhoneCodeInvalid,
                    e => self.upstream(Endpoint::PhoneNumber, &app.appid, e),
                })?,
            CheckedPhone::Encrypted { encrypted_data, iv } => {
                let sent = Forwarded {
                    encrypted_data: &encrypted_data,
                    iv: &iv,
                    signed: None,
                };
                phone_of_open_data(self.open_fresh(
                    &app.appid,
                    &session.openid,
                    &session.session_key,
                    sent,
                    PHONE_DATA,
                )?)?
            }
        };
        if !info.is_plausible() {
            tracing::warn!(appid = %app.appid, "WeChat gave an implausible phone number");
            return Err(Error::UpstreamFailed);
        }
        let now = self.now();
        let phone_write = PhoneLoginWrite {
            app: AppChoice::Given(app.appid.clone()),
            phone: info,
            wechat: WeChatSource::Fresh(WeChatIdentity {
                appid: write.appid,
                openid: write.openid,
                unionid: write.unionid,
                sealed_session_key: write.sealed_session_key,
            }),
            proof: PhoneProof::WeChat,
            session: write.session,
            now,
        };
        self.store_phone_login(token, phone_write).await
    }
}
