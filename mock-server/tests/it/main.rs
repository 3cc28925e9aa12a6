//! Integration tests of mock-server: every rule and error code over HTTP, with the clock advanced
//! instead of sleeping. One binary; one module per feature.
#![allow(clippy::unwrap_used, missing_docs)]

mod helpers;

mod bad_input;
mod cli;
mod concurrency;
mod control;
mod encrypt_key;
mod encrypted_msg;
mod eviction;
mod faults;
mod journal;
mod jscode2session;
mod model;
mod official_account;
mod openapi;
mod openapi_answers;
mod opendata;
mod paid_unionid;
mod phone;
mod platform;
mod plugin;
mod quota;
mod risk;
mod session;
mod sms;
mod stub;
mod tokens;
mod ui;
mod wire;
