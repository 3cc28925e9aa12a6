//! Row decoding for the PostgreSQL store: SQL rows to records, with broken rows mapped to
//! [`StoreError::Corrupt`] instead of panics.

use std::collections::HashMap;

use sqlx::PgConnection;

use crate::clock::UnixMs;
use crate::domain::{Identity, PhoneInfo, Profile, User};
use crate::ids::{AppId, OpenId, UnionId, UserId};
use crate::store::{SessionRecord, StoreError, StoredProfile};

/// A user joined with one of its identities (NULLs for a user without any).
#[derive(sqlx::FromRow)]
pub(super) struct UserIdentityRow {
    id: i64,
    unionid: Option<String>,
    phone_number: Option<String>,
    pure_phone_number: Option<String>,
    country_code: Option<String>,
    profile: Option<String>,
    created_at: i64,
    updated_at: i64,
    appid: Option<String>,
    openid: Option<String>,
}

/// `SELECT` list matching [`SessionRow`].
pub(super) const SESSION_COLUMNS: &str =
    "user_id, appid, openid, created_at, expires_at, absolute_expires_at, revoked_at";

/// user_id, appid, openid, created_at, expires_at, absolute_expires_at, revoked_at.
pub(super) type SessionRow = (i64, String, Option<String>, i64, i64, i64, Option<i64>);

/// A session row as a record.
pub(super) fn session_record(row: SessionRow) -> SessionRecord {
    let (user_id, appid, openid, created_at, expires_at, absolute_expires_at, revoked_at) = row;
    SessionRecord {
        user_id: UserId(user_id),
        appid: AppId::new(appid),
        openid: openid.map(OpenId::new),
        created_at: UnixMs(created_at),
        expires_at: UnixMs(expires_at),
        absolute_expires_at: UnixMs(absolute_expires_at),
        revoked_at: revoked_at.map(UnixMs),
    }
}

/// The profile as stored: JSON text, bound as `$n::jsonb`.
pub(super) fn profile_json(profile: &Profile) -> Result<String, StoreError> {
    serde_json::to_string(&StoredProfile::from(profile.clone()))
        .map_err(|e| StoreError::Corrupt(format!("profile does not serialize: {e}")))
}

fn profile_from_json(id: i64, json: Option<String>) -> Result<Option<Profile>, StoreError> {
    json.map(|text| {
        serde_json::from_str::<StoredProfile>(&text)
            .map(Profile::from)
            .map_err(|e| StoreError::Corrupt(format!("user {id}: bad profile JSON: {e}")))
    })
    .transpose()
}

fn phone_from_columns(
    id: i64,
    phone_number: Option<String>,
    pure_phone_number: Option<String>,
    country_code: Option<String>,
) -> Result<Option<PhoneInfo>, StoreError> {
    match (phone_number, pure_phone_number, country_code) {
        (None, None, None) => Ok(None),
        (Some(phone_number), Some(pure_phone_number), Some(country_code)) => Ok(Some(PhoneInfo {
            phone_number,
            pure_phone_number,
            country_code,
        })),
        _ => Err(StoreError::Corrupt(format!(
            "user {id}: phone columns partly set"
        ))),
    }
}

/// The user `id` if it exists, with its identities (sorted by appid, then openid), in one
/// statement (one snapshot), keyed by id.
///
/// An equality on the primary key, not `= ANY($1)`: the statement is prepared once per
/// connection, and PostgreSQL's generic plan for an array of ids, made while the tables are
/// small, scans both tables whole; that plan outlived the tables' growth (every login read
/// every user) until the statistics were next analysed.
async fn load_users(conn: &mut PgConnection, id: i64) -> Result<HashMap<i64, User>, StoreError> {
    let rows: Vec<UserIdentityRow> = sqlx::query_as(
        "SELECT u.id, u.unionid, u.phone_number, u.pure_phone_number, u.country_code, \
         u.profile::text AS profile, u.created_at, u.updated_at, i.appid, i.openid \
         FROM users u LEFT JOIN identities i ON i.user_id = u.id WHERE u.id = $1",
    )
    .bind(id)
    .fetch_all(&mut *conn)
    .await?;
    users_of_rows(rows)
}

/// The users in `rows` (one row per identity), keyed by id, their identities sorted.
pub(super) fn users_of_rows(rows: Vec<UserIdentityRow>) -> Result<HashMap<i64, User>, StoreError> {
    let mut users: HashMap<i64, (UserIdentityRow, Vec<Identity>)> = HashMap::new();
    for mut row in rows {
        let identity = row.appid.take().zip(row.openid.take());
        let user = users.entry(row.id).or_insert((row, Vec::new()));
        if let Some((appid, openid)) = identity {
            user.1.push(Identity {
                appid: AppId::new(appid),
                openid: OpenId::new(openid),
            });
        }
    }
    users
        .into_iter()
        .map(|(id, (row, mut identities))| {
            identities.sort();
            let user = User {
                id: UserId(id),
                unionid: row.unionid.map(UnionId::new),
                phone: phone_from_columns(
                    id,
                    row.phone_number,
                    row.pure_phone_number,
                    row.country_code,
                )?,
                profile: profile_from_json(id, row.profile)?,
                identities,
                created_at: UnixMs(row.created_at),
                updated_at: UnixMs(row.updated_at),
            };
            Ok((id, user))
        })
        .collect()
}

/// A user with its identities, read on `conn`.
pub(super) async fn load_user(
    conn: &mut PgConnection,
    id: i64,
) -> Result<Option<User>, StoreError> {
    Ok(load_users(conn, id).await?.remove(&id))
}

/// Like [`load_user`], for a user the running transaction just wrote: missing is an error.
pub(super) async fn reload_user(conn: &mut PgConnection, id: i64) -> Result<User, StoreError> {
    load_user(conn, id)
        .await?
        .ok_or(StoreError::NotFound("user"))
}

/// A count as an unsigned number.
pub(super) fn count(n: i64) -> Result<u64, StoreError> {
    u64::try_from(n).map_err(|_| StoreError::Corrupt(format!("negative count {n}")))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn partial_phone_and_bad_profile_are_corrupt_not_panics() {
        assert!(matches!(
            phone_from_columns(1, None, Some("1".into()), None),
            Err(StoreError::Corrupt(_))
        ));
        assert!(matches!(
            profile_from_json(1, Some("[1]".into())),
            Err(StoreError::Corrupt(_))
        ));
        assert!(matches!(count(-2), Err(StoreError::Corrupt(_))));
    }
}
