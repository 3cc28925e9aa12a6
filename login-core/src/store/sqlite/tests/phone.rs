//! Tests of phone binding: bind, rebind, join and the conflicts.

use super::*;

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
