//! An offline mock of the WeChat server APIs a mini-program backend calls to log users in:
//! `sns/jscode2session`, `cgi-bin/token`, `cgi-bin/stable_token`, `wxa/checksession`,
//! `wxa/resetusersessionkey` and `wxa/business/getuserphonenumber`, answering with WeChat's
//! real wire format and error codes, plus a control plane under `/__mock__/`. It also plays
//! Tencent Cloud SMS's `SendSms` (API 3.0, TC3-HMAC-SHA256) at `POST /tencentcloud/sms`, keeping
//! an outbox of the messages it accepted ([`tencent`]).
//!
//! ```no_run
//! # async fn demo() -> Result<(), Box<dyn std::error::Error>> {
//! let mock = mock_server::spawn(mock_server::Config::default()).await?;
//! let app = mock.default_app();
//! let login = mock.control().wx_login(&app.appid, "alice").await?;
//! // Point the backend at mock.base_url() and send it login.code.
//! # Ok(()) }
//! ```

// The facade: what a test suite, a harness or a fuzz target reaches for.
pub mod catalogue;
pub mod client;
pub mod clock;
pub mod config;
pub mod control;
pub mod endpoint;
pub mod engine;
pub mod faults;
pub mod fixture;
pub mod ids;
pub mod journal;
pub mod opendata;
pub mod server;
pub mod tencent;
pub mod testing;
pub mod users;

// The vendor surface's insides, in the order a request meets them.
mod listener;
mod params;
mod reply;
mod request;
mod shared;
mod vendor;
mod wire;

pub use client::{ClientError, ControlClient};
pub use clock::{Clock, Timestamp};
pub use config::{AppSpec, Config, Options, SeedFile, UserSpec};
pub use server::{MockHandle, StartError, spawn, start};
pub use vendor::MAX_BODY;
