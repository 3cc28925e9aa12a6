//! Tests: concurrency (one code raced by 64 and by 256 simultaneous exchanges, reproducible
//! identities whatever the interleaving, and many users logging in while others exchange).

use std::collections::{BTreeMap, BTreeSet};
use std::sync::Arc;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::time::Duration;

use mock_server::config::Config;
use mock_server::{Clock, Timestamp};
use reqwest::Method;
use serde_json::{Value, json};
use tokio::sync::Barrier;

use crate::helpers::{START, TestMock};

/// What one login-and-exchange gave: code, openid and session_key as the exchange returned them.
type Identity = (String, String, String);

async fn journal_entries(t: &TestMock, query: &str) -> Vec<Value> {
    let (status, body) = t
        .control(Method::GET, &format!("/journal?{query}"), None)
        .await;
    assert_eq!(status, 200, "{body}");
    body["entries"].as_array().expect("entries").clone()
}

/// Logs `user` in and exchanges the code, checking the answer against what the login promised.
async fn login_and_exchange(t: &TestMock, user: &str) -> Identity {
    let grant = t.login(user).await;
    let r = t.exchange(&grant.code).await;
    assert_eq!(
        r.json(),
        json!({"session_key": grant.mock.session_key, "openid": grant.mock.openid}),
        "{user}"
    );
    (
        grant.code,
        grant.mock.openid.as_str().to_owned(),
        grant.mock.session_key,
    )
}

