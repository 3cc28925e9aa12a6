//! The PostgreSQL adapter of [`Store`]: a pool of connections, one transaction per method,
//! embedded migrations.
//!
//! # Concurrency
//!
//! Several login-core processes may share the database, so nothing is serialized in the
//! process: the database holds the rules.
//!
//! - The schema's unique keys are the invariants: one identity per (appid, openid), one openid
//!   per user and app, one user per unionid, one owner per phone number.
//! - Logins (`record_login`, `login_registered`), the hot path, are one statement (a function
//!   the migrations create, one round trip) in READ COMMITTED, and create users and
//!   identities with `INSERT ... ON CONFLICT DO NOTHING` (see `postgres/login.rs`): N racing
//!   first logins of one person create one user, the others wait for it and find it.
//! - Phone bindings and phone logins, which decide on several reads, run in SERIALIZABLE:
//!   PostgreSQL fails a transaction whose reads another one changed (SQLSTATE 40001).
//! - A transaction (or a lone statement) that fails with a serialization failure (40001), a
//!   deadlock (40P01), a unique or foreign key a racing write took or removed first (23505,
//!   23503), or that lost an `ON CONFLICT` race, is rolled back and run again, at most 5 times
//!   in all (`ATTEMPTS`). It wrote nothing; the next attempt sees what the winner committed.
//!
//! # Connections
//!
//! Opening connects once, directly, and migrates on that connection, so a server that cannot
//! be reached is an error at once (not after the pool's acquire timeout). The pool
//! (`postgres/pool.rs`) then connects on demand, at most [`PoolConfig::max_connections`]
//! connections; a request waits at most [`PoolConfig::acquire_timeout`] for one (its making
//! included), then fails with an error that [`StoreError::is_unavailable`] recognizes (HTTP
//! 503). A connection goes back to the pool as it is, with no ping, and one in steady use
//! goes straight to the next request: a ping on each release or use was a round trip per
//! request. One idle for a second or more is pinged before it is handed out (what closes
//! connections silently happens while they sit unused), and so is one whose last user did
//! not finish (its request was dropped mid-statement, or its statement failed). When a
//! statement finds its connection broken (a server restart, `pg_terminate_backend`), the
//! next connections taken from the pool are pinged too: the broken ones are replaced, and a
//! restart of the database fails at most the requests that were using it, without a
//! restart of login-core. Such a request fails with an error that
//! [`StoreError::is_unavailable`] recognizes (HTTP 503); it is not run again, as it may have
//! reached the server. Each method is one transaction: all of it is stored, or none. A
//! transaction whose request is dropped before it ends closes its connection, so PostgreSQL
//! rolls it back at once and no connection goes back to the pool with a transaction open.
//!
//! The URL may choose the schema with `?options[search_path]=NAME` (the tests give each test
//! one of its own) and name the application with `application_name=NAME`.

mod login;
mod phone;
mod phone_login;
mod pool;
mod rows;
mod schema;
mod shared;
#[cfg(test)]
mod shared_tests;
pub mod testing;
#[cfg(test)]
mod tests;

use std::str::FromStr;
use std::sync::Arc;
use std::time::Duration;

use async_trait::async_trait;
use sqlx::postgres::PgConnectOptions;
use sqlx::{Connection, PgConnection};

use crate::clock::UnixMs;
use crate::domain::{Profile, User};
use crate::ids::{AppId, OpenId, TokenHash, UserId};
use crate::phone::PhoneNumber;
use crate::store::shared::{Counters, TokenRows};
use crate::store::{
    LoginOutcome, LoginWrite, NewSession, NewSmsCode, NewTicket, PasswordLookup, PhoneLoginOutcome,
    PhoneLoginWrite, PhoneOutcome, PhoneWrite, PoolConfig, SessionRecord, Store, StoreError,
    StoreStats,
};
use login::{Create, insert_session};
use pool::{OpenTransaction, Pool};
use rows::{
    SESSION_COLUMNS, SessionRow, count, load_user, profile_json, reload_user, session_record,
};

/// How long opening the store waits for its first connection.
const CONNECT_TIMEOUT: Duration = Duration::from_secs(10);

/// How many times a transaction runs before its transient failure is the answer.
pub(super) const ATTEMPTS: u32 = 5;

