//! Tencent Cloud API 3.0 request signing, TC3-HMAC-SHA256, for a JSON POST to `/` without a
//! query string, signing the `content-type` and `host` headers:
//!
//! ```text
//! CanonicalRequest = "POST\n/\n\n" + "content-type:" + ct + "\nhost:" + host + "\n\n"
//!                  + "content-type;host\n" + hex(SHA256(payload))
//! StringToSign     = "TC3-HMAC-SHA256\n" + timestamp + "\n" + date + "/" + service
//!                  + "/tc3_request\n" + hex(SHA256(CanonicalRequest))
//! SecretSigning    = HMAC(HMAC(HMAC("TC3" + SecretKey, date), service), "tc3_request")
//! Signature        = hex(HMAC(SecretSigning, StringToSign))
//! Authorization    = "TC3-HMAC-SHA256 Credential=" + SecretId + "/" + date + "/" + service
//!                  + "/tc3_request, SignedHeaders=content-type;host, Signature=" + Signature
//! ```
//!
//! `date` is the UTC date of the timestamp (`2019-02-25`). The unit tests reproduce the worked
//! example of Tencent Cloud's signature documentation (CVM `DescribeInstances`, timestamp
//! 1551113065) digit for digit.

use hmac::{Hmac, Mac};
use sha2::{Digest, Sha256};

/// The algorithm's name, first in `Authorization`.
pub const ALGORITHM: &str = "TC3-HMAC-SHA256";

/// The headers signed, in canonical order.
pub const SIGNED_HEADERS: &str = "content-type;host";

/// What a signature covers.
#[derive(Clone, Copy, Debug)]
pub struct Signing<'a> {
    /// The API key's SecretId.
    pub secret_id: &'a str,
    /// The API key's SecretKey.
    pub secret_key: &'a str,
    /// The product (`sms`).
    pub service: &'a str,
    /// The `Host` header as sent (`sms.tencentcloudapi.com`, or `127.0.0.1:9100`).
    pub host: &'a str,
    /// The `Content-Type` header as sent.
    pub content_type: &'a str,
    /// `X-TC-Timestamp`: Unix seconds.
    pub timestamp: i64,
}

fn hmac(key: &[u8], message: &str) -> [u8; 32] {
    // HMAC takes keys of any length.
    match <Hmac<Sha256> as Mac>::new_from_slice(key) {
        Ok(mut mac) => {
            mac.update(message.as_bytes());
            mac.finalize().into_bytes().into()
        }
        Err(_) => [0; 32],
    }
}

fn sha256_hex(text: &str) -> String {
    hex::encode(Sha256::digest(text.as_bytes()))
}

/// The UTC date of a Unix timestamp: `YYYY-MM-DD`.
pub fn utc_date(timestamp: i64) -> String {
    // Howard Hinnant's days-to-civil.
    let days = timestamp.div_euclid(86_400);
    let z = days + 719_468;
    let era = z.div_euclid(146_097);
    let doe = z - era * 146_097;
    let yoe = (doe - doe / 1460 + doe / 36_524 - doe / 146_096) / 365;
    let doy = doe - (365 * yoe + yoe / 4 - yoe / 100);
    let mp = (5 * doy + 2) / 153;
    let day = doy - (153 * mp + 2) / 5 + 1;
    let month = if mp < 10 { mp + 3 } else { mp - 9 };
    let year = yoe + era * 400 + i64::from(month <= 2);
    format!("{year:04}-{month:02}-{day:02}")
}

