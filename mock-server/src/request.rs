//! A vendor request parsed once, before any state is touched: the endpoint its path names, and
//! what it asks in that endpoint's terms ([`Call`]). Fault rules, the engine's judgement and the
//! journal all read this value; none of them reads the query string or the body again.
//!
//! Parsing never refuses: what a field's absence or a malformed body means (41002, 47001, ...)
//! is the engine's judgement, in the order WeChat checks, so a parsed request keeps the
//! outcome of each piece (`Option`, `Result`) for the engine to weigh.

use axum::http::HeaderMap;
use bytes::Bytes;
use serde::Deserialize;

use crate::catalogue::WxError;
use crate::endpoint::{Endpoint, Vendor};
use crate::ids::AppId;
use crate::params::Params;
use crate::tencent::TcError;
use crate::tencent::request::{self as tc, Envelope, SmsBody};

/// A request on the vendor surface, parsed but not yet judged.
#[derive(Clone, Debug)]
pub struct VendorRequest {
    /// Which endpoint the path named.
    pub endpoint: Endpoint,
    /// Whether the method was POST (WeChat cares only about GET vs POST).
    pub is_post: bool,
    /// The raw body, for the journal (and the Tencent Cloud signature).
    pub body: Bytes,
    /// What the request asks, in its endpoint's terms.
    pub call: Call,
}

/// What a request asks, one variant per endpoint.
#[derive(Clone, Debug)]
pub enum Call {
    /// `sns/jscode2session`.
    Jscode2session(CodeExchange),
    /// `cgi-bin/token`.
    Token(Credentials),
    /// `cgi-bin/stable_token`.
    StableToken(StableToken),
    /// `wxa/checksession`.
    Checksession(SessionCheck),
    /// `wxa/resetusersessionkey`.
    Resetusersessionkey(SessionCheck),
    /// `wxa/business/getuserphonenumber`.
    Getuserphonenumber(PhoneNumber),
    /// Tencent Cloud `SendSms`.
    SmsSend(Box<SmsSend>),
    /// `wxa/getpaidunionid`.
    Getpaidunionid(PaidUnionid),
    /// `wxa/getuserriskrank`.
    Getuserriskrank(RiskRank),
    /// `wxa/business/checkencryptedmsg`.
    Checkencryptedmsg(EncryptedMsgCheck),
    /// `wxa/business/getuserencryptkey`: the query of checksession.
    Getuserencryptkey(SessionCheck),
    /// `cgi-bin/openapi/quota/get`.
    QuotaGet(TokenBody),
    /// `cgi-bin/clear_quota`.
    ClearQuota(TokenBody),
    /// `cgi-bin/clear_quota/v2`.
    ClearQuotaV2(AppCredentials),
    /// `cgi-bin/openapi/rid/get`.
    RidGet(TokenBody),
    /// `cgi-bin/user/info`.
    UserInfo(UserInfoQuery),
    /// `cgi-bin/component/api_component_token`.
    ComponentToken(ComponentToken),
    /// `sns/component/jscode2session`.
    ComponentJscode2session(ComponentCodeExchange),
    /// `wxa/getpluginopenpid`.
    Getpluginopenpid(PluginOpenpid),
    /// A path the mock does not serve.
    Unknown {
        /// `appid` in the query, for the journal and fault rules.
        appid: Option<AppId>,
        /// `access_token` in the query: what a stubbed path checks (`stub_unmodelled`).
        access_token: Option<String>,
    },
}

/// The query of `jscode2session`.
#[derive(Clone, Debug, Default)]
pub struct CodeExchange {
    /// `appid`.
    pub appid: Option<AppId>,
    /// `secret`.
    pub secret: Option<String>,
    /// `js_code`.
    pub js_code: Option<String>,
    /// `grant_type`.
    pub grant_type: Option<String>,
}

/// An app's credentials: `cgi-bin/token`'s query, or `stable_token`'s body.
#[derive(Clone, Debug, Default)]
pub struct Credentials {
    /// `appid`.
    pub appid: Option<AppId>,
    /// `secret`.
    pub secret: Option<String>,
    /// `grant_type`.
    pub grant_type: Option<String>,
}

/// `force_refresh` as sent: a boolean, or (from one Rust SDK) the string `"true"`/`"false"`.
#[derive(Clone, Debug, Deserialize)]
#[serde(untagged)]
pub enum Flag {
    /// `true` / `false`.
    Bool(bool),
    /// Any string.
    Text(String),
}

