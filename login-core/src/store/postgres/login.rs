//! Login writes for the PostgreSQL store, in the caller's READ COMMITTED transaction, where
//! every statement sees what other transactions committed before it started. The rules are
//! those of the SQLite store (`sqlite/login.rs`); what makes them hold under concurrency is
//! the schema's unique keys and how the writes meet them:
//!
//! - A known identity is found by updating it (its sealed session_key), which also locks its
//!   row until the commit: a concurrent join cannot move it meanwhile.
//! - A new user and a new identity are inserted with `ON CONFLICT DO NOTHING`. When a racing
//!   login committed the same unionid or (appid, openid) first, the insert waits for it and
//!   then inserts nothing: the login returns [`StoreError::Contention`], the caller rolls back
//!   (the user it may have created goes too) and runs it again, and the next attempt finds
//!   what the winner wrote.
//! - Any other key a racing write took first (a unionid attached to a known user, a second
//!   openid of one app on one user) fails the statement with a unique violation, which the
//!   caller also runs again.

use sqlx::PgConnection;

use super::rows::reload_user;
use crate::clock::UnixMs;
use crate::ids::UnionId;
use crate::store::{LoginOutcome, LoginWrite, NewSession, StoreError};

/// Whether a login may create a user for an identity nobody holds.
#[derive(Clone, Copy, PartialEq, Eq)]
pub(super) enum Create {
    /// [`Store::record_login`](crate::store::Store::record_login).
    Allowed,
    /// [`Store::login_registered`](crate::store::Store::login_registered): `None` instead.
    Refused,
}

/// One login; see [`Store::record_login`](crate::store::Store::record_login). `None`, with
/// nothing written, when it would create a user and `create` refuses.
pub(super) async fn login(
    conn: &mut PgConnection,
    write: &LoginWrite,
    create: Create,
) -> Result<Option<LoginOutcome>, StoreError> {
    let (appid, openid) = (write.appid.as_str(), write.openid.as_str());
    let unionid = write.unionid.as_ref().map(UnionId::as_str);
    let now = write.now.0;

    let known: Option<i64> = sqlx::query_scalar(
        "UPDATE identities SET session_key = $3, updated_at = $4 \
         WHERE appid = $1 AND openid = $2 RETURNING user_id",
    )
    .bind(appid)
    .bind(openid)
    .bind(write.sealed_session_key.as_slice())
    .bind(now)
    .fetch_optional(&mut *conn)
    .await?;

    let (user, is_new) = if let Some(user) = known {
        if let Some(unionid) = unionid {
            attach_unionid(conn, user, unionid, write).await?;
        }
        (user, false)
    } else {
        // The holder of the unionid, and whether it has an identity in this app.
        let holder: Option<(i64, bool)> = match unionid {
            Some(unionid) => {
                sqlx::query_as(
                    "SELECT u.id, EXISTS (SELECT 1 FROM identities i \
                       WHERE i.user_id = u.id AND i.appid = $2) \
                     FROM users u WHERE u.unionid = $1",
                )
                .bind(unionid)
                .bind(appid)
                .fetch_optional(&mut *conn)
                .await?
            }
            None => None,
        };
        match holder {
            Some((holder, false)) => {
                insert_identity(conn, holder, write).await?;
                sqlx::query("UPDATE users SET updated_at = $2 WHERE id = $1")
                    .bind(holder)
                    .bind(now)
                    .execute(&mut *conn)
                    .await?;
                (holder, false)
            }
            _ if create == Create::Refused => return Ok(None),
            Some((holder, true)) => {
                // Same unionid, same app, another openid: WeChat broke its own rule (e.g. after
                // an account migration). Failing would lock the person out, so give the openid
                // its own user, without the unionid that is already taken.
                tracing::warn!(
                    user_id = holder,
                    appid,
                    "unionid holder already has another openid in this app; creating a separate user"
                );
                (create_user(conn, None, write).await?, true)
            }
            None => (create_user(conn, unionid, write).await?, true),
        }
    };
    insert_session(conn, user, appid, Some(openid), &write.session, write.now).await?;
    let user = reload_user(conn, user).await?;
    Ok(Some(LoginOutcome { user, is_new }))
}

