//! login-core's integration tests: every flow over HTTP against the in-process mock, plus
//! wiremock for transport failures the mock cannot produce.

mod api;
mod bad_input;
mod cli;
mod cluster;
mod concurrency;
mod durability;
mod eviction;
mod helpers;
mod key_rotation;
mod lifecycle;
mod login;
mod openapi;
mod password;
mod phone;
mod postgres;
mod profile;
mod props_journeys;
mod props_opendata;
mod props_phone;
mod redis_counters;
mod registration;
mod rotated_key;
mod session;
mod sms;
mod transport;
mod upstream;
mod upstream_trouble;