/// The body of `stable_token`.
#[derive(Clone, Debug)]
pub struct StableToken {
    /// The credentials (empty strings count as absent), or 47001 for a body that is not a JSON
    /// object of the expected fields.
    pub body: Result<(Credentials, Option<Flag>), WxError>,
}

/// The query of `checksession` and `resetusersessionkey`.
#[derive(Clone, Debug, Default)]
pub struct SessionCheck {
    /// `access_token`.
    pub access_token: Option<String>,
    /// `openid`.
    pub openid: Option<String>,
    /// `signature`.
    pub signature: Option<String>,
    /// `sig_method`.
    pub sig_method: Option<String>,
}

/// `getuserphonenumber`: the token in the query, `{"code"[,"openid"]}` in the body.
#[derive(Clone, Debug)]
pub struct PhoneNumber {
    /// `access_token`.
    pub access_token: Option<String>,
    /// `code` and `openid` (non-empty strings, else absent), or 47001 for a body that is not a
    /// JSON object. No body at all: both absent.
    pub body: Result<(Option<String>, Option<String>), WxError>,
}

/// The query of `getpaidunionid`: the payer and the payment, by WeChat Pay's order number or by
/// the merchant's.
#[derive(Clone, Debug, Default)]
pub struct PaidUnionid {
    /// `access_token`.
    pub access_token: Option<String>,
    /// `openid`.
    pub openid: Option<String>,
    /// `transaction_id`.
    pub transaction_id: Option<String>,
    /// `mch_id`.
    pub mch_id: Option<String>,
    /// `out_trade_no`.
    pub out_trade_no: Option<String>,
}

/// `getuserriskrank`: the token in the query, the user and the scene in the body.
#[derive(Clone, Debug)]
pub struct RiskRank {
    /// `access_token`.
    pub access_token: Option<String>,
    /// The body's fields, or 44002 for no body and 47001 for a body that is not a JSON object
    /// or has a field of the wrong type.
    pub body: Result<RiskQuery, WxError>,
}

/// The fields of a getuserriskrank body the mock judges (`mobile_no`, `email_address`,
/// `extended_info` and `is_test` are taken and not used; an empty string counts as absent).
#[derive(Clone, Debug, Default)]
pub struct RiskQuery {
    /// `appid`.
    pub appid: Option<AppId>,
    /// `openid`.
    pub openid: Option<String>,
    /// `scene`: 0 or 1, else absent (missing, another number, another type).
    pub scene: Option<RiskScene>,
    /// `client_ip`: an IPv4 or IPv6 address, else absent.
    pub client_ip: Option<std::net::IpAddr>,
}

/// getuserriskrank's `scene`.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum RiskScene {
    /// 0: registration.
    Register,
    /// 1: marketing (cheating on promotions).
    Marketing,
}

/// `checkencryptedmsg`: the token in the query, `{"encrypted_msg_hash"}` in the body.
#[derive(Clone, Debug)]
pub struct EncryptedMsgCheck {
    /// `access_token`.
    pub access_token: Option<String>,
    /// The hash as sent (a string, else absent), or 44002 for no body and 47001 for a body
    /// that is not a JSON object.
    pub body: Result<Option<String>, WxError>,
}

/// A token-checked POST whose JSON body carries one string the endpoint reads: `cgi_path`
/// (quota/get), `appid` (clear_quota) or `rid` (rid/get).
#[derive(Clone, Debug)]
pub struct TokenBody {
    /// `access_token`.
    pub access_token: Option<String>,
    /// The field (a non-empty string, else absent), or 47001 for a body that is not a JSON
    /// object. No body at all: absent.
    pub body: Result<Option<String>, WxError>,
}

/// `clear_quota/v2`: `appid` and `appsecret` from the JSON body, or (as the documentation's
/// example sends them) from the query string when the body is empty.
#[derive(Clone, Debug)]
pub struct AppCredentials {
    /// `appid` and `appsecret` (non-empty strings, else absent), or 47001 for a body that is
    /// not a JSON object.
    pub body: Result<(Option<AppId>, Option<String>), WxError>,
}

