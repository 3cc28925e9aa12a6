//! The SQLite adapter of [`Store`]: one serialized writer connection, a pool of read-only
//! readers, WAL journal, durable commits, embedded migrations.
//!
//! # Concurrency
//!
//! All writes go through a pool of exactly **one** connection, so write transactions are
//! serialized inside the process. Every write transaction also starts with `BEGIN IMMEDIATE`,
//! which takes SQLite's write lock before the first read. Together this makes the
//! read-then-write logic of [`Store::record_login`] and [`Store::bind_phone`] race-free
//! ("is there a user for this openid? no → create one" cannot run twice in parallel, even
//! against another process on the same file, which waits on `busy_timeout` instead), and it
//! rules out the SQLITE_BUSY deadlock of two deferred transactions both trying to upgrade a read
//! lock to a write lock. The UNIQUE constraints in the schema stay as the safety net.
//!
//! Logins, the hot path, are group-committed (see `sqlite/batch.rs`): one writer task runs
//! the logins queued at the moment in one such transaction, a savepoint each, and answers them
//! only after the one COMMIT (one fsync) has returned.
//!
//! WAL checkpoints (copying committed pages back into the database file) run on a connection
//! of their own beside the writer, so that commits do not wait for them (see
//! `sqlite/checkpoint.rs`).
//!
//! Reads go through a separate pool of read-only connections. In WAL mode readers never block
//! the writer and see the last committed state, so `session` lookups on every request do not
//! queue behind logins. Reads that touch two tables run in a (deferred) transaction to see
//! one snapshot.
//!
//! For `sqlite::memory:` there is no WAL, and connections sharing an in-memory database (shared
//! cache) lock whole tables with SQLITE_LOCKED, which `busy_timeout` does not wait on. So the
//! store uses the single writer connection for reads too, and never lets it close (an in-memory
//! database dies with its last connection).

mod batch;
mod checkpoint;
mod login;
mod phone;
mod phone_login;
mod rows;
mod schema;
#[cfg(test)]
mod tests;

use std::pin::Pin;
use std::str::FromStr;
use std::sync::Arc;
use std::time::Duration;

use async_trait::async_trait;
use sqlx::SqliteConnection;
use sqlx::pool::PoolConnectionMetadata;
use sqlx::sqlite::{
    SqliteConnectOptions, SqliteJournalMode, SqlitePool, SqlitePoolOptions, SqliteSynchronous,
};

use crate::clock::UnixMs;
use crate::domain::{Profile, User};
use crate::ids::{AppId, OpenId, TokenHash, UserId};
use crate::phone::PhoneNumber;
use crate::store::{
    LoginOutcome, LoginWrite, NewSession, NewSmsCode, NewTicket, PasswordLookup, PhoneLoginOutcome,
    PhoneLoginWrite, PhoneOutcome, PhoneWrite, SessionRecord, Store, StoreError, StoreStats,
};
use batch::LoginQueue;
use checkpoint::WRITER_AUTOCHECKPOINT;
use login::{LOGIN_ROWS, insert_session};
use rows::{
    SESSION_COLUMNS, SessionRow, count, load_user, profile_json, reload_user, session_record,
};

/// How long a connection waits for a lock held by another process before failing.
const BUSY_TIMEOUT: Duration = Duration::from_secs(5);

/// How often opening tries again when the file is busy switching to WAL, and the pause
/// between tries: 5 s in all, as `BUSY_TIMEOUT`.
const OPEN_BUSY_TRIES: u32 = 250;
const OPEN_BUSY_PAUSE: Duration = Duration::from_millis(20);

/// Read-only connections for a file database.
const READERS: u32 = 4;

/// Prepared statements the writer connection keeps.
const WRITER_STATEMENTS: usize = 512;

/// How write transactions start: take the write lock first (see the module docs).
const BEGIN_WRITE: &str = "BEGIN IMMEDIATE";

/// The SQLite store. Cheap to share behind an `Arc`; the pools are internally shared.
#[derive(Clone, Debug)]
pub struct SqliteStore {
    /// One connection: every write, serialized.
    writer: SqlitePool,
    /// Read-only connections (the writer pool itself for in-memory databases).
    reader: SqlitePool,
    /// The group-commit writer task of `record_login`; stops when the last clone is dropped.
    logins: Arc<LoginQueue>,
}

