//! harness: scenario files in, reports out, against login-core or any backend.

pub mod bench;
pub mod cluster;
pub mod context;
pub mod discover;
pub mod matching;
pub mod record;
pub mod report;
pub mod run_many;
pub mod runner;
pub mod scenario;
pub mod target;