/// The query of `cgi-bin/user/info`.
#[derive(Clone, Debug, Default)]
pub struct UserInfoQuery {
    /// `access_token`.
    pub access_token: Option<String>,
    /// `openid`.
    pub openid: Option<String>,
    /// `lang` (`zh_CN`, `zh_TW`, `en`): read, and of no consequence since WeChat stopped
    /// answering the region fields it translated.
    pub lang: Option<String>,
}

/// A third-party platform's credentials: the body of `api_component_token`.
#[derive(Clone, Debug, Default)]
pub struct ComponentCredentials {
    /// `component_appid`.
    pub component_appid: Option<AppId>,
    /// `component_appsecret`.
    pub component_appsecret: Option<String>,
    /// `component_verify_ticket`.
    pub component_verify_ticket: Option<String>,
}

/// The body of `api_component_token`.
#[derive(Clone, Debug)]
pub struct ComponentToken {
    /// The credentials (empty strings count as absent), or 47001 for a body that is not a JSON
    /// object of string fields.
    pub body: Result<ComponentCredentials, WxError>,
}

/// The query of `sns/component/jscode2session`: jscode2session's, with the platform's
/// `component_appid` and `component_access_token` in place of the app's secret.
#[derive(Clone, Debug, Default)]
pub struct ComponentCodeExchange {
    /// `appid`: the mini-program's.
    pub appid: Option<AppId>,
    /// `js_code`.
    pub js_code: Option<String>,
    /// `grant_type`.
    pub grant_type: Option<String>,
    /// `component_appid`.
    pub component_appid: Option<AppId>,
    /// `component_access_token`.
    pub component_access_token: Option<String>,
}

/// `getpluginopenpid`: the plugin's token in the query, `{"code"}` in the body.
#[derive(Clone, Debug)]
pub struct PluginOpenpid {
    /// `access_token`.
    pub access_token: Option<String>,
    /// `code` (a non-empty string, else absent), or 1022 for a body that is not a JSON
    /// object. No body at all: no code.
    pub body: Result<Option<String>, WxError>,
}

/// Tencent Cloud `SendSms`: API 3.0's common parameters from the headers, and the body.
#[derive(Clone, Debug)]
pub struct SmsSend {
    /// The request headers by lowercase name: the signature covers some of them, and the
    /// journal keeps the common parameters.
    pub headers: Params,
    /// The common parameters, or why they are refused.
    pub envelope: Result<Envelope, TcError>,
    /// The body.
    pub body: SmsBody,
}

impl VendorRequest {
    /// Parses a request to `endpoint`: the query string for WeChat's endpoints, the headers
    /// and body for Tencent Cloud's (API 3.0 carries its common parameters in headers).
    pub fn parse(
        endpoint: Endpoint,
        is_post: bool,
        query: Option<&str>,
        headers: &HeaderMap,
        body: Bytes,
    ) -> Self {
        let call = match endpoint.vendor() {
            Vendor::WeChat => Call::of_query(endpoint, &Params::parse(query), &body),
            Vendor::TencentCloud => {
                let headers = Params::from_headers(headers);
                Call::SmsSend(Box::new(SmsSend {
                    envelope: tc::envelope(is_post, &headers),
                    headers,
                    body: SmsBody::parse(&body),
                }))
            }
        };
        Self {
            endpoint,
            is_post,
            body,
            call,
        }
    }

    /// Whether the method reaches the endpoint's rules rather than its method refusal.
    pub fn method_allowed(&self) -> bool {
        self.endpoint.allows(self.is_post)
    }
}

