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
use crate::reply::{FollowerInfo, PhoneInfo, Quota, Reply, RidRequest, TencentReply, UserKeyInfo};
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
    /// The request id a WeChat error body names (current style: `xxxxxxxx-xxxxxxxx-xxxxxxxx`;
    /// legacy style: the hint tag), for the journal and `openapi/rid/get`.
    pub rid: Option<String>,
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
        rid: None,
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
struct QuotaBody {
    quota: QuotaFields,
}

#[derive(Serialize)]
struct QuotaFields {
    daily_limit: u64,
    used: u64,
    remain: u64,
}

#[derive(Serialize)]
struct RidBody<'a> {
    request: RidFields<'a>,
}

#[derive(Serialize)]
struct RidFields<'a> {
    invoke_time: i64,
    cost_in_ms: u64,
    request_url: &'a str,
    request_body: &'a str,
    response_body: &'a str,
    client_ip: &'a str,
}

/// `cgi-bin/user/info` of a follower, in the documented order; since 2021-12-27 without
/// nickname, sex, city, province, country or headimgurl (`wechat-api.md` 7a).
#[derive(Serialize)]
struct FollowerBody<'a> {
    subscribe: u8,
    openid: &'a str,
    language: &'a str,
    subscribe_time: i64,
    #[serde(skip_serializing_if = "Option::is_none")]
    unionid: Option<&'a str>,
    remark: &'a str,
    groupid: u32,
    tagid_list: &'a [u32],
    subscribe_scene: &'a str,
    qr_scene: u32,
    qr_scene_str: &'a str,
}

/// `cgi-bin/user/info` of a user who does not follow the account: "nothing else can be
/// fetched", as real answers show it (`{"subscribe":0,"openid",["unionid",]"tagid_list":[]}`).
#[derive(Serialize)]
struct NotFollowingBody<'a> {
    subscribe: u8,
    openid: &'a str,
    #[serde(skip_serializing_if = "Option::is_none")]
    unionid: Option<&'a str>,
    tagid_list: [u32; 0],
}

fn user_info_body(info: &FollowerInfo) -> serde_json::Result<String> {
    let openid = info.openid.as_str();
    let unionid = info.unionid.as_ref().map(UnionId::as_str);
    match &info.subscribed {
        Some(f) => serde_json::to_string(&FollowerBody {
            subscribe: 1,
            openid,
            language: &f.language,
            subscribe_time: f.subscribe_time,
            unionid,
            remark: &f.remark,
            groupid: f.groupid,
            tagid_list: &f.tagid_list,
            subscribe_scene: &f.subscribe_scene,
            qr_scene: f.qr_scene,
            qr_scene_str: &f.qr_scene_str,
        }),
        None => serde_json::to_string(&NotFollowingBody {
            subscribe: 0,
            openid,
            unionid,
            tagid_list: [],
        }),
    }
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
        Reply::Quota(Quota {
            daily_limit,
            used,
            remain,
        }) => serde_json::to_string(&OkEnvelope::with(QuotaBody {
            quota: QuotaFields {
                daily_limit: *daily_limit,
                used: *used,
                remain: *remain,
            },
        })),
        Reply::RidInfo(RidRequest {
            invoke_time,
            cost_in_ms,
            request_url,
            request_body,
            response_body,
            client_ip,
        }) => serde_json::to_string(&OkEnvelope::with(RidBody {
            request: RidFields {
                invoke_time: *invoke_time,
                cost_in_ms: *cost_in_ms,
                request_url,
                request_body,
                response_body,
                client_ip,
            },
        })),
        Reply::UserInfo(info) => user_info_body(info),
        // The vendor entry point turns a rid query into its answer before rendering; [`render`]
        // answers one that got here 76001.
        Reply::RidQuery { .. } => serde_json::to_string(&OkEnvelope::with(Nothing {})),
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
    // A rid query is answered from the journal before it gets here; one that was not has found
    // nothing.
    let unresolved = Err(WxError::RidNotFound);
    let result = match result {
        Ok(Reply::RidQuery { .. }) => &unresolved,
        other => other,
    };
    let mut rid = None;
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
            let answer = catalogue::error_answer(err, &suffix);
            rid = Some(answer.rid);
            (answer.body, Some(i64::from(err.code())))
        }
    };
    Rendered {
        status: StatusCode::OK,
        content_type: content_type(family, style.content_type),
        body: Bytes::from(body),
        errcode,
        rid,
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
        rid: None,
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