/// Races `racers` exchanges of one code, released together by a barrier, under the per-user
/// `quota` (per minute; the default of 100 when `None`). Checks that exactly one exchange
/// succeeds with the code's identity, that the journal agrees with the answers, and that the
/// code stays used; returns how many answers carried each errcode (0 for the success).
async fn race_one_code(racers: usize, quota: Option<u32>) -> BTreeMap<i64, usize> {
    let t = Arc::new(TestMock::new().await);
    if let Some(q) = quota {
        t.set_options(json!({"login_quota_per_minute": q})).await;
    }
    let grant = t.login("alice").await;
    // Open the connections first, so the barrier releases requests rather than TCP handshakes.
    let warm: Vec<_> = (0..racers)
        .map(|_| {
            let t = t.clone();
            tokio::spawn(async move { t.control(Method::GET, "/clock", None).await })
        })
        .collect();
    for w in warm {
        assert_eq!(w.await.expect("task completes").0, 200);
    }
    let barrier = Arc::new(Barrier::new(racers));
    // Requests sent and not yet answered, and the most seen at once.
    let in_flight = Arc::new(AtomicUsize::new(0));
    let most = Arc::new(AtomicUsize::new(0));
    let tasks: Vec<_> = (0..racers)
        .map(|_| {
            let (t, barrier, code) = (t.clone(), barrier.clone(), grant.code.clone());
            let (in_flight, most) = (in_flight.clone(), most.clone());
            tokio::spawn(async move {
                barrier.wait().await;
                most.fetch_max(
                    in_flight.fetch_add(1, Ordering::SeqCst) + 1,
                    Ordering::SeqCst,
                );
                let r = t.exchange(&code).await;
                in_flight.fetch_sub(1, Ordering::SeqCst);
                r
            })
        })
        .collect();

    let mut successes = Vec::new();
    let mut counts = BTreeMap::new();
    for task in tasks {
        let r = task.await.expect("task completes");
        let errcode = r.errcode();
        match errcode {
            0 => successes.push(r.json()),
            40163 => {
                r.assert_err(40163);
                assert_eq!(r.errmsg_base(), "code been used");
            }
            45011 => {
                r.assert_err(45011);
                assert_eq!(
                    r.errmsg_base(),
                    "api minute-quota reach limit, must slower, retry next minute"
                );
            }
            other => panic!("unexpected errcode {other}: {}", r.body),
        }
        *counts.entry(errcode).or_insert(0) += 1;
    }
    assert_eq!(
        successes,
        vec![json!({"session_key": grant.mock.session_key, "openid": grant.mock.openid})]
    );
    let most = most.load(Ordering::SeqCst);
    println!("{racers} racers: at most {most} exchanges in flight at once; answers {counts:?}");
    assert!(most > 1, "the exchanges overlapped");

    let calls = journal_entries(&t, "endpoint=jscode2session").await;
    assert_eq!(calls.len(), racers);
    for (errcode, n) in &counts {
        assert_eq!(
            journal_entries(&t, &format!("errcode={errcode}"))
                .await
                .len(),
            *n,
            "journal entries with errcode {errcode}"
        );
    }
    // The code stays used afterwards (a minute later, out of the quota window).
    t.advance(Duration::from_secs(60));
    t.exchange(&grant.code).await.assert_err(40163);
    counts
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn one_code_raced_by_64_exchanges_succeeds_exactly_once() {
    let counts = race_one_code(64, None).await;
    assert_eq!(counts, BTreeMap::from([(0, 1), (40163, 63)]));
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn one_code_raced_by_256_exchanges_succeeds_exactly_once() {
    // A quota above the racers, so every loser meets the used code.
    let counts = race_one_code(256, Some(1000)).await;
    assert_eq!(counts, BTreeMap::from([(0, 1), (40163, 255)]));
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn past_the_minute_quota_the_256_racers_get_45011_and_still_one_success() {
    // Under the default 100 per user per minute, the quota is checked before the code's use:
    // the first 100 calls are counted (one success, 99 used), the other 156 are refused.
    let counts = race_one_code(256, None).await;
    assert_eq!(counts, BTreeMap::from([(0, 1), (40163, 99), (45011, 156)]));
}

/// Logs each user in three times concurrently across users (rotating keys between rounds) and
/// returns each user's identities in order.
async fn concurrent_identities(
    t: Arc<TestMock>,
    users: &[String],
) -> BTreeMap<String, Vec<Identity>> {
    let mut out: BTreeMap<String, Vec<Identity>> = BTreeMap::new();
    for round in 0..3 {
        if round > 0 {
            // Past session_key_min_rotation, so the next login rotates the key.
            t.advance(Duration::from_secs(300));
        }
        let barrier = Arc::new(Barrier::new(users.len()));
        let tasks: Vec<_> = users
            .iter()
            .map(|user| {
                let (t, barrier, user) = (t.clone(), barrier.clone(), user.clone());
                tokio::spawn(async move {
                    barrier.wait().await;
                    let id = login_and_exchange(&t, &user).await;
                    (user, id)
                })
            })
            .collect();
        for task in tasks {
            let (user, id) = task.await.expect("task completes");
            out.entry(user).or_default().push(id);
        }
    }
    out
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_same_seed_gives_the_same_identities_whatever_the_interleaving() {
    let users: Vec<String> = (0..16).map(|i| format!("user{i}")).collect();
    let a = concurrent_identities(Arc::new(TestMock::new().await), &users).await;
    let b = concurrent_identities(Arc::new(TestMock::new().await), &users).await;
    assert_eq!(a, b);

    for (user, ids) in &a {
        assert_eq!(ids.len(), 3, "{user}");
        let openids: BTreeSet<&String> = ids.iter().map(|(_, o, _)| o).collect();
        assert_eq!(openids.len(), 1, "{user}: one openid per app");
        let keys: BTreeSet<&String> = ids.iter().map(|(_, _, k)| k).collect();
        assert_eq!(keys.len(), 3, "{user}: the key rotates every round");
    }
    let codes: BTreeSet<&String> = a.values().flatten().map(|(c, _, _)| c).collect();
    assert_eq!(codes.len(), 16 * 3, "every code is distinct");

    let other = TestMock::with_config(Config {
        seed: "not test".into(),
        clock: Clock::manual(Timestamp::from_secs(START)),
        ..Config::default()
    })
    .await;
    let c = concurrent_identities(Arc::new(other), &users).await;
    for (user, ids) in &c {
        for (mine, theirs) in ids.iter().zip(&a[user]) {
            assert_ne!(mine.0, theirs.0, "{user}: another seed, another code");
            assert_ne!(mine.2, theirs.2, "{user}: another seed, another key");
        }
        assert_ne!(
            ids[0].1, a[user][0].1,
            "{user}: another seed, another openid"
        );
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn many_users_logging_in_while_others_exchange_stay_consistent() {
    const USERS: usize = 32;
    const LOGINS: usize = 3;
    let t = Arc::new(TestMock::new().await);
    let barrier = Arc::new(Barrier::new(USERS));
    let tasks: Vec<_> = (0..USERS)
        .map(|i| {
            let (t, barrier) = (t.clone(), barrier.clone());
            tokio::spawn(async move {
                barrier.wait().await;
                let user = format!("u{i}");
                let mut ids = Vec::new();
                for _ in 0..LOGINS {
                    ids.push(login_and_exchange(&t, &user).await);
                }
                // Every code was consumed by its one exchange.
                for (code, _, _) in &ids {
                    t.exchange(code).await.assert_err(40163);
                }
                (user, ids)
            })
        })
        .collect();

    let mut all_codes = BTreeSet::new();
    let mut openids = BTreeSet::new();
    for task in tasks {
        let (user, ids) = task.await.expect("task completes");
        assert_eq!(ids.len(), LOGINS);
        let keys: BTreeSet<&String> = ids.iter().map(|(_, _, k)| k).collect();
        assert_eq!(keys.len(), 1, "{user}: no rotation within 5 minutes");
        for (code, openid, _) in ids {
            assert!(all_codes.insert(code), "{user}: a code was minted twice");
            openids.insert(openid);
        }
    }
    assert_eq!(all_codes.len(), USERS * LOGINS);
    assert_eq!(openids.len(), USERS);

    let successes = journal_entries(&t, "errcode=0").await;
    let exchanged: Vec<String> = successes
        .iter()
        .map(|e| e["params"]["js_code"].as_str().expect("js_code").to_owned())
        .collect();
    assert_eq!(exchanged.len(), USERS * LOGINS);
    assert_eq!(
        exchanged.iter().cloned().collect::<BTreeSet<_>>(),
        all_codes,
        "each code exchanged successfully exactly once"
    );
    assert_eq!(
        journal_entries(&t, "errcode=40163").await.len(),
        USERS * LOGINS
    );

    let (status, state) = t.control(Method::GET, "/state", None).await;
    assert_eq!(status, 200);
    assert_eq!(state["users"].as_array().map(Vec::len), Some(USERS));
    assert_eq!(state["counts"]["login_codes"], USERS * LOGINS);
    assert_eq!(state["counts"]["sessions"], USERS);
}
