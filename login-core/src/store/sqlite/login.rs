//! Login writes for the SQLite store: resolving (or creating) the user behind an identity,
//! inside the caller's write transaction.

use sqlx::SqliteConnection;

use crate::clock::UnixMs;
use crate::store::{LoginWrite, NewSession, StoreError};

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
pub(super) async fn insert_session(
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
pub(super) async fn resolve_login_user(
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
