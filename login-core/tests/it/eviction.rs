//! Eviction: sessions that ended (logged out, refreshed away, expired) are deleted by
//! `Services::purge_sessions` a day after they end, on the virtual clock, so the sessions table
//! stays bounded by the sessions of the last day plus the live ones; users and identities stay.

use std::time::Duration;

use serde_json::json;

use crate::helpers::*;

const DAY: Duration = Duration::from_secs(86_400);

/// A login-core without the per-address limit: every test login comes from 127.0.0.1 within
/// one frozen minute.
async fn unlimited() -> TestApp {
    TestApp::configured(|c| c.limits.logins_per_address_per_minute = 0).await
}

async fn purge(app: &TestApp) -> u64 {
    app.core
        .services()
        .purge_sessions()
        .await
        .expect("purge runs")
}

#[tokio::test]
async fn ended_sessions_are_purged_a_day_after_they_end() {
    let app = unlimited().await;
    let (a, _) = app.login("alice").await;
    let (b, _) = app.login("bob").await;
    let (c, _) = app.login("carol").await;
    let r = app.post("/api/logout", Some(&a), json!({})).await;
    assert_eq!(r.status, 204, "{}", r.text);
    let b2 = token_of(&app.refresh(&b).await.ok());
    assert_eq!(app.counts().await, (3, 3, 4));

    // Ended less than a day ago: kept.
    assert_eq!(purge(&app).await, 0);
    app.advance(DAY + Duration::from_secs(1));
    // The logged-out session and the one the refresh replaced go; the live ones stay and work.
    assert_eq!(purge(&app).await, 2);
    assert_eq!(app.counts().await, (3, 3, 2));
    app.me(&b2).await;
    app.me(&c).await;

    // Idle past their 7-day lifetime, and a day more: gone too. Users and identities stay.
    app.advance(8 * DAY + Duration::from_secs(1));
    assert_eq!(purge(&app).await, 2);
    assert_eq!(app.counts().await, (3, 3, 0));
    for token in [&a, &b, &b2, &c] {
        app.get("/api/me", Some(token))
            .await
            .assert_error(401, "login_required");
    }
    // Nothing left to purge; a new login works as before.
    assert_eq!(purge(&app).await, 0);
    let (again, _) = app.login("alice").await;
    app.me(&again).await;
    assert_eq!(app.counts().await, (3, 3, 1));
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn many_expired_sessions_are_purged() {
    const USERS: usize = 20;
    const LOGINS: usize = 10;
    let app = unlimited().await;
    for i in 0..USERS {
        for _ in 0..LOGINS {
            app.login(&format!("u{i}")).await;
        }
    }
    let n = u64::try_from(USERS * LOGINS).expect("count");
    let users = u64::try_from(USERS).expect("count");
    assert_eq!(app.counts().await, (users, users, n));
    // Sessions last 7 idle days; purged a day after they end.
    app.advance(8 * DAY + Duration::from_secs(1));
    assert_eq!(purge(&app).await, n);
    assert_eq!(app.counts().await, (users, users, 0));
}
