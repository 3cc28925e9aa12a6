//! Tests of the SQLite store against temp-file and in-memory databases.

use std::sync::Arc;

use super::*;
use crate::ids::UnionId;
use crate::wechat::PhoneInfo;

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

async fn first_and_second_login(store: SqliteStore) {
    let first = store
        .record_login(login("wxa", "o1", None, 1, T0))
        .await
        .expect("first login");
    assert!(first.is_new);
    assert_eq!(first.user.identities, vec![ident("wxa", "o1")]);
    assert_eq!(first.user.unionid, None);
    assert_eq!(first.user.created_at, T0);

    let later = UnixMs(T0.0 + 1_000);
    let mut again = login("wxa", "o1", None, 2, later);
    again.sealed_session_key = b"newer key".to_vec();
    let second = store.record_login(again).await.expect("second login");
    assert!(!second.is_new);
    assert_eq!(second.user.id, first.user.id);
    assert_eq!(
        store
            .sealed_session_key(&AppId::new("wxa"), &OpenId::new("o1"))
            .await
            .expect("key"),
        Some(b"newer key".to_vec())
    );
    assert_eq!(stats(&store).await, (1, 1, 2));
    let session = store
        .session(&hash(2))
        .await
        .expect("read")
        .expect("exists");
    assert_eq!(session.user_id, first.user.id);
    assert_eq!(session.created_at, later);
    assert_eq!(session.revoked_at, None);
}

#[tokio::test]
async fn first_login_creates_user_second_finds_it_on_file() {
    let (store, _dir) = file_store().await;
    first_and_second_login(store).await;
}

#[tokio::test]
async fn first_login_creates_user_second_finds_it_in_memory() {
    first_and_second_login(memory_store().await).await;
}

#[tokio::test]
async fn unionid_from_another_app_joins_the_same_user() {
    let (store, _dir) = file_store().await;
    let a = store
        .record_login(login("wxb", "ob", Some("u1"), 1, T0))
        .await
        .expect("login b");
    let b = store
        .record_login(login("wxa", "oa", Some("u1"), 2, T0))
        .await
        .expect("login a");
    assert!(a.is_new);
    assert!(!b.is_new);
    assert_eq!(a.user.id, b.user.id);
    // Sorted by appid.
    assert_eq!(
        b.user.identities,
        vec![ident("wxa", "oa"), ident("wxb", "ob")]
    );
    assert_eq!(b.user.unionid, Some(UnionId::new("u1")));
    assert_eq!(stats(&store).await, (1, 2, 2));
}

#[tokio::test]
async fn unionid_learned_later_is_attached_unless_taken() {
    let store = memory_store().await;
    let first = store
        .record_login(login("wxa", "o1", None, 1, T0))
        .await
        .expect("login");
    let later = UnixMs(T0.0 + 10);
    let second = store
        .record_login(login("wxa", "o1", Some("u1"), 2, later))
        .await
        .expect("login with unionid");
    assert_eq!(second.user.id, first.user.id);
    assert_eq!(second.user.unionid, Some(UnionId::new("u1")));
    assert_eq!(second.user.updated_at, later);

    // Another user learns a unionid someone else holds: login goes on, not attached.
    let other = store
        .record_login(login("wxa", "o2", None, 3, T0))
        .await
        .expect("other");
    let again = store
        .record_login(login("wxa", "o2", Some("u1"), 4, later))
        .await
        .expect("other with taken unionid");
    assert_eq!(again.user.id, other.user.id);
    assert_eq!(again.user.unionid, None);
    assert_eq!(stats(&store).await, (2, 2, 4));
}

