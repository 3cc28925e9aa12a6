//! Group commit of logins: concurrent [`Store::record_login`](crate::store::Store::record_login)
//! calls are queued to one writer task, which runs whatever is queued (up to [`MAX_BATCH`]) in
//! one write transaction, set-based (a few statements for the whole batch, see `login.rs`), and
//! commits once: one fsync for the batch.
//!
//! - A login that fails is answered with its error; the others of the batch still commit.
//!   (A failure of the set-based run rolls it back, and the batch runs again with one
//!   SAVEPOINT per login, rolled back to if that login fails.)
//! - Nobody is answered before the COMMIT returns. If the batch as a whole fails (BEGIN,
//!   a savepoint statement, or the COMMIT), every login of it gets an error and nothing of it
//!   is written.
//! - A batch is read, decided and written on the single writer connection inside one
//!   `BEGIN IMMEDIATE` transaction, each login decided after the ones before it, so the
//!   read-then-write resolution stays race-free. Other writes wait for the connection, so they never
//!   interleave with a batch. While logins stay queued the task keeps the connection for up
//!   to [`HOLD_BATCHES`] batches in a row, then hands it back so other writes get their turn.
//! - There is no timer: the task takes what is queued right now. At low load a batch is one
//!   login and costs what a lone transaction did; under load the queue fills while the
//!   previous batch is being committed.
//! - A login whose caller has gone away (its future dropped) before its batch starts is
//!   skipped.
//!
//! The task stops when every handle of the store is dropped (the channel closes), or on
//! [`LoginQueue::close`], which first finishes every login queued before it.

use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::{Arc, Mutex, PoisonError};

use sqlx::pool::PoolConnection;
use sqlx::{Connection, Sqlite, SqliteConnection, SqlitePool};
use tokio::sync::{mpsc, oneshot};

use super::login::record_logins;
use super::{BEGIN_WRITE, checkpoint};
use crate::store::{LoginOutcome, LoginWrite, StoreError};

/// The most logins committed together.
pub(super) const MAX_BATCH: usize = 64;

/// The most batches run back to back on the writer connection before it goes back to the pool
/// (where other writes wait for it). Keeping it while logins are queued saves handing it back
/// and forth, which waits on the runtime's scheduler.
const HOLD_BATCHES: u32 = 4;

/// What a caller of `record_login` gets back.
type Answer = Result<LoginOutcome, StoreError>;

/// A queued login and where its answer goes.
#[derive(Debug)]
struct Job {
    write: LoginWrite,
    reply: oneshot::Sender<Answer>,
}

/// What the writer task receives.
#[derive(Debug)]
enum Msg {
    Login(Job),
    /// Finish what is queued, accept nothing more, stop.
    Close,
}

/// The handle of the login writer task.
#[derive(Debug)]
pub(super) struct LoginQueue {
    tx: mpsc::UnboundedSender<Msg>,
    /// Taken by [`LoginQueue::close`].
    pub(super) writer: Mutex<Option<WriterThread>>,
    /// Batches committed (read by the tests, to see logins share commits).
    #[cfg_attr(not(test), allow(dead_code))]
    commits: Arc<AtomicU64>,
    /// How many commits the checkpoints beside the writer have copied (read by the tests).
    #[cfg_attr(not(test), allow(dead_code))]
    checkpoints: tokio::sync::watch::Receiver<u64>,
}

/// The thread the writer task runs on, alone on a single-threaded runtime: a batch waits on
/// SQLite's connection thread several times, and each time the task is woken at once instead
/// of queueing behind the server's request tasks.
#[derive(Debug)]
pub(super) struct WriterThread {
    /// Answered when the task has returned and its runtime is gone; closed if it panicked.
    pub(super) done: oneshot::Receiver<()>,
}

/// The error of a login sent to a closed store.
fn closed() -> StoreError {
    StoreError::Database(sqlx::Error::PoolClosed)
}