/// A unionid WeChat now reports for a known identity of `user`: attached if the user has none
/// and nobody holds it; otherwise a warning, and the login goes on.
async fn attach_unionid(
    conn: &mut PgConnection,
    user: i64,
    unionid: &str,
    write: &LoginWrite,
) -> Result<(), StoreError> {
    let (current, holder): (Option<String>, Option<i64>) = sqlx::query_as(
        "SELECT u.unionid, (SELECT h.id FROM users h WHERE h.unionid = $2) \
         FROM users u WHERE u.id = $1",
    )
    .bind(user)
    .bind(unionid)
    .fetch_optional(&mut *conn)
    .await?
    .ok_or_else(|| StoreError::Corrupt(format!("identity of missing user {user}")))?;
    let appid = write.appid.as_str();
    match (current, holder) {
        (Some(current), _) if current != unionid => {
            tracing::warn!(
                user_id = user,
                appid,
                "WeChat reported a different unionid for a known identity; keeping the stored one"
            );
        }
        (Some(_), _) => {}
        (None, Some(other)) => {
            tracing::warn!(
                user_id = user,
                other_user_id = other,
                appid,
                "unionid learned at login already belongs to another user; not attached"
            );
        }
        (None, None) => {
            // A racing login that attached or created the same unionid first makes this a
            // unique violation: the caller runs the login again, which then sees the holder.
            sqlx::query(
                "UPDATE users SET unionid = $2, updated_at = $3 WHERE id = $1 AND unionid IS NULL",
            )
            .bind(user)
            .bind(unionid)
            .bind(write.now.0)
            .execute(&mut *conn)
            .await?;
        }
    }
    Ok(())
}

/// A new user with `unionid` and the identity of `write`; [`StoreError::Contention`] if a
/// racing login committed either first.
async fn create_user(
    conn: &mut PgConnection,
    unionid: Option<&str>,
    write: &LoginWrite,
) -> Result<i64, StoreError> {
    let id: Option<i64> = sqlx::query_scalar(
        "INSERT INTO users (unionid, created_at, updated_at) VALUES ($1, $2, $2) \
         ON CONFLICT (unionid) DO NOTHING RETURNING id",
    )
    .bind(unionid)
    .bind(write.now.0)
    .fetch_optional(&mut *conn)
    .await?;
    let id = id.ok_or(StoreError::Contention(
        "a racing login created the unionid's user",
    ))?;
    insert_identity(conn, id, write).await?;
    Ok(id)
}

/// Inserts the identity of `write` for `user`; [`StoreError::Contention`] if a racing login
/// committed the same (appid, openid) first.
async fn insert_identity(
    conn: &mut PgConnection,
    user: i64,
    write: &LoginWrite,
) -> Result<(), StoreError> {
    let inserted = sqlx::query(
        "INSERT INTO identities (appid, openid, user_id, session_key, created_at, updated_at) \
         VALUES ($1, $2, $3, $4, $5, $5) ON CONFLICT (appid, openid) DO NOTHING",
    )
    .bind(write.appid.as_str())
    .bind(write.openid.as_str())
    .bind(user)
    .bind(write.sealed_session_key.as_slice())
    .bind(write.now.0)
    .execute(&mut *conn)
    .await?;
    if inserted.rows_affected() == 1 {
        Ok(())
    } else {
        Err(StoreError::Contention(
            "a racing login created the identity",
        ))
    }
}

/// Creates a session row.
pub(super) async fn insert_session(
    conn: &mut PgConnection,
    user_id: i64,
    appid: &str,
    openid: Option<&str>,
    session: &NewSession,
    now: UnixMs,
) -> Result<(), StoreError> {
    sqlx::query(
        "INSERT INTO sessions (token_hash, user_id, appid, openid, created_at, expires_at, \
         absolute_expires_at) VALUES ($1, $2, $3, $4, $5, $6, $7)",
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