/// What the writer's connect hook returns.
type Connecting<'c> = Pin<Box<dyn Future<Output = Result<(), sqlx::Error>> + Send + 'c>>;

/// Runs `script` on every new writer connection: the temporary view through which logins are
/// written (see `sqlite/login.rs`), and for a private in-memory database its whole schema.
fn on_connect(
    script: Arc<str>,
) -> impl for<'c> Fn(&'c mut SqliteConnection, PoolConnectionMetadata) -> Connecting<'c>
+ Send
+ Sync
+ 'static {
    move |conn, _| {
        let script = script.clone();
        Box::pin(async move {
            sqlx::Executor::execute(conn, sqlx::raw_sql(&script)).await?;
            Ok(())
        })
    }
}

/// Whether `url` names an in-memory database (`sqlite::memory:`, `mode=memory`).
fn is_memory(url: &str) -> bool {
    url.contains(":memory:") || url.contains("mode=memory")
}

/// Whether `url` names a private in-memory database (`sqlite::memory:`, `sqlite://:memory:`),
/// new on every open: no other store can reach it, unlike a named `mode=memory` one.
fn is_private_memory(url: &str) -> bool {
    let rest = url.strip_prefix("sqlite:").unwrap_or(url);
    let rest = rest.strip_prefix("//").unwrap_or(rest);
    rest.split('?').next() == Some(":memory:")
}

impl SqliteStore {
    /// Opens (creating the file and its directory if missing) and migrates the database at
    /// `url`, e.g. `sqlite://data/login-core.db` or `sqlite::memory:`.
    ///
    /// Connections use WAL (files only), `synchronous = FULL` (a commit survives power loss),
    /// foreign keys, and a busy timeout of 5 s.
    pub async fn open(url: &str) -> Result<SqliteStore, StoreError> {
        let base = SqliteConnectOptions::from_str(url)?
            .foreign_keys(true)
            .busy_timeout(BUSY_TIMEOUT)
            .synchronous(SqliteSynchronous::Full);
        let memory = is_memory(url);
        // A new private in-memory database gets its schema with the connection's temporary
        // objects, in one trip to SQLite's thread (see `sqlite/schema.rs`).
        let private = is_private_memory(url);
        let connect_script = if private {
            format!("{}{LOGIN_ROWS}", schema::new_database_script())
        } else {
            LOGIN_ROWS.to_owned()
        };

        if !memory {
            if let Some(dir) = base.get_filename().parent() {
                if !dir.as_os_str().is_empty() {
                    tokio::fs::create_dir_all(dir)
                        .await
                        .map_err(|e| StoreError::Database(sqlx::Error::Io(e)))?;
                }
            }
        }

        // Batches of logins use statements shaped by their size (up to `MAX_BATCH` rows):
        // keep them all prepared.
        let mut writer_options = base
            .clone()
            .create_if_missing(true)
            .statement_cache_capacity(WRITER_STATEMENTS);
        if !memory {
            // WAL is persistent in the file; set it on the writer before any reader opens.
            // Checkpoints run beside the writer; its own are a backstop (`sqlite/checkpoint.rs`).
            writer_options = writer_options
                .journal_mode(SqliteJournalMode::Wal)
                .pragma("wal_autocheckpoint", WRITER_AUTOCHECKPOINT.to_string());
        }
        // Two processes opening a new file at once may meet in the switch to WAL, which
        // answers SQLITE_BUSY without waiting on `busy_timeout`: the loser tries again.
        let mut busy = 0;
        let writer = loop {
            let opened = SqlitePoolOptions::new()
                .min_connections(1)
                .max_connections(1)
                // Keep the single connection for the life of the store: reconnecting costs,
                // and an in-memory database would be lost.
                .idle_timeout(None)
                .max_lifetime(None)
                // A local file needs no ping before every write; it would cost a round trip
                // to the connection's thread per transaction (per batch of logins).
                .test_before_acquire(false)
                .after_connect(on_connect(connect_script.clone().into()))
                .connect_with(writer_options.clone())
                .await;
            match opened {
                Err(sqlx::Error::Database(e))
                    if e.code().as_deref() == Some("5") && busy < OPEN_BUSY_TRIES =>
                {
                    busy += 1;
                    tokio::time::sleep(OPEN_BUSY_PAUSE).await;
                }
                opened => break opened?,
            }
        };
        if !private {
            schema::migrate(&mut *writer.acquire().await?).await?;
        }

        let reader = if memory {
            writer.clone()
        } else {
            SqlitePoolOptions::new()
                .max_connections(READERS)
                .connect_with(base.clone().read_only(true))
                .await?
        };

        // WAL checkpoints beside the writer, on a connection of their own.
        let checkpointer = if memory {
            None
        } else {
            Some(<SqliteConnection as sqlx::Connection>::connect_with(&base).await?)
        };
        let logins = Arc::new(
            LoginQueue::start(writer.clone(), checkpointer)
                .map_err(|e| StoreError::Database(sqlx::Error::Io(e)))?,
        );
        Ok(SqliteStore {
            writer,
            reader,
            logins,
        })
    }