impl LoginQueue {
    /// Starts the writer task on `writer` (the single-connection writer pool), on a thread of
    /// its own.
    ///
    /// With `checkpointer` (a file database), a connection of its own on the same thread
    /// checkpoints the WAL after commits (see `checkpoint.rs`).
    pub(super) fn start(
        writer: SqlitePool,
        checkpointer: Option<SqliteConnection>,
    ) -> std::io::Result<LoginQueue> {
        let (tx, rx) = mpsc::unbounded_channel();
        let commits = Arc::new(AtomicU64::new(0));
        // Timers only (the pool's acquire timeout): SQLite's connection thread answers through
        // channels, not sockets, so the runtime needs no I/O driver.
        let runtime = tokio::runtime::Builder::new_current_thread()
            .enable_time()
            .build()?;
        let (finished, done) = oneshot::channel();
        let (checkpointer, poke, checkpoints) = match checkpointer {
            Some(conn) => {
                let (checkpointer, poke, count) = checkpoint::checkpointer(conn);
                (Some(checkpointer), Some(poke), count)
            }
            None => (None, None, tokio::sync::watch::channel(0).1),
        };
        let task = run(writer, rx, commits.clone(), poke);
        std::thread::Builder::new()
            .name("login-writer".into())
            .spawn(move || {
                runtime.block_on(async move {
                    let checkpoints = checkpointer.map(|c| tokio::spawn(c.run()));
                    // The writer task drops its `Poke` when it returns: the checkpointer
                    // then closes its connection.
                    task.await;
                    if let Some(checkpoints) = checkpoints {
                        let _ = checkpoints.await;
                    }
                });
                drop(runtime);
                // Nobody may be waiting.
                let _ = finished.send(());
            })?;
        Ok(LoginQueue {
            tx,
            writer: Mutex::new(Some(WriterThread { done })),
            commits,
            checkpoints,
        })
    }

    /// Queues `write` and waits until its batch is committed (or failed).
    pub(super) async fn record(&self, write: LoginWrite) -> Answer {
        let (reply, answer) = oneshot::channel();
        self.tx
            .send(Msg::Login(Job { write, reply }))
            .map_err(|_| closed())?;
        // A dropped reply means the task is gone (the store closed, or a panic).
        answer.await.map_err(|_| closed())?
    }

    /// Commits every login queued so far, then stops the task; later logins fail.
    pub(super) async fn close(&self) {
        let writer = self
            .writer
            .lock()
            .unwrap_or_else(PoisonError::into_inner)
            .take();
        let Some(writer) = writer else { return };
        // Fails only if the task is already gone; then there is nothing to flush.
        let _ = self.tx.send(Msg::Close);
        if writer.done.await.is_err() {
            tracing::error!("the login writer task panicked");
        }
    }

    /// Waits until a checkpoint has copied every batch committed so far into the database
    /// file; panics after 30 s (a checkpointer that never gets there fails the test instead of
    /// hanging it).
    #[cfg(test)]
    pub(super) async fn checkpointed(&self) {
        let commits = self.commits();
        let mut covered = self.checkpoints.clone();
        tokio::time::timeout(
            std::time::Duration::from_secs(30),
            covered.wait_for(|covered| *covered >= commits),
        )
        .await
        .expect("no checkpoint covered the commits within 30 s")
        .expect("the checkpointer stopped");
    }

    /// Batches committed so far.
    #[cfg(test)]
    pub(super) fn commits(&self) -> u64 {
        self.commits.load(Ordering::Relaxed)
    }
}

/// The writer task: takes what is queued, commits it as one batch, answers, repeats.
async fn run(
    pool: SqlitePool,
    mut rx: mpsc::UnboundedReceiver<Msg>,
    commits: Arc<AtomicU64>,
    checkpoints: Option<checkpoint::Poke>,
) {
    let mut msgs = Vec::with_capacity(MAX_BATCH);
    let mut jobs = Vec::with_capacity(MAX_BATCH);
    // The writer connection while batches run back to back, and how many it has run.
    let mut held: Option<(PoolConnection<Sqlite>, u32)> = None;
    // 0 once the channel is closed (every sender dropped, or `close`) and drained.
    while rx.recv_many(&mut msgs, MAX_BATCH).await > 0 {
        for msg in msgs.drain(..) {
            match msg {
                Msg::Login(job) if job.reply.is_closed() => {}
                Msg::Login(job) => jobs.push(job),
                // What is already queued is still received; new sends fail.
                Msg::Close => rx.close(),
            }
        }
        if jobs.is_empty() {
            // Never wait for the next logins while holding the connection.
            held = None;
            continue;
        }
        let (mut conn, batches) = match held.take() {
            Some(held) => held,
            None => match pool.acquire().await {
                Ok(conn) => (conn, 0),
                Err(e) => {
                    answer(jobs.drain(..), Err(e.into()));
                    continue;
                }
            },
        };
        let writes: Vec<&LoginWrite> = jobs.iter().map(|job| &job.write).collect();
        let answers = commit_batch(&mut conn, &writes).await;
        let ok = answers.is_ok();
        if ok {
            let committed = commits.fetch_add(1, Ordering::Relaxed) + 1;
            if let Some(checkpoints) = &checkpoints {
                checkpoints.poke(committed);
            }
        }
        answer(jobs.drain(..), answers);
        // Keep the connection only for more queued logins, a few batches at most, and not
        // after a failure.
        if ok && batches + 1 < HOLD_BATCHES && !rx.is_empty() {
            held = Some((conn, batches + 1));
        }
    }
}

