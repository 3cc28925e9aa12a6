//! login-core: a reference login service for WeChat mini-programs.
//!
//! Layers, outside in: [`http`] (router, extractors, DTOs, the one error-to-HTTP mapping) →
//! [`service`] (use cases) → ports ([`store::Store`], [`wechat::WeChatApi`], [`clock::Clock`],
//! [`random::Random`]) → adapters ([`store::sqlite`], [`wechat::http`]).

pub mod clock;
pub mod crypto;
pub mod ids;
pub mod random;
pub mod store;
pub mod wechat;
