//! Tests of sessions: renewal, rotation, revocation and purging.

use super::*;

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
async fn purge_uses_the_indexes() {
    let (store, _dir) = file_store().await;
    let plan: Vec<(i64, i64, i64, String)> = sqlx::query_as(
        "EXPLAIN QUERY PLAN DELETE FROM sessions WHERE revoked_at < ?1 \
         OR min(expires_at, absolute_expires_at) < ?1",
    )
    .bind(T0.0)
    .fetch_all(&store.writer)
    .await
    .expect("plan");
    let plan: Vec<String> = plan.into_iter().map(|(_, _, _, detail)| detail).collect();
    assert!(plan.iter().any(|d| d.contains("sessions_end")), "{plan:?}");
    assert!(
        plan.iter().any(|d| d.contains("sessions_revoked")),
        "{plan:?}"
    );
}