/// Sends every job its answer: its own result, or the batch's error.
fn answer(jobs: impl Iterator<Item = Job>, answers: Result<Vec<Answer>, StoreError>) {
    match answers {
        Ok(answers) => {
            for (job, answer) in jobs.zip(answers) {
                // The caller may have gone away; the login is committed anyway.
                let _ = job.reply.send(answer);
            }
        }
        Err(e) => {
            tracing::error!(error = %e, "a batch of logins failed; none of it is written");
            let text = e.to_string();
            let mut first = Some(e);
            for job in jobs {
                let error = first.take().unwrap_or_else(|| {
                    StoreError::Database(sqlx::Error::Io(std::io::Error::other(format!(
                        "the batch of this login failed: {text}"
                    ))))
                });
                let _ = job.reply.send(Err(error));
            }
        }
    }
}

/// Runs `writes` in one write transaction and commits. `Ok` (one answer per write, in order)
/// only once the COMMIT has returned; `Err` if the batch as a whole failed, and then nothing
/// of it is written.
///
/// The batch first runs set-based (`login.rs`: a few statements for all of it). If that
/// fails, it is rolled back and run again one savepoint per login, so that a failing login
/// takes only itself back and the others still commit.
pub(super) async fn commit_batch(
    conn: &mut SqliteConnection,
    writes: &[&LoginWrite],
) -> Result<Vec<Answer>, StoreError> {
    let mut tx = conn.begin_with(BEGIN_WRITE).await?;
    match record_logins(&mut tx, writes).await {
        Ok(outcomes) => {
            tx.commit().await?;
            return Ok(outcomes.into_iter().map(Ok).collect());
        }
        // Alone, the login's own error is the answer.
        Err(e) if writes.len() == 1 => {
            tx.rollback().await?;
            return Ok(vec![Err(e)]);
        }
        Err(e) => {
            tracing::debug!(error = %e, logins = writes.len(), "a batch of logins failed; running it again one by one");
            tx.rollback().await?;
        }
    }
    let mut tx = conn.begin_with(BEGIN_WRITE).await?;
    let mut answers = Vec::with_capacity(writes.len());
    for write in writes {
        answers.push(login_in_savepoint(&mut tx, write).await?);
    }
    // On error the transaction is dropped, which rolls it back.
    tx.commit().await?;
    Ok(answers)
}

/// One login inside its own savepoint, rolled back to on failure. The outer `Err` means the
/// transaction itself is broken (a savepoint statement failed, e.g. because SQLite rolled the
/// whole transaction back after an I/O error).
///
/// The savepoints are not released: each login's `SAVEPOINT login` stacks on the previous
/// ones, `ROLLBACK TO login` goes back to the most recent one (this login's start) only, and
/// the COMMIT ends them all. That saves a statement per login.
async fn login_in_savepoint(
    conn: &mut SqliteConnection,
    write: &LoginWrite,
) -> Result<Answer, StoreError> {
    sqlx::query("SAVEPOINT login").execute(&mut *conn).await?;
    let answer = record_logins(conn, &[write]).await;
    if answer.is_err() {
        sqlx::query("ROLLBACK TO login").execute(&mut *conn).await?;
    }
    Ok(answer.and_then(|outcomes| {
        outcomes
            .into_iter()
            .next()
            .ok_or_else(|| StoreError::Corrupt("a login recorded without an outcome".into()))
    }))
}
