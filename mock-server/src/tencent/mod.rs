//! Tencent Cloud SMS as the mock plays it: the `SendSms` action of API 3.0 (version 2021-01-11),
//! served at `POST /tencentcloud/sms` (and `/tencentcloud/sms/`) in place of
//! `https://sms.tencentcloudapi.com/`.
//!
//! - [`sign`]: TC3-HMAC-SHA256, the signer clients and tests use ([`sign::sign`],
//!   [`send_sms_headers`]) and the pieces the gateway verifies with.
//! - [`catalogue`]: every Tencent Cloud error the gateway answers, and the response bodies.
//! - [`request`]: a request parsed (common parameters from headers, the JSON body).
//! - [`phone`]: E.164 numbers and their regions.
//! - [`config`]: keys, SmsSdkAppIds, sign names, templates and limits, defaults from the seed.
//!
//! The rules themselves (signature, clock, templates, limits, the outbox) live in the engine
//! (`engine::sms`), behind its lock like WeChat's.
//!
//! ```
//! use mock_server::tencent::{self, sign::Key};
//! let key = Key { secret_id: "AKIDexample", secret_key: "secret" };
//! let body = br#"{"PhoneNumberSet":["+8613800138000"],"SmsSdkAppId":"1400000000","TemplateId":"1234567","SignName":"x","TemplateParamSet":["123456","5"]}"#;
//! let headers = tencent::send_sms_headers(&key, "127.0.0.1:9100", "ap-guangzhou", 1_724_289_297, body);
//! assert!(headers.iter().any(|(name, value)| *name == "Authorization"
//!     && value.starts_with("TC3-HMAC-SHA256 Credential=AKIDexample/2024-08-22/sms/tc3_request, SignedHeaders=content-type;host, Signature=")));
//! ```

pub mod catalogue;
pub mod config;
pub mod phone;
pub mod request;
pub mod sign;

use std::sync::atomic::{AtomicU64, Ordering};

use crate::ids::Generator;

pub use catalogue::{Scope, SendStatus, TcCode, TcError};
pub use config::{SmsConfig, SmsConfigPatch, SmsConfigView};
pub use sign::{Key, sign};

/// The mock's path for the SMS endpoint (`https://sms.tencentcloudapi.com/` on Tencent Cloud).
pub const SMS_PATH: &str = "/tencentcloud/sms";

/// The `Content-Type` the official SDKs send with a JSON POST (tencentcloud-sdk-python).
pub const CONTENT_TYPE: &str = "application/json";

/// Every header of a signed SendSms POST of `body` to a server reached as `host` (the `Host`
/// header the client will send: `127.0.0.1:9100` for a mock there), signing `content-type;host`
/// as the SDKs do: `Content-Type`, `Host`, `X-TC-Action`, `X-TC-Version`, `X-TC-Timestamp`,
/// `X-TC-Region` and `Authorization`.
pub fn send_sms_headers(
    key: &Key<'_>,
    host: &str,
    region: &str,
    timestamp: i64,
    body: &[u8],
) -> Vec<(&'static str, String)> {
    let authorization = sign(
        key,
        &sign::Request {
            service: request::SERVICE,
            timestamp,
            headers: &[("content-type", CONTENT_TYPE), ("host", host)],
            payload: body,
        },
    );
    vec![
        ("Content-Type", CONTENT_TYPE.to_owned()),
        ("Host", host.to_owned()),
        ("X-TC-Action", request::ACTION.to_owned()),
        ("X-TC-Version", request::VERSION.to_owned()),
        ("X-TC-Timestamp", timestamp.to_string()),
        ("X-TC-Region", region.to_owned()),
        ("Authorization", authorization),
    ]
}

/// Request ids (`RequestId`, a lowercase UUID as Tencent Cloud's are) drawn from the seeded
/// generator and a counter: random-looking, the same from run to run.
#[derive(Debug)]
pub struct RequestIds {
    idgen: Generator,
    counter: AtomicU64,
}

impl RequestIds {
    /// A source drawing from `idgen`.
    pub fn new(idgen: Generator) -> Self {
        Self {
            idgen,
            counter: AtomicU64::new(0),
        }
    }

    /// The next request id.
    pub fn next(&self) -> String {
        let n = self.counter.fetch_add(1, Ordering::Relaxed);
        let hi = self
            .idgen
            .number("tc-request-id", &[&n.to_be_bytes(), b"hi"]);
        let lo = self
            .idgen
            .number("tc-request-id", &[&n.to_be_bytes(), b"lo"]);
        // Version 4 and the RFC 4122 variant, as the captured ids have.
        let hi = (hi & !0xf000) | 0x4000;
        let lo = (lo & !(0xc << 60)) | (0x8 << 60);
        format!(
            "{:08x}-{:04x}-{:04x}-{:04x}-{:012x}",
            hi >> 32,
            (hi >> 16) & 0xffff,
            hi & 0xffff,
            lo >> 48,
            lo & 0xffff_ffff_ffff
        )
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn request_ids_are_v4_uuids_that_repeat_with_the_seed() {
        let a = RequestIds::new(Generator::new("s"));
        let b = RequestIds::new(Generator::new("s"));
        let first = a.next();
        assert_eq!(first, b.next());
        assert_ne!(first, a.next());
        let parts: Vec<&str> = first.split('-').collect();
        assert_eq!(
            parts.iter().map(|p| p.len()).collect::<Vec<_>>(),
            [8, 4, 4, 4, 12],
            "{first}"
        );
        assert!(parts[2].starts_with('4'), "{first}");
        assert!(matches!(parts[3].as_bytes()[0], b'8'..=b'b'), "{first}");
        assert!(
            first
                .bytes()
                .all(|c| c == b'-' || c.is_ascii_hexdigit() && !c.is_ascii_uppercase())
        );
    }
}
