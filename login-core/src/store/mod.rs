//! Storage: the port ([`Store`]) and its adapters, SQLite ([`sqlite::SqliteStore`]) and
//! PostgreSQL ([`postgres::PostgresStore`]), one chosen by the database URL ([`open`]); and
//! the rate limits' counters, kept by the store or, shared by instances, in Redis
//! ([`redis::RedisCounters`]).
//!
//! Each method is one unit of work: it commits everything or nothing. Rules that must hold
//! under concurrency (one user per person, one owner per phone number) are decided inside the
//! store's transaction, so two racing requests cannot both create a user.

mod open;
mod phone_first;
pub mod postgres;
pub mod redis;
pub mod shared;
pub mod sqlite;
#[cfg(test)]
mod tests;

use std::sync::Arc;

use async_trait::async_trait;
use serde::{Deserialize, Serialize};

use crate::clock::UnixMs;
use crate::domain::{PhoneInfo, Profile, User};
use crate::ids::{AppId, OpenId, TokenHash, UnionId, UserId};
use crate::phone::PhoneNumber;

pub use open::{DatabaseUrl, PoolConfig, open, open_with};
pub use phone_first::{
    AppChoice, NewSmsCode, NewTicket, PasswordLookup, PasswordProof, PhoneLoginOutcome,
    PhoneLoginWrite, PhoneProof, PhoneRefusal, WeChatIdentity, WeChatSource,
};
pub use shared::{Counters, TokenRows};

/// A profile as the database keeps it: JSON with these keys (existing rows are read with it,
/// so its shape only ever grows optional keys).
#[derive(Debug, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
struct StoredProfile {
    /// Nickname.
    nick_name: Option<String>,
    /// Avatar URL.
    avatar_url: Option<String>,
    /// 0 unknown, 1 male, 2 female.
    gender: Option<i64>,
    /// Language.
    language: Option<String>,
    /// City.
    city: Option<String>,
    /// Province.
    province: Option<String>,
    /// Country.
    country: Option<String>,
}

impl From<Profile> for StoredProfile {
    fn from(p: Profile) -> Self {
        Self {
            nick_name: p.nick_name,
            avatar_url: p.avatar_url,
            gender: p.gender,
            language: p.language,
            city: p.city,
            province: p.province,
            country: p.country,
        }
    }
}

impl From<StoredProfile> for Profile {
    fn from(p: StoredProfile) -> Self {
        Self {
            nick_name: p.nick_name,
            avatar_url: p.avatar_url,
            gender: p.gender,
            language: p.language,
            city: p.city,
            province: p.province,
            country: p.country,
        }
    }
}

/// A session to create.
#[derive(Clone, Debug)]
pub struct NewSession {
    /// SHA-256 of the token.
    pub token_hash: TokenHash,
    /// When it ends unless renewed.
    pub expires_at: UnixMs,
    /// When it ends whatever happens.
    pub absolute_expires_at: UnixMs,
}

/// A session as stored.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct SessionRecord {
    /// The user.
    pub user_id: UserId,
    /// The app the user logged in to.
    pub appid: AppId,
    /// The user's openid in that app; `None` for a session opened without WeChat (SMS or
    /// password without a ticket).
    pub openid: Option<OpenId>,
    /// Created.
    pub created_at: UnixMs,
    /// When it ends unless renewed.
    pub expires_at: UnixMs,
    /// When it ends whatever happens.
    pub absolute_expires_at: UnixMs,
    /// When it was revoked (logout, refresh), if it was.
    pub revoked_at: Option<UnixMs>,
}

/// Everything a successful code exchange writes.
#[derive(Clone, Debug)]
pub struct LoginWrite {
    /// The app.
    pub appid: AppId,
    /// The openid WeChat returned.
    pub openid: OpenId,
    /// The unionid WeChat returned, if any.
    pub unionid: Option<UnionId>,
    /// The session_key, sealed with the server key (never stored in clear).
    pub sealed_session_key: Vec<u8>,
    /// The login session to create.
    pub session: NewSession,
    /// Now.
    pub now: UnixMs,
}

/// What a login found or created.
#[derive(Clone, Debug)]
pub struct LoginOutcome {
    /// The user (after the write).
    pub user: User,
    /// Whether this login created the user.
    pub is_new: bool,
}

