//! Turning the engine's answers into bytes on the wire: status, Content-Type per family, the
//! virtual-clock `Date`, compact bodies with no trailing newline, errmsg with its rid suffix.
//! Tencent Cloud answers come rendered from the engine (each carries a `RequestId` drawn there)
//! and go out as they are: HTTP 200, `application/json`.

use std::sync::atomic::{AtomicU64, Ordering};

use axum::body::Body;
use axum::http::{HeaderValue, Response, StatusCode, header};
use bytes::Bytes;

use crate::catalogue::{self, Family, RidStyle, Suffix, WxError};
use crate::clock::Timestamp;
use crate::config::ContentTypeMode;
use crate::engine::{Endpoint, Vendor};
use crate::ids::Generator;

/// Request ids: the first group is the request time, the others come from the seeded generator
/// and a counter, so they look random yet repeat from run to run.
pub struct RidSource {
    idgen: Generator,
    counter: AtomicU64,
}

impl RidSource {
    /// A source drawing from `idgen`.
    pub fn new(idgen: Generator) -> Self {
        Self {
            idgen,
            counter: AtomicU64::new(0),
        }
    }

    /// The next request id's two random groups, and its sequence number for [`Self::hint`].
    fn next(&self) -> (u32, u32, u64) {
        let n = self.counter.fetch_add(1, Ordering::Relaxed);
        let x = self.idgen.number("rid", &[&n.to_be_bytes()]);
        let hi = u32::try_from(x >> 32).unwrap_or(0);
        let lo = u32::try_from(x & 0xffff_ffff).unwrap_or(0);
        (hi, lo, n)
    }

    /// The hint tag of request id number `n`.
    fn hint(&self, n: u64) -> String {
        self.idgen.hint(n)
    }
}

/// A body ready to send, with what the journal needs to know about it.
pub struct Rendered {
    /// HTTP status.
    pub status: StatusCode,
    /// Content-Type.
    pub content_type: &'static str,
    /// Body bytes.
    pub body: Bytes,
    /// errcode in the body (0 for success), if it is a WeChat body.
    pub errcode: Option<i64>,
}

/// Settings that shape every vendor response.
#[derive(Clone, Copy)]
pub struct WireStyle {
    /// Content-Type policy.
    pub content_type: ContentTypeMode,
    /// rid suffix style.
    pub rid_style: RidStyle,
}

fn content_type(family: Family, mode: ContentTypeMode) -> &'static str {
    match mode {
        ContentTypeMode::Faithful => family.content_type(),
        ContentTypeMode::Json => "application/json",
    }
}

/// The Content-Type of Tencent Cloud API 3.0 answers.
pub const TENCENT_CONTENT_TYPE: &str = "application/json";

/// A Tencent Cloud body (always HTTP 200, the outcome is in the body); no errcode.
pub fn tencent(body: String) -> Rendered {
    Rendered {
        status: StatusCode::OK,
        content_type: TENCENT_CONTENT_TYPE,
        body: Bytes::from(body),
        errcode: None,
    }
}

/// Renders a success body or a catalogue error for an endpoint.
pub fn render(
    endpoint: Endpoint,
    path: &str,
    result: Result<String, WxError>,
    now: Timestamp,
    style: WireStyle,
    rids: &RidSource,
) -> Rendered {
    if endpoint.vendor() == Vendor::TencentCloud
        && let Ok(body) = result
    {
        return tencent(body);
    }
    // (The engine answers the Tencent Cloud endpoint with rendered bodies only; a WeChat error
    // there would be a bug, rendered as WeChat's below rather than lost.)
    let family = Family::of_path(path);
    let (body, errcode) = match result {
        // The journal counts every success as errcode 0, whether or not the body carries it.
        Ok(body) => (body, Some(0)),
        Err(err) => {
            let (a, b, n) = rids.next();
            let with_hint = endpoint == Endpoint::Getuserphonenumber && err == WxError::InvalidCode;
            // The hint costs an HMAC and only some errmsgs show it; it depends on `n` alone, so
            // leaving it out elsewhere changes nothing.
            let hint = if with_hint || style.rid_style == RidStyle::Legacy {
                rids.hint(n)
            } else {
                String::new()
            };
            let suffix = Suffix {
                family,
                style: style.rid_style,
                now_secs: now.secs(),
                random: (a, b),
                hint: &hint,
                with_hint,
            };
            (
                catalogue::error_body(err, &suffix),
                Some(i64::from(err.code())),
            )
        }
    };
    Rendered {
        status: StatusCode::OK,
        content_type: content_type(family, style.content_type),
        body: Bytes::from(body),
        errcode,
    }
}

/// A gateway's error page, for HTTP-status and malformed-body faults.
pub fn gateway_page(status: StatusCode) -> Rendered {
    let reason = status.canonical_reason().unwrap_or("Error");
    let code = status.as_u16();
    let body = format!(
        "<html>\r\n<head><title>{code} {reason}</title></head>\r\n<body>\r\n<center><h1>{code} {reason}</h1></center>\r\n<hr><center>nginx</center>\r\n</body>\r\n</html>\r\n"
    );
    Rendered {
        status,
        content_type: "text/html",
        body: Bytes::from(body),
        errcode: None,
    }
}

/// The `Date` header for `now` (virtual time), formatted once per second per thread: every
/// answer carries one, and most answers of a busy second share it.
fn date_header(now: Timestamp) -> Option<HeaderValue> {
    thread_local! {
        static LAST: std::cell::RefCell<Option<(i64, HeaderValue)>> =
            const { std::cell::RefCell::new(None) };
    }
    let secs = now.secs();
    LAST.with_borrow_mut(|last| match last {
        Some((at, value)) if *at == secs => Some(value.clone()),
        _ => {
            let value = HeaderValue::from_str(&now.http_date()).ok()?;
            *last = Some((secs, value.clone()));
            Some(value)
        }
    })
}

/// Builds the HTTP response: status, Content-Type, `Date` from the virtual clock, keep-alive.
pub fn response(r: &Rendered, now: Timestamp, body: Body) -> Response<Body> {
    let mut resp = Response::new(body);
    *resp.status_mut() = r.status;
    let h = resp.headers_mut();
    h.insert(
        header::CONTENT_TYPE,
        HeaderValue::from_static(r.content_type),
    );
    if let Some(date) = date_header(now) {
        h.insert(header::DATE, date);
    }
    h.insert(header::CONNECTION, HeaderValue::from_static("keep-alive"));
    resp
}
