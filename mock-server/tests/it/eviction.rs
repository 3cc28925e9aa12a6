//! Tests: long runs keep bounded memory. Expired login codes, phone codes, access tokens and quota
//! windows are swept on the virtual clock (no sleeps), and the journal is capped and says how
//! much it dropped.

use std::sync::Arc;
use std::time::Duration;

use mock_server::engine::{CODE_TTL, TOKEN_TTL};
use reqwest::Method;
use serde_json::{Value, json};

use crate::helpers::TestMock;

/// The engine sweeps at most once per minute of virtual time.
const SWEEP_EVERY: Duration = Duration::from_secs(60);
/// How long the mock remembers an expired access token (so it answers 42001, not 40001).
const REMEMBER_EXPIRED: Duration = Duration::from_secs(86_400);

/// `counts` of `GET /__mock__/state`.
async fn counts(t: &TestMock) -> Value {
    let (status, state) = t.control(Method::GET, "/state", None).await;
    assert_eq!(status, 200, "{state}");
    state["counts"].clone()
}

/// The count of `what` in `GET /__mock__/state`.
async fn count(t: &TestMock, what: &str) -> u64 {
    counts(t).await[what]
        .as_u64()
        .unwrap_or_else(|| panic!("no count `{what}`"))
}

/// `per_user` wx.login codes for each of `users` users (`u0`, `u1`, ...), users in parallel;
/// returns each user's codes in order.
async fn mint_codes(t: &Arc<TestMock>, users: usize, per_user: usize) -> Vec<Vec<String>> {
    let tasks: Vec<_> = (0..users)
        .map(|i| {
            let t = t.clone();
            tokio::spawn(async move {
                let mut codes = Vec::with_capacity(per_user);
                for _ in 0..per_user {
                    codes.push(t.login(&format!("u{i}")).await.code);
                }
                codes
            })
        })
        .collect();
    let mut out = Vec::with_capacity(users);
    for task in tasks {
        out.push(task.await.expect("task completes"));
    }
    out
}

