//! Tests of phone binding: bind, rebind, join and the conflicts.

use super::*;

const NUMBER: &str = "13800000000";

async fn bind_free_number_then_rebind_is_idempotent(store: &dyn Store) {
    let u = login_user(store, "wxa", "o1", None, 1).await;
    let bound_first = bound(bind(store, &u, "wxa", "o1", NUMBER).await);
    assert_eq!(bound_first.id, u.id);
    assert_eq!(bound_first.phone, Some(phone(NUMBER)));

    let mut again = phone_write(&u, "wxa", "o1", NUMBER);
    again.phone.phone_number = "+86 13800000000".into();
    let rebound = bound(store.bind_phone(again).await.expect("rebind"));
    assert_eq!(rebound.id, u.id);
    assert_eq!(
        rebound.phone.as_ref().map(|p| p.phone_number.as_str()),
        Some("+86 13800000000")
    );

    // A new number replaces the old one, which becomes free for someone else.
    let changed = bound(bind(store, &u, "wxa", "o1", "13900000000").await);
    assert_eq!(changed.phone, Some(phone("13900000000")));
    let v = login_user(store, "wxa", "o2", None, 2).await;
    assert_eq!(bound(bind(store, &v, "wxa", "o2", NUMBER).await).id, v.id);
    assert_eq!(stats(store).await, (2, 2, 2));
}

async fn bind_conflicts_when_owner_has_identity_in_this_app(store: &dyn Store) {
    let owner = owner_of(store, ("wxa", "o1", None), 1, NUMBER).await;
    let u = login_user(store, "wxa", "o2", None, 2).await;
    assert_bind_conflicts(store, &u, "wxa", "o2", NUMBER).await;
    assert_eq!(store.user(u.id).await.expect("u"), Some(u));
    let owner_now = store.user(owner.id).await.expect("owner").expect("exists");
    assert_eq!(owner_now.phone, Some(phone(NUMBER)));
}

async fn bind_joins_identity_and_sessions_into_owner(store: &dyn Store) {
    // O: app B, has the number, a profile, no unionid.
    let o = owner_of(store, ("wxb", "ob", None), 1, NUMBER).await;
    // U: app A, a unionid and a profile O does not have... O has none, so it gets U's.
    let u = login_user(store, "wxa", "oa", Some("u1"), 2).await;
    let profile = nickname("u");
    set_profile(store, u.id, profile.clone()).await;
    store
        .rotate_session(&hash(2), new_session(3, T0), T0)
        .await
        .expect("rotate");

    let outcome = bind(store, &u, "wxa", "oa", NUMBER).await;
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
    assert_eq!(user.phone, Some(phone(NUMBER)));
    assert!(store.user(u.id).await.expect("u").is_none());
    for token in [2, 3] {
        assert_eq!(session(store, token).await.user_id, o.id);
    }
    assert_eq!(stats(store).await, (1, 2, 3));

    // The joined identity now logs in to O, and the unionid resolves to O too.
    let again = log_in(store, "wxa", "oa", Some("u1"), 4).await;
    assert_eq!((again.user.id, again.is_new), (o.id, false));
    let via_unionid = log_in(store, "wxc", "oc", Some("u1"), 5).await;
    assert_eq!((via_unionid.user.id, via_unionid.is_new), (o.id, false));

    // A racing request of the same session, sent before the join with U's id: the store
    // follows the identity, now O's, and the number is already O's.
    let replay = bind(store, &u, "wxa", "oa", NUMBER).await;
    assert_eq!(bound(replay).id, o.id);
    assert_eq!(stats(store).await, (1, 3, 5));
}

async fn bind_join_keeps_owner_profile(store: &dyn Store) {
    let o = login_user(store, "wxb", "ob", None, 1).await;
    let mine = nickname("owner");
    set_profile(store, o.id, mine.clone()).await;
    bind(store, &o, "wxb", "ob", NUMBER).await;
    let u = login_user(store, "wxa", "oa", None, 2).await;
    set_profile(store, u.id, nickname("u")).await;
    let outcome = bind(store, &u, "wxa", "oa", NUMBER).await;
    let PhoneOutcome::Joined { user, .. } = outcome else {
        panic!("expected Joined, got {outcome:?}");
    };
    assert_eq!(user.profile, Some(mine));
    assert_eq!(user.unionid, None);
    assert_eq!(stats(store).await, (1, 2, 2));
}

async fn bind_conflicts_when_u_has_other_identities(store: &dyn Store) {
    owner_of(store, ("wxc", "oc", None), 1, NUMBER).await;
    // U has identities in A and B (joined by unionid).
    log_in(store, "wxa", "oa", Some("u1"), 2).await;
    let u = login_user(store, "wxb", "ob", Some("u1"), 3).await;
    assert_eq!(u.identities.len(), 2);
    assert_bind_conflicts(store, &u, "wxa", "oa", NUMBER).await;
    assert_eq!(store.user(u.id).await.expect("u"), Some(u));
}

async fn bind_conflicts_on_different_unionids(store: &dyn Store) {
    owner_of(store, ("wxb", "ob", Some("u-owner")), 1, NUMBER).await;
    let u = login_user(store, "wxa", "oa", Some("u-other"), 2).await;
    assert_bind_conflicts(store, &u, "wxa", "oa", NUMBER).await;
    let u_now = store.user(u.id).await.expect("u").expect("still there");
    assert_eq!(u_now.phone, None);
    assert_eq!(u_now.identities, vec![ident("wxa", "oa")]);
}

async fn bind_follows_the_identity_and_needs_one(store: &dyn Store) {
    let o = owner_of(store, ("wxb", "ob", None), 1, NUMBER).await;
    // No such identity: nothing to bind to, nothing written, whatever user id was named.
    let mut ghost = phone_write(&o, "wxa", "oa", NUMBER);
    ghost.user_id = UserId(12345);
    let before = stats(store).await;
    assert!(matches!(
        store.bind_phone(ghost).await,
        Err(StoreError::NotFound("identity"))
    ));
    let u = login_user(store, "wxa", "oa", None, 2).await;
    assert!(matches!(
        store
            .bind_phone(phone_write(&u, "wxa", "not-mine", NUMBER))
            .await,
        Err(StoreError::NotFound("identity"))
    ));
    assert_eq!(stats(store).await.0, before.0 + 1);
    assert_eq!(store.user(u.id).await.expect("u"), Some(u.clone()));
    // A wrong user id with a real identity: the identity's user is the one that binds.
    let mut misnamed = phone_write(&u, "wxa", "oa", "13900000000");
    misnamed.user_id = o.id;
    assert_eq!(
        bound(store.bind_phone(misnamed).await.expect("bind")).id,
        u.id
    );
}

on_every_store!(
    bind_free_number_then_rebind_is_idempotent,
    bind_conflicts_when_owner_has_identity_in_this_app,
    bind_joins_identity_and_sessions_into_owner,
    bind_join_keeps_owner_profile,
    bind_conflicts_when_u_has_other_identities,
    bind_conflicts_on_different_unionids,
    bind_follows_the_identity_and_needs_one,
);
