//! Tests of logins: finding, creating and joining users by openid and unionid.

use super::*;

async fn first_login_creates_user_second_finds_it(store: &dyn Store) {
    let first = log_in(store, "wxa", "o1", None, 1).await;
    assert!(first.is_new);
    assert_eq!(first.user.identities, vec![ident("wxa", "o1")]);
    assert_eq!(first.user.unionid, None);
    assert_eq!(first.user.created_at, T0);
    // What the login answers for a new user is what the store holds.
    assert_eq!(
        store.user(first.user.id).await.expect("user"),
        Some(first.user.clone())
    );

    let later = at(1_000);
    let mut again = login("wxa", "o1", None, 2, later);
    again.sealed_session_key = b"newer key".to_vec();
    let second = record(store, again).await;
    assert!(!second.is_new);
    assert_eq!(second.user.id, first.user.id);
    assert_eq!(
        store
            .sealed_session_key(&AppId::new("wxa"), &OpenId::new("o1"))
            .await
            .expect("key"),
        Some(b"newer key".to_vec())
    );
    assert_eq!(stats(store).await, (1, 1, 2));
    let session = session(store, 2).await;
    assert_eq!(session.user_id, first.user.id);
    assert_eq!(session.created_at, later);
    assert_eq!(session.revoked_at, None);
}

async fn unionid_from_another_app_joins_the_same_user(store: &dyn Store) {
    let a = log_in(store, "wxb", "ob", Some("u1"), 1).await;
    let b = log_in(store, "wxa", "oa", Some("u1"), 2).await;
    assert!(a.is_new);
    assert!(!b.is_new);
    assert_eq!(a.user.id, b.user.id);
    // Sorted by appid.
    assert_eq!(
        b.user.identities,
        vec![ident("wxa", "oa"), ident("wxb", "ob")]
    );
    assert_eq!(b.user.unionid, Some(UnionId::new("u1")));
    assert_eq!(stats(store).await, (1, 2, 2));
}

async fn unionid_learned_later_is_attached_unless_taken(store: &dyn Store) {
    let first = log_in(store, "wxa", "o1", None, 1).await;
    let later = at(10);
    let second = record(store, login("wxa", "o1", Some("u1"), 2, later)).await;
    assert_eq!(second.user.id, first.user.id);
    assert_eq!(second.user.unionid, Some(UnionId::new("u1")));
    assert_eq!(second.user.updated_at, later);

    // Another user learns a unionid someone else holds: login goes on, not attached.
    let other = log_in(store, "wxa", "o2", None, 3).await;
    let again = record(store, login("wxa", "o2", Some("u1"), 4, later)).await;
    assert_eq!(again.user.id, other.user.id);
    assert_eq!(again.user.unionid, None);
    assert_eq!(stats(store).await, (2, 2, 4));
}

async fn unionid_holder_with_another_openid_in_the_app_does_not_fail_login(store: &dyn Store) {
    let a = log_in(store, "wxa", "o1", Some("u1"), 1).await;
    let b = log_in(store, "wxa", "o2", Some("u1"), 2).await;
    assert!(b.is_new);
    assert_ne!(a.user.id, b.user.id);
    assert_eq!(b.user.unionid, None);
    assert_eq!(
        store.user(b.user.id).await.expect("user"),
        Some(b.user.clone())
    );
    assert_eq!(stats(store).await, (2, 2, 2));
}

async fn user_and_profile(store: &dyn Store) {
    let out = log_in(store, "wxa", "o1", None, 1).await;
    assert_eq!(out.user.profile, None);
    let profile = Profile {
        nick_name: Some("小明".into()),
        avatar_url: Some("https://x/a.png".into()),
        gender: Some(1),
        ..Profile::default()
    };
    let now = at(7);
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

on_every_store!(
    first_login_creates_user_second_finds_it,
    unionid_from_another_app_joins_the_same_user,
    unionid_learned_later_is_attached_unless_taken,
    unionid_holder_with_another_openid_in_the_app_does_not_fail_login,
    user_and_profile,
);
