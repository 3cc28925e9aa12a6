//! The state the instances on one database share, in PostgreSQL: each app's access token
//! (`access_tokens`) and the rate limits' windows (`rate_limits`, unlogged).
//!
//! A token refresh runs in one transaction that first takes
//! `pg_advisory_xact_lock(class, hashtext(schema/appid))`: N instances that find the token stale
//! at once queue on the lock, the first asks WeChat, and each of the others, once it has the
//! lock, reads the row again and finds the new token (no WeChat call). The lock ends with the
//! transaction: on commit, on rollback, and when the instance holding it dies (its connection
//! closes). A lock dropped without a save or a rejection (its request was dropped) closes its
//! connection, so the transaction and the lock end at once, and the connection never goes
//! back to the pool with the transaction open. The wait is bounded (`lock_timeout`), so an
//! instance stuck behind a slow WeChat answers an error instead of hanging. The save compares
//! the generation it read under the lock, so a write can never replace a newer token.
//!
//! A rate-limit hit is one `INSERT ... ON CONFLICT DO UPDATE` on the (limit, key) row: the row
//! lock serializes the instances' hits, and the statement starts a new window when the stored
//! one ended.

use std::time::Duration;

use async_trait::async_trait;
use sqlx::PgConnection;

use super::pool::OpenTransaction;
use super::{
    ATTEMPTS, Finish, PostgresStore, backoff, is_retryable, last_attempt, retrying, statement,
};
use crate::clock::UnixMs;
use crate::ids::AppId;
use crate::store::StoreError;
use crate::store::shared::{
    Count, Counters, Hit, NewToken, StoredToken, TokenLock, TokenRows, next_generation,
};

/// The first key of the token locks (the second is the schema and appid, hashed): "lctk".
const TOKEN_LOCK_CLASS: i32 = 0x6c63_746b;

type TokenRow = (Vec<u8>, i64, i64, i64, bool);

const TOKEN_COLUMNS: &str = "sealed_token, generation, expires_at, refresh_at, rejected";

fn stored((sealed, generation, expires_at, refresh_at, rejected): TokenRow) -> StoredToken {
    StoredToken {
        sealed,
        generation,
        expires_at: UnixMs(expires_at),
        refresh_at: UnixMs(refresh_at),
        rejected,
    }
}

#[async_trait]
impl TokenRows for PostgresStore {
    async fn read(&self, appid: &AppId) -> Result<Option<StoredToken>, StoreError> {
        let sql = format!("SELECT {TOKEN_COLUMNS} FROM access_tokens WHERE appid = $1");
        let row: Option<TokenRow> = statement!(self, |conn| {
            Ok(sqlx::query_as(&sql)
                .bind(appid.as_str())
                .fetch_optional(&mut *conn)
                .await?)
        })?;
        Ok(row.map(stored))
    }

    async fn lock(&self, appid: &AppId, wait: Duration) -> Result<Box<dyn TokenLock>, StoreError> {
        let conn = self.pool.acquire().await.inspect_err(|e| self.saw(e))?;
        let mut tx = OpenTransaction::begin(conn, "BEGIN")
            .await
            .inspect_err(|e| self.saw(e))?;
        match lock_and_read(&mut tx, appid, wait).await {
            Ok(row) => Ok(Box::new(PgTokenLock {
                tx,
                appid: appid.as_str().to_owned(),
                stored: row.map(stored),
            })),
            Err(e) => {
                // A wait that ran out (or any other failure) rolls back; a connection that
                // cannot is closed.
                let _ = tx.end("ROLLBACK").await;
                Err(e)
            }
        }
    }
}