/// `GET /wxa/checksession` with `token`: the token check comes first, so its errcode tells
/// whether the mock still knows the token.
async fn token_errcode(t: &TestMock, token: &str) -> i64 {
    t.get(&format!(
        "/wxa/checksession?access_token={token}&openid=o&signature=s&sig_method=hmac_sha256"
    ))
    .await
    .errcode()
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn ten_thousand_expired_login_codes_are_evicted() {
    let t = Arc::new(TestMock::new().await);
    let codes = mint_codes(&t, 100, 100).await;
    assert_eq!(count(&t, "login_codes").await, 10_000);
    assert_eq!(count(&t, "sessions").await, 100);
    // One exchange per user: a used code is kept until it expires, so a reuse says 40163.
    for user_codes in &codes {
        let r = t.exchange(&user_codes[0]).await;
        assert_eq!(r.errcode(), 0, "{}", r.body);
    }

    // A second before the codes expire a sweep runs (wx.login triggers it) and keeps them all.
    t.advance(CODE_TTL - Duration::from_secs(1));
    t.login("u0").await;
    assert_eq!(count(&t, "login_codes").await, 10_001);
    t.exchange(&codes[0][0]).await.assert_err(40163);

    // Past their expiry and the next sweep, only the code minted since is left.
    t.advance(SWEEP_EVERY + Duration::from_secs(1));
    let fresh = t.login("u0").await;
    assert_eq!(count(&t, "login_codes").await, 2);
    // An evicted code answers what an expired one answers: 40029, used or not.
    t.exchange(&codes[0][0]).await.assert_err(40029);
    t.exchange(&codes[99][99]).await.assert_err(40029);
    let r = t.exchange(&fresh.code).await;
    assert_eq!(r.errcode(), 0, "{}", r.body);
    // The users' session keys are directory data: one per (app, user), kept.
    assert_eq!(count(&t, "sessions").await, 100);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn quota_windows_of_past_minutes_are_evicted() {
    let t = Arc::new(TestMock::new().await);
    let codes = mint_codes(&t, 200, 1).await;
    for user_codes in &codes {
        let r = t.exchange(&user_codes[0]).await;
        assert_eq!(r.errcode(), 0, "{}", r.body);
    }
    assert_eq!(count(&t, "quota_windows").await, 200);

    // The next minute's first wx.login sweeps the past minute's windows.
    t.advance(SWEEP_EVERY);
    let grant = t.login("u0").await;
    assert_eq!(count(&t, "quota_windows").await, 0);
    let r = t.exchange(&grant.code).await;
    assert_eq!(r.errcode(), 0, "{}", r.body);
    assert_eq!(count(&t, "quota_windows").await, 1);

    // App-wide windows too: unknown codes are counted against the app, one window per app.
    t.set_options(json!({"quota_scope": "app"})).await;
    for i in 0..50 {
        t.exchange(&format!("nosuchcode{i}"))
            .await
            .assert_err(40029);
    }
    assert_eq!(count(&t, "quota_windows").await, 2);
    t.advance(SWEEP_EVERY);
    t.login("u0").await;
    assert_eq!(count(&t, "quota_windows").await, 0);
}

#[tokio::test]
async fn expired_access_tokens_are_remembered_a_day_then_evicted() {
    let t = TestMock::new().await;
    let mut tokens = Vec::new();
    for _ in 0..1000 {
        tokens.push(t.token().await);
    }
    assert_eq!(count(&t, "access_tokens").await, 1000);

    // Expired, and remembered so they answer 42001 rather than 40001.
    t.advance(TOKEN_TTL + Duration::from_secs(1));
    t.login("u0").await;
    assert_eq!(count(&t, "access_tokens").await, 1000);
    assert_eq!(token_errcode(&t, &tokens[999]).await, 42001);

    // A day later they are forgotten: an unknown token is 40001.
    t.advance(REMEMBER_EXPIRED);
    t.login("u0").await;
    assert_eq!(count(&t, "access_tokens").await, 0);
    assert_eq!(token_errcode(&t, &tokens[0]).await, 40001);
    assert_eq!(token_errcode(&t, &tokens[999]).await, 40001);
}

/// Token traffic alone (a backend's token refresher, with no wx.login in between) should sweep
/// too: today only the control plane's wx.login, getPhoneNumber and open-data calls run the
/// sweep (`engine::maybe_sweep`), so `Tokens::tokens` grows by one entry per `cgi-bin/token`.
#[tokio::test]
async fn token_traffic_alone_evicts_old_tokens() {
    let t = TestMock::new().await;
    for _ in 0..100 {
        t.token().await;
    }
    t.advance(TOKEN_TTL + REMEMBER_EXPIRED + SWEEP_EVERY);
    for _ in 0..100 {
        t.token().await;
    }
    assert_eq!(count(&t, "access_tokens").await, 100);
}

#[tokio::test]
async fn expired_phone_codes_are_evicted() {
    let t = TestMock::new().await;
    let mut codes = Vec::new();
    for i in 0..500 {
        codes.push(t.phone_code(&format!("u{}", i % 10)).await.code);
    }
    assert_eq!(count(&t, "phone_codes").await, 500);
    t.advance(CODE_TTL + SWEEP_EVERY);
    t.phone_code("u0").await;
    assert_eq!(count(&t, "phone_codes").await, 1);
}

#[tokio::test]
async fn a_long_run_keeps_only_the_newest_journal_entries_and_counts_the_rest() {
    const CAPACITY: u64 = 100;
    const REQUESTS: u64 = 2_000;
    let t = TestMock::new().await;
    t.set_options(json!({"journal_capacity": CAPACITY})).await;
    for i in 0..REQUESTS {
        t.get(&format!("/no/such/path?i={i}"))
            .await
            .assert_err(40066);
    }
    let (status, page) = t.control(Method::GET, "/journal", None).await;
    assert_eq!(status, 200, "{page}");
    assert_eq!(page["capacity"], CAPACITY);
    assert_eq!(page["recorded"], REQUESTS);
    assert_eq!(page["dropped"], REQUESTS - CAPACITY);
    let entries = page["entries"].as_array().expect("entries");
    let seqs: Vec<u64> = entries
        .iter()
        .map(|e| e["seq"].as_u64().expect("seq"))
        .collect();
    assert_eq!(
        seqs,
        (REQUESTS - CAPACITY + 1..=REQUESTS).collect::<Vec<_>>(),
        "the newest entries, oldest first"
    );
    assert_eq!(entries[0]["params"]["i"], (REQUESTS - CAPACITY).to_string());
}
