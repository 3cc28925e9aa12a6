//! login-core: a reference login service for WeChat mini-programs.
//!
//! Layers, outside in: [`http`] (router, extractors, DTOs, the one error-to-HTTP mapping) →
//! [`service`] (use cases) → ports ([`store::Store`], [`wechat::WeChatApi`],
//! [`sms::SmsSender`], [`clock::Clock`], [`random::Random`]) → adapters ([`store::sqlite`], [`store::postgres`],
//! [`wechat::http`], [`sms::tencent`], [`sms::log`]). Under them all, [`domain`]: the plain
//! types every layer maps its own formats to and from.

pub mod clock;
pub mod config;
pub mod crypto;
pub mod domain;
pub mod http;
pub mod ids;
pub mod metrics;
pub mod password;
pub mod phone;
pub mod random;
pub mod server;
pub mod service;
pub mod sms;
pub mod store;
pub mod wechat;

pub use config::Config;
pub use server::{Deps, LoginCoreHandle, StartError, build, spawn, spawn_with};
