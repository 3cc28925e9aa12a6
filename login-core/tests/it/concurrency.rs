//! Racing requests: concurrent first logins of one person make one user, one token refresh
//! serves concurrent callers, and the per-code and per-address limits hold.

use std::collections::HashSet;
use std::sync::Arc;
use std::time::Duration;

use login_core::wechat::TokenMode;
use mock_server::ids::AppId;
use serde_json::{Value, json};
use tokio::task::JoinSet;

use crate::helpers::*;

/// Sends every `(appid, code)` login at once; returns the answers in completion order.
async fn login_all(app: &Arc<TestApp>, logins: Vec<(Option<AppId>, String)>) -> Vec<Resp> {
    let mut set = JoinSet::new();
    for (appid, code) in logins {
        let app = app.clone();
        set.spawn(async move {
            match appid {
                Some(a) => app.login_code_in(a.as_str(), &code).await,
                None => app.login_code(&code).await,
            }
        });
    }
    let mut out = Vec::new();
    while let Some(r) = set.join_next().await {
        out.push(r.expect("the login task ran"));
    }
    out
}

/// `n` session checks with `token` at once; each must succeed.
async fn check_concurrently(app: &Arc<TestApp>, token: &str, n: usize) {
    let mut set = JoinSet::new();
    for _ in 0..n {
        let app = app.clone();
        let token = token.to_owned();
        set.spawn(async move { app.get("/api/session/check", Some(&token)).await });
    }
    while let Some(r) = set.join_next().await {
        r.expect("the check ran").ok();
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 8)]
async fn thirty_two_concurrent_first_logins_of_one_user_make_one_user() {
    thirty_two_first_logins(TestApp::new().await).await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 8)]
async fn thirty_two_concurrent_first_logins_of_one_user_make_one_user_on_postgres() {
    let test = "thirty_two_concurrent_first_logins_of_one_user_make_one_user_on_postgres";
    if let Some(app) = TestApp::on_postgres(test, Setup::default()).await {
        thirty_two_first_logins(app).await;
    }
}

async fn thirty_two_first_logins(app: TestApp) {
    let app = Arc::new(app);
    let mut codes = Vec::new();
    for _ in 0..32 {
        codes.push((None, app.wx_login("alice").await));
    }
    let distinct: HashSet<_> = codes.iter().map(|(_, c)| c.clone()).collect();
    assert_eq!(distinct.len(), 32);

    let answers = login_all(&app, codes).await;
    let mut ids = HashSet::new();
    let mut new = 0;
    let mut tokens = HashSet::new();
    for resp in &answers {
        let body = resp.ok();
        ids.insert(body["user"]["id"].clone());
        tokens.insert(body["token"].as_str().expect("token").to_owned());
        if body["user"]["is_new"] == true {
            new += 1;
        }
    }
    assert_eq!(ids.len(), 1, "every login found the same user: {ids:?}");
    assert_eq!(new, 1, "exactly one login created the user");
    assert_eq!(tokens.len(), 32);
    assert_eq!(app.counts().await, (1, 1, 32));
    assert_eq!(app.calls("jscode2session").await, 32);
    assert_eq!(
        app.metric("login_core_logins_total{result=\"new\"}").await,
        1.0
    );
    assert_eq!(
        app.metric("login_core_logins_total{result=\"returning\"}")
            .await,
        31.0
    );
    // Every token works and names the one user.
    for token in &tokens {
        assert!(ids.contains(&app.me(token).await["id"]));
    }
}

const SIBLING: &str = "wx00000000000000b2";

/// The default app and [`SIBLING`] on one open platform.
fn siblings() -> Setup {
    Setup {
        default_platform: Some("platform-1"),
        extra_apps: vec![sibling_app(SIBLING)],
        ..Setup::default()
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 8)]
async fn concurrent_first_logins_in_two_sibling_apps_make_one_user() {
    sibling_first_logins(TestApp::with(siblings()).await).await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 8)]
