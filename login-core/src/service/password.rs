//! `POST /api/login/password`: a number and a password. The number's account logs in if the
//! password is its own (`401 password_incorrect` otherwise); a number without an account is
//! registered with that password; a ticket's WeChat identity is bound as for an SMS login.
//!
//! # What an answer tells about a number
//!
//! The product rule "an unknown number registers" makes the answer itself say whether a number
//! had an account (a new user, or a login), so hiding existence elsewhere would hide nothing
//! from someone who can call this endpoint. What is kept from leaking is anything beyond that:
//!
//! - every request costs one argon2id computation, whatever the case: verifying the stored
//!   hash, hashing the new password of a new number, or checking against a dummy hash for an
//!   account without a password. Only the store's write of a registration adds time;
//! - `password_not_set` is said apart from `password_incorrect` on purpose: the account's
//!   existence is known by then anyway, and the user needs to know to use an SMS code;
//! - attempts are limited per number and per client address (`phone.password_attempts_*`
//!   within `phone.password_window`, every attempt counted, in memory per process), which is
//!   what stops guessing, at the price that the holder of a number can be kept out for the
//!   window by someone hammering it (the SMS login stays open).
//!
//! The password is checked before the write; the write then refuses if the account or its hash
//! changed meanwhile (a racing registration or password change), and the check runs again.

use crate::password::{Password, PasswordHashText};
use crate::store::{PasswordLookup, PasswordProof, PhoneLoginWrite, PhoneProof, PhoneRefusal};

use super::phone_login::{parse_phone, parse_ticket, refused};
use super::{Error, LoginOutput, Services};

/// How many times a check is run again when the account changed under it.
const TRIES: usize = 3;

/// `POST /api/login/password`, parsed from JSON.
#[derive(Debug)]
pub struct PasswordLoginRequest {
    /// The number as typed.
    pub phone: String,
    /// The password as typed.
    pub password: String,
    /// A registration ticket, to bind its WeChat identity.
    pub ticket: Option<String>,
    /// The app of the session (default: the first configured; with a ticket, the ticket's).
    pub appid: Option<String>,
}

impl Services {
    /// Logs in with a number and password, or registers the number with it; `client` is the
    /// requester's address, for rate limiting.
    pub async fn password_login(
        &self,
        client: &str,
        req: PasswordLoginRequest,
    ) -> Result<LoginOutput, Error> {
        let result = self.password_login_inner(client, req).await;
        self.count_login(&result);
        result
    }

    async fn password_login_inner(
        &self,
        client: &str,
        req: PasswordLoginRequest,
    ) -> Result<LoginOutput, Error> {
        let phone = parse_phone(&req.phone)?;
        // Any stored password is at least one character; the policy applies to new ones.
        let password =
            Password::parse(&req.password, 1).map_err(|e| Error::field("password", e))?;
        let wechat = parse_ticket(req.ticket.as_deref())?;
        let app = self.app_choice(req.appid.as_deref())?;
        let now = self.now();
        self.admit_login_from(client, now).await?;
        self.password_per_address
            .admit(client, now, "password attempts from this address")
            .await?;
        self.password_per_number
            .admit(&phone.e164(), now, "password attempts for this number")
            .await?;

        for _ in 0..TRIES {
            let proof = match self.store.password_of(&phone).await? {
                PasswordLookup::NoAccount => {
                    let new = Password::parse(&req.password, self.phone.password_min_chars)
                        .map_err(|e| {
                            Error::field(
                                "password",
                                format!("{e} (this number has no account: it is registered with this password)"),
                            )
                        })?;
                    PasswordProof::Register {
                        hash: self.hash_password(new).await?,
                    }
                }
                PasswordLookup::NoPassword { .. } => {
                    let passwords = self.passwords.clone();
                    let typed = password.clone();
                    tokio::task::spawn_blocking(move || passwords.burn(&typed))
                        .await
                        .map_err(|_| Error::Internal)?;
                    return Err(Error::PasswordNotSet);
                }
                PasswordLookup::Password { user_id, hash } => {
                    if !self.verify_password(password.clone(), hash.clone()).await? {
                        return Err(Error::PasswordIncorrect);
                    }
                    PasswordProof::Verified { user_id, hash }
                }
            };
            let (token, session) = self.new_session();
            let write = PhoneLoginWrite {
                app: app.clone(),
                phone: phone.info(),
                wechat: wechat.clone(),
                proof: PhoneProof::Password(proof),
                session,
                now: self.now(),
            };
            match self.try_phone_login(token, write).await? {
                Err(PhoneRefusal::PasswordChanged) => {
                    tracing::info!(phone = %phone.masked(), "the number's account changed during a password login; checking again");
                }
                outcome => return outcome.map_err(refused),
            }
        }
        Err(refused(PhoneRefusal::PasswordChanged))
    }

    /// argon2id of a new password, off the async threads.
    async fn hash_password(&self, password: Password) -> Result<PasswordHashText, Error> {
        let passwords = self.passwords.clone();
        let random = self.random.clone();
        tokio::task::spawn_blocking(move || passwords.hash(&password, random.as_ref()))
            .await
            .map_err(|_| Error::Internal)?
            .map_err(|e| {
                tracing::error!(error = %e, "a password could not be hashed");
                Error::Internal
            })
    }

    /// Whether `password` matches `hash`, off the async threads.
    async fn verify_password(
        &self,
        password: Password,
        hash: PasswordHashText,
    ) -> Result<bool, Error> {
        let passwords = self.passwords.clone();
        tokio::task::spawn_blocking(move || passwords.verify(&password, &hash))
            .await
            .map_err(|_| Error::Internal)
    }
}