impl Call {
    fn of_query(endpoint: Endpoint, p: &Params, body: &[u8]) -> Self {
        let text = |name: &str| p.get(name).map(str::to_owned);
        let appid = || p.get("appid").map(AppId::new);
        let session = || SessionCheck {
            access_token: text("access_token"),
            openid: text("openid"),
            signature: text("signature"),
            sig_method: text("sig_method"),
        };
        match endpoint {
            Endpoint::Jscode2session => Call::Jscode2session(CodeExchange {
                appid: appid(),
                secret: text("secret"),
                js_code: text("js_code"),
                grant_type: text("grant_type"),
            }),
            Endpoint::Token => Call::Token(Credentials {
                appid: appid(),
                secret: text("secret"),
                grant_type: text("grant_type"),
            }),
            Endpoint::StableToken => Call::StableToken(StableToken {
                body: stable_body(body),
            }),
            Endpoint::Checksession => Call::Checksession(session()),
            Endpoint::Resetusersessionkey => Call::Resetusersessionkey(session()),
            Endpoint::Getuserphonenumber => Call::Getuserphonenumber(PhoneNumber {
                access_token: text("access_token"),
                body: phone_body(body),
            }),
            Endpoint::Getpaidunionid => Call::Getpaidunionid(PaidUnionid {
                access_token: text("access_token"),
                openid: text("openid"),
                transaction_id: text("transaction_id"),
                mch_id: text("mch_id"),
                out_trade_no: text("out_trade_no"),
            }),
            Endpoint::Getuserriskrank => Call::Getuserriskrank(RiskRank {
                access_token: text("access_token"),
                body: risk_body(body),
            }),
            Endpoint::Checkencryptedmsg => Call::Checkencryptedmsg(EncryptedMsgCheck {
                access_token: text("access_token"),
                body: encrypted_msg_body(body),
            }),
            Endpoint::Getuserencryptkey => Call::Getuserencryptkey(session()),
            Endpoint::QuotaGet => Call::QuotaGet(TokenBody {
                access_token: text("access_token"),
                body: string_field(body, "cgi_path"),
            }),
            Endpoint::ClearQuota => Call::ClearQuota(TokenBody {
                access_token: text("access_token"),
                body: string_field(body, "appid"),
            }),
            Endpoint::ClearQuotaV2 => Call::ClearQuotaV2(AppCredentials {
                body: app_credentials(p, body),
            }),
            Endpoint::RidGet => Call::RidGet(TokenBody {
                access_token: text("access_token"),
                body: string_field(body, "rid"),
            }),
            Endpoint::UserInfo => Call::UserInfo(UserInfoQuery {
                access_token: text("access_token"),
                openid: text("openid"),
                lang: text("lang"),
            }),
            Endpoint::ComponentToken => Call::ComponentToken(ComponentToken {
                body: component_body(body),
            }),
            Endpoint::ComponentJscode2session => {
                Call::ComponentJscode2session(ComponentCodeExchange {
                    appid: appid(),
                    js_code: text("js_code"),
                    grant_type: text("grant_type"),
                    component_appid: p.get("component_appid").map(AppId::new),
                    component_access_token: text("component_access_token"),
                })
            }
            Endpoint::Getpluginopenpid => Call::Getpluginopenpid(PluginOpenpid {
                access_token: text("access_token"),
                body: plugin_body(body),
            }),
            // Only reached for a Tencent Cloud endpoint given WeChat's parameters (never, as the
            // table stands), or the stub's name, which no path has: filed as unknown.
            Endpoint::SmsSend | Endpoint::Stubbed | Endpoint::Unknown => Call::Unknown {
                appid: appid(),
                access_token: text("access_token"),
            },
        }
    }

    /// The app the request names itself, before any state is consulted (a token's app is the
    /// engine's to find).
    pub fn named_appid(&self) -> Option<AppId> {
        match self {
            Call::Jscode2session(c) => c.appid.clone(),
            Call::Token(c) => c.appid.clone(),
            Call::StableToken(s) => s.body.as_ref().ok().and_then(|(c, _)| c.appid.clone()),
            Call::SmsSend(s) => s.body.sdk_app_id.clone().map(AppId::new),
            Call::Unknown { appid, .. } => appid.clone(),
            Call::ClearQuotaV2(c) => c.body.as_ref().ok().and_then(|(a, _)| a.clone()),
            Call::ComponentToken(c) => c.body.as_ref().ok().and_then(|b| b.component_appid.clone()),
            Call::ComponentJscode2session(c) => c.appid.clone(),
            Call::Checksession(_)
            | Call::Resetusersessionkey(_)
            | Call::Getuserphonenumber(_)
            | Call::Getpaidunionid(_)
            | Call::Getuserriskrank(_)
            | Call::Checkencryptedmsg(_)
            | Call::Getuserencryptkey(_)
            | Call::Getpluginopenpid(_) => None,
            Call::QuotaGet(_) | Call::ClearQuota(_) | Call::RidGet(_) | Call::UserInfo(_) => None,
        }
    }