async fn concurrent_first_logins_in_two_sibling_apps_make_one_user_on_postgres() {
    let test = "concurrent_first_logins_in_two_sibling_apps_make_one_user_on_postgres";
    if let Some(app) = TestApp::on_postgres(test, siblings()).await {
        sibling_first_logins(app).await;
    }
}

async fn sibling_first_logins(app: TestApp) {
    let sibling = AppId::new(SIBLING);
    let app = Arc::new(app);
    let home = app.appid.clone();
    let mut logins = Vec::new();
    for _ in 0..8 {
        logins.push((Some(home.clone()), app.wx_login_in(&home, "alice").await));
        logins.push((
            Some(sibling.clone()),
            app.wx_login_in(&sibling, "alice").await,
        ));
    }
    let answers = login_all(&app, logins).await;
    let bodies: Vec<Value> = answers.iter().map(Resp::ok).collect();
    let ids: HashSet<_> = bodies.iter().map(|b| b["user"]["id"].clone()).collect();
    assert_eq!(ids.len(), 1, "one person, one user: {ids:?}");
    assert_eq!(
        bodies
            .iter()
            .filter(|b| b["user"]["is_new"] == true)
            .count(),
        1
    );
    assert_eq!(app.counts().await, (1, 2, 16));
    let me = app.me(&token_of(&bodies[0])).await;
    let mut apps = vec![home.as_str().to_owned(), sibling.as_str().to_owned()];
    apps.sort();
    assert_eq!(me["apps"], json!(apps));
}

#[tokio::test]
async fn the_same_code_four_times_is_rate_limited_on_the_fourth() {
    let app = TestApp::new().await;
    let code = app.wx_login("alice").await;
    app.login_code(&code).await.ok();
    app.login_code(&code).await.assert_error(400, "code_used");
    app.login_code(&code).await.assert_error(400, "code_used");
    let resp = app.login_code(&code).await;
    let message = resp.assert_error(429, "rate_limited");
    assert!(message.contains("code"), "{message}");
    let retry: u64 = resp
        .header("retry-after")
        .expect("Retry-After")
        .parse()
        .expect("seconds");
    assert!((1..=300).contains(&retry), "{retry}");
    assert_eq!(
        app.calls("jscode2session").await,
        3,
        "the 4th never reached WeChat"
    );
    // Other codes are not limited.
    app.login("alice").await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn the_same_code_four_times_at_once_is_one_login_two_used_one_limited() {
    let app = Arc::new(TestApp::new().await);
    let code = app.wx_login("alice").await;
    let answers = login_all(&app, vec![(None, code.clone()); 4]).await;
    let mut outcomes: Vec<(u16, String)> = answers
        .iter()
        .map(|r| {
            let v = r.json();
            let code = v["error"]["code"].as_str().unwrap_or("ok").to_owned();
            (r.status, code)
        })
        .collect();
    outcomes.sort();
    assert_eq!(
        outcomes,
        [
            (200, "ok".to_owned()),
            (400, "code_used".to_owned()),
            (400, "code_used".to_owned()),
            (429, "rate_limited".to_owned()),
        ]
    );
    assert_eq!(app.calls("jscode2session").await, 3);
    let (users, _, sessions) = app.counts().await;
    assert_eq!((users, sessions), (1, 1));
}

#[tokio::test]
async fn the_per_code_limit_covers_the_codes_whole_life() {
    let app = TestApp::new().await;
    // Start three seconds before a multiple of five minutes of Unix time, so that the
    // attempts below straddle it.
    let to_boundary = seconds_to_next(app.mock.clock().now().millis(), 300);
    app.advance(Duration::from_secs((to_boundary + 300 - 3) % 300));
    let first_use = app.mock.clock().now().secs();
    let code = app.wx_login("alice").await;
    app.login_code(&code).await.ok();
    app.login_code(&code).await.assert_error(400, "code_used");
    app.login_code(&code).await.assert_error(400, "code_used");
    // The code lives five minutes; a few seconds later it is still the same code, and its
    // three attempts are spent (whatever wall-clock window boundary lies in between).
    for _ in 0..3 {
        app.advance(Duration::from_secs(2));
        let resp = app.login_code(&code).await;
        assert_eq!(
            resp.status,
            429,
            "attempt with a code already tried 3 times, {} s after its first use: {}",
            app.mock.clock().now().secs() - first_use,
            resp.text
        );
        resp.assert_error(429, "rate_limited");
    }
    assert_eq!(app.calls("jscode2session").await, 3);
}

#[tokio::test]
async fn the_per_address_limit_answers_429_until_the_minute_ends() {
    let app = TestApp::configured(|c| c.limits.logins_per_address_per_minute = 5).await;
    // Somewhere inside a minute.
    app.advance(Duration::from_secs(30));
    for user in ["a", "b", "c", "d", "e"] {
        app.login(user).await;
    }
    let code = app.wx_login("f").await;
    let resp = app.login_code(&code).await;
    let message = resp.assert_error(429, "rate_limited");
    assert!(message.contains("address"), "{message}");
    let expected = seconds_to_next(app.mock.clock().now().millis(), 60);
    assert_eq!(resp.header("retry-after"), Some(expected.to_string()));
    assert_eq!(
        app.calls("jscode2session").await,
        5,
        "the 6th never reached WeChat"
    );
    assert_eq!(app.stats().await.users, 5);

    // Any other login from the same address waits too.
    app.try_login("g").await.assert_error(429, "rate_limited");

    app.advance(Duration::from_secs(60));
    let (_, body) = app.login("f").await;
    assert_eq!(body["user"]["is_new"], true);
    // The code refused by the limiter was not spent either.
    app.login_code(&code).await.ok();
    assert_eq!(app.stats().await.users, 6);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 8)]
