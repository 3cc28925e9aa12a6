//! Tests of the PostgreSQL store's own machinery: schema versions, several stores on one
//! database, a server that cannot be reached, connections that break, and the pool (a
//! statement, a transaction or a token lock dropped midway, a full pool). What every store
//! must do is tested for each backend in `store/tests/`.

use std::sync::Arc;
use std::time::Duration;

use super::schema::{MIGRATIONS, apply};
use super::testing::TestDatabase;
use super::*;
use crate::store::shared::NewToken;
use crate::store::tests::{T0, login, stats};

/// A schema of its own for `test`, or `None` (skipped).
async fn database(test: &str) -> Option<TestDatabase> {
    TestDatabase::create(&format!("store::postgres::tests::{test}")).await
}

/// A store on `db` with a pool of `max_connections`, waiting `acquire_timeout` for one.
async fn store_with(
    db: &TestDatabase,
    max_connections: u32,
    acquire_timeout: Duration,
) -> PostgresStore {
    let pool = PoolConfig {
        max_connections,
        acquire_timeout,
    };
    PostgresStore::open_with(&db.url(), pool)
        .await
        .expect("opens")
}

/// The server process of the connection a statement of `store` runs on.
async fn backend_pid(store: &PostgresStore) -> i32 {
    let pid: Result<i32, StoreError> = statement!(store, |conn| {
        Ok(sqlx::query_scalar("SELECT pg_backend_pid()")
            .fetch_one(&mut *conn)
            .await?)
    });
    pid.expect("a connection answers")
}

/// The server process of the store's connection (of `db`'s schema) that runs a statement
/// starting with `start`, once one does (within 5 s; asked again as soon as each answer
/// arrives, as [`TestDatabase::waits_for_a_lock`] does).
async fn running(db: &TestDatabase, observer: &mut PgConnection, start: &str) -> i32 {
    let deadline = std::time::Instant::now() + Duration::from_secs(5);
    while std::time::Instant::now() < deadline {
        let pid: Option<i32> = sqlx::query_scalar(
            "SELECT pid FROM pg_stat_activity WHERE application_name = $1 \
             AND state = 'active' AND starts_with(query, $2)",
        )
        .bind(db.schema())
        .bind(start)
        .fetch_optional(&mut *observer)
        .await
        .expect("activity");
        if let Some(pid) = pid {
            return pid;
        }
    }
    panic!("no connection of the store runs `{start}`");
}

/// Whether the server process `pid` is gone (within 10 s; asked again as each answer arrives).
async fn ends(observer: &mut PgConnection, pid: i32) -> bool {
    let deadline = std::time::Instant::now() + Duration::from_secs(10);
    while std::time::Instant::now() < deadline {
        let alive: bool =
            sqlx::query_scalar("SELECT EXISTS (SELECT 1 FROM pg_stat_activity WHERE pid = $1)")
                .bind(pid)
                .fetch_one(&mut *observer)
                .await
                .expect("activity");
        if !alive {
            return true;
        }
    }
    false
}

