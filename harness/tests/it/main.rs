//! Integration tests of the harness itself: the runner's failure reports, discovery and
//! filters, the JUnit, JSON and HTML reports, the `harness` binary, target mode against "a team's
//! backend" (with its phone-first routes and SMS account), the mini-program client, the JSON
//! Schema kept in `scenarios/schema.json`, clusters of login-core processes, and `harness record`.

mod cli;
mod client;
mod cluster;
mod helpers;
mod html_report;
mod leaks;
mod phone_first;
mod record;
mod reports;
mod runner;
mod schema;
mod target;
