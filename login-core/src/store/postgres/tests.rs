//! Tests of the PostgreSQL store's own machinery: schema versions, several stores on one
//! database, a server that cannot be reached, and connections that break. What every store
//! must do is tested for each backend in `store/tests/`.

use std::sync::Arc;
use std::time::Duration;

use super::schema::{MIGRATIONS, apply};
use super::testing::TestDatabase;
use super::*;
use crate::store::tests::{T0, login, stats};

/// A schema of its own for `test`, or `None` (skipped).
async fn database(test: &str) -> Option<TestDatabase> {
    TestDatabase::create(&format!("store::postgres::tests::{test}")).await
}

/// The version the schema records, read on a connection of its own.
async fn version(db: &TestDatabase) -> i64 {
    let mut conn = db.connect().await;
    sqlx::query_scalar("SELECT version FROM login_core_schema")
        .fetch_one(&mut conn)
        .await
        .expect("the version row")
}

#[tokio::test]
async fn a_new_schema_gets_every_migration_once_even_when_opened_twice_at_once() {
    let Some(db) = database("schema_new").await else {
        return;
    };
    let url = db.url();
    let (a, b) = tokio::join!(PostgresStore::open(&url), PostgresStore::open(&url));
    let (a, b) = (a.expect("first"), b.expect("second"));
    a.record_login(login("wxa", "o1", None, 1, T0))
        .await
        .expect("login");
    let again = b
        .record_login(login("wxa", "o1", None, 2, T0))
        .await
        .expect("login");
    assert!(!again.is_new, "both see one database");
    assert_eq!(
        version(&db).await,
        i64::try_from(MIGRATIONS.len()).expect("few")
    );
    a.close().await;
    let reopened = PostgresStore::open(&url)
        .await
        .expect("reopen: nothing to do");
    assert_eq!(stats(&reopened).await, (1, 1, 2));
}

#[tokio::test]
async fn a_schema_of_a_newer_version_is_refused_and_left_alone() {
    let Some(db) = database("schema_newer").await else {
        return;
    };
    let mut conn = db.connect().await;
    sqlx::raw_sql(
        "CREATE TABLE login_core_schema (one BOOLEAN PRIMARY KEY DEFAULT TRUE CHECK (one), \
         version BIGINT NOT NULL); INSERT INTO login_core_schema VALUES (TRUE, 99); \
         CREATE TABLE future (x INT);",
    )
    .execute(&mut conn)
    .await
    .expect("a future schema");
    let err = PostgresStore::open(&db.url()).await.expect_err("refused");
    let text = err.to_string();
    assert!(matches!(err, StoreError::Schema(_)), "{err:?}");
    assert!(text.contains("99") && text.contains("newer"), "{text}");
    let tables: Vec<String> = sqlx::query_scalar(
        "SELECT tablename::text FROM pg_tables WHERE schemaname = current_schema() \
         ORDER BY tablename",
    )
    .fetch_all(&mut conn)
    .await
    .expect("tables");
    assert_eq!(
        tables,
        ["future", "login_core_schema"],
        "nothing was created"
    );
}

