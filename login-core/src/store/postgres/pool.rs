//! The PostgreSQL store's pool of connections (a `deadpool` pool of [`PgConnection`]s).
//!
//! - Connections are made on demand, at most the pool's size; a request waits at most the
//!   acquire timeout for one, its making included, then fails with
//!   [`sqlx::Error::PoolTimedOut`] (unavailable, HTTP 503).
//! - The most recently returned connection is handed out first, so that a few connections
//!   carry a steady load and stay warm while the others idle.
//! - A connection coming back is not pinged: it goes back as it is, with no round trip and no
//!   task. It is pinged when it is handed out again if it sat idle for [`PING_AFTER_IDLE`] or
//!   more, if a statement found its connection broken a moment ago (the store's `suspect`
//!   count), or if its last user did not finish (its future was dropped mid-statement, or
//!   its statement failed): the ping reads what that user left unread. A failed ping
//!   discards the connection, and the pool takes or makes another.
//! - A transaction holds its connection in an [`OpenTransaction`]. It goes back to the pool
//!   once its `COMMIT` or `ROLLBACK` succeeded (a failed transaction is rolled back at once,
//!   not by the next user, so its locks do not wait for one). Dropped before that (its future
//!   was dropped), the connection is closed instead, and PostgreSQL rolls the transaction back
//!   and releases its locks: a connection never goes back to the pool with a transaction open.
//! - A connection that reached [`MAX_LIFETIME`] is closed instead of being handed out again,
//!   and one idle for [`IDLE_TIMEOUT`] is closed, as sqlx's pool did.

use std::fmt;
use std::sync::Arc;
use std::sync::atomic::{AtomicU32, Ordering};
use std::time::{Duration, Instant};

use deadpool::managed::{self, Metrics, PoolError, QueueMode, RecycleError, RecycleResult};
use sqlx::postgres::PgConnectOptions;
use sqlx::{Connection, Executor, PgConnection};

use super::Finish;
use crate::store::StoreError;

/// A connection idle at least this long is pinged before it is handed out: what closes
/// connections silently (a firewall or load balancer dropping idle flows, a server restart)
/// happens while they sit unused. A connection in steady use is not pinged: a ping per
/// request was a round trip of its own, on both sides' CPUs.
const PING_AFTER_IDLE: Duration = Duration::from_secs(1);

/// A connection this old is closed instead of handed out again (sqlx's default).
const MAX_LIFETIME: Duration = Duration::from_secs(30 * 60);

/// A connection idle this long is closed (sqlx's default).
const IDLE_TIMEOUT: Duration = Duration::from_secs(10 * 60);

/// How often the idle connections are looked over for [`IDLE_TIMEOUT`] and [`MAX_LIFETIME`].
const REAP_EVERY: Duration = Duration::from_secs(60);

/// How long closing one connection (its `Terminate` message) may take.
const CLOSE_TIMEOUT: Duration = Duration::from_secs(5);

/// A connection handed out by the pool; back in the pool when dropped.
pub(super) type Pooled = managed::Object<Connector>;

/// A connection of the pool, and when its last user finished with it.
#[derive(Debug)]
pub(super) struct Conn {
    conn: PgConnection,
    /// When the statement or transaction it was last handed out for completed. `None` from
    /// the moment it is handed out until then: a connection that comes back with `None` had
    /// a user that was dropped midway or failed, may hold an answer nobody read, and is
    /// pinged before it is handed out again.
    done_at: Option<Instant>,
}

impl Conn {
    /// The connection.
    pub(super) fn connection(&mut self) -> &mut PgConnection {
        &mut self.conn
    }

    /// Notes that the statement or transaction it was handed out for completed: the
    /// connection is ready for the next one, and idle from now on.
    pub(super) fn done(&mut self) {
        self.done_at = Some(Instant::now());
    }

    /// Closes the connection, telling the server (a `Terminate` message), within
    /// [`CLOSE_TIMEOUT`].
    async fn close(self) {
        let _ = tokio::time::timeout(CLOSE_TIMEOUT, self.conn.close()).await;
    }
}

/// Makes the pool's connections, and decides, each time one is handed out again, whether it
/// is pinged first.
pub(super) struct Connector {
    options: PgConnectOptions,
    /// How many of the next connections handed out again are pinged whatever their idle
    /// time; see [`Pool::suspect_all`].
    suspect: Arc<AtomicU32>,
}

