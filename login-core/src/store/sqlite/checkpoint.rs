//! WAL checkpoints off the login writer's path.
//!
//! In WAL mode a commit appends pages to the `-wal` file; a checkpoint copies them back into
//! the database file and syncs it. By default SQLite runs one inside the COMMIT that takes the
//! WAL past 1,000 pages. Logins write about 3 pages each, to random places in the session and
//! identity indexes, so under load every tenth batch or so waited for a checkpoint: 7 to 10 ms
//! instead of the usual 1.3 ms commit.
//!
//! Here a connection of its own runs `PRAGMA wal_checkpoint(PASSIVE)` after commits, beside
//! the writer: a passive checkpoint copies what is committed without taking any lock the writer
//! needs. The writer keeps a high automatic threshold ([`WRITER_AUTOCHECKPOINT`]): past it, its
//! own checkpoint finds almost every page already copied, and SQLite starts the WAL over from
//! the beginning (only the writer can, and only once everything in it is copied), so the file
//! stays near that size.

use sqlx::{Connection, SqliteConnection};
use tokio::sync::watch;

/// The writer's automatic checkpoint threshold, in WAL pages (32 MiB of 4 KiB pages).
pub(super) const WRITER_AUTOCHECKPOINT: u32 = 8192;

/// The writer's side: tells the checkpointer how many batches it has committed. Dropping it
/// stops the checkpointer.
#[derive(Debug)]
pub(super) struct Poke(watch::Sender<u64>);

impl Poke {
    /// After the `commits`-th commit. Pokes while a checkpoint runs make one more.
    pub(super) fn poke(&self, commits: u64) {
        self.0.send_replace(commits);
    }
}

/// The checkpointer, to be run as a task: its connection and what it is told.
#[derive(Debug)]
pub(super) struct Checkpointer {
    conn: SqliteConnection,
    commits: watch::Receiver<u64>,
    covered: watch::Sender<u64>,
}

/// A checkpointer on `conn` (a read-write connection to the writer's database), the writer's
/// [`Poke`], and how many commits the checkpoints done so far cover.
pub(super) fn checkpointer(conn: SqliteConnection) -> (Checkpointer, Poke, watch::Receiver<u64>) {
    let (poke, commits) = watch::channel(0);
    let (covered, count) = watch::channel(0);
    (
        Checkpointer {
            conn,
            commits,
            covered,
        },
        Poke(poke),
        count,
    )
}

impl Checkpointer {
    /// Checkpoints after each poke (once for pokes that came while it was busy) until the
    /// [`Poke`] is dropped, then closes its connection.
    pub(super) async fn run(mut self) {
        while self.commits.changed().await.is_ok() {
            // Every commit up to this one is in the WAL, so the checkpoint covers it.
            let commits = *self.commits.borrow_and_update();
            // (busy, WAL pages, pages copied): busy if the writer checkpoints right now; fewer
            // pages copied than written if a reader still reads an older snapshot.
            let done: Result<(i64, i64, i64), sqlx::Error> =
                sqlx::query_as("PRAGMA wal_checkpoint(PASSIVE)")
                    .fetch_one(&mut self.conn)
                    .await;
            match done {
                Ok((0, written, copied)) if copied == written => {
                    self.covered.send_replace(commits);
                }
                // The next poke tries again.
                Ok(_) => {}
                Err(e) => tracing::warn!(error = %e, "WAL checkpoint failed"),
            }
        }
        if let Err(e) = self.conn.close().await {
            tracing::warn!(error = %e, "closing the checkpoint connection failed");
        }
    }
}
