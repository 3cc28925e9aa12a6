//! Clusters of login-core processes (`harness instance`, as `harness up --instances` starts
//! them) on one PostgreSQL schema behind the harness's round-robin proxy, against one mock on
//! the system clock: what holds when several instances serve one app at once, and when one of
//! them is killed mid-login. Skipped, saying so, without `LOGIN_CORE_TEST_POSTGRES`.

use std::collections::{BTreeMap, BTreeSet};
use std::sync::Arc;

use futures_util::future::join_all;
use harness::cluster::processes::Processes;
use harness::cluster::proxy::INSTANCE_HEADER;
use mock_server::MockHandle;
use mock_server::faults::FaultSpec;
use serde_json::{Value, json};

const HARNESS: &str = env!("CARGO_BIN_EXE_harness");

/// A mock and `n` instances behind a proxy; `None` (after saying so) when the tests are
/// skipped.
async fn cluster(test: &str, n: u32) -> Option<(MockHandle, Processes)> {
    cluster_counting_in(test, n, None).await
}

/// As [`cluster`], the limits counted in the Redis at `counters` when given.
async fn cluster_counting_in(
    test: &str,
    n: u32,
    counters: Option<&str>,
) -> Option<(MockHandle, Processes)> {
    let server = match harness::cluster::test_server() {
        Ok(Some(server)) => server,
        Ok(None) => {
            eprintln!("skipped {test}: {}", harness::cluster::skip_reason());
            return None;
        }
        Err(e) => panic!("{e}"),
    };
    let mock = mock_server::spawn(mock_server::Config {
        seed: "cluster".into(),
        ..mock_server::Config::default()
    })
    .await
    .expect("mock starts");
    let processes = Processes::start(
        std::path::Path::new(HARNESS),
        &mock.base_url(),
        &server,
        counters,
        n,
        "127.0.0.1:0".parse().expect("addr"),
    )
    .await
    .expect("the instances start");
    Some((mock, processes))
}

/// An answer: status, the instance that gave it, the body.
#[derive(Debug)]
struct Answer {
    status: u16,
    instance: Option<String>,
    body: Value,
}

/// One request through the proxy, pinned to `instance` if given.
async fn call(
    http: &reqwest::Client,
    base: &str,
    method: reqwest::Method,
    path: &str,
    instance: Option<usize>,
    token: Option<&str>,
    body: Option<Value>,
) -> Answer {
    let mut req = http.request(method, format!("{base}{path}"));
    if let Some(i) = instance {
        req = req.header(INSTANCE_HEADER, i.to_string());
    }
    if let Some(t) = token {
        req = req.bearer_auth(t);
    }
    if let Some(b) = body {
        req = req.json(&b);
    }
    let resp = req.send().await.expect("the proxy answers");
    let status = resp.status().as_u16();
    let instance = resp
        .headers()
        .get(INSTANCE_HEADER)
        .map(|v| v.to_str().expect("ascii").to_owned());
    let text = resp.text().await.expect("body");
    let body = serde_json::from_str(&text).unwrap_or(Value::String(text));
    Answer {
        status,
        instance,
        body,
    }
}

async fn wx_login(mock: &MockHandle, user: &str) -> String {
    mock.control()
        .wx_login(&mock.default_app().appid, user)
        .await
        .expect("wx.login")
        .code
}

async fn login(http: &reqwest::Client, base: &str, code: &str, instance: Option<usize>) -> Answer {
    call(
        http,
        base,
        reqwest::Method::POST,
        "/api/login",
        instance,
        None,
        Some(json!({ "code": code })),
    )
    .await
}

async fn journal(mock: &MockHandle, query: &str) -> Vec<mock_server::journal::JournalEntry> {
    mock.control()
        .journal(query)
        .await
        .expect("journal")
        .entries
}

async fn fault(mock: &MockHandle, spec: Value) {
    let spec: FaultSpec = serde_json::from_value(spec).expect("a fault");
    mock.control().add_fault(&spec).await.expect("fault added");
}