impl Signing<'_> {
    /// The canonical request of a POST of `payload`.
    pub fn canonical_request(&self, payload: &str) -> String {
        format!(
            "POST\n/\n\ncontent-type:{}\nhost:{}\n\n{SIGNED_HEADERS}\n{}",
            self.content_type,
            self.host,
            sha256_hex(payload)
        )
    }

    /// `date/service/tc3_request`.
    pub fn credential_scope(&self) -> String {
        format!("{}/{}/tc3_request", utc_date(self.timestamp), self.service)
    }

    /// The string to sign of a POST of `payload`.
    pub fn string_to_sign(&self, payload: &str) -> String {
        format!(
            "{ALGORITHM}\n{}\n{}\n{}",
            self.timestamp,
            self.credential_scope(),
            sha256_hex(&self.canonical_request(payload))
        )
    }

    /// The hex signature of a POST of `payload`.
    pub fn signature(&self, payload: &str) -> String {
        let date = utc_date(self.timestamp);
        let secret_date = hmac(format!("TC3{}", self.secret_key).as_bytes(), &date);
        let secret_service = hmac(&secret_date, self.service);
        let secret_signing = hmac(&secret_service, "tc3_request");
        hex::encode(hmac(&secret_signing, &self.string_to_sign(payload)))
    }

    /// The `Authorization` header of a POST of `payload`.
    pub fn authorization(&self, payload: &str) -> String {
        format!(
            "{ALGORITHM} Credential={}/{}, SignedHeaders={SIGNED_HEADERS}, Signature={}",
            self.secret_id,
            self.credential_scope(),
            self.signature(payload)
        )
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// The worked example of Tencent Cloud's "Signature v3" page: CVM DescribeInstances in
    /// ap-guangzhou, timestamp 1551113065, with the page's (masked) example key.
    const EXAMPLE: Signing<'static> = Signing {
        secret_id: "AKIDz8krbsJ5yKBZQpn74WFkmLPx3*******",
        secret_key: "Gu5t9xGARNpq86cd98joQYCN3*******",
        service: "cvm",
        host: "cvm.tencentcloudapi.com",
        content_type: "application/json; charset=utf-8",
        timestamp: 1_551_113_065,
    };
    const EXAMPLE_PAYLOAD: &str =
        r#"{"Limit": 1, "Filters": [{"Values": ["\u672a\u547d\u540d"], "Name": "instance-name"}]}"#;

    #[test]
    fn the_documented_example_is_reproduced() {
        assert_eq!(
            EXAMPLE.canonical_request(EXAMPLE_PAYLOAD),
            "POST\n/\n\ncontent-type:application/json; charset=utf-8\nhost:cvm.tencentcloudapi.com\n\n\
             content-type;host\n35e9c5b0e3ae67532d3c9f17ead6c90222632e5b1ff7f6e89887f1398934f064"
        );
        assert_eq!(
            EXAMPLE.string_to_sign(EXAMPLE_PAYLOAD),
            "TC3-HMAC-SHA256\n1551113065\n2019-02-25/cvm/tc3_request\n\
             5ffe6a04c0664d6b969fab9a13bdab201d63ee709638e2749d62a09ca18d7031"
        );
        assert_eq!(
            EXAMPLE.signature(EXAMPLE_PAYLOAD),
            "2230eefd229f582d8b1b891af7107b91597240707d778ab3738f756258d7652c"
        );
        assert_eq!(
            EXAMPLE.authorization(EXAMPLE_PAYLOAD),
            "TC3-HMAC-SHA256 Credential=AKIDz8krbsJ5yKBZQpn74WFkmLPx3*******/2019-02-25/cvm/tc3_request, \
             SignedHeaders=content-type;host, \
             Signature=2230eefd229f582d8b1b891af7107b91597240707d778ab3738f756258d7652c"
        );
    }

    #[test]
    fn every_part_of_the_request_is_signed() {
        let base = EXAMPLE.signature(EXAMPLE_PAYLOAD);
        let changed = [
            Signing {
                secret_key: "Gu5t9xGARNpq86cd98joQYCN3******+",
                ..EXAMPLE
            },
            Signing {
                service: "sms",
                ..EXAMPLE
            },
            Signing {
                host: "sms.tencentcloudapi.com",
                ..EXAMPLE
            },
            Signing {
                content_type: "application/json",
                ..EXAMPLE
            },
            Signing {
                timestamp: EXAMPLE.timestamp + 1,
                ..EXAMPLE
            },
        ];
        for s in changed {
            assert_ne!(s.signature(EXAMPLE_PAYLOAD), base, "{s:?}");
        }
        assert_ne!(EXAMPLE.signature("{}"), base);
        // The SecretId is not in the signature, only in the credential.
        let other_id = Signing {
            secret_id: "AKIDother",
            ..EXAMPLE
        };
        assert_eq!(other_id.signature(EXAMPLE_PAYLOAD), base);
        assert!(
            other_id
                .authorization(EXAMPLE_PAYLOAD)
                .contains("AKIDother/")
        );
    }

    #[test]
    fn utc_dates() {
        assert_eq!(utc_date(0), "1970-01-01");
        assert_eq!(utc_date(1_551_113_065), "2019-02-25");
        assert_eq!(utc_date(951_782_400), "2000-02-29");
        assert_eq!(utc_date(1_724_284_800 - 1), "2024-08-21");
        assert_eq!(utc_date(1_724_284_800), "2024-08-22");
        assert_eq!(utc_date(-1), "1969-12-31");
    }
}
