//! Several login-core instances on one PostgreSQL database (in process, one mock, one clock):
//! sessions, tokens and limits are the database's, so what one instance does every other sees
//! at once; one access token per app for all of them, refreshed by one; readiness that says
//! when the database does not answer. Skipped, saying so, without `LOGIN_CORE_TEST_POSTGRES`.

use std::time::Duration;

use futures_util::future::join_all;
use login_core::LoginCoreHandle;
use login_core::config::Config;
use login_core::store::redis::testing::TestCounters;
use login_core::wechat::TokenMode;
use serde_json::{Value, json};

use crate::helpers::*;

/// Instance 0 is the test app's own core; the others share its database, server key file, mock
/// and clock, each with randomness of its own.
struct Cluster {
    app: TestApp,
    others: Vec<LoginCoreHandle>,
}

impl Cluster {
    async fn start(
        test: &str,
        instances: usize,
        configure: impl Fn(&mut Config) + Clone + Send + 'static,
    ) -> Option<Cluster> {
        let first = configure.clone();
        let app = TestApp::on_postgres(
            test,
            Setup {
                configure: Box::new(move |c: &mut Config| {
                    c.instance_id = Some("core-0".into());
                    first(c);
                }),
                ..Setup::default()
            },
        )
        .await?;
        let url = app.schema().expect("on PostgreSQL").url();
        let mut others = Vec::new();
        for i in 1..instances {
            let configure = configure.clone();
            let core = start_core(
                &app.mock,
                app.data_dir(),
                &url,
                100 + i as u64,
                app.outbox.clone(),
                move |c: &mut Config| {
                    c.instance_id = Some(format!("core-{i}"));
                    configure(c);
                },
            )
            .await;
            others.push(core);
        }
        Some(Cluster { app, others })
    }

    fn base(&self, i: usize) -> String {
        match i {
            0 => self.app.core.base_url(),
            i => self.others[i - 1].base_url(),
        }
    }

    fn len(&self) -> usize {
        self.others.len() + 1
    }

    async fn call(
        &self,
        i: usize,
        method: reqwest::Method,
        path: &str,
        token: Option<&str>,
        body: Option<Value>,
    ) -> Resp {
        let mut req = self
            .app
            .http
            .request(method, format!("{}{path}", self.base(i)));
        if let Some(t) = token {
            req = req.bearer_auth(t);
        }
        if let Some(b) = body {
            req = req.json(&b);
        }
        self.app.send(req).await
    }

    async fn get(&self, i: usize, path: &str, token: Option<&str>) -> Resp {
        self.call(i, reqwest::Method::GET, path, token, None).await
    }

    async fn login(&self, i: usize, user: &str) -> (String, Value) {
        let code = self.app.wx_login(user).await;
        let body = self
            .call(
                i,
                reqwest::Method::POST,
                "/api/login",
                None,
                Some(json!({ "code": code })),
            )
            .await
            .ok();
        (token_of(&body), body)
    }

    /// The bodies the mock's `stable_token` received, oldest first.
    async fn stable_token_bodies(&self) -> Vec<Value> {
        self.app
            .journal_entries("endpoint=stable_token")
            .await
            .iter()
            .map(|e| serde_json::from_str(&e.body).expect("JSON body"))
            .collect()
    }
}