fn error_code(a: &Answer) -> String {
    a.body["error"]["code"].as_str().unwrap_or("?").to_owned()
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn a_token_from_one_process_works_on_the_others_and_a_logout_is_seen_by_all() {
    let Some((mock, c)) = cluster("cluster::token_across_processes", 3).await else {
        return;
    };
    let (http, base) = (reqwest::Client::new(), c.proxy.base_url());
    let code = wx_login(&mock, "alice").await;
    let first = login(&http, &base, &code, Some(0)).await;
    assert_eq!((first.status, first.instance.as_deref()), (200, Some("0")));
    let token = first.body["token"].as_str().expect("token").to_owned();
    for i in [1, 2] {
        let me = call(
            &http,
            &base,
            reqwest::Method::GET,
            "/api/me",
            Some(i),
            Some(&token),
            None,
        )
        .await;
        assert_eq!(me.status, 200, "{me:?}");
        assert_eq!(me.body["id"], first.body["user"]["id"]);
    }
    let out = call(
        &http,
        &base,
        reqwest::Method::POST,
        "/api/logout",
        Some(1),
        Some(&token),
        None,
    )
    .await;
    assert_eq!(out.status, 204, "{out:?}");
    for i in [0, 2] {
        let me = call(
            &http,
            &base,
            reqwest::Method::GET,
            "/api/me",
            Some(i),
            Some(&token),
            None,
        )
        .await;
        assert_eq!((me.status, error_code(&me)), (401, "login_required".into()));
    }
    // Unpinned requests go round the instances.
    let mut seen = BTreeSet::new();
    for _ in 0..3 {
        let h = call(
            &http,
            &base,
            reqwest::Method::GET,
            "/healthz",
            None,
            None,
            None,
        )
        .await;
        seen.insert(h.instance.expect("named"));
    }
    assert_eq!(seen.len(), 3, "{seen:?}");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn one_code_raced_across_all_processes_logs_in_exactly_once() {
    let Some((mock, c)) = cluster("cluster::code_raced_across_processes", 3).await else {
        return;
    };
    code_raced_across_all(&mock, &c).await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn one_code_raced_across_all_processes_is_counted_once_with_the_counters_in_redis() {
    let test = "cluster::code_raced_across_processes_redis";
    let Some(redis) = login_core::store::redis::testing::server_url(test) else {
        return;
    };
    let Some((mock, c)) = cluster_counting_in(test, 3, Some(&redis)).await else {
        return;
    };
    code_raced_across_all(&mock, &c).await;
    let mut db = c.schema().connect().await;
    let in_db: i64 = sqlx::query_scalar("SELECT count(*) FROM rate_limits")
        .fetch_one(&mut db)
        .await
        .expect("count");
    assert_eq!(
        in_db, 0,
        "the limits are counted in Redis, not in the database"
    );
    let prefix = format!("harness:{}", c.schema().schema());
    let counters = login_core::store::redis::RedisCounters::connect(&redis, &prefix)
        .await
        .expect("Redis");
    // The per-address and per-code windows, deleted.
    assert_eq!(counters.delete_all().await.expect("deletes"), 2);
}

/// 30 logins with one code, spread over 3 instances: one succeeds, WeChat sees three.
async fn code_raced_across_all(mock: &MockHandle, c: &Processes) {
    let (http, base) = (reqwest::Client::new(), c.proxy.base_url());
    let code = wx_login(mock, "alice").await;
    let answers = join_all((0..30).map(|k| login(&http, &base, &code, Some(k % 3)))).await;
    let mut by_code: BTreeMap<String, usize> = BTreeMap::new();
    for a in &answers {
        let key = if a.status == 200 {
            "ok".into()
        } else {
            error_code(a)
        };
        *by_code.entry(key).or_default() += 1;
    }
    // attempts_per_code (3) is counted by all instances together: three exchanges reach
    // WeChat, one wins; the rest are refused before.
    let want: BTreeMap<String, usize> = [("ok", 1), ("code_used", 2), ("rate_limited", 27)]
        .into_iter()
        .map(|(k, v)| (k.to_owned(), v))
        .collect();
    assert_eq!(by_code, want);
    assert_eq!(journal(mock, "endpoint=jscode2session").await.len(), 3);
    let mut db = c.schema().connect().await;
    let users: i64 = sqlx::query_scalar("SELECT count(*) FROM users")
        .fetch_one(&mut db)
        .await
        .expect("count");
    assert_eq!(users, 1);
}

/// The bodies of the mock's stable_token requests, oldest first.
async fn stable_token_requests(mock: &MockHandle) -> Vec<Value> {
    journal(mock, "endpoint=stable_token")
        .await
        .iter()
        .map(|e| serde_json::from_str(&e.body).expect("JSON"))
        .collect()
}

/// `n` users logged in, round the instances; their tokens.
async fn logged_in(mock: &MockHandle, http: &reqwest::Client, base: &str, n: usize) -> Vec<String> {
    let mut tokens = Vec::new();
    for k in 0..n {
        let code = wx_login(mock, &format!("user{k}")).await;
        let a = login(http, base, &code, None).await;
        assert_eq!(a.status, 200, "{a:?}");
        tokens.push(a.body["token"].as_str().expect("token").to_owned());
    }
    tokens
}

/// Every token checked at once, token `k` on instance `k % 3`: each check is valid.
async fn check_all(http: &reqwest::Client, base: &str, tokens: &[String]) {
    let checks = join_all(tokens.iter().enumerate().map(|(k, t)| {
        call(
            http,
            base,
            reqwest::Method::GET,
            "/api/session/check",
            Some(k % 3),
            Some(t),
            None,
        )
    }))
    .await;
    for a in &checks {
        assert_eq!((a.status, &a.body["valid"]), (200, &json!(true)), "{a:?}");
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn processes_needing_a_token_at_once_make_one_token_call() {
    let Some((mock, c)) = cluster("cluster::one_token_call", 3).await else {
        return;
    };
    let (http, base) = (reqwest::Client::new(), c.proxy.base_url());
    let tokens = logged_in(&mock, &http, &base, 12).await;
    // WeChat is slow with the first token: all twelve checks need one meanwhile.
    fault(
        &mock,
        json!({"endpoint": "stable_token", "delay": "400ms", "times": 1}),
    )
    .await;
    check_all(&http, &base, &tokens).await;
    let requests = stable_token_requests(&mock).await;
    assert_eq!(requests.len(), 1, "{requests:?}");
    assert_eq!(requests[0]["force_refresh"], false);
    // The token the three processes use is the one WeChat handed out.
    let issued: Value =
        serde_json::from_str(&journal(&mock, "endpoint=stable_token").await[0].response)
            .expect("JSON");
    for entry in journal(&mock, "endpoint=checksession").await {
        assert_eq!(entry.params["access_token"], issued["access_token"]);
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn a_slow_token_answer_cannot_leave_a_stale_token_in_the_shared_row() {
    let Some((mock, c)) = cluster("cluster::slow_token_answer", 3).await else {
        return;
    };
    let (http, base) = (reqwest::Client::new(), c.proxy.base_url());
    let tokens = logged_in(&mock, &http, &base, 9).await;
    check_all(&http, &base, &tokens).await;
    // Another system forces a new token: WeChat voids the one the instances share, and its
    // answer to the next token request will take a second.
    let app = mock.default_app();
    let forced = http
        .post(format!("{}/cgi-bin/stable_token", mock.base_url()))
        .json(
            &json!({"grant_type": "client_credential", "appid": app.appid.as_str(),
                      "secret": app.secret.as_str(), "force_refresh": true}),
        )
        .send()
        .await
        .expect("forced");
    assert_eq!(forced.status(), 200);
    fault(
        &mock,
        json!({"endpoint": "stable_token", "delay": "1s", "times": 1}),
    )
    .await;
    // Every instance meets 40001 at once. One refreshes (slowly); the others wait for its
    // lock, then find the new generation: a refresh of their own, late, would void it.
    check_all(&http, &base, &tokens).await;
    let requests = stable_token_requests(&mock).await;
    assert_eq!(
        requests.len(),
        3,
        "the first token, the outside force, one refresh: {requests:?}"
    );
    assert_eq!(requests[2]["force_refresh"], true);
    // The row holds what WeChat answered last, and every instance uses it.
    let last: Value =
        serde_json::from_str(&journal(&mock, "endpoint=stable_token").await[2].response)
            .expect("JSON");
    let before = journal(&mock, "endpoint=checksession").await.len();
    check_all(&http, &base, &tokens).await;
    let after = journal(&mock, "endpoint=checksession").await;
    assert_eq!(after.len(), before + tokens.len(), "no rejection, no retry");
    for entry in &after[before..] {
        assert_eq!(entry.params["access_token"], last["access_token"]);
        assert_eq!(entry.errcode, Some(0));
    }
    let mut db = c.schema().connect().await;
    let generation: i64 = sqlx::query_scalar("SELECT generation FROM access_tokens")
        .fetch_one(&mut db)
        .await
        .expect("one row");
    assert_eq!(generation, 2);
    assert_eq!(stable_token_requests(&mock).await.len(), 3);
}

/// What one login attempt of a person got.
#[derive(Debug, Clone)]
struct Attempt {
    person: String,
    status: u16,
    code: String,
    token: Option<String>,
    user: Option<Value>,
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn a_process_killed_mid_login_leaves_no_half_written_user_and_the_others_keep_serving() {
    let Some((mock, mut c)) = cluster("cluster::killed_mid_login", 3).await else {
        return;
    };
    let (http, base) = (reqwest::Client::new(), c.proxy.base_url());
    // WeChat takes 100 ms per exchange: at any moment logins are in flight on every instance.
    fault(
        &mock,
        json!({"endpoint": "jscode2session", "delay": "100ms"}),
    )
    .await;
    let answered = Arc::new(std::sync::atomic::AtomicUsize::new(0));
    // 12 workers of 8 logins: under the per-address limit (120 a minute), which all
    // instances count together for the one address the tests come from.
    let kill_after = 30;
    let killed = Arc::new(tokio::sync::Notify::new());
    let mut workers = tokio::task::JoinSet::new();
    for w in 0..12 {
        let (http, base, mock_url) = (http.clone(), base.clone(), mock.base_url());
        let appid = mock.default_app().appid;
        let (answered, killed) = (answered.clone(), killed.clone());
        workers.spawn(async move {
            let control = mock_server::ControlClient::new(&mock_url, None);
            let mut attempts = Vec::new();
            for k in 0..8 {
                // Half new people, half four people who log in again and again.
                let person = if k % 2 == 0 {
                    format!("p{w}-{k}")
                } else {
                    format!("shared{}", (w + k) % 4)
                };
                let code = control
                    .wx_login(&appid, &person)
                    .await
                    .expect("wx.login")
                    .code;
                let a = login(&http, &base, &code, None).await;
                if answered.fetch_add(1, std::sync::atomic::Ordering::SeqCst) + 1 == kill_after {
                    killed.notify_one();
                }
                attempts.push(Attempt {
                    person,
                    status: a.status,
                    code: error_code(&a),
                    token: a.body["token"].as_str().map(str::to_owned),
                    user: (a.status == 200).then(|| a.body["user"]["id"].clone()),
                });
            }
            attempts
        });
    }
    killed.notified().await;
    let status = c.kill(1).await.expect("killed");
    use std::os::unix::process::ExitStatusExt as _;
    assert_eq!(status.signal(), Some(9), "SIGKILL: {status:?}");
    let mut attempts = Vec::new();
    while let Some(w) = workers.join_next().await {
        attempts.extend(w.expect("worker ran"));
    }
    mock.control().clear_faults().await.expect("faults cleared");

    let ok: Vec<&Attempt> = attempts.iter().filter(|a| a.status == 200).collect();
    let failed: Vec<&Attempt> = attempts.iter().filter(|a| a.status != 200).collect();
    eprintln!(
        "instance 1 killed after {kill_after} answers: {} logins sent, {} answered 200, {} cut",
        attempts.len(),
        ok.len(),
        failed.len()
    );
    // Requests in flight on the killed instance were cut (the proxy answers 502 for them);
    // nothing else failed, and the others kept serving.
    assert!(!failed.is_empty(), "some logins were in flight at the kill");
    for a in &failed {
        assert_eq!((a.status, a.code.as_str()), (502, "bad_gateway"), "{a:?}");
    }
    assert!(
        ok.len() >= attempts.len() - 12,
        "{} of {}",
        ok.len(),
        attempts.len()
    );
    // Every login answered 200 is valid afterwards on every live instance, as its user.
    for a in &ok {
        for i in [0, 2] {
            let me = call(
                &http,
                &base,
                reqwest::Method::GET,
                "/api/me",
                Some(i),
                a.token.as_deref(),
                None,
            )
            .await;
            assert_eq!(me.status, 200, "{a:?} on instance {i}: {me:?}");
            assert_eq!(Some(&me.body["id"]), a.user.as_ref());
        }
    }
    // One user per person, over every answer.
    let mut users: BTreeMap<&str, BTreeSet<String>> = BTreeMap::new();
    for a in &ok {
        users
            .entry(&a.person)
            .or_default()
            .insert(a.user.as_ref().expect("id").to_string());
    }
    assert!(users.values().all(|ids| ids.len() == 1), "{users:?}");
    // The database: no user without an identity, no session of another user than its
    // identity's, one user per person tried (at most), at least per person answered.
    let mut db = c.schema().connect().await;
    let orphans: i64 = sqlx::query_scalar(
        "SELECT count(*) FROM users u WHERE NOT EXISTS (SELECT 1 FROM identities i WHERE i.user_id = u.id)",
    )
    .fetch_one(&mut db)
    .await
    .expect("count");
    assert_eq!(orphans, 0, "a user without an identity was left");
    let crossed: i64 = sqlx::query_scalar(
        "SELECT count(*) FROM sessions s JOIN identities i ON (i.appid, i.openid) = (s.appid, s.openid) \
         WHERE i.user_id <> s.user_id",
    )
    .fetch_one(&mut db)
    .await
    .expect("count");
    assert_eq!(crossed, 0);
    let (stored_users, identities, sessions): (i64, i64, i64) = sqlx::query_as(
        "SELECT (SELECT count(*) FROM users), (SELECT count(*) FROM identities), (SELECT count(*) FROM sessions)",
    )
    .fetch_one(&mut db)
    .await
    .expect("counts");
    let tried: BTreeSet<&str> = attempts.iter().map(|a| a.person.as_str()).collect();
    let stored_users = usize::try_from(stored_users).expect("positive");
    assert_eq!(usize::try_from(identities).expect("positive"), stored_users);
    assert!(
        (users.len()..=tried.len()).contains(&stored_users),
        "{stored_users} users for {} answered, {} tried",
        users.len(),
        tried.len()
    );
    let sessions = usize::try_from(sessions).expect("positive");
    assert!(
        (ok.len()..=attempts.len()).contains(&sessions),
        "{sessions} sessions for {} answered",
        ok.len()
    );
    // The survivors still log people in, round the two of them.
    for k in 0..4 {
        let code = wx_login(&mock, &format!("after{k}")).await;
        let a = login(&http, &base, &code, None).await;
        assert_eq!(a.status, 200, "{a:?}");
        assert_ne!(a.instance.as_deref(), Some("1"));
    }
}