/// How a transaction starts.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
enum Isolation {
    /// PostgreSQL's default: each statement sees what was committed before it began.
    ReadCommitted,
    /// As if the transactions ran one after another, or one of them fails with 40001.
    Serializable,
}

impl Isolation {
    fn begin(self) -> &'static str {
        match self {
            Isolation::ReadCommitted => "BEGIN",
            Isolation::Serializable => "BEGIN ISOLATION LEVEL SERIALIZABLE",
        }
    }
}

/// Whether a transaction that failed with `e` is run again: it lost to a concurrent one, and
/// nothing of it was written.
fn is_retryable(e: &StoreError) -> bool {
    match e {
        StoreError::Contention(_) => true,
        StoreError::Database(sqlx::Error::Database(db)) => db
            .code()
            .is_some_and(|code| matches!(&*code, "40001" | "40P01" | "23505" | "23503")),
        _ => false,
    }
}

/// The error of the last attempt: a key racing writes kept taking is contention (HTTP 503,
/// like a serialization failure), whatever else is itself.
fn last_attempt(e: StoreError) -> StoreError {
    match &e {
        StoreError::Database(sqlx::Error::Database(db))
            if db.code().is_some_and(|c| c == "23505" || c == "23503") =>
        {
            tracing::warn!(error = %e, attempts = ATTEMPTS, "racing writes won every attempt");
            StoreError::Contention("racing writes took the same keys on every attempt")
        }
        _ => e,
    }
}

/// The pause before attempt `attempt + 1`: 2, 4, 8, 16 ms.
fn backoff(attempt: u32) -> Duration {
    Duration::from_millis(1 << attempt.min(6))
}

/// Whether `e` says the connection broke (closed by the server, reset, cut): the pool's other
/// idle connections may be broken too.
fn is_lost_connection(e: &StoreError) -> bool {
    match e {
        StoreError::Database(sqlx::Error::Io(_) | sqlx::Error::Protocol(_)) => true,
        StoreError::Database(sqlx::Error::Database(db)) => db.code().is_some_and(|code| {
            code.starts_with("08") || matches!(&*code, "57P01" | "57P02" | "57P03")
        }),
        _ => false,
    }
}

/// Awaits `$run` (an expression that makes a new future of `Result<T, StoreError>` each
/// time it is evaluated) on `$store`, and runs it again when it failed in a way
/// [`is_retryable`] accepts, at most [`ATTEMPTS`] times, with a growing pause between
/// attempts. A broken connection is not retried (the request may have reached the server):
/// it is the answer, and the pool tests its other connections before their next use.
macro_rules! retrying {
    ($store:expr, $run:expr) => {{
        let mut attempt = 1;
        loop {
            let result: Result<_, StoreError> = $run.await;
            if let Err(e) = &result {
                $store.saw(e);
            }
            match result {
                Err(e) if is_retryable(&e) && attempt < ATTEMPTS => {
                    tracing::debug!(error = %e, attempt, "transaction lost a race; running it again");
                    tokio::time::sleep(backoff(attempt)).await;
                    attempt += 1;
                }
                Err(e) if is_retryable(&e) => break Err(last_attempt(e)),
                result => break result,
            }
        }
    }};
}

/// Runs `$body` (an expression of type `Result<(T, Finish), StoreError>` that uses the
/// transaction `$tx`, a `&mut PgConnection`) in a transaction of `$isolation` on `$store`'s
/// pool: commits or rolls back as the body says (an error rolls back), and runs it again
/// (from `BEGIN`) when it failed in a way [`is_retryable`] accepts, at most [`ATTEMPTS`]
/// times. Dropped before the transaction ended, it closes the connection (see
/// [`OpenTransaction`]).
macro_rules! transaction {
    ($store:expr, $isolation:expr, |$tx:ident| $body:expr) => {
        retrying!($store, async {
            let mut tx =
                OpenTransaction::begin($store.pool.acquire().await?, $isolation.begin()).await?;
            let result = async {
                let $tx: &mut PgConnection = tx.connection()?;
                let body: Result<(_, Finish), StoreError> = $body;
                body
            }
            .await;
            tx.finish(result).await
        })
    };
}

