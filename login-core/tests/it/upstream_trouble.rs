//! WeChat in trouble, one kind after the other from a table: `-1` on every try, the 45011 minute
//! quota, answers slower than `upstream.timeout`, dropped, reset and truncated connections,
//! garbage, a 502 page. Concurrent first logins get the documented error within login-core's own
//! time budget and write nothing; once WeChat recovers, the same persons log in without a
//! restart. Under intermittent trouble, clients retrying like a mini-program end with one user
//! per person.

use std::collections::{BTreeMap, HashMap, HashSet};
use std::sync::Arc;
use std::time::{Duration, Instant};

use login_core::config::{Config, UpstreamConfig};
use serde_json::{Value, json};
use tokio::task::JoinSet;

use crate::helpers::*;

/// Concurrent first logins per kind of trouble.
const PERSONS: usize = 8;
/// Room for a shared, noisy machine on top of login-core's own budget.
const SLACK: Duration = Duration::from_secs(2);

const UNAVAILABLE: (u16, &str) = (503, "wechat_unavailable");
const RATE_LIMITED: (u16, &str) = (429, "wechat_rate_limited");
const TIMEOUT: (u16, &str) = (504, "wechat_timeout");
const BAD_GATEWAY: (u16, &str) = (502, "wechat_bad_gateway");
/// Every answer README.md documents for WeChat in trouble.
const DOCUMENTED: [(u16, &str); 4] = [UNAVAILABLE, RATE_LIMITED, TIMEOUT, BAD_GATEWAY];

