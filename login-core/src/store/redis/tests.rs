//! The Redis counters against a real server (skipped unless `LOGIN_CORE_TEST_REDIS` names
//! one), and what needs no server: refusals at start.

use std::collections::HashSet;
use std::sync::Arc;

use rand::{Rng as _, SeedableRng as _};
use rand_chacha::ChaCha8Rng;

use super::testing::TestCounters;
use super::{RedisCounters, SLACK};
use crate::clock::UnixMs;
use crate::store::StoreError;
use crate::store::shared::{Count, Counters, Hit, MemoryCounters};

fn hit<'a>(limit: &'a str, key: &'a str, now: i64, window_end: i64) -> Hit<'a> {
    Hit {
        limit,
        key,
        now: UnixMs(now),
        window_end: UnixMs(window_end),
    }
}

/// A raw connection to the test server, to look at keys and end connections.
async fn raw(t: &TestCounters) -> redis::aio::MultiplexedConnection {
    redis::Client::open(t.url.as_str())
        .expect("the URL")
        .get_multiplexed_async_connection()
        .await
        .expect("a connection")
}

#[tokio::test]
async fn count_exactly_as_the_memory_counters_do() {
    let Some(t) = TestCounters::create("count_exactly_as_the_memory_counters_do").await else {
        return;
    };
    let memory = MemoryCounters::default();
    let mut rng = ChaCha8Rng::seed_from_u64(17);
    let limits = ["per_address", "per_code", "sms"];
    let keys = ["a", "b", "c:d", "*"];
    let mut now: i64 = 1_700_000_000_000;
    for step in 0..600 {
        now += rng.random_range(0..20_000);
        // One to three hits at once, the same pair twice now and then.
        let n = rng.random_range(1..=3);
        let hits: Vec<Hit<'_>> = (0..n)
            .map(|_| {
                let window = [60_000, 300_000, 1_000][rng.random_range(0..3)];
                hit(
                    limits[rng.random_range(0..limits.len())],
                    keys[rng.random_range(0..keys.len())],
                    now,
                    now + window,
                )
            })
            .collect();
        let expected = memory.hit_all(&hits).await.expect("memory counts");
        let got = t.counters.hit_all(&hits).await.expect("Redis counts");
        assert_eq!(got, expected, "step {step}: {hits:?}");
    }
}

#[tokio::test]
async fn instances_hitting_one_key_at_once_each_get_their_own_count() {
    let Some(t) = TestCounters::create("instances_hitting_one_key_at_once").await else {
        return;
    };
    let instances = [
        Arc::new(t.counters.clone()),
        Arc::new(t.another().await),
        Arc::new(t.another().await),
    ];
    let mut tasks = tokio::task::JoinSet::new();
    for i in 0..300 {
        let c = Arc::clone(&instances[i % instances.len()]);
        tasks.spawn(async move {
            c.hit(hit("per_code", "one", 1_000, 301_000))
                .await
                .expect("counts")
        });
    }
    let mut seen = HashSet::new();
    while let Some(count) = tasks.join_next().await {
        let count: Count = count.expect("the task");
        assert_eq!(count.window_end, UnixMs(301_000));
        assert!(seen.insert(count.hits), "count {} twice", count.hits);
    }
    assert_eq!(seen, (1..=300).collect::<HashSet<u32>>());
}

#[tokio::test]
async fn a_key_lives_until_its_window_ends_plus_the_slack() {
    let Some(t) = TestCounters::create("a_key_lives_until_its_window_ends").await else {
        return;
    };
    t.counters
        .hit(hit("per_address", "10.0.0.1", 5_000, 65_000))
        .await
        .expect("counts");
    let mut conn = raw(&t).await;
    let key = format!("{}:per_address:10.0.0.1", t.prefix);
    let ttl: i64 = redis::cmd("PTTL")
        .arg(&key)
        .query_async(&mut conn)
        .await
        .expect("PTTL");
    let full = 60_000 + i64::try_from(SLACK.as_millis()).expect("small");
    assert!(
        ttl > full - 10_000 && ttl <= full,
        "PTTL {ttl}, expected about {full}"
    );
    // A hit in the running window keeps the key's expiry.
    t.counters
        .hit(hit("per_address", "10.0.0.1", 6_000, 66_000))
        .await
        .expect("counts");
    let again: i64 = redis::cmd("PTTL")
        .arg(&key)
        .query_async(&mut conn)
        .await
        .expect("PTTL");
    assert!(again <= ttl, "PTTL went from {ttl} to {again}");
    assert_eq!(t.counters.delete_all().await.expect("deletes"), 1);
}

