//! Fixed-window rate limits keyed by text (a client address, a code's fingerprint), on the
//! injected clock. Windows are either aligned to the clock ("per minute") or start at a key's
//! first hit ("over a code's five-minute life").
//!
//! The counts live in the store's [`Counters`]: in PostgreSQL, so that every instance on the
//! database counts against one limit (N instances do not multiply it by N); in memory for a
//! store of one process.

use std::sync::Arc;
use std::time::Duration;

use crate::clock::UnixMs;
use crate::store::shared::{Count, Counters, Hit};

use super::Error;

/// One limit: at most `limit` hits per key per `window`.
pub struct RateLimiter {
    /// The limit's name in the counters.
    name: &'static str,
    limit: u32,
    window_ms: i64,
    aligned: bool,
    counters: Arc<dyn Counters>,
}

impl std::fmt::Debug for RateLimiter {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("RateLimiter")
            .field("name", &self.name)
            .field("limit", &self.limit)
            .field("window_ms", &self.window_ms)
            .field("aligned", &self.aligned)
            .finish_non_exhaustive()
    }
}

impl RateLimiter {
    /// At most `limit` hits per clock-aligned `window` (`limit == 0` disables it).
    pub fn aligned(
        name: &'static str,
        limit: u32,
        window: Duration,
        counters: Arc<dyn Counters>,
    ) -> Self {
        Self::new(name, limit, window, true, counters)
    }

    /// At most `limit` hits within `window` of a key's first hit (`limit == 0` disables it).
    pub fn from_first_hit(
        name: &'static str,
        limit: u32,
        window: Duration,
        counters: Arc<dyn Counters>,
    ) -> Self {
        Self::new(name, limit, window, false, counters)
    }

    fn new(
        name: &'static str,
        limit: u32,
        window: Duration,
        aligned: bool,
        counters: Arc<dyn Counters>,
    ) -> Self {
        Self {
            name,
            limit,
            aligned,
            window_ms: i64::try_from(window.as_millis()).unwrap_or(i64::MAX).max(1),
            counters,
        }
    }

    /// The hit of `key` at `now`; `None` when the limit is off.
    fn hit_of<'a>(&'a self, key: &'a str, now: UnixMs) -> Option<Hit<'a>> {
        if self.limit == 0 {
            return None;
        }
        let start = if self.aligned {
            now.0 - now.0.rem_euclid(self.window_ms)
        } else {
            now.0
        };
        Some(Hit {
            limit: self.name,
            key,
            now,
            window_end: UnixMs(start.saturating_add(self.window_ms)),
        })
    }

    /// Seconds until the window ends, when `count` is over the limit.
    fn over(&self, count: Count, now: UnixMs) -> Option<u64> {
        if count.hits <= self.limit {
            return None;
        }
        let left_ms = count.window_end.0 - now.0;
        Some(u64::try_from(left_ms).unwrap_or(0).div_ceil(1000).max(1))
    }

    /// Counts a hit; `Ok(Some(seconds until the window ends))` when over the limit.
    pub async fn hit(
        &self,
        key: &str,
        now: UnixMs,
    ) -> Result<Option<u64>, crate::store::StoreError> {
        let Some(hit) = self.hit_of(key, now) else {
            return Ok(None);
        };
        let count = self.counters.hit(hit).await?;
        Ok(self.over(count, now))
    }

    /// Counts a hit; over the limit, [`Error::RateLimited`] naming `what` is limited.
    pub async fn admit(&self, key: &str, now: UnixMs, what: &'static str) -> Result<(), Error> {
        match self.hit(key, now).await? {
            None => Ok(()),
            Some(retry_after) => Err(Error::RateLimited { what, retry_after }),
        }
    }
}