    /// Commits the logins already queued, stops the login writer task, then closes every
    /// connection, waiting for them to finish (call on shutdown).
    pub async fn close(&self) {
        self.logins.close().await;
        self.reader.close().await;
        self.writer.close().await;
    }

    /// Starts a write transaction on the single writer connection, holding the write lock.
    async fn begin_write(&self) -> Result<sqlx::Transaction<'static, sqlx::Sqlite>, StoreError> {
        Ok(self.writer.begin_with(BEGIN_WRITE).await?)
    }
}

#[async_trait]
impl Store for SqliteStore {
    /// One write transaction:
    /// - a known identity (appid, openid) → its user; the identity's sealed session_key and
    ///   `updated_at` are replaced. A unionid WeChat now reports is attached if the user has
    ///   none and no other user holds it (otherwise a warning is logged and the login goes on);
    /// - else a user holding the unionid → a new identity for that user (`is_new = false`);
    /// - else a new user (with the unionid) and identity (`is_new = true`).
    ///
    /// Then the session is inserted. Returns the user as written, identities sorted by appid.
    ///
    /// Group-committed: the transaction is shared with the other logins queued at the same
    /// moment (each in its own savepoint, so a failing login takes only itself back), and the
    /// answer comes only after that transaction's COMMIT has returned.
    async fn record_login(&self, write: LoginWrite) -> Result<LoginOutcome, StoreError> {
        self.logins.record(write).await
    }

    /// The session with this hash, whatever its state (revoked and expired ones included).
    async fn session(&self, hash: &TokenHash) -> Result<Option<SessionRecord>, StoreError> {
        let sql = format!("SELECT {SESSION_COLUMNS} FROM sessions WHERE token_hash = ?");
        let row: Option<SessionRow> = sqlx::query_as(&sql)
            .bind(hash.0.as_slice())
            .fetch_optional(&self.reader)
            .await?;
        Ok(row.map(session_record))
    }

    /// Sets `expires_at` of a session that is not revoked, clamped to its
    /// `absolute_expires_at`. A revoked or unknown session is left alone. The store does not
    /// know "now": callers renew only sessions they found active.
    async fn renew_session(&self, hash: &TokenHash, expires_at: UnixMs) -> Result<(), StoreError> {
        sqlx::query(
            "UPDATE sessions SET expires_at = min(?, absolute_expires_at) \
             WHERE token_hash = ? AND revoked_at IS NULL",
        )
        .bind(expires_at.0)
        .bind(hash.0.as_slice())
        .execute(&self.writer)
        .await?;
        Ok(())
    }

    /// In one transaction: revokes `old` (`revoked_at = now`) if it is active at `now` (not
    /// revoked, `expires_at > now`, `absolute_expires_at > now`) and inserts `new` for the same
    /// user, appid and openid. `false`, with nothing written, if `old` was not active.
    async fn rotate_session(
        &self,
        old: &TokenHash,
        new: NewSession,
        now: UnixMs,
    ) -> Result<bool, StoreError> {
        let mut tx = self.begin_write().await?;
        let revoked: Option<(i64, String, Option<String>)> = sqlx::query_as(
            "UPDATE sessions SET revoked_at = ?1 WHERE token_hash = ?2 AND revoked_at IS NULL \
             AND expires_at > ?1 AND absolute_expires_at > ?1 RETURNING user_id, appid, openid",
        )
        .bind(now.0)
        .bind(old.0.as_slice())
        .fetch_optional(&mut *tx)
        .await?;
        let Some((user_id, appid, openid)) = revoked else {
            // Nothing was written; dropping the transaction rolls it back.
            return Ok(false);
        };
        insert_session(&mut tx, user_id, &appid, openid.as_deref(), &new, now).await?;
        tx.commit().await?;
        Ok(true)
    }

