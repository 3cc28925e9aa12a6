//! What the instances on one database share beside the [`Store`](super::Store) port's rows:
//! each app's WeChat access token ([`TokenRows`]: read freely, refreshed under a lock every
//! instance respects) and the counters of the rate limits ([`Counters`]).
//!
//! PostgreSQL keeps both in the database (`store/postgres/shared.rs`), so every instance sees
//! one token per app and one count per limit. A SQLite database has one process: the memory
//! implementations here ([`MemoryTokens`], [`MemoryCounters`]) give it the same behaviour
//! with a mutex for the lock.

use std::collections::HashMap;
use std::sync::{Arc, Mutex, PoisonError};
use std::time::Duration;

use async_trait::async_trait;

use super::StoreError;
use crate::clock::UnixMs;
use crate::ids::AppId;

/// An app's access token as stored: sealed (the token is a credential), with its generation.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct StoredToken {
    /// The token, sealed under the server key (bound to the appid).
    pub sealed: Vec<u8>,
    /// Counts the tokens the row has held: 1 for the first, one more each time WeChat gives
    /// a different token. A caller whose token WeChat rejects compares its generation with
    /// the stored one to know whether someone already replaced it.
    pub generation: i64,
    /// When WeChat stops accepting it (from when it was asked for).
    pub expires_at: UnixMs,
    /// When to ask for a new one (ahead of `expires_at`).
    pub refresh_at: UnixMs,
    /// WeChat rejected this generation (40001, 42001) and no refresh has replaced it yet: it
    /// is not handed out, and the next refresh forces a new token.
    pub rejected: bool,
}

/// A token to store under the lock.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct NewToken {
    /// The token, sealed.
    pub sealed: Vec<u8>,
    /// Whether it differs from the stored one (then the generation moves on).
    pub changed: bool,
    /// When WeChat stops accepting it.
    pub expires_at: UnixMs,
    /// When to ask for a new one.
    pub refresh_at: UnixMs,
    /// Now.
    pub now: UnixMs,
}

/// Each app's access token, shared by every instance on the database.
#[async_trait]
pub trait TokenRows: Send + Sync + 'static {
    /// The app's stored token, read without the lock.
    async fn read(&self, appid: &AppId) -> Result<Option<StoredToken>, StoreError>;

    /// Takes the app's token lock, waiting at most `wait` for the instance holding it, then
    /// reads the row again (it may have been refreshed while this caller waited). The lock is
    /// held until the returned value is saved or dropped; meanwhile no other caller, on any
    /// instance, can take it.
    async fn lock(&self, appid: &AppId, wait: Duration) -> Result<Box<dyn TokenLock>, StoreError>;
}

/// An app's token lock, held.
#[async_trait]
pub trait TokenLock: Send {
    /// The row as read after the lock was taken.
    fn stored(&self) -> Option<&StoredToken>;

    /// Writes `token` (the generation moves on when it `changed`), releases the lock and
    /// returns the row as written.
    async fn save(self: Box<Self>, token: NewToken) -> Result<StoredToken, StoreError>;

    /// Marks the stored generation rejected (a forced refresh failed: nobody should use it
    /// again) and releases the lock.
    async fn reject(self: Box<Self>) -> Result<(), StoreError>;
}

/// The generation a saved token gets after `stored`.
pub fn next_generation(stored: Option<&StoredToken>, changed: bool) -> i64 {
    match stored {
        None => 1,
        Some(s) if changed => s.generation + 1,
        Some(s) => s.generation,
    }
}

/// Access tokens in memory, for a store used by one process (SQLite).
#[derive(Debug, Default)]
pub struct MemoryTokens {
    apps: Mutex<HashMap<AppId, Arc<MemorySlot>>>,
}

/// An app's row and its lock, apart: reading the row never waits for a refresh.
#[derive(Debug, Default)]
struct MemorySlot {
    row: Mutex<Option<StoredToken>>,
    lock: Arc<tokio::sync::Mutex<()>>,
}

impl MemorySlot {
    fn row(&self) -> Option<StoredToken> {
        // Only whole values are written under this lock: a poisoned one is still sound.
        self.row
            .lock()
            .unwrap_or_else(PoisonError::into_inner)
            .clone()
    }

    fn set(&self, f: impl FnOnce(&mut Option<StoredToken>)) {
        f(&mut self.row.lock().unwrap_or_else(PoisonError::into_inner));
    }
}