/// Takes the app's advisory lock in `tx`, waiting at most `wait`, and reads its row.
async fn lock_and_read(
    tx: &mut OpenTransaction,
    appid: &AppId,
    wait: Duration,
) -> Result<Option<TokenRow>, StoreError> {
    let conn = tx.connection()?;
    // At least 1 ms: 0 would mean "wait for ever".
    let wait_ms = wait.as_millis().clamp(1, u128::from(u32::MAX));
    sqlx::query("SELECT set_config('lock_timeout', $1, true)")
        .bind(format!("{wait_ms}ms"))
        .execute(&mut *conn)
        .await?;
    sqlx::query("SELECT pg_advisory_xact_lock($1, hashtext(current_schema() || '/' || $2))")
        .bind(TOKEN_LOCK_CLASS)
        .bind(appid.as_str())
        .execute(&mut *conn)
        .await?;
    let sql = format!("SELECT {TOKEN_COLUMNS} FROM access_tokens WHERE appid = $1");
    Ok(sqlx::query_as(&sql)
        .bind(appid.as_str())
        .fetch_optional(&mut *conn)
        .await?)
}

/// A token lock: the transaction holding the advisory lock, and the row it read. Dropped
/// without [`TokenLock::save`] or [`TokenLock::reject`], it closes its connection (see
/// [`OpenTransaction`]): the transaction and the lock end with it.
struct PgTokenLock {
    tx: OpenTransaction,
    appid: String,
    stored: Option<StoredToken>,
}

#[async_trait]
impl TokenLock for PgTokenLock {
    fn stored(&self) -> Option<&StoredToken> {
        self.stored.as_ref()
    }

    async fn save(self: Box<Self>, token: NewToken) -> Result<StoredToken, StoreError> {
        let PgTokenLock {
            mut tx,
            appid,
            stored: read,
        } = *self;
        let generation = next_generation(read.as_ref(), token.changed);
        let saved = save_row(&mut tx, &appid, &token, generation, read.as_ref()).await;
        tx.finish(saved).await
    }

    async fn reject(self: Box<Self>) -> Result<(), StoreError> {
        let PgTokenLock {
            mut tx,
            appid,
            stored: read,
        } = *self;
        let marked = match read {
            Some(read) => mark_rejected(&mut tx, &appid, read.generation).await,
            None => Ok(()),
        };
        tx.finish(marked.map(|()| ((), Finish::Commit))).await
    }
}

/// Writes `token` as `generation` in `tx`, over the row `read` under the lock; commits when
/// it was written.
async fn save_row(
    tx: &mut OpenTransaction,
    appid: &str,
    token: &NewToken,
    generation: i64,
    read: Option<&StoredToken>,
) -> Result<(StoredToken, Finish), StoreError> {
    // The update applies only over the generation read under the lock: were the lock ever
    // not held, a late write still could not replace a newer token.
    let sql = format!(
        "INSERT INTO access_tokens (appid, {TOKEN_COLUMNS}, updated_at) \
         VALUES ($1, $2, $3, $4, $5, FALSE, $6) \
         ON CONFLICT (appid) DO UPDATE SET sealed_token = excluded.sealed_token, \
         generation = excluded.generation, expires_at = excluded.expires_at, \
         refresh_at = excluded.refresh_at, rejected = FALSE, updated_at = excluded.updated_at \
         WHERE access_tokens.generation = $7 \
         RETURNING {TOKEN_COLUMNS}"
    );
    let row: Option<TokenRow> = sqlx::query_as(&sql)
        .bind(appid)
        .bind(&token.sealed)
        .bind(generation)
        .bind(token.expires_at.0)
        .bind(token.refresh_at.0)
        .bind(token.now.0)
        .bind(read.map_or(0, |r| r.generation))
        .fetch_optional(tx.connection()?)
        .await?;
    match row {
        Some(row) => Ok((stored(row), Finish::Commit)),
        None => Err(StoreError::Contention(
            "the app's access token changed under its lock",
        )),
    }
}

/// Marks the token of `generation` rejected, in `tx`.
async fn mark_rejected(
    tx: &mut OpenTransaction,
    appid: &str,
    generation: i64,
) -> Result<(), StoreError> {
    sqlx::query("UPDATE access_tokens SET rejected = TRUE WHERE appid = $1 AND generation = $2")
        .bind(appid)
        .bind(generation)
        .execute(tx.connection()?)
        .await?;
    Ok(())
}