    /// The `access_token` of a call that needs one (`None` for the calls that authenticate
    /// with an appid and secret, or need nothing), and what it says (`Some(None)`: missing).
    pub fn access_token(&self) -> Option<Option<&str>> {
        match self {
            Call::Checksession(c) | Call::Resetusersessionkey(c) | Call::Getuserencryptkey(c) => {
                Some(c.access_token.as_deref())
            }
            Call::Getuserphonenumber(c) => Some(c.access_token.as_deref()),
            Call::Getuserriskrank(c) => Some(c.access_token.as_deref()),
            Call::Checkencryptedmsg(c) => Some(c.access_token.as_deref()),
            Call::Getpaidunionid(c) => Some(c.access_token.as_deref()),
            Call::QuotaGet(c) | Call::ClearQuota(c) | Call::RidGet(c) => {
                Some(c.access_token.as_deref())
            }
            Call::UserInfo(c) => Some(c.access_token.as_deref()),
            Call::Getpluginopenpid(c) => Some(c.access_token.as_deref()),
            Call::Unknown { access_token, .. } => Some(access_token.as_deref()),
            Call::Jscode2session(_)
            | Call::Token(_)
            | Call::StableToken(_)
            | Call::SmsSend(_)
            | Call::ClearQuotaV2(_)
            // The platform's own token, which no app holds.
            | Call::ComponentToken(_)
            | Call::ComponentJscode2session(_) => None,
        }
    }
}

/// A vendor POST body, which must be one JSON object (serde would otherwise fill a struct from an
/// array by position); anything else is 47001.
fn from_json_object<T: serde::de::DeserializeOwned>(body: &[u8]) -> Result<T, WxError> {
    if body.iter().find(|b| !b.is_ascii_whitespace()) != Some(&b'{') {
        return Err(WxError::DataFormatError);
    }
    serde_json::from_slice(body).map_err(|_| WxError::DataFormatError)
}

fn stable_body(body: &[u8]) -> Result<(Credentials, Option<Flag>), WxError> {
    #[derive(Deserialize)]
    struct Body {
        grant_type: Option<String>,
        appid: Option<String>,
        secret: Option<String>,
        force_refresh: Option<Flag>,
    }
    let b: Body = from_json_object(body)?;
    let given = |s: Option<String>| s.filter(|v| !v.is_empty());
    Ok((
        Credentials {
            appid: given(b.appid).map(AppId::new),
            secret: given(b.secret),
            grant_type: given(b.grant_type),
        },
        b.force_refresh,
    ))
}

/// One string field of a JSON object body: a non-empty string, else absent (a missing body
/// too); 47001 for a body that is not a JSON object, or that gives the field twice (as serde
/// refuses a repeated field of the other endpoints' bodies).
fn string_field(body: &[u8], name: &str) -> Result<Option<String>, WxError> {
    if body.iter().all(u8::is_ascii_whitespace) {
        return Ok(None);
    }
    let [value] = string_fields(body, [name])?;
    Ok(value)
}

/// The named string fields of a JSON object body (see [`string_field`]).
fn string_fields<const N: usize>(
    body: &[u8],
    names: [&str; N],
) -> Result<[Option<String>; N], WxError> {
    /// An object's entries in order, repeated keys kept.
    struct Entries(Vec<(String, serde_json::Value)>);

    impl<'de> Deserialize<'de> for Entries {
        fn deserialize<D: serde::Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
            struct Visitor;

            impl<'de> serde::de::Visitor<'de> for Visitor {
                type Value = Entries;

                fn expecting(&self, f: &mut std::fmt::Formatter) -> std::fmt::Result {
                    f.write_str("a JSON object")
                }

                fn visit_map<A: serde::de::MapAccess<'de>>(
                    self,
                    mut map: A,
                ) -> Result<Entries, A::Error> {
                    let mut entries = Vec::new();
                    while let Some(entry) = map.next_entry()? {
                        entries.push(entry);
                    }
                    Ok(Entries(entries))
                }
            }

            d.deserialize_map(Visitor)
        }
    }

    let Entries(entries) = from_json_object(body)?;
    let mut out = [const { None }; N];
    for (slot, name) in out.iter_mut().zip(names) {
        let mut given = entries.iter().filter(|(k, _)| k == name).map(|(_, v)| v);
        let value = given.next();
        if given.next().is_some() {
            return Err(WxError::DataFormatError);
        }
        *slot = match value {
            Some(serde_json::Value::String(s)) if !s.is_empty() => Some(s.clone()),
            _ => None,
        };
    }
    Ok(out)
}

