//! In-process shortcuts for benchmarks, fuzz targets and tests: the mock without a socket.
//!
//! [`InProcess`] answers a vendor request through the same steps `vendor::entry` takes (parse,
//! fault rules and judgement under one lock, rendering), minus HTTP, delays and the journal, so a
//! fuzz target exercises the real path at memory speed. The engine it holds is the one a running
//! server has behind [`MockHandle::engine`](crate::MockHandle::engine): its `wx_*` methods mint
//! codes without a round trip.
//!
//! These are not part of the mock's HTTP contract; their shapes follow the engine's.
//!
//! ```
//! use mock_server::testing::InProcess;
//! use mock_server::{Clock, Timestamp};
//! let mock = InProcess::new("seed", Clock::manual(Timestamp::from_secs(1_724_289_297))).unwrap();
//! let out = mock.get("/sns/jscode2session?appid=wx0&secret=s&js_code=c");
//! assert_eq!(out.errcode, Some(40013));
//! ```

use axum::http::{HeaderMap, StatusCode};
use bytes::Bytes;

use crate::clock::Clock;
use crate::config::Config;
use crate::endpoint::Endpoint;
use crate::engine::EngineError;
use crate::shared::Shared;

pub use crate::engine::Engine;
pub use crate::params::Params;
pub use crate::reply::{Answer, PhoneInfo, Reply, TencentReply};
pub use crate::request::{Call, VendorRequest};

/// The mock's engine and rendering, without a server.
pub struct InProcess {
    shared: Shared,
}

/// What a vendor request was answered.
#[derive(Clone, Debug)]
pub struct Exchange {
    /// HTTP status (0 when a fault rule cut the connection).
    pub status: u16,
    /// Content-Type.
    pub content_type: &'static str,
    /// The body as it would go out (whole, even when a fault truncates it on the wire).
    pub body: Bytes,
    /// errcode of a WeChat body (0 for successes), none for other bodies.
    pub errcode: Option<i64>,
    /// The Tencent Cloud code answered, for the SMS endpoint.
    pub tencent_code: Option<&'static str>,
}

impl InProcess {
    /// A mock with the default configuration, `seed` and `clock`.
    pub fn new(seed: &str, clock: Clock) -> Result<Self, EngineError> {
        Self::with_config(&Config {
            seed: seed.to_owned(),
            clock,
            ..Config::default()
        })
    }

    /// A mock built from `config` (its address is not used).
    pub fn with_config(config: &Config) -> Result<Self, EngineError> {
        Ok(Self {
            shared: Shared::new(config)?,
        })
    }

    /// The engine: the simulated client (`wx_login`, `wx_phone_code`, ...), the directory, the
    /// fault book.
    pub fn engine(&self) -> &Engine {
        &self.shared.engine
    }

    /// Answers a request as the vendor surface does; `path` is the request's path.
    pub fn call(&self, path: &str, req: &VendorRequest) -> Exchange {
        let now = self.shared.engine.clock().now();
        let arrival = self.shared.engine.arrive(req, false);
        let out = crate::vendor::respond(&self.shared, req, path, arrival, false, now);
        Exchange {
            status: out.status(),
            content_type: out.rendered.content_type,
            errcode: out.rendered.errcode,
            tencent_code: out.tencent_code.filter(|_| out.whole()),
            body: out.rendered.body,
        }
    }

    /// A request to `target` (path and query) with `body`, as the vendor surface parses it;
    /// `headers` matter for the Tencent Cloud endpoint only.
    pub fn request(
        &self,
        is_post: bool,
        target: &str,
        headers: &HeaderMap,
        body: Bytes,
    ) -> Exchange {
        let (path, query) = match target.split_once('?') {
            Some((path, query)) => (path, Some(query)),
            None => (target, None),
        };
        let req = VendorRequest::parse(Endpoint::of_path(path), is_post, query, headers, body);
        self.call(path, &req)
    }

    /// `GET target`.
    pub fn get(&self, target: &str) -> Exchange {
        self.request(false, target, &HeaderMap::new(), Bytes::new())
    }

    /// `POST target` with a body.
    pub fn post(&self, target: &str, body: impl Into<Bytes>) -> Exchange {
        self.request(true, target, &HeaderMap::new(), body.into())
    }
}

impl Exchange {
    /// Whether the answer is HTTP 200.
    pub fn is_ok(&self) -> bool {
        self.status == StatusCode::OK.as_u16()
    }

    /// The body as JSON, if it is.
    pub fn json(&self) -> Option<serde_json::Value> {
        serde_json::from_slice(&self.body).ok()
    }
}
