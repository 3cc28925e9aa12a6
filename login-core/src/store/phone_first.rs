//! The store's side of the phone-first logins: registration tickets, SMS codes, passwords, and
//! the one write that logs in (or registers) by a verified phone number.

use crate::clock::UnixMs;
use crate::domain::{PhoneInfo, User};
use crate::ids::{AppId, OpenId, TicketHash, UnionId, UserId};
use crate::password::PasswordHashText;
use crate::phone::PhoneNumber;

use super::NewSession;

/// A WeChat identity from a successful code exchange, not yet stored.
#[derive(Clone, Debug)]
pub struct WeChatIdentity {
    /// The app.
    pub appid: AppId,
    /// The openid WeChat returned.
    pub openid: OpenId,
    /// The unionid WeChat returned, if any.
    pub unionid: Option<UnionId>,
    /// The session_key, sealed for (appid, openid) as on an identity.
    pub sealed_session_key: Vec<u8>,
}

/// A registration ticket to create.
#[derive(Clone, Debug)]
pub struct NewTicket {
    /// SHA-256 of the ticket.
    pub hash: TicketHash,
    /// The identity it stands for.
    pub identity: WeChatIdentity,
    /// When it stops working.
    pub expires_at: UnixMs,
    /// Now.
    pub now: UnixMs,
}

/// An SMS code to keep (as a keyed hash), replacing the number's pending code for `purpose`.
#[derive(Clone, Debug)]
pub struct NewSmsCode {
    /// The number.
    pub phone: PhoneNumber,
    /// What the code is for (`login`).
    pub purpose: &'static str,
    /// HMAC-SHA256 of the code under the server's code key.
    pub code_hash: [u8; 32],
    /// When it stops working.
    pub expires_at: UnixMs,
    /// Now.
    pub now: UnixMs,
}

/// What the store knows of a number's password.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum PasswordLookup {
    /// No account has the number.
    NoAccount,
    /// The number's account has no password.
    NoPassword {
        /// The account.
        user_id: UserId,
    },
    /// The number's account and its password hash.
    Password {
        /// The account.
        user_id: UserId,
        /// The hash.
        hash: PasswordHashText,
    },
}

/// A password login, as the service checked it.
#[derive(Clone, Debug)]
pub enum PasswordProof {
    /// The password matched `hash`, the hash of the number's account `user_id`. The store
    /// refuses ([`PhoneRefusal::PasswordChanged`]) if either changed since.
    Verified {
        /// The account that was checked.
        user_id: UserId,
        /// The hash that matched.
        hash: PasswordHashText,
    },
    /// The number had no account: it is registered with this hash (refused the same way if it
    /// got one since).
    Register {
        /// The new password's hash.
        hash: PasswordHashText,
    },
}

/// How the number of a phone login was proven.
#[derive(Clone, Debug)]
pub enum PhoneProof {
    /// WeChat gave it (getuserphonenumber, or encryptedData opened with the fresh key).
    WeChat,
    /// An SMS code: its hash is compared with the pending one inside the write, which consumes
    /// it on success and counts a wrong try.
    SmsCode {
        /// What the code was sent for.
        purpose: &'static str,
        /// HMAC-SHA256 of the code typed.
        code_hash: [u8; 32],
        /// Wrong tries a code survives.
        max_attempts: u32,
    },
    /// A password.
    Password(PasswordProof),
}

/// Where the WeChat identity of a phone login comes from.
#[derive(Clone, Debug)]
pub enum WeChatSource {
    /// None: a plain phone login (web, app); the session has no openid.
    None,
    /// A code exchange of this same request.
    Fresh(WeChatIdentity),
    /// A registration ticket: consumed if the login succeeds.
    Ticket(TicketHash),
}

/// The app a phone login's session belongs to.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum AppChoice {
    /// Named by the request: a ticket must be of this app.
    Given(AppId),
    /// The server's default app, unless a ticket names its own.
    Default(AppId),
}

/// Everything a phone login writes, decided inside one transaction.
#[derive(Clone, Debug)]
pub struct PhoneLoginWrite {
    /// The session's app (a fresh identity's app wins).
    pub app: AppChoice,
    /// The verified number, as it is stored.
    pub phone: PhoneInfo,
    /// The WeChat identity to log in or bind, if any.
    pub wechat: WeChatSource,
    /// How the number was proven.
    pub proof: PhoneProof,
    /// The login session to create.
    pub session: NewSession,
    /// Now.
    pub now: UnixMs,
}

/// Why a phone login was refused. Nothing is written, except that a wrong SMS code counts.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum PhoneRefusal {
    /// The ticket is unknown, expired, used, or of another app than the one named.
    TicketInvalid,
    /// No code is pending for the number (never sent, used, or voided).
    CodeMissing,
    /// The pending code expired.
    CodeExpired,
    /// The code typed is not the pending one; the try was counted.
    CodeWrong {
        /// Tries left before the code is void.
        attempts_left: u32,
    },
    /// The pending code took its last wrong try.
    CodeExhausted,
    /// The number's account or its password changed since the service checked it.
    PasswordChanged,
    /// The number's account has another WeChat identity in this app (or belongs to another
    /// WeChat user of the open platform).
    PhoneBoundToOtherWeChat,
    /// This WeChat user's account has another number.
    WeChatBoundToOtherPhone,
    /// This WeChat user already has an account (from another app of the open platform) and
    /// the number belongs to a different one.
    PhoneConflict,
}

/// What a phone login did.
#[derive(Clone, Debug)]
pub enum PhoneLoginOutcome {
    /// Logged in; the session is written.
    LoggedIn {
        /// The user after the write.
        user: Box<User>,
        /// Whether the login created the user.
        is_new: bool,
        /// The session's app.
        appid: AppId,
    },
    /// Refused.
    Refused(PhoneRefusal),
}
