//! Row decoding for the SQLite store: SQL rows to records, with broken rows mapped to
//! [`StoreError::Corrupt`] instead of panics.

use std::collections::HashMap;

use sqlx::{QueryBuilder, Sqlite, SqliteConnection};

use crate::clock::UnixMs;
use crate::ids::{AppId, OpenId, UnionId, UserId};
use crate::store::{Profile, SessionRecord, StoreError, UserRecord};
use crate::wechat::PhoneInfo;

/// `SELECT` list matching [`UserRow`].
const USER_COLUMNS: &str = "id, unionid, phone_number, pure_phone_number, country_code, profile, \
                            created_at, updated_at";

/// id, unionid, phone_number, pure_phone_number, country_code, profile, created_at, updated_at.
pub(super) type UserRow = (
    i64,
    Option<String>,
    Option<String>,
    Option<String>,
    Option<String>,
    Option<String>,
    i64,
    i64,
);

/// `SELECT` list matching [`SessionRow`].
pub(super) const SESSION_COLUMNS: &str =
    "user_id, appid, openid, created_at, expires_at, absolute_expires_at, revoked_at";

/// user_id, appid, openid, created_at, expires_at, absolute_expires_at, revoked_at.
pub(super) type SessionRow = (i64, String, String, i64, i64, i64, Option<i64>);

/// A session row as a record.
pub(super) fn session_record(row: SessionRow) -> SessionRecord {
    let (user_id, appid, openid, created_at, expires_at, absolute_expires_at, revoked_at) = row;
    SessionRecord {
        user_id: UserId(user_id),
        appid: AppId::new(appid),
        openid: OpenId::new(openid),
        created_at: UnixMs(created_at),
        expires_at: UnixMs(expires_at),
        absolute_expires_at: UnixMs(absolute_expires_at),
        revoked_at: revoked_at.map(UnixMs),
    }
}

/// The profile as stored: JSON text.
pub(super) fn profile_json(profile: &Profile) -> Result<String, StoreError> {
    // Cannot fail for a struct of strings and integers; mapped rather than unwrapped anyway.
    serde_json::to_string(profile)
        .map_err(|e| StoreError::Corrupt(format!("profile does not serialize: {e}")))
}

fn profile_from_json(id: i64, json: Option<String>) -> Result<Option<Profile>, StoreError> {
    json.map(|text| {
        serde_json::from_str(&text)
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

/// A user row and its identities as a record (identities sorted by appid, then openid).
fn user_record(
    row: UserRow,
    mut identities: Vec<(AppId, OpenId)>,
) -> Result<UserRecord, StoreError> {
    let (id, unionid, phone_number, pure, country_code, profile, created_at, updated_at) = row;
    identities.sort();
    Ok(UserRecord {
        id: UserId(id),
        unionid: unionid.map(UnionId::new),
        phone: phone_from_columns(id, phone_number, pure, country_code)?,
        profile: profile_from_json(id, profile)?,
        identities,
        created_at: UnixMs(created_at),
        updated_at: UnixMs(updated_at),
    })
}

/// A user with its identities (sorted by appid), read on `conn`.
///
/// Callers that need a consistent view run this inside a transaction: it reads two tables.
pub(super) async fn load_user(
    conn: &mut SqliteConnection,
    id: i64,
) -> Result<Option<UserRecord>, StoreError> {
    Ok(load_users(conn, &[id]).await?.remove(&id))
}

/// The users among `ids` that exist, with their identities, in two statements whatever the
/// number of ids. Like [`load_user`], run it inside a transaction for a consistent view.
pub(super) async fn load_users(
    conn: &mut SqliteConnection,
    ids: &[i64],
) -> Result<HashMap<i64, UserRecord>, StoreError> {
    if ids.is_empty() {
        return Ok(HashMap::new());
    }
    let rows: Vec<UserRow> = in_list(
        &format!("SELECT {USER_COLUMNS} FROM users WHERE id IN "),
        ids,
    )
    .build_query_as()
    .fetch_all(&mut *conn)
    .await?;
    let links: Vec<(i64, String, String)> = in_list(
        "SELECT user_id, appid, openid FROM identities WHERE user_id IN ",
        ids,
    )
    .build_query_as()
    .fetch_all(&mut *conn)
    .await?;
    let mut identities: HashMap<i64, Vec<(AppId, OpenId)>> = HashMap::new();
    for (user_id, appid, openid) in links {
        identities
            .entry(user_id)
            .or_default()
            .push((AppId::new(appid), OpenId::new(openid)));
    }
    rows.into_iter()
        .map(|row| {
            let id = row.0;
            Ok((
                id,
                user_record(row, identities.remove(&id).unwrap_or_default())?,
            ))
        })
        .collect()
}

/// `sql` followed by `(?, ?, …)`, one parameter per id.
fn in_list<'a>(sql: &str, ids: &'a [i64]) -> QueryBuilder<'a, Sqlite> {
    let mut query = QueryBuilder::new(sql);
    query.push("(");
    let mut list = query.separated(", ");
    for id in ids {
        list.push_bind(*id);
    }
    query.push(")");
    query
}

/// Like [`load_user`], for a user the running transaction just wrote: missing is an error.
pub(super) async fn reload_user(
    conn: &mut SqliteConnection,
    id: i64,
) -> Result<UserRecord, StoreError> {
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
            phone_from_columns(1, Some("1".into()), None, Some("86".into())),
            Err(StoreError::Corrupt(_))
        ));
        assert_eq!(phone_from_columns(1, None, None, None).ok(), Some(None));
        assert!(matches!(
            profile_from_json(1, Some("{not json".into())),
            Err(StoreError::Corrupt(_))
        ));
        let p = Profile {
            nick_name: Some("n".into()),
            ..Profile::default()
        };
        let json = profile_json(&p).expect("serializes");
        assert!(json.contains("\"nickName\""));
        assert_eq!(profile_from_json(1, Some(json)).ok(), Some(Some(p)));
        assert!(matches!(count(-1), Err(StoreError::Corrupt(_))));
    }
}
