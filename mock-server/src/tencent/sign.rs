//! TC3-HMAC-SHA256, Tencent Cloud API 3.0's request signature ("Signature v3"): the signer tests
//! and clients use to build valid requests, and the pieces the SMS gateway checks them with.
//!
//! For a POST (the only method the mock serves) the Signature v3 document defines:
//!
//! ```text
//! CanonicalRequest = "POST\n/\n\n" + CanonicalHeaders + "\n" + SignedHeaders + "\n"
//!                    + hex(SHA256(payload))
//! CanonicalHeaders = for each signed header: lowercase(name) + ":" + lowercase(trim(value)) + "\n"
//! StringToSign     = "TC3-HMAC-SHA256\n" + timestamp + "\n" + date + "/" + service
//!                    + "/tc3_request\n" + hex(SHA256(CanonicalRequest))
//! SecretSigning    = HMAC(HMAC(HMAC("TC3" + SecretKey, date), service), "tc3_request")
//! Signature        = hex(HMAC(SecretSigning, StringToSign))
//! Authorization    = "TC3-HMAC-SHA256 Credential=" + SecretId + "/" + date + "/" + service
//!                    + "/tc3_request, SignedHeaders=" + SignedHeaders + ", Signature=" + Signature
//! ```
//!
//! `date` is the UTC date of the timestamp; the canonical URI is always `/` and the canonical
//! query string empty for a JSON POST, whatever path the request was sent to (the SDKs post to
//! `/`; a client pointed at the mock's `/tencentcloud/sms` still signs `/`). With the header
//! `X-TC-Content-SHA256: UNSIGNED-PAYLOAD` the hashed payload is that of the text
//! `UNSIGNED-PAYLOAD` (tencentcloud-sdk-python, `AbstractClient._get_tc3_signature`).
//!
//! The unit tests reproduce the document's worked example (CVM `DescribeInstances`, timestamp
//! 1551113065) digit for digit.

use std::fmt;

use hmac::{Hmac, Mac};
use sha2::{Digest, Sha256};

/// The algorithm's name, first in `Authorization`.
pub const ALGORITHM: &str = "TC3-HMAC-SHA256";
/// The last part of the credential scope.
pub const TERMINATOR: &str = "tc3_request";
/// The headers the official SDKs sign (tencentcloud-sdk-python `signed_headers`).
pub const SDK_SIGNED_HEADERS: [&str; 2] = ["content-type", "host"];
/// What `X-TC-Content-SHA256` says when the payload is not signed.
pub const UNSIGNED_PAYLOAD: &str = "UNSIGNED-PAYLOAD";

/// A Tencent Cloud API key.
#[derive(Clone, Copy)]
pub struct Key<'a> {
    /// The SecretId (`AKID...`), sent in `Authorization`.
    pub secret_id: &'a str,
    /// The SecretKey, never sent.
    pub secret_key: &'a str,
}

impl fmt::Debug for Key<'_> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("Key")
            .field("secret_id", &self.secret_id)
            .field("secret_key", &"<redacted>")
            .finish()
    }
}

/// What one signature covers.
#[derive(Clone, Copy, Debug)]
pub struct Request<'a> {
    /// The product (`sms`).
    pub service: &'a str,
    /// `X-TC-Timestamp`, Unix seconds; the credential scope's date is its UTC date.
    pub timestamp: i64,
    /// The signed headers in `SignedHeaders` order, as (name, value as sent). At least
    /// `content-type` and `host`.
    pub headers: &'a [(&'a str, &'a str)],
    /// The request body, hashed into the canonical request (or the text `UNSIGNED-PAYLOAD`).
    pub payload: &'a [u8],
}

fn hmac(key: &[u8], message: &str) -> [u8; 32] {
    let Ok(mut mac) = <Hmac<Sha256> as Mac>::new_from_slice(key) else {
        unreachable!("HMAC takes keys of any length")
    };
    mac.update(message.as_bytes());
    mac.finalize().into_bytes().into()
}

fn sha256_hex(bytes: &[u8]) -> String {
    hex::encode(Sha256::digest(bytes))
}

/// The UTC date of a Unix timestamp, `YYYY-MM-DD` (the credential scope's date).
pub fn utc_date(timestamp: i64) -> String {
    crate::clock::Timestamp::from_secs(timestamp)
        .rfc3339()
        .get(..10)
        .map_or_else(String::new, str::to_owned)
}

/// `SignedHeaders`: the lowercase names, `;`-separated.
pub fn signed_headers(req: &Request<'_>) -> String {
    req.headers
        .iter()
        .map(|(name, _)| name.to_ascii_lowercase())
        .collect::<Vec<_>>()
        .join(";")
}

/// The canonical request of a POST.
pub fn canonical_request(req: &Request<'_>) -> String {
    let mut headers = String::new();
    for (name, value) in req.headers {
        headers.push_str(&name.to_ascii_lowercase());
        headers.push(':');
        headers.push_str(&value.trim().to_lowercase());
        headers.push('\n');
    }
    format!(
        "POST\n/\n\n{headers}\n{}\n{}",
        signed_headers(req),
        sha256_hex(req.payload)
    )
}

/// The credential scope: `date/service/tc3_request`.
pub fn credential_scope(req: &Request<'_>) -> String {
    format!("{}/{}/{TERMINATOR}", utc_date(req.timestamp), req.service)
}

/// The string to sign.
pub fn string_to_sign(req: &Request<'_>) -> String {
    format!(
        "{ALGORITHM}\n{}\n{}\n{}",
        req.timestamp,
        credential_scope(req),
        sha256_hex(canonical_request(req).as_bytes())
    )
}