/// Counts one hit on each of several limits (sharing their counters) in one call to the store;
/// [`Error::RateLimited`] for the first, in order, that is over: `(limiter, key, what)`.
pub async fn admit_all(
    limits: &[(&RateLimiter, &str, &'static str)],
    now: UnixMs,
) -> Result<(), Error> {
    let on: Vec<(&RateLimiter, Hit<'_>, &'static str)> = limits
        .iter()
        .filter_map(|(l, key, what)| l.hit_of(key, now).map(|h| (*l, h, *what)))
        .collect();
    let Some((first, _, _)) = on.first() else {
        return Ok(());
    };
    let hits: Vec<Hit<'_>> = on.iter().map(|(_, h, _)| *h).collect();
    let counts = first.counters.hit_all(&hits).await?;
    for ((limiter, _, what), count) in on.iter().zip(counts) {
        if let Some(retry_after) = limiter.over(count, now) {
            return Err(Error::RateLimited { what, retry_after });
        }
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::store::shared::MemoryCounters;

    fn memory() -> Arc<dyn Counters> {
        Arc::new(MemoryCounters::default())
    }

    #[tokio::test]
    async fn limits_per_key_and_window() {
        let l = RateLimiter::aligned("l", 2, Duration::from_secs(60), memory());
        let t = UnixMs(60_000 * 10 + 15_000);
        assert_eq!(l.hit("a", t).await.expect("counts"), None);
        assert_eq!(l.hit("a", t).await.expect("counts"), None);
        assert_eq!(l.hit("a", t).await.expect("counts"), Some(45));
        assert_eq!(l.hit("b", t).await.expect("counts"), None);
        assert_eq!(l.hit("a", UnixMs(60_000 * 11)).await.expect("counts"), None);
        let e = l.admit("a", UnixMs(60_000 * 11), "tests").await;
        assert!(e.is_ok());
        let e = l.admit("a", UnixMs(60_000 * 11), "tests").await;
        assert!(
            matches!(
                e,
                Err(Error::RateLimited {
                    what: "tests",
                    retry_after: 60
                })
            ),
            "{e:?}"
        );
    }

    #[tokio::test]
    async fn windows_from_the_first_hit_do_not_reset_at_clock_boundaries() {
        let l = RateLimiter::from_first_hit("l", 1, Duration::from_secs(300), memory());
        let t = UnixMs(300_000 * 7 - 3_000);
        assert_eq!(l.hit("code", t).await.expect("counts"), None);
        assert_eq!(
            l.hit("code", UnixMs(t.0 + 4_000)).await.expect("counts"),
            Some(296)
        );
        assert_eq!(
            l.hit("code", UnixMs(t.0 + 300_000)).await.expect("counts"),
            None
        );
    }

    #[tokio::test]
    async fn limits_share_counters_by_name_only() {
        // Two instances' limiters over the same counters count together.
        let counters = memory();
        let a = RateLimiter::aligned("login", 2, Duration::from_secs(60), counters.clone());
        let b = RateLimiter::aligned("login", 2, Duration::from_secs(60), counters.clone());
        let other = RateLimiter::aligned("sms", 1, Duration::from_secs(60), counters);
        let t = UnixMs(0);
        assert_eq!(a.hit("k", t).await.expect("counts"), None);
        assert_eq!(b.hit("k", t).await.expect("counts"), None);
        assert_eq!(a.hit("k", t).await.expect("counts"), Some(60));
        assert_eq!(other.hit("k", t).await.expect("counts"), None);
        let off = RateLimiter::aligned("off", 0, Duration::from_secs(1), memory());
        for _ in 0..3 {
            assert_eq!(off.hit("x", t).await.expect("counts"), None);
        }
    }

    #[tokio::test]
    async fn several_limits_are_counted_together_and_the_first_over_is_named() {
        let counters = memory();
        let address = RateLimiter::aligned("address", 3, Duration::from_secs(60), counters.clone());
        let code = RateLimiter::from_first_hit("code", 1, Duration::from_secs(300), counters);
        let off = RateLimiter::aligned("off", 0, Duration::from_secs(60), memory());
        let t = UnixMs(0);
        let both = |c: &'static str| {
            [
                (&address, "1.2.3.4", "address"),
                (&code, c, "code"),
                (&off, "x", "off"),
            ]
        };
        admit_all(&both("c1"), t).await.expect("first");
        let e = admit_all(&both("c1"), t).await;
        assert!(
            matches!(
                e,
                Err(Error::RateLimited {
                    what: "code",
                    retry_after: 300
                })
            ),
            "{e:?}"
        );
        // Both limits counted that attempt: the address is at 2, then 3, then over.
        admit_all(&both("c2"), t).await.expect("third");
        let e = admit_all(&both("c3"), t).await;
        assert!(
            matches!(
                e,
                Err(Error::RateLimited {
                    what: "address",
                    retry_after: 60
                })
            ),
            "{e:?}"
        );
        admit_all(&[(&off, "x", "off")], t).await.expect("off");
    }
}