async fn concurrent_callers_share_one_access_token_fetch() {
    for mode in [TokenMode::Plain, TokenMode::Stable] {
        let app = Arc::new(TestApp::configured(move |c| c.upstream.access_token = mode).await);
        let (token, _) = app.login("alice").await;
        check_concurrently(&app, &token, 16).await;
        let fetched = app.calls("token").await + app.calls("stable_token").await;
        assert_eq!(fetched, 1, "{mode:?}: one fetch for 16 callers");
        assert_eq!(app.calls("checksession").await, 16);
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 8)]
async fn a_token_voided_elsewhere_is_replaced_once_for_all_concurrent_callers() {
    let app = Arc::new(TestApp::new().await);
    let (token, _) = app.login("alice").await;
    app.check(&token).await;
    assert_eq!(app.calls("token").await, 1);

    // Someone else asks cgi-bin/token for the same app: login-core's token is void five
    // minutes later (plain mode's hazard).
    let default_app = app.mock.default_app();
    let elsewhere = reqwest::get(format!(
        "{}/cgi-bin/token?grant_type=client_credential&appid={}&secret={}",
        app.mock.base_url(),
        default_app.appid,
        default_app.secret
    ))
    .await
    .expect("token request")
    .text()
    .await
    .expect("body");
    assert!(elsewhere.contains("access_token"), "{elsewhere}");
    app.advance(Duration::from_secs(301));

    check_concurrently(&app, &token, 16).await;
    // One fetch before, one by the test, one refresh for all sixteen callers.
    assert_eq!(app.calls("token").await, 3);
    let rejected = app
        .journal_entries("endpoint=checksession&errcode=40001")
        .await;
    assert!(
        !rejected.is_empty() && rejected.len() <= 16,
        "{}",
        rejected.len()
    );
    assert_eq!(
        app.journal_entries("endpoint=checksession&errcode=0")
            .await
            .len(),
        1 + 16
    );
}