impl fmt::Debug for Connector {
    /// Without the options: they hold the password.
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("Connector")
            .field("suspect", &self.suspect)
            .finish_non_exhaustive()
    }
}

impl managed::Manager for Connector {
    type Type = Conn;
    type Error = sqlx::Error;

    async fn create(&self) -> Result<Conn, sqlx::Error> {
        Ok(Conn {
            conn: PgConnection::connect_with(&self.options).await?,
            done_at: None,
        })
    }

    /// Runs as an idle connection is handed out again (a new one is not pinged). An error
    /// discards it.
    async fn recycle(&self, conn: &mut Conn, metrics: &Metrics) -> RecycleResult<sqlx::Error> {
        if metrics.age() >= MAX_LIFETIME {
            return Err(RecycleError::message("the connection reached its lifetime"));
        }
        let suspected = self
            .suspect
            .fetch_update(Ordering::Relaxed, Ordering::Relaxed, |n| n.checked_sub(1))
            .is_ok();
        let idle_for = conn.done_at.map(|at| at.elapsed());
        if suspected || idle_for.is_none_or(|idle| idle >= PING_AFTER_IDLE) {
            conn.conn.ping().await?;
        }
        Ok(())
    }
}

/// The store's pool. Cheap to clone; the clones share the connections.
#[derive(Clone, Debug)]
pub(super) struct Pool {
    inner: managed::Pool<Connector>,
    acquire_timeout: Duration,
    /// The connector's count of connections to ping whatever their idle time.
    suspect: Arc<AtomicU32>,
    /// The most connections the pool holds.
    max_connections: u32,
}

impl Pool {
    /// A pool of at most `max_connections` connections to `options`, made on demand; a
    /// request waits at most `acquire_timeout` for one. Starts the task that closes idle
    /// connections (it ends with the pool).
    pub(super) fn new(
        options: PgConnectOptions,
        max_connections: u32,
        acquire_timeout: Duration,
    ) -> Result<Pool, StoreError> {
        let suspect = Arc::new(AtomicU32::new(0));
        let connector = Connector {
            options,
            suspect: Arc::clone(&suspect),
        };
        let inner = managed::Pool::builder(connector)
            .max_size(usize::try_from(max_connections).unwrap_or(usize::MAX))
            .queue_mode(QueueMode::Lifo)
            .build()
            .map_err(|e| sqlx::Error::Configuration(Box::new(e)))?;
        if let Ok(runtime) = tokio::runtime::Handle::try_current() {
            runtime.spawn(reap(inner.weak()));
        }
        Ok(Pool {
            inner,
            acquire_timeout,
            suspect,
            max_connections,
        })
    }

    /// Has every connection handed out next pinged first, whatever its idle time, until as
    /// many as the pool holds were: a statement found its connection broken (the server was
    /// restarted, or an administrator ended its connections), so the idle ones broken with
    /// it are replaced instead of failing one request each.
    pub(super) fn suspect_all(&self) {
        self.suspect.store(self.max_connections, Ordering::Relaxed);
    }

    /// A connection, for one statement or transaction; waits at most the acquire timeout.
    /// Call [`Conn::done`] once the work completed.
    pub(super) async fn acquire(&self) -> Result<Pooled, StoreError> {
        let mut conn = tokio::time::timeout(self.acquire_timeout, self.inner.get())
            .await
            .map_err(|_| sqlx::Error::PoolTimedOut)?
            .map_err(pool_error)?;
        conn.done_at = None;
        Ok(conn)
    }

    /// Hands out no more connections and closes the idle ones; those in use are closed when
    /// they come back.
    pub(super) async fn close(&self) {
        let idle = self.inner.retain(|_, _| false).removed;
        self.inner.close();
        for conn in idle {
            conn.close().await;
        }
    }

    /// How many connections the pool holds, in use or idle.
    #[cfg(test)]
    pub(super) fn size(&self) -> usize {
        self.inner.status().size
    }

    /// How many connections sit idle in the pool.
    #[cfg(test)]
    pub(super) fn idle(&self) -> usize {
        self.inner.status().available
    }
}

