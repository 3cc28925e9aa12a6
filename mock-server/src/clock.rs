//! The virtual clock: the mock's only source of time.
//!
//! It follows the system clock by default; the control plane can freeze it, set it and advance it.
//! Every expiry (codes, tokens, quota windows, key rotation) is computed from it, so a test of
//! "the code expires after five minutes" advances the clock instead of sleeping. Nothing outside
//! this module reads the system clock.

use std::sync::{Arc, Mutex, PoisonError};
use std::time::{Duration, SystemTime, UNIX_EPOCH};

/// A point in virtual time: milliseconds since the Unix epoch.
#[derive(Clone, Copy, Debug, PartialEq, Eq, PartialOrd, Ord, Hash, Default)]
pub struct Timestamp(i64);

impl Timestamp {
    /// The Unix epoch, the earliest time the control plane sets.
    pub const EPOCH: Timestamp = Timestamp(0);

    /// 9999-12-31T23:59:59.999Z, the latest time an HTTP `Date` header (and the control plane)
    /// can show.
    pub const LATEST: Timestamp = Timestamp(253_402_300_799_999);

    /// A timestamp from milliseconds since the Unix epoch.
    pub const fn from_millis(ms: i64) -> Self {
        Self(ms)
    }

    /// A timestamp from whole seconds since the Unix epoch.
    pub const fn from_secs(secs: i64) -> Self {
        Self(secs.saturating_mul(1000))
    }

    /// Milliseconds since the Unix epoch.
    pub const fn millis(self) -> i64 {
        self.0
    }

    /// Whole seconds since the Unix epoch (floor), the unit WeChat puts on the wire.
    pub const fn secs(self) -> i64 {
        self.0.div_euclid(1000)
    }

    /// This timestamp moved forward by `d` (saturating).
    pub fn plus(self, d: Duration) -> Self {
        Self(self.0.saturating_add(duration_millis(d)))
    }

    /// How long from `self` until `later`, zero if `later` is not later.
    pub fn until(self, later: Timestamp) -> Duration {
        Duration::from_millis(u64::try_from(later.0.saturating_sub(self.0)).unwrap_or(0))
    }

    /// RFC 3339 form in UTC, for humans reading the control plane.
    pub fn rfc3339(self) -> String {
        let nanos = i128::from(self.0) * 1_000_000;
        time::OffsetDateTime::from_unix_timestamp_nanos(nanos)
            .ok()
            .and_then(|t| {
                t.format(&time::format_description::well_known::Rfc3339)
                    .ok()
            })
            .unwrap_or_else(|| self.0.to_string())
    }

    /// Parses an RFC 3339 date-time (`2024-08-22T01:14:57Z`).
    pub fn parse_rfc3339(s: &str) -> Option<Self> {
        let t =
            time::OffsetDateTime::parse(s, &time::format_description::well_known::Rfc3339).ok()?;
        i64::try_from(t.unix_timestamp_nanos() / 1_000_000)
            .ok()
            .map(Self)
    }

    /// The calendar day in China (UTC+8) this instant falls on, as a day number: WeChat's daily
    /// quotas end at midnight Beijing time, not UTC.
    pub const fn china_day(self) -> i64 {
        self.secs()
            .saturating_add(CHINA_OFFSET_SECS)
            .div_euclid(86_400)
    }

    /// The calendar month in China (UTC+8) this instant falls on, as `year * 12 + month - 1`:
    /// monthly allowances (such as `clear_quota`'s) start again on the 1st, Beijing time.
    pub fn china_month(self) -> i64 {
        let secs = self.secs().saturating_add(CHINA_OFFSET_SECS);
        time::OffsetDateTime::from_unix_timestamp(secs).map_or(0, |t| {
            i64::from(t.year()) * 12 + i64::from(u8::from(t.month())) - 1
        })
    }

    /// The HTTP `Date` header value for this instant (IMF-fixdate); times IMF-fixdate cannot
    /// show are clamped to 1970-01-01 and 9999-12-31T23:59:59Z.
    pub fn http_date(self) -> String {
        let secs = u64::try_from(self.min(Self::LATEST).secs()).unwrap_or(0);
        httpdate::fmt_http_date(UNIX_EPOCH + Duration::from_secs(secs))
    }
}

/// China's offset from UTC (no daylight saving time), seconds.
const CHINA_OFFSET_SECS: i64 = 8 * 3600;

fn duration_millis(d: Duration) -> i64 {
    i64::try_from(d.as_millis()).unwrap_or(i64::MAX)
}

#[derive(Debug)]
struct ClockState {
    /// Added to the system time while the clock runs.
    offset_ms: i64,
    /// The fixed reading while the clock is frozen.
    frozen_at: Option<Timestamp>,
}

/// A shared, cloneable virtual clock. Clones observe and control the same time.
#[derive(Clone, Debug)]
pub struct Clock {
    state: Arc<Mutex<ClockState>>,
}

