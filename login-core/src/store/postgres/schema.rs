//! The schema: the migrations in `migrations/postgres/`, embedded, applied in order.
//!
//! Kept as SQLite's are (`store/sqlite/schema.rs`), not with `sqlx::migrate!`: numbered
//! files, append-only (a test pins their digests), and one number recording how many are
//! applied, here the single row of `login_core_schema` (SQLite keeps it in `user_version`).
//! Both stores then read and move their version the same way, one build refuses a database
//! a newer build made in both, and sqlx's `migrate` feature (its own table, its checksums, a
//! second way of doing the same thing) stays out of the build.
//!
//! Opening takes a transaction-scoped advisory lock (keyed by the schema the connection
//! works in), reads the version, applies the pending migrations and records the new version,
//! then commits: PostgreSQL's DDL is transactional, so a failure leaves the database as it
//! was, and several instances starting at once apply each migration once (the others wait
//! for the lock, then find the version up to date).

use sqlx::{Connection, Executor, PgConnection};

use crate::store::StoreError;

/// The migrations, oldest first; migration `i` brings the schema to version `i + 1`.
pub(super) const MIGRATIONS: &[&str] = &[
    include_str!("../../../migrations/postgres/0001_init.sql"),
    include_str!("../../../migrations/postgres/0002_shared_state.sql"),
    include_str!("../../../migrations/postgres/0003_login_function.sql"),
    include_str!("../../../migrations/postgres/0004_login_new_user.sql"),
    include_str!("../../../migrations/postgres/0005_users_phone_partial.sql"),
];

/// The first key of the advisory lock migrations take (the second is the schema's name,
/// hashed): "lc" and "sc" in ASCII.
const LOCK_CLASS: i32 = 0x6c63_7363;

/// Brings the database on `conn` to the latest version.
pub(super) async fn migrate(conn: &mut PgConnection) -> Result<(), StoreError> {
    apply(conn, MIGRATIONS).await
}

/// Brings the database on `conn` to version `migrations.len()`.
pub(super) async fn apply(conn: &mut PgConnection, migrations: &[&str]) -> Result<(), StoreError> {
    let latest = i64::try_from(migrations.len()).unwrap_or(i64::MAX);
    let mut tx = conn.begin().await?;
    let schema: Option<String> = sqlx::query_scalar("SELECT current_schema()")
        .fetch_one(&mut *tx)
        .await?;
    let Some(schema) = schema else {
        return Err(StoreError::Schema(
            "no schema to create tables in: the search_path names none that exists".into(),
        ));
    };
    sqlx::query("SELECT pg_advisory_xact_lock($1, hashtext($2))")
        .bind(LOCK_CLASS)
        .bind(&schema)
        .execute(&mut *tx)
        .await?;
    tx.execute(
        "CREATE TABLE IF NOT EXISTS login_core_schema (\
            one BOOLEAN PRIMARY KEY DEFAULT TRUE CHECK (one), \
            version BIGINT NOT NULL)",
    )
    .await?;
    let from: i64 = sqlx::query_scalar("SELECT version FROM login_core_schema")
        .fetch_optional(&mut *tx)
        .await?
        .unwrap_or(0);
    if from == latest {
        // Nothing to do; the lock ends with the transaction.
        tx.commit().await?;
        return Ok(());
    }
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
        tx.execute(sqlx::raw_sql(sql))
            .await
            .map_err(|e| StoreError::Schema(format!("migration {version} failed: {e}")))?;
    }
    sqlx::query(
        "INSERT INTO login_core_schema (one, version) VALUES (TRUE, $1) \
         ON CONFLICT (one) DO UPDATE SET version = excluded.version",
    )
    .bind(latest)
    .execute(&mut *tx)
    .await?;
    tx.commit().await?;
    Ok(())
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
                "d7f5a03ab81ca87e82d728dab304ce201873f51c83ead6b97bb95703df1db033",
                "c1ca2ca6b9b267075a01fbb02a597027bb06ed812b8dcfbf53050f023b586c96",
                "3ca58dae576615bbd4235410f2a03049576775db09e32e0b0de37ca91ad64f5f",
                "714fc2c272cdf2a676b18a2acf53e74b1a956f7550bf34a389913904a4915250",
                "7176b306a2b3ef1a28ebca2304ed214b574d6fa0f91ece59c88630c8779fa336",
            ]
        );
    }
}
