//! Time, injected: the service's only source of dates.
//!
//! Every expiry (sessions, access tokens, watermark freshness, rate-limit windows) is computed
//! from a [`Clock`], so tests drive time with [`ManualClock`] (or the harness's adapter over the
//! mock's clock) instead of sleeping. Nothing outside this module reads the system clock for a
//! date; `Instant` is used only to measure latency for metrics.

use std::sync::Arc;
use std::sync::atomic::{AtomicI64, Ordering};
use std::time::{Duration, SystemTime, UNIX_EPOCH};

/// A point in time: milliseconds since the Unix epoch.
#[derive(Clone, Copy, Debug, PartialEq, Eq, PartialOrd, Ord, Hash, Default)]
pub struct UnixMs(pub i64);

impl UnixMs {
    /// Whole seconds since the epoch (floor).
    pub const fn secs(self) -> i64 {
        self.0.div_euclid(1000)
    }

    /// This instant moved forward by `d` (saturating).
    pub fn plus(self, d: Duration) -> Self {
        Self(
            self.0
                .saturating_add(i64::try_from(d.as_millis()).unwrap_or(i64::MAX)),
        )
    }

    /// How long from `self` until `later`, zero if `later` is not later.
    pub fn until(self, later: UnixMs) -> Duration {
        Duration::from_millis(u64::try_from(later.0.saturating_sub(self.0)).unwrap_or(0))
    }
}

/// A source of the current time.
pub trait Clock: Send + Sync + 'static {
    /// Now.
    fn now(&self) -> UnixMs;
}

/// The system clock.
#[derive(Clone, Copy, Debug, Default)]
pub struct SystemClock;

impl Clock for SystemClock {
    fn now(&self) -> UnixMs {
        let ms = SystemTime::now()
            .duration_since(UNIX_EPOCH)
            .map(|d| i64::try_from(d.as_millis()).unwrap_or(i64::MAX))
            .unwrap_or(0);
        UnixMs(ms)
    }
}

/// A clock that moves only when told to. Clones share the same time.
#[derive(Clone, Debug)]
pub struct ManualClock(Arc<AtomicI64>);

impl ManualClock {
    /// A clock stopped at `start`.
    pub fn new(start: UnixMs) -> Self {
        Self(Arc::new(AtomicI64::new(start.0)))
    }

    /// Moves the clock forward by `d`.
    pub fn advance(&self, d: Duration) {
        let ms = i64::try_from(d.as_millis()).unwrap_or(i64::MAX);
        self.0.fetch_add(ms, Ordering::SeqCst);
    }

    /// Sets the clock.
    pub fn set(&self, to: UnixMs) {
        self.0.store(to.0, Ordering::SeqCst);
    }
}

impl Clock for ManualClock {
    fn now(&self) -> UnixMs {
        UnixMs(self.0.load(Ordering::SeqCst))
    }
}

/// A shared clock, as the service holds it.
pub type SharedClock = Arc<dyn Clock>;

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn manual_clock_moves_only_when_told_and_clones_share_time() {
        let c = ManualClock::new(UnixMs(1_000));
        let d = c.clone();
        assert_eq!(c.now(), UnixMs(1_000));
        d.advance(Duration::from_secs(2));
        assert_eq!(c.now(), UnixMs(3_000));
        c.set(UnixMs(10));
        assert_eq!(d.now().secs(), 0);
        assert_eq!(UnixMs(1_000).until(UnixMs(500)), Duration::ZERO);
        assert_eq!(UnixMs(-1).secs(), -1);
    }
}
