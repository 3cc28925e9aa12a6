//! Tests of the SQLite store against temp-file and in-memory databases.

use std::sync::Arc;

use super::*;
use crate::ids::UnionId;
use crate::wechat::PhoneInfo;

mod batch;
mod login;
mod phone;
mod phone_login;
mod schema;
mod sessions;

const T0: UnixMs = UnixMs(1_700_000_000_000);
const HOUR: i64 = 3_600_000;

/// A store on a fresh file in a temp directory (kept alive by the returned guard).
async fn file_store() -> (SqliteStore, tempfile::TempDir) {
    let dir = tempfile::tempdir().expect("temp dir");
    let store = SqliteStore::open(&file_url(&dir)).await.expect("open");
    (store, dir)
}

/// The URL of the database file in `dir`, in a subdirectory that does not exist yet.
fn file_url(dir: &tempfile::TempDir) -> String {
    format!("sqlite://{}/data/login.db", dir.path().display())
}

async fn memory_store() -> SqliteStore {
    SqliteStore::open("sqlite::memory:")
        .await
        .expect("open memory")
}

fn hash(n: u8) -> TokenHash {
    TokenHash([n; 32])
}

fn new_session(n: u8, now: UnixMs) -> NewSession {
    NewSession {
        token_hash: hash(n),
        expires_at: UnixMs(now.0 + HOUR),
        absolute_expires_at: UnixMs(now.0 + 24 * HOUR),
    }
}

fn login(appid: &str, openid: &str, unionid: Option<&str>, token: u8, now: UnixMs) -> LoginWrite {
    LoginWrite {
        appid: AppId::new(appid),
        openid: OpenId::new(openid),
        unionid: unionid.map(UnionId::new),
        sealed_session_key: format!("sealed-{openid}-{token}").into_bytes(),
        session: new_session(token, now),
        now,
    }
}

fn phone(pure: &str) -> PhoneInfo {
    PhoneInfo {
        phone_number: pure.to_owned(),
        pure_phone_number: pure.to_owned(),
        country_code: "86".to_owned(),
    }
}

fn phone_write(user: &UserRecord, appid: &str, openid: &str, pure: &str) -> PhoneWrite {
    PhoneWrite {
        user_id: user.id,
        appid: AppId::new(appid),
        openid: OpenId::new(openid),
        phone: phone(pure),
        now: UnixMs(T0.0 + 5_000),
    }
}

fn ident(appid: &str, openid: &str) -> (AppId, OpenId) {
    (AppId::new(appid), OpenId::new(openid))
}

async fn stats(store: &SqliteStore) -> (u64, u64, u64) {
    let s = store.stats().await.expect("stats");
    (s.users, s.identities, s.sessions)
}

/// The one integer `sql` reads (a PRAGMA, a count) through `conn`.
async fn scalar<'c>(conn: impl sqlx::SqliteExecutor<'c>, sql: &'c str) -> i64 {
    sqlx::query_scalar(sql)
        .fetch_one(conn)
        .await
        .unwrap_or_else(|e| panic!("{sql}: {e}"))
}

/// `offset_ms` after [`T0`].
fn at(offset_ms: i64) -> UnixMs {
    UnixMs(T0.0 + offset_ms)
}

/// Records `write`; returns what the login found or created.
async fn record(store: &SqliteStore, write: LoginWrite) -> LoginOutcome {
    store.record_login(write).await.expect("login")
}

/// `openid` of `appid` (with `unionid`, if any) logs in at [`T0`] and gets session `token`.
async fn log_in(
    store: &SqliteStore,
    appid: &str,
    openid: &str,
    unionid: Option<&str>,
    token: u8,
) -> LoginOutcome {
    record(store, login(appid, openid, unionid, token, T0)).await
}

/// Like [`log_in`], for the user only.
async fn login_user(
    store: &SqliteStore,
    appid: &str,
    openid: &str,
    unionid: Option<&str>,
    token: u8,
) -> UserRecord {
    log_in(store, appid, openid, unionid, token).await.user
}

/// The stored session of token `n`, which must exist.
async fn session(store: &SqliteStore, n: u8) -> SessionRecord {
    store
        .session(&hash(n))
        .await
        .expect("read")
        .expect("exists")
}

