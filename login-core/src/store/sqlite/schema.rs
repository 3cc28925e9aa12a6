//! The schema: the migrations in `migrations/sqlite/`, embedded, applied in order.
//!
//! The database's `PRAGMA user_version` is the number of migrations applied. Opening an
//! up-to-date database costs one statement; pending migrations run together in one
//! `BEGIN IMMEDIATE` transaction that also sets the new version, so a failure leaves the
//! database as it was, and two processes opening a new file at once cannot both apply them
//! (the second reads the version again once it holds the write lock).
//!
//! Migrations are append-only: a released one is never edited (a test pins their digests),
//! a change of schema is a new file.
//!
//! A private in-memory database (`sqlite::memory:`) is always new: it gets
//! [`new_database_script`] from the writer's connect hook, in the same trip to SQLite's thread
//! as the connection's temporary objects, with no version to check.
//!
//! Databases created before `user_version` was used carry sqlx's `_sqlx_migrations` table
//! instead (and `user_version` 0); their version is read from it on the first open, which
//! then records it in `user_version`.

use sqlx::{Connection, Executor, SqliteConnection};

use super::BEGIN_WRITE;
use crate::store::StoreError;

/// The migrations, oldest first; migration `i` brings the schema to version `i + 1`.
pub(super) const MIGRATIONS: &[&str] = &[
    include_str!("../../../migrations/sqlite/0001_init.sql"),
    include_str!("../../../migrations/sqlite/0002_drop_sessions_identity.sql"),
    include_str!("../../../migrations/sqlite/0003_phone_first.sql"),
];

/// The whole schema at the latest version, as one script for a database known to be empty
/// (a new private in-memory database: it needs no version check).
pub(super) fn new_database_script() -> String {
    MIGRATIONS
        .iter()
        .enumerate()
        .map(|(i, sql)| versioned(sql, i + 1))
        .collect()
}

/// Migration `sql` followed by the statement that records `version` as applied. PRAGMA takes
/// no parameters; the value is an integer of ours.
fn versioned(sql: &str, version: usize) -> String {
    format!("{sql}\n;PRAGMA user_version = {version};\n")
}

/// Brings the database on `conn` to the latest version.
pub(super) async fn migrate(conn: &mut SqliteConnection) -> Result<(), StoreError> {
    apply(conn, MIGRATIONS).await
}

/// Brings the database on `conn` to version `migrations.len()`.
pub(super) async fn apply(
    conn: &mut SqliteConnection,
    migrations: &[&str],
) -> Result<(), StoreError> {
    // A handful of migrations: the cast cannot truncate.
    let latest = migrations.len() as i64;
    let current: i64 = sqlx::query_scalar("PRAGMA user_version")
        .fetch_one(&mut *conn)
        .await?;
    if current == latest {
        return Ok(());
    }
    let mut tx = conn.begin_with(BEGIN_WRITE).await?;
    // Read again under the write lock: another process may have migrated meanwhile.
    let from = version(&mut tx).await?;
    let Ok(from_index) = usize::try_from(from) else {
        return Err(StoreError::Schema(format!(
            "the database's schema version is {from}: not one login-core writes"
        )));
    };
    let Some(pending) = migrations.get(from_index..) else {
        return Err(StoreError::Schema(format!(
            "the database is at schema version {from}, newer than this login-core's {latest} \
             (a newer login-core created it)"
        )));
    };
    for (i, sql) in pending.iter().enumerate() {
        let version = from_index + i + 1;
        // Each migration records its version as it ends: one trip to SQLite's thread, not two.
        let script = versioned(sql, version);
        Executor::execute(&mut *tx, sqlx::raw_sql(&script))
            .await
            .map_err(|e| StoreError::Schema(format!("migration {version} failed: {e}")))?;
    }
    if pending.is_empty() {
        // Adopted from `_sqlx_migrations`: record the version it gave.
        let set = format!("PRAGMA user_version = {from}");
        Executor::execute(&mut *tx, sqlx::raw_sql(&set)).await?;
    }
    tx.commit().await?;
    Ok(())
}

/// The schema version: `user_version`, or for a database made before it was used, the
/// newest migration recorded in `_sqlx_migrations`.
async fn version(conn: &mut SqliteConnection) -> Result<i64, StoreError> {
    let (version, legacy): (i64, bool) = sqlx::query_as(
        "SELECT user_version, EXISTS (SELECT 1 FROM sqlite_schema \
         WHERE type = 'table' AND name = '_sqlx_migrations') FROM pragma_user_version",
    )
    .fetch_one(&mut *conn)
    .await?;
    if version != 0 || !legacy {
        return Ok(version);
    }
    let recorded: Option<i64> =
        sqlx::query_scalar("SELECT max(version) FROM _sqlx_migrations WHERE success")
            .fetch_one(&mut *conn)
            .await?;
    Ok(recorded.unwrap_or(0))
}

#[cfg(test)]
mod tests {
    use sha2::{Digest, Sha256};

    use super::MIGRATIONS;

    /// A released migration must not change: databases that applied it would silently keep
    /// the old text. Add a migration instead; then add its digest here.
    #[test]
    fn released_migrations_are_unchanged() {
        let digests: Vec<String> = MIGRATIONS
            .iter()
            .map(|sql| hex::encode(Sha256::digest(sql.as_bytes())))
            .collect();
        assert_eq!(
            digests,
            [
                "f2676d3b5dffc471f6e52a44c8456a5036126e8d294f2cf300d421cd0ad974bd",
                "c10419385771ae4ab2882e29422fdd349b5388943348eb77d72249eee98d154d",
                "2dcb0c5a973d8eafe788558d10a29d776174970367a966a109ff4731665f4500",
            ]
        );
    }
}