impl MemoryTokens {
    fn slot(&self, appid: &AppId) -> Arc<MemorySlot> {
        // Only map lookups and inserts happen under this lock: a poisoned map is still sound.
        let mut apps = self.apps.lock().unwrap_or_else(PoisonError::into_inner);
        apps.entry(appid.clone()).or_default().clone()
    }
}

#[async_trait]
impl TokenRows for MemoryTokens {
    async fn read(&self, appid: &AppId) -> Result<Option<StoredToken>, StoreError> {
        Ok(self.slot(appid).row())
    }

    async fn lock(&self, appid: &AppId, wait: Duration) -> Result<Box<dyn TokenLock>, StoreError> {
        let slot = self.slot(appid);
        let guard = tokio::time::timeout(wait, slot.lock.clone().lock_owned())
            .await
            .map_err(|_| {
                StoreError::Contention("another refresh of the app's token held its lock")
            })?;
        let stored = slot.row();
        Ok(Box::new(MemoryTokenLock {
            slot,
            stored,
            _guard: guard,
        }))
    }
}

struct MemoryTokenLock {
    slot: Arc<MemorySlot>,
    stored: Option<StoredToken>,
    _guard: tokio::sync::OwnedMutexGuard<()>,
}

#[async_trait]
impl TokenLock for MemoryTokenLock {
    fn stored(&self) -> Option<&StoredToken> {
        self.stored.as_ref()
    }

    async fn save(self: Box<Self>, token: NewToken) -> Result<StoredToken, StoreError> {
        let row = StoredToken {
            generation: next_generation(self.stored.as_ref(), token.changed),
            sealed: token.sealed,
            expires_at: token.expires_at,
            refresh_at: token.refresh_at,
            rejected: false,
        };
        self.slot.set(|r| *r = Some(row.clone()));
        Ok(row)
    }

    async fn reject(self: Box<Self>) -> Result<(), StoreError> {
        let generation = self.stored.as_ref().map(|s| s.generation);
        self.slot.set(|r| {
            if let Some(row) = r.as_mut().filter(|row| Some(row.generation) == generation) {
                row.rejected = true;
            }
        });
        Ok(())
    }
}

/// One hit of a rate limit.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Hit<'a> {
    /// The limit (`login_per_address`).
    pub limit: &'a str,
    /// What is counted (a client address, a code's fingerprint).
    pub key: &'a str,
    /// Now.
    pub now: UnixMs,
    /// When a window starting now would end (a running window keeps its own end).
    pub window_end: UnixMs,
}

/// A window's count after a hit.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Count {
    /// Hits in the running window, this one included.
    pub hits: u32,
    /// When the running window ends.
    pub window_end: UnixMs,
}

