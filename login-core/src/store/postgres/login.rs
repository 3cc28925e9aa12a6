//! Logins for the PostgreSQL store: one call of the function `login_core_login`
//! (`migrations/postgres/0003_login_function.sql`), one statement and so one round trip and
//! one transaction of its own. The rules are those of the SQLite store (`sqlite/login.rs`);
//! the function's header says how the schema's unique keys hold them under concurrency: a
//! login that lost a race to a racing one fails with SQLSTATE 40001 or a unique violation,
//! has written nothing, and is run again by the caller.

use sqlx::PgConnection;

use super::rows::{UserIdentityRow, users_of_rows};
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

/// A row of `login_core_login`: the user after the login with one of its identities.
#[derive(sqlx::FromRow)]
struct LoginRow {
    is_new: bool,
    note: Option<String>,
    #[sqlx(flatten)]
    user: UserIdentityRow,
}

/// One login; see [`Store::record_login`](crate::store::Store::record_login). `None`, with
/// nothing written, when it would create a user and `create` refuses.
pub(super) async fn login(
    conn: &mut PgConnection,
    write: &LoginWrite,
    create: Create,
) -> Result<Option<LoginOutcome>, StoreError> {
    let rows: Vec<LoginRow> = sqlx::query_as(
        "SELECT is_new, note, id, unionid, phone_number, pure_phone_number, country_code, \
         profile, created_at, updated_at, appid, openid \
         FROM login_core_login($1, $2, $3, $4, $5, $6, $7, $8, $9)",
    )
    .bind(write.appid.as_str())
    .bind(write.openid.as_str())
    .bind(write.unionid.as_ref().map(UnionId::as_str))
    .bind(write.sealed_session_key.as_slice())
    .bind(write.now.0)
    .bind(write.session.token_hash.0.as_slice())
    .bind(write.session.expires_at.0)
    .bind(write.session.absolute_expires_at.0)
    .bind(create == Create::Allowed)
    .fetch_all(&mut *conn)
    .await?;
    let Some(first) = rows.first() else {
        return Ok(None);
    };
    let (is_new, note) = (first.is_new, first.note.clone());
    let mut users = users_of_rows(rows.into_iter().map(|row| row.user).collect())?.into_values();
    let (Some(user), None) = (users.next(), users.next()) else {
        return Err(StoreError::Corrupt(
            "a login returned other than one user".into(),
        ));
    };
    note_anomaly(note.as_deref(), user.id.0, write);
    Ok(Some(LoginOutcome { user, is_new }))
}

/// Logs what the function noted about a login WeChat made odd; the login went on.
fn note_anomaly(note: Option<&str>, user_id: i64, write: &LoginWrite) {
    let appid = write.appid.as_str();
    match note {
        None => {}
        Some("unionid_differs") => tracing::warn!(
            user_id,
            appid,
            "WeChat reported a different unionid for a known identity; keeping the stored one"
        ),
        Some("unionid_taken") => tracing::warn!(
            user_id,
            appid,
            "unionid learned at login already belongs to another user; not attached"
        ),
        Some("unionid_holder_in_app") => tracing::warn!(
            user_id,
            appid,
            "unionid holder already has another openid in this app; created a separate user"
        ),
        Some(other) => tracing::warn!(user_id, appid, note = other, "login noted something"),
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