impl Default for Clock {
    fn default() -> Self {
        Self::system()
    }
}

impl Clock {
    /// A clock that follows the system clock until told otherwise.
    pub fn system() -> Self {
        Self {
            state: Arc::new(Mutex::new(ClockState {
                offset_ms: 0,
                frozen_at: None,
            })),
        }
    }

    /// A frozen clock reading `start`: time moves only when the caller advances it.
    pub fn manual(start: Timestamp) -> Self {
        Self {
            state: Arc::new(Mutex::new(ClockState {
                offset_ms: 0,
                frozen_at: Some(start),
            })),
        }
    }

    fn lock(&self) -> std::sync::MutexGuard<'_, ClockState> {
        // The state is two integers that are always consistent; a panic elsewhere cannot
        // leave it half-written, so a poisoned lock is safe to keep using.
        self.state.lock().unwrap_or_else(PoisonError::into_inner)
    }

    /// The current virtual time.
    pub fn now(&self) -> Timestamp {
        let s = self.lock();
        match s.frozen_at {
            Some(t) => t,
            None => Timestamp(system_millis().saturating_add(s.offset_ms)),
        }
    }

    /// Whether the clock is frozen.
    pub fn is_frozen(&self) -> bool {
        self.lock().frozen_at.is_some()
    }

    /// Moves the clock forward by `d`, frozen or not.
    pub fn advance(&self, d: Duration) {
        let mut s = self.lock();
        match &mut s.frozen_at {
            Some(t) => *t = t.plus(d),
            None => s.offset_ms = s.offset_ms.saturating_add(duration_millis(d)),
        }
    }

    /// Sets the clock to `t`; a running clock keeps running from there.
    pub fn set(&self, t: Timestamp) {
        let mut s = self.lock();
        match &mut s.frozen_at {
            Some(f) => *f = t,
            None => s.offset_ms = t.0.saturating_sub(system_millis()),
        }
    }

    /// Stops the clock at its current reading.
    pub fn freeze(&self) {
        let mut s = self.lock();
        if s.frozen_at.is_none() {
            s.frozen_at = Some(Timestamp(system_millis().saturating_add(s.offset_ms)));
        }
    }

    /// Lets a frozen clock run again from its frozen reading.
    pub fn resume(&self) {
        let mut s = self.lock();
        if let Some(t) = s.frozen_at.take() {
            s.offset_ms = t.0.saturating_sub(system_millis());
        }
    }
}

fn system_millis() -> i64 {
    SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .map(duration_millis)
        .unwrap_or(0)
}

/// Wall-clock stopwatch for request latency in the journal. Latency is real elapsed time, not
/// virtual time, so it lives here beside the only other reader of the system clock.
#[derive(Clone, Copy, Debug)]
pub struct Stopwatch(std::time::Instant);

impl Stopwatch {
    /// Starts measuring.
    pub fn start() -> Self {
        Self(std::time::Instant::now())
    }

    /// Elapsed microseconds.
    pub fn micros(self) -> u64 {
        u64::try_from(self.0.elapsed().as_micros()).unwrap_or(u64::MAX)
    }
}

/// Parses a duration such as `"5m"`, `"301s"`, `"1h30m"`, `"250ms"` or `"2d"`.
///
/// A bare number is seconds. Used wherever the control plane or the CLI takes a duration.
pub fn parse_duration(input: &str) -> Result<Duration, String> {
    let s = input.trim();
    if s.is_empty() {
        return Err("empty duration".into());
    }
    if let Ok(secs) = s.parse::<u64>() {
        return Ok(Duration::from_secs(secs));
    }
    let mut total = Duration::ZERO;
    let mut rest = s;
    while !rest.is_empty() {
        let digits = rest
            .find(|c: char| !c.is_ascii_digit())
            .unwrap_or(rest.len());
        if digits == 0 {
            return Err(format!(
                "invalid duration {input:?}: expected a number at {rest:?}"
            ));
        }
        let n: u64 = rest[..digits]
            .parse()
            .map_err(|_| format!("invalid duration {input:?}: number too large"))?;
        rest = &rest[digits..];
        let unit_len = rest
            .find(|c: char| c.is_ascii_digit())
            .unwrap_or(rest.len());
        let unit = &rest[..unit_len];
        rest = &rest[unit_len..];
        let part = match unit {
            "ms" => Duration::from_millis(n),
            "s" => Duration::from_secs(n),
            "m" => Duration::from_secs(n.saturating_mul(60)),
            "h" => Duration::from_secs(n.saturating_mul(3600)),
            "d" => Duration::from_secs(n.saturating_mul(86_400)),
            _ => {
                return Err(format!(
                    "invalid duration {input:?}: unknown unit {unit:?} (use ms, s, m, h or d)"
                ));
            }
        };
        total = total.saturating_add(part);
    }
    Ok(total)
}

