//! login-core's integration tests: every flow over HTTP against the in-process mock, plus
//! wiremock for transport failures the mock cannot produce.

mod helpers;
mod login;
