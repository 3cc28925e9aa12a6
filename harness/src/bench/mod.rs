//! Measuring the servers (`harness bench`): a closed-loop HTTP/1.1 load generator with one
//! keep-alive connection per worker ([`load`]) and the bare hyper server every figure is
//! compared to ([`bare`]).
//!
//! ```no_run
//! # async fn demo() {
//! use std::time::Duration;
//! use harness::bench::{bare, load};
//! let server = bare::spawn().await.expect("bare server");
//! let work = load::Workload::fixed(
//!     hyper::Method::GET,
//!     "/sns/jscode2session",
//!     load::Expect::ok_containing("openid"),
//! );
//! let report = load::run(server.addr(), std::sync::Arc::new(work), &load::Settings {
//!     connections: 64,
//!     warmup: Duration::from_millis(500),
//!     duration: Duration::from_secs(5),
//! }).await;
//! println!("{:.0} req/s, p99 {:?}", report.rate(), report.p99());
//! # }
//! ```

pub mod bare;
pub mod load;

/// Resident set size and its high-water mark of a process, in KiB, from `/proc/PID/status`
/// (`None` for the current process); zeros where `/proc` is unavailable.
pub fn memory_kib(pid: Option<u32>) -> (u64, u64) {
    let path = match pid {
        Some(p) => format!("/proc/{p}/status"),
        None => "/proc/self/status".to_owned(),
    };
    let status = std::fs::read_to_string(path).unwrap_or_default();
    let field = |name: &str| {
        status
            .lines()
            .find_map(|l| l.strip_prefix(name))
            .and_then(|rest| rest.trim().trim_end_matches("kB").trim().parse().ok())
            .unwrap_or(0)
    };
    (field("VmRSS:"), field("VmHWM:"))
}