/// The counters of rate limits, shared by every instance on the database.
#[async_trait]
pub trait Counters: Send + Sync + 'static {
    /// Counts one hit: in the key's running window, or in a new one (ending at
    /// `hit.window_end`) when the last one ended.
    async fn hit(&self, hit: Hit<'_>) -> Result<Count, StoreError>;

    /// Counts several hits of different (limit, key) pairs at once (one round trip where the
    /// store can); the counts in the order of `hits`.
    async fn hit_all(&self, hits: &[Hit<'_>]) -> Result<Vec<Count>, StoreError> {
        let mut counts = Vec::with_capacity(hits.len());
        for hit in hits {
            counts.push(self.hit(*hit).await?);
        }
        Ok(counts)
    }

    /// Forgets the windows that ended before `now`; returns how many.
    async fn purge(&self, now: UnixMs) -> Result<u64, StoreError>;

    /// Whether the counters can be reached, when they live apart from the store (the store's
    /// own ping covers counters it keeps).
    async fn ping(&self) -> Result<(), StoreError> {
        Ok(())
    }
}

/// Counters in memory, for a store used by one process (SQLite). Windows that ended are
/// evicted as the map grows, so memory stays bounded by the keys seen within one window.
#[derive(Debug)]
pub struct MemoryCounters {
    windows: Mutex<Windows>,
}

#[derive(Debug)]
struct Windows {
    /// (limit, key) → (window end, hits).
    map: HashMap<(String, String), (UnixMs, u32)>,
    /// Evict when the map reaches this size; doubles with live keys.
    sweep_at: usize,
}

impl Default for MemoryCounters {
    fn default() -> Self {
        Self {
            windows: Mutex::new(Windows {
                map: HashMap::new(),
                sweep_at: 1024,
            }),
        }
    }
}

impl MemoryCounters {
    /// Windows currently kept (for tests of eviction).
    pub fn tracked(&self) -> usize {
        self.windows
            .lock()
            .unwrap_or_else(PoisonError::into_inner)
            .map
            .len()
    }
}

#[async_trait]
impl Counters for MemoryCounters {
    async fn hit(&self, hit: Hit<'_>) -> Result<Count, StoreError> {
        let now = hit.now;
        let mut w = self.windows.lock().unwrap_or_else(PoisonError::into_inner);
        if w.map.len() >= w.sweep_at {
            w.map.retain(|_, (end, _)| now < *end);
            w.sweep_at = (w.map.len() * 2).max(1024);
        }
        let entry = w
            .map
            .entry((hit.limit.to_owned(), hit.key.to_owned()))
            .or_insert((hit.window_end, 0));
        if entry.0 <= now {
            *entry = (hit.window_end, 0);
        }
        entry.1 = entry.1.saturating_add(1);
        Ok(Count {
            hits: entry.1,
            window_end: entry.0,
        })
    }

    async fn purge(&self, now: UnixMs) -> Result<u64, StoreError> {
        let mut w = self.windows.lock().unwrap_or_else(PoisonError::into_inner);
        let before = w.map.len();
        w.map.retain(|_, (end, _)| now < *end);
        Ok(u64::try_from(before - w.map.len()).unwrap_or(u64::MAX))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn hit<'a>(key: &'a str, now: i64, end: i64) -> Hit<'a> {
        Hit {
            limit: "l",
            key,
            now: UnixMs(now),
            window_end: UnixMs(end),
        }
    }

    #[tokio::test]
    async fn memory_counters_count_per_window_and_evict_ended_ones() {
        let c = MemoryCounters::default();
        let first = c.hit(hit("a", 0, 60)).await.expect("counts");
        assert_eq!(
            first,
            Count {
                hits: 1,
                window_end: UnixMs(60)
            }
        );
        // A running window keeps its end, whatever end the hit proposes.
        let second = c.hit(hit("a", 30, 90)).await.expect("counts");
        assert_eq!(
            second,
            Count {
                hits: 2,
                window_end: UnixMs(60)
            }
        );
        assert_eq!(c.hit(hit("b", 30, 90)).await.expect("counts").hits, 1);
        let next = c.hit(hit("a", 60, 120)).await.expect("counts");
        assert_eq!(
            next,
            Count {
                hits: 1,
                window_end: UnixMs(120)
            }
        );
        assert_eq!(c.purge(UnixMs(100)).await.expect("purges"), 1);
        assert_eq!(c.tracked(), 1);
        for i in 0..5000 {
            let _ = c
                .hit(hit(&format!("k{i}"), i * 1000, i * 1000 + 1000))
                .await;
        }
        assert!(c.tracked() <= 1024, "{}", c.tracked());
    }

    #[tokio::test]
    async fn memory_tokens_lock_one_caller_at_a_time_and_count_generations() {
        let rows = MemoryTokens::default();
        let app = AppId::new("wx1");
        assert_eq!(rows.read(&app).await.expect("reads"), None);
        let lock = rows
            .lock(&app, Duration::from_secs(1))
            .await
            .expect("locks");
        assert!(lock.stored().is_none());
        // A second caller waits for the lock, and gives up after its wait.
        let err = rows
            .lock(&app, Duration::from_millis(10))
            .await
            .err()
            .expect("the lock is held");
        assert!(err.is_unavailable(), "{err}");
        let new = |sealed: &[u8], changed| NewToken {
            sealed: sealed.to_vec(),
            changed,
            expires_at: UnixMs(7_200_000),
            refresh_at: UnixMs(6_900_000),
            now: UnixMs(0),
        };
        let row = lock.save(new(b"t1", true)).await.expect("saves");
        assert_eq!(row.generation, 1);
        let lock = rows
            .lock(&app, Duration::from_secs(1))
            .await
            .expect("locks");
        assert_eq!(lock.stored(), Some(&row));
        assert_eq!(
            lock.save(new(b"t1", false))
                .await
                .expect("saves")
                .generation,
            1
        );
        let lock = rows
            .lock(&app, Duration::from_secs(1))
            .await
            .expect("locks");
        lock.reject().await.expect("rejects");
        assert!(
            rows.read(&app)
                .await
                .expect("reads")
                .expect("a row")
                .rejected
        );
        let lock = rows
            .lock(&app, Duration::from_secs(1))
            .await
            .expect("locks");
        let row = lock.save(new(b"t2", true)).await.expect("saves");
        assert_eq!((row.generation, row.rejected), (2, false));
    }
}