fn stable(c: &mut Config) {
    c.upstream.access_token = TokenMode::Stable;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn a_session_opened_on_one_instance_is_refreshed_and_revoked_on_all() {
    let test = "cluster::a_session_opened_on_one_instance_is_refreshed_and_revoked_on_all";
    let Some(c) = Cluster::start(test, 3, |_| {}).await else {
        return;
    };
    let (token, login) = c.login(0, "alice").await;
    for i in 0..3 {
        assert_eq!(
            c.get(i, "/api/me", Some(&token)).await.ok()["id"],
            login["user"]["id"]
        );
    }
    // A refresh on B: the old token stops working on A and C at once, the new one works there.
    let fresh = c
        .call(
            1,
            reqwest::Method::POST,
            "/api/session/refresh",
            Some(&token),
            None,
        )
        .await
        .ok();
    let fresh = token_of(&fresh);
    for i in [0, 2] {
        c.get(i, "/api/me", Some(&token))
            .await
            .assert_error(401, "login_required");
        c.get(i, "/api/me", Some(&fresh)).await.ok();
    }
    // A logout on C is seen by A and B.
    let out = c
        .call(2, reqwest::Method::POST, "/api/logout", Some(&fresh), None)
        .await;
    assert_eq!(out.status, 204, "{}", out.text);
    for i in 0..3 {
        c.get(i, "/api/me", Some(&fresh))
            .await
            .assert_error(401, "login_required");
    }
    // The same person logging in on another instance is the same user.
    let (_, again) = c.login(2, "alice").await;
    assert_eq!(again["user"]["id"], login["user"]["id"]);
    assert_eq!(again["user"]["is_new"], false);
    // Each instance's metrics carry its name.
    for i in 0..3 {
        let text = c.get(i, "/metrics", None).await.text;
        let line = text
            .lines()
            .find(|l| l.starts_with("login_core_http_requests_total{"))
            .expect("a request series");
        assert!(
            line.contains(&format!("instance_id=\"core-{i}\"")),
            "{line}"
        );
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn instances_needing_a_token_at_once_make_one_token_call() {
    let test = "cluster::instances_needing_a_token_at_once_make_one_token_call";
    let Some(c) = Cluster::start(test, 3, stable).await else {
        return;
    };
    let mut tokens = Vec::new();
    for k in 0..9 {
        tokens.push(c.login(k % 3, &format!("user{k}")).await.0);
    }
    // WeChat is slow to hand out the first token: every instance needs one meanwhile.
    c.app
        .fault(json!({"endpoint": "stable_token", "delay": "300ms", "times": 1}))
        .await;
    let checks = join_all(
        tokens
            .iter()
            .enumerate()
            .map(|(k, t)| c.get((k + 1) % 3, "/api/session/check", Some(t))),
    )
    .await;
    for r in &checks {
        assert_eq!(r.ok()["valid"], true);
    }
    let bodies = c.stable_token_bodies().await;
    assert_eq!(
        bodies.len(),
        1,
        "one token call for three instances: {bodies:?}"
    );
    assert_eq!(bodies[0]["force_refresh"], false);

    // Another system forces a new token: WeChat voids the one the instances share.
    let app = c.app.mock.default_app();
    let forced = reqwest::Client::new()
        .post(format!("{}/cgi-bin/stable_token", c.app.mock.base_url()))
        .json(&json!({
            "grant_type": "client_credential",
            "appid": app.appid.as_str(),
            "secret": app.secret.as_str(),
            "force_refresh": true
        }))
        .send()
        .await
        .expect("forced");
    assert_eq!(forced.status(), 200);
    // Past WeChat's 30 s guard between two forced refreshes.
    c.app.advance(Duration::from_secs(31));
    let checks = join_all(
        tokens
            .iter()
            .enumerate()
            .map(|(k, t)| c.get(k % 3, "/api/session/check", Some(t))),
    )
    .await;
    for r in &checks {
        assert_eq!(r.ok()["valid"], true);
    }
    // Every instance met 40001 with the same generation; one of them forced a new token, the
    // others found it in the row.
    let bodies = c.stable_token_bodies().await;
    let forced: Vec<&Value> = bodies[2..].iter().collect();
    assert_eq!(bodies.len(), 3, "{bodies:?}");
    assert_eq!(forced[0]["force_refresh"], true, "{bodies:?}");
    let rejected = c
        .app
        .journal_entries("endpoint=checksession&errcode=40001")
        .await
        .len();
    assert!((1..=9).contains(&rejected), "{rejected} rejections");
    // And the shared token keeps working everywhere, with no further token call.
    for (k, t) in tokens.iter().enumerate() {
        c.get(k % 3, "/api/session/check", Some(t)).await.ok();
    }
    assert_eq!(c.stable_token_bodies().await.len(), 3);
    // The row holds the token sealed, never in clear.
    let mut conn = c.app.schema().expect("postgres").connect().await;
    let (sealed, generation): (Vec<u8>, i64) =
        sqlx::query_as("SELECT sealed_token, generation FROM access_tokens")
            .fetch_one(&mut conn)
            .await
            .expect("one row");
    assert_eq!(generation, 2);
    let last = c.app.journal_entries("endpoint=checksession").await;
    let used = last.last().expect("a check").params["access_token"]
        .as_str()
        .expect("a token")
        .to_owned();
    assert!(!sealed.windows(16).any(|w| w == &used.as_bytes()[..16]));
}

/// Where a cluster's test keeps the limits' counters: in the database, or in Redis under a
/// prefix of the test's own (deleted afterwards).
async fn counters_for(test: &str, in_redis: bool) -> Option<Option<TestCounters>> {
    if !in_redis {
        return Some(None);
    }
    Some(Some(TestCounters::create(test).await?))
}

/// `configure`, with the counters in Redis when `counters` says so.
fn with_counters(
    counters: &Option<TestCounters>,
    configure: impl Fn(&mut Config) + Clone + Send + 'static,
) -> impl Fn(&mut Config) + Clone + Send + 'static {
    let redis = counters.as_ref().map(|t| (t.url.clone(), t.prefix.clone()));
    move |c: &mut Config| {
        if let Some((url, prefix)) = &redis {
            c.limits.counters_url = Some(url.clone());
            c.limits.counters_prefix.clone_from(prefix);
        }
        configure(c);
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn one_code_raced_across_instances_logs_in_once_and_its_attempts_are_counted_once() {
    one_code_raced_across_instances("cluster::one_code_raced_across_instances", false).await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn one_code_raced_across_instances_is_counted_once_with_the_counters_in_redis() {
    one_code_raced_across_instances("cluster::one_code_raced_across_instances_redis", true).await;
}

async fn one_code_raced_across_instances(test: &str, in_redis: bool) {
    let Some(counters) = counters_for(test, in_redis).await else {
        return;
    };
    let Some(c) = Cluster::start(test, 3, with_counters(&counters, |_| {})).await else {
        return;
    };
    let code = c.app.wx_login("alice").await;
    let answers = join_all((0..9).map(|k| {
        c.call(
            k % 3,
            reqwest::Method::POST,
            "/api/login",
            None,
            Some(json!({ "code": code })),
        )
    }))
    .await;
    let mut codes: Vec<String> = answers
        .iter()
        .map(|r| match r.status {
            200 => "ok".to_owned(),
            _ => r.json()["error"]["code"].as_str().expect("code").to_owned(),
        })
        .collect();
    codes.sort();
    // attempts_per_code = 3 for all instances together: three reach WeChat (one wins, two
    // find the code used), six are refused before.
    let mut want = vec!["code_used", "code_used", "ok"];
    want.extend(["rate_limited"; 6]);
    want.sort_unstable();
    assert_eq!(codes, want);
    assert_eq!(c.app.calls("jscode2session").await, 3);
    assert_eq!(c.app.stats().await.users, 1);
    if let Some(t) = &counters {
        // The per-address and the per-code windows: in Redis, not in the database.
        assert_eq!(t.counters.delete_all().await.expect("deletes"), 2);
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn the_per_address_limit_is_one_limit_for_all_instances() {
    per_address_limit(
        "cluster::the_per_address_limit_is_one_limit_for_all_instances",
        false,
    )
    .await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn the_per_address_limit_is_one_limit_for_all_instances_with_the_counters_in_redis() {
    per_address_limit("cluster::the_per_address_limit_redis", true).await;
}

async fn per_address_limit(test: &str, in_redis: bool) {
    let Some(counters) = counters_for(test, in_redis).await else {
        return;
    };
    let configure = with_counters(&counters, |c| c.limits.logins_per_address_per_minute = 4);
    let Some(c) = Cluster::start(test, 3, configure).await else {
        return;
    };
    // Start at the top of a minute, so that the window does not end midway.
    let now = c.app.mock.clock().now().millis();
    c.app.advance(Duration::from_millis(
        u64::try_from(60_000 - now.rem_euclid(60_000)).expect("positive"),
    ));
    for k in 0..4 {
        c.login(k % c.len(), &format!("user{k}")).await;
    }
    for i in 0..3 {
        let code = c.app.wx_login("late").await;
        let r = c
            .call(
                i,
                reqwest::Method::POST,
                "/api/login",
                None,
                Some(json!({ "code": code })),
            )
            .await;
        let message = r.assert_error(429, "rate_limited");
        assert!(message.contains("address"), "{message}");
        assert_eq!(r.header("retry-after").as_deref(), Some("60"));
    }
    c.app.advance(Duration::from_secs(60));
    c.login(2, "late").await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn readiness_fails_fast_when_the_database_does_not_answer() {
    let test = "cluster::readiness_fails_fast_when_the_database_does_not_answer";
    let Some(c) = Cluster::start(test, 1, |c| {
        c.database.max_connections = Some(1);
        c.database.ping_timeout = Duration::from_millis(200);
    })
    .await
    else {
        return;
    };
    assert_eq!(c.get(0, "/readyz", None).await.status, 200);
    let schema = c.app.schema().expect("postgres");
    // A login holds the instance's only connection, waiting for a table a test holds.
    let mut holder = schema.connect().await;
    sqlx::raw_sql("BEGIN; LOCK TABLE sessions IN ACCESS EXCLUSIVE MODE;")
        .execute(&mut holder)
        .await
        .expect("lock");
    let code = c.app.wx_login("bob").await;
    let url = format!("{}/api/login", c.base(0));
    let pending = tokio::spawn(async move {
        reqwest::Client::new()
            .post(url)
            .json(&json!({ "code": code }))
            .send()
            .await
            .map(|r| r.status().as_u16())
    });
    let mut observer = schema.connect().await;
    assert!(
        schema
            .waits_for_a_lock(&mut observer, Duration::from_secs(5))
            .await
    );
    let started = std::time::Instant::now();
    let r = c.get(0, "/readyz", None).await;
    assert_eq!(r.status, 503, "{}", r.text);
    assert!(
        started.elapsed() < Duration::from_secs(2),
        "{:?}",
        started.elapsed()
    );
    sqlx::raw_sql("COMMIT")
        .execute(&mut holder)
        .await
        .expect("unlock");
    assert_eq!(pending.await.expect("ran").expect("answered"), 200);
    assert_eq!(c.get(0, "/readyz", None).await.status, 200);
}