#[tokio::test]
async fn a_broken_connection_fails_at_most_the_call_in_flight_then_reconnects() {
    let Some(t) = TestCounters::create("a_broken_connection_fails_at_most").await else {
        return;
    };
    let mut own = t.counters.conn.clone();
    let id: i64 = redis::cmd("CLIENT")
        .arg("ID")
        .query_async(&mut own)
        .await
        .expect("CLIENT ID");
    let mut admin = raw(&t).await;
    let killed: i64 = redis::cmd("CLIENT")
        .arg("KILL")
        .arg("ID")
        .arg(id)
        .query_async(&mut admin)
        .await
        .expect("CLIENT KILL");
    assert_eq!(killed, 1);
    let mut failures = 0;
    let mut counted = Vec::new();
    for _ in 0..5 {
        match t.counters.hit(hit("l", "k", 1_000, 61_000)).await {
            Ok(count) => counted.push(count.hits),
            Err(e) => {
                assert!(e.is_unavailable(), "a broken connection is transient: {e}");
                assert!(e.to_string().contains("Redis at "), "{e}");
                failures += 1;
            }
        }
    }
    assert!(
        failures <= 1,
        "{failures} calls failed after one broken connection"
    );
    assert_eq!(counted.len(), 5 - failures);
    assert_eq!(counted.last().copied(), u32::try_from(counted.len()).ok());
    t.counters.ping().await.expect("answers again");
}

#[tokio::test]
async fn a_key_that_is_not_a_counter_is_a_fault_not_an_outage() {
    let Some(t) = TestCounters::create("a_key_that_is_not_a_counter").await else {
        return;
    };
    let mut conn = raw(&t).await;
    let key = format!("{}:l:junk", t.prefix);
    let () = redis::cmd("HSET")
        .arg(&key)
        .arg("end")
        .arg(i64::MAX / 2)
        .arg("hits")
        .arg("many")
        .query_async(&mut conn)
        .await
        .map(|_: i64| ())
        .expect("HSET");
    let e = t
        .counters
        .hit(hit("l", "junk", 1_000, 61_000))
        .await
        .expect_err("not an integer");
    assert!(
        matches!(
            e,
            StoreError::Counters {
                transient: false,
                ..
            }
        ),
        "{e:?}"
    );
    assert!(!e.is_unavailable());
}

#[tokio::test]
async fn a_server_that_cannot_be_reached_refuses_the_start_naming_it() {
    let port = {
        let l = std::net::TcpListener::bind("127.0.0.1:0").expect("a port");
        l.local_addr().expect("its address").port()
    };
    let e = RedisCounters::connect(&format!("redis://:secret@127.0.0.1:{port}/3"), "p")
        .await
        .expect_err("nothing listens there");
    let text = e.to_string();
    assert!(
        text.contains(&format!("Redis at 127.0.0.1:{port}/3")),
        "{text}"
    );
    assert!(!text.contains("secret"), "{text}");
    assert!(e.is_unavailable());
}

#[test]
fn only_redis_urls_are_accepted() {
    for (url, needle) in [
        (
            "rediss://127.0.0.1:6379",
            "`rediss` is not a supported scheme",
        ),
        (
            "redis+unix:///tmp/redis.sock",
            "`redis+unix` is not a supported scheme",
        ),
        ("http://127.0.0.1:6379", "`http` is not a supported scheme"),
        ("127.0.0.1:6379", "is not a supported scheme"),
        ("redis://127.0.0.1:6379/notanumber", "is not a Redis URL"),
    ] {
        let e = super::parse_url(url).expect_err(url);
        assert!(e.contains(needle), "{url}: {e}");
        assert!(
            e.contains("redis://[USER:PASSWORD@]HOST[:PORT][/DB]"),
            "{url}: {e}"
        );
    }
    super::parse_url("redis://127.0.0.1:6379/0").expect("a Redis URL");
    super::parse_url("redis://user:pw@localhost").expect("a Redis URL with credentials");
}
