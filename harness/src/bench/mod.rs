//! Measuring the servers (`harness bench`): a closed-loop HTTP/1.1 load generator with one
//! keep-alive connection per worker ([`load`]) and the bare hyper server every figure is
//! compared to ([`bare`]); the groups of measurements ([`mock`], [`login_core`], [`cluster`],
//! [`startup`], [`scenarios`], each run through [`runs`] where it loads a server), what they report
//! ([`report`]: the rows, the Markdown table, the JSON), the machine they ran on ([`machine`])
//! and login-core's own figures ([`prometheus`]).
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
pub mod cluster;
pub mod load;
pub mod login_core;
pub mod machine;
pub mod mock;
pub mod prometheus;
pub mod report;
pub mod runs;
pub mod scenarios;
pub mod startup;

pub use machine::memory_kib;
