//! Tests of what instances share in PostgreSQL, with two stores on one schema standing for two
//! instances: the token lock (one holder, a re-read after waiting, a bounded wait, released
//! when its holder dies, per schema), the generation the save compares, and shared counters.

use std::time::Duration;

use super::testing::TestDatabase;
use super::*;
use crate::store::shared::{Count, Hit, NewToken};
use crate::store::tests::T0;

/// A schema of its own for `test`, or `None` (skipped).
async fn database(test: &str) -> Option<TestDatabase> {
    TestDatabase::create(&format!("store::postgres::shared_tests::{test}")).await
}

fn token(sealed: &[u8], changed: bool) -> NewToken {
    NewToken {
        sealed: sealed.to_vec(),
        changed,
        expires_at: UnixMs(T0.0 + 7_200_000),
        refresh_at: UnixMs(T0.0 + 6_900_000),
        now: T0,
    }
}

const WAIT: Duration = Duration::from_secs(10);

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn an_instance_waiting_for_the_token_lock_reads_what_the_holder_saved() {
    let Some(db) = database("lock_reread").await else {
        return;
    };
    let (a, b) = (
        PostgresStore::open(&db.url()).await.expect("a"),
        PostgresStore::open(&db.url()).await.expect("b"),
    );
    let app = AppId::new("wx1");
    let held = TokenRows::lock(&a, &app, WAIT).await.expect("a locks");
    assert!(held.stored().is_none());
    let waiter = {
        let b = b.clone();
        let app = app.clone();
        tokio::spawn(async move { TokenRows::lock(&b, &app, WAIT).await })
    };
    let mut observer = db.connect().await;
    assert!(
        db.waits_for_a_lock(&mut observer, Duration::from_secs(5))
            .await,
        "b waits for a's lock"
    );
    let saved = held.save(token(b"t1", true)).await.expect("a saves");
    assert_eq!((saved.generation, saved.rejected), (1, false));
    let b_lock = waiter.await.expect("ran").expect("b locks after a");
    assert_eq!(b_lock.stored(), Some(&saved), "b reads the row again");
    // The same token again keeps the generation; a new one moves it on.
    let same = b_lock.save(token(b"t1", false)).await.expect("saves");
    assert_eq!(same.generation, 1);
    let lock = TokenRows::lock(&a, &app, WAIT).await.expect("locks");
    assert_eq!(
        lock.save(token(b"t2", true))
            .await
            .expect("saves")
            .generation,
        2
    );
    let read = TokenRows::read(&b, &app)
        .await
        .expect("reads")
        .expect("a row");
    assert_eq!((read.sealed.as_slice(), read.generation), (&b"t2"[..], 2));
    // A rejection marks that generation only.
    let lock = TokenRows::lock(&b, &app, WAIT).await.expect("locks");
    lock.reject().await.expect("rejects");
    assert!(
        TokenRows::read(&a, &app)
            .await
            .expect("reads")
            .expect("row")
            .rejected
    );
    let lock = TokenRows::lock(&a, &app, WAIT).await.expect("locks");
    let fresh = lock.save(token(b"t3", true)).await.expect("saves");
    assert_eq!((fresh.generation, fresh.rejected), (3, false));
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn the_wait_is_bounded_and_a_dead_holder_releases_the_lock() {
    let Some(db) = database("lock_bounded").await else {
        return;
    };
    let (a, b) = (
        PostgresStore::open(&db.url()).await.expect("a"),
        PostgresStore::open(&db.url()).await.expect("b"),
    );
    let app = AppId::new("wx1");
    let held = TokenRows::lock(&a, &app, WAIT).await.expect("a locks");
    let err = TokenRows::lock(&b, &app, Duration::from_millis(100))
        .await
        .err()
        .expect("b gives up");
    assert!(
        err.is_unavailable(),
        "a lock wait that ran out is transient: {err}"
    );
    // Another app's lock is free.
    let other = TokenRows::lock(&b, &AppId::new("wx2"), WAIT)
        .await
        .expect("free");
    other.reject().await.expect("ends its transaction");
    // The holder dies: its connection closes, and the lock with it.
    let waiter = {
        let b = b.clone();
        let app = app.clone();
        tokio::spawn(async move { TokenRows::lock(&b, &app, WAIT).await })
    };
    let mut observer = db.connect().await;
    assert!(
        db.waits_for_a_lock(&mut observer, Duration::from_secs(5))
            .await
    );
    let killed: i64 = sqlx::query_scalar(
        "SELECT count(pg_terminate_backend(pid)) FROM pg_stat_activity \
         WHERE application_name = $1 AND wait_event_type IS DISTINCT FROM 'Lock' \
         AND state = 'idle in transaction'",
    )
    .bind(db.schema())
    .fetch_one(&mut observer)
    .await
    .expect("terminates");
    assert_eq!(killed, 1, "the holder's connection");
    let lock = waiter.await.expect("ran").expect("b gets the lock");
    assert!(lock.stored().is_none(), "the dead holder wrote nothing");
    drop(held);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn a_save_never_replaces_a_newer_generation() {
    let Some(db) = database("lock_cas").await else {
        return;
    };
    let a = PostgresStore::open(&db.url()).await.expect("a");
    let app = AppId::new("wx1");
    let lock = TokenRows::lock(&a, &app, WAIT).await.expect("locks");
    lock.save(token(b"t1", true)).await.expect("saves");
    let lock = TokenRows::lock(&a, &app, WAIT).await.expect("locks");
    // A writer that ignores the lock moves the row on meanwhile.
    let mut rogue = db.connect().await;
    sqlx::query("UPDATE access_tokens SET generation = 5, sealed_token = 'new'")
        .execute(&mut rogue)
        .await
        .expect("updates");
    let err = lock.save(token(b"late", true)).await.expect_err("refused");
    assert!(matches!(err, StoreError::Contention(_)), "{err:?}");
    let row = TokenRows::read(&a, &app)
        .await
        .expect("reads")
        .expect("row");
    assert_eq!((row.sealed.as_slice(), row.generation), (&b"new"[..], 5));
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn token_locks_of_two_schemas_do_not_meet() {
    let (Some(x), Some(y)) = (
        database("lock_schema_x").await,
        database("lock_schema_y").await,
    ) else {
        return;
    };
    let (a, b) = (
        PostgresStore::open(&x.url()).await.expect("x"),
        PostgresStore::open(&y.url()).await.expect("y"),
    );
    let app = AppId::new("wx1");
    let _held = TokenRows::lock(&a, &app, WAIT).await.expect("x locks");
    let other = TokenRows::lock(&b, &app, Duration::from_millis(500)).await;
    assert!(
        other.is_ok(),
        "the same appid in another schema is another lock"
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn instances_count_against_one_limit() {
    let Some(db) = database("counters").await else {
        return;
    };
    let (a, b) = (
        PostgresStore::open(&db.url()).await.expect("a"),
        PostgresStore::open(&db.url()).await.expect("b"),
    );
    let hit = |key, now: i64, end: i64| Hit {
        limit: "login_per_address",
        key,
        now: UnixMs(now),
        window_end: UnixMs(end),
    };
    let count = |hits, end| Count {
        hits,
        window_end: UnixMs(end),
    };
    assert_eq!(
        Counters::hit(&a, hit("1.2.3.4", 0, 60)).await.expect("a"),
        count(1, 60)
    );
    assert_eq!(
        Counters::hit(&b, hit("1.2.3.4", 10, 70)).await.expect("b"),
        count(2, 60)
    );
    assert_eq!(
        Counters::hit(&b, hit("5.6.7.8", 10, 70)).await.expect("b"),
        count(1, 70)
    );
    // The window ended: a new one starts with its own end.
    assert_eq!(
        Counters::hit(&a, hit("1.2.3.4", 60, 120)).await.expect("a"),
        count(1, 120)
    );
    // 64 hits at once from both instances: each is counted once.
    let mut set = tokio::task::JoinSet::new();
    for i in 0..64 {
        let store = if i % 2 == 0 { a.clone() } else { b.clone() };
        set.spawn(async move {
            Counters::hit(&store, hit("9.9.9.9", 100, 160))
                .await
                .expect("counts")
                .hits
        });
    }
    let mut seen = Vec::new();
    while let Some(h) = set.join_next().await {
        seen.push(h.expect("ran"));
    }
    seen.sort_unstable();
    assert_eq!(seen, (1..=64).collect::<Vec<u32>>());
    assert_eq!(Counters::purge(&a, UnixMs(120)).await.expect("purges"), 2);
    assert_eq!(Counters::purge(&b, UnixMs(1000)).await.expect("purges"), 1);

    // Several limits in one statement, counted as one by one would count them, in order.
    let two = |now, end| {
        [
            Hit {
                limit: "login_per_address",
                key: "1.2.3.4",
                now: UnixMs(now),
                window_end: UnixMs(end),
            },
            Hit {
                limit: "login_per_code",
                key: "c0de",
                now: UnixMs(now),
                window_end: UnixMs(end + 240),
            },
        ]
    };
    assert_eq!(
        Counters::hit_all(&a, &two(2000, 2060)).await.expect("a"),
        [count(1, 2060), count(1, 2300)]
    );
    assert_eq!(
        Counters::hit_all(&b, &two(2010, 2070)).await.expect("b"),
        [count(2, 2060), count(2, 2300)]
    );
    assert_eq!(
        Counters::hit(&a, hit("1.2.3.4", 2020, 2080))
            .await
            .expect("a"),
        count(3, 2060)
    );
    // The same pair twice is counted twice (one by one).
    let twice = [hit("5.5.5.5", 3000, 3060), hit("5.5.5.5", 3000, 3060)];
    assert_eq!(
        Counters::hit_all(&a, &twice).await.expect("a"),
        [count(1, 3060), count(2, 3060)]
    );
    assert_eq!(Counters::hit_all(&a, &[]).await.expect("nothing"), []);
}