/// Runs `$body` (an expression of type `Result<T, StoreError>` that uses `$conn`, a
/// `&mut PgConnection` outside any transaction) on a connection of `$store`'s pool, again
/// when it failed in a way [`is_retryable`] accepts, at most [`ATTEMPTS`] times. For one
/// statement, which is a transaction of its own: no `BEGIN` and `COMMIT` round trips. The
/// connection is marked done only when the body succeeded: dropped midway or failed, it is
/// pinged before its next use.
macro_rules! statement {
    ($store:expr, |$conn:ident| $body:expr) => {
        retrying!($store, async {
            let mut pooled = $store.pool.acquire().await?;
            let result: Result<_, StoreError> = {
                let $conn: &mut PgConnection = pooled.connection();
                $body
            };
            let value = result?;
            pooled.done();
            Ok(value)
        })
    };
}

// By path, for the submodules (declared above the definitions).
#[cfg(test)]
use transaction;
use {retrying, statement};

/// What a transaction does at its end.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
enum Finish {
    Commit,
    Rollback,
}

/// Commits `value`'s transaction.
fn commit<T>(value: T) -> Result<(T, Finish), StoreError> {
    Ok((value, Finish::Commit))
}

/// The PostgreSQL store. Cheap to clone; the pool is shared.
#[derive(Clone, Debug)]
pub struct PostgresStore {
    pool: Pool,
}

impl PostgresStore {
    /// Connects to `url` (`postgres://USER[:PASSWORD]@HOST[:PORT]/DATABASE`, also
    /// `postgresql://`), migrates the schema, and keeps a pool of connections made on demand.
    /// A server that cannot be reached is [`StoreError::Unreachable`], at once. The pool has
    /// [`PoolConfig::default`]'s size.
    pub async fn open(url: &str) -> Result<PostgresStore, StoreError> {
        Self::open_with(url, PoolConfig::default()).await
    }

    /// Like [`PostgresStore::open`], with the pool sized by `pool`.
    pub async fn open_with(url: &str, pool: PoolConfig) -> Result<PostgresStore, StoreError> {
        let options = PgConnectOptions::from_str(url)
            .map_err(|e| StoreError::Url(format!("database_url is not a PostgreSQL URL: {e}")))?;
        let unreachable = |e: String| StoreError::Unreachable {
            target: target(&options),
            reason: e,
        };
        let mut conn = tokio::time::timeout(CONNECT_TIMEOUT, PgConnection::connect_with(&options))
            .await
            .map_err(|_| unreachable(format!("no answer in {} s", CONNECT_TIMEOUT.as_secs())))?
            .map_err(|e| match e {
                sqlx::Error::Database(db) => unreachable(db.message().to_owned()),
                e => unreachable(e.to_string()),
            })?;
        schema::migrate(&mut conn).await?;
        let _ = conn.close().await;
        let pool = Pool::new(options, pool.max_connections.max(1), pool.acquire_timeout)?;
        Ok(PostgresStore { pool })
    }

    /// Notes what the error of a statement says about the pool's connections.
    fn saw(&self, e: &StoreError) {
        if is_lost_connection(e) {
            tracing::info!(error = %e, "a database connection broke; testing the others before use");
            self.pool.suspect_all();
        }
    }
}

/// `HOST:PORT/DATABASE` (or the socket), for messages: never the password.
fn target(options: &PgConnectOptions) -> String {
    let database = options.get_database().unwrap_or("(the user's database)");
    match options.get_socket() {
        Some(socket) => format!("{}/{database}", socket.display()),
        None => format!("{}:{}/{database}", options.get_host(), options.get_port()),
    }
}

#[async_trait]
impl Store for PostgresStore {
    /// One statement in READ COMMITTED, run again after a lost race; see
    /// `postgres/login.rs`.
    async fn record_login(&self, write: LoginWrite) -> Result<LoginOutcome, StoreError> {
        statement!(self, |conn| {
            login::login(conn, &write, Create::Allowed)
                .await?
                .ok_or(StoreError::Corrupt(
                    "a login that may create a user created none".into(),
                ))
        })
    }

    async fn session(&self, hash: &TokenHash) -> Result<Option<SessionRecord>, StoreError> {
        let sql = format!("SELECT {SESSION_COLUMNS} FROM sessions WHERE token_hash = $1");
        let row: Option<SessionRow> = statement!(self, |conn| {
            Ok(sqlx::query_as(&sql)
                .bind(hash.0.as_slice())
                .fetch_optional(&mut *conn)
                .await?)
        })?;
        Ok(row.map(session_record))
    }