/// A request to bind a phone number to the user behind a session's identity.
#[derive(Clone, Debug)]
pub struct PhoneWrite {
    /// The user making the request, as the session saw it; the store follows the identity
    /// (appid, openid), which a concurrent join may have moved.
    pub user_id: UserId,
    /// The app of the session.
    pub appid: AppId,
    /// The openid of the session.
    pub openid: OpenId,
    /// The number.
    pub phone: PhoneInfo,
    /// Now.
    pub now: UnixMs,
}

/// What binding a phone number did.
#[derive(Clone, Debug)]
pub enum PhoneOutcome {
    /// The number is now the user's (it was free, or already theirs).
    Bound(User),
    /// The number belonged to another user without an identity in this app: the session's
    /// identity (and its sessions) moved to that user, and the now empty user was removed.
    Joined {
        /// The account the identity joined.
        user: User,
        /// The user that was merged away.
        merged_from: UserId,
    },
    /// The number belongs to another user who cannot be joined.
    Conflict,
}

/// Row counts, for readiness checks and tests that prove nothing was written.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq, Serialize)]
pub struct StoreStats {
    /// Users.
    pub users: u64,
    /// WeChat identities.
    pub identities: u64,
    /// Sessions, including revoked and expired ones.
    pub sessions: u64,
    /// Registration tickets, including expired ones not yet purged.
    pub tickets: u64,
    /// Pending SMS codes, including expired ones not yet purged.
    pub sms_codes: u64,
    /// Passwords.
    pub passwords: u64,
}