#[tokio::test]
async fn unionid_holder_with_another_openid_in_the_app_does_not_fail_login() {
    let store = memory_store().await;
    let a = store
        .record_login(login("wxa", "o1", Some("u1"), 1, T0))
        .await
        .expect("login");
    let b = store
        .record_login(login("wxa", "o2", Some("u1"), 2, T0))
        .await
        .expect("login of the clashing openid");
    assert!(b.is_new);
    assert_ne!(a.user.id, b.user.id);
    assert_eq!(b.user.unionid, None);
    assert_eq!(stats(&store).await, (2, 2, 2));
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn concurrent_logins_of_one_identity_create_one_user() {
    let (store, _dir) = file_store().await;
    let store = Arc::new(store);
    let tasks: Vec<_> = (0..32u8)
        .map(|i| {
            let store = Arc::clone(&store);
            tokio::spawn(async move { store.record_login(login("wxa", "o1", None, i, T0)).await })
        })
        .collect();
    let mut created = 0;
    let mut ids = Vec::new();
    for task in tasks {
        let outcome = task.await.expect("task").expect("login");
        created += usize::from(outcome.is_new);
        ids.push(outcome.user.id);
    }
    assert_eq!(created, 1);
    assert!(ids.iter().all(|id| *id == ids[0]));
    assert_eq!(stats(&store).await, (1, 1, 32));
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn two_stores_on_one_file_still_create_one_user() {
    // Like two processes: each has its own writer; BEGIN IMMEDIATE serializes them.
    let dir = tempfile::tempdir().expect("temp dir");
    let url = file_url(&dir);
    let a = Arc::new(SqliteStore::open(&url).await.expect("open a"));
    let b = Arc::new(SqliteStore::open(&url).await.expect("open b"));
    let tasks: Vec<_> = (0..16u8)
        .map(|i| {
            let store = Arc::clone(if i % 2 == 0 { &a } else { &b });
            tokio::spawn(async move {
                store
                    .record_login(login("wxa", "o1", Some("u1"), i, T0))
                    .await
            })
        })
        .collect();
    let mut created = 0;
    for task in tasks {
        created += usize::from(task.await.expect("task").expect("login").is_new);
    }
    assert_eq!(created, 1);
    assert_eq!(stats(&a).await, (1, 1, 16));
    assert_eq!(stats(&b).await, (1, 1, 16));
}

#[tokio::test]
async fn sessions_renew_clamped_rotate_and_revoke() {
    let (store, _dir) = file_store().await;
    store
        .record_login(login("wxa", "o1", None, 1, T0))
        .await
        .expect("login");
    let abs = UnixMs(T0.0 + 24 * HOUR);

    store
        .renew_session(&hash(1), UnixMs(T0.0 + 2 * HOUR))
        .await
        .expect("renew");
    let s = store
        .session(&hash(1))
        .await
        .expect("read")
        .expect("exists");
    assert_eq!(s.expires_at, UnixMs(T0.0 + 2 * HOUR));

    // Never beyond the absolute end.
    store
        .renew_session(&hash(1), UnixMs(T0.0 + 100 * HOUR))
        .await
        .expect("renew");
    let s = store
        .session(&hash(1))
        .await
        .expect("read")
        .expect("exists");
    assert_eq!(s.expires_at, abs);

    // Rotate: old revoked at now, new one for the same identity.
    let now = UnixMs(T0.0 + HOUR);
    assert!(
        store
            .rotate_session(&hash(1), new_session(2, now), now)
            .await
            .expect("rotate")
    );
    let old = store
        .session(&hash(1))
        .await
        .expect("read")
        .expect("exists");
    assert_eq!(old.revoked_at, Some(now));
    let new = store
        .session(&hash(2))
        .await
        .expect("read")
        .expect("exists");
    assert_eq!((new.user_id, new.revoked_at), (old.user_id, None));
    assert_eq!((&new.appid, &new.openid), (&old.appid, &old.openid));
    assert_eq!(new.created_at, now);

    // A revoked session stays revoked: no renewal, no rotation, no second revoke.
    let before = stats(&store).await;
    store
        .renew_session(&hash(1), UnixMs(T0.0 + 3 * HOUR))
        .await
        .expect("renew revoked");
    assert_eq!(
        store
            .session(&hash(1))
            .await
            .expect("read")
            .expect("exists"),
        old
    );
    assert!(
        !store
            .rotate_session(&hash(1), new_session(3, now), now)
            .await
            .expect("rotate revoked")
    );
    assert!(store.session(&hash(3)).await.expect("read").is_none());
    assert_eq!(stats(&store).await, before);
    assert!(!store.revoke_session(&hash(1), now).await.expect("revoke"));
    assert!(!store.revoke_session(&hash(9), now).await.expect("unknown"));

    // Revoke the active one once.
    let later = UnixMs(now.0 + 1);
    assert!(store.revoke_session(&hash(2), later).await.expect("revoke"));
    assert!(!store.revoke_session(&hash(2), later).await.expect("again"));
    assert_eq!(
        store
            .session(&hash(2))
            .await
            .expect("read")
            .expect("exists")
            .revoked_at,
        Some(later)
    );
}

#[tokio::test]
async fn expired_sessions_cannot_be_rotated_or_revoked() {
    let store = memory_store().await;
    store
        .record_login(login("wxa", "o1", None, 1, T0))
        .await
        .expect("login");
    let after = UnixMs(T0.0 + HOUR); // expires_at == now: no longer active
    assert!(
        !store
            .rotate_session(&hash(1), new_session(2, after), after)
            .await
            .expect("rotate")
    );
    assert!(!store.revoke_session(&hash(1), after).await.expect("revoke"));
    let s = store
        .session(&hash(1))
        .await
        .expect("read")
        .expect("exists");
    assert_eq!(s.revoked_at, None);
    assert_eq!(stats(&store).await, (1, 1, 1));
}

#[tokio::test]
async fn user_and_profile() {
    let store = memory_store().await;
    let out = store
        .record_login(login("wxa", "o1", None, 1, T0))
        .await
        .expect("login");
    assert_eq!(out.user.profile, None);
    let profile = Profile {
        nick_name: Some("小明".into()),
        avatar_url: Some("https://x/a.png".into()),
        gender: Some(1),
        ..Profile::default()
    };
    let now = UnixMs(T0.0 + 7);
    let user = store
        .set_profile(out.user.id, profile.clone(), now)
        .await
        .expect("set profile");
    assert_eq!(user.profile, Some(profile.clone()));
    assert_eq!(user.updated_at, now);
    assert_eq!(store.user(out.user.id).await.expect("user"), Some(user));
    assert!(store.user(UserId(999)).await.expect("user").is_none());
    assert!(matches!(
        store.set_profile(UserId(999), profile, now).await,
        Err(StoreError::NotFound("user"))
    ));
    assert!(
        store
            .sealed_session_key(&AppId::new("wxa"), &OpenId::new("nobody"))
            .await
            .expect("key")
            .is_none()
    );
}

#[tokio::test]
async fn bind_free_number_then_rebind_is_idempotent() {
    let (store, _dir) = file_store().await;
    let u = store
        .record_login(login("wxa", "o1", None, 1, T0))
        .await
        .expect("login")
        .user;
    let PhoneOutcome::Bound(bound) = store
        .bind_phone(phone_write(&u, "wxa", "o1", "13800000000"))
        .await
        .expect("bind")
    else {
        panic!("expected Bound");
    };
    assert_eq!(bound.id, u.id);
    assert_eq!(bound.phone, Some(phone("13800000000")));

    let mut again = phone_write(&u, "wxa", "o1", "13800000000");
    again.phone.phone_number = "+86 13800000000".into();
    let PhoneOutcome::Bound(rebound) = store.bind_phone(again).await.expect("rebind") else {
        panic!("expected Bound");
    };
    assert_eq!(rebound.id, u.id);
    assert_eq!(
        rebound.phone.as_ref().map(|p| p.phone_number.as_str()),
        Some("+86 13800000000")
    );

    // A new number replaces the old one, which becomes free for someone else.
    let PhoneOutcome::Bound(changed) = store
        .bind_phone(phone_write(&u, "wxa", "o1", "13900000000"))
        .await
        .expect("change")
    else {
        panic!("expected Bound");
    };
    assert_eq!(changed.phone, Some(phone("13900000000")));
    let v = store
        .record_login(login("wxa", "o2", None, 2, T0))
        .await
        .expect("login v")
        .user;
    assert!(matches!(
        store
            .bind_phone(phone_write(&v, "wxa", "o2", "13800000000"))
            .await
            .expect("bind freed"),
        PhoneOutcome::Bound(ref b) if b.id == v.id
    ));
    assert_eq!(stats(&store).await, (2, 2, 2));
}

#[tokio::test]
async fn bind_conflicts_when_owner_has_identity_in_this_app() {
    let store = memory_store().await;
    let owner = store
        .record_login(login("wxa", "o1", None, 1, T0))
        .await
        .expect("owner")
        .user;
    store
        .bind_phone(phone_write(&owner, "wxa", "o1", "13800000000"))
        .await
        .expect("bind owner");
    let u = store
        .record_login(login("wxa", "o2", None, 2, T0))
        .await
        .expect("u")
        .user;
    let before = stats(&store).await;
    let outcome = store
        .bind_phone(phone_write(&u, "wxa", "o2", "13800000000"))
        .await
        .expect("bind");
    assert!(matches!(outcome, PhoneOutcome::Conflict));
    assert_eq!(stats(&store).await, before);
    assert_eq!(store.user(u.id).await.expect("u"), Some(u));
    let owner_now = store.user(owner.id).await.expect("owner").expect("exists");
    assert_eq!(owner_now.phone, Some(phone("13800000000")));
}

#[tokio::test]
async fn bind_joins_identity_and_sessions_into_owner() {
    let (store, _dir) = file_store().await;
    // O: app B, has the number, a profile, no unionid.
    let o = store
        .record_login(login("wxb", "ob", None, 1, T0))
        .await
        .expect("o")
        .user;
    store
        .bind_phone(phone_write(&o, "wxb", "ob", "13800000000"))
        .await
        .expect("bind o");
    // U: app A, a unionid and a profile O does not have... O has none, so it gets U's.
    let u = store
        .record_login(login("wxa", "oa", Some("u1"), 2, T0))
        .await
        .expect("u")
        .user;
    let profile = Profile {
        nick_name: Some("u".into()),
        ..Profile::default()
    };
    store
        .set_profile(u.id, profile.clone(), T0)
        .await
        .expect("profile");
    store
        .rotate_session(&hash(2), new_session(3, T0), T0)
        .await
        .expect("rotate");

    let outcome = store
        .bind_phone(phone_write(&u, "wxa", "oa", "13800000000"))
        .await
        .expect("bind");
    let PhoneOutcome::Joined { user, merged_from } = outcome else {
        panic!("expected Joined, got {outcome:?}");
    };
    assert_eq!(merged_from, u.id);
    assert_eq!(user.id, o.id);
    assert_eq!(
        user.identities,
        vec![ident("wxa", "oa"), ident("wxb", "ob")]
    );
    assert_eq!(user.unionid, Some(UnionId::new("u1")));
    assert_eq!(user.profile, Some(profile));
    assert_eq!(user.phone, Some(phone("13800000000")));
    assert!(store.user(u.id).await.expect("u").is_none());
    for token in [2, 3] {
        let s = store
            .session(&hash(token))
            .await
            .expect("read")
            .expect("kept");
        assert_eq!(s.user_id, o.id);
    }
    assert_eq!(stats(&store).await, (1, 2, 3));

    // The joined identity now logs in to O, and the unionid resolves to O too.
    let again = store
        .record_login(login("wxa", "oa", Some("u1"), 4, T0))
        .await
        .expect("login");
    assert_eq!((again.user.id, again.is_new), (o.id, false));
    let via_unionid = store
        .record_login(login("wxc", "oc", Some("u1"), 5, T0))
        .await
        .expect("login c");
    assert_eq!((via_unionid.user.id, via_unionid.is_new), (o.id, false));

    // Replaying the request after the join: U is gone.
    assert!(matches!(
        store
            .bind_phone(phone_write(&u, "wxa", "oa", "13800000000"))
            .await,
        Err(StoreError::NotFound("user"))
    ));
}

#[tokio::test]
async fn bind_join_keeps_owner_profile() {
    let store = memory_store().await;
    let o = store
        .record_login(login("wxb", "ob", None, 1, T0))
        .await
        .expect("o")
        .user;
    let mine = Profile {
        nick_name: Some("owner".into()),
        ..Profile::default()
    };
    store.set_profile(o.id, mine.clone(), T0).await.expect("p");
    store
        .bind_phone(phone_write(&o, "wxb", "ob", "13800000000"))
        .await
        .expect("bind o");
    let u = store
        .record_login(login("wxa", "oa", None, 2, T0))
        .await
        .expect("u")
        .user;
    store
        .set_profile(
            u.id,
            Profile {
                nick_name: Some("u".into()),
                ..Profile::default()
            },
            T0,
        )
        .await
        .expect("p");
    let outcome = store
        .bind_phone(phone_write(&u, "wxa", "oa", "13800000000"))
        .await
        .expect("bind");
    let PhoneOutcome::Joined { user, .. } = outcome else {
        panic!("expected Joined, got {outcome:?}");
    };
    assert_eq!(user.profile, Some(mine));
    assert_eq!(user.unionid, None);
    assert_eq!(stats(&store).await, (1, 2, 2));
}

#[tokio::test]
async fn bind_conflicts_when_u_has_other_identities() {
    let store = memory_store().await;
    let o = store
        .record_login(login("wxc", "oc", None, 1, T0))
        .await
        .expect("o")
        .user;
    store
        .bind_phone(phone_write(&o, "wxc", "oc", "13800000000"))
        .await
        .expect("bind o");
    // U has identities in A and B (joined by unionid).
    store
        .record_login(login("wxa", "oa", Some("u1"), 2, T0))
        .await
        .expect("u a");
    let u = store
        .record_login(login("wxb", "ob", Some("u1"), 3, T0))
        .await
        .expect("u b")
        .user;
    assert_eq!(u.identities.len(), 2);
    let before = stats(&store).await;
    let outcome = store
        .bind_phone(phone_write(&u, "wxa", "oa", "13800000000"))
        .await
        .expect("bind");
    assert!(matches!(outcome, PhoneOutcome::Conflict));
    assert_eq!(stats(&store).await, before);
    assert_eq!(store.user(u.id).await.expect("u"), Some(u));
}

#[tokio::test]
async fn bind_conflicts_on_different_unionids() {
    let store = memory_store().await;
    let o = store
        .record_login(login("wxb", "ob", Some("u-owner"), 1, T0))
        .await
        .expect("o")
        .user;
    store
        .bind_phone(phone_write(&o, "wxb", "ob", "13800000000"))
        .await
        .expect("bind o");
    let u = store
        .record_login(login("wxa", "oa", Some("u-other"), 2, T0))
        .await
        .expect("u")
        .user;
    let before = stats(&store).await;
    let outcome = store
        .bind_phone(phone_write(&u, "wxa", "oa", "13800000000"))
        .await
        .expect("bind");
    assert!(matches!(outcome, PhoneOutcome::Conflict));
    assert_eq!(stats(&store).await, before);
    let u_now = store.user(u.id).await.expect("u").expect("still there");
    assert_eq!(u_now.phone, None);
    assert_eq!(u_now.identities, vec![ident("wxa", "oa")]);
}

#[tokio::test]
async fn bind_for_a_missing_user_or_foreign_identity_is_not_found() {
    let store = memory_store().await;
    let o = store
        .record_login(login("wxb", "ob", None, 1, T0))
        .await
        .expect("o")
        .user;
    store
        .bind_phone(phone_write(&o, "wxb", "ob", "13800000000"))
        .await
        .expect("bind o");
    let mut ghost = phone_write(&o, "wxa", "oa", "13800000000");
    ghost.user_id = UserId(12345);
    assert!(matches!(
        store.bind_phone(ghost).await,
        Err(StoreError::NotFound("user"))
    ));
    // An openid U does not own: U's real identity counts as another one, so no join.
    let u = store
        .record_login(login("wxa", "oa", None, 2, T0))
        .await
        .expect("u")
        .user;
    let before = stats(&store).await;
    assert!(matches!(
        store
            .bind_phone(phone_write(&u, "wxa", "not-mine", "13800000000"))
            .await,
        Ok(PhoneOutcome::Conflict)
    ));
    assert_eq!(stats(&store).await, before);

    // A user without identities (the API cannot make one) asks to move an identity it lacks.
    let bare = sqlx::query("INSERT INTO users (created_at, updated_at) VALUES (0, 0)")
        .execute(&store.writer)
        .await
        .expect("insert bare user")
        .last_insert_rowid();
    let mut lacking = phone_write(&u, "wxa", "oa", "13800000000");
    lacking.user_id = UserId(bare);
    let before = stats(&store).await;
    assert!(matches!(
        store.bind_phone(lacking).await,
        Err(StoreError::NotFound("identity"))
    ));
    assert_eq!(stats(&store).await, before);
    assert_eq!(store.user(u.id).await.expect("u"), Some(u));
}

#[tokio::test]
async fn purge_deletes_ended_sessions_only() {
    let (store, _dir) = file_store().await;
    // 1: revoked at T0+1h. 2: expires at T0+1h. 3: absolute end at T0+2h. 4: active.
    store
        .record_login(login("wxa", "o1", None, 1, T0))
        .await
        .expect("login");
    store
        .record_login(login("wxa", "o1", None, 2, T0))
        .await
        .expect("login");
    let mut w = login("wxa", "o1", None, 3, T0);
    w.session.expires_at = UnixMs(T0.0 + 10 * HOUR);
    w.session.absolute_expires_at = UnixMs(T0.0 + 2 * HOUR);
    store.record_login(w).await.expect("login");
    let mut w = login("wxa", "o1", None, 4, T0);
    w.session.expires_at = UnixMs(T0.0 + 10 * HOUR);
    store.record_login(w).await.expect("login");
    assert!(
        store
            .revoke_session(&hash(1), UnixMs(T0.0 + 1))
            .await
            .expect("revoke")
    );

    assert_eq!(store.purge_sessions(T0).await.expect("purge"), 0);
    assert_eq!(
        store
            .purge_sessions(UnixMs(T0.0 + 2 * HOUR + 1))
            .await
            .expect("purge"),
        3
    );
    for gone in [1, 2, 3] {
        assert!(store.session(&hash(gone)).await.expect("read").is_none());
    }
    assert!(store.session(&hash(4)).await.expect("read").is_some());
    assert_eq!(stats(&store).await, (1, 1, 1));
}

#[tokio::test]
async fn data_survives_reopen_and_migrations_rerun_idempotently() {
    let dir = tempfile::tempdir().expect("temp dir");
    let url = file_url(&dir);
    let store = SqliteStore::open(&url).await.expect("open");
    let out = store
        .record_login(login("wxa", "o1", Some("u1"), 1, T0))
        .await
        .expect("login");
    drop(store);

    let reopened = SqliteStore::open(&url).await.expect("reopen");
    assert_eq!(stats(&reopened).await, (1, 1, 1));
    assert_eq!(
        reopened.user(out.user.id).await.expect("user"),
        Some(out.user.clone())
    );
    let applied: i64 = sqlx::query_scalar("SELECT count(*) FROM _sqlx_migrations")
        .fetch_one(&reopened.reader)
        .await
        .expect("migrations table");
    assert_eq!(
        applied,
        i64::try_from(MIGRATOR.iter().count()).expect("small")
    );
    reopened.close().await;

    // Open again after a clean close: still there, and the file is in WAL mode.
    let third = SqliteStore::open(&url).await.expect("third open");
    let mode: String = sqlx::query_scalar("PRAGMA journal_mode")
        .fetch_one(&third.writer)
        .await
        .expect("journal mode");
    assert_eq!(mode, "wal");
    let again = third
        .record_login(login("wxa", "o1", Some("u1"), 2, T0))
        .await
        .expect("login");
    assert_eq!((again.user.id, again.is_new), (out.user.id, false));
}

#[tokio::test]
async fn pragmas_are_durable_and_readers_cannot_write() {
    let (store, _dir) = file_store().await;
    let sync: i64 = sqlx::query_scalar("PRAGMA synchronous")
        .fetch_one(&store.writer)
        .await
        .expect("synchronous");
    assert_eq!(sync, 2, "synchronous = FULL");
    let fk: i64 = sqlx::query_scalar("PRAGMA foreign_keys")
        .fetch_one(&store.writer)
        .await
        .expect("foreign_keys");
    assert_eq!(fk, 1);
    let write = sqlx::query("INSERT INTO users (created_at, updated_at) VALUES (0, 0)")
        .execute(&store.reader)
        .await;
    assert!(write.is_err(), "reader pool must be read-only");
    assert_eq!(stats(&store).await, (0, 0, 0));
}
