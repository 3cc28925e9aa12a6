//! login-core's integration tests: every flow over HTTP against the in-process mock, plus
//! wiremock for transport failures the mock cannot produce.

mod api;
mod cli;
mod concurrency;
mod helpers;
mod lifecycle;
mod login;
mod phone;
mod profile;
mod session;
mod transport;
mod upstream;