/// What a failure to get a connection is, as the error [`StoreError::is_unavailable`] reads:
/// the pool's own failures as sqlx's pool named them, a failed connect as itself.
fn pool_error(e: PoolError<sqlx::Error>) -> sqlx::Error {
    match e {
        PoolError::Backend(e) | PoolError::PostCreateHook(managed::HookError::Backend(e)) => e,
        PoolError::Timeout(_) => sqlx::Error::PoolTimedOut,
        PoolError::Closed => sqlx::Error::PoolClosed,
        e @ (PoolError::NoRuntimeSpecified | PoolError::PostCreateHook(_)) => {
            sqlx::Error::Configuration(e.to_string().into())
        }
    }
}

/// Every [`REAP_EVERY`], closes the idle connections that have been idle for
/// [`IDLE_TIMEOUT`] or lived for [`MAX_LIFETIME`]; ends when the pool is closed or dropped.
async fn reap(pool: managed::WeakPool<Connector>) {
    let mut ticks = tokio::time::interval(REAP_EVERY);
    ticks.set_missed_tick_behavior(tokio::time::MissedTickBehavior::Delay);
    ticks.tick().await;
    loop {
        ticks.tick().await;
        let Some(pool) = pool.upgrade() else {
            return;
        };
        if pool.is_closed() {
            return;
        }
        let stale = pool
            .retain(|conn, metrics| {
                let idle_for = conn
                    .done_at
                    .map_or_else(|| metrics.last_used(), |at| at.elapsed());
                idle_for < IDLE_TIMEOUT && metrics.age() < MAX_LIFETIME
            })
            .removed;
        drop(pool);
        for conn in stale {
            conn.close().await;
        }
    }
}

/// A connection in a transaction (`BEGIN` sent): put back in the pool only once `COMMIT` or
/// `ROLLBACK` succeeded. Dropped before that (its future was dropped, or the transaction
/// could not be ended), it takes its connection out of the pool and closes it: PostgreSQL
/// then rolls the transaction back and releases its locks, advisory ones included.
#[derive(Debug)]
pub(super) struct OpenTransaction(Option<Pooled>);

impl OpenTransaction {
    /// Starts a transaction on `conn` with `begin` (`BEGIN ...`).
    pub(super) async fn begin(
        conn: Pooled,
        begin: &'static str,
    ) -> Result<OpenTransaction, StoreError> {
        let mut tx = OpenTransaction(Some(conn));
        tx.connection()?.execute(begin).await?;
        Ok(tx)
    }

    /// The connection, in the transaction.
    pub(super) fn connection(&mut self) -> Result<&mut PgConnection, StoreError> {
        match &mut self.0 {
            Some(conn) => Ok(conn.connection()),
            // Only `end` and `drop` take the connection, and both consume the transaction.
            None => Err(sqlx::Error::PoolClosed.into()),
        }
    }

    /// Ends the transaction as `result` says (an error rolls it back) and puts the connection
    /// back in the pool. The answer is `result`'s, or the error of a `COMMIT` or `ROLLBACK`
    /// that failed.
    pub(super) async fn finish<T>(
        self,
        result: Result<(T, Finish), StoreError>,
    ) -> Result<T, StoreError> {
        match result {
            Ok((value, Finish::Commit)) => self.end("COMMIT").await.map(|()| value),
            Ok((value, Finish::Rollback)) => self.end("ROLLBACK").await.map(|()| value),
            Err(e) => {
                // The transaction's error is the answer; a connection that cannot roll back
                // is closed (and the transaction with it).
                let _ = self.end("ROLLBACK").await;
                Err(e)
            }
        }
    }

    /// Sends `end` (`COMMIT` or `ROLLBACK`) and puts the connection back in the pool; if it
    /// fails, the connection is closed.
    pub(super) async fn end(mut self, end: &'static str) -> Result<(), StoreError> {
        self.connection()?.execute(end).await?;
        if let Some(mut conn) = self.0.take() {
            conn.done();
        }
        Ok(())
    }
}

impl Drop for OpenTransaction {
    fn drop(&mut self) {
        if let Some(conn) = self.0.take() {
            // Out of the pool (its place is free for a new connection), and closed as it
            // drops.
            drop(managed::Object::take(conn));
        }
    }
}