/// The hex signature of a request under a SecretKey.
pub fn signature(secret_key: &str, req: &Request<'_>) -> String {
    let date = utc_date(req.timestamp);
    let secret_date = hmac(format!("TC3{secret_key}").as_bytes(), &date);
    let secret_service = hmac(&secret_date, req.service);
    let secret_signing = hmac(&secret_service, TERMINATOR);
    hex::encode(hmac(&secret_signing, &string_to_sign(req)))
}

/// The `Authorization` header value of a request: what a client sends.
pub fn sign(key: &Key<'_>, req: &Request<'_>) -> String {
    format!(
        "{ALGORITHM} Credential={}/{}, SignedHeaders={}, Signature={}",
        key.secret_id,
        credential_scope(req),
        signed_headers(req),
        signature(key.secret_key, req)
    )
}

/// Whether two signatures are the same, in time that does not depend on where they differ.
pub fn same_signature(a: &str, b: &str) -> bool {
    a.len() == b.len() && a.bytes().zip(b.bytes()).fold(0u8, |d, (x, y)| d | (x ^ y)) == 0
}

#[cfg(test)]
mod tests {
    use super::*;

    // The worked example of the Signature v3 document (SMS copy: tencentcloud.com/document/
    // product/382/40467): CVM DescribeInstances, timestamp 1551113065, its masked key pair used
    // literally. TencentCloud/signature-process-demo (signature-v3/*) runs the same inputs; the
    // document's intermediate and final values below are the ones independent public signers
    // assert (the page itself could not be read here, only those reproductions of it).
    const SECRET_ID: &str = "AKIDz8krbsJ5yKBZQpn74WFkmLPx3*******";
    const SECRET_KEY: &str = "Gu5t9xGARNpq86cd98joQYCN3*******";
    const PAYLOAD: &str =
        r#"{"Limit": 1, "Filters": [{"Values": ["\u672a\u547d\u540d"], "Name": "instance-name"}]}"#;
    const CT: &str = "application/json; charset=utf-8";
    const HOST: &str = "cvm.tencentcloudapi.com";

    fn example<'a>(headers: &'a [(&'a str, &'a str)]) -> Request<'a> {
        Request {
            service: "cvm",
            timestamp: 1_551_113_065,
            headers,
            payload: PAYLOAD.as_bytes(),
        }
    }

    #[test]
    fn reproduces_the_documented_example_digit_for_digit() {
        let headers = [("Content-Type", CT), ("Host", HOST)];
        let req = example(&headers);
        assert_eq!(
            sha256_hex(PAYLOAD.as_bytes()),
            "35e9c5b0e3ae67532d3c9f17ead6c90222632e5b1ff7f6e89887f1398934f064"
        );
        assert_eq!(
            canonical_request(&req),
            "POST\n/\n\ncontent-type:application/json; charset=utf-8\nhost:cvm.tencentcloudapi.com\n\n\
             content-type;host\n35e9c5b0e3ae67532d3c9f17ead6c90222632e5b1ff7f6e89887f1398934f064"
        );
        assert_eq!(
            string_to_sign(&req),
            "TC3-HMAC-SHA256\n1551113065\n2019-02-25/cvm/tc3_request\n\
             5ffe6a04c0664d6b969fab9a13bdab201d63ee709638e2749d62a09ca18d7031"
        );
        let key = Key {
            secret_id: SECRET_ID,
            secret_key: SECRET_KEY,
        };
        assert_eq!(
            sign(&key, &req),
            "TC3-HMAC-SHA256 Credential=AKIDz8krbsJ5yKBZQpn74WFkmLPx3*******/2019-02-25/cvm/tc3_request, \
             SignedHeaders=content-type;host, \
             Signature=2230eefd229f582d8b1b891af7107b91597240707d778ab3738f756258d7652c"
        );
    }

    #[test]
    fn signed_header_values_are_lowercased_as_the_current_example_does() {
        // The current edition of the example (TencentCloud/signature-process-demo,
        // signature-v3/golang/demo.go) also signs `x-tc-action`, its value lowercased
        // (`describeinstances`); that canonical request hashes to 7019a55b... (as reproduced by
        // authgear's Tencent SMS client tests).
        let headers = [
            ("Content-Type", CT),
            ("Host", HOST),
            ("X-TC-Action", "DescribeInstances"),
        ];
        let req = example(&headers);
        assert!(
            canonical_request(&req)
                .contains("\nx-tc-action:describeinstances\n\ncontent-type;host;x-tc-action\n"),
            "{}",
            canonical_request(&req)
        );
        assert_eq!(
            sha256_hex(canonical_request(&req).as_bytes()),
            "7019a55be8395899b900fb5564e4200d984910f34794a27cb3fb7d10ff6a1e84"
        );
    }

    #[test]
    fn the_date_is_the_utc_date_of_the_timestamp() {
        assert_eq!(utc_date(1_551_113_065), "2019-02-25");
        // 2024-08-22T23:59:59Z and a second later.
        assert_eq!(utc_date(1_724_371_199), "2024-08-22");
        assert_eq!(utc_date(1_724_371_200), "2024-08-23");
    }

    #[test]
    fn signatures_compare_whole() {
        assert!(same_signature("abcd", "abcd"));
        assert!(!same_signature("abcd", "abce"));
        assert!(!same_signature("abcd", "abc"));
        let key = Key {
            secret_id: "AKIDx",
            secret_key: "s3cret",
        };
        assert!(!format!("{key:?}").contains("s3cret"));
    }
}