    /// Sets `expires_at` of a session that is not revoked, clamped to its
    /// `absolute_expires_at`.
    async fn renew_session(&self, hash: &TokenHash, expires_at: UnixMs) -> Result<(), StoreError> {
        statement!(self, |conn| {
            sqlx::query(
                "UPDATE sessions SET expires_at = LEAST($1, absolute_expires_at) \
                 WHERE token_hash = $2 AND revoked_at IS NULL",
            )
            .bind(expires_at.0)
            .bind(hash.0.as_slice())
            .execute(&mut *conn)
            .await?;
            Ok(())
        })
    }

    /// The update locks the old session's row: of two racing rotations the second waits,
    /// then finds it revoked and writes nothing.
    async fn rotate_session(
        &self,
        old: &TokenHash,
        new: NewSession,
        now: UnixMs,
    ) -> Result<bool, StoreError> {
        transaction!(self, Isolation::ReadCommitted, |tx| {
            let revoked: Option<(i64, String, Option<String>)> = sqlx::query_as(
                "UPDATE sessions SET revoked_at = $1 WHERE token_hash = $2 \
                 AND revoked_at IS NULL AND expires_at > $1 AND absolute_expires_at > $1 \
                 RETURNING user_id, appid, openid",
            )
            .bind(now.0)
            .bind(old.0.as_slice())
            .fetch_optional(&mut *tx)
            .await?;
            match revoked {
                None => Ok((false, Finish::Rollback)),
                Some((user_id, appid, openid)) => {
                    insert_session(tx, user_id, &appid, openid.as_deref(), &new, now).await?;
                    commit(true)
                }
            }
        })
    }

    async fn revoke_session(&self, hash: &TokenHash, now: UnixMs) -> Result<bool, StoreError> {
        statement!(self, |conn| {
            let done = sqlx::query(
                "UPDATE sessions SET revoked_at = $1 WHERE token_hash = $2 \
                 AND revoked_at IS NULL AND expires_at > $1 AND absolute_expires_at > $1",
            )
            .bind(now.0)
            .bind(hash.0.as_slice())
            .execute(&mut *conn)
            .await?;
            Ok(done.rows_affected() == 1)
        })
    }

    async fn sealed_session_key(
        &self,
        appid: &AppId,
        openid: &OpenId,
    ) -> Result<Option<Vec<u8>>, StoreError> {
        statement!(self, |conn| {
            Ok(sqlx::query_scalar(
                "SELECT session_key FROM identities WHERE appid = $1 AND openid = $2",
            )
            .bind(appid.as_str())
            .bind(openid.as_str())
            .fetch_optional(&mut *conn)
            .await?)
        })
    }

    /// One statement: one snapshot.
    async fn user(&self, id: UserId) -> Result<Option<User>, StoreError> {
        statement!(self, |conn| load_user(conn, id.0).await)
    }

    async fn set_profile(
        &self,
        id: UserId,
        profile: Profile,
        now: UnixMs,
    ) -> Result<User, StoreError> {
        let json = profile_json(&profile)?;
        transaction!(self, Isolation::ReadCommitted, |tx| {
            let done =
                sqlx::query("UPDATE users SET profile = $1::jsonb, updated_at = $2 WHERE id = $3")
                    .bind(&json)
                    .bind(now.0)
                    .bind(id.0)
                    .execute(&mut *tx)
                    .await?;
            if done.rows_affected() == 0 {
                return Err(StoreError::NotFound("user"));
            }
            commit(reload_user(tx, id.0).await?)
        })
    }

    /// SERIALIZABLE; see `postgres/phone.rs`. A conflict writes nothing.
    async fn bind_phone(&self, write: PhoneWrite) -> Result<PhoneOutcome, StoreError> {
        transaction!(self, Isolation::Serializable, |tx| {
            let outcome = phone::bind_phone(tx, write.clone()).await?;
            let finish = match outcome {
                PhoneOutcome::Conflict => Finish::Rollback,
                _ => Finish::Commit,
            };
            Ok((outcome, finish))
        })
    }

    /// One statement, as `record_login`, but never creating a user (then writing nothing).
    async fn login_registered(
        &self,
        write: LoginWrite,
    ) -> Result<Option<LoginOutcome>, StoreError> {
        statement!(self, |conn| login::login(conn, &write, Create::Refused)
            .await)
    }

    async fn create_ticket(&self, ticket: NewTicket) -> Result<(), StoreError> {
        transaction!(self, Isolation::ReadCommitted, |tx| {
            phone_login::create_ticket(tx, &ticket).await?;
            commit(())
        })
    }