/// How many connections of `db`'s schema are in a transaction and waiting for their client.
async fn idle_in_transaction(db: &TestDatabase, observer: &mut PgConnection) -> i64 {
    sqlx::query_scalar(
        "SELECT count(*) FROM pg_stat_activity WHERE application_name = $1 \
         AND state LIKE 'idle in transaction%'",
    )
    .bind(db.schema())
    .fetch_one(&mut *observer)
    .await
    .expect("activity")
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

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_statement_dropped_midway_leaves_its_connection_working() {
    let Some(db) = database("dropped_statement").await else {
        return;
    };
    // One connection: whatever runs next runs on the connection the dropped statement had.
    let store = Arc::new(store_with(&db, 1, Duration::from_secs(10)).await);
    store
        .record_login(login("wxa", "o1", None, 1, T0))
        .await
        .expect("login");
    let pid = backend_pid(&store).await;

    let sleeping = {
        let store = Arc::clone(&store);
        tokio::spawn(async move {
            statement!(store, |conn| {
                sqlx::query("SELECT pg_sleep(1)")
                    .execute(&mut *conn)
                    .await?;
                Ok(())
            })
        })
    };
    let mut observer = db.connect().await;
    assert_eq!(running(&db, &mut observer, "SELECT pg_sleep").await, pid);
    // Dropped while the server runs it: its answer is still to come on the connection.
    sleeping.abort();
    assert!(sleeping.await.expect_err("dropped").is_cancelled());

    // The connection is pinged before its next use, which reads that answer first.
    assert_eq!(stats(store.as_ref()).await, (1, 1, 1));
    assert_eq!(backend_pid(&store).await, pid, "the same connection");
    let again = store
        .record_login(login("wxa", "o2", None, 2, T0))
        .await
        .expect("the next login works");
    assert!(again.is_new);
    assert_eq!(stats(store.as_ref()).await, (2, 2, 2));
    assert_eq!(store.pool.size(), 1);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_transaction_dropped_midway_closes_its_connection_and_writes_nothing() {
    let Some(db) = database("dropped_transaction").await else {
        return;
    };
    let store = Arc::new(store_with(&db, 1, Duration::from_secs(10)).await);
    let first = store
        .record_login(login("wxa", "o1", None, 1, T0))
        .await
        .expect("login");
    let id = first.user.id;

    // A transaction that changes the user, then sleeps before it commits.
    let sleeping = {
        let store = Arc::clone(&store);
        tokio::spawn(async move {
            transaction!(store, Isolation::ReadCommitted, |tx| {
                sqlx::query("UPDATE users SET updated_at = 42 WHERE id = $1")
                    .bind(id.0)
                    .execute(&mut *tx)
                    .await?;
                sqlx::query("SELECT pg_sleep(3)").execute(&mut *tx).await?;
                commit(())
            })
        })
    };
    let mut observer = db.connect().await;
    let pid = running(&db, &mut observer, "SELECT pg_sleep").await;
    sleeping.abort();
    assert!(sleeping.await.expect_err("dropped").is_cancelled());

    // The pool's one place is free at once, for a new connection: had the old one come back,
    // this would wait for its sleep and then run inside its transaction.
    let started = std::time::Instant::now();
    let again = store
        .record_login(login("wxa", "o2", None, 2, T0))
        .await
        .expect("the next login works");
    assert!(again.is_new);
    assert!(
        started.elapsed() < Duration::from_secs(2),
        "not behind the sleep: {:?}",
        started.elapsed()
    );
    assert_ne!(backend_pid(&store).await, pid, "a new connection");
    // Committed: another connection sees it.
    let users: i64 = sqlx::query_scalar("SELECT count(*) FROM users")
        .fetch_one(&mut observer)
        .await
        .expect("count");
    assert_eq!(users, 2);
    // The old connection's server process ends once its sleep does, and rolls back.
    assert!(
        ends(&mut observer, pid).await,
        "the dropped connection's process ends"
    );
    let updated_at: i64 = sqlx::query_scalar("SELECT updated_at FROM users WHERE id = $1")
        .bind(id.0)
        .fetch_one(&mut observer)
        .await
        .expect("the user");
    assert_ne!(updated_at, 42, "the dropped transaction wrote nothing");
    assert_eq!(idle_in_transaction(&db, &mut observer).await, 0);
    assert_eq!(store.pool.size(), 1);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn a_token_lock_dropped_unfinished_ends_its_transaction_and_its_lock() {
    let Some(db) = database("dropped_lock").await else {
        return;
    };
    let (a, b) = (
        store_with(&db, 1, Duration::from_secs(5)).await,
        PostgresStore::open(&db.url()).await.expect("b"),
    );
    let app = AppId::new("wx1");
    let held = TokenRows::lock(&a, &app, Duration::from_secs(5))
        .await
        .expect("a locks");
    drop(held);

    // Had the connection gone back to a's pool, its transaction would hold the lock still:
    // b would wait its whole second and fail.
    let lock = TokenRows::lock(&b, &app, Duration::from_secs(1))
        .await
        .expect("b gets the lock the dropped one held");
    lock.reject().await.expect("ends its transaction");
    let mut observer = db.connect().await;
    assert_eq!(idle_in_transaction(&db, &mut observer).await, 0);

    // a's one place in its pool is free for a new connection.
    let lock = TokenRows::lock(&a, &app, Duration::from_secs(1))
        .await
        .expect("a locks again");
    let token = NewToken {
        sealed: b"t1".to_vec(),
        changed: true,
        expires_at: UnixMs(T0.0 + 7_200_000),
        refresh_at: UnixMs(T0.0 + 6_900_000),
        now: T0,
    };
    let saved = lock.save(token).await.expect("saves");
    assert_eq!(saved.generation, 1);
    assert_eq!(a.pool.size(), 1);
    assert_eq!(idle_in_transaction(&db, &mut observer).await, 0);
}

#[tokio::test]
async fn a_request_that_finds_the_pool_full_fails_after_the_acquire_timeout() {
    let Some(db) = database("pool_full").await else {
        return;
    };
    let wait = Duration::from_millis(300);
    let store = store_with(&db, 1, wait).await;
    let held = store.pool.acquire().await.expect("the one connection");

    let started = std::time::Instant::now();
    let err = store.stats().await.expect_err("no connection to be had");
    let waited = started.elapsed();
    assert!(
        matches!(err, StoreError::Database(sqlx::Error::PoolTimedOut)),
        "{err:?}"
    );
    assert!(err.is_unavailable(), "HTTP 503: {err}");
    assert!(waited >= wait, "waited the acquire timeout: {waited:?}");
    assert!(waited < Duration::from_secs(5), "and no longer: {waited:?}");

    drop(held);
    assert_eq!(stats(&store).await, (0, 0, 0), "the connection is back");
}

/// A first login returns its new user without reading it back (migration 0004): what it
/// returns must be what a read finds, in each way a user is created.
#[tokio::test]
async fn a_new_user_is_returned_as_it_is_stored() {
    let Some(db) = database("a_new_user_is_returned_as_it_is_stored").await else {
        return;
    };
    let store = store_with(&db, 2, Duration::from_secs(5)).await;
    let cases = [
        login("wxapp1", "o-plain", None, 1, T0),
        login("wxapp1", "o-union", Some("u-1"), 2, T0),
        // The unionid's holder already has an openid in this app: a user of its own, without
        // the unionid (WeChat broke its own rule).
        login("wxapp1", "o-union-2", Some("u-1"), 3, UnixMs(T0.0 + 5)),
    ];
    for write in cases {
        let outcome = store.record_login(write.clone()).await.expect("logs in");
        assert!(outcome.is_new, "{write:?}");
        let stored = store
            .user(outcome.user.id)
            .await
            .expect("reads")
            .expect("the user exists");
        assert_eq!(outcome.user, stored, "{write:?}");
        assert_eq!(outcome.user.created_at, write.now);
    }
    // The known user's path still reads it back: a second app's identity joins by unionid.
    let joined = store
        .record_login(login("wxapp2", "o-other-app", Some("u-1"), 4, T0))
        .await
        .expect("logs in");
    assert!(!joined.is_new);
    assert_eq!(joined.user.identities.len(), 2);
}

/// Migration 0005 turns the one-owner-per-number key into a unique index over numbered rows:
/// on a database that has users (numbered and not), the rule holds afterwards as before, a
/// clash is still a violation of `users_phone`, and numberless users still never clash.
#[tokio::test]
async fn the_phone_key_keeps_one_owner_per_number_across_migration_5() {
    let Some(db) = database("phone_key_migration_5").await else {
        return;
    };
    let mut conn = db.connect().await;
    apply(&mut conn, &MIGRATIONS[..4]).await.expect("up to 4");
    let insert = "INSERT INTO users (phone_number, pure_phone_number, country_code, created_at, \
                  updated_at) VALUES ($1, $2, $3, 0, 0)";
    for number in [None, None, Some("13800000001")] {
        sqlx::query(insert)
            .bind(number.map(|n| format!("+86{n}")))
            .bind(number)
            .bind(number.map(|_| "86"))
            .execute(&mut conn)
            .await
            .expect("a user under 0004");
    }
    apply(&mut conn, MIGRATIONS)
        .await
        .expect("up to the latest");
    let (unique, partial): (bool, bool) = sqlx::query_as(
        "SELECT i.indisunique, i.indpred IS NOT NULL FROM pg_index i \
         JOIN pg_class c ON c.oid = i.indexrelid \
         WHERE c.relname = 'users_phone' AND c.relnamespace = current_schema()::regnamespace",
    )
    .fetch_one(&mut conn)
    .await
    .expect("the key exists");
    assert!(unique && partial, "unique {unique}, partial {partial}");

    let clash = sqlx::query(insert)
        .bind("+8613800000001")
        .bind("13800000001")
        .bind("86")
        .execute(&mut conn)
        .await
        .expect_err("the number has an owner");
    let db_err = clash.as_database_error().expect("a database error");
    assert_eq!(db_err.code().as_deref(), Some("23505"), "{clash}");
    assert_eq!(db_err.constraint(), Some("users_phone"), "{clash}");
    // The same number under another country code is another number.
    sqlx::query(insert)
        .bind("+85213800000001")
        .bind("13800000001")
        .bind("852")
        .execute(&mut conn)
        .await
        .expect("another country's number");
    sqlx::query(insert)
        .bind(None::<String>)
        .bind(None::<String>)
        .bind(None::<String>)
        .execute(&mut conn)
        .await
        .expect("numberless users never clash");
    let users: i64 = sqlx::query_scalar("SELECT count(*) FROM users")
        .fetch_one(&mut conn)
        .await
        .expect("count");
    assert_eq!(users, 5);
}