/// `clear_quota/v2`'s `appid` and `appsecret`: from the body, or from the query when there is
/// no body (the documentation's example puts them in the query of a POST).
fn app_credentials(p: &Params, body: &[u8]) -> Result<(Option<AppId>, Option<String>), WxError> {
    if body.iter().all(u8::is_ascii_whitespace) {
        return Ok((
            p.get("appid").map(AppId::new),
            p.get("appsecret").map(str::to_owned),
        ));
    }
    let [appid, secret] = string_fields(body, ["appid", "appsecret"])?;
    Ok((appid.map(AppId::new), secret))
}

fn phone_body(body: &[u8]) -> Result<(Option<String>, Option<String>), WxError> {
    #[derive(Deserialize)]
    struct Body {
        code: Option<serde_json::Value>,
        openid: Option<serde_json::Value>,
    }
    if body.iter().all(u8::is_ascii_whitespace) {
        // No body: the code is missing; passing it in the query gets 40029 too [C14].
        return Ok((None, None));
    }
    let b: Body = from_json_object(body)?;
    let text = |v: Option<serde_json::Value>| match v {
        Some(serde_json::Value::String(s)) if !s.is_empty() => Some(s),
        _ => None,
    };
    Ok((text(b.code), text(b.openid)))
}

/// A body of the identity APIs of 7a: none at all is 44002 `empty post data`, anything but one
/// JSON object of the expected field types 47001.
fn required_json_object<T: serde::de::DeserializeOwned>(body: &[u8]) -> Result<T, WxError> {
    if body.iter().all(u8::is_ascii_whitespace) {
        return Err(WxError::EmptyPostData);
    }
    from_json_object(body)
}

fn risk_body(body: &[u8]) -> Result<RiskQuery, WxError> {
    #[derive(Deserialize)]
    struct Body {
        appid: Option<String>,
        openid: Option<String>,
        scene: Option<serde_json::Value>,
        client_ip: Option<String>,
        // Taken as the docs give them; a wrong type is still a format error.
        #[serde(rename = "mobile_no")]
        _mobile_no: Option<String>,
        #[serde(rename = "email_address")]
        _email_address: Option<String>,
        #[serde(rename = "extended_info")]
        _extended_info: Option<String>,
        #[serde(rename = "is_test")]
        _is_test: Option<bool>,
    }
    let b: Body = required_json_object(body)?;
    let given = |s: Option<String>| s.filter(|v| !v.is_empty());
    let scene = match b.scene.as_ref().and_then(serde_json::Value::as_u64) {
        Some(0) => Some(RiskScene::Register),
        Some(1) => Some(RiskScene::Marketing),
        _ => None,
    };
    Ok(RiskQuery {
        appid: given(b.appid).map(AppId::new),
        openid: given(b.openid),
        scene,
        client_ip: b.client_ip.and_then(|ip| ip.parse().ok()),
    })
}

fn encrypted_msg_body(body: &[u8]) -> Result<Option<String>, WxError> {
    #[derive(Deserialize)]
    struct Body {
        encrypted_msg_hash: Option<serde_json::Value>,
    }
    let b: Body = required_json_object(body)?;
    Ok(match b.encrypted_msg_hash {
        Some(serde_json::Value::String(s)) => Some(s),
        _ => None,
    })
}

fn component_body(body: &[u8]) -> Result<ComponentCredentials, WxError> {
    #[derive(Deserialize)]
    struct Body {
        component_appid: Option<String>,
        component_appsecret: Option<String>,
        component_verify_ticket: Option<String>,
    }
    let b: Body = from_json_object(body)?;
    let given = |s: Option<String>| s.filter(|v| !v.is_empty());
    Ok(ComponentCredentials {
        component_appid: given(b.component_appid).map(AppId::new),
        component_appsecret: given(b.component_appsecret),
        component_verify_ticket: given(b.component_verify_ticket),
    })
}

/// getpluginopenpid's body: its own errcode for JSON that does not parse (1022, the
/// documented row), where the other wxa endpoints answer 47001.
fn plugin_body(body: &[u8]) -> Result<Option<String>, WxError> {
    #[derive(Deserialize)]
    struct Body {
        code: Option<serde_json::Value>,
    }
    if body.iter().all(u8::is_ascii_whitespace) {
        return Ok(None);
    }
    let b: Body = from_json_object(body).map_err(|_| WxError::PluginJsonError)?;
    Ok(match b.code {
        Some(serde_json::Value::String(s)) if !s.is_empty() => Some(s),
        _ => None,
    })
}