/// One kind of trouble on jscode2session and login-core's documented answer to it.
struct Trouble {
    name: &'static str,
    /// The mock's fault rule without its endpoint, as JSON text.
    fault: &'static str,
    answer: (u16, &'static str),
    /// How `login_core_upstream_errors_total` labels it.
    label: &'static str,
}

const TROUBLES: [Trouble; 8] = [
    Trouble {
        name: "-1 on every try",
        fault: r#"{"errcode": -1}"#,
        answer: UNAVAILABLE,
        label: "-1",
    },
    Trouble {
        name: "45011 minute quota",
        fault: r#"{"errcode": 45011}"#,
        answer: RATE_LIMITED,
        label: "45011",
    },
    Trouble {
        // Longer than the budget: only login-core's own timeout answers in time.
        name: "5 s delay",
        fault: r#"{"delay": "5s"}"#,
        answer: TIMEOUT,
        label: "timeout",
    },
    Trouble {
        name: "dropped connection",
        fault: r#"{"transport": "drop"}"#,
        answer: BAD_GATEWAY,
        label: "connect",
    },
    Trouble {
        name: "reset connection",
        fault: r#"{"transport": "reset"}"#,
        answer: BAD_GATEWAY,
        label: "connect",
    },
    Trouble {
        name: "truncated body",
        fault: r#"{"transport": "truncate"}"#,
        answer: BAD_GATEWAY,
        label: "connect",
    },
    Trouble {
        name: "malformed garbage",
        fault: r#"{"transport": "malformed"}"#,
        answer: BAD_GATEWAY,
        label: "bad_body",
    },
    Trouble {
        name: "HTTP 502 page",
        fault: r#"{"http_status": 502}"#,
        answer: BAD_GATEWAY,
        label: "http_502",
    },
];

/// The fault rule of `trouble` on jscode2session, with the `extra` fields.
fn rule(trouble: &Trouble, extra: Value) -> Value {
    let mut rule: Value = serde_json::from_str(trouble.fault).expect("fault JSON");
    rule["endpoint"] = json!("jscode2session");
    if let (Some(rule), Value::Object(extra)) = (rule.as_object_mut(), extra) {
        rule.extend(extra);
    }
    rule
}

/// login-core's settings here: a short timeout and backoff keep the suite fast. The per-address
/// limit is off: every client here shares one address.
fn short_upstream(c: &mut Config) {
    c.upstream.timeout = Duration::from_millis(300);
    c.upstream.backoff = Duration::from_millis(10);
    c.upstream.attempts = 3;
    c.limits.logins_per_address_per_minute = 0;
}

fn upstream() -> UpstreamConfig {
    let mut c = Config::default();
    short_upstream(&mut c);
    c.upstream
}

/// How long login-core may take to give up, by its configuration: every try to its timeout and
/// every backoff doubled from the first (login-core also caps them), plus [`SLACK`].
fn budget(u: &UpstreamConfig) -> Duration {
    u.timeout * u.attempts + u.backoff * (2u32.pow(u.attempts - 1) - 1) + SLACK
}

/// `person` logs in with a fresh code; the answer and how long login-core took to give it.
async fn timed_login(app: &TestApp, person: &str) -> (Resp, Duration) {
    let code = app.wx_login(person).await;
    let started = Instant::now();
    let resp = app.login_code(&code).await;
    (resp, started.elapsed())
}

/// Every person logs in at once; the answers in the persons' order.
async fn logins_at_once(app: &Arc<TestApp>, persons: &[String]) -> Vec<(Resp, Duration)> {
    let mut set = JoinSet::new();
    for (i, person) in persons.iter().cloned().enumerate() {
        let app = app.clone();
        set.spawn(async move { (i, timed_login(&app, &person).await) });
    }
    let mut answers = set.join_all().await;
    answers.sort_by_key(|(i, _)| *i);
    answers.into_iter().map(|(_, answer)| answer).collect()
}

/// The user id of a 200 answer, which must have created the user or not as `is_new` says.
#[track_caller]
fn user_id(resp: &Resp, is_new: bool, what: &str) -> Value {
    let body = resp.ok();
    assert_eq!(body["user"]["is_new"], is_new, "{what}: {body}");
    body["user"]["id"].clone()
}

/// The mock's fault rules are removed: WeChat answers normally again.
async fn wechat_recovers(app: &TestApp) {
    app.mock
        .control()
        .clear_faults()
        .await
        .expect("faults cleared");
}

/// How many times each of the mock's fault rules fired, in the order they were added.
async fn faults_met(app: &TestApp) -> Vec<u64> {
    let rules = app
        .mock_control(reqwest::Method::GET, "/faults", Value::Null)
        .await;
    let rules = rules["faults"].as_array().expect("fault list");
    rules
        .iter()
        .map(|r| r["hits"].as_u64().expect("hits"))
        .collect()
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn each_kind_of_trouble_is_answered_in_time_and_recovered_from_without_a_restart() {
    let config = upstream();
    let budget = budget(&config);
    let persons: Vec<String> = (0..PERSONS).map(|i| format!("person-{i}")).collect();
    for trouble in &TROUBLES {
        let name = trouble.name;
        let (status, code) = trouble.answer;
        let app = Arc::new(TestApp::configured(short_upstream).await);
        app.fault(rule(trouble, json!({}))).await;

        let mut slowest = Duration::ZERO;
        for (resp, took) in logins_at_once(&app, &persons).await {
            assert_eq!(resp.status, status, "{name}: {}", resp.text);
            resp.assert_error(status, code);
            assert_eq!(
                resp.header("retry-after").is_some(),
                matches!(status, 429 | 503),
                "{name}: Retry-After on {status} only"
            );
            assert!(
                took <= budget,
                "{name}: answered in {took:?}, over {budget:?}"
            );
            slowest = slowest.max(took);
        }
        app.assert_nothing_stored().await;
        let tries = if trouble.answer == UNAVAILABLE {
            config.attempts
        } else {
            1
        };
        assert_eq!(
            app.upstream_errors("jscode2session", trouble.label).await,
            f64::from(tries) * PERSONS as f64,
            "{name}: tries per login"
        );

        // WeChat recovers; login-core keeps running.
        wechat_recovers(&app).await;
        let mut ids = Vec::new();
        for (resp, _) in logins_at_once(&app, &persons).await {
            ids.push(user_id(&resp, true, name));
        }
        let distinct: HashSet<_> = ids.iter().map(Value::to_string).collect();
        assert_eq!(distinct.len(), PERSONS, "{name}: one user per person");
        let n = PERSONS as u64;
        assert_eq!(app.counts().await, (n, n, n), "{name}: after recovery");
        let (again, _) = timed_login(&app, &persons[0]).await;
        assert_eq!(user_id(&again, false, name), ids[0], "{name}: known person");
        assert_eq!(
            app.counts().await,
            (n, n, n + 1),
            "{name}: one more session"
        );
        eprintln!(
            "upstream trouble: {name}: {PERSONS} logins answered {status} {code}, slowest \
             {slowest:?} (budget {budget:?}); after recovery {PERSONS} new users and a re-login"
        );
    }
}

/// Loops of clients logging in at once, persons per loop, and tries per person.
const LOOPS: usize = 4;
const PER_LOOP: usize = 25;
const MAX_TRIES: usize = 4;

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn intermittent_trouble_under_load_ends_with_one_user_per_person() {
    let budget = budget(&upstream());
    let app = Arc::new(TestApp::configured(short_upstream).await);
    // Tried in order, each rule fires on 4.5 % of what reaches it: about 31 % in all.
    for trouble in &TROUBLES {
        app.fault(rule(trouble, json!({"probability": 0.045})))
            .await;
    }

    // Each client retries a failed login with a new code, up to MAX_TRIES times.
    let mut set = JoinSet::new();
    for l in 0..LOOPS {
        let app = app.clone();
        set.spawn(async move {
            let mut tries = Vec::new();
            for i in 0..PER_LOOP {
                let person = format!("load-{l}-{i}");
                for _ in 0..MAX_TRIES {
                    let (resp, took) = timed_login(&app, &person).await;
                    let done = resp.status == 200;
                    tries.push((person.clone(), resp, took));
                    if done {
                        break;
                    }
                }
            }
            tries
        });
    }
    let tries: Vec<_> = set.join_all().await.into_iter().flatten().collect();

    let mut users = HashMap::new();
    let mut failures = BTreeMap::new();
    let mut slowest = Duration::ZERO;
    for (person, resp, took) in &tries {
        assert!(
            *took <= budget,
            "{person}: answered in {took:?}, over {budget:?}"
        );
        slowest = slowest.max(*took);
        if resp.status == 200 {
            users.insert(
                person.clone(),
                user_id(resp, true, "a failed try wrote nothing"),
            );
            continue;
        }
        let answer = DOCUMENTED.iter().find(|(s, _)| *s == resp.status);
        let &(status, code) = answer.unwrap_or_else(|| panic!("undocumented: {}", resp.text));
        resp.assert_error(status, code);
        *failures.entry(code).or_insert(0) += 1;
    }
    let failed: usize = failures.values().sum();
    let hits = faults_met(&app).await;
    let met: u64 = hits.iter().sum();
    assert!(failed > 0, "the trouble reached the clients");
    assert!(met >= failed as u64, "{met} faults, {failed} failures");
    let (n, logged_in) = ((LOOPS * PER_LOOP) as u64, users.len() as u64);
    assert_eq!(app.counts().await, (logged_in, logged_in, logged_in));

    // WeChat recovers: every person logs in once more, those who gave up too.
    wechat_recovers(&app).await;
    let persons: Vec<String> = (0..LOOPS)
        .flat_map(|l| (0..PER_LOOP).map(move |i| format!("load-{l}-{i}")))
        .collect();
    for (person, (resp, _)) in persons.iter().zip(logins_at_once(&app, &persons).await) {
        let known = users.get(person);
        let id = user_id(&resp, known.is_none(), person);
        assert!(known.is_none_or(|k| *k == id), "{person} kept their user");
    }
    assert_eq!(
        app.counts().await,
        (n, n, n + logged_in),
        "one user per person"
    );
    let by_kind: Vec<_> = TROUBLES.iter().map(|t| t.name).zip(hits).collect();
    eprintln!(
        "upstream trouble under load: {} tries for {n} persons, {met} faults met {by_kind:?}, \
         {failed} failures answered {failures:?}, {} persons gave up after {MAX_TRIES} tries, \
         slowest answer {slowest:?} (budget {budget:?})",
        tries.len(),
        n - logged_in
    );
}