    /// Sets `revoked_at = now` if the session is active at `now`; `false` otherwise (unknown,
    /// already revoked, or expired).
    async fn revoke_session(&self, hash: &TokenHash, now: UnixMs) -> Result<bool, StoreError> {
        let done = sqlx::query(
            "UPDATE sessions SET revoked_at = ?1 WHERE token_hash = ?2 AND revoked_at IS NULL \
             AND expires_at > ?1 AND absolute_expires_at > ?1",
        )
        .bind(now.0)
        .bind(hash.0.as_slice())
        .execute(&self.writer)
        .await?;
        Ok(done.rows_affected() == 1)
    }

    /// The sealed session_key stored on the identity (appid, openid), if it exists.
    async fn sealed_session_key(
        &self,
        appid: &AppId,
        openid: &OpenId,
    ) -> Result<Option<Vec<u8>>, StoreError> {
        Ok(
            sqlx::query_scalar("SELECT session_key FROM identities WHERE appid = ? AND openid = ?")
                .bind(appid.as_str())
                .bind(openid.as_str())
                .fetch_optional(&self.reader)
                .await?,
        )
    }

    /// The user with its identities (sorted by appid), read from one snapshot.
    async fn user(&self, id: UserId) -> Result<Option<User>, StoreError> {
        let mut tx = self.reader.begin().await?;
        let user = load_user(&mut tx, id.0).await?;
        tx.commit().await?;
        Ok(user)
    }

    /// Replaces the profile and `updated_at`; `NotFound("user")` if there is no such user.
    async fn set_profile(
        &self,
        id: UserId,
        profile: Profile,
        now: UnixMs,
    ) -> Result<User, StoreError> {
        let json = profile_json(&profile)?;
        let mut tx = self.begin_write().await?;
        let done = sqlx::query("UPDATE users SET profile = ?, updated_at = ? WHERE id = ?")
            .bind(json)
            .bind(now.0)
            .bind(id.0)
            .execute(&mut *tx)
            .await?;
        if done.rows_affected() == 0 {
            return Err(StoreError::NotFound("user"));
        }
        let user = reload_user(&mut tx, id.0).await?;
        tx.commit().await?;
        Ok(user)
    }

    /// One transaction. U is the user of the identity (appid, openid) now (not
    /// `write.user_id`: a racing request of the same session may have just joined it into
    /// another account); O is the user holding the number (same `country_code` and
    /// `pure_phone_number`).
    /// - No such identity → `NotFound("identity")`, nothing written.
    /// - No O → the number replaces U's → `Bound(U)`.
    /// - O is U → `Bound(U)`, the stored `phone_number` text refreshed.
    /// - O is another user → `Conflict` (nothing written) if O has an identity in
    ///   `write.appid`, if U has any identity other than (appid, openid) (moving one would
    ///   split a person), or if both have different unionids. Otherwise the identity and all
    ///   of U's sessions move to O, O takes U's unionid and profile where it has none, U is
    ///   deleted → `Joined { user: O, merged_from: U }`.
    async fn bind_phone(&self, write: PhoneWrite) -> Result<PhoneOutcome, StoreError> {
        let mut tx = self.begin_write().await?;
        let outcome = phone::bind_phone(&mut tx, write).await?;
        if matches!(outcome, PhoneOutcome::Conflict) {
            tx.rollback().await?;
        } else {
            tx.commit().await?;
        }
        Ok(outcome)
    }