#[async_trait]
impl Counters for PostgresStore {
    async fn hit(&self, hit: Hit<'_>) -> Result<Count, StoreError> {
        let (hits, window_end): (i32, i64) = statement!(self, |conn| {
            Ok(sqlx::query_as(
                "INSERT INTO rate_limits AS r (name, key, window_end, hits) VALUES ($1, $2, $3, 1) \
             ON CONFLICT (name, key) DO UPDATE SET \
             hits = CASE WHEN r.window_end <= $4 THEN 1 ELSE LEAST(r.hits, 2147483646) + 1 END, \
             window_end = CASE WHEN r.window_end <= $4 THEN excluded.window_end \
                          ELSE r.window_end END \
             RETURNING hits, window_end",
            )
            .bind(hit.limit)
            .bind(hit.key)
            .bind(hit.window_end.0)
            .bind(hit.now.0)
            .fetch_one(&mut *conn)
            .await?)
        })?;
        Ok(Count {
            hits: u32::try_from(hits).unwrap_or(0),
            window_end: UnixMs(window_end),
        })
    }

    /// One statement for all the hits (a login counts two limits): one round trip.
    async fn hit_all(&self, hits: &[Hit<'_>]) -> Result<Vec<Count>, StoreError> {
        let pairs: std::collections::HashSet<(&str, &str)> =
            hits.iter().map(|h| (h.limit, h.key)).collect();
        let now = hits.first().map(|h| h.now);
        if pairs.len() != hits.len() || hits.iter().any(|h| Some(h.now) != now) {
            // One statement cannot update a row twice: count such hits one by one.
            let mut counts = Vec::with_capacity(hits.len());
            for hit in hits {
                counts.push(Counters::hit(self, *hit).await?);
            }
            return Ok(counts);
        }
        let Some(now) = now else {
            return Ok(Vec::new());
        };
        let rows: Vec<(String, String, i32, i64)> = statement!(self, |conn| {
            Ok(sqlx::query_as(
                "INSERT INTO rate_limits AS r (name, key, window_end, hits) \
             SELECT n, k, e, 1 FROM UNNEST($1::text[], $2::text[], $3::bigint[]) AS t(n, k, e) \
             ON CONFLICT (name, key) DO UPDATE SET \
             hits = CASE WHEN r.window_end <= $4 THEN 1 ELSE LEAST(r.hits, 2147483646) + 1 END, \
             window_end = CASE WHEN r.window_end <= $4 THEN excluded.window_end \
                          ELSE r.window_end END \
             RETURNING name, key, hits, window_end",
            )
            .bind(hits.iter().map(|h| h.limit).collect::<Vec<_>>())
            .bind(hits.iter().map(|h| h.key).collect::<Vec<_>>())
            .bind(hits.iter().map(|h| h.window_end.0).collect::<Vec<_>>())
            .bind(now.0)
            .fetch_all(&mut *conn)
            .await?)
        })?;
        hits.iter()
            .map(|h| {
                rows.iter()
                    .find(|(n, k, _, _)| n == h.limit && k == h.key)
                    .map(|(_, _, hits, end)| Count {
                        hits: u32::try_from(*hits).unwrap_or(0),
                        window_end: UnixMs(*end),
                    })
                    .ok_or(StoreError::Corrupt(
                        "a rate limit's count went missing".into(),
                    ))
            })
            .collect()
    }

    async fn purge(&self, now: UnixMs) -> Result<u64, StoreError> {
        statement!(self, |conn| {
            let done = sqlx::query("DELETE FROM rate_limits WHERE window_end <= $1")
                .bind(now.0)
                .execute(&mut *conn)
                .await?;
            Ok(done.rows_affected())
        })
    }
}