/// Formats a duration the way [`parse_duration`] reads it back (`"5m"`, `"90s"`, `"250ms"`).
pub fn format_duration(d: Duration) -> String {
    let ms = d.as_millis();
    if ms % 1000 != 0 {
        format!("{ms}ms")
    } else if ms % 3_600_000 == 0 && ms > 0 {
        format!("{}h", ms / 3_600_000)
    } else if ms % 60_000 == 0 && ms > 0 {
        format!("{}m", ms / 60_000)
    } else {
        format!("{}s", ms / 1000)
    }
}

/// A duration as the control plane writes and reads it: the text [`parse_duration`] takes and
/// [`format_duration`] writes. Only its JSON Schema is of use (fields holding such text name it
/// with `#[schemars(with = "DurationText")]`).
pub struct DurationText;

impl schemars::JsonSchema for DurationText {
    fn schema_name() -> std::borrow::Cow<'static, str> {
        "Duration".into()
    }

    fn json_schema(_: &mut schemars::SchemaGenerator) -> schemars::Schema {
        schemars::json_schema!({
            "type": "string",
            "description": "A duration: whole seconds (`\"300\"`) or one or more `<n><unit>` parts \
                with units `ms`, `s`, `m`, `h`, `d` (`\"5m\"`, `\"301s\"`, `\"250ms\"`, \
                `\"1h30m\"`). Shown in the largest unit that divides it exactly.",
            "pattern": "^\\s*(\\d+|(\\d+(ms|s|m|h|d))+)\\s*$",
            "examples": ["5m", "301s", "250ms", "1h30m"],
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn manual_clock_moves_only_when_told() {
        let c = Clock::manual(Timestamp::from_secs(1_724_289_297));
        assert_eq!(c.now().secs(), 1_724_289_297);
        c.advance(Duration::from_secs(301));
        assert_eq!(c.now().secs(), 1_724_289_598);
        c.set(Timestamp::from_secs(10));
        assert_eq!(c.now(), Timestamp::from_secs(10));
    }

    #[test]
    fn running_clock_keeps_offset_across_freeze_and_resume() {
        let c = Clock::system();
        c.set(Timestamp::from_secs(1_000_000));
        c.freeze();
        let frozen = c.now();
        assert!(frozen.secs() >= 1_000_000 && frozen.secs() < 1_000_100);
        c.advance(Duration::from_secs(60));
        assert_eq!(c.now(), frozen.plus(Duration::from_secs(60)));
        c.resume();
        assert!(c.now() >= frozen.plus(Duration::from_secs(60)));
        assert!(!c.is_frozen());
    }

    #[test]
    fn durations_parse_and_format() {
        assert_eq!(parse_duration("5m"), Ok(Duration::from_secs(300)));
        assert_eq!(parse_duration("301s"), Ok(Duration::from_secs(301)));
        assert_eq!(parse_duration("1h30m"), Ok(Duration::from_secs(5400)));
        assert_eq!(parse_duration("250ms"), Ok(Duration::from_millis(250)));
        assert_eq!(parse_duration("42"), Ok(Duration::from_secs(42)));
        assert!(parse_duration("5 minutes").is_err());
        assert!(parse_duration("m").is_err());
        assert!(parse_duration("").is_err());
        assert_eq!(format_duration(Duration::from_secs(300)), "5m");
        assert_eq!(format_duration(Duration::from_secs(301)), "301s");
        assert_eq!(format_duration(Duration::from_millis(1500)), "1500ms");
    }

    #[test]
    fn timestamps_render_for_humans_and_http() {
        let t = Timestamp::from_secs(0x66c6_9111);
        assert_eq!(t.rfc3339(), "2024-08-22T01:14:57Z");
        assert_eq!(t.http_date(), "Thu, 22 Aug 2024 01:14:57 GMT");
        assert_eq!(Timestamp::parse_rfc3339("2024-08-22T01:14:57Z"), Some(t));
    }

    #[test]
    fn china_days_and_months_turn_at_midnight_beijing_time() {
        let at = |s: &str| Timestamp::parse_rfc3339(s).expect("valid time");
        let day = at("2024-08-22T01:14:57Z").china_day();
        assert_eq!(at("2024-08-22T15:59:59Z").china_day(), day);
        assert_eq!(at("2024-08-22T16:00:00Z").china_day(), day + 1);
        assert_eq!(at("2024-08-21T16:00:00Z").china_day(), day);
        assert_eq!(at("2024-08-21T15:59:59Z").china_day(), day - 1);
        let august = 2024 * 12 + 7;
        assert_eq!(at("2024-08-22T01:14:57Z").china_month(), august);
        assert_eq!(at("2024-08-31T15:59:59Z").china_month(), august);
        assert_eq!(at("2024-08-31T16:00:00Z").china_month(), august + 1);
        assert_eq!(at("2024-12-31T16:00:00Z").china_month(), 2025 * 12);
    }
}
