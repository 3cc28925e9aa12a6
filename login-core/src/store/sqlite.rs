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
//! Reads go through a separate pool of read-only connections. In WAL mode readers never block
//! the writer and see the last committed state, so `session` lookups on every request do not
//! queue behind logins. Reads that touch two tables run in a (deferred) transaction to see
//! one snapshot.
//!
//! For `sqlite::memory:` there is no WAL and each connection would otherwise get its own
//! database, so the store uses the single writer connection for reads too, and never lets it
//! close (an in-memory database dies with its last connection).

mod rows;
#[cfg(test)]
mod tests;

use std::str::FromStr;
use std::time::Duration;

use async_trait::async_trait;
use sqlx::SqliteConnection;
use sqlx::migrate::Migrator;
use sqlx::sqlite::{
    SqliteConnectOptions, SqliteJournalMode, SqlitePool, SqlitePoolOptions, SqliteSynchronous,
};

use crate::clock::UnixMs;
use crate::ids::{AppId, OpenId, TokenHash, UserId};
use crate::store::{
    LoginOutcome, LoginWrite, NewSession, PhoneOutcome, PhoneWrite, Profile, SessionRecord, Store,
    StoreError, StoreStats, UserRecord,
};
use rows::{
    SESSION_COLUMNS, SessionRow, count, load_user, profile_json, reload_user, session_record,
};

/// The schema, embedded at compile time.
static MIGRATOR: Migrator = sqlx::migrate!("./migrations/sqlite");

/// How long a connection waits for a lock held by another process before failing.
const BUSY_TIMEOUT: Duration = Duration::from_secs(5);

/// Read-only connections for a file database.
const READERS: u32 = 4;

/// How write transactions start: take the write lock first (see the module docs).
const BEGIN_WRITE: &str = "BEGIN IMMEDIATE";

/// The SQLite store. Cheap to share behind an `Arc`; the pools are internally shared.
#[derive(Clone, Debug)]
pub struct SqliteStore {
    /// One connection: every write, serialized.
    writer: SqlitePool,
    /// Read-only connections (the writer pool itself for in-memory databases).
    reader: SqlitePool,
}

/// Whether `url` names an in-memory database (`sqlite::memory:`, `mode=memory`).
fn is_memory(url: &str) -> bool {
    url.contains(":memory:") || url.contains("mode=memory")
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

        if !memory {
            if let Some(dir) = base.get_filename().parent() {
                if !dir.as_os_str().is_empty() {
                    tokio::fs::create_dir_all(dir)
                        .await
                        .map_err(|e| StoreError::Database(sqlx::Error::Io(e)))?;
                }
            }
        }

        let mut writer_options = base.clone().create_if_missing(true);
        if !memory {
            // WAL is persistent in the file; set it on the writer before any reader opens.
            writer_options = writer_options.journal_mode(SqliteJournalMode::Wal);
        }
        let writer = SqlitePoolOptions::new()
            .min_connections(1)
            .max_connections(1)
            // Keep the single connection for the life of the store: reconnecting costs, and
            // an in-memory database would be lost.
            .idle_timeout(None)
            .max_lifetime(None)
            .connect_with(writer_options)
            .await?;

        MIGRATOR.run(&writer).await?;

        let reader = if memory {
            writer.clone()
        } else {
            SqlitePoolOptions::new()
                .max_connections(READERS)
                .connect_with(base.read_only(true))
                .await?
        };

        Ok(SqliteStore { writer, reader })
    }

    /// Closes every connection, waiting for them to finish (call on shutdown).
    pub async fn close(&self) {
        self.reader.close().await;
        self.writer.close().await;
    }

    /// Starts a write transaction on the single writer connection, holding the write lock.
    async fn begin_write(&self) -> Result<sqlx::Transaction<'static, sqlx::Sqlite>, StoreError> {
        Ok(self.writer.begin_with(BEGIN_WRITE).await?)
    }
}