/// Whether a session of token `n` is stored.
async fn has_session(store: &SqliteStore, n: u8) -> bool {
    store.session(&hash(n)).await.expect("read").is_some()
}

/// A profile with a nickname and nothing else.
fn nickname(name: &str) -> Profile {
    Profile {
        nick_name: Some(name.into()),
        ..Profile::default()
    }
}

/// Sets `user`'s profile at [`T0`].
async fn set_profile(store: &SqliteStore, user: UserId, profile: Profile) -> UserRecord {
    store
        .set_profile(user, profile, T0)
        .await
        .expect("set profile")
}

/// `user` asks, in a session of (`appid`, `openid`), to bind the number `pure`.
async fn bind(
    store: &SqliteStore,
    user: &UserRecord,
    appid: &str,
    openid: &str,
    pure: &str,
) -> PhoneOutcome {
    store
        .bind_phone(phone_write(user, appid, openid, pure))
        .await
        .expect("bind")
}

/// The user a bind left the number with; panics unless the number was simply bound.
fn bound(outcome: PhoneOutcome) -> UserRecord {
    let PhoneOutcome::Bound(user) = outcome else {
        panic!("expected Bound, got {outcome:?}");
    };
    user
}

/// A user who logged in as (`appid`, `openid`, `unionid`) and then bound the number `pure`.
async fn owner_of(
    store: &SqliteStore,
    (appid, openid, unionid): (&str, &str, Option<&str>),
    token: u8,
    pure: &str,
) -> UserRecord {
    let owner = login_user(store, appid, openid, unionid, token).await;
    bind(store, &owner, appid, openid, pure).await;
    owner
}

/// Asserts that `user` binding `pure` through (`appid`, `openid`) is a conflict that writes
/// nothing.
async fn assert_bind_conflicts(
    store: &SqliteStore,
    user: &UserRecord,
    appid: &str,
    openid: &str,
    pure: &str,
) {
    let before = stats(store).await;
    let outcome = bind(store, user, appid, openid, pure).await;
    assert!(matches!(outcome, PhoneOutcome::Conflict), "{outcome:?}");
    assert_eq!(stats(store).await, before);
}

#[tokio::test]
async fn data_survives_reopen_and_migrations_rerun_idempotently() {
    let dir = tempfile::tempdir().expect("temp dir");
    let url = file_url(&dir);
    let store = SqliteStore::open(&url).await.expect("open");
    let out = log_in(&store, "wxa", "o1", Some("u1"), 1).await;
    drop(store);

    let reopened = SqliteStore::open(&url).await.expect("reopen");
    assert_eq!(stats(&reopened).await, (1, 1, 1));
    assert_eq!(
        reopened.user(out.user.id).await.expect("user"),
        Some(out.user.clone())
    );
    let version = scalar(&reopened.reader, "PRAGMA user_version").await;
    assert_eq!(
        version,
        i64::try_from(super::schema::MIGRATIONS.len()).expect("small")
    );
    reopened.close().await;

    // Open again after a clean close: still there, and the file is in WAL mode.
    let third = SqliteStore::open(&url).await.expect("third open");
    let mode: String = sqlx::query_scalar("PRAGMA journal_mode")
        .fetch_one(&third.writer)
        .await
        .expect("journal mode");
    assert_eq!(mode, "wal");
    let again = log_in(&third, "wxa", "o1", Some("u1"), 2).await;
    assert_eq!((again.user.id, again.is_new), (out.user.id, false));
}

#[tokio::test]
async fn pragmas_are_durable_and_readers_cannot_write() {
    let (store, _dir) = file_store().await;
    let sync = scalar(&store.writer, "PRAGMA synchronous").await;
    assert_eq!(sync, 2, "synchronous = FULL");
    let fk = scalar(&store.writer, "PRAGMA foreign_keys").await;
    assert_eq!(fk, 1);
    let write = sqlx::query("INSERT INTO users (created_at, updated_at) VALUES (0, 0)")
        .execute(&store.reader)
        .await;
    assert!(write.is_err(), "reader pool must be read-only");
    assert_eq!(stats(&store).await, (0, 0, 0));
}