/// Why a store operation failed.
#[derive(Debug, thiserror::Error)]
pub enum StoreError {
    /// The database failed.
    #[error("database error: {0}")]
    Database(#[from] sqlx::Error),
    /// The schema could not be brought up to date.
    #[error("schema: {0}")]
    Schema(String),
    /// A row broke an invariant the schema should have enforced.
    #[error("corrupt row: {0}")]
    Corrupt(String),
    /// The record the operation needs no longer exists.
    #[error("not found: {0}")]
    NotFound(&'static str),
    /// A concurrent write got there first, again on every attempt the store makes: trying
    /// the request again later sees it.
    #[error("contention: {0}")]
    Contention(&'static str),
    /// The database URL names no store this build has.
    #[error("{0}")]
    Url(String),
    /// The database server could not be reached (or refused the connection).
    #[error("cannot reach PostgreSQL at {target}: {reason}")]
    Unreachable {
        /// Where: host, port and database, never the password.
        target: String,
        /// Why.
        reason: String,
    },
    /// The rate limits' counters, kept apart from the database (Redis), failed.
    #[error("rate-limit counters, {target}: {reason}")]
    Counters {
        /// Where: host, port and database, never the password.
        target: String,
        /// Why.
        reason: String,
        /// Whether it may work later (the server cannot be reached, the connection broke or
        /// timed out) rather than a fault of its own.
        transient: bool,
    },
}

impl StoreError {
    /// Whether the database could not do the work now but may later: the connection is gone
    /// or cannot be made, the server is shutting down or full, or the work kept losing races
    /// (serialization failures, deadlocks, unique keys taken by racing writes). Nothing was
    /// written; the request can be tried again. Every other failure is a fault of its own.
    pub fn is_unavailable(&self) -> bool {
        match self {
            StoreError::Contention(_) | StoreError::Unreachable { .. } => true,
            StoreError::Database(e) => is_unavailable(e),
            StoreError::Counters { transient, .. } => *transient,
            StoreError::Schema(_)
            | StoreError::Corrupt(_)
            | StoreError::NotFound(_)
            | StoreError::Url(_) => false,
        }
    }
}

/// See [`StoreError::is_unavailable`].
fn is_unavailable(e: &sqlx::Error) -> bool {
    match e {
        sqlx::Error::Io(_)
        | sqlx::Error::Tls(_)
        | sqlx::Error::Protocol(_)
        | sqlx::Error::PoolTimedOut
        | sqlx::Error::PoolClosed
        | sqlx::Error::WorkerCrashed => true,
        // PostgreSQL's SQLSTATEs: connection exceptions (class 08), the server shutting down
        // or starting (57P01 to 57P03), too many connections (53300), the transient conflicts
        // the store retries a few times (40001, 40P01), and a lock not granted within its
        // wait (55P03: another instance held an app's token lock too long).
        sqlx::Error::Database(db) => db.code().is_some_and(|code| {
            code.starts_with("08")
                || matches!(
                    &*code,
                    "57P01" | "57P02" | "57P03" | "53300" | "40001" | "40P01" | "55P03"
                )
        }),
        _ => false,
    }
}

/// The service's storage.
#[async_trait]
pub trait Store: Send + Sync + 'static {
    /// Resolves the user for (appid, openid), else for the unionid, else creates one; stores
    /// the sealed session_key on the identity; creates the session. One transaction.
    /// A unionid learned later is attached to the user unless another user holds it.
    async fn record_login(&self, write: LoginWrite) -> Result<LoginOutcome, StoreError>;

    /// The session with this token hash, whatever its state.
    async fn session(&self, hash: &TokenHash) -> Result<Option<SessionRecord>, StoreError>;

    /// Extends an active session's `expires_at` (sliding renewal).
    async fn renew_session(&self, hash: &TokenHash, expires_at: UnixMs) -> Result<(), StoreError>;

    /// Revokes `old` and creates `new` for the same identity, atomically; `false` if `old` was
    /// not active at `now` (then nothing is written).
    async fn rotate_session(
        &self,
        old: &TokenHash,
        new: NewSession,
        now: UnixMs,
    ) -> Result<bool, StoreError>;

    /// Revokes a session; `false` if it was not active at `now`.
    async fn revoke_session(&self, hash: &TokenHash, now: UnixMs) -> Result<bool, StoreError>;

    /// The sealed session_key of an identity.
    async fn sealed_session_key(
        &self,
        appid: &AppId,
        openid: &OpenId,
    ) -> Result<Option<Vec<u8>>, StoreError>;

    /// A user.
    async fn user(&self, id: UserId) -> Result<Option<User>, StoreError>;

    /// Replaces the user's profile.
    async fn set_profile(
        &self,
        id: UserId,
        profile: Profile,
        now: UnixMs,
    ) -> Result<User, StoreError>;

    /// Binds a phone number, joining accounts when the rules allow. One transaction.
    async fn bind_phone(&self, write: PhoneWrite) -> Result<PhoneOutcome, StoreError>;

    /// Like [`Store::record_login`] when the identity is registered: known by (appid, openid),
    /// or its unionid held by a user without an identity in this app. `None`, with nothing
    /// written, otherwise. One transaction.
    async fn login_registered(&self, write: LoginWrite)
    -> Result<Option<LoginOutcome>, StoreError>;

    /// Stores a registration ticket.
    async fn create_ticket(&self, ticket: NewTicket) -> Result<(), StoreError>;

    /// Stores an SMS code, replacing the number's pending code for the same purpose.
    async fn save_sms_code(&self, code: NewSmsCode) -> Result<(), StoreError>;

    /// Deletes the number's pending code for `purpose` if it is still the one with
    /// `code_hash` (after its SMS could not be sent).
    async fn discard_sms_code(
        &self,
        phone: &PhoneNumber,
        purpose: &'static str,
        code_hash: [u8; 32],
    ) -> Result<(), StoreError>;

    /// The account of a number and its password hash.
    async fn password_of(&self, phone: &PhoneNumber) -> Result<PasswordLookup, StoreError>;

    /// Logs in (or registers) by a verified number, binding a WeChat identity when one is
    /// given, under the rules of one owner per number and one user per person. One
    /// transaction; a refusal writes nothing but a wrong SMS code's count.
    async fn phone_login(&self, write: PhoneLoginWrite) -> Result<PhoneLoginOutcome, StoreError>;

    /// Deletes tickets and SMS codes that expired before `before`; returns how many.
    async fn purge_phone_state(&self, before: UnixMs) -> Result<u64, StoreError>;

    /// Deletes sessions that ended (expired or revoked) before `before`; returns how many.
    async fn purge_sessions(&self, before: UnixMs) -> Result<u64, StoreError>;

    /// Row counts.
    async fn stats(&self) -> Result<StoreStats, StoreError>;

    /// One round trip to the database: the readiness probe (the caller bounds its time).
    async fn ping(&self) -> Result<(), StoreError>;

    /// The apps' access tokens, when the database shares them between the instances using
    /// it; `None`: this store is one process's own, which keeps them in memory.
    fn shared_tokens(&self) -> Option<Arc<dyn TokenRows>> {
        None
    }

    /// The counters of rate limits, when the database shares them between the instances
    /// using it; `None`: this store is one process's own, which counts in memory.
    fn shared_counters(&self) -> Option<Arc<dyn Counters>> {
        None
    }

    /// Finishes what is queued and closes the connections (on shutdown).
    async fn close(&self);
}