/// Creates a user (with `unionid`, if any) and returns its id.
async fn insert_user(
    conn: &mut SqliteConnection,
    unionid: Option<&str>,
    now: UnixMs,
) -> Result<i64, StoreError> {
    let done = sqlx::query("INSERT INTO users (unionid, created_at, updated_at) VALUES (?, ?, ?)")
        .bind(unionid)
        .bind(now.0)
        .bind(now.0)
        .execute(&mut *conn)
        .await?;
    Ok(done.last_insert_rowid())
}

/// Creates the identity (appid, openid) of `user_id`.
async fn insert_identity(
    conn: &mut SqliteConnection,
    user_id: i64,
    write: &LoginWrite,
) -> Result<(), StoreError> {
    sqlx::query(
        "INSERT INTO identities (appid, openid, user_id, session_key, created_at, updated_at) \
         VALUES (?, ?, ?, ?, ?, ?)",
    )
    .bind(write.appid.as_str())
    .bind(write.openid.as_str())
    .bind(user_id)
    .bind(write.sealed_session_key.as_slice())
    .bind(write.now.0)
    .bind(write.now.0)
    .execute(&mut *conn)
    .await?;
    Ok(())
}

/// Creates a session row.
async fn insert_session(
    conn: &mut SqliteConnection,
    user_id: i64,
    appid: &str,
    openid: &str,
    session: &NewSession,
    now: UnixMs,
) -> Result<(), StoreError> {
    sqlx::query(
        "INSERT INTO sessions (token_hash, user_id, appid, openid, created_at, expires_at, \
         absolute_expires_at) VALUES (?, ?, ?, ?, ?, ?, ?)",
    )
    .bind(session.token_hash.0.as_slice())
    .bind(user_id)
    .bind(appid)
    .bind(openid)
    .bind(now.0)
    .bind(session.expires_at.0)
    .bind(session.absolute_expires_at.0)
    .execute(&mut *conn)
    .await?;
    Ok(())
}

/// The user holding `unionid`, if any.
async fn unionid_holder(
    conn: &mut SqliteConnection,
    unionid: &str,
) -> Result<Option<i64>, StoreError> {
    Ok(sqlx::query_scalar("SELECT id FROM users WHERE unionid = ?")
        .bind(unionid)
        .fetch_optional(&mut *conn)
        .await?)
}

