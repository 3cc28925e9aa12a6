//! The store's test suite, run against every backend: each test is an async fn of a store,
//! instantiated by [`on_every_store!`] for SQLite (in memory and on a file) and PostgreSQL
//! (a schema of its own, dropped at the end; skipped, saying so, when
//! `LOGIN_CORE_TEST_POSTGRES` is unset). Tests of one backend's own machinery stay beside it
//! (`sqlite/tests/`, `postgres/tests.rs`).

use std::sync::Arc;

use super::postgres::PostgresStore;
use super::postgres::testing::TestDatabase;
use super::sqlite::SqliteStore;
use super::*;
use crate::domain::{Identity, PhoneInfo};
use crate::ids::{AppId, OpenId, TokenHash, UnionId, UserId};

mod concurrency;
mod login;
mod phone;
mod phone_login;
mod sessions;

/// A store for one test, and what keeps its database alive (a temp directory, a schema).
pub(super) struct Fixture {
    pub(super) store: Arc<dyn Store>,
    // Dropped after the store: the database outlives its connections.
    _dir: Option<tempfile::TempDir>,
    _schema: Option<TestDatabase>,
}

impl Fixture {
    /// A private SQLite database in memory.
    pub(super) async fn sqlite_memory() -> Fixture {
        let store = SqliteStore::open("sqlite::memory:")
            .await
            .expect("open memory");
        Fixture {
            store: Arc::new(store),
            _dir: None,
            _schema: None,
        }
    }

    /// A SQLite file in a folder that does not exist yet, in a temp directory.
    pub(super) async fn sqlite_file() -> Fixture {
        let dir = tempfile::tempdir().expect("temp dir");
        let url = format!("sqlite://{}/data/login.db", dir.path().display());
        let store = SqliteStore::open(&url).await.expect("open");
        Fixture {
            store: Arc::new(store),
            _dir: Some(dir),
            _schema: None,
        }
    }

    /// A PostgreSQL store in a schema of its own; `None` when the test is skipped.
    pub(super) async fn postgres(test: &str) -> Option<Fixture> {
        let schema = TestDatabase::create(test).await?;
        let store = PostgresStore::open(&schema.url()).await.expect("open");
        Some(Fixture {
            store: Arc::new(store),
            _dir: None,
            _schema: Some(schema),
        })
    }
}

/// For each test fn named, a module of the same name with one `#[tokio::test]` per backend:
/// `sqlite_memory`, `sqlite_file`, `postgres`. The fns take `&dyn Store`, or with `shared:`
/// first, `&Arc<dyn Store>` (to share it with spawned tasks).
macro_rules! on_every_store {
    (shared: $($name:ident),* $(,)?) => {
        on_every_store!(@each |store| store; $($name),*);
    };
    ($($name:ident),* $(,)?) => {
        on_every_store!(@each |store| store.as_ref(); $($name),*);
    };
    (@each |$store:ident| $arg:expr; $($name:ident),*) => {$(
        mod $name {
            use crate::store::tests::Fixture;

            #[tokio::test(flavor = "multi_thread", worker_threads = 4)]
            async fn sqlite_memory() {
                let $store = &Fixture::sqlite_memory().await.store;
                super::$name($arg).await;
            }

            #[tokio::test(flavor = "multi_thread", worker_threads = 4)]
            async fn sqlite_file() {
                let fixture = Fixture::sqlite_file().await;
                let $store = &fixture.store;
                super::$name($arg).await;
            }

            #[tokio::test(flavor = "multi_thread", worker_threads = 4)]
            async fn postgres() {
                let test = concat!(module_path!(), "::postgres");
                let Some(fixture) = Fixture::postgres(test).await else {
                    return;
                };
                let $store = &fixture.store;
                super::$name($arg).await;
            }
        }
    )*};
}
pub(super) use on_every_store;

pub(super) const T0: UnixMs = UnixMs(1_700_000_000_000);
pub(super) const HOUR: i64 = 3_600_000;

pub(super) fn hash(n: u8) -> TokenHash {
    TokenHash([n; 32])
}

pub(super) fn new_session(n: u8, now: UnixMs) -> NewSession {
    NewSession {
        token_hash: hash(n),
        expires_at: UnixMs(now.0 + HOUR),
        absolute_expires_at: UnixMs(now.0 + 24 * HOUR),
    }
}

