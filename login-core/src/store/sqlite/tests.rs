//! Tests of the SQLite store's own machinery against temp-file and in-memory databases: the
//! file, its pragmas, its schema versions, the group commit. What every store must do is
//! tested for each backend in `store/tests/`.

use std::sync::Arc;

use super::*;
use crate::store::tests::*;

mod batch;
mod schema;

/// A store on a fresh file in a temp directory (kept alive by the returned guard).
async fn file_store() -> (SqliteStore, tempfile::TempDir) {
    let dir = tempfile::tempdir().expect("temp dir");
    let store = SqliteStore::open(&file_url(&dir)).await.expect("open");
    (store, dir)
}

/// The URL of the database file in `dir`, in a subdirectory that does not exist yet.
fn file_url(dir: &tempfile::TempDir) -> String {
    format!("sqlite://{}/data/login.db", dir.path().display())
}

async fn memory_store() -> SqliteStore {
    SqliteStore::open("sqlite::memory:")
        .await
        .expect("open memory")
}

/// The one integer `sql` reads (a PRAGMA, a count) through `conn`.
async fn scalar<'c>(conn: impl sqlx::SqliteExecutor<'c>, sql: &'c str) -> i64 {
    sqlx::query_scalar(sql)
        .fetch_one(conn)
        .await
        .unwrap_or_else(|e| panic!("{sql}: {e}"))
}

#[tokio::test]
async fn data_survives_reopen_and_migrations_rerun_idempotently() {
    let dir = tempfile::tempdir().expect("temp dir");
    let url = file_url(&dir);
    let store = SqliteStore::open(&url).await.expect("open");
    let out = log_in(&store, "wxa", "o1", Some("u1"), 1).await;
    drop(store);

    let reopened = SqliteStore::open(&url).await.expect("reopen");
    assert_eq!(stats(&reopened).await, (1, 1, 1));
    assert_eq!(
        reopened.user(out.user.id).await.expect("user"),
        Some(out.user.clone())
    );
    let version = scalar(&reopened.reader, "PRAGMA user_version").await;
    assert_eq!(
        version,
        i64::try_from(super::schema::MIGRATIONS.len()).expect("small")
    );
    reopened.close().await;

    // Open again after a clean close: still there, and the file is in WAL mode.
    let third = SqliteStore::open(&url).await.expect("third open");
    let mode: String = sqlx::query_scalar("PRAGMA journal_mode")
        .fetch_one(&third.writer)
        .await
        .expect("journal mode");
    assert_eq!(mode, "wal");
    let again = log_in(&third, "wxa", "o1", Some("u1"), 2).await;
    assert_eq!((again.user.id, again.is_new), (out.user.id, false));
}

#[tokio::test]
async fn pragmas_are_durable_and_readers_cannot_write() {
    let (store, _dir) = file_store().await;
    let sync = scalar(&store.writer, "PRAGMA synchronous").await;
    assert_eq!(sync, 2, "synchronous = FULL");
    let fk = scalar(&store.writer, "PRAGMA foreign_keys").await;
    assert_eq!(fk, 1);
    let write = sqlx::query("INSERT INTO users (created_at, updated_at) VALUES (0, 0)")
        .execute(&store.reader)
        .await;
    assert!(write.is_err(), "reader pool must be read-only");
    assert_eq!(stats(&store).await, (0, 0, 0));
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn two_stores_on_one_file_still_create_one_user() {
    // Like two processes: each has its own writer; BEGIN IMMEDIATE serializes them.
    let dir = tempfile::tempdir().expect("temp dir");
    let url = file_url(&dir);
    let a = Arc::new(SqliteStore::open(&url).await.expect("open a"));
    let b = Arc::new(SqliteStore::open(&url).await.expect("open b"));
    let tasks: Vec<_> = (0..16u8)
        .map(|i| {
            let store = Arc::clone(if i % 2 == 0 { &a } else { &b });
            tokio::spawn(async move {
                store
                    .record_login(login("wxa", "o1", Some("u1"), i, T0))
                    .await
            })
        })
        .collect();
    let mut created = 0;
    for task in tasks {
        created += usize::from(task.await.expect("task").expect("login").is_new);
    }
    assert_eq!(created, 1);
    assert_eq!(stats(a.as_ref()).await, (1, 1, 16));
    assert_eq!(stats(b.as_ref()).await, (1, 1, 16));
}

#[tokio::test]
async fn purge_uses_the_indexes() {
    let (store, _dir) = file_store().await;
    let plan: Vec<(i64, i64, i64, String)> = sqlx::query_as(
        "EXPLAIN QUERY PLAN DELETE FROM sessions WHERE revoked_at < ?1 \
         OR min(expires_at, absolute_expires_at) < ?1",
    )
    .bind(T0.0)
    .fetch_all(&store.writer)
    .await
    .expect("plan");
    let plan: Vec<String> = plan.into_iter().map(|(_, _, _, detail)| detail).collect();
    assert!(plan.iter().any(|d| d.contains("sessions_end")), "{plan:?}");
    assert!(
        plan.iter().any(|d| d.contains("sessions_revoked")),
        "{plan:?}"
    );
}
