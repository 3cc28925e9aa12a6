//! Phone binding for the PostgreSQL store: bind, or join the session's identity into the
//! number's owner, inside the caller's SERIALIZABLE transaction (the rules are those of the
//! SQLite store, `sqlite/phone.rs`). Its reads and the decision on them hold as if it ran
//! alone, or PostgreSQL fails it and the caller runs it again; a number taken by a racing
//! write is the `users_phone` unique key's violation, also run again.

use sqlx::PgConnection;

use super::rows::reload_user;
use crate::clock::UnixMs;
use crate::domain::PhoneInfo;
use crate::ids::UserId;
use crate::store::{PhoneOutcome, PhoneWrite, StoreError};

/// Writes `phone` as user `user`'s number (the caller has made sure nobody else owns it).
pub(super) async fn set_number(
    conn: &mut PgConnection,
    user: i64,
    phone: &PhoneInfo,
    now: UnixMs,
) -> Result<(), StoreError> {
    sqlx::query(
        "UPDATE users SET phone_number = $1, pure_phone_number = $2, country_code = $3, \
         updated_at = $4 WHERE id = $5",
    )
    .bind(&phone.phone_number)
    .bind(&phone.pure_phone_number)
    .bind(&phone.country_code)
    .bind(now.0)
    .bind(user)
    .execute(&mut *conn)
    .await?;
    Ok(())
}

/// See [`Store::bind_phone`](crate::store::Store::bind_phone) on
/// [`PostgresStore`](super::PostgresStore): the caller commits, or rolls back on `Conflict` and
/// on errors.
pub(super) async fn bind_phone(
    conn: &mut PgConnection,
    write: PhoneWrite,
) -> Result<PhoneOutcome, StoreError> {
    let PhoneWrite {
        user_id: _,
        appid,
        openid,
        phone,
        now,
    } = write;
    // The identity's user now, not the one the session saw when the request began: a racing
    // request of the same session may have just joined it into another account.
    let u: i64 =
        sqlx::query_scalar("SELECT user_id FROM identities WHERE appid = $1 AND openid = $2")
            .bind(appid.as_str())
            .bind(openid.as_str())
            .fetch_optional(&mut *conn)
            .await?
            .ok_or(StoreError::NotFound("identity"))?;

    let Some((u_unionid, u_profile)) = sqlx::query_as::<_, (Option<String>, Option<String>)>(
        "SELECT unionid, profile::text FROM users WHERE id = $1",
    )
    .bind(u)
    .fetch_optional(&mut *conn)
    .await?
    else {
        return Err(StoreError::NotFound("user"));
    };

    let owner: Option<(i64, Option<String>)> = sqlx::query_as(
        "SELECT id, unionid FROM users WHERE country_code = $1 AND pure_phone_number = $2",
    )
    .bind(&phone.country_code)
    .bind(&phone.pure_phone_number)
    .fetch_optional(&mut *conn)
    .await?;

    let Some((o, o_unionid)) = owner.filter(|(o, _)| *o != u) else {
        // Free, or already U's: (re)write U's number.
        set_number(conn, u, &phone, now).await?;
        let user = reload_user(conn, u).await?;
        return Ok(PhoneOutcome::Bound(user));
    };

    let owner_in_app: Option<String> =
        sqlx::query_scalar("SELECT openid FROM identities WHERE user_id = $1 AND appid = $2")
            .bind(o)
            .bind(appid.as_str())
            .fetch_optional(&mut *conn)
            .await?;
    let others_of_u: i64 = sqlx::query_scalar(
        "SELECT count(*) FROM identities WHERE user_id = $1 AND NOT (appid = $2 AND openid = $3)",
    )
    .bind(u)
    .bind(appid.as_str())
    .bind(openid.as_str())
    .fetch_one(&mut *conn)
    .await?;
    let unionids_differ = matches!((&u_unionid, &o_unionid), (Some(a), Some(b)) if a != b);
    if owner_in_app.is_some() || others_of_u > 0 || unionids_differ {
        // Nothing was written; the caller rolls back anyway.
        return Ok(PhoneOutcome::Conflict);
    }

    // Join U into O.
    let moved = sqlx::query(
        "UPDATE identities SET user_id = $1, updated_at = $2 \
         WHERE appid = $3 AND openid = $4 AND user_id = $5",
    )
    .bind(o)
    .bind(now.0)
    .bind(appid.as_str())
    .bind(openid.as_str())
    .bind(u)
    .execute(&mut *conn)
    .await?;
    if moved.rows_affected() != 1 {
        return Err(StoreError::NotFound("identity"));
    }
    sqlx::query("UPDATE sessions SET user_id = $1 WHERE user_id = $2")
        .bind(o)
        .bind(u)
        .execute(&mut *conn)
        .await?;
    // Delete U before O takes its unionid (UNIQUE); U now owns no identity or session. U's
    // password goes with it: it opened U's number, which O does not take.
    sqlx::query("DELETE FROM passwords WHERE user_id = $1")
        .bind(u)
        .execute(&mut *conn)
        .await?;
    sqlx::query("DELETE FROM users WHERE id = $1")
        .bind(u)
        .execute(&mut *conn)
        .await?;
    sqlx::query(
        "UPDATE users SET unionid = coalesce(unionid, $1), profile = coalesce(profile, $2::jsonb), \
         phone_number = $3, updated_at = $4 WHERE id = $5",
    )
    .bind(u_unionid)
    .bind(u_profile)
    .bind(&phone.phone_number)
    .bind(now.0)
    .bind(o)
    .execute(&mut *conn)
    .await?;
    let user = reload_user(conn, o).await?;
    Ok(PhoneOutcome::Joined {
        user,
        merged_from: UserId(u),
    })
}
