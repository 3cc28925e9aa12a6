//! Fixed-window rate limits keyed by text (a client address, a code's fingerprint), on the
//! injected clock. Windows are either aligned to the clock ("per minute") or start at a key's
//! first hit ("over a code's five-minute life"). Windows that ended are evicted as the map
//! grows, so memory stays bounded by the keys seen within one window.

use std::collections::HashMap;
use std::sync::{Mutex, PoisonError};
use std::time::Duration;

use crate::clock::UnixMs;

/// One limit: at most `limit` hits per key per `window`.
#[derive(Debug)]
pub struct RateLimiter {
    limit: u32,
    window_ms: i64,
    aligned: bool,
    windows: Mutex<Windows>,
}

#[derive(Debug, Default)]
struct Windows {
    map: HashMap<String, (i64, u32)>,
    /// Evict when the map reaches this size; doubles with live keys.
    sweep_at: usize,
}

impl RateLimiter {
    /// At most `limit` hits per clock-aligned `window` (`limit == 0` disables it).
    pub fn aligned(limit: u32, window: Duration) -> Self {
        Self::new(limit, window, true)
    }

    /// At most `limit` hits within `window` of a key's first hit (`limit == 0` disables it).
    pub fn from_first_hit(limit: u32, window: Duration) -> Self {
        Self::new(limit, window, false)
    }

    fn new(limit: u32, window: Duration, aligned: bool) -> Self {
        Self {
            limit,
            aligned,
            window_ms: i64::try_from(window.as_millis()).unwrap_or(i64::MAX).max(1),
            windows: Mutex::new(Windows {
                map: HashMap::new(),
                sweep_at: 1024,
            }),
        }
    }

    /// Counts a hit; `Err(seconds until the window ends)` when over the limit.
    pub fn hit(&self, key: &str, now: UnixMs) -> Result<(), u64> {
        if self.limit == 0 {
            return Ok(());
        }
        let window = self.window_ms;
        let start = if self.aligned {
            now.0 - now.0.rem_euclid(window)
        } else {
            now.0
        };
        let mut w = self.windows.lock().unwrap_or_else(PoisonError::into_inner);
        if w.map.len() >= w.sweep_at {
            w.map.retain(|_, (s, _)| now.0 < *s + window);
            w.sweep_at = (w.map.len() * 2).max(1024);
        }
        let entry = w.map.entry(key.to_owned()).or_insert((start, 0));
        if now.0 >= entry.0 + window {
            *entry = (start, 0);
        }
        if entry.1 >= self.limit {
            let left_ms = entry.0 + window - now.0;
            return Err(u64::try_from(left_ms).unwrap_or(0).div_ceil(1000).max(1));
        }
        entry.1 += 1;
        Ok(())
    }

    /// Keys currently tracked (for tests of eviction).
    pub fn tracked(&self) -> usize {
        self.windows
            .lock()
            .unwrap_or_else(PoisonError::into_inner)
            .map
            .len()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn limits_per_key_and_window() {
        let l = RateLimiter::aligned(2, Duration::from_secs(60));
        let t = UnixMs(60_000 * 10 + 15_000);
        assert!(l.hit("a", t).is_ok());
        assert!(l.hit("a", t).is_ok());
        assert_eq!(l.hit("a", t), Err(45));
        assert!(l.hit("b", t).is_ok());
        assert!(l.hit("a", UnixMs(60_000 * 11)).is_ok());
    }

    #[test]
    fn windows_from_the_first_hit_do_not_reset_at_clock_boundaries() {
        let l = RateLimiter::from_first_hit(1, Duration::from_secs(300));
        let t = UnixMs(300_000 * 7 - 3_000);
        assert!(l.hit("code", t).is_ok());
        assert_eq!(l.hit("code", UnixMs(t.0 + 4_000)), Err(296));
        assert!(l.hit("code", UnixMs(t.0 + 300_000)).is_ok());
    }

    #[test]
    fn ended_windows_are_evicted() {
        let l = RateLimiter::from_first_hit(1, Duration::from_secs(1));
        for i in 0..5000 {
            let _ = l.hit(&format!("k{i}"), UnixMs(i64::from(i) * 1000));
        }
        assert!(l.tracked() <= 1024, "{}", l.tracked());
        assert!(
            RateLimiter::aligned(0, Duration::from_secs(1))
                .hit("x", UnixMs(0))
                .is_ok()
        );
    }
}