/// Resolves (or creates) the user of a login inside the running write transaction;
/// returns the user id and whether it was created.
async fn resolve_login_user(
    conn: &mut SqliteConnection,
    write: &LoginWrite,
) -> Result<(i64, bool), StoreError> {
    let unionid = write.unionid.as_ref().map(|u| u.as_str());
    let appid = write.appid.as_str();

    let known: Option<i64> =
        sqlx::query_scalar("SELECT user_id FROM identities WHERE appid = ? AND openid = ?")
            .bind(appid)
            .bind(write.openid.as_str())
            .fetch_optional(&mut *conn)
            .await?;

    if let Some(user_id) = known {
        sqlx::query(
            "UPDATE identities SET session_key = ?, updated_at = ? WHERE appid = ? AND openid = ?",
        )
        .bind(write.sealed_session_key.as_slice())
        .bind(write.now.0)
        .bind(appid)
        .bind(write.openid.as_str())
        .execute(&mut *conn)
        .await?;

        if let Some(unionid) = unionid {
            let current: Option<Option<String>> =
                sqlx::query_scalar("SELECT unionid FROM users WHERE id = ?")
                    .bind(user_id)
                    .fetch_optional(&mut *conn)
                    .await?;
            match current {
                // The foreign key makes this impossible.
                None => {
                    return Err(StoreError::Corrupt(format!(
                        "identity of missing user {user_id}"
                    )));
                }
                Some(Some(current)) if current != unionid => {
                    tracing::warn!(
                        user_id,
                        appid,
                        "WeChat reported a different unionid for a known identity; keeping the stored one"
                    );
                }
                Some(Some(_)) => {}
                Some(None) => match unionid_holder(conn, unionid).await? {
                    Some(other) => {
                        tracing::warn!(
                            user_id,
                            other_user_id = other,
                            appid,
                            "unionid learned at login already belongs to another user; not attached"
                        );
                    }
                    None => {
                        sqlx::query("UPDATE users SET unionid = ?, updated_at = ? WHERE id = ?")
                            .bind(unionid)
                            .bind(write.now.0)
                            .bind(user_id)
                            .execute(&mut *conn)
                            .await?;
                    }
                },
            }
        }
        return Ok((user_id, false));
    }

    if let Some(unionid) = unionid {
        if let Some(holder) = unionid_holder(conn, unionid).await? {
            let clash: Option<String> =
                sqlx::query_scalar("SELECT openid FROM identities WHERE user_id = ? AND appid = ?")
                    .bind(holder)
                    .bind(appid)
                    .fetch_optional(&mut *conn)
                    .await?;
            if clash.is_none() {
                insert_identity(conn, holder, write).await?;
                sqlx::query("UPDATE users SET updated_at = ? WHERE id = ?")
                    .bind(write.now.0)
                    .bind(holder)
                    .execute(&mut *conn)
                    .await?;
                return Ok((holder, false));
            }
            // Same unionid, same app, another openid: WeChat broke its own rule (e.g. after an
            // account migration). Failing would lock the person out, so give the openid its own
            // user, without the unionid that is already taken.
            tracing::warn!(
                user_id = holder,
                appid,
                "unionid holder already has another openid in this app; creating a separate user"
            );
            let user_id = insert_user(conn, None, write.now).await?;
            insert_identity(conn, user_id, write).await?;
            return Ok((user_id, true));
        }
    }

    let user_id = insert_user(conn, unionid, write.now).await?;
    insert_identity(conn, user_id, write).await?;
    Ok((user_id, true))
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
    async fn record_login(&self, write: LoginWrite) -> Result<LoginOutcome, StoreError> {
        let mut tx = self.begin_write().await?;
        let (user_id, is_new) = resolve_login_user(&mut tx, &write).await?;
        insert_session(
            &mut tx,
            user_id,
            write.appid.as_str(),
            write.openid.as_str(),
            &write.session,
            write.now,
        )
        .await?;
        let user = reload_user(&mut tx, user_id).await?;
        tx.commit().await?;
        Ok(LoginOutcome { user, is_new })
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
        let revoked: Option<(i64, String, String)> = sqlx::query_as(
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
        insert_session(&mut tx, user_id, &appid, &openid, &new, now).await?;
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
    async fn user(&self, id: UserId) -> Result<Option<UserRecord>, StoreError> {
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
    ) -> Result<UserRecord, StoreError> {
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

    /// One transaction. U is `write.user_id`; O is the user holding the number (same
    /// `country_code` and `pure_phone_number`).
    /// - U missing → `NotFound("user")`.
    /// - No O → the number replaces U's → `Bound(U)`.
    /// - O is U → `Bound(U)`, the stored `phone_number` text refreshed.
    /// - O is another user → `Conflict` (nothing written) if O has an identity in
    ///   `write.appid`, if U has any identity other than (appid, openid) (moving one would
    ///   split a person), or if both have different unionids. Otherwise the identity and all
    ///   of U's sessions move to O, O takes U's unionid and profile where it has none, U is
    ///   deleted → `Joined { user: O, merged_from: U }`. If (appid, openid) is not U's
    ///   identity, `NotFound("identity")` and nothing is written.
    async fn bind_phone(&self, write: PhoneWrite) -> Result<PhoneOutcome, StoreError> {
        let PhoneWrite {
            user_id: UserId(u),
            appid,
            openid,
            phone,
            now,
        } = write;
        let mut tx = self.begin_write().await?;

        let Some((u_unionid, u_profile)) = sqlx::query_as::<_, (Option<String>, Option<String>)>(
            "SELECT unionid, profile FROM users WHERE id = ?",
        )
        .bind(u)
        .fetch_optional(&mut *tx)
        .await?
        else {
            return Err(StoreError::NotFound("user"));
        };

        let owner: Option<(i64, Option<String>)> = sqlx::query_as(
            "SELECT id, unionid FROM users WHERE country_code = ? AND pure_phone_number = ?",
        )
        .bind(&phone.country_code)
        .bind(&phone.pure_phone_number)
        .fetch_optional(&mut *tx)
        .await?;

        let o = match owner {
            Some((o, _)) if o == u => None,
            Some((o, o_unionid)) => Some((o, o_unionid)),
            None => None,
        };
        let Some((o, o_unionid)) = o else {
            // Free, or already U's: (re)write U's number.
            sqlx::query(
                "UPDATE users SET phone_number = ?, pure_phone_number = ?, country_code = ?, \
                 updated_at = ? WHERE id = ?",
            )
            .bind(&phone.phone_number)
            .bind(&phone.pure_phone_number)
            .bind(&phone.country_code)
            .bind(now.0)
            .bind(u)
            .execute(&mut *tx)
            .await?;
            let user = reload_user(&mut tx, u).await?;
            tx.commit().await?;
            return Ok(PhoneOutcome::Bound(user));
        };

        let owner_in_app: Option<String> =
            sqlx::query_scalar("SELECT openid FROM identities WHERE user_id = ? AND appid = ?")
                .bind(o)
                .bind(appid.as_str())
                .fetch_optional(&mut *tx)
                .await?;
        let others_of_u: i64 = sqlx::query_scalar(
            "SELECT count(*) FROM identities WHERE user_id = ? AND NOT (appid = ? AND openid = ?)",
        )
        .bind(u)
        .bind(appid.as_str())
        .bind(openid.as_str())
        .fetch_one(&mut *tx)
        .await?;
        let unionids_differ = matches!((&u_unionid, &o_unionid), (Some(a), Some(b)) if a != b);
        if owner_in_app.is_some() || others_of_u > 0 || unionids_differ {
            // Dropping the transaction rolls back; nothing was written.
            return Ok(PhoneOutcome::Conflict);
        }

        // Join U into O.
        let moved = sqlx::query(
            "UPDATE identities SET user_id = ?, updated_at = ? \
             WHERE appid = ? AND openid = ? AND user_id = ?",
        )
        .bind(o)
        .bind(now.0)
        .bind(appid.as_str())
        .bind(openid.as_str())
        .bind(u)
        .execute(&mut *tx)
        .await?;
        if moved.rows_affected() != 1 {
            return Err(StoreError::NotFound("identity"));
        }
        sqlx::query("UPDATE sessions SET user_id = ? WHERE user_id = ?")
            .bind(o)
            .bind(u)
            .execute(&mut *tx)
            .await?;
        // Delete U before O takes its unionid (UNIQUE); U now owns no identity or session.
        sqlx::query("DELETE FROM users WHERE id = ?")
            .bind(u)
            .execute(&mut *tx)
            .await?;
        sqlx::query(
            "UPDATE users SET unionid = coalesce(unionid, ?), profile = coalesce(profile, ?), \
             phone_number = ?, updated_at = ? WHERE id = ?",
        )
        .bind(u_unionid)
        .bind(u_profile)
        .bind(&phone.phone_number)
        .bind(now.0)
        .bind(o)
        .execute(&mut *tx)
        .await?;
        let user = reload_user(&mut tx, o).await?;
        tx.commit().await?;
        Ok(PhoneOutcome::Joined {
            user,
            merged_from: UserId(u),
        })
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

    /// Counts of users, identities and sessions, in one statement (one snapshot). Goes
    /// through the reader pool, so it also proves the database answers.
    async fn stats(&self) -> Result<StoreStats, StoreError> {
        let (users, identities, sessions): (i64, i64, i64) = sqlx::query_as(
            "SELECT (SELECT count(*) FROM users), (SELECT count(*) FROM identities), \
             (SELECT count(*) FROM sessions)",
        )
        .fetch_one(&self.reader)
        .await?;
        Ok(StoreStats {
            users: count(users)?,
            identities: count(identities)?,
            sessions: count(sessions)?,
        })
    }
}
