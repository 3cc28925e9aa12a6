//! The one place a database URL becomes a store: `sqlite:` is SQLite, `postgres://` and
//! `postgresql://` are PostgreSQL, anything else is refused before anything is created.

use std::str::FromStr;
use std::sync::Arc;
use std::time::Duration;

use sqlx::postgres::PgConnectOptions;
use sqlx::sqlite::SqliteConnectOptions;

use super::postgres::PostgresStore;
use super::sqlite::SqliteStore;
use super::{Store, StoreError};

/// The forms of database URL login-core accepts, for error messages.
pub const SUPPORTED_FORMS: &str = "sqlite://PATH (a file, created if missing), sqlite::memory: \
     (a private database in memory) or postgres://[USER[:PASSWORD]@]HOST[:PORT]/DATABASE \
     (also postgresql://)";

/// A database URL, checked: which store it names.
#[derive(Clone, PartialEq, Eq)]
pub enum DatabaseUrl {
    /// `sqlite://PATH`, `sqlite:PATH`, `sqlite::memory:`.
    Sqlite(String),
    /// `postgres://...` or `postgresql://...`.
    Postgres(String),
}

impl std::fmt::Debug for DatabaseUrl {
    /// Without the URL: a PostgreSQL URL may carry a password.
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            DatabaseUrl::Sqlite(url) => f.debug_tuple("Sqlite").field(url).finish(),
            DatabaseUrl::Postgres(_) => f.write_str("Postgres(..)"),
        }
    }
}

impl DatabaseUrl {
    /// Checks `url`: its scheme names a store, and the rest is a URL that store reads.
    /// The error names the supported forms and never repeats the URL (it may hold a password).
    pub fn parse(url: &str) -> Result<DatabaseUrl, StoreError> {
        let scheme = url.split_once(':').map(|(s, _)| s.to_ascii_lowercase());
        let refuse =
            |why: &str| StoreError::Url(format!("database_url {why}: use {SUPPORTED_FORMS}"));
        match scheme.as_deref() {
            Some("sqlite") => {
                let rest = &url["sqlite:".len()..];
                let path = rest.strip_prefix("//").unwrap_or(rest);
                let path = path.split('?').next().unwrap_or_default();
                if path.is_empty() {
                    return Err(refuse("names no SQLite file"));
                }
                SqliteConnectOptions::from_str(url)
                    .map_err(|e| refuse(&format!("is not a SQLite URL ({e})")))?;
                Ok(DatabaseUrl::Sqlite(url.to_owned()))
            }
            Some("postgres" | "postgresql") => {
                if !url[url.find(':').unwrap_or_default()..].starts_with("://") {
                    return Err(refuse("is not a PostgreSQL URL (postgres://HOST/DATABASE)"));
                }
                // Parsing opens no connection; its messages do not quote the URL.
                PgConnectOptions::from_str(url)
                    .map_err(|e| refuse(&format!("is not a PostgreSQL URL ({e})")))?;
                Ok(DatabaseUrl::Postgres(url.to_owned()))
            }
            Some(other) if !other.is_empty() && other.chars().all(is_scheme_char) => {
                Err(refuse(&format!("has the unsupported scheme `{other}:`")))
            }
            _ => Err(refuse("is not a URL")),
        }
    }
}

fn is_scheme_char(c: char) -> bool {
    c.is_ascii_alphanumeric() || matches!(c, '+' | '-' | '.')
}

/// The connection pool of a PostgreSQL store (SQLite's are fixed: one writer, a few
/// readers).
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct PoolConfig {
    /// Connections at most, per instance.
    pub max_connections: u32,
    /// How long a request waits for a connection (a new one included) before it fails.
    pub acquire_timeout: Duration,
}

impl Default for PoolConfig {
    fn default() -> Self {
        Self {
            max_connections: 16,
            acquire_timeout: Duration::from_secs(5),
        }
    }
}

/// Opens (and migrates) the store `url` names; see [`DatabaseUrl::parse`] for the URLs.
pub async fn open(url: &str) -> Result<Arc<dyn Store>, StoreError> {
    open_with(url, PoolConfig::default()).await
}

/// Like [`open`], with the pool of a PostgreSQL store sized by `pool`.
pub async fn open_with(url: &str, pool: PoolConfig) -> Result<Arc<dyn Store>, StoreError> {
    Ok(match DatabaseUrl::parse(url)? {
        DatabaseUrl::Sqlite(url) => Arc::new(SqliteStore::open(&url).await?),
        DatabaseUrl::Postgres(url) => Arc::new(PostgresStore::open_with(&url, pool).await?),
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn each_url_names_one_store_or_is_refused() {
        for url in [
            "sqlite://data/login-core.db",
            "sqlite:data.db",
            "sqlite::memory:",
            "sqlite://:memory:",
            "sqlite:file:shared?mode=memory&cache=shared",
        ] {
            assert!(
                matches!(DatabaseUrl::parse(url), Ok(DatabaseUrl::Sqlite(_))),
                "{url}"
            );
        }
        for url in [
            "postgres://postgres@127.0.0.1:5432/test",
            "postgresql://u:secret@db.example/login?sslmode=disable",
            "postgres://localhost/test?options[search_path]=s1",
            "POSTGRES://localhost/test",
        ] {
            assert!(
                matches!(DatabaseUrl::parse(url), Ok(DatabaseUrl::Postgres(_))),
                "{url}"
            );
        }
        for url in [
            "",
            "data/login-core.db",
            "/var/lib/login-core.db",
            "mysql://root@localhost/db",
            "postgres:test",
            "postgres://u:secret@host:notaport/db",
            "postgres://localhost/test?sslmode=sometimes",
            "sqlite:",
            "sqlite://",
            "http://example.com",
            "C:\\\\data\\\\db",
        ] {
            let err = DatabaseUrl::parse(url).expect_err(url);
            let text = err.to_string();
            assert!(matches!(err, StoreError::Url(_)), "{url}: {err:?}");
            assert!(
                text.contains("sqlite://PATH") && text.contains("postgres://"),
                "{url}: {text}"
            );
            assert!(
                !text.contains("secret"),
                "the password is not repeated: {text}"
            );
        }
    }
}
