//! The schema's versions: new, up to date, made by earlier builds, newer than this build,
//! opened twice at once, and a failing migration.

use sqlx::{Connection, SqliteConnection};

use super::super::schema::{MIGRATIONS, apply};
use super::*;

/// `user_version` of the database at `url`, read on a connection of its own.
async fn user_version(url: &str) -> i64 {
    let mut conn = SqliteConnection::connect(url).await.expect("connect");
    scalar(&mut conn, "PRAGMA user_version").await
}

/// The schema version login-core writes.
fn latest() -> i64 {
    i64::try_from(MIGRATIONS.len()).expect("small")
}

/// A plain connection that creates the file (and its folder) at `url`.
async fn create(dir: &tempfile::TempDir, url: &str) -> SqliteConnection {
    std::fs::create_dir_all(dir.path().join("data")).expect("data dir");
    let options = SqliteConnectOptions::from_str(url)
        .expect("url")
        .create_if_missing(true);
    SqliteConnection::connect_with(&options)
        .await
        .expect("create")
}

#[tokio::test]
async fn a_new_database_gets_every_migration_and_its_version() {
    let dir = tempfile::tempdir().expect("temp dir");
    let url = file_url(&dir);
    let store = SqliteStore::open(&url).await.expect("open");
    log_in(&store, "wxa", "o1", None, 1).await;
    store.close().await;
    assert_eq!(user_version(&url).await, latest());
    let memory = memory_store().await;
    assert_eq!(
        scalar(&memory.writer, "PRAGMA user_version").await,
        latest()
    );
}

#[tokio::test]
async fn a_database_made_with_the_sqlx_migrations_table_is_adopted_not_migrated_again() {
    let dir = tempfile::tempdir().expect("temp dir");
    let url = file_url(&dir);
    // What earlier builds left: the schema, sqlx's bookkeeping table, user_version 0.
    let mut conn = create(&dir, &url).await;
    sqlx::raw_sql(MIGRATIONS[0])
        .execute(&mut conn)
        .await
        .expect("schema");
    sqlx::raw_sql(
        "CREATE TABLE _sqlx_migrations (version BIGINT PRIMARY KEY, description TEXT NOT NULL, \
         installed_on TIMESTAMP NOT NULL DEFAULT CURRENT_TIMESTAMP, success BOOLEAN NOT NULL, \
         checksum BLOB NOT NULL, execution_time BIGINT NOT NULL); \
         INSERT INTO _sqlx_migrations (version, description, success, checksum, execution_time) \
         VALUES (1, 'init', TRUE, x'00', 1); \
         INSERT INTO users (id, created_at, updated_at) VALUES (7, 0, 0);",
    )
    .execute(&mut conn)
    .await
    .expect("legacy bookkeeping");
    conn.close().await.expect("close");

    let store = SqliteStore::open(&url)
        .await
        .expect("open a legacy database");
    assert_eq!(stats(&store).await, (1, 0, 0), "the data is kept");
    let out = log_in(&store, "wxa", "o1", None, 1).await;
    assert!(out.is_new);
    assert!(out.user.id.0 > 7, "ids go on after the kept user");
    store.close().await;
    assert_eq!(
        user_version(&url).await,
        latest(),
        "adopted at 1, then the later migrations ran"
    );
    let reopened = SqliteStore::open(&url).await.expect("reopen");
    assert_eq!(stats(&reopened).await, (2, 1, 1));
    let dropped = scalar(
        &reopened.reader,
        "SELECT count(*) FROM sqlite_schema WHERE name = 'sessions_identity'",
    )
    .await;
    assert_eq!(dropped, 0, "migration 2 ran on the adopted database");
}

#[tokio::test]
async fn a_database_of_a_newer_schema_is_refused_and_left_alone() {
    let dir = tempfile::tempdir().expect("temp dir");
    let url = file_url(&dir);
    let mut conn = create(&dir, &url).await;
    sqlx::raw_sql("CREATE TABLE future (x); PRAGMA user_version = 99;")
        .execute(&mut conn)
        .await
        .expect("a future schema");
    conn.close().await.expect("close");

    let err = SqliteStore::open(&url).await.expect_err("must refuse");
    let text = err.to_string();
    assert!(matches!(err, StoreError::Schema(_)), "{err:?}");
    assert!(text.contains("99") && text.contains("newer"), "{text}");
    assert_eq!(user_version(&url).await, 99);

    let mut conn = SqliteConnection::connect(&url).await.expect("connect");
    let tables: Vec<String> =
        sqlx::query_scalar("SELECT name FROM sqlite_schema WHERE type = 'table' ORDER BY name")
            .fetch_all(&mut conn)
            .await
            .expect("tables");
    assert_eq!(tables, ["future"], "nothing was created");
}

#[tokio::test]
async fn two_stores_opening_a_new_file_at_once_both_start() {
    let dir = tempfile::tempdir().expect("temp dir");
    let url = file_url(&dir);
    let (a, b) = tokio::join!(SqliteStore::open(&url), SqliteStore::open(&url));
    let (a, b) = (a.expect("first"), b.expect("second"));
    log_in(&a, "wxa", "o1", None, 1).await;
    let again = log_in(&b, "wxa", "o1", None, 2).await;
    assert!(!again.is_new, "both see one database");
    a.close().await;
    b.close().await;
    assert_eq!(user_version(&url).await, latest());
}