pub(super) fn login(
    appid: &str,
    openid: &str,
    unionid: Option<&str>,
    token: u8,
    now: UnixMs,
) -> LoginWrite {
    LoginWrite {
        appid: AppId::new(appid),
        openid: OpenId::new(openid),
        unionid: unionid.map(UnionId::new),
        sealed_session_key: format!("sealed-{openid}-{token}").into_bytes(),
        session: new_session(token, now),
        now,
    }
}

pub(super) fn phone(pure: &str) -> PhoneInfo {
    PhoneInfo {
        phone_number: pure.to_owned(),
        pure_phone_number: pure.to_owned(),
        country_code: "86".to_owned(),
    }
}

pub(super) fn phone_write(user: &User, appid: &str, openid: &str, pure: &str) -> PhoneWrite {
    PhoneWrite {
        user_id: user.id,
        appid: AppId::new(appid),
        openid: OpenId::new(openid),
        phone: phone(pure),
        now: UnixMs(T0.0 + 5_000),
    }
}

pub(super) fn ident(appid: &str, openid: &str) -> Identity {
    Identity {
        appid: AppId::new(appid),
        openid: OpenId::new(openid),
    }
}

pub(super) async fn stats(store: &dyn Store) -> (u64, u64, u64) {
    let s = store.stats().await.expect("stats");
    (s.users, s.identities, s.sessions)
}

/// `offset_ms` after [`T0`].
pub(super) fn at(offset_ms: i64) -> UnixMs {
    UnixMs(T0.0 + offset_ms)
}

/// Records `write`; returns what the login found or created.
pub(super) async fn record(store: &dyn Store, write: LoginWrite) -> LoginOutcome {
    store.record_login(write).await.expect("login")
}

/// `openid` of `appid` (with `unionid`, if any) logs in at [`T0`] and gets session `token`.
pub(super) async fn log_in(
    store: &dyn Store,
    appid: &str,
    openid: &str,
    unionid: Option<&str>,
    token: u8,
) -> LoginOutcome {
    record(store, login(appid, openid, unionid, token, T0)).await
}

/// Like [`log_in`], for the user only.
pub(super) async fn login_user(
    store: &dyn Store,
    appid: &str,
    openid: &str,
    unionid: Option<&str>,
    token: u8,
) -> User {
    log_in(store, appid, openid, unionid, token).await.user
}

/// The stored session of token `n`, which must exist.
pub(super) async fn session(store: &dyn Store, n: u8) -> SessionRecord {
    store
        .session(&hash(n))
        .await
        .expect("read")
        .expect("exists")
}

/// Whether a session of token `n` is stored.
pub(super) async fn has_session(store: &dyn Store, n: u8) -> bool {
    store.session(&hash(n)).await.expect("read").is_some()
}

/// A profile with a nickname and nothing else.
pub(super) fn nickname(name: &str) -> Profile {
    Profile {
        nick_name: Some(name.into()),
        ..Profile::default()
    }
}

/// Sets `user`'s profile at [`T0`].
pub(super) async fn set_profile(store: &dyn Store, user: UserId, profile: Profile) -> User {
    store
        .set_profile(user, profile, T0)
        .await
        .expect("set profile")
}

/// `user` asks, in a session of (`appid`, `openid`), to bind the number `pure`.
pub(super) async fn bind(
    store: &dyn Store,
    user: &User,
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
pub(super) fn bound(outcome: PhoneOutcome) -> User {
    let PhoneOutcome::Bound(user) = outcome else {
        panic!("expected Bound, got {outcome:?}");
    };
    user
}

/// A user who logged in as (`appid`, `openid`, `unionid`) and then bound the number `pure`.
pub(super) async fn owner_of(
    store: &dyn Store,
    (appid, openid, unionid): (&str, &str, Option<&str>),
    token: u8,
    pure: &str,
) -> User {
    let owner = login_user(store, appid, openid, unionid, token).await;
    bind(store, &owner, appid, openid, pure).await;
    owner
}

/// Asserts that `user` binding `pure` through (`appid`, `openid`) is a conflict that writes
/// nothing.
pub(super) async fn assert_bind_conflicts(
    store: &dyn Store,
    user: &User,
    appid: &str,
    openid: &str,
    pure: &str,
) {
    let before = stats(store).await;
    let outcome = bind(store, user, appid, openid, pure).await;
    assert!(matches!(outcome, PhoneOutcome::Conflict), "{outcome:?}");
    assert_eq!(stats(store).await, before);
}
