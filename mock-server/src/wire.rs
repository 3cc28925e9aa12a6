//! Turning the engine's typed answers into bytes on the wire: status, Content-Type per family,
//! the virtual-clock `Date`, compact bodies with no trailing newline, errmsg with its rid suffix.
//! Every vendor body is written here: WeChat's successes (the `{"errcode":0,"errmsg":"ok"}`
//! envelope once, in [`OkEnvelope`]), WeChat's errors through the catalogue, Tencent Cloud's
//! answers (HTTP 200, `application/json`) through its catalogue.

use std::sync::atomic::{AtomicU64, Ordering};

use axum::body::Body;
use axum::http::{HeaderValue, Response, StatusCode, header};
use bytes::Bytes;

use serde::Serialize;

use crate::catalogue::{self, Family, RidStyle, Suffix, WxError};
use crate::clock::Timestamp;
use crate::config::ContentTypeMode;
pub use crate::config::WireStyle;
use crate::endpoint::{Endpoint, Vendor};
use crate::ids::{Generator, UnionId};
use crate::reply::{PhoneInfo, Reply, TencentReply, UserKeyInfo};
use crate::tencent::catalogue as tc;

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

fn content_type(family: Family, mode: ContentTypeMode) -> &'static str {
    match mode {
        ContentTypeMode::Faithful => family.content_type(),
        ContentTypeMode::Json => "application/json",
    }
}

/// The Content-Type of Tencent Cloud API 3.0 answers.
pub const TENCENT_CONTENT_TYPE: &str = "application/json";

/// A Tencent Cloud answer (always HTTP 200, the outcome is in the body); no errcode.
pub fn tencent(reply: &TencentReply) -> Rendered {
    let body = match &reply.outcome {
        Ok(statuses) => tc::send_status_body(statuses, &reply.request_id),
        Err(e) => tc::error_body(e, &reply.request_id),
    };
    Rendered {
        status: StatusCode::OK,
        content_type: TENCENT_CONTENT_TYPE,
        body: Bytes::from(body),
        errcode: None,
    }
}

/// WeChat's success envelope, `{"errcode":0,"errmsg":"ok"}`, with the fields of `T` after it.
#[derive(Serialize)]
struct OkEnvelope<T> {
    errcode: i32,
    errmsg: &'static str,
    #[serde(flatten)]
    rest: T,
}

impl<T> OkEnvelope<T> {
    fn with(rest: T) -> Self {
        Self::saying("ok", rest)
    }

    /// The envelope with another success errmsg: getuserriskrank says `getuserriskrank succ`.
    fn saying(errmsg: &'static str, rest: T) -> Self {
        Self {
            errcode: 0,
            errmsg,
            rest,
        }
    }
}

/// getuserriskrank's success errmsg (`wechat-api.md` 7a).
const RISK_RANK_OK: &str = "getuserriskrank succ";

#[derive(Serialize)]
struct Nothing {}

#[derive(Serialize)]
struct SessionBody<'a> {
    session_key: &'a str,
    openid: &'a str,
    #[serde(skip_serializing_if = "Option::is_none")]
    unionid: Option<&'a str>,
}

#[derive(Serialize)]
struct TokenBody<'a> {
    access_token: &'a str,
    expires_in: u64,
}

#[derive(Serialize)]
struct ResetBody<'a> {
    openid: &'a str,
    session_key: &'a str,
}

#[derive(Serialize)]
struct Watermark<'a> {
    timestamp: i64,
    appid: &'a str,
}

#[derive(Serialize)]
#[serde(rename_all = "camelCase")]
struct PhoneInfoBody<'a> {
    phone_number: &'a str,
    pure_phone_number: &'a str,
    country_code: &'a str,
    watermark: Watermark<'a>,
}

#[derive(Serialize)]
struct PhoneBody<'a> {
    phone_info: PhoneInfoBody<'a>,
}

/// getpaidunionid's body puts the unionid before the envelope, as WeChat's documentation and
/// answers show it [D8].
#[derive(Serialize)]
struct PaidUnionidBody<'a> {
    unionid: &'a str,
    #[serde(flatten)]
    ok: OkEnvelope<Nothing>,
}

#[derive(Serialize)]
struct RiskBody {
    risk_rank: u8,
    unoin_id: u32,
}

/// `"vaild"` is WeChat's spelling.
#[derive(Serialize)]
struct EncryptedMsgBody {
    vaild: bool,
    #[serde(skip_serializing_if = "Option::is_none")]
    create_time: Option<i64>,
}