    /// One `INSERT ... ON CONFLICT DO UPDATE`: racing codes for one number leave the last.
    async fn save_sms_code(&self, code: NewSmsCode) -> Result<(), StoreError> {
        transaction!(self, Isolation::ReadCommitted, |tx| {
            phone_login::save_sms_code(tx, &code).await?;
            commit(())
        })
    }

    async fn discard_sms_code(
        &self,
        phone: &PhoneNumber,
        purpose: &'static str,
        code_hash: [u8; 32],
    ) -> Result<(), StoreError> {
        transaction!(self, Isolation::ReadCommitted, |tx| {
            phone_login::discard_sms_code(tx, phone, purpose, code_hash).await?;
            commit(())
        })
    }

    /// One statement: one snapshot.
    async fn password_of(&self, phone: &PhoneNumber) -> Result<PasswordLookup, StoreError> {
        statement!(self, |conn| phone_login::password_of(conn, phone).await)
    }

    /// SERIALIZABLE, committed when the login succeeds or a wrong SMS code was counted,
    /// rolled back on every other refusal; see `postgres/phone_login.rs` for the rules.
    async fn phone_login(&self, write: PhoneLoginWrite) -> Result<PhoneLoginOutcome, StoreError> {
        transaction!(self, Isolation::Serializable, |tx| {
            let (outcome, finish) = phone_login::phone_login(tx, write.clone()).await?;
            let finish = match finish {
                phone_login::Finish::Commit => Finish::Commit,
                phone_login::Finish::Rollback => Finish::Rollback,
            };
            Ok((outcome, finish))
        })
    }

    async fn purge_phone_state(&self, before: UnixMs) -> Result<u64, StoreError> {
        transaction!(self, Isolation::ReadCommitted, |tx| {
            commit(phone_login::purge(tx, before).await?)
        })
    }

    /// Deletes sessions revoked before `before` or whose end (the earlier of `expires_at`
    /// and `absolute_expires_at`) is before `before`; returns how many.
    async fn purge_sessions(&self, before: UnixMs) -> Result<u64, StoreError> {
        // `LEAST(expires_at, absolute_expires_at)` matches the `sessions_end` index.
        statement!(self, |conn| {
            let done = sqlx::query(
                "DELETE FROM sessions WHERE revoked_at < $1 \
                 OR LEAST(expires_at, absolute_expires_at) < $1",
            )
            .bind(before.0)
            .execute(&mut *conn)
            .await?;
            Ok(done.rows_affected())
        })
    }

    /// Row counts, in one statement (one snapshot); also proves the database answers.
    async fn stats(&self) -> Result<StoreStats, StoreError> {
        let (users, identities, sessions, tickets, sms_codes, passwords): (
            i64,
            i64,
            i64,
            i64,
            i64,
            i64,
        ) = statement!(self, |conn| {
            Ok(sqlx::query_as(
                "SELECT (SELECT count(*) FROM users), (SELECT count(*) FROM identities), \
                 (SELECT count(*) FROM sessions), (SELECT count(*) FROM registration_tickets), \
                 (SELECT count(*) FROM sms_codes), (SELECT count(*) FROM passwords)",
            )
            .fetch_one(&mut *conn)
            .await?)
        })?;
        Ok(StoreStats {
            users: count(users)?,
            identities: count(identities)?,
            sessions: count(sessions)?,
            tickets: count(tickets)?,
            sms_codes: count(sms_codes)?,
            passwords: count(passwords)?,
        })
    }

    async fn ping(&self) -> Result<(), StoreError> {
        statement!(self, |conn| {
            sqlx::query("SELECT 1").execute(&mut *conn).await?;
            Ok(())
        })
    }

    /// In the table `access_tokens`, refreshed under an advisory lock per app; see
    /// `postgres/shared.rs`.
    fn shared_tokens(&self) -> Option<Arc<dyn TokenRows>> {
        Some(Arc::new(self.clone()))
    }

    /// In the unlogged table `rate_limits`; see `postgres/shared.rs`.
    fn shared_counters(&self) -> Option<Arc<dyn Counters>> {
        Some(Arc::new(self.clone()))
    }

    /// Hands out no more connections and closes the idle ones; those in use are closed as
    /// they come back.
    async fn close(&self) {
        self.pool.close().await;
    }
}
