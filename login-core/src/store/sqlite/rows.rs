//! Row decoding for the SQLite store: SQL rows to records, with broken rows mapped to
//! [`StoreError::Corrupt`] instead of panics.

use std::collections::HashMap;

use sqlx::{QueryBuilder, Sqlite, SqliteConnection};

use crate::clock::UnixMs;
use crate::domain::{Identity, PhoneInfo, Profile, User};
use crate::ids::{AppId, OpenId, UnionId, UserId};
use crate::store::{SessionRecord, StoreError, StoredProfile};

/// A user joined with one of its identities (NULLs for a user without any).
#[derive(sqlx::FromRow)]
struct UserIdentityRow {
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

/// The profile as stored: JSON text.
pub(super) fn profile_json(profile: &Profile) -> Result<String, StoreError> {
    // Cannot fail for a struct of strings and integers; mapped rather than unwrapped anyway.
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

/// A user's row and identities as a record (identities sorted by appid, then openid).
fn user_record(row: UserIdentityRow, mut identities: Vec<Identity>) -> Result<User, StoreError> {
    let id = row.id;
    identities.sort();
    Ok(User {
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
    })
}

/// A user with its identities (sorted by appid), read on `conn`.
pub(super) async fn load_user(
    conn: &mut SqliteConnection,
    id: i64,
) -> Result<Option<User>, StoreError> {
    Ok(load_users(conn, &[id]).await?.remove(&id))
}

/// The users among `ids` that exist, with their identities, in one statement whatever the
/// number of ids.
pub(super) async fn load_users(
    conn: &mut SqliteConnection,
    ids: &[i64],
) -> Result<HashMap<i64, User>, StoreError> {
    if ids.is_empty() {
        return Ok(HashMap::new());
    }
    // One row per identity (or one with NULLs for a user without any).
    let rows: Vec<UserIdentityRow> = in_list(
        "SELECT u.id, u.unionid, u.phone_number, u.pure_phone_number, u.country_code, \
         u.profile, u.created_at, u.updated_at, i.appid, i.openid \
         FROM users u LEFT JOIN identities i ON i.user_id = u.id WHERE u.id IN ",
        ids,
    )
    .build_query_as()
    .fetch_all(&mut *conn)
    .await?;
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
        .map(|(id, (row, identities))| Ok((id, user_record(row, identities)?)))
        .collect()
}

/// `sql` followed by `(?, ?, …)`, one parameter per id.
fn in_list<'a>(sql: &str, ids: &'a [i64]) -> QueryBuilder<'a, Sqlite> {
    let mut query = QueryBuilder::new(sql);
    push_list(&mut query, ids.iter().copied());
    query
}

/// Appends `(?, ?, …)` to `query`, one parameter per value: the right side of an `IN`.
pub(super) fn push_list<'a, T>(
    query: &mut QueryBuilder<'a, Sqlite>,
    values: impl IntoIterator<Item = T>,
) where
    T: 'a + sqlx::Encode<'a, Sqlite> + sqlx::Type<Sqlite>,
{
    query.push("(");
    let mut list = query.separated(", ");
    for value in values {
        list.push_bind(value);
    }
    query.push(")");
}

/// Like [`load_user`], for a user the running transaction just wrote: missing is an error.
pub(super) async fn reload_user(conn: &mut SqliteConnection, id: i64) -> Result<User, StoreError> {
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
        // The database's JSON, as every stored profile has it.
        assert_eq!(
            json,
            r#"{"nickName":"n","avatarUrl":null,"gender":null,"language":null,"city":null,"province":null,"country":null}"#
        );
        let older = r#"{"nickName":"o","gender":1}"#;
        let read = profile_from_json(1, Some(older.into()))
            .expect("reads")
            .expect("some");
        assert_eq!(
            (read.nick_name.as_deref(), read.gender),
            (Some("o"), Some(1))
        );
        assert_eq!(profile_from_json(1, Some(json)).ok(), Some(Some(p)));
        assert!(matches!(count(-1), Err(StoreError::Corrupt(_))));
    }
}
