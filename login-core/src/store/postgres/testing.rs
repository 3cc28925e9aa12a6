//! Support for tests against a real PostgreSQL server (this crate's and its integration
//! tests'); the service never uses it.
//!
//! The server is named by the environment variable [`ENV`] (for example
//! `postgres://postgres@127.0.0.1:5432/test`). Each test gets a schema of its own, with a
//! random name under [`PREFIX`], created when it starts and dropped (on a connection of its
//! own) when its [`TestDatabase`] is dropped, also when the test fails. Schemas older than an
//! hour left by runs that were killed are dropped by the first test of the next run.
//!
//! Unset, the tests say they are skipped and pass, so that the workspace's tests need no
//! server; with `CI=true` they fail instead, naming the variable.

use std::str::FromStr;
use std::sync::atomic::{AtomicBool, Ordering};
use std::time::{Duration, SystemTime, UNIX_EPOCH};

use sqlx::postgres::PgConnectOptions;
use sqlx::{Connection, Executor, PgConnection};

/// The environment variable naming the test server.
pub const ENV: &str = "LOGIN_CORE_TEST_POSTGRES";

/// The start of every test schema's name: `lc_test_<unix seconds>_<random>`.
pub const PREFIX: &str = "lc_test_";

/// How old a test schema must be before another run drops it as left over.
const STALE: Duration = Duration::from_secs(3600);

/// Whether this process has dropped the left-over schemas yet.
static SWEPT: AtomicBool = AtomicBool::new(false);

/// The test server's URL; `None` (after printing why) when the tests are to be skipped.
///
/// # Panics
///
/// When [`ENV`] is unset and `CI` is `true`: CI must run these tests.
pub fn server_url(test: &str) -> Option<String> {
    match std::env::var(ENV) {
        Ok(url) if !url.trim().is_empty() => Some(url),
        _ if std::env::var("CI").is_ok_and(|v| v == "true") => {
            panic!(
                "{ENV} is not set, and CI=true: PostgreSQL tests must run in CI \
                 (set {ENV}=postgres://postgres@127.0.0.1:5432/test)"
            )
        }
        _ => {
            eprintln!(
                "skipped {test}: {ENV} is not set (e.g. {ENV}=postgres://postgres@127.0.0.1:5432/test)"
            );
            None
        }
    }
}

/// A schema of its own on the test server, dropped with this value.
#[derive(Debug)]
pub struct TestDatabase {
    server: String,
    schema: String,
}

impl TestDatabase {
    /// Creates a new schema on the server [`ENV`] names; `None` when the test is skipped
    /// (see [`server_url`]).
    ///
    /// # Panics
    ///
    /// When the server cannot be reached or the schema cannot be created: a test failure.
    pub async fn create(test: &str) -> Option<TestDatabase> {
        let server = server_url(test)?;
        Some(
            Self::create_on(&server)
                .await
                .unwrap_or_else(|e| panic!("{ENV}: {e}")),
        )
    }

    /// Creates a new schema on the server at `server` (a PostgreSQL URL): for tools that run
    /// login-core on a database of their own for a while (the harness's clusters).
    pub async fn create_on(server: &str) -> Result<TestDatabase, String> {
        let mut conn = PgConnection::connect(server)
            .await
            .map_err(|e| format!("cannot connect to the PostgreSQL server: {e}"))?;
        let now = SystemTime::now()
            .duration_since(UNIX_EPOCH)
            .unwrap_or_default();
        if !SWEPT.swap(true, Ordering::SeqCst) {
            sweep(&mut conn, now).await;
        }
        let schema = format!("{PREFIX}{}_{:08x}", now.as_secs(), rand::random::<u32>());
        conn.execute(format!("CREATE SCHEMA {schema}").as_str())
            .await
            .map_err(|e| format!("cannot create schema {schema}: {e}"))?;
        let _ = conn.close().await;
        Ok(TestDatabase {
            server: server.to_owned(),
            schema,
        })
    }

    /// The schema's name (also the `application_name` of the store's connections).
    pub fn schema(&self) -> &str {
        &self.schema
    }

    /// The URL of a store working in this schema.
    pub fn url(&self) -> String {
        let glue = if self.server.contains('?') { '&' } else { '?' };
        format!(
            "{}{glue}options[search_path]={schema}&application_name={schema}",
            self.server,
            schema = self.schema
        )
    }