#[tokio::test]
async fn a_failing_migration_takes_the_whole_upgrade_back() {
    let Some(db) = database("schema_failing").await else {
        return;
    };
    let mut conn = db.connect().await;
    let migrations = [
        "CREATE TABLE a (x INT)",
        "CREATE TABLE b (y INT); INSERT INTO nowhere VALUES (1);",
    ];
    let err = apply(&mut conn, &migrations)
        .await
        .expect_err("the second fails");
    let text = err.to_string();
    assert!(
        text.contains("migration 2") && text.contains("nowhere"),
        "{text}"
    );
    let tables: i64 =
        sqlx::query_scalar("SELECT count(*) FROM pg_tables WHERE schemaname = current_schema()")
            .fetch_one(&mut conn)
            .await
            .expect("count");
    assert_eq!(
        tables, 0,
        "nothing of either migration is left, nor the version table"
    );
    apply(&mut conn, &migrations[..1])
        .await
        .expect("the first alone");
    apply(&mut conn, &migrations[..1])
        .await
        .expect("and again: nothing to do");
    let v: i64 = sqlx::query_scalar("SELECT version FROM login_core_schema")
        .fetch_one(&mut conn)
        .await
        .expect("version");
    assert_eq!(v, 1);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn several_stores_on_one_database_still_create_one_user_per_person() {
    // Like several login-core processes behind one balancer.
    let Some(db) = database("several_stores").await else {
        return;
    };
    let stores: Vec<Arc<PostgresStore>> = vec![
        Arc::new(PostgresStore::open(&db.url()).await.expect("open")),
        Arc::new(PostgresStore::open(&db.url()).await.expect("open")),
        Arc::new(PostgresStore::open(&db.url()).await.expect("open")),
    ];
    let tasks: Vec<_> = (0..24u8)
        .map(|i| {
            let store = Arc::clone(&stores[usize::from(i) % 3]);
            let (appid, openid) = if i % 2 == 0 {
                ("wxa", "a1")
            } else {
                ("wxb", "b1")
            };
            let write = login(appid, openid, Some("u1"), i, T0);
            tokio::spawn(async move { store.record_login(write).await })
        })
        .collect();
    let mut created = 0;
    for task in tasks {
        created += usize::from(task.await.expect("task").expect("login").is_new);
    }
    assert_eq!(created, 1);
    for store in &stores {
        assert_eq!(stats(store.as_ref()).await, (1, 2, 24));
    }
}

#[tokio::test]
async fn a_server_that_cannot_be_reached_is_a_clear_error_at_once() {
    // A port nobody listens on.
    let port = std::net::TcpListener::bind("127.0.0.1:0")
        .and_then(|l| l.local_addr())
        .expect("a free port")
        .port();
    let url = format!("postgres://postgres:secret@127.0.0.1:{port}/test");
    let started = std::time::Instant::now();
    let err = PostgresStore::open(&url).await.expect_err("nobody listens");
    assert!(
        started.elapsed() < Duration::from_secs(5),
        "at once, not after retries"
    );
    let text = err.to_string();
    assert!(matches!(err, StoreError::Unreachable { .. }), "{err:?}");
    assert!(
        text.contains(&format!("127.0.0.1:{port}/test")) && text.contains("PostgreSQL"),
        "{text}"
    );
    assert!(!text.contains("secret"), "{text}");
    assert!(err.is_unavailable());
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_connection_broken_mid_transaction_writes_nothing_and_the_next_call_reconnects() {
    let Some(db) = database("broken_connection").await else {
        return;
    };
    let store = Arc::new(PostgresStore::open(&db.url()).await.expect("open"));
    store
        .record_login(login("wxa", "o1", None, 1, T0))
        .await
        .expect("login");
    let before = store.stats().await.expect("stats");

    // Hold the sessions table, so that the next login stops inside its transaction, after
    // it created its user and identity.
    let mut holder = db.connect().await;
    sqlx::raw_sql("BEGIN; LOCK TABLE sessions IN ACCESS EXCLUSIVE MODE;")
        .execute(&mut holder)
        .await
        .expect("lock");
    let blocked = {
        let store = Arc::clone(&store);
        tokio::spawn(async move { store.record_login(login("wxa", "o2", None, 2, T0)).await })
    };
    let mut observer = db.connect().await;
    let waiting = db
        .waits_for_a_lock(&mut observer, Duration::from_secs(3))
        .await;
    assert!(waiting, "the login waits for the lock");
    assert!(db.terminate_connections().await >= 1);
    sqlx::raw_sql("COMMIT")
        .execute(&mut holder)
        .await
        .expect("unlock");

    let err = blocked
        .await
        .expect("task")
        .expect_err("its connection was closed");
    assert!(err.is_unavailable(), "{err:?}");
    assert_eq!(
        store.stats().await.expect("the pool reconnects"),
        before,
        "nothing of the broken login is left"
    );
    let again = store
        .record_login(login("wxa", "o2", None, 3, T0))
        .await
        .expect("the next login works");
    assert!(again.is_new);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn connections_closed_while_idle_fail_at_most_one_request() {
    let Some(db) = database("closed_idle").await else {
        return;
    };
    let store = Arc::new(PostgresStore::open(&db.url()).await.expect("opens"));
    store
        .record_login(login("wxa", "o0", None, 0, T0))
        .await
        .expect("login");
    // Four connections at once (each held while the next is taken), each then done as after
    // a statement, so none of them is pinged when next handed out (it has not been idle for a
    // second), all idle afterwards: back in the pool as they are dropped.
    let mut held = Vec::new();
    for _ in 0..4 {
        held.push(store.pool.acquire().await.expect("a connection"));
    }
    for conn in &mut held {
        conn.done();
    }
    drop(held);
    assert_eq!(store.pool.idle(), 4, "four idle connections");
    let closed = db.terminate_connections().await;
    assert!(closed >= 4, "four idle connections: {closed}");

    // The first statement meets a closed connection and fails (its request is answered 503,
    // and may be retried); the pool then tests the others before use, so every later one
    // gets a live connection.
    let mut failures = 0;
    for i in 0..2 * closed {
        match store.stats().await {
            Ok(stats) => assert_eq!(stats.users, 1),
            Err(e) => {
                assert!(e.is_unavailable(), "{e:?}");
                assert_eq!(i, 0, "only the first request fails: {e}");
                failures += 1;
            }
        }
    }
    assert!(failures <= 1);
    let again = store
        .record_login(login("wxa", "o9", None, 9, T0))
        .await
        .expect("the next login works");
    assert!(again.is_new);
}