#[tokio::test]
async fn a_failing_migration_takes_the_whole_upgrade_back() {
    let mut conn = SqliteConnection::connect("sqlite::memory:")
        .await
        .expect("connect");
    let migrations = [
        "CREATE TABLE a (x)",
        "CREATE TABLE b (y); INSERT INTO nowhere VALUES (1);",
    ];
    let err = apply(&mut conn, &migrations)
        .await
        .expect_err("the second migration fails");
    let text = err.to_string();
    assert!(
        text.contains("migration 2") && text.contains("nowhere"),
        "{text}"
    );
    let (version, tables): (i64, i64) = sqlx::query_as(
        "SELECT user_version, (SELECT count(*) FROM sqlite_schema) FROM pragma_user_version",
    )
    .fetch_one(&mut conn)
    .await
    .expect("state");
    assert_eq!(
        (version, tables),
        (0, 0),
        "nothing of either migration is left"
    );

    apply(&mut conn, &migrations[..1])
        .await
        .expect("the first alone");
    apply(&mut conn, &migrations[..1])
        .await
        .expect("and again: nothing to do");
    assert_eq!(scalar(&mut conn, "PRAGMA user_version").await, 1);
}

#[tokio::test]
async fn a_negative_version_is_refused() {
    let mut conn = SqliteConnection::connect("sqlite::memory:")
        .await
        .expect("connect");
    sqlx::raw_sql("PRAGMA user_version = -3")
        .execute(&mut conn)
        .await
        .expect("set");
    let err = apply(&mut conn, MIGRATIONS).await.expect_err("refused");
    assert!(err.to_string().contains("-3"), "{err}");
}

#[test]
fn only_unnamed_memory_urls_are_private() {
    for url in [
        "sqlite::memory:",
        "sqlite://:memory:",
        "sqlite::memory:?cache=private",
    ] {
        assert!(is_private_memory(url), "{url}");
        assert!(is_memory(url), "{url}");
    }
    for url in [
        "sqlite://data/login.db",
        "sqlite:file:shared?mode=memory&cache=shared",
        "sqlite://?mode=memory",
    ] {
        assert!(!is_private_memory(url), "{url}");
    }
}

#[tokio::test]
async fn a_named_memory_database_is_migrated_once_and_shared() {
    let url = "sqlite:file:login-core-schema-test?mode=memory&cache=shared";
    let first = SqliteStore::open(url).await.expect("first");
    log_in(&first, "wxa", "o1", None, 1).await;
    let second = SqliteStore::open(url)
        .await
        .expect("second: the schema is there");
    assert_eq!(stats(&second).await, (1, 1, 1), "both see one database");
}

#[tokio::test]
async fn a_version_2_database_with_sessions_is_migrated_by_a_running_writer() {
    // The writer connection creates its temporary login trigger (which names `sessions`)
    // before it migrates: migration 3 copies `sessions` under it.
    let dir = tempfile::tempdir().expect("temp dir");
    let url = file_url(&dir);
    let mut conn = create(&dir, &url).await;
    apply(&mut conn, &MIGRATIONS[..2]).await.expect("version 2");
    sqlx::raw_sql(
        "INSERT INTO users (id, created_at, updated_at) VALUES (5, 0, 0); \
         INSERT INTO identities (appid, openid, user_id, session_key, created_at, updated_at) \
         VALUES ('wxa', 'o5', 5, x'01', 0, 0); \
         INSERT INTO sessions (token_hash, user_id, appid, openid, created_at, expires_at, \
         absolute_expires_at) VALUES (zeroblob(32), 5, 'wxa', 'o5', 0, 1, 2);",
    )
    .execute(&mut conn)
    .await
    .expect("version 2 data");
    conn.close().await.expect("close");

    let store = SqliteStore::open(&url).await.expect("migrates");
    let kept = store
        .session(&TokenHash([0; 32]))
        .await
        .expect("read")
        .expect("the session is kept");
    assert_eq!(kept.openid, Some(OpenId::new("o5")));
    assert_eq!(kept.absolute_expires_at, UnixMs(2));
    // The login trigger writes into the new table.
    let out = log_in(&store, "wxa", "o5", None, 1).await;
    assert_eq!(out.user.id, UserId(5));
    assert_eq!(stats(&store).await, (1, 1, 2));
    let indexes: Vec<String> = sqlx::query_scalar(
        "SELECT name FROM sqlite_schema WHERE type = 'index' AND tbl_name = 'sessions' \
         AND sql IS NOT NULL ORDER BY name",
    )
    .fetch_all(&store.reader)
    .await
    .expect("indexes");
    assert_eq!(
        indexes,
        ["sessions_end", "sessions_revoked", "sessions_user"]
    );
    let fk_problems: i64 = scalar(
        &store.reader,
        "SELECT count(*) FROM pragma_foreign_key_check",
    )
    .await;
    assert_eq!(fk_problems, 0);
    store.close().await;
    assert_eq!(user_version(&url).await, latest());
}