    /// A connection of its own to the schema, outside any store.
    ///
    /// # Panics
    ///
    /// When it cannot connect.
    pub async fn connect(&self) -> PgConnection {
        let options = PgConnectOptions::from_str(&self.url()).expect("the test URL parses");
        PgConnection::connect_with(&options.application_name("login-core-test"))
            .await
            .expect("connects to the test server")
    }

    /// Whether, within `within`, a connection a store opened to this schema comes to wait for a
    /// lock (the server's `pg_stat_activity` says so). Asks on `observer` again as soon as each
    /// answer arrives: the server's round trip paces the polling, no timer does.
    ///
    /// # Panics
    ///
    /// When the server cannot be asked.
    pub async fn waits_for_a_lock(&self, observer: &mut PgConnection, within: Duration) -> bool {
        let deadline = std::time::Instant::now() + within;
        while std::time::Instant::now() < deadline {
            let waiting: bool = sqlx::query_scalar(
                "SELECT EXISTS (SELECT 1 FROM pg_stat_activity WHERE application_name = $1 \
                 AND wait_event_type = 'Lock')",
            )
            .bind(&self.schema)
            .fetch_one(&mut *observer)
            .await
            .expect("activity");
            if waiting {
                return true;
            }
        }
        false
    }

    /// Closes, from another connection, every connection a store opened to this schema;
    /// returns how many.
    ///
    /// # Panics
    ///
    /// When the server cannot be asked.
    pub async fn terminate_connections(&self) -> i64 {
        let mut conn = PgConnection::connect(&self.server)
            .await
            .expect("connects to the test server");
        let n: i64 = sqlx::query_scalar(
            "SELECT count(pg_terminate_backend(pid)) FROM pg_stat_activity \
             WHERE application_name = $1 AND pid <> pg_backend_pid()",
        )
        .bind(&self.schema)
        .fetch_one(&mut conn)
        .await
        .expect("terminates");
        let _ = conn.close().await;
        n
    }
}

impl Drop for TestDatabase {
    /// Drops the schema on a connection of its own, on a thread of its own (a `Drop` cannot
    /// wait on the test's runtime), and waits for it.
    fn drop(&mut self) {
        let (server, schema) = (self.server.clone(), self.schema.clone());
        let dropped = std::thread::spawn(move || {
            let runtime = tokio::runtime::Builder::new_current_thread()
                .enable_all()
                .build()
                .map_err(|e| e.to_string())?;
            runtime.block_on(async {
                let mut conn = PgConnection::connect(&server)
                    .await
                    .map_err(|e| e.to_string())?;
                // The store's connections may still be closing: stop them first, so that the
                // drop does not wait for their locks.
                let _ = sqlx::query(
                    "SELECT pg_terminate_backend(pid) FROM pg_stat_activity \
                     WHERE application_name = $1",
                )
                .bind(&schema)
                .execute(&mut conn)
                .await;
                conn.execute(format!("DROP SCHEMA IF EXISTS {schema} CASCADE").as_str())
                    .await
                    .map_err(|e| e.to_string())?;
                let _ = conn.close().await;
                Ok::<(), String>(())
            })
        })
        .join();
        match dropped {
            Ok(Ok(())) => {}
            Ok(Err(e)) => eprintln!("could not drop test schema {}: {e}", self.schema),
            Err(_) => eprintln!("could not drop test schema {}", self.schema),
        }
    }
}

/// Drops the test schemas older than [`STALE`] (left by runs that were killed).
async fn sweep(conn: &mut PgConnection, now: Duration) {
    let names: Vec<String> = sqlx::query_scalar(
        "SELECT nspname::text FROM pg_namespace WHERE starts_with(nspname::text, $1)",
    )
    .bind(PREFIX)
    .fetch_all(&mut *conn)
    .await
    .unwrap_or_default();
    let cutoff = now.saturating_sub(STALE).as_secs();
    for name in names {
        let created = name
            .strip_prefix(PREFIX)
            .and_then(|rest| rest.split('_').next())
            .and_then(|secs| secs.parse::<u64>().ok());
        if created.is_some_and(|secs| secs < cutoff) {
            let quoted = name.replace('"', "\"\"");
            let _ = conn
                .execute(format!("DROP SCHEMA IF EXISTS \"{quoted}\" CASCADE").as_str())
                .await;
        }
    }
}