    /// Deletes sessions revoked before `before` or whose end (the earlier of `expires_at`
    /// and `absolute_expires_at`) is before `before`; returns how many.
    async fn purge_sessions(&self, before: UnixMs) -> Result<u64, StoreError> {
        // `min(expires_at, absolute_expires_at)` matches the `sessions_end` index.
        let done = sqlx::query(
            "DELETE FROM sessions WHERE revoked_at < ?1 \
             OR min(expires_at, absolute_expires_at) < ?1",
        )
        .bind(before.0)
        .execute(&self.writer)
        .await?;
        Ok(done.rows_affected())
    }

    /// One write transaction; see `sqlite/phone_login.rs`.
    async fn login_registered(
        &self,
        write: LoginWrite,
    ) -> Result<Option<LoginOutcome>, StoreError> {
        let mut tx = self.begin_write().await?;
        let outcome = phone_login::login_registered(&mut tx, &write).await?;
        if outcome.is_some() {
            tx.commit().await?;
        } else {
            tx.rollback().await?;
        }
        Ok(outcome)
    }

    async fn create_ticket(&self, ticket: NewTicket) -> Result<(), StoreError> {
        let mut tx = self.begin_write().await?;
        phone_login::create_ticket(&mut tx, &ticket).await?;
        tx.commit().await?;
        Ok(())
    }

    async fn save_sms_code(&self, code: NewSmsCode) -> Result<(), StoreError> {
        let mut tx = self.begin_write().await?;
        phone_login::save_sms_code(&mut tx, &code).await?;
        tx.commit().await?;
        Ok(())
    }

    async fn discard_sms_code(
        &self,
        phone: &PhoneNumber,
        purpose: &'static str,
        code_hash: [u8; 32],
    ) -> Result<(), StoreError> {
        let mut tx = self.begin_write().await?;
        phone_login::discard_sms_code(&mut tx, phone, purpose, code_hash).await?;
        tx.commit().await?;
        Ok(())
    }

    /// Read from one snapshot on the reader pool.
    async fn password_of(&self, phone: &PhoneNumber) -> Result<PasswordLookup, StoreError> {
        let mut conn = self.reader.acquire().await?;
        phone_login::password_of(&mut conn, phone).await
    }

    /// One write transaction, committed when the login succeeds or a wrong SMS code was
    /// counted, rolled back on every other refusal; see `sqlite/phone_login.rs` for the rules.
    async fn phone_login(&self, write: PhoneLoginWrite) -> Result<PhoneLoginOutcome, StoreError> {
        let mut tx = self.begin_write().await?;
        let (outcome, finish) = phone_login::phone_login(&mut tx, write).await?;
        match finish {
            phone_login::Finish::Commit => tx.commit().await?,
            phone_login::Finish::Rollback => tx.rollback().await?,
        }
        Ok(outcome)
    }

    async fn purge_phone_state(&self, before: UnixMs) -> Result<u64, StoreError> {
        let mut tx = self.begin_write().await?;
        let purged = phone_login::purge(&mut tx, before).await?;
        tx.commit().await?;
        Ok(purged)
    }

    /// Row counts, in one statement (one snapshot). Goes through the reader pool, so it also
    /// proves the database answers.
    async fn stats(&self) -> Result<StoreStats, StoreError> {
        let (users, identities, sessions, tickets, sms_codes, passwords): (
            i64,
            i64,
            i64,
            i64,
            i64,
            i64,
        ) = sqlx::query_as(
            "SELECT (SELECT count(*) FROM users), (SELECT count(*) FROM identities), \
             (SELECT count(*) FROM sessions), (SELECT count(*) FROM registration_tickets), \
             (SELECT count(*) FROM sms_codes), (SELECT count(*) FROM passwords)",
        )
        .fetch_one(&self.reader)
        .await?;
        Ok(StoreStats {
            users: count(users)?,
            identities: count(identities)?,
            sessions: count(sessions)?,
            tickets: count(tickets)?,
            sms_codes: count(sms_codes)?,
            passwords: count(passwords)?,
        })
    }

    /// A query on a reader: the file opens and its schema is readable.
    async fn ping(&self) -> Result<(), StoreError> {
        sqlx::query("SELECT 1 FROM users LIMIT 1")
            .execute(&self.reader)
            .await?;
        Ok(())
    }

    async fn close(&self) {
        SqliteStore::close(self).await;
    }
}