/// A `key_info_list` entry, in the docs' key order.
#[derive(Serialize)]
struct KeyInfoBody<'a> {
    encrypt_key: &'a str,
    version: u64,
    expire_in: u64,
    iv: &'a str,
    create_time: i64,
}

#[derive(Serialize)]
struct KeyListBody<'a> {
    key_info_list: Vec<KeyInfoBody<'a>>,
}

#[derive(Serialize)]
struct ComponentTokenBody<'a> {
    component_access_token: &'a str,
    expires_in: u64,
}

#[derive(Serialize)]
struct OpenpidBody<'a> {
    openpid: &'a str,
}

/// A WeChat success body; the bodies are plain data, so serialization cannot fail in practice.
fn success_body(reply: &Reply) -> String {
    let json = match reply {
        Reply::Session {
            session_key,
            openid,
            unionid,
        } => serde_json::to_string(&SessionBody {
            session_key: session_key.as_str(),
            openid: openid.as_str(),
            unionid: unionid.as_ref().map(UnionId::as_str),
        }),
        Reply::Token {
            access_token,
            expires_in,
        } => serde_json::to_string(&TokenBody {
            access_token: access_token.as_str(),
            expires_in: *expires_in,
        }),
        Reply::Ok => serde_json::to_string(&OkEnvelope::with(Nothing {})),
        Reply::SessionKeyReset {
            openid,
            session_key,
        } => serde_json::to_string(&OkEnvelope::with(ResetBody {
            openid: openid.as_str(),
            session_key: session_key.as_str(),
        })),
        Reply::PhoneNumber(PhoneInfo {
            phone_number,
            pure_phone_number,
            country_code,
            timestamp,
            appid,
        }) => serde_json::to_string(&OkEnvelope::with(PhoneBody {
            phone_info: PhoneInfoBody {
                phone_number,
                pure_phone_number,
                country_code,
                watermark: Watermark {
                    timestamp: *timestamp,
                    appid: appid.as_str(),
                },
            },
        })),
        Reply::PaidUnionid { unionid } => serde_json::to_string(&PaidUnionidBody {
            unionid: unionid.as_str(),
            ok: OkEnvelope::with(Nothing {}),
        }),
        Reply::RiskRank {
            risk_rank,
            unoin_id,
        } => serde_json::to_string(&OkEnvelope::saying(
            RISK_RANK_OK,
            RiskBody {
                risk_rank: *risk_rank,
                unoin_id: *unoin_id,
            },
        )),
        Reply::EncryptedMsg { create_time } => {
            serde_json::to_string(&OkEnvelope::with(EncryptedMsgBody {
                vaild: create_time.is_some(),
                create_time: *create_time,
            }))
        }
        Reply::UserEncryptKeys(keys) => serde_json::to_string(&OkEnvelope::with(KeyListBody {
            key_info_list: keys
                .iter()
                .map(
                    |UserKeyInfo {
                         encrypt_key,
                         version,
                         expire_in,
                         iv,
                         create_time,
                     }| KeyInfoBody {
                        encrypt_key,
                        version: *version,
                        expire_in: *expire_in,
                        iv,
                        create_time: *create_time,
                    },
                )
                .collect(),
        })),
        Reply::ComponentToken {
            component_access_token,
            expires_in,
        } => serde_json::to_string(&ComponentTokenBody {
            component_access_token: component_access_token.as_str(),
            expires_in: *expires_in,
        }),
        Reply::Openpid { openpid } => serde_json::to_string(&OkEnvelope::with(OpenpidBody {
            openpid: openpid.as_str(),
        })),
        // Rendered by [`tencent`]; reached only if a Tencent Cloud reply came back for a WeChat
        // endpoint, which the engine never does.
        Reply::Tencent(t) => return String::from_utf8_lossy(&tencent(t).body).into_owned(),
    };
    json.unwrap_or_default()
}

/// Renders a success body or a catalogue error for a request to `path`.
pub fn render(
    endpoint: Endpoint,
    path: &str,
    result: &Result<Reply, WxError>,
    now: Timestamp,
    style: WireStyle,
    rids: &RidSource,
) -> Rendered {
    if endpoint.vendor() == Vendor::TencentCloud
        && let Ok(Reply::Tencent(reply)) = result
    {
        return tencent(reply);
    }
    // (The engine answers the Tencent Cloud endpoint with Tencent Cloud replies only; a WeChat
    // error there would be a bug, rendered as WeChat's below rather than lost.)
    let family = Endpoint::family_of(path);
    let (body, errcode) = match result {
        // The journal counts every success as errcode 0, whether or not the body carries it.
        Ok(reply) => (success_body(reply), Some(0)),
        Err(err) => {
            let err = *err;
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
