//! Tests of sessions: renewal, rotation, revocation and purging.

use super::*;

/// Renews the session of token `n` to end at `expires_at` (at most at its absolute end).
async fn renew(store: &dyn Store, n: u8, expires_at: UnixMs) {
    store
        .renew_session(&hash(n), expires_at)
        .await
        .expect("renew");
}

/// Rotates the session of token `old` to a new one of token `new` at `now`; whether it did.
async fn rotate(store: &dyn Store, old: u8, new: u8, now: UnixMs) -> bool {
    store
        .rotate_session(&hash(old), new_session(new, now), now)
        .await
        .expect("rotate")
}

/// Revokes the session of token `n` at `now`; whether it did.
async fn revoke(store: &dyn Store, n: u8, now: UnixMs) -> bool {
    store.revoke_session(&hash(n), now).await.expect("revoke")
}

async fn sessions_renew_clamped_rotate_and_revoke(store: &dyn Store) {
    log_in(store, "wxa", "o1", None, 1).await;
    let abs = at(24 * HOUR);

    renew(store, 1, at(2 * HOUR)).await;
    assert_eq!(session(store, 1).await.expires_at, at(2 * HOUR));

    // Never beyond the absolute end.
    renew(store, 1, at(100 * HOUR)).await;
    assert_eq!(session(store, 1).await.expires_at, abs);

    // Rotate: old revoked at now, new one for the same identity.
    let now = at(HOUR);
    assert!(rotate(store, 1, 2, now).await);
    let old = session(store, 1).await;
    assert_eq!(old.revoked_at, Some(now));
    let new = session(store, 2).await;
    assert_eq!((new.user_id, new.revoked_at), (old.user_id, None));
    assert_eq!((&new.appid, &new.openid), (&old.appid, &old.openid));
    assert_eq!(new.created_at, now);

    // A revoked session stays revoked: no renewal, no rotation, no second revoke.
    let before = stats(store).await;
    renew(store, 1, at(3 * HOUR)).await;
    assert_eq!(session(store, 1).await, old);
    assert!(!rotate(store, 1, 3, now).await);
    assert!(!has_session(store, 3).await);
    assert_eq!(stats(store).await, before);
    assert!(!revoke(store, 1, now).await);
    assert!(!revoke(store, 9, now).await);

    // Revoke the active one once.
    let later = UnixMs(now.0 + 1);
    assert!(revoke(store, 2, later).await);
    assert!(!revoke(store, 2, later).await);
    assert_eq!(session(store, 2).await.revoked_at, Some(later));
}

async fn expired_sessions_cannot_be_rotated_or_revoked(store: &dyn Store) {
    log_in(store, "wxa", "o1", None, 1).await;
    let after = at(HOUR); // expires_at == now: no longer active
    assert!(!rotate(store, 1, 2, after).await);
    assert!(!revoke(store, 1, after).await);
    assert_eq!(session(store, 1).await.revoked_at, None);
    assert_eq!(stats(store).await, (1, 1, 1));
}

async fn purge_deletes_ended_sessions_only(store: &dyn Store) {
    // 1: revoked at T0+1h. 2: expires at T0+1h. 3: absolute end at T0+2h. 4: active.
    log_in(store, "wxa", "o1", None, 1).await;
    log_in(store, "wxa", "o1", None, 2).await;
    let mut w = login("wxa", "o1", None, 3, T0);
    w.session.expires_at = at(10 * HOUR);
    w.session.absolute_expires_at = at(2 * HOUR);
    record(store, w).await;
    let mut w = login("wxa", "o1", None, 4, T0);
    w.session.expires_at = at(10 * HOUR);
    record(store, w).await;
    assert!(revoke(store, 1, at(1)).await);

    assert_eq!(store.purge_sessions(T0).await.expect("purge"), 0);
    assert_eq!(
        store.purge_sessions(at(2 * HOUR + 1)).await.expect("purge"),
        3
    );
    for gone in [1, 2, 3] {
        assert!(!has_session(store, gone).await);
    }
    assert!(has_session(store, 4).await);
    assert_eq!(stats(store).await, (1, 1, 1));
}

on_every_store!(
    sessions_renew_clamped_rotate_and_revoke,
    expired_sessions_cannot_be_rotated_or_revoked,
    purge_deletes_ended_sessions_only,
);
