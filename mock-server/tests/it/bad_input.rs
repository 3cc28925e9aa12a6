//! Tests: bad input on every surface of the mock, table-driven. Every vendor endpoint and every
//! control-plane route gets malformed JSON (or query strings), wrong types, missing and
//! duplicated fields, huge bodies, invalid UTF-8, absurd numbers, unknown enum values and very
//! long strings. Each gets its surface's documented error (on the vendor surface WeChat's exact
//! `{"errcode":N,"errmsg":"..."}` with a catalogue code, Tencent Cloud's
//! `{"Response":{"Error":{"Code","Message"},"RequestId"}}` or refusing `SendStatusSet` on the SMS
//! endpoint, or the gateway's 413 page for bodies over 1 MiB; on the control plane a 4xx `{"error":{"code","message"}}` whose message names the
//! field), every request is answered, and nothing is written (`GET /__mock__/state` is the same
//! before and after, and the codes the cases carried still work afterwards).

use std::collections::{BTreeMap, BTreeSet};
use std::net::SocketAddr;
use std::time::Duration;

use mock_server::catalogue;
use mock_server::control::ROUTES;
use mock_server::endpoint::Endpoint;
use reqwest::Method;
use serde_json::{Value, json};
use tokio::io::{AsyncReadExt as _, AsyncWriteExt as _};

use crate::helpers::{Raw, TestMock, signature};

/// The vendor surface reads bodies up to this size; more gets the gateway's 413 page.
const MIB: usize = 1 << 20;
/// Query values this long still fit in a request line (hyper refuses targets over 64 KiB).
const LONG_QUERY: usize = 60_000;
/// Very long strings in JSON bodies.
const LONG_BODY: usize = 100_000;

const MALFORMED: &str = "malformed";
const WRONG_TYPE: &str = "wrong type";
const MISSING: &str = "missing";
const DUPLICATED: &str = "duplicated";
const HUGE: &str = "huge";
const INVALID_UTF8: &str = "invalid UTF-8";
const ABSURD_NUMBER: &str = "absurd number";
const UNKNOWN_VALUE: &str = "unknown value";
const LONG_STRING: &str = "long string";
const WRONG_METHOD: &str = "wrong method";
const UNKNOWN_PATH: &str = "unknown path";
const IGNORED_BODY: &str = "ignored body";

/// The families every vendor endpoint and every control-plane route with a body must cover.
const REQUIRED: [&str; 9] = [
    MALFORMED,
    WRONG_TYPE,
    MISSING,
    DUPLICATED,
    HUGE,
    INVALID_UTF8,
    ABSURD_NUMBER,
    UNKNOWN_VALUE,
    LONG_STRING,
];

fn long(n: usize) -> String {
    "a".repeat(n)
}

fn bytes(v: &Value) -> Vec<u8> {
    v.to_string().into_bytes()
}

/// `[[[[...` `depth` deep, never closed.
fn deep(prefix: &str, depth: usize) -> Vec<u8> {
    let mut b = prefix.as_bytes().to_vec();
    b.extend(std::iter::repeat_n(b'[', depth));
    b
}

/// One request, which the server must answer: a dropped or reset connection, or a body cut
/// short, fails the test here, naming the case.
async fn answered(
    m: &TestMock,
    method: &Method,
    target: &str,
    body: Option<&[u8]>,
    what: &str,
) -> Raw {
    answered_with(m, method, target, &[], body, what).await
}

/// [`answered`], with these headers.
async fn answered_with(
    m: &TestMock,
    method: &Method,
    target: &str,
    headers: &[(&'static str, String)],
    body: Option<&[u8]>,
    what: &str,
) -> Raw {
    let mut req = m.http.request(method.clone(), m.url(target));
    for (name, value) in headers {
        req = req.header(*name, value);
    }
    if let Some(b) = body {
        req = req.body(b.to_vec());
    }
    let resp = req
        .send()
        .await
        .unwrap_or_else(|e| panic!("{what}: the server did not answer: {e}"));
    let status = resp.status().as_u16();
    let header = |name: &str| {
        resp.headers()
            .get(name)
            .and_then(|v| v.to_str().ok())
            .map(str::to_owned)
    };
    let content_type = header("content-type");
    let date = header("date");
    let body = resp
        .bytes()
        .await
        .unwrap_or_else(|e| panic!("{what}: the answer was cut short: {e}"));
    Raw {
        status,
        content_type,
        date,
        body: String::from_utf8_lossy(&body).into_owned(),
    }
}

/// The mock's state (apps, users, session keys, options, clock, live counts); the journal is
/// not part of it. The test mocks' clock is frozen, so equal states mean nothing changed.
async fn state(m: &TestMock) -> Value {
    let r = answered(m, &Method::GET, "/__mock__/state", None, "GET /state").await;
    assert_eq!(r.status, 200, "{}", r.body);
    let mut v = r.json();
    let faults = answered(m, &Method::GET, "/__mock__/faults", None, "GET /faults").await;
    v["faults"] = faults.json()["faults"].clone();
    v
}

/// Sends raw bytes on a fresh connection and reads the answer to the end: (status, body).
async fn raw_http(addr: SocketAddr, request: &[u8]) -> (u16, String) {
    let exchange = async {
        let mut conn = tokio::net::TcpStream::connect(addr)
            .await
            .expect("connects");
        conn.write_all(request).await.expect("request sent");
        let mut answer = Vec::new();
        conn.read_to_end(&mut answer).await.expect("answer read");
        answer
    };
    let answer = tokio::time::timeout(Duration::from_secs(10), exchange)
        .await
        .expect("an answer within 10 s");
    let text = String::from_utf8_lossy(&answer).into_owned();
    assert!(
        text.starts_with("HTTP/1.1 "),
        "not an HTTP answer: {text:?}"
    );
    let status = text[9..12].parse().expect("a status code");
    let body = text
        .split_once("\r\n\r\n")
        .map_or("", |(_, b)| b)
        .to_owned();
    (status, body)
}

// ---------------------------------------------------------------------------------------------
// The vendor surface

/// What a vendor case must get.
#[derive(Clone, Copy, Debug)]
enum Expect {
    /// HTTP 200 and exactly `{"errcode":N,"errmsg":"..."}`.
    Errcode(i64),
    /// The gateway's 413 page (bodies over 1 MiB, README "What the mock does").
    TooLarge,
    /// HTTP 200 and exactly `{"Response":{"Error":{"Code":C,"Message"},"RequestId"}}`.
    Tencent(&'static str),
    /// HTTP 200 and a `SendStatusSet` whose every number was refused with this code.
    TencentStatus(&'static str),
}

struct VendorCase {
    family: &'static str,
    method: Method,
    target: String,
    /// Request headers (the SMS endpoint's signature and common parameters).
    headers: Vec<(&'static str, String)>,
    body: Option<Vec<u8>>,
    expect: Expect,
}

impl VendorCase {
    fn endpoint(&self) -> Endpoint {
        Endpoint::of_path(self.target.split('?').next().unwrap_or(""))
    }
}

fn get(family: &'static str, target: impl Into<String>, errcode: i64) -> VendorCase {
    VendorCase {
        headers: Vec::new(),
        family,
        method: Method::GET,
        target: target.into(),
        body: None,
        expect: Expect::Errcode(errcode),
    }
}

fn post(
    family: &'static str,
    target: impl Into<String>,
    body: impl Into<Vec<u8>>,
    errcode: i64,
) -> VendorCase {
    VendorCase {
        headers: Vec::new(),
        family,
        method: Method::POST,
        target: target.into(),
        body: Some(body.into()),
        expect: Expect::Errcode(errcode),
    }
}

fn too_large(method: Method, target: impl Into<String>) -> VendorCase {
    VendorCase {
        headers: Vec::new(),
        family: HUGE,
        method,
        target: target.into(),
        body: Some(vec![b'{'; MIB + 1]),
        expect: Expect::TooLarge,
    }
}

/// What the cases may use: the default app, a valid access token, and a login code, a phone
/// code and an openid that must all still work after the cases ran.
struct Vendor {
    appid: String,
    secret: String,
    token: String,
    openid: String,
    code: String,
    phone: String,
    /// A payment by the openid's user in the default app (bound to an open-platform account
    /// for these cases): its `transaction_id`, `mch_id` and `out_trade_no`.
    paid: [String; 3],
    /// A rid the default app got (a 40029 of getuserphonenumber).
    rid: String,
    /// An official account's access token, and the openid of a user following it.
    oa_token: String,
    follower: String,
    /// A third-party platform the default app authorised: its `component_appid`,
    /// `component_appsecret`, current ticket and a `component_access_token`.
    platform: [String; 4],
    /// A plugin (another app): its access token and a `wx.pluginLogin` code of the user.
    plugin: [String; 2],
}

const J2S: &str = "/sns/jscode2session";
const TOKEN: &str = "/cgi-bin/token";
const STABLE: &str = "/cgi-bin/stable_token";
const CHECK: &str = "/wxa/checksession";
const RESET: &str = "/wxa/resetusersessionkey";
const PHONE: &str = "/wxa/business/getuserphonenumber";
const PAID: &str = "/wxa/getpaidunionid";
const RISK: &str = "/wxa/getuserriskrank";
const MSG: &str = "/wxa/business/checkencryptedmsg";
const KEYS: &str = "/wxa/business/getuserencryptkey";
const QUOTA_GET: &str = "/cgi-bin/openapi/quota/get";
const CLEAR: &str = "/cgi-bin/clear_quota";
const CLEAR_V2: &str = "/cgi-bin/clear_quota/v2";
const RID_GET: &str = "/cgi-bin/openapi/rid/get";
const USER_INFO: &str = "/cgi-bin/user/info";
const COMPONENT_TOKEN: &str = "/cgi-bin/component/api_component_token";
const COMPONENT_J2S: &str = "/sns/component/jscode2session";
const OPENPID: &str = "/wxa/getpluginopenpid";

/// What is wrong with the answer to a vendor case: nothing, or a list of problems.
fn vendor_problems(r: &Raw, case: &VendorCase) -> Vec<String> {
    let mut problems = Vec::new();
    match case.expect {
        Expect::Errcode(errcode) => {
            if catalogue::WxError::from_code(errcode).is_none() {
                problems.push(format!("{errcode} is not a catalogue code"));
            }
            let prefix = format!(r#"{{"errcode":{errcode},"errmsg":""#);
            let two_keys = serde_json::from_str::<Value>(&r.body)
                .ok()
                .and_then(|v| v.as_object().map(|o| o.len() == 2))
                .unwrap_or(false);
            if r.status != 200
                || !r.body.starts_with(&prefix)
                || !r.body.ends_with("\"}")
                || !two_keys
            {
                problems.push(format!(
                    "expected HTTP 200 {prefix}...\"}}, got {} {}",
                    r.status, r.body
                ));
            }
            let path = case.target.split('?').next().unwrap_or("");
            let expected = catalogue::Family::of_path(path).content_type();
            if r.content_type.as_deref() != Some(expected) {
                problems.push(format!("Content-Type {:?}, not {expected}", r.content_type));
            }
        }
        Expect::Tencent(code) => {
            let v = serde_json::from_str::<Value>(&r.body).unwrap_or(Value::Null);
            let shape = v.as_object().map(|o| o.len()) == Some(1)
                && v["Response"].as_object().map(|o| o.len()) == Some(2)
                && v["Response"]["Error"].as_object().map(|o| o.len()) == Some(2)
                && v["Response"]["Error"]["Message"].is_string()
                && v["Response"]["RequestId"].is_string();
            if r.status != 200 || v["Response"]["Error"]["Code"] != code || !shape {
                problems.push(format!(
                    "expected HTTP 200 Tencent error {code}, got {} {}",
                    r.status, r.body
                ));
            }
            if r.content_type.as_deref() != Some("application/json") {
                problems.push(format!(
                    "Content-Type {:?}, not application/json",
                    r.content_type
                ));
            }
        }
        Expect::TencentStatus(code) => {
            let v = serde_json::from_str::<Value>(&r.body).unwrap_or(Value::Null);
            let set = v["Response"]["SendStatusSet"].as_array();
            let all = set.is_some_and(|set| {
                !set.is_empty() && set.iter().all(|s| s["Code"] == code && s["Fee"] == 0)
            });
            if r.status != 200 || !all || !v["Response"]["RequestId"].is_string() {
                problems.push(format!(
                    "expected every number refused with {code}, got {} {}",
                    r.status, r.body
                ));
            }
        }
        Expect::TooLarge => {
            if r.status != 413
                || r.content_type.as_deref() != Some("text/html")
                || !r.body.contains("413 Payload Too Large")
            {
                problems.push(format!(
                    "expected the gateway's 413 page, got {} {}",
                    r.status, r.body
                ));
            }
        }
    }
    if r.date.is_none() {
        problems.push("no Date header".to_owned());
    }
    problems
}

fn jscode2session_cases(v: &Vendor) -> Vec<VendorCase> {
    let Vendor {
        appid: a,
        secret: s,
        code: c,
        ..
    } = v;
    let q = |rest: &str| format!("{J2S}?{rest}");
    let full = |appid: &str, secret: &str, code: &str| {
        q(&format!(
            "appid={appid}&secret={secret}&js_code={code}&grant_type=authorization_code"
        ))
    };
    vec![
        get(MALFORMED, q("%zz=%&&=&appid"), 41002),
        get(MALFORMED, full(&format!("{a}%"), s, c), 40013),
        get(MALFORMED, full(a, s, "%%%"), 40029),
        get(
            WRONG_TYPE,
            q(&format!("appid[]={a}&secret={s}&js_code={c}")),
            41002,
        ),
        get(WRONG_TYPE, full(&format!("[\"{a}\"]"), s, c), 40013),
        get(MISSING, J2S, 41002),
        get(MISSING, q(&format!("appid={a}")), 41004),
        get(MISSING, q(&format!("appid={a}&secret={s}")), 41008),
        get(MISSING, q(&format!("appid=&secret={s}&js_code={c}")), 41002),
        get(
            MISSING,
            q(&format!("appid={a}&secret={s}&js_code={c}")),
            40002,
        ),
        get(
            DUPLICATED,
            format!("{}&appid={a}", full("bogus", s, c)),
            40013,
        ),
        get(
            DUPLICATED,
            q(&format!("appid={a}&secret=bogus&secret={s}&js_code={c}")),
            40125,
        ),
        get(
            DUPLICATED,
            q(&format!(
                "appid={a}&secret={s}&js_code=bogus&js_code={c}&grant_type=authorization_code"
            )),
            40029,
        ),
        get(
            DUPLICATED,
            q(&format!(
                "appid={a}&secret={s}&js_code={c}&grant_type=x&grant_type=authorization_code"
            )),
            40002,
        ),
        too_large(Method::GET, full(a, s, c)),
        too_large(Method::POST, J2S),
        get(INVALID_UTF8, full("%FF%FE", s, c), 40013),
        get(INVALID_UTF8, full(a, "%C3%28", c), 40125),
        get(INVALID_UTF8, full(a, s, "%ED%A0%80"), 40029),
        get(INVALID_UTF8, full(a, s, "%C0%AF"), 40029),
        get(
            ABSURD_NUMBER,
            full(a, s, "99999999999999999999999999999999"),
            40029,
        ),
        get(ABSURD_NUMBER, full("-1e400", s, c), 40013),
        get(ABSURD_NUMBER, full(a, s, "NaN"), 40029),
        get(
            UNKNOWN_VALUE,
            q(&format!(
                "appid={a}&secret={s}&js_code={c}&grant_type=client_credential"
            )),
            40002,
        ),
        get(
            UNKNOWN_VALUE,
            q(&format!(
                "appid={a}&secret={s}&js_code={c}&grant_type=AUTHORIZATION_CODE"
            )),
            40002,
        ),
        get(
            UNKNOWN_VALUE,
            q(&format!(
                "appid={a}&secret={s}&js_code={c}&grant_type=authorization_code%00"
            )),
            40002,
        ),
        get(LONG_STRING, full(&long(LONG_QUERY), s, c), 40013),
        get(LONG_STRING, full(a, &long(LONG_QUERY), c), 40125),
        get(LONG_STRING, full(a, s, &long(LONG_QUERY)), 40029),
        // The endpoint reads its query only: a body, however broken, changes nothing.
        post(IGNORED_BODY, J2S, b"{\"appid\":\xff".to_vec(), 41002),
    ]
}

fn token_cases(v: &Vendor) -> Vec<VendorCase> {
    let Vendor {
        appid: a,
        secret: s,
        ..
    } = v;
    let q = |rest: &str| format!("{TOKEN}?{rest}");
    let full = |appid: &str, secret: &str, grant: &str| {
        q(&format!("grant_type={grant}&appid={appid}&secret={secret}"))
    };
    vec![
        get(MALFORMED, q("=&=&%"), 41002),
        get(
            MALFORMED,
            q(&format!(
                "appid={a}&secret={s}&grant_type=client_credential%"
            )),
            40002,
        ),
        get(
            WRONG_TYPE,
            q(&format!(
                "appid[]={a}&secret={s}&grant_type=client_credential"
            )),
            41002,
        ),
        get(WRONG_TYPE, full(a, s, "[\"client_credential\"]"), 40002),
        get(MISSING, TOKEN, 41002),
        get(MISSING, q(&format!("appid={a}")), 41004),
        get(MISSING, q(&format!("appid={a}&secret={s}")), 40002),
        get(
            MISSING,
            q(&format!("appid={a}&secret=&grant_type=client_credential")),
            41004,
        ),
        get(
            DUPLICATED,
            format!("{}&appid={a}", full("bogus", s, "client_credential")),
            40013,
        ),
        get(
            DUPLICATED,
            format!("{}&secret={s}", full(a, "bogus", "client_credential")),
            40125,
        ),
        get(
            DUPLICATED,
            format!("{}&grant_type=client_credential", full(a, s, "x")),
            40002,
        ),
        too_large(Method::GET, full(a, s, "client_credential")),
        get(INVALID_UTF8, full("%FF", s, "client_credential"), 40013),
        get(
            INVALID_UTF8,
            full(a, "%FF%FE%FD", "client_credential"),
            40125,
        ),
        get(INVALID_UTF8, full(a, s, "client_credential%FF"), 40002),
        get(ABSURD_NUMBER, full("1e999", s, "client_credential"), 40013),
        get(
            ABSURD_NUMBER,
            full(a, "-99999999999999999999999", "client_credential"),
            40125,
        ),
        get(UNKNOWN_VALUE, full(a, s, "authorization_code"), 40002),
        get(UNKNOWN_VALUE, full(a, s, "CLIENT_CREDENTIAL"), 40002),
        get(
            LONG_STRING,
            full(&long(LONG_QUERY), s, "client_credential"),
            40013,
        ),
        get(
            LONG_STRING,
            full(a, &long(LONG_QUERY), "client_credential"),
            40125,
        ),
        get(LONG_STRING, full(a, s, &long(LONG_QUERY)), 40002),
    ]
}

fn stable_token_cases(v: &Vendor) -> Vec<VendorCase> {
    let Vendor {
        appid: a,
        secret: s,
        ..
    } = v;
    let creds = |extra: &str| {
        format!(r#"{{"grant_type":"client_credential","appid":"{a}","secret":"{s}"{extra}}}"#)
            .into_bytes()
    };
    let p = |family, body: Vec<u8>, errcode| post(family, STABLE, body, errcode);
    let mut deep_body = deep(r#"{"appid":"#, 10_000);
    deep_body.extend_from_slice(b"]");
    vec![
        // A well-formed request, but with GET.
        VendorCase {
            headers: Vec::new(),
            family: WRONG_METHOD,
            method: Method::GET,
            target: STABLE.into(),
            body: Some(creds("")),
            expect: Expect::Errcode(43002),
        },
        p(MALFORMED, Vec::new(), 47001),
        p(MALFORMED, b"{".to_vec(), 47001),
        p(MALFORMED, b"{'appid':'x'}".to_vec(), 47001),
        p(MALFORMED, [creds("").as_slice(), b" x"].concat(), 47001),
        p(MALFORMED, [creds("").as_slice(), b"{}"].concat(), 47001),
        p(
            MALFORMED,
            [b"\xef\xbb\xbf".as_slice(), &creds("")].concat(),
            47001,
        ),
        p(MALFORMED, deep_body, 47001),
        p(WRONG_TYPE, b"null".to_vec(), 47001),
        p(WRONG_TYPE, b"42".to_vec(), 47001),
        p(WRONG_TYPE, b"\"client_credential\"".to_vec(), 47001),
        p(WRONG_TYPE, b"[]".to_vec(), 47001),
        p(
            WRONG_TYPE,
            bytes(&json!({"grant_type": "client_credential", "appid": 5, "secret": s})),
            47001,
        ),
        p(
            WRONG_TYPE,
            bytes(&json!({"grant_type": "client_credential", "appid": a, "secret": true})),
            47001,
        ),
        p(
            WRONG_TYPE,
            bytes(&json!({"grant_type": ["client_credential"], "appid": a, "secret": s})),
            47001,
        ),
        p(WRONG_TYPE, creds(r#","force_refresh":"yes""#), 47001),
        p(WRONG_TYPE, creds(r#","force_refresh":1"#), 47001),
        p(WRONG_TYPE, creds(r#","force_refresh":{}"#), 47001),
        p(MISSING, b"{}".to_vec(), 41002),
        p(MISSING, bytes(&json!({"unknown": 1})), 41002),
        p(MISSING, bytes(&json!({"appid": a})), 41004),
        p(MISSING, bytes(&json!({"appid": a, "secret": s})), 40002),
        p(
            MISSING,
            bytes(&json!({"grant_type": "client_credential", "appid": "", "secret": s})),
            41002,
        ),
        p(
            DUPLICATED,
            format!(
                r#"{{"grant_type":"client_credential","appid":"{a}","appid":"{a}","secret":"{s}"}}"#
            )
            .into_bytes(),
            47001,
        ),
        p(
            DUPLICATED,
            creds(r#","force_refresh":false,"force_refresh":false"#),
            47001,
        ),
        too_large(Method::POST, STABLE),
        p(
            INVALID_UTF8,
            [&creds("")[..creds("").len() - 2], b"\xff\"}"].concat(),
            47001,
        ),
        p(
            INVALID_UTF8,
            [b"{\"appid\":\"".as_slice(), b"\xc0\xaf", b"\"}"].concat(),
            47001,
        ),
        p(INVALID_UTF8, br#"{"appid":"\ud800"}"#.to_vec(), 47001),
        p(ABSURD_NUMBER, creds(r#","force_refresh":1e400"#), 47001),
        p(
            ABSURD_NUMBER,
            bytes(
                &json!({"grant_type": "client_credential", "appid": 99_999_999_999_999_999_u64, "secret": s}),
            ),
            47001,
        ),
        p(ABSURD_NUMBER, br#"{"appid":-1e400}"#.to_vec(), 47001),
        p(
            UNKNOWN_VALUE,
            bytes(&json!({"grant_type": "authorization_code", "appid": a, "secret": s})),
            40002,
        ),
        p(UNKNOWN_VALUE, creds(r#","force_refresh":"TRUE""#), 47001),
        p(
            LONG_STRING,
            bytes(
                &json!({"grant_type": "client_credential", "appid": long(LONG_BODY), "secret": s}),
            ),
            40013,
        ),
        p(
            LONG_STRING,
            bytes(
                &json!({"grant_type": "client_credential", "appid": a, "secret": long(LONG_BODY)}),
            ),
            40125,
        ),
        p(
            LONG_STRING,
            bytes(&json!({"grant_type": long(LONG_BODY), "appid": a, "secret": s})),
            40002,
        ),
    ]
}

/// checksession and resetusersessionkey take the same query and check it the same way.
fn session_cases(path: &'static str, v: &Vendor) -> Vec<VendorCase> {
    let Vendor {
        token: t,
        openid: o,
        ..
    } = v;
    let q = |rest: &str| format!("{path}?{rest}");
    let signed = |token: &str, sig_method: &str, openid: &str, sig: &str| {
        q(&format!(
            "access_token={token}&sig_method={sig_method}&openid={openid}&signature={sig}"
        ))
    };
    let hmac = "hmac_sha256";
    vec![
        get(MALFORMED, q("access_token"), 41001),
        get(
            MALFORMED,
            q(&format!("access_token={t}&sig_method=%&openid={o}")),
            87008,
        ),
        get(MALFORMED, signed(t, hmac, o, "%zz%"), 87009),
        get(
            WRONG_TYPE,
            q(&format!("access_token[]={t}&sig_method={hmac}&openid={o}")),
            41001,
        ),
        get(
            WRONG_TYPE,
            signed(t, hmac, &format!("[\"{o}\"]"), "x"),
            40003,
        ),
        get(WRONG_TYPE, signed(t, hmac, o, "[]"), 87009),
        get(MISSING, path, 41001),
        get(MISSING, q(&format!("access_token={t}")), 87008),
        get(
            MISSING,
            q(&format!("access_token={t}&sig_method={hmac}")),
            40003,
        ),
        get(
            MISSING,
            q(&format!("access_token={t}&sig_method={hmac}&openid={o}")),
            87009,
        ),
        get(MISSING, signed("", hmac, o, "x"), 41001),
        get(
            DUPLICATED,
            format!("{}&access_token={t}", signed("bogus", hmac, o, "x")),
            40001,
        ),
        get(
            DUPLICATED,
            format!("{}&openid={o}", signed(t, hmac, "bogus", "x")),
            40003,
        ),
        get(
            DUPLICATED,
            format!("{}&sig_method={hmac}", signed(t, "x", o, "x")),
            87008,
        ),
        too_large(Method::GET, signed(t, hmac, o, "x")),
        get(INVALID_UTF8, signed("%FF%FE", hmac, o, "x"), 40001),
        get(INVALID_UTF8, signed(t, "hmac_sha256%FF", o, "x"), 87008),
        get(INVALID_UTF8, signed(t, hmac, "%C3%28", "x"), 40003),
        get(INVALID_UTF8, signed(t, hmac, o, "%FF"), 87009),
        get(ABSURD_NUMBER, signed("1e400", hmac, o, "x"), 40001),
        get(
            ABSURD_NUMBER,
            signed(t, hmac, "-99999999999999999999999", "x"),
            40003,
        ),
        get(
            ABSURD_NUMBER,
            signed(t, hmac, o, "99999999999999999999999999999999"),
            87009,
        ),
        get(UNKNOWN_VALUE, signed(t, "hmac_sha1", o, "x"), 87008),
        get(UNKNOWN_VALUE, signed(t, "HMAC_SHA256", o, "x"), 87008),
        get(LONG_STRING, signed(&long(LONG_QUERY), hmac, o, "x"), 40001),
        get(LONG_STRING, signed(t, &long(LONG_QUERY), o, "x"), 87008),
        get(LONG_STRING, signed(t, hmac, &long(LONG_QUERY), "x"), 40003),
        get(LONG_STRING, signed(t, hmac, o, &long(LONG_QUERY)), 87009),
    ]
}

fn phone_cases(v: &Vendor) -> Vec<VendorCase> {
    let Vendor {
        token: t,
        openid: o,
        phone: c,
        ..
    } = v;
    let at = format!("{PHONE}?access_token={t}");
    let p = |family, body: Vec<u8>, errcode| post(family, at.clone(), body, errcode);
    let code = |value: &Value| bytes(&json!({ "code": value }));
    vec![
        VendorCase {
            headers: Vec::new(),
            family: WRONG_METHOD,
            method: Method::GET,
            target: at.clone(),
            body: Some(code(&json!(c))),
            expect: Expect::Errcode(43002),
        },
        p(MALFORMED, b"{".to_vec(), 47001),
        p(
            MALFORMED,
            format!(r#"{{"code":"{c}"}} x"#).into_bytes(),
            47001,
        ),
        p(
            MALFORMED,
            format!(r#"{{"code":"{c}"}}{{}}"#).into_bytes(),
            47001,
        ),
        p(MALFORMED, format!(r#"{{code:"{c}"}}"#).into_bytes(), 47001),
        p(MALFORMED, deep(r#"{"code":"#, 10_000), 47001),
        p(WRONG_TYPE, b"null".to_vec(), 47001),
        p(WRONG_TYPE, b"[]".to_vec(), 47001),
        p(WRONG_TYPE, format!("\"{c}\"").into_bytes(), 47001),
        p(WRONG_TYPE, code(&json!(5)), 40029),
        p(WRONG_TYPE, code(&json!([c])), 40029),
        p(WRONG_TYPE, code(&json!({ "code": c })), 40029),
        p(WRONG_TYPE, code(&json!(true)), 40029),
        p(MISSING, Vec::new(), 40029),
        p(MISSING, b"{}".to_vec(), 40029),
        p(MISSING, code(&json!(null)), 40029),
        p(MISSING, code(&json!("")), 40029),
        p(MISSING, bytes(&json!({ "openid": o })), 40029),
        post(MISSING, PHONE, code(&json!(c)), 41001),
        post(
            MISSING,
            format!("{PHONE}?access_token=bogus"),
            code(&json!(c)),
            40001,
        ),
        p(
            DUPLICATED,
            format!(r#"{{"code":"bogus","code":"{c}"}}"#).into_bytes(),
            47001,
        ),
        post(
            DUPLICATED,
            format!("{PHONE}?access_token=bogus&access_token={t}"),
            code(&json!(c)),
            40001,
        ),
        too_large(Method::POST, at.clone()),
        p(
            INVALID_UTF8,
            [b"{\"code\":\"".as_slice(), c.as_bytes(), b"\xff\"}"].concat(),
            47001,
        ),
        p(INVALID_UTF8, br#"{"code":"\udfff"}"#.to_vec(), 47001),
        post(
            INVALID_UTF8,
            format!("{PHONE}?access_token=%FF"),
            code(&json!(c)),
            40001,
        ),
        p(ABSURD_NUMBER, br#"{"code":1e400}"#.to_vec(), 47001),
        p(
            ABSURD_NUMBER,
            br#"{"code":-99999999999999999999999999}"#.to_vec(),
            40029,
        ),
        p(ABSURD_NUMBER, code(&json!(u64::MAX)), 40029),
        // Another user's openid: refused, and the code is not spent (README).
        p(
            UNKNOWN_VALUE,
            bytes(&json!({ "code": c, "openid": "o-someone-else" })),
            40029,
        ),
        p(UNKNOWN_VALUE, code(&json!(format!("{c}0"))), 40029),
        p(LONG_STRING, code(&json!(long(LONG_BODY))), 40029),
        p(
            LONG_STRING,
            bytes(&json!({ "code": c, "openid": long(LONG_BODY) })),
            40029,
        ),
        post(
            LONG_STRING,
            format!("{PHONE}?access_token={}", long(LONG_QUERY)),
            code(&json!(c)),
            40001,
        ),
    ]
}

/// getuserriskrank: every case one change away from a body that would succeed.
fn risk_cases(v: &Vendor) -> Vec<VendorCase> {
    let Vendor {
        appid: a,
        token: t,
        openid: o,
        ..
    } = v;
    let at = format!("{RISK}?access_token={t}");
    let p = |family, body: Vec<u8>, errcode| post(family, at.clone(), body, errcode);
    // The good body with `over`'s fields replaced (`null`: left out).
    let with = |over: Value| {
        let mut body = json!({"appid": a, "openid": o, "scene": 0, "client_ip": "203.0.113.7"});
        if let (Some(b), Some(o)) = (body.as_object_mut(), over.as_object()) {
            for (k, v) in o {
                if v.is_null() {
                    b.remove(k);
                } else {
                    b.insert(k.clone(), v.clone());
                }
            }
        }
        bytes(&body)
    };
    let good = with(json!({}));
    let good_text = String::from_utf8_lossy(&good).into_owned();
    vec![
        VendorCase {
            headers: Vec::new(),
            family: WRONG_METHOD,
            method: Method::GET,
            target: at.clone(),
            body: Some(good.clone()),
            expect: Expect::Errcode(43002),
        },
        p(MALFORMED, b"{".to_vec(), 47001),
        p(MALFORMED, format!("{good_text} x").into_bytes(), 47001),
        p(MALFORMED, format!("{good_text}{{}}").into_bytes(), 47001),
        p(MALFORMED, format!(r#"{{appid:"{a}"}}"#).into_bytes(), 47001),
        p(MALFORMED, deep(r#"{"appid":"#, 10_000), 47001),
        p(WRONG_TYPE, b"null".to_vec(), 47001),
        p(WRONG_TYPE, b"[]".to_vec(), 47001),
        p(WRONG_TYPE, with(json!({"appid": 5})), 47001),
        p(WRONG_TYPE, with(json!({"openid": [o]})), 47001),
        p(WRONG_TYPE, with(json!({"client_ip": 203})), 47001),
        p(WRONG_TYPE, with(json!({"is_test": "yes"})), 47001),
        p(WRONG_TYPE, with(json!({"scene": "0"})), 40129),
        p(WRONG_TYPE, with(json!({"scene": 0.5})), 40129),
        p(MISSING, Vec::new(), 44002),
        p(MISSING, b" \r\n".to_vec(), 44002),
        p(MISSING, b"{}".to_vec(), 41002),
        p(MISSING, with(json!({"appid": ""})), 41002),
        p(MISSING, with(json!({"openid": null})), 40003),
        p(MISSING, with(json!({"scene": null})), 40129),
        p(MISSING, with(json!({"client_ip": null})), 47001),
        p(MISSING, with(json!({"client_ip": ""})), 47001),
        post(MISSING, RISK, good.clone(), 41001),
        p(
            DUPLICATED,
            format!(
                r#"{{"appid":"x","appid":"{a}","openid":"{o}","scene":0,"client_ip":"1.1.1.1"}}"#
            )
            .into_bytes(),
            47001,
        ),
        post(
            DUPLICATED,
            format!("{RISK}?access_token=bogus&access_token={t}"),
            good.clone(),
            40001,
        ),
        too_large(Method::POST, at.clone()),
        p(
            INVALID_UTF8,
            [b"{\"appid\":\"".as_slice(), a.as_bytes(), b"\xff\"}"].concat(),
            47001,
        ),
        p(INVALID_UTF8, br#"{"openid":"\udfff"}"#.to_vec(), 47001),
        post(
            INVALID_UTF8,
            format!("{RISK}?access_token=%FF"),
            good.clone(),
            40001,
        ),
        p(ABSURD_NUMBER, with(json!({"scene": -1})), 40129),
        p(ABSURD_NUMBER, with(json!({"scene": u64::MAX})), 40129),
        p(
            ABSURD_NUMBER,
            good_text
                .replace(r#""scene":0"#, r#""scene":1e400"#)
                .into_bytes(),
            47001,
        ),
        p(
            ABSURD_NUMBER,
            good_text
                .replace(r#""scene":0"#, r#""scene":99999999999999999999999999"#)
                .into_bytes(),
            40129,
        ),
        p(UNKNOWN_VALUE, with(json!({"scene": 2})), 40129),
        p(
            UNKNOWN_VALUE,
            with(json!({"appid": "wx0000000000000000"})),
            40013,
        ),
        p(
            UNKNOWN_VALUE,
            with(json!({"openid": "o-someone-else"})),
            40003,
        ),
        p(
            UNKNOWN_VALUE,
            with(json!({"client_ip": "999.1.1.1"})),
            47001,
        ),
        p(LONG_STRING, with(json!({"appid": long(LONG_BODY)})), 40013),
        p(LONG_STRING, with(json!({"openid": long(LONG_BODY)})), 40003),
        p(
            LONG_STRING,
            with(json!({"client_ip": long(LONG_BODY)})),
            47001,
        ),
        post(
            LONG_STRING,
            format!("{RISK}?access_token={}", long(LONG_QUERY)),
            good.clone(),
            40001,
        ),
    ]
}

/// checkencryptedmsg: no phone data was issued, so even a well-formed hash is unknown (1).
fn encrypted_msg_cases(v: &Vendor) -> Vec<VendorCase> {
    let t = &v.token;
    let at = format!("{MSG}?access_token={t}");
    let p = |family, body: Vec<u8>, errcode| post(family, at.clone(), body, errcode);
    let hash = |value: Value| bytes(&json!({ "encrypted_msg_hash": value }));
    let h = "ab".repeat(32);
    vec![
        VendorCase {
            headers: Vec::new(),
            family: WRONG_METHOD,
            method: Method::GET,
            target: at.clone(),
            body: Some(hash(json!(h))),
            expect: Expect::Errcode(43002),
        },
        p(MALFORMED, b"{".to_vec(), 47001),
        p(
            MALFORMED,
            format!(r#"{{"encrypted_msg_hash":"{h}"}} x"#).into_bytes(),
            47001,
        ),
        p(
            MALFORMED,
            format!(r#"{{encrypted_msg_hash:"{h}"}}"#).into_bytes(),
            47001,
        ),
        p(MALFORMED, deep(r#"{"encrypted_msg_hash":"#, 10_000), 47001),
        p(WRONG_TYPE, b"null".to_vec(), 47001),
        p(WRONG_TYPE, b"[]".to_vec(), 47001),
        p(WRONG_TYPE, format!("\"{h}\"").into_bytes(), 47001),
        p(WRONG_TYPE, hash(json!(5)), 40097),
        p(WRONG_TYPE, hash(json!([h])), 40097),
        p(WRONG_TYPE, hash(json!({ "hash": h })), 40097),
        p(MISSING, Vec::new(), 44002),
        p(MISSING, b"{}".to_vec(), 40097),
        p(MISSING, hash(json!(null)), 40097),
        p(MISSING, hash(json!("")), 40097),
        post(MISSING, MSG, hash(json!(h)), 41001),
        p(
            DUPLICATED,
            format!(r#"{{"encrypted_msg_hash":"x","encrypted_msg_hash":"{h}"}}"#).into_bytes(),
            47001,
        ),
        post(
            DUPLICATED,
            format!("{MSG}?access_token=bogus&access_token={t}"),
            hash(json!(h)),
            40001,
        ),
        too_large(Method::POST, at.clone()),
        p(
            INVALID_UTF8,
            [
                b"{\"encrypted_msg_hash\":\"".as_slice(),
                h.as_bytes(),
                b"\xff\"}",
            ]
            .concat(),
            47001,
        ),
        p(
            INVALID_UTF8,
            br#"{"encrypted_msg_hash":"\udfff"}"#.to_vec(),
            47001,
        ),
        post(
            INVALID_UTF8,
            format!("{MSG}?access_token=%FF"),
            hash(json!(h)),
            40001,
        ),
        p(
            ABSURD_NUMBER,
            br#"{"encrypted_msg_hash":1e400}"#.to_vec(),
            47001,
        ),
        p(ABSURD_NUMBER, hash(json!(u64::MAX)), 40097),
        p(UNKNOWN_VALUE, hash(json!(h)), 1),
        p(UNKNOWN_VALUE, hash(json!(h.to_uppercase())), 1),
        p(UNKNOWN_VALUE, hash(json!(&h[1..])), 40097),
        p(UNKNOWN_VALUE, hash(json!("g".repeat(64))), 40097),
        p(LONG_STRING, hash(json!(long(LONG_BODY))), 40097),
        post(
            LONG_STRING,
            format!("{MSG}?access_token={}", long(LONG_QUERY)),
            hash(json!(h)),
            40001,
        ),
    ]
}

const SMS: &str = "/tencentcloud/sms";

/// The SMS endpoint: each body signed right (so the body's own checks are reached), or the
/// header under test replaced. None may send anything: every refusal is the whole request's or
/// every number's.
fn sms_cases(m: &TestMock) -> Vec<VendorCase> {
    let c = m.sms();
    let app = c.sdk_app_ids[0].clone();
    let tpl = c.templates[0].spec.id.clone();
    let sign = c.sign_names[0].name.clone();
    let now = m.now_secs();
    let valid = |over: Value| {
        let mut body = json!({"PhoneNumberSet": ["+8613800138000"], "SmsSdkAppId": app,
            "TemplateId": tpl, "SignName": sign, "TemplateParamSet": ["123456", "5"]});
        if let (Some(b), Some(o)) = (body.as_object_mut(), over.as_object()) {
            for (k, v) in o {
                if v.is_null() {
                    b.remove(k);
                } else {
                    b.insert(k.clone(), v.clone());
                }
            }
        }
        bytes(&body)
    };
    let signed = |family, body: Vec<u8>, expect| VendorCase {
        family,
        method: Method::POST,
        target: SMS.into(),
        headers: m.sms_headers(&String::from_utf8_lossy(&body), now),
        body: Some(body),
        expect,
    };
    // A good body whose header `name` is replaced (or, with `None`, left out).
    let header = |family, name: &'static str, value: Option<&str>, expect| {
        let body = valid(json!({}));
        let mut headers: Vec<(&'static str, String)> = m
            .sms_headers(&String::from_utf8_lossy(&body), now)
            .into_iter()
            .filter(|(n, _)| *n != name)
            .collect();
        if let Some(v) = value {
            headers.push((name, v.to_owned()));
        }
        VendorCase {
            family,
            method: Method::POST,
            target: SMS.into(),
            headers,
            body: Some(body),
            expect,
        }
    };
    // Raw bodies are signed as they are: the signature covers bytes, not JSON.
    let raw_signed = |family, body: &[u8], expect| {
        let headers = {
            let key = mock_server::tencent::Key {
                secret_id: &c.secret_id,
                secret_key: &c.secret_key,
            };
            mock_server::tencent::send_sms_headers(&key, &m.host(), "ap-guangzhou", now, body)
                .into_iter()
                .filter(|(n, _)| *n != "Host")
                .collect()
        };
        VendorCase {
            family,
            method: Method::POST,
            target: SMS.into(),
            headers,
            body: Some(body.to_vec()),
            expect,
        }
    };
    let json_fail = Expect::Tencent("FailedOperation.JsonParseFail");
    let invalid = Expect::Tencent("InvalidParameter");
    let missing = Expect::Tencent("MissingParameter");
    let dup_template = format!(
        r#"{{"PhoneNumberSet":["+8613800138000"],"SmsSdkAppId":"{app}","TemplateId":"{tpl}","TemplateId":"bogus","SignName":"{sign}","TemplateParamSet":["1","5"]}}"#
    );
    let mut dup_action = header(
        MALFORMED,
        "X-TC-Action",
        Some("Nope"),
        Expect::Tencent("InvalidAction"),
    );
    dup_action.family = DUPLICATED;
    dup_action.headers.push(("X-TC-Action", "SendSms".into()));
    vec![
        raw_signed(MALFORMED, b"not json", json_fail),
        raw_signed(MALFORMED, b"{\"PhoneNumberSet\":", json_fail),
        raw_signed(MALFORMED, b"{} trailing", json_fail),
        header(
            MALFORMED,
            "Authorization",
            Some("TC3-HMAC-SHA256 garbage"),
            Expect::Tencent("AuthFailure.InvalidAuthorization"),
        ),
        signed(WRONG_TYPE, valid(json!({"PhoneNumberSet": "+8613800138000"})), invalid),
        signed(WRONG_TYPE, valid(json!({"TemplateParamSet": [1, 5]})), invalid),
        signed(WRONG_TYPE, valid(json!({"SessionContext": {}})), invalid),
        signed(WRONG_TYPE, valid(json!({"SmsSdkAppId": 1_400_000_000})), invalid),
        raw_signed(WRONG_TYPE, b"[]", json_fail),
        signed(MISSING, valid(json!({"SmsSdkAppId": null})), missing),
        signed(MISSING, valid(json!({"PhoneNumberSet": null})), missing),
        signed(MISSING, valid(json!({"TemplateId": null})), missing),
        signed(
            MISSING,
            valid(json!({"PhoneNumberSet": []})),
            Expect::Tencent("MissingParameter.EmptyPhoneNumberSet"),
        ),
        signed(
            MISSING,
            valid(json!({"SignName": null})),
            Expect::TencentStatus("FailedOperation.SignatureIncorrectOrUnapproved"),
        ),
        raw_signed(MISSING, b"", json_fail),
        header(MISSING, "X-TC-Timestamp", None, missing),
        header(MISSING, "X-TC-Version", None, missing),
        header(MISSING, "X-TC-Action", None, missing),
        header(MISSING, "Authorization", None, Expect::Tencent("AuthFailure.InvalidAuthorization")),
        // serde_json keeps the last of a repeated key; the mock does the same (how Tencent Cloud
        // treats one is not known).
        raw_signed(
            DUPLICATED,
            dup_template.as_bytes(),
            Expect::TencentStatus("FailedOperation.TemplateIncorrectOrUnapproved"),
        ),
        dup_action,
        too_large(Method::POST, SMS),
        raw_signed(
            INVALID_UTF8,
            b"{\"PhoneNumberSet\":[\"+86138\xff\"],\"SmsSdkAppId\":\"1\",\"TemplateId\":\"1\"}",
            json_fail,
        ),
        signed(
            INVALID_UTF8,
            valid(json!({"PhoneNumberSet": ["+8613800138000\u{fffd}"]})),
            Expect::TencentStatus("InvalidParameterValue.IncorrectPhoneNumber"),
        ),
        header(ABSURD_NUMBER, "X-TC-Timestamp", Some("99999999999999999999"), invalid),
        header(ABSURD_NUMBER, "X-TC-Timestamp", Some("1e10"), invalid),
        header(
            ABSURD_NUMBER,
            "X-TC-Timestamp",
            Some("0"),
            Expect::Tencent("AuthFailure.SignatureExpire"),
        ),
        raw_signed(
            ABSURD_NUMBER,
            format!(r#"{{"PhoneNumberSet":["+8613800138000"],"SmsSdkAppId":1e400,"TemplateId":"{tpl}"}}"#)
                .as_bytes(),
            json_fail,
        ),
        signed(
            ABSURD_NUMBER,
            valid(json!({"PhoneNumberSet": ["+8699999999999999999999"]})),
            Expect::TencentStatus("InvalidParameterValue.IncorrectPhoneNumber"),
        ),
        header(UNKNOWN_VALUE, "X-TC-Version", Some("2019-07-11"), Expect::Tencent("NoSuchVersion")),
        header(UNKNOWN_VALUE, "X-TC-Region", Some("ap-mars"), Expect::Tencent("UnsupportedRegion")),
        header(UNKNOWN_VALUE, "X-TC-Action", Some("SendSMS"), Expect::Tencent("InvalidAction")),
        signed(UNKNOWN_VALUE, valid(json!({"Foo": 1})), Expect::Tencent("UnknownParameter")),
        signed(
            UNKNOWN_VALUE,
            valid(json!({"SmsSdkAppId": "1400999999"})),
            Expect::Tencent("UnauthorizedOperation.SmsSdkAppIdVerifyFail"),
        ),
        signed(
            LONG_STRING,
            valid(json!({"TemplateId": long(LONG_BODY)})),
            Expect::TencentStatus("FailedOperation.TemplateIncorrectOrUnapproved"),
        ),
        signed(
            LONG_STRING,
            valid(json!({"PhoneNumberSet": [long(LONG_BODY)]})),
            Expect::TencentStatus("InvalidParameterValue.IncorrectPhoneNumber"),
        ),
        signed(
            LONG_STRING,
            valid(json!({"SignName": long(LONG_BODY)})),
            Expect::TencentStatus("FailedOperation.SignatureIncorrectOrUnapproved"),
        ),
        header(LONG_STRING, "X-TC-Region", Some(&long(4000)), Expect::Tencent("UnsupportedRegion")),
        VendorCase {
            family: WRONG_METHOD,
            method: Method::GET,
            target: SMS.into(),
            headers: Vec::new(),
            body: None,
            expect: Expect::Tencent("UnsupportedProtocol"),
        },
    ]
}

fn paid_cases(v: &Vendor) -> Vec<VendorCase> {
    let Vendor {
        token: t,
        openid: o,
        paid: [txn, mch, out],
        ..
    } = v;
    let q = |rest: &str| format!("{PAID}?{rest}");
    let by_txn = |token: &str, openid: &str, txn: &str| {
        q(&format!(
            "access_token={token}&openid={openid}&transaction_id={txn}"
        ))
    };
    let by_merchant = |mch: &str, out: &str| {
        q(&format!(
            "access_token={t}&openid={o}&mch_id={mch}&out_trade_no={out}"
        ))
    };
    vec![
        get(MALFORMED, q("access_token"), 41001),
        get(MALFORMED, by_txn(t, "%", txn), 40003),
        get(MALFORMED, by_txn(t, o, "%zz%"), 89300),
        get(MALFORMED, by_merchant("%", out), 89300),
        get(
            WRONG_TYPE,
            q(&format!(
                "access_token[]={t}&openid={o}&transaction_id={txn}"
            )),
            41001,
        ),
        get(WRONG_TYPE, by_txn(t, &format!("[\"{o}\"]"), txn), 40003),
        get(
            WRONG_TYPE,
            by_txn(t, o, &format!("{{\"id\":\"{txn}\"}}")),
            89300,
        ),
        get(MISSING, PAID, 41001),
        get(
            MISSING,
            q(&format!("access_token={t}&transaction_id={txn}")),
            40003,
        ),
        get(MISSING, q(&format!("access_token={t}&openid={o}")), 89300),
        get(
            MISSING,
            q(&format!("access_token={t}&openid={o}&mch_id={mch}")),
            89300,
        ),
        get(
            MISSING,
            q(&format!("access_token={t}&openid={o}&out_trade_no={out}")),
            89300,
        ),
        get(MISSING, by_txn("", o, txn), 41001),
        get(
            DUPLICATED,
            format!("{}&access_token={t}", by_txn("bogus", o, txn)),
            40001,
        ),
        get(
            DUPLICATED,
            format!("{}&openid={o}", by_txn(t, "bogus", txn)),
            40003,
        ),
        get(
            DUPLICATED,
            format!("{}&transaction_id={txn}", by_txn(t, o, "bogus")),
            89300,
        ),
        too_large(Method::GET, by_txn(t, o, txn)),
        get(INVALID_UTF8, by_txn("%FF%FE", o, txn), 40001),
        get(INVALID_UTF8, by_txn(t, "%C3%28", txn), 40003),
        get(INVALID_UTF8, by_txn(t, o, "%FF"), 89300),
        get(INVALID_UTF8, by_merchant(mch, "%C3%28"), 89300),
        get(ABSURD_NUMBER, by_txn("1e400", o, txn), 40001),
        get(
            ABSURD_NUMBER,
            by_txn(t, o, "-99999999999999999999999999999"),
            89300,
        ),
        get(ABSURD_NUMBER, by_merchant("1e400", out), 89300),
        // Another payment's merchant number, and names that differ only in case.
        get(UNKNOWN_VALUE, by_merchant("1900000109", out), 89300),
        get(UNKNOWN_VALUE, by_txn(t, &o.to_uppercase(), txn), 40003),
        get(UNKNOWN_VALUE, by_txn(t, o, &txn.replace('4', "5")), 89300),
        get(LONG_STRING, by_txn(&long(LONG_QUERY), o, txn), 40001),
        get(LONG_STRING, by_txn(t, &long(LONG_QUERY), txn), 40003),
        get(LONG_STRING, by_txn(t, o, &long(LONG_QUERY)), 89300),
        get(LONG_STRING, by_merchant(mch, &long(LONG_QUERY)), 89300),
    ]
}

/// The cases of a token-checked POST whose body carries one string field (quota/get,
/// clear_quota, rid/get): the token and body families, with `ok` a valid value of the field
/// that still gets `refused` (a refusal the case table expects), `field_errcode` what a
/// missing or mistyped value of the field gets and `odd_errcode` what a very long or
/// differently cased one gets.
fn one_field_cases(
    path: &'static str,
    field: &str,
    token: &str,
    ok: &str,
    [refused, field_errcode, odd_errcode]: [i64; 3],
) -> Vec<VendorCase> {
    let at = format!("{path}?access_token={token}");
    let p = |family, body: Vec<u8>, errcode| post(family, at.clone(), body, errcode);
    let with = |value: &Value| {
        let mut m = serde_json::Map::new();
        m.insert(field.to_owned(), value.clone());
        bytes(&Value::Object(m))
    };
    vec![
        VendorCase {
            headers: Vec::new(),
            family: WRONG_METHOD,
            method: Method::GET,
            target: at.clone(),
            body: Some(with(&json!(ok))),
            expect: Expect::Errcode(43002),
        },
        p(MALFORMED, b"{".to_vec(), 47001),
        p(
            MALFORMED,
            format!(r#"{{"{field}":"{ok}"}} x"#).into_bytes(),
            47001,
        ),
        p(
            MALFORMED,
            format!(r#"{{{field}:"{ok}"}}"#).into_bytes(),
            47001,
        ),
        p(MALFORMED, deep(&format!(r#"{{"{field}":"#), 10_000), 47001),
        p(WRONG_TYPE, b"null".to_vec(), 47001),
        p(WRONG_TYPE, b"[]".to_vec(), 47001),
        p(WRONG_TYPE, with(&json!(5)), field_errcode),
        p(WRONG_TYPE, with(&json!([ok])), field_errcode),
        p(MISSING, Vec::new(), field_errcode),
        p(MISSING, b"{}".to_vec(), field_errcode),
        p(MISSING, with(&json!("")), field_errcode),
        p(MISSING, with(&json!(null)), field_errcode),
        post(MISSING, path, with(&json!(ok)), 41001),
        post(
            MISSING,
            format!("{path}?access_token=bogus"),
            with(&json!(ok)),
            40001,
        ),
        p(
            DUPLICATED,
            format!(r#"{{"{field}":"bogus","{field}":"{ok}"}}"#).into_bytes(),
            47001,
        ),
        post(
            DUPLICATED,
            format!("{path}?access_token=bogus&access_token={token}"),
            with(&json!(ok)),
            40001,
        ),
        too_large(Method::POST, at.clone()),
        p(
            INVALID_UTF8,
            [format!(r#"{{"{field}":"{ok}"#).as_bytes(), b"\xff\"}"].concat(),
            47001,
        ),
        p(
            INVALID_UTF8,
            format!(r#"{{"{field}":"\udfff"}}"#).into_bytes(),
            47001,
        ),
        post(
            INVALID_UTF8,
            format!("{path}?access_token=%FF"),
            with(&json!(ok)),
            40001,
        ),
        p(
            ABSURD_NUMBER,
            format!(r#"{{"{field}":1e400}}"#).into_bytes(),
            47001,
        ),
        p(ABSURD_NUMBER, with(&json!(u64::MAX)), field_errcode),
        p(UNKNOWN_VALUE, with(&json!(ok)), refused),
        p(UNKNOWN_VALUE, with(&json!(ok.to_uppercase())), odd_errcode),
        p(LONG_STRING, with(&json!(long(LONG_BODY))), odd_errcode),
        post(
            LONG_STRING,
            format!("{path}?access_token={}", long(LONG_QUERY)),
            with(&json!(ok)),
            40001,
        ),
    ]
}

fn quota_get_cases(v: &Vendor) -> Vec<VendorCase> {
    // The default app is a mini-program: an official account's API is not its to ask about.
    let mut cases = one_field_cases(
        QUOTA_GET,
        "cgi_path",
        &v.token,
        USER_INFO,
        [76022, 76021, 76021],
    );
    let at = format!("{QUOTA_GET}?access_token={}", v.token);
    let path = |p: &str| bytes(&json!({ "cgi_path": p }));
    cases.extend([
        post(UNKNOWN_VALUE, at.clone(), path(J2S), 76022),
        post(UNKNOWN_VALUE, at.clone(), path("cgi-bin/token"), 76021),
        post(
            UNKNOWN_VALUE,
            at.clone(),
            path("https://api.weixin.qq.com/cgi-bin/token"),
            76021,
        ),
        post(UNKNOWN_VALUE, at.clone(), path("/tencentcloud/sms"), 76021),
    ]);
    cases
}

fn clear_quota_cases(v: &Vendor) -> Vec<VendorCase> {
    // Another app's appid: 40013, and nothing is cleared.
    one_field_cases(
        CLEAR,
        "appid",
        &v.token,
        "wx0000000000000000",
        [40013, 41002, 40013],
    )
}

fn rid_get_cases(v: &Vendor) -> Vec<VendorCase> {
    let mut cases = one_field_cases(RID_GET, "rid", &v.oa_token, &v.rid, [76003, 76002, 76002]);
    let at = format!("{RID_GET}?access_token={}", v.token);
    let rid = |r: &str| bytes(&json!({ "rid": r }));
    cases.extend([
        post(
            UNKNOWN_VALUE,
            at.clone(),
            rid("66c69111-00000000-00000000"),
            76001,
        ),
        post(
            UNKNOWN_VALUE,
            at.clone(),
            rid(&format!("{} ", v.rid)),
            76002,
        ),
        post(UNKNOWN_VALUE, at.clone(), rid("XfmcTVNre-vGNNia"), 76002),
    ]);
    cases
}

fn clear_quota_v2_cases(v: &Vendor) -> Vec<VendorCase> {
    let Vendor {
        appid: a,
        secret: s,
        ..
    } = v;
    let p = |family, body: Vec<u8>, errcode| post(family, CLEAR_V2, body, errcode);
    let creds =
        |appid: &Value, secret: &Value| bytes(&json!({"appid": appid, "appsecret": secret}));
    vec![
        VendorCase {
            headers: Vec::new(),
            family: WRONG_METHOD,
            method: Method::GET,
            target: format!("{CLEAR_V2}?appid={a}&appsecret={s}"),
            body: None,
            expect: Expect::Errcode(43002),
        },
        p(MALFORMED, b"{".to_vec(), 47001),
        p(MALFORMED, format!(r#"{{appid:"{a}"}}"#).into_bytes(), 47001),
        p(MALFORMED, deep(r#"{"appid":"#, 10_000), 47001),
        p(WRONG_TYPE, b"[]".to_vec(), 47001),
        p(WRONG_TYPE, b"\"x\"".to_vec(), 47001),
        p(WRONG_TYPE, creds(&json!(5), &json!(s)), 41002),
        p(WRONG_TYPE, creds(&json!(a), &json!([s])), 41004),
        p(MISSING, Vec::new(), 41002),
        p(MISSING, b"{}".to_vec(), 41002),
        p(MISSING, bytes(&json!({ "appid": a })), 41004),
        p(MISSING, bytes(&json!({ "appid": a, "secret": s })), 41004),
        post(MISSING, format!("{CLEAR_V2}?appid={a}"), Vec::new(), 41004),
        p(
            DUPLICATED,
            format!(r#"{{"appid":"{a}","appid":"{a}","appsecret":"{s}"}}"#).into_bytes(),
            47001,
        ),
        // A body wins over the query.
        post(
            DUPLICATED,
            format!("{CLEAR_V2}?appid={a}&appsecret={s}"),
            creds(&json!(a), &json!("bogus")),
            40125,
        ),
        too_large(Method::POST, CLEAR_V2),
        p(
            INVALID_UTF8,
            [
                format!(r#"{{"appid":"{a}","appsecret":"{s}"#).as_bytes(),
                b"\xff\"}",
            ]
            .concat(),
            47001,
        ),
        post(
            INVALID_UTF8,
            format!("{CLEAR_V2}?appid=%FF&appsecret={s}"),
            Vec::new(),
            40013,
        ),
        p(ABSURD_NUMBER, br#"{"appid":1e400}"#.to_vec(), 47001),
        p(ABSURD_NUMBER, creds(&json!(a), &json!(u64::MAX)), 41004),
        p(
            UNKNOWN_VALUE,
            creds(&json!("wx0000000000000000"), &json!(s)),
            40013,
        ),
        p(
            UNKNOWN_VALUE,
            creds(&json!(a), &json!(s.to_uppercase())),
            40125,
        ),
        p(
            LONG_STRING,
            creds(&json!(long(LONG_BODY)), &json!(s)),
            40013,
        ),
        p(
            LONG_STRING,
            creds(&json!(a), &json!(long(LONG_BODY))),
            40125,
        ),
    ]
}

fn user_info_cases(v: &Vendor) -> Vec<VendorCase> {
    let (t, o) = (&v.oa_token, &v.follower);
    let q = |token: &str, openid: &str| {
        format!("{USER_INFO}?access_token={token}&openid={openid}&lang=zh_CN")
    };
    vec![
        get(MALFORMED, format!("{USER_INFO}?access_token"), 41001),
        get(MALFORMED, q(t, "%"), 40003),
        get(MALFORMED, q(t, "%zz%"), 40003),
        get(
            WRONG_TYPE,
            format!("{USER_INFO}?access_token[]={t}&openid={o}"),
            41001,
        ),
        get(WRONG_TYPE, q(t, &format!("[\"{o}\"]")), 40003),
        get(MISSING, USER_INFO, 41001),
        get(MISSING, format!("{USER_INFO}?access_token={t}"), 40003),
        get(MISSING, q("", o), 41001),
        get(
            DUPLICATED,
            format!("{}&access_token={t}", q("bogus", o)),
            40001,
        ),
        get(DUPLICATED, format!("{}&openid={o}", q(t, "bogus")), 40003),
        too_large(Method::GET, q(t, o)),
        get(INVALID_UTF8, q("%FF%FE", o), 40001),
        get(INVALID_UTF8, q(t, "%C3%28"), 40003),
        get(ABSURD_NUMBER, q("1e400", o), 40001),
        get(ABSURD_NUMBER, q(t, "-99999999999999999999999999999"), 40003),
        get(UNKNOWN_VALUE, q(t, &o.to_uppercase()), 40003),
        // A mini-program's token: the API is not its account's.
        get(UNKNOWN_VALUE, q(&v.token, o), 48001),
        get(UNKNOWN_VALUE, q(t, &v.openid), 40003),
        get(LONG_STRING, q(&long(LONG_QUERY), o), 40001),
        get(LONG_STRING, q(t, &long(LONG_QUERY)), 40003),
    ]
}

fn component_token_cases(v: &Vendor) -> Vec<VendorCase> {
    let [id, secret, ticket, _] = &v.platform;
    let full = |appid: &Value, secret: &Value, ticket: &Value| {
        bytes(
            &json!({"component_appid": appid, "component_appsecret": secret,
            "component_verify_ticket": ticket}),
        )
    };
    let (i, s, t) = (json!(id), json!(secret), json!(ticket));
    let good = full(&i, &s, &t);
    let p = |family, body: Vec<u8>, errcode| post(family, COMPONENT_TOKEN, body, errcode);
    let mut deep_body = deep(r#"{"component_appid":"#, 10_000);
    deep_body.extend_from_slice(b"]");
    vec![
        VendorCase {
            headers: Vec::new(),
            family: WRONG_METHOD,
            method: Method::GET,
            target: COMPONENT_TOKEN.into(),
            body: Some(good.clone()),
            expect: Expect::Errcode(43002),
        },
        p(MALFORMED, Vec::new(), 47001),
        p(MALFORMED, b"{".to_vec(), 47001),
        p(MALFORMED, [good.as_slice(), b" x"].concat(), 47001),
        p(MALFORMED, [b"\xef\xbb\xbf".as_slice(), &good].concat(), 47001),
        p(MALFORMED, deep_body, 47001),
        p(WRONG_TYPE, b"null".to_vec(), 47001),
        p(WRONG_TYPE, b"[]".to_vec(), 47001),
        p(WRONG_TYPE, full(&json!(5), &s, &t), 47001),
        p(WRONG_TYPE, full(&i, &json!(true), &t), 47001),
        p(WRONG_TYPE, full(&i, &s, &json!([ticket])), 47001),
        p(MISSING, b"{}".to_vec(), 41002),
        p(MISSING, full(&json!(""), &s, &t), 41002),
        p(MISSING, bytes(&json!({"component_appid": id})), 41004),
        p(MISSING, full(&i, &json!(null), &t), 41004),
        // No ticket is an invalid one (staff: "the ticket in the request was empty").
        p(MISSING, full(&i, &s, &json!(null)), 61006),
        p(MISSING, full(&i, &s, &json!("")), 61006),
        p(
            DUPLICATED,
            format!(
                r#"{{"component_appid":"{id}","component_appid":"{id}","component_appsecret":"{secret}","component_verify_ticket":"{ticket}"}}"#
            )
            .into_bytes(),
            47001,
        ),
        too_large(Method::POST, COMPONENT_TOKEN),
        p(
            INVALID_UTF8,
            [&good[..good.len() - 2], b"\xff\"}"].concat(),
            47001,
        ),
        p(INVALID_UTF8, br#"{"component_appid":"\ud800"}"#.to_vec(), 47001),
        p(ABSURD_NUMBER, br#"{"component_appid":1e400}"#.to_vec(), 47001),
        p(
            ABSURD_NUMBER,
            full(&json!(99_999_999_999_999_999_u64), &s, &t),
            47001,
        ),
        p(UNKNOWN_VALUE, full(&json!("wx-nobody"), &s, &t), 40013),
        // A mini-program's appid and secret where the platform's belong (a capture, 2025).
        p(
            UNKNOWN_VALUE,
            full(&json!(v.appid), &json!(v.secret), &t),
            61011,
        ),
        p(UNKNOWN_VALUE, full(&i, &json!("0".repeat(32)), &t), 40125),
        p(
            UNKNOWN_VALUE,
            full(&i, &s, &json!(ticket.replace("ticket@@@", "ticket@@@A"))),
            61006,
        ),
        p(
            UNKNOWN_VALUE,
            full(&i, &s, &json!(ticket.trim_start_matches("ticket@@@"))),
            61006,
        ),
        p(LONG_STRING, full(&json!(long(LONG_BODY)), &s, &t), 40013),
        p(LONG_STRING, full(&i, &json!(long(LONG_BODY)), &t), 40125),
        p(LONG_STRING, full(&i, &s, &json!(long(LONG_BODY))), 61006),
    ]
}

fn component_exchange_cases(v: &Vendor) -> Vec<VendorCase> {
    let Vendor {
        appid: a, code: c, ..
    } = v;
    let [id, _, _, ct] = &v.platform;
    let q = |rest: &str| format!("{COMPONENT_J2S}?{rest}");
    let full = |appid: &str, code: &str, component: &str, token: &str| {
        q(&format!(
            "appid={appid}&js_code={code}&grant_type=authorization_code&component_appid={component}&component_access_token={token}"
        ))
    };
    vec![
        get(MALFORMED, q("%zz=%&&=&appid"), 41001),
        get(MALFORMED, full(a, c, id, "%"), 40001),
        get(MALFORMED, full(&format!("{a}%"), c, id, ct), 40013),
        get(MALFORMED, full(a, "%%%", id, ct), 40029),
        get(
            WRONG_TYPE,
            q(&format!(
                "appid={a}&js_code={c}&component_appid={id}&component_access_token[]={ct}"
            )),
            41001,
        ),
        get(WRONG_TYPE, full(a, c, &format!("[\"{id}\"]"), ct), 40001),
        get(WRONG_TYPE, full(&format!("[\"{a}\"]"), c, id, ct), 40013),
        get(MISSING, COMPONENT_J2S, 41001),
        get(
            MISSING,
            q(&format!(
                "appid={a}&js_code={c}&component_access_token={ct}"
            )),
            41002,
        ),
        get(
            MISSING,
            q(&format!(
                "js_code={c}&component_appid={id}&component_access_token={ct}"
            )),
            41002,
        ),
        get(
            MISSING,
            q(&format!(
                "appid={a}&component_appid={id}&component_access_token={ct}"
            )),
            41008,
        ),
        get(
            MISSING,
            q(&format!(
                "appid={a}&js_code={c}&component_appid={id}&component_access_token={ct}"
            )),
            40002,
        ),
        get(
            DUPLICATED,
            format!("{}&component_access_token={ct}", full(a, c, id, "bogus")),
            40001,
        ),
        get(
            DUPLICATED,
            format!("{}&appid={a}", full("bogus", c, id, ct)),
            40013,
        ),
        get(
            DUPLICATED,
            format!("{}&js_code={c}", full(a, "bogus", id, ct)),
            40029,
        ),
        too_large(Method::GET, full(a, c, id, ct)),
        get(INVALID_UTF8, full(a, c, id, "%FF%FE"), 40001),
        get(INVALID_UTF8, full(a, c, "%C3%28", ct), 40001),
        get(INVALID_UTF8, full("%FF", c, id, ct), 40013),
        get(INVALID_UTF8, full(a, "%ED%A0%80", id, ct), 40029),
        get(ABSURD_NUMBER, full(a, c, id, "1e400"), 40001),
        get(ABSURD_NUMBER, full("-1e400", c, id, ct), 40013),
        get(
            ABSURD_NUMBER,
            full(a, "99999999999999999999999999999999", id, ct),
            40029,
        ),
        // The token is the platform's; another component_appid is not its (40001). A cgi-bin
        // token is no component token.
        get(UNKNOWN_VALUE, full(a, c, "wx-other-platform", ct), 40001),
        get(UNKNOWN_VALUE, full(a, c, id, &v.token), 40001),
        get(
            UNKNOWN_VALUE,
            q(&format!(
                "appid={a}&js_code={c}&grant_type=client_credential&component_appid={id}&component_access_token={ct}"
            )),
            40002,
        ),
        get(LONG_STRING, full(a, c, id, &long(LONG_QUERY)), 40001),
        get(LONG_STRING, full(a, c, &long(LONG_QUERY), ct), 40001),
        get(LONG_STRING, full(&long(LONG_QUERY), c, id, ct), 40013),
        get(LONG_STRING, full(a, &long(LONG_QUERY), id, ct), 40029),
    ]
}

fn openpid_cases(v: &Vendor) -> Vec<VendorCase> {
    let [t, c] = &v.plugin;
    let at = format!("{OPENPID}?access_token={t}");
    let p = |family, body: Vec<u8>, errcode| post(family, at.clone(), body, errcode);
    let code = |value: &Value| bytes(&json!({ "code": value }));
    vec![
        VendorCase {
            headers: Vec::new(),
            family: WRONG_METHOD,
            method: Method::GET,
            target: at.clone(),
            body: Some(code(&json!(c))),
            expect: Expect::Errcode(43002),
        },
        // JSON that does not parse is getpluginopenpid's own 1022, not 47001.
        p(MALFORMED, b"{".to_vec(), 1022),
        p(
            MALFORMED,
            format!(r#"{{"code":"{c}"}} x"#).into_bytes(),
            1022,
        ),
        p(MALFORMED, format!(r#"{{code:"{c}"}}"#).into_bytes(), 1022),
        p(MALFORMED, deep(r#"{"code":"#, 10_000), 1022),
        p(WRONG_TYPE, b"null".to_vec(), 1022),
        p(WRONG_TYPE, b"[]".to_vec(), 1022),
        p(WRONG_TYPE, format!("\"{c}\"").into_bytes(), 1022),
        p(WRONG_TYPE, code(&json!(5)), 1001),
        p(WRONG_TYPE, code(&json!([c])), 1001),
        p(MISSING, Vec::new(), 1001),
        p(MISSING, b"{}".to_vec(), 1001),
        p(MISSING, code(&json!(null)), 1001),
        p(MISSING, code(&json!("")), 1001),
        post(MISSING, OPENPID, code(&json!(c)), 41001),
        p(
            DUPLICATED,
            format!(r#"{{"code":"bogus","code":"{c}"}}"#).into_bytes(),
            1022,
        ),
        post(
            DUPLICATED,
            format!("{OPENPID}?access_token=bogus&access_token={t}"),
            code(&json!(c)),
            40001,
        ),
        too_large(Method::POST, at.clone()),
        p(
            INVALID_UTF8,
            [b"{\"code\":\"".as_slice(), c.as_bytes(), b"\xff\"}"].concat(),
            1022,
        ),
        p(INVALID_UTF8, br#"{"code":"\udfff"}"#.to_vec(), 1022),
        post(
            INVALID_UTF8,
            format!("{OPENPID}?access_token=%FF"),
            code(&json!(c)),
            40001,
        ),
        p(ABSURD_NUMBER, br#"{"code":1e400}"#.to_vec(), 1022),
        p(ABSURD_NUMBER, code(&json!(u64::MAX)), 1001),
        p(UNKNOWN_VALUE, code(&json!(format!("{c}0"))), 1001),
        // A wx.login code where the plugin's belongs: 1007, as WeChat answers (captures).
        p(UNKNOWN_VALUE, code(&json!(v.code)), 1007),
        // The host app's token is not the plugin's: the plugin's code is unknown to it.
        post(
            UNKNOWN_VALUE,
            format!("{OPENPID}?access_token={}", v.token),
            code(&json!(c)),
            1001,
        ),
        p(LONG_STRING, code(&json!(long(LONG_BODY))), 1001),
        post(
            LONG_STRING,
            format!("{OPENPID}?access_token={}", long(LONG_QUERY)),
            code(&json!(c)),
            40001,
        ),
    ]
}

fn unknown_path_cases(v: &Vendor) -> Vec<VendorCase> {
    let a = &v.appid;
    vec![
        get(
            UNKNOWN_PATH,
            format!("/SNS/jscode2session?appid={a}"),
            40066,
        ),
        get(UNKNOWN_PATH, "/sns/%FF%FE", 40066),
        get(UNKNOWN_PATH, "/cgi-bin/token/", 40066),
        get(UNKNOWN_PATH, "/__mock__x/state", 40066),
        get(UNKNOWN_PATH, format!("/{}", long(LONG_QUERY)), 40066),
        post(
            UNKNOWN_PATH,
            "/wxa/business/getuserphonenumber/",
            b"{".to_vec(),
            40066,
        ),
    ]
}

#[tokio::test]
async fn every_vendor_endpoint_answers_bad_input_in_the_errcode_shape_and_writes_nothing() {
    let m = TestMock::new().await;
    let grant = m.login("alice").await;
    let bound = json!({"open_platform": "acct-bad-input"});
    let (status, app) = m
        .control(
            Method::PATCH,
            &format!("/apps/{}", m.app.appid),
            Some(bound),
        )
        .await;
    assert_eq!(status, 200, "{app}");
    let (status, payment) = m
        .control(Method::POST, "/payments", Some(json!({"user": "alice"})))
        .await;
    assert_eq!(status, 201, "{payment}");
    let field = |name: &str| payment[name].as_str().expect("payment field").to_owned();
    let token = m.token().await;
    // A rid of the default app: a phone code it never issued.
    let refused = m
        .post(
            &format!("{PHONE}?access_token={token}"),
            r#"{"code":"nope"}"#,
        )
        .await;
    refused.assert_err(40029);
    let rid = refused.json()["errmsg"]
        .as_str()
        .and_then(|msg| msg.rsplit_once(" rid: "))
        .map(|(_, rid)| rid.to_owned())
        .expect("a rid");
    // An official account, its token and a follower.
    let (status, oa) = m
        .control(
            Method::POST,
            "/apps",
            Some(json!({"kind": "official_account", "open_platform": "acct-bad-input"})),
        )
        .await;
    assert_eq!(status, 201, "{oa}");
    let oa_token = m
        .get(&format!(
            "/cgi-bin/token?grant_type=client_credential&appid={}&secret={}",
            oa["appid"].as_str().expect("appid"),
            oa["secret"].as_str().expect("secret")
        ))
        .await
        .json()["access_token"]
        .as_str()
        .expect("token")
        .to_owned();
    let (status, follower) = m
        .control(
            Method::POST,
            &format!("/apps/{}/followers", oa["appid"].as_str().expect("appid")),
            Some(json!({"user": "alice"})),
        )
        .await;
    assert_eq!(status, 200, "{follower}");
    let body = json!({"authorizations": [m.app.appid]});
    let (status, platform) = m.control(Method::POST, "/platforms", Some(body)).await;
    assert_eq!(status, 201, "{platform}");
    let pf = |name: &str| platform[name].as_str().expect("platform field").to_owned();
    let r = m
        .post(
            COMPONENT_TOKEN,
            &json!({"component_appid": pf("component_appid"),
                "component_appsecret": pf("component_appsecret"),
                "component_verify_ticket": pf("component_verify_ticket")})
            .to_string(),
        )
        .await;
    let component_token = r.json()["component_access_token"]
        .as_str()
        .expect("component token")
        .to_owned();
    let (status, plugin) = m.control(Method::POST, "/apps", Some(json!({}))).await;
    assert_eq!(status, 201, "{plugin}");
    let plugin_token = m
        .get(&format!(
            "{TOKEN}?grant_type=client_credential&appid={}&secret={}",
            plugin["appid"].as_str().expect("appid"),
            plugin["secret"].as_str().expect("secret")
        ))
        .await
        .json()["access_token"]
        .as_str()
        .expect("plugin token")
        .to_owned();
    let (status, plugin_login) = m
        .control(
            Method::POST,
            "/wx/pluginLogin",
            Some(json!({"user": "alice", "plugin_appid": plugin["appid"]})),
        )
        .await;
    assert_eq!(status, 200, "{plugin_login}");
    let v = Vendor {
        appid: m.app.appid.to_string(),
        secret: m.app.secret.clone(),
        token,
        openid: grant.mock.openid.to_string(),
        code: grant.code.clone(),
        phone: m.phone_code("alice").await.code,
        paid: [
            field("transaction_id"),
            field("mch_id"),
            field("out_trade_no"),
        ],
        rid,
        oa_token,
        follower: follower["openid"].as_str().expect("openid").to_owned(),
        platform: [
            pf("component_appid"),
            pf("component_appsecret"),
            pf("component_verify_ticket"),
            component_token,
        ],
        plugin: [
            plugin_token,
            plugin_login["code"].as_str().expect("code").to_owned(),
        ],
    };
    let cases: Vec<VendorCase> = [
        jscode2session_cases(&v),
        token_cases(&v),
        stable_token_cases(&v),
        session_cases(CHECK, &v),
        session_cases(RESET, &v),
        phone_cases(&v),
        paid_cases(&v),
        component_token_cases(&v),
        component_exchange_cases(&v),
        openpid_cases(&v),
        sms_cases(&m),
        risk_cases(&v),
        encrypted_msg_cases(&v),
        session_cases(KEYS, &v),
        quota_get_cases(&v),
        clear_quota_cases(&v),
        clear_quota_v2_cases(&v),
        rid_get_cases(&v),
        user_info_cases(&v),
        unknown_path_cases(&v),
    ]
    .into_iter()
    .flatten()
    .collect();

    // Every endpoint gets every family.
    let mut covered: BTreeMap<&str, BTreeSet<&str>> = BTreeMap::new();
    for case in &cases {
        covered
            .entry(case.endpoint().name())
            .or_default()
            .insert(case.family);
    }
    for endpoint in Endpoint::ALL {
        let families = covered.get(endpoint.name()).cloned().unwrap_or_default();
        if endpoint == Endpoint::Unknown {
            assert!(!families.is_empty(), "unknown paths are covered");
            continue;
        }
        // No path names it: `stub_unmodelled` files unknown paths under it (tests/it/stub.rs).
        if endpoint == Endpoint::Stubbed {
            continue;
        }
        for family in REQUIRED {
            assert!(
                families.contains(family),
                "{}: no `{family}` case",
                endpoint.name()
            );
        }
    }

    let mut before = state(&m).await;
    let journaled = m
        .mock
        .control()
        .journal("")
        .await
        .expect("journal")
        .recorded;
    let mut failures = Vec::new();
    for (i, case) in cases.iter().enumerate() {
        let shown: String = case.target.chars().take(120).collect();
        let what = format!(
            "case {i} ({}, {}) {} {shown}",
            case.endpoint().name(),
            case.family,
            case.method
        );
        let r = answered_with(
            &m,
            &case.method,
            &case.target,
            &case.headers,
            case.body.as_deref(),
            &what,
        )
        .await;
        let mut problems = vendor_problems(&r, case);
        let after = state(&m).await;
        if after != before {
            problems.push("the state changed".to_owned());
            before = after;
        }
        if !problems.is_empty() {
            failures.push(format!("{what}: {}", problems.join("; ")));
        }
    }
    assert!(
        failures.is_empty(),
        "{} of {} vendor cases failed:\n{}",
        failures.len(),
        cases.len(),
        failures.join("\n")
    );

    // Every request was answered and journaled by the entry point, oversized ones included.
    let page = m.mock.control().journal("").await.expect("journal");
    assert_eq!(page.recorded - journaled, cases.len() as u64);

    // Nothing was spent: the login code, the phone code and the session_key still work.
    let r = m.exchange(&v.code).await;
    assert_eq!(r.status, 200, "{}", r.body);
    assert_eq!(r.json()["openid"], v.openid.as_str(), "{}", r.body);
    let r = m
        .post(
            &format!("{PHONE}?access_token={}", v.token),
            &json!({ "code": v.phone }).to_string(),
        )
        .await;
    assert_eq!(r.errcode(), 0, "{}", r.body);
    let r = m
        .get(&format!(
            "{CHECK}?access_token={}&openid={}&signature={}&sig_method=hmac_sha256",
            v.token,
            v.openid,
            signature(&grant.mock.session_key)
        ))
        .await;
    assert_eq!(r.errcode(), 0, "{}", r.body);
    let r = m
        .get(&format!(
            "{PAID}?access_token={}&openid={}&transaction_id={}",
            v.token, v.openid, v.paid[0]
        ))
        .await;
    assert_eq!(r.json()["unionid"], payment["unionid"], "{}", r.body);
    let r = m
        .post(
            &format!("{OPENPID}?access_token={}", v.plugin[0]),
            &json!({ "code": v.plugin[1] }).to_string(),
        )
        .await;
    assert_eq!(
        r.json()["openpid"],
        plugin_login["mock"]["openpid"],
        "{}",
        r.body
    );

    // The SMS gateway sent nothing, so the number's limits are untouched: a send goes.
    assert!(
        m.mock
            .control()
            .sms_outbox("")
            .await
            .expect("outbox")
            .messages
            .is_empty()
    );
    let r = m
        .send_sms(&m.sms_body(&["+8613800138000"], &["123456", "5"]))
        .await;
    assert_eq!(
        r.json()["Response"]["SendStatusSet"][0]["Code"],
        "Ok",
        "{}",
        r.body
    );

    let mut counts: BTreeMap<&str, usize> = BTreeMap::new();
    for case in &cases {
        *counts.entry(case.family).or_default() += 1;
    }
    eprintln!("vendor surface: {} cases {counts:?}", cases.len());
}

#[tokio::test]
async fn requests_hyper_refuses_before_the_mock_sees_them_leave_it_up_and_unchanged() {
    // Raw bytes that no HTTP client library sends: a request target with bytes that are not
    // ASCII, and one longer than hyper's 64 KiB limit. hyper answers them itself (400 and 414,
    // empty bodies) before the vendor entry point runs, so they are neither errcodes nor
    // journaled. The README's "non-200 only from fault rules or the gateway (413)" does not
    // mention them.
    let m = TestMock::new().await;
    let a = m.app.appid.clone();
    let before = state(&m).await;
    let journaled = m
        .mock
        .control()
        .journal("")
        .await
        .expect("journal")
        .recorded;
    let host = m.mock.addr();
    let cases: Vec<(Vec<u8>, u16)> = vec![
        (
            [
                b"GET /sns/jscode2session?appid=".as_slice(),
                b"\xff\xfe",
                b" HTTP/1.1\r\nHost: x\r\nConnection: close\r\n\r\n",
            ]
            .concat(),
            400,
        ),
        (
            [
                b"GET /__mock__/apps/".as_slice(),
                b"\xc3\x28",
                b" HTTP/1.1\r\nHost: x\r\nConnection: close\r\n\r\n",
            ]
            .concat(),
            400,
        ),
        (
            format!(
                "GET /cgi-bin/token?appid={a}&secret={} HTTP/1.1\r\nHost: x\r\nConnection: close\r\n\r\n",
                long(100_000)
            )
            .into_bytes(),
            414,
        ),
        (
            b"POST /cgi-bin/stable_token HTTP/1.1\r\nHost: x\r\nContent-Length: 99999999999999999999999\r\nConnection: close\r\n\r\n{}".to_vec(),
            400,
        ),
    ];
    for (request, status) in cases {
        let shown = String::from_utf8_lossy(&request[..request.len().min(60)]).into_owned();
        let (got, body) = raw_http(host, &request).await;
        assert_eq!(got, status, "{shown}: {body}");
        assert_eq!(state(&m).await, before, "{shown}: the state changed");
    }
    let page = m.mock.control().journal("").await.expect("journal");
    assert_eq!(
        page.recorded, journaled,
        "hyper's refusals are not journaled"
    );
    // Still serving.
    let grant = m.login("alice").await;
    assert_eq!(m.exchange(&grant.code).await.status, 200);
}

// ---------------------------------------------------------------------------------------------
// The control plane

/// What a control-plane case must get.
struct ControlCase {
    family: &'static str,
    /// The `ROUTES` entry it exercises.
    route: (&'static str, &'static str),
    method: Method,
    /// Path under `/__mock__` (and query).
    path: String,
    body: Option<Vec<u8>>,
    status: u16,
    code: &'static str,
    /// A name the message must contain in backticks.
    names: Option<&'static str>,
}

impl ControlCase {
    /// The field named in the message, and `invalid_field`.
    fn field(mut self, name: &'static str) -> Self {
        self.code = "invalid_field";
        self.names = Some(name);
        self
    }

    /// `invalid_body`, whose message names `name`.
    fn body_naming(mut self, name: &'static str) -> Self {
        self.code = "invalid_body";
        self.names = Some(name);
        self
    }

    fn answers(mut self, status: u16, code: &'static str) -> Self {
        self.status = status;
        self.code = code;
        self
    }

    fn at(mut self, path: impl Into<String>) -> Self {
        self.path = path.into();
        self
    }
}

/// The route `(method, path)`; panics if it is not in `ROUTES`.
fn route(method: &'static str, path: &'static str) -> (&'static str, &'static str) {
    assert!(
        ROUTES.contains(&(method, path)),
        "{method} {path} is not a control-plane route"
    );
    (method, path)
}

/// A case on `route` with `body`, expected to be a 400 `invalid_body` until refined.
fn ctl(
    family: &'static str,
    route: (&'static str, &'static str),
    body: impl Into<Vec<u8>>,
) -> ControlCase {
    ControlCase {
        family,
        route,
        method: Method::from_bytes(route.0.as_bytes()).expect("method"),
        path: route.1.to_owned(),
        body: Some(body.into()),
        status: 400,
        code: "invalid_body",
        names: None,
    }
}

/// The malformed bodies every route with a body refuses the same way.
fn generic_cases(r: (&'static str, &'static str)) -> Vec<ControlCase> {
    vec![
        ctl(MISSING, r, Vec::new()),
        ctl(MISSING, r, b"  \r\n ".to_vec()),
        ctl(MALFORMED, r, b"{"),
        ctl(MALFORMED, r, b"{'user':'alice'}"),
        ctl(MALFORMED, r, b"{,}"),
        ctl(MALFORMED, r, b"\xef\xbb\xbf{}"),
        ctl(WRONG_TYPE, r, b"[]"),
        ctl(WRONG_TYPE, r, b"[{\"user\":\"alice\"}]"),
        ctl(WRONG_TYPE, r, b"null"),
        ctl(WRONG_TYPE, r, b"\"alice\""),
        ctl(WRONG_TYPE, r, b"42"),
        ctl(INVALID_UTF8, r, b"{\"\xff\":1}"),
        ctl(INVALID_UTF8, r, b"{\"bogus_\xc3\x28\":1}"),
        ctl(UNKNOWN_VALUE, r, bytes(&json!({"bogus_field": 1}))).field("bogus_field"),
        ctl(HUGE, r, bytes(&json!({"bogus_field": "a".repeat(3 * MIB)}))),
        ctl(
            HUGE,
            r,
            bytes(&json!({"bogus_field": "a".repeat(MIB + MIB / 2)})),
        )
        .field("bogus_field"),
    ]
}

fn options_cases() -> Vec<ControlCase> {
    let r = route("PATCH", "/options");
    let o = |v: Value| ctl(WRONG_TYPE, r, bytes(&v));
    vec![
        o(json!({"strict": "yes"})).field("strict"),
        o(json!({"login_quota_per_minute": "100"})).field("login_quota_per_minute"),
        o(json!({"session_key_ttl": 5})).field("session_key_ttl"),
        o(json!({"journal_capacity": [1]})).field("journal_capacity"),
        o(json!({"checkencryptedmsg_unknown": "vaild"})).field("checkencryptedmsg_unknown"),
        ctl(MALFORMED, r, deep(r#"{"strict":"#, 10_000)),
        ctl(MISSING, r, bytes(&json!({"journal_capacity": 0}))).field("journal_capacity"),
        ctl(
            ABSURD_NUMBER,
            r,
            bytes(&json!({"login_quota_per_minute": -1})),
        )
        .field("login_quota_per_minute"),
        ctl(
            ABSURD_NUMBER,
            r,
            bytes(&json!({"login_quota_per_minute": 1e30})),
        )
        .field("login_quota_per_minute"),
        ctl(
            ABSURD_NUMBER,
            r,
            bytes(&json!({"login_quota_per_minute": 99_999_999_999_u64})),
        )
        .field("login_quota_per_minute"),
        ctl(ABSURD_NUMBER, r, bytes(&json!({"journal_capacity": -1}))).field("journal_capacity"),
        ctl(
            ABSURD_NUMBER,
            r,
            bytes(&json!({"session_key_min_rotation": "99999999999999999999999s"})),
        )
        .field("session_key_min_rotation"),
        ctl(UNKNOWN_VALUE, r, bytes(&json!({"quota_scope": "planet"}))).field("quota_scope"),
        ctl(UNKNOWN_VALUE, r, bytes(&json!({"content_type": "xml"}))).field("content_type"),
        ctl(UNKNOWN_VALUE, r, bytes(&json!({"rid_style": "future"}))).field("rid_style"),
        ctl(
            UNKNOWN_VALUE,
            r,
            bytes(&json!({"jscode2session_grant_type": "sometimes"})),
        )
        .field("jscode2session_grant_type"),
        ctl(
            UNKNOWN_VALUE,
            r,
            bytes(&json!({"session_key_min_rotation": "forever"})),
        )
        .field("session_key_min_rotation"),
        ctl(UNKNOWN_VALUE, r, bytes(&json!({"stirct": true}))).field("stirct"),
        ctl(INVALID_UTF8, r, b"{\"strict\":\"\xff\"}"),
        ctl(
            LONG_STRING,
            r,
            bytes(&json!({"session_key_ttl": long(LONG_BODY)})),
        )
        .field("session_key_ttl"),
        // A duplicated option is refused, valid or not (see also
        // `bug_patch_options_refuses_duplicated_fields`).
        ctl(
            DUPLICATED,
            r,
            br#"{"quota_scope":"app","quota_scope":"planet"}"#,
        )
        .field("quota_scope"),
    ]
}

fn app_cases(appid: &str) -> Vec<ControlCase> {
    let create = route("POST", "/apps");
    let change = route("PATCH", "/apps/{appid}");
    let at = format!("/apps/{appid}");
    let mut cases = Vec::new();
    for r in [create, change] {
        let c = |family, v: Value| {
            let case = ctl(family, r, bytes(&v));
            if r == change {
                case.at(at.clone())
            } else {
                case
            }
        };
        cases.extend([
            c(WRONG_TYPE, json!({"appid": 5})).field("appid"),
            c(WRONG_TYPE, json!({"secret": true})).field("secret"),
            c(WRONG_TYPE, json!({"open_platform": ["p"]})).field("open_platform"),
            c(WRONG_TYPE, json!({"name": {}})).field("name"),
            c(MISSING, json!({"secret": ""})).field("secret"),
            c(UNKNOWN_VALUE, json!({"profile_era": "future"})).field("profile_era"),
            c(UNKNOWN_VALUE, json!({"profile_era": "LEGACY"})).field("profile_era"),
            c(ABSURD_NUMBER, json!({"secret": 1e300})).field("secret"),
            c(LONG_STRING, json!({"secret": long(LONG_BODY)})).field("secret"),
            c(LONG_STRING, json!({"open_platform": long(LONG_BODY)})).field("open_platform"),
            c(UNKNOWN_VALUE, json!({"open_platform": "p\u{0}"})).field("open_platform"),
        ]);
        let dup = ctl(DUPLICATED, r, br#"{"secret":"a","secret":"b"}"#).body_naming("secret");
        cases.push(if r == change { dup.at(at.clone()) } else { dup });
    }
    cases.extend([
        ctl(MISSING, create, bytes(&json!({"appid": ""}))).field("appid"),
        ctl(
            LONG_STRING,
            create,
            bytes(&json!({"appid": long(LONG_BODY)})),
        )
        .field("appid"),
        ctl(DUPLICATED, create, bytes(&json!({"appid": appid}))).answers(409, "app_exists"),
        ctl(UNKNOWN_VALUE, change, bytes(&json!({"appid": "wx-other"})))
            .at(at.clone())
            .field("appid"),
        ctl(UNKNOWN_VALUE, change, b"{}".to_vec())
            .at("/apps/wx-nobody")
            .answers(404, "unknown_app"),
        ctl(LONG_STRING, change, b"{}".to_vec())
            .at(format!("/apps/{}", long(LONG_QUERY)))
            .answers(404, "unknown_app"),
    ]);
    cases
}

fn user_cases() -> Vec<ControlCase> {
    let create = route("POST", "/users");
    let change = route("PATCH", "/users/{handle}");
    let mut cases = Vec::new();
    for r in [create, change] {
        let c = |family, mut v: Value| {
            if r == create {
                v["handle"] = json!("new-user");
                ctl(family, r, bytes(&v))
            } else {
                ctl(family, r, bytes(&v)).at("/users/alice")
            }
        };
        cases.extend([
            c(WRONG_TYPE, json!({"gender": "male"})).field("gender"),
            c(WRONG_TYPE, json!({"phone": "13800138000"})).field("phone"),
            c(WRONG_TYPE, json!({"high_risk": "yes"})).field("high_risk"),
            c(WRONG_TYPE, json!({"risk_rank": "4"})).field("risk_rank"),
            c(UNKNOWN_VALUE, json!({"risk_rank": 5})).field("risk_rank"),
            c(ABSURD_NUMBER, json!({"risk_rank": 300})).field("risk_rank"),
            c(ABSURD_NUMBER, json!({"risk_rank": -1})).field("risk_rank"),
            c(WRONG_TYPE, json!({"nickname": 5})).field("nickname"),
            c(MISSING, json!({"phone": {"number": "13800138000"}})).field("phone"),
            c(UNKNOWN_VALUE, json!({"gender": 7})).field("gender"),
            c(
                UNKNOWN_VALUE,
                json!({"phone": {"country_code": "+86", "number": "13800138000"}}),
            )
            .field("phone.country_code"),
            c(
                UNKNOWN_VALUE,
                json!({"phone": {"country_code": "86", "number": "abc"}}),
            )
            .field("phone.number"),
            c(
                UNKNOWN_VALUE,
                json!({"phone": {"country_code": "86", "number": "1", "ext": "2"}}),
            )
            .field("phone.ext"),
            c(ABSURD_NUMBER, json!({"gender": 300})).field("gender"),
            c(ABSURD_NUMBER, json!({"gender": -1})).field("gender"),
            c(ABSURD_NUMBER, json!({"gender": 1e30})).field("gender"),
            c(LONG_STRING, json!({"nickname": long(LONG_BODY)})).field("nickname"),
            c(LONG_STRING, json!({"avatar_url": long(LONG_BODY)})).field("avatar_url"),
            c(LONG_STRING, json!({"city": long(LONG_BODY)})).field("city"),
            c(
                LONG_STRING,
                json!({"phone": {"country_code": "86", "number": "1".repeat(LONG_BODY)}}),
            )
            .field("phone.number"),
        ]);
        let dup = ctl(DUPLICATED, r, br#"{"handle":"x","handle":"y"}"#).body_naming("handle");
        cases.push(if r == change {
            dup.at("/users/alice")
        } else {
            dup
        });
    }
    cases.extend([
        ctl(MISSING, create, b"{}".to_vec()).field("handle"),
        ctl(MISSING, create, bytes(&json!({"handle": ""}))).field("handle"),
        ctl(WRONG_TYPE, create, bytes(&json!({"handle": 5}))).field("handle"),
        ctl(
            LONG_STRING,
            create,
            bytes(&json!({"handle": long(LONG_BODY)})),
        )
        .field("handle"),
        ctl(DUPLICATED, create, bytes(&json!({"handle": "alice"}))).answers(409, "user_exists"),
        ctl(UNKNOWN_VALUE, change, bytes(&json!({"handle": "bob"})))
            .at("/users/alice")
            .field("handle"),
        ctl(UNKNOWN_VALUE, change, b"{}".to_vec())
            .at("/users/nobody")
            .answers(404, "unknown_user"),
        ctl(LONG_STRING, change, b"{}".to_vec())
            .at(format!("/users/{}", long(LONG_QUERY)))
            .answers(404, "unknown_user"),
    ]);
    cases
}

fn payment_cases() -> Vec<ControlCase> {
    let r = route("POST", "/payments");
    let c = |family, body: Value| ctl(family, r, bytes(&body));
    let long_id = "1".repeat(33);
    vec![
        c(MISSING, json!({})).body_naming("user"),
        c(MISSING, json!({"user": ""})).field("user"),
        c(MISSING, json!({"user": "alice", "transaction_id": ""})).field("transaction_id"),
        c(WRONG_TYPE, json!({"user": 5})).field("user"),
        c(
            WRONG_TYPE,
            json!({"user": "alice", "mch_id": 1_900_000_109}),
        )
        .field("mch_id"),
        c(
            WRONG_TYPE,
            json!({"user": "alice", "out_trade_no": ["A-1"]}),
        )
        .field("out_trade_no"),
        c(
            ABSURD_NUMBER,
            json!({"user": "alice", "transaction_id": 1e300}),
        )
        .field("transaction_id"),
        c(
            ABSURD_NUMBER,
            json!({"user": "alice", "appid": -99_999_999_999_999_i64}),
        )
        .field("appid"),
        c(
            UNKNOWN_VALUE,
            json!({"user": "alice", "appid": "wx-nobody"}),
        )
        .answers(404, "unknown_app"),
        c(UNKNOWN_VALUE, json!({"user": "alice", "amount": 100})).field("amount"),
        c(UNKNOWN_VALUE, json!({"user": "alice", "mch_id": "19 00"})).field("mch_id"),
        c(
            LONG_STRING,
            json!({"user": "alice", "transaction_id": long_id}),
        )
        .field("transaction_id"),
        c(
            LONG_STRING,
            json!({"user": "alice", "out_trade_no": long(LONG_BODY)}),
        )
        .field("out_trade_no"),
        c(LONG_STRING, json!({"user": long(LONG_BODY)})).field("user"),
        ctl(DUPLICATED, r, br#"{"user":"alice","user":"bob"}"#).body_naming("user"),
        ctl(INVALID_UTF8, r, b"{\"user\":\"alice\xff\"}"),
        ctl(
            INVALID_UTF8,
            r,
            br#"{"user":"alice","transaction_id":"\ud800"}"#,
        ),
    ]
}

fn follower_cases(oa: &str, mini_program: &str) -> Vec<ControlCase> {
    let r = route("POST", "/apps/{appid}/followers");
    let at = format!("/apps/{oa}/followers");
    let c = |family, body: Value| ctl(family, r, bytes(&body)).at(at.clone());
    vec![
        c(MISSING, json!({})).body_naming("user"),
        c(MISSING, json!({"user": ""})).field("user"),
        c(WRONG_TYPE, json!({"user": 5})).field("user"),
        c(WRONG_TYPE, json!({"user": "alice", "subscribe": "yes"})).field("subscribe"),
        c(WRONG_TYPE, json!({"user": "alice", "qr_scene": "98765"})).field("qr_scene"),
        c(WRONG_TYPE, json!({"user": "alice", "tagid_list": 2})).field("tagid_list"),
        c(WRONG_TYPE, json!({"user": "alice", "remark": ["vip"]})).field("remark"),
        c(ABSURD_NUMBER, json!({"user": "alice", "qr_scene": -1})).field("qr_scene"),
        c(
            ABSURD_NUMBER,
            json!({"user": "alice", "qr_scene": 99_999_999_999_u64}),
        )
        .field("qr_scene"),
        c(
            ABSURD_NUMBER,
            json!({"user": "alice", "tagid_list": [1e300]}),
        )
        .field("tagid_list[0]"),
        c(
            UNKNOWN_VALUE,
            json!({"user": "alice", "subscribe_scene": "ADD_SCENE_NOWHERE"}),
        )
        .field("subscribe_scene"),
        c(UNKNOWN_VALUE, json!({"user": "alice", "nickname": "x"})).field("nickname"),
        c(
            UNKNOWN_VALUE,
            json!({"user": "alice", "tagid_list": vec![1; 21]}),
        )
        .field("tagid_list"),
        c(UNKNOWN_VALUE, json!({"user": "alice", "remark": "a\u{0}b"})).field("remark"),
        // A mini-program has no followers.
        ctl(UNKNOWN_VALUE, r, bytes(&json!({"user": "alice"})))
            .at(format!("/apps/{mini_program}/followers"))
            .answers(409, "wrong_app_kind"),
        ctl(UNKNOWN_VALUE, r, bytes(&json!({"user": "alice"})))
            .at("/apps/wx-nobody/followers")
            .answers(404, "unknown_app"),
        c(
            LONG_STRING,
            json!({"user": "alice", "remark": "备".repeat(31)}),
        )
        .field("remark"),
        c(
            LONG_STRING,
            json!({"user": "alice", "qr_scene_str": long(65)}),
        )
        .field("qr_scene_str"),
        c(LONG_STRING, json!({"user": long(LONG_BODY)})).field("user"),
        ctl(DUPLICATED, r, br#"{"user":"alice","user":"bob"}"#)
            .at(at.clone())
            .body_naming("user"),
        ctl(INVALID_UTF8, r, b"{\"user\":\"alice\xff\"}").at(at.clone()),
        ctl(INVALID_UTF8, r, br#"{"user":"alice","remark":"\ud800"}"#).at(at.clone()),
    ]
}

/// The platform and the plugin app the control-plane cases name.
const PLATFORM: &str = "wxbad0input0platfm";
const PLUGIN: &str = "wxbad0input0plugin";
/// POST routes that take no body.
const BODYLESS: [&str; 2] = ["/reset", "/platforms/{component_appid}/ticket"];

fn platform_cases(appid: &str) -> Vec<ControlCase> {
    let create = route("POST", "/platforms");
    let authorize = route("POST", "/platforms/{component_appid}/authorizations");
    let at = format!("/platforms/{PLATFORM}/authorizations");
    let c = |family, body: Value| ctl(family, create, bytes(&body));
    let a = |family, body: Value| ctl(family, authorize, bytes(&body)).at(at.clone());
    vec![
        c(MISSING, json!({"component_appid": ""})).field("component_appid"),
        c(MISSING, json!({"component_appsecret": ""})).field("component_appsecret"),
        c(WRONG_TYPE, json!({"component_appid": 5})).field("component_appid"),
        c(WRONG_TYPE, json!({"authorizations": appid})).field("authorizations"),
        c(WRONG_TYPE, json!({"name": ["isv"]})).field("name"),
        c(ABSURD_NUMBER, json!({"component_appsecret": 1e300})).field("component_appsecret"),
        c(
            ABSURD_NUMBER,
            json!({"authorizations": [-99_999_999_999_999_i64]}),
        )
        .field("authorizations[0]"),
        c(
            UNKNOWN_VALUE,
            json!({"authorizations": [appid, "wx-nobody"]}),
        )
        .answers(404, "unknown_app"),
        c(UNKNOWN_VALUE, json!({"component_appid": PLATFORM})).answers(409, "platform_exists"),
        c(UNKNOWN_VALUE, json!({"secret": "s"})).field("secret"),
        c(LONG_STRING, json!({"component_appid": long(LONG_BODY)})).field("component_appid"),
        c(LONG_STRING, json!({"name": long(LONG_BODY)})).field("name"),
        ctl(DUPLICATED, create, br#"{"name":"a","name":"b"}"#).body_naming("name"),
        ctl(INVALID_UTF8, create, b"{\"name\":\"isv\xff\"}"),
        ctl(INVALID_UTF8, create, br#"{"component_appid":"\ud800"}"#),
        a(MISSING, json!({})).body_naming("appid"),
        a(MISSING, json!({"appid": ""})).answers(404, "unknown_app"),
        a(WRONG_TYPE, json!({"appid": 5})).field("appid"),
        a(WRONG_TYPE, json!({"appid": [appid]})).field("appid"),
        a(ABSURD_NUMBER, json!({"appid": -99_999_999_999_999_i64})).field("appid"),
        a(UNKNOWN_VALUE, json!({"appid": "wx-nobody"})).answers(404, "unknown_app"),
        a(UNKNOWN_VALUE, json!({"appid": appid, "scope": "all"})).field("scope"),
        a(UNKNOWN_VALUE, json!({"appid": appid}))
            .at("/platforms/wx-nobody/authorizations")
            .answers(404, "unknown_platform"),
        a(LONG_STRING, json!({"appid": long(LONG_BODY)})).answers(404, "unknown_app"),
        a(LONG_STRING, json!({"appid": appid}))
            .at(format!("/platforms/{}/authorizations", long(LONG_QUERY)))
            .answers(404, "unknown_platform"),
        ctl(DUPLICATED, authorize, br#"{"appid":"a","appid":"b"}"#)
            .at(at.clone())
            .body_naming("appid"),
        ctl(INVALID_UTF8, authorize, b"{\"appid\":\"wx\xff\"}").at(at.clone()),
    ]
}

fn plugin_login_cases(appid: &str) -> Vec<ControlCase> {
    let r = route("POST", "/wx/pluginLogin");
    let c = |family, body: Value| ctl(family, r, bytes(&body));
    let ok = |user: Value, plugin: Value| json!({"user": user, "plugin_appid": plugin});
    vec![
        c(MISSING, json!({"plugin_appid": PLUGIN})).body_naming("user"),
        c(MISSING, json!({"user": "alice"})).body_naming("plugin_appid"),
        c(MISSING, ok(json!(""), json!(PLUGIN))).field("user"),
        c(WRONG_TYPE, ok(json!(5), json!(PLUGIN))).field("user"),
        c(WRONG_TYPE, ok(json!("alice"), json!([PLUGIN]))).field("plugin_appid"),
        c(ABSURD_NUMBER, ok(json!("alice"), json!(1e300))).field("plugin_appid"),
        c(
            ABSURD_NUMBER,
            ok(json!(-99_999_999_999_999_i64), json!(PLUGIN)),
        )
        .field("user"),
        c(UNKNOWN_VALUE, ok(json!("alice"), json!("wx-nobody"))).answers(404, "unknown_app"),
        // A plugin is another app than its host.
        c(UNKNOWN_VALUE, ok(json!("alice"), json!(appid))).field("plugin_appid"),
        c(
            UNKNOWN_VALUE,
            json!({"user": "alice", "plugin_appid": PLUGIN, "appid": "wx-nobody"}),
        )
        .answers(404, "unknown_app"),
        c(
            UNKNOWN_VALUE,
            json!({"user": "alice", "plugin_appid": PLUGIN, "scope": 1}),
        )
        .field("scope"),
        c(LONG_STRING, ok(json!(long(LONG_BODY)), json!(PLUGIN))).field("user"),
        c(LONG_STRING, ok(json!("alice"), json!(long(LONG_BODY)))).answers(404, "unknown_app"),
        ctl(
            DUPLICATED,
            r,
            format!(r#"{{"user":"alice","user":"alice","plugin_appid":"{PLUGIN}"}}"#),
        )
        .body_naming("user"),
        ctl(INVALID_UTF8, r, b"{\"user\":\"alice\xff\"}"),
    ]
}

fn wx_cases() -> Vec<ControlCase> {
    let login = route("POST", "/wx/login");
    let check = route("POST", "/wx/checkSession");
    let phone = route("POST", "/wx/getPhoneNumber");
    let info = route("POST", "/wx/getUserInfo");
    let profile = route("POST", "/wx/getUserProfile");
    let share = route("POST", "/wx/getShareInfo");
    let werun = route("POST", "/wx/getWeRunData");
    let crypto = route("POST", "/wx/getUserCryptoManager");
    let mut cases = Vec::new();
    for r in [login, check, phone, info, profile, share, werun, crypto] {
        // A body that would be accepted, with one thing changed.
        let ok = |extra: Value| {
            let mut v = json!({"user": "alice"});
            if r == share {
                v["group"] = json!("g");
            }
            for (k, x) in extra.as_object().expect("object") {
                if x.is_null() {
                    v.as_object_mut().expect("object").remove(k);
                } else {
                    v[k] = x.clone();
                }
            }
            v
        };
        let c = |family, extra: Value| ctl(family, r, bytes(&ok(extra)));
        cases.extend([
            c(MISSING, json!({"user": null})).body_naming("user"),
            c(WRONG_TYPE, json!({"user": 5})).field("user"),
            c(WRONG_TYPE, json!({"user": ["alice"]})).field("user"),
            c(WRONG_TYPE, json!({"appid": 5})).field("appid"),
            c(ABSURD_NUMBER, json!({"user": 1e300})).field("user"),
            c(ABSURD_NUMBER, json!({"appid": -99_999_999_999_999_i64})).field("appid"),
            c(LONG_STRING, json!({"appid": long(LONG_BODY)})).answers(404, "unknown_app"),
            c(UNKNOWN_VALUE, json!({"appid": "wx-nobody"})).answers(404, "unknown_app"),
            ctl(
                DUPLICATED,
                r,
                br#"{"user":"alice","user":"alice","group":"g"}"#,
            )
            .body_naming("user"),
            ctl(INVALID_UTF8, r, b"{\"user\":\"alice\xff\",\"group\":\"g\"}"),
            ctl(INVALID_UTF8, r, br#"{"user":"\ud800","group":"g"}"#),
        ]);
        if r == login || r == check || r == crypto {
            cases.push(c(UNKNOWN_VALUE, json!({"tamper": "flipped_byte"})).field("tamper"));
        } else {
            cases.extend([
                c(UNKNOWN_VALUE, json!({"tamper": "nope"})).field("tamper"),
                c(UNKNOWN_VALUE, json!({"tamper": "FLIPPED_BYTE"})).field("tamper"),
                c(LONG_STRING, json!({"tamper": long(LONG_BODY)})).field("tamper"),
            ]);
        }
        if r == info || r == profile {
            cases.extend([c(UNKNOWN_VALUE, json!({"era": "future"})).field("era")]);
        }
        if r == phone {
            cases.extend([
                c(UNKNOWN_VALUE, json!({"kind": "getphonenumber"})).field("kind"),
                c(WRONG_TYPE, json!({"deny": "yes"})).field("deny"),
            ]);
        }
    }
    cases.extend([
        ctl(MISSING, share, bytes(&json!({"user": "alice"}))).body_naming("group"),
        ctl(
            WRONG_TYPE,
            share,
            bytes(&json!({"user": "alice", "group": 5})),
        )
        .field("group"),
        ctl(
            WRONG_TYPE,
            werun,
            bytes(&json!({"user": "alice", "steps": "many"})),
        )
        .field("steps"),
        ctl(
            WRONG_TYPE,
            werun,
            bytes(&json!({"user": "alice", "steps": vec![1.5; 31]})),
        )
        .field("steps[0]"),
        ctl(
            MISSING,
            werun,
            bytes(&json!({"user": "alice", "steps": [1, 2]})),
        )
        .field("steps"),
        ctl(
            ABSURD_NUMBER,
            werun,
            bytes(&json!({"user": "alice", "steps": vec![-1; 31]})),
        )
        .field("steps[0]"),
        ctl(
            ABSURD_NUMBER,
            werun,
            bytes(&json!({"user": "alice", "steps": vec![99_999_999_999_u64; 31]})),
        )
        .field("steps[0]"),
        ctl(
            ABSURD_NUMBER,
            werun,
            bytes(&json!({"user": "alice", "steps": vec![1e30; 31]})),
        )
        .field("steps[0]"),
        ctl(
            LONG_STRING,
            werun,
            bytes(&json!({"user": "alice", "steps": vec![1; LONG_BODY]})),
        )
        .field("steps"),
    ]);
    cases
}

fn clock_cases() -> Vec<ControlCase> {
    let r = route("POST", "/clock");
    let c = |family, v: Value| ctl(family, r, bytes(&v));
    vec![
        c(MISSING, json!({})),
        c(MISSING, json!({"set": null, "advance": null})),
        c(WRONG_TYPE, json!({"advance": 5})).field("advance"),
        c(WRONG_TYPE, json!({"freeze": "yes"})).field("freeze"),
        c(WRONG_TYPE, json!({"set": true})).field("set"),
        c(WRONG_TYPE, json!({"set": [1]})).field("set"),
        c(UNKNOWN_VALUE, json!({"advance": "forever"})).field("advance"),
        c(UNKNOWN_VALUE, json!({"advance": "5 minutes"})).field("advance"),
        c(UNKNOWN_VALUE, json!({"advance": "-5m"})).field("advance"),
        c(UNKNOWN_VALUE, json!({"set": "yesterday"})).field("set"),
        c(UNKNOWN_VALUE, json!({"set": "2024-02-30T00:00:00Z"})).field("set"),
        c(UNKNOWN_VALUE, json!({"freeze": true, "resume": true})).field("freeze"),
        c(ABSURD_NUMBER, json!({"set": 1e30})).field("set"),
        c(ABSURD_NUMBER, json!({"set": 1.5})).field("set"),
        c(ABSURD_NUMBER, json!({"set": "+10000-01-01T00:00:00Z"})).field("set"),
        c(ABSURD_NUMBER, json!({"advance": "1e30"})).field("advance"),
        c(
            ABSURD_NUMBER,
            json!({"advance": "99999999999999999999999s"}),
        )
        .field("advance"),
        c(
            ABSURD_NUMBER,
            json!({"set": 18_446_744_073_709_551_615_u64}),
        )
        .field("set"),
        c(LONG_STRING, json!({"advance": "1".repeat(LONG_BODY)})).field("advance"),
        c(LONG_STRING, json!({"set": long(LONG_BODY)})).field("set"),
        ctl(DUPLICATED, r, br#"{"advance":"5m","advance":"1m"}"#).body_naming("advance"),
        ctl(INVALID_UTF8, r, b"{\"advance\":\"5m\xff\"}"),
    ]
}

fn fault_cases() -> Vec<ControlCase> {
    let r = route("POST", "/faults");
    let c = |family, v: Value| ctl(family, r, bytes(&v));
    let e = |extra: Value| {
        let mut v = json!({"endpoint": "*", "errcode": -1});
        for (k, x) in extra.as_object().expect("object") {
            v[k] = x.clone();
        }
        v
    };
    vec![
        c(MISSING, json!({})).field("endpoint"),
        c(MISSING, json!({"endpoint": "*"})).field("errcode"),
        c(WRONG_TYPE, e(json!({"errcode": "-1"}))).field("errcode"),
        c(WRONG_TYPE, e(json!({"consume_code": "yes"}))).field("consume_code"),
        c(WRONG_TYPE, e(json!({"appid": 5}))).field("appid"),
        c(WRONG_TYPE, e(json!({"probability": "NaN"}))).field("probability"),
        c(UNKNOWN_VALUE, e(json!({"endpoint": "nowhere"}))).field("endpoint"),
        c(UNKNOWN_VALUE, e(json!({"errcode": 12345}))).field("errcode"),
        c(
            UNKNOWN_VALUE,
            json!({"endpoint": "*", "transport": "teleport"}),
        )
        .field("transport"),
        c(UNKNOWN_VALUE, json!({"endpoint": "*", "http_status": 200})).field("http_status"),
        c(UNKNOWN_VALUE, json!({"endpoint": "*", "delay": "forever"})).field("delay"),
        c(UNKNOWN_VALUE, e(json!({"http_status": 500}))).field("errcode"),
        c(ABSURD_NUMBER, e(json!({"errcode": 1e30}))).field("errcode"),
        c(
            ABSURD_NUMBER,
            json!({"endpoint": "*", "http_status": 70000}),
        )
        .field("http_status"),
        c(
            ABSURD_NUMBER,
            json!({"endpoint": "*", "delay": "99999999999d"}),
        )
        .field("delay"),
        c(ABSURD_NUMBER, e(json!({"probability": 2}))).field("probability"),
        c(ABSURD_NUMBER, e(json!({"probability": -0.5}))).field("probability"),
        c(ABSURD_NUMBER, e(json!({"times": 0}))).field("times"),
        c(ABSURD_NUMBER, e(json!({"times": -1}))).field("times"),
        c(ABSURD_NUMBER, e(json!({"times": 1e30}))).field("times"),
        c(LONG_STRING, e(json!({"endpoint": long(LONG_BODY)}))).field("endpoint"),
        c(
            LONG_STRING,
            json!({"endpoint": "*", "delay": "9".repeat(LONG_BODY)}),
        )
        .field("delay"),
        ctl(
            DUPLICATED,
            r,
            br#"{"endpoint":"*","endpoint":"token","errcode":-1}"#,
        )
        .body_naming("endpoint"),
        ctl(INVALID_UTF8, r, b"{\"endpoint\":\"\xff\",\"errcode\":-1}"),
    ]
}

fn sms_config_cases() -> Vec<ControlCase> {
    let r = route("PATCH", "/sms/config");
    let c = |family, v: Value| ctl(family, r, bytes(&v));
    vec![
        c(WRONG_TYPE, json!({"secret_id": 5})).field("secret_id"),
        c(WRONG_TYPE, json!({"sdk_app_ids": "1400000000"})).field("sdk_app_ids"),
        c(WRONG_TYPE, json!({"sign_names": ["登录验证"]})).field("sign_names[0]"),
        c(
            WRONG_TYPE,
            json!({"templates": [{"id": 7, "content": "x"}]}),
        )
        .field("templates[0].id"),
        c(WRONG_TYPE, json!({"limits": {"daily": "ten"}})).field("limits.daily"),
        c(
            WRONG_TYPE,
            json!({"templates": [{"id": "7", "content": "x", "approved": "yes"}]}),
        )
        .field("templates[0].approved"),
        c(MISSING, json!({"templates": [{"id": "7"}]})).field("templates[0]"),
        c(MISSING, json!({"sign_names": [{"approved": true}]})).field("sign_names[0]"),
        c(
            UNKNOWN_VALUE,
            json!({"templates": [{"id": "7", "content": "x", "kind": "marketing"}]}),
        )
        .field("templates[0].kind"),
        c(UNKNOWN_VALUE, json!({"limits": {"weekly": 3}})).field("limits.weekly"),
        c(UNKNOWN_VALUE, json!({"secret_key": "has/slash"})).field("secret_key"),
        c(
            UNKNOWN_VALUE,
            json!({"templates": [{"id": "7", "content": "{2}"}]}),
        )
        .field("templates"),
        c(ABSURD_NUMBER, json!({"limits": {"daily": -1}})).field("limits.daily"),
        c(ABSURD_NUMBER, json!({"limits": {"one_hour": 1e30}})).field("limits.one_hour"),
        c(ABSURD_NUMBER, json!({"outbox_capacity": 0})).field("outbox_capacity"),
        c(ABSURD_NUMBER, json!({"outbox_capacity": -5})).field("outbox_capacity"),
        c(LONG_STRING, json!({"secret_id": long(LONG_BODY)})).field("secret_id"),
        c(LONG_STRING, json!({"sdk_app_ids": [long(LONG_BODY)]})).field("sdk_app_ids"),
        c(
            LONG_STRING,
            json!({"templates": [{"id": "7", "content": long(LONG_BODY)}]}),
        )
        .field("templates"),
        c(DUPLICATED, json!({"sdk_app_ids": ["1", "1"]})).field("sdk_app_ids"),
        c(
            DUPLICATED,
            json!({"sign_names": [{"name": "a"}, {"name": "a"}]}),
        )
        .field("sign_names"),
        ctl(
            DUPLICATED,
            r,
            br#"{"secret_id":"AKIDa","secret_id":"AKIDb"}"#,
        )
        .body_naming("secret_id"),
        ctl(INVALID_UTF8, r, b"{\"secret_id\":\"\xff\"}"),
    ]
}

/// Bad path parameters and query strings of the routes without a body.
fn parameter_cases() -> Vec<ControlCase> {
    let app = route("GET", "/apps/{appid}");
    let user = route("GET", "/users/{handle}");
    let journal = route("GET", "/journal");
    let control_journal = route("GET", "/journal/control");
    let fault = route("DELETE", "/faults/{id}");
    let sms = route("GET", "/sms");
    let platform = route("GET", "/platforms/{component_appid}");
    let withdraw = route(
        "DELETE",
        "/platforms/{component_appid}/authorizations/{appid}",
    );
    let ticket = route("POST", "/platforms/{component_appid}/ticket");
    let none = |family, r: (&'static str, &'static str), path: String| ControlCase {
        family,
        route: r,
        method: Method::from_bytes(r.0.as_bytes()).expect("method"),
        path,
        body: None,
        status: 400,
        code: "invalid_field",
        names: None,
    };
    let q = |family, query: &str| none(family, journal, format!("/journal?{query}")).field("query");
    vec![
        none(LONG_STRING, app, format!("/apps/{}", long(LONG_QUERY))).answers(404, "unknown_app"),
        none(UNKNOWN_VALUE, app, "/apps/%00".into()).answers(404, "unknown_app"),
        none(LONG_STRING, user, format!("/users/{}", long(LONG_QUERY)))
            .answers(404, "unknown_user"),
        none(UNKNOWN_VALUE, user, "/users/..%2F..%2Fstate".into()).answers(404, "unknown_user"),
        q(WRONG_TYPE, "errcode=abc"),
        q(ABSURD_NUMBER, "errcode=99999999999999999999999"),
        q(ABSURD_NUMBER, "errcode=1e3"),
        q(UNKNOWN_VALUE, "limit=10"),
        q(DUPLICATED, "appid=a&appid=b"),
        q(MALFORMED, "errcode=%zz"),
        none(
            WRONG_TYPE,
            control_journal,
            "/journal/control?since=abc".into(),
        )
        .field("query"),
        none(
            ABSURD_NUMBER,
            control_journal,
            "/journal/control?since=-1".into(),
        )
        .field("query"),
        none(
            ABSURD_NUMBER,
            control_journal,
            "/journal/control?since=99999999999999999999999".into(),
        )
        .field("query"),
        none(
            UNKNOWN_VALUE,
            control_journal,
            "/journal/control?endpoint=wx".into(),
        )
        .field("query"),
        none(
            DUPLICATED,
            control_journal,
            "/journal/control?since=1&since=2".into(),
        )
        .field("query"),
        none(WRONG_TYPE, fault, "/faults/abc".into()).field("id"),
        none(ABSURD_NUMBER, fault, "/faults/-1".into()).field("id"),
        none(ABSURD_NUMBER, fault, "/faults/1.5".into()).field("id"),
        none(
            ABSURD_NUMBER,
            fault,
            "/faults/99999999999999999999999".into(),
        )
        .field("id"),
        none(
            LONG_STRING,
            fault,
            format!("/faults/{}", "9".repeat(LONG_QUERY)),
        )
        .field("id"),
        none(UNKNOWN_VALUE, fault, "/faults/999".into()).answers(404, "unknown_fault"),
        none(WRONG_TYPE, sms, "/sms?since=abc".into()).field("query"),
        none(ABSURD_NUMBER, sms, "/sms?last=-1".into()).field("query"),
        none(UNKNOWN_VALUE, sms, "/sms?phone=12345".into()).field("phone"),
        none(UNKNOWN_VALUE, sms, "/sms?code=1".into()).field("query"),
        none(LONG_STRING, sms, format!("/sms?phone={}", long(LONG_QUERY))).field("phone"),
        none(
            LONG_STRING,
            platform,
            format!("/platforms/{}", long(LONG_QUERY)),
        )
        .answers(404, "unknown_platform"),
        none(UNKNOWN_VALUE, platform, "/platforms/%00".into()).answers(404, "unknown_platform"),
        none(
            UNKNOWN_VALUE,
            withdraw,
            format!("/platforms/{PLATFORM}/authorizations/wx-nobody"),
        )
        .answers(404, "unknown_authorization"),
        none(
            UNKNOWN_VALUE,
            withdraw,
            "/platforms/wx-nobody/authorizations/wx1".into(),
        )
        .answers(404, "unknown_platform"),
        none(
            LONG_STRING,
            withdraw,
            format!("/platforms/{PLATFORM}/authorizations/{}", long(LONG_QUERY)),
        )
        .answers(404, "unknown_authorization"),
        none(UNKNOWN_VALUE, ticket, "/platforms/wx-nobody/ticket".into())
            .answers(404, "unknown_platform"),
    ]
}

#[tokio::test]
async fn every_control_route_refuses_bad_input_naming_the_field_and_changes_nothing() {
    let m = TestMock::new().await;
    // A user who has logged in, so the open-data calls would succeed if a case got through.
    m.login("alice").await;
    let appid = m.app.appid.to_string();
    // An official account, for the follower route.
    let (status, oa) = m
        .control(
            Method::POST,
            "/apps",
            Some(json!({"kind": "official_account"})),
        )
        .await;
    assert_eq!(status, 201, "{oa}");
    let oa = oa["appid"].as_str().expect("appid").to_owned();
    // A platform the default app authorised, and a plugin app.
    let body = json!({"component_appid": PLATFORM, "authorizations": [appid]});
    let (status, answer) = m.control(Method::POST, "/platforms", Some(body)).await;
    assert_eq!(status, 201, "{answer}");
    let (status, answer) = m
        .control(Method::POST, "/apps", Some(json!({"appid": PLUGIN})))
        .await;
    assert_eq!(status, 201, "{answer}");

    let body_routes: Vec<(&str, &str)> = ROUTES
        .iter()
        .copied()
        .filter(|(method, path)| {
            *method == "PATCH" || (*method == "POST" && !BODYLESS.contains(path))
        })
        .collect();
    let mut cases = Vec::new();
    for r in &body_routes {
        let mut generic = generic_cases(*r);
        if r.1 == "/apps/{appid}/followers" {
            generic = generic
                .into_iter()
                .map(|c| c.at(format!("/apps/{oa}/followers")))
                .collect();
        } else if r.1.contains("{appid}") {
            generic = generic
                .into_iter()
                .map(|c| c.at(format!("/apps/{appid}")))
                .collect();
        }
        if r.1.contains("{handle}") {
            generic = generic.into_iter().map(|c| c.at("/users/alice")).collect();
        }
        if r.1.contains("{component_appid}") {
            let path = r.1.replace("{component_appid}", PLATFORM);
            generic = generic.into_iter().map(|c| c.at(path.clone())).collect();
        }
        cases.extend(generic);
    }
    cases.extend(options_cases());
    cases.extend(app_cases(&appid));
    cases.extend(user_cases());
    cases.extend(wx_cases());
    cases.extend(clock_cases());
    cases.extend(fault_cases());
    cases.extend(sms_config_cases());
    cases.extend(payment_cases());
    cases.extend(follower_cases(&oa, &appid));
    cases.extend(platform_cases(&appid));
    cases.extend(plugin_login_cases(&appid));
    cases.extend(parameter_cases());

    // Every route with a body covers every family; the others are covered below or by
    // `parameter_cases`.
    for r in &body_routes {
        let families: BTreeSet<&str> = cases
            .iter()
            .filter(|c| c.route == *r)
            .map(|c| c.family)
            .collect();
        for family in REQUIRED {
            assert!(
                families.contains(family),
                "{} {}: no `{family}` case",
                r.0,
                r.1
            );
        }
    }

    let mut before = state(&m).await;
    let first = before.clone();
    let mut failures = Vec::new();
    for (i, case) in cases.iter().enumerate() {
        let shown: String = case.path.chars().take(80).collect();
        let body: String = case
            .body
            .as_deref()
            .map(|b| String::from_utf8_lossy(&b[..b.len().min(80)]).into_owned())
            .unwrap_or_default();
        let what = format!(
            "case {i} ({}) {} {shown} {body:?}",
            case.family, case.method
        );
        let target = format!("/__mock__{}", case.path);
        let r = answered(&m, &case.method, &target, case.body.as_deref(), &what).await;
        let mut problems = Vec::new();
        match control_error(&r, case.status, case.code) {
            Ok(message) => {
                if let Some(name) = case.names
                    && !message.contains(&format!("`{name}`"))
                {
                    problems.push(format!("the message does not name `{name}`: {message}"));
                }
            }
            Err(problem) => problems.push(problem),
        }
        let after = state(&m).await;
        if after != before {
            problems.push("the state changed".to_owned());
            before = after;
        }
        if !problems.is_empty() {
            failures.push(format!("{what}: {}", problems.join("; ")));
        }
    }
    assert!(
        failures.is_empty(),
        "{} of {} control-plane cases failed:\n{}",
        failures.len(),
        cases.len(),
        failures.join("\n")
    );
    let before = first;

    // The routes without a body ignore one, however bad, and do their job: the read-only ones
    // change nothing.
    let mut read_only = 0;
    for (method, path) in ROUTES.iter().filter(|(m, _)| *m == "GET") {
        let path = path
            .replace("{appid}", &appid)
            .replace("{handle}", "alice")
            .replace("{component_appid}", PLATFORM);
        for body in [b"{".as_slice(), b"\xff\xfe", b"[[[[[[[["] {
            let what = format!("{method} {path} with {body:?}");
            let r = answered(
                &m,
                &Method::GET,
                &format!("/__mock__{path}"),
                Some(body),
                &what,
            )
            .await;
            assert_eq!(r.status, 200, "{what}: {}", r.body);
            read_only += 1;
        }
    }
    assert_eq!(
        state(&m).await,
        before,
        "the read-only routes changed the state"
    );

    // Unknown routes and methods keep the shape too.
    for (method, path, status, code) in [
        (Method::GET, "/__mock__/nope".to_owned(), 404, "not_found"),
        (
            Method::GET,
            format!("/__mock__/{}", long(LONG_QUERY)),
            404,
            "not_found",
        ),
        (
            Method::PUT,
            "/__mock__/state".to_owned(),
            405,
            "method_not_allowed",
        ),
        (
            Method::DELETE,
            "/__mock__/options".to_owned(),
            405,
            "method_not_allowed",
        ),
        (
            Method::from_bytes(b"BREW").expect("method"),
            "/__mock__/clock".to_owned(),
            405,
            "method_not_allowed",
        ),
    ] {
        let what = format!("{method} {}", &path[..path.len().min(60)]);
        let r = answered(&m, &method, &path, Some(b"{\xff"), &what).await;
        assert_control_error(&r, status, code, &what);
    }
    assert_eq!(state(&m).await, before);

    // The mutating routes without a body ignore one and do their job.
    let mutating = [
        (Method::DELETE, "/__mock__/faults/999", 404),
        (Method::DELETE, "/__mock__/faults", 200),
        (Method::DELETE, "/__mock__/journal", 200),
        (Method::DELETE, "/__mock__/sms", 200),
        (
            Method::POST,
            "/__mock__/platforms/wxbad0input0platfm/ticket",
            200,
        ),
        (
            Method::DELETE,
            "/__mock__/platforms/wxbad0input0platfm/authorizations/wx-nobody",
            404,
        ),
        (Method::POST, "/__mock__/reset", 200),
    ];
    for (method, path, status) in mutating {
        let r = answered(&m, &method, path, Some(b"{\"user\":\xff"), path).await;
        assert_eq!(r.status, status, "{method} {path}: {}", r.body);
    }

    // Every route was exercised.
    let mut exercised: BTreeSet<(&str, &str)> = cases.iter().map(|c| c.route).collect();
    exercised.extend(ROUTES.iter().filter(|(m, _)| *m == "GET").copied());
    exercised.extend([
        ("DELETE", "/faults/{id}"),
        ("DELETE", "/faults"),
        ("DELETE", "/journal"),
        ("DELETE", "/sms"),
        ("POST", "/reset"),
        ("POST", "/platforms/{component_appid}/ticket"),
    ]);
    let missing: Vec<_> = ROUTES.iter().filter(|r| !exercised.contains(*r)).collect();
    assert!(missing.is_empty(), "routes without a case: {missing:?}");

    // Still serving: a whole login.
    let grant = m.login("alice").await;
    assert_eq!(m.exchange(&grant.code).await.status, 200);

    let mut counts: BTreeMap<&str, usize> = BTreeMap::new();
    for case in &cases {
        *counts.entry(case.family).or_default() += 1;
    }
    eprintln!(
        "control plane: {} cases {counts:?}, plus {read_only} bodies ignored by GET routes",
        cases.len()
    );
}

/// `{"error":{"code","message"}}` with this status and code: the message, or what is wrong.
fn control_error(r: &Raw, status: u16, code: &str) -> Result<String, String> {
    let v: Option<Value> = serde_json::from_str(&r.body).ok();
    let error = v
        .as_ref()
        .filter(|v| v.as_object().is_some_and(|o| o.len() == 1))
        .and_then(|v| v["error"].as_object())
        .filter(|e| e.len() == 2);
    let message = error
        .and_then(|e| e["message"].as_str())
        .filter(|m| !m.is_empty());
    match (error, message) {
        (Some(e), Some(message))
            if r.status == status
                && e["code"] == code
                && r.content_type.as_deref() == Some("application/json") =>
        {
            Ok(message.to_owned())
        }
        _ => Err(format!(
            "expected {status} `{code}` in the control-plane shape, got {} ({:?}) {}",
            r.status,
            r.content_type,
            &r.body[..r.body.len().min(300)]
        )),
    }
}

/// Asserts `{"error":{"code","message"}}` with this status and code; returns the message.
#[track_caller]
fn assert_control_error(r: &Raw, status: u16, code: &str, what: &str) -> String {
    assert_eq!(r.status, status, "{what}: {}", r.body);
    assert_eq!(
        r.content_type.as_deref(),
        Some("application/json"),
        "{what}: {}",
        r.body
    );
    let v: Value = serde_json::from_str(&r.body)
        .unwrap_or_else(|e| panic!("{what}: not JSON ({e}): {}", r.body));
    assert_eq!(
        v.as_object().map(|o| o.len()),
        Some(1),
        "{what}: {}",
        r.body
    );
    let error = v["error"]
        .as_object()
        .unwrap_or_else(|| panic!("{what}: no error object: {}", r.body));
    assert_eq!(error.len(), 2, "{what}: only code and message: {}", r.body);
    assert_eq!(error["code"], code, "{what}: {}", r.body);
    let message = error["message"].as_str().expect("a message").to_owned();
    assert!(!message.is_empty(), "{what}");
    message
}

// ---------------------------------------------------------------------------------------------
// Former bugs: each test asserts the right answer, listing every case it gets wrong.

/// A request and the control-plane error it must get: method, path under `/__mock__`, body
/// (empty: none), status, code, and a field the message must name.
type Expected<'a> = (Method, &'a str, Vec<u8>, u16, &'a str, Option<&'a str>);

/// Sends each `(method, path under /__mock__, body)` and collects what is wrong: not the
/// expected control-plane error, a message that does not name `field`, or a changed state.
async fn control_failures(m: &TestMock, cases: &[Expected<'_>]) -> Vec<String> {
    let mut failures = Vec::new();
    let mut before = state(m).await;
    for (method, path, body, status, code, field) in cases {
        let what = format!(
            "{method} {path} {}",
            String::from_utf8_lossy(&body[..body.len().min(60)])
        );
        let body = (!body.is_empty()).then_some(body.as_slice());
        let r = answered(m, method, &format!("/__mock__{path}"), body, &what).await;
        match control_error(&r, *status, code) {
            Ok(message) => {
                if let Some(f) = field
                    && !message.contains(&format!("`{f}`"))
                {
                    failures.push(format!(
                        "{what}: the message does not name `{f}`: {message}"
                    ));
                }
            }
            Err(problem) => failures.push(format!("{what}: {problem}")),
        }
        let after = state(m).await;
        if after != before {
            failures.push(format!("{what}: the state changed"));
            before = after;
        }
    }
    failures
}

#[tokio::test]
async fn regression_vendor_bodies_must_be_json_objects() {
    // serde fills a struct from a JSON array by position. The control plane and login-core
    // refuse arrays for that reason; the vendor's stable_token and getuserphonenumber parsers
    // (engine/tokens.rs `parse_stable`, engine/phone.rs `body_code`) do not, so an array mints a
    // token or spends a phone code. WeChat's answer to a body that is not the JSON object it
    // expects is 47001.
    let m = TestMock::new().await;
    let a = &m.app.appid;
    let s = &m.app.secret;
    let mut failures = Vec::new();
    let before = state(&m).await;
    let r = m
        .post(
            STABLE,
            &json!(["client_credential", a, s, null]).to_string(),
        )
        .await;
    if r.errcode() != 47001 || state(&m).await != before {
        failures.push(format!(
            "stable_token [grant_type, appid, secret, null]: {}",
            r.body
        ));
    }
    let token = m.token().await;
    let code = m.phone_code("alice").await.code;
    let r = m
        .post(
            &format!("{PHONE}?access_token={token}"),
            &json!([code, null]).to_string(),
        )
        .await;
    if r.errcode() != 47001 {
        failures.push(format!("getuserphonenumber [code, null]: {}", r.body));
    }
    assert!(failures.is_empty(), "{}", failures.join("\n"));
}

#[tokio::test]
async fn regression_control_plane_refuses_trailing_data() {
    // control/mod.rs `parse_json` deserializes one value and never calls
    // `Deserializer::end()`, so anything after the first value is ignored: `{"user":"alice"} x`
    // logs alice in, `{"advance":"1h"}{"set":0}` moves the clock. login-core refuses the same
    // bodies with `invalid_json`.
    let m = TestMock::new().await;
    let bad = |path, body: &str| {
        (
            Method::POST,
            path,
            body.as_bytes().to_vec(),
            400,
            "invalid_body",
            None,
        )
    };
    let failures = control_failures(
        &m,
        &[
            bad("/wx/login", r#"{"user":"alice"} x"#),
            bad("/clock", r#"{"advance":"1h"}{"set":0}"#),
            bad("/users", r#"{"handle":"bob"},"#),
            bad("/faults", r#"{"endpoint":"*","errcode":-1}]"#),
        ],
    )
    .await;
    assert!(failures.is_empty(), "{}", failures.join("\n"));
}

#[tokio::test]
async fn regression_clock_refuses_times_the_vendor_cannot_date() {
    // `POST /__mock__/clock` takes any i64 for `set` and any duration for `advance`
    // (`{"advance":"99999999999d"}` is year 273 million). The vendor entry point then writes the
    // `Date` header with `httpdate::fmt_http_date`, which panics after 9999-12-31T23:59:59Z
    // ("date must be before year 9999", clock.rs `Timestamp::http_date`): the task dies and
    // every vendor request gets its connection closed without an answer, while the control
    // plane goes on answering. `GET /clock` shows the raw millisecond number instead of
    // RFC 3339 past that year.
    let mut failures = Vec::new();
    for body in [
        json!({"set": 253_402_300_800_i64}),
        json!({"set": i64::MAX}),
        json!({"advance": "99999999999d"}),
        json!({"set": 253_402_300_799_i64, "advance": "1s"}),
    ] {
        let m = TestMock::new().await;
        let mut problems = control_failures(
            &m,
            &[(
                Method::POST,
                "/clock",
                bytes(&body),
                400,
                "invalid_field",
                None,
            )],
        )
        .await;
        let vendor = m
            .http
            .get(m.url(&format!("{TOKEN}?appid={}", m.app.appid)))
            .send()
            .await;
        if let Err(e) = vendor {
            problems.push(format!(
                "POST /clock {body}: afterwards the vendor surface drops requests: {e}"
            ));
        }
        failures.extend(problems);
    }
    assert!(failures.is_empty(), "{}", failures.join("\n"));
}

#[tokio::test]
async fn regression_path_parameters_keep_the_error_shape() {
    // `Path<String>` rejects percent-encoded bytes that are not UTF-8 before the handler runs;
    // axum answers `text/plain` "Invalid URL: Invalid UTF-8 in `appid`" instead of the control
    // plane's `{"error":{"code":"invalid_field",...}}` (control/mod.rs: `app`, `patch_app`,
    // `user`, `patch_user`, `remove_fault` use axum's own `Path` rejection).
    let m = TestMock::new().await;
    let bad = |method, path, body: &[u8], field| {
        (
            method,
            path,
            body.to_vec(),
            400,
            "invalid_field",
            Some(field),
        )
    };
    let failures = control_failures(
        &m,
        &[
            bad(Method::GET, "/apps/%FF", b"", "appid"),
            bad(Method::PATCH, "/apps/%FF", b"{}", "appid"),
            bad(Method::GET, "/users/%C3%28", b"", "handle"),
            bad(Method::PATCH, "/users/%FF%FE", b"{}", "handle"),
            bad(Method::DELETE, "/faults/%FF", b"", "id"),
        ],
    )
    .await;
    assert!(failures.is_empty(), "{}", failures.join("\n"));
}

#[tokio::test]
async fn regression_patch_options_refuses_duplicated_fields() {
    // Every other body refuses a duplicated field; `PATCH /options` parses into a
    // `serde_json::Value` map (control/mod.rs `patch_options`), which keeps the last value.
    let m = TestMock::new().await;
    let failures = control_failures(
        &m,
        &[(
            Method::PATCH,
            "/options",
            br#"{"strict":false,"strict":true}"#.to_vec(),
            400,
            "invalid_field",
            Some("strict"),
        )],
    )
    .await;
    assert!(failures.is_empty(), "{}", failures.join("\n"));
}

#[tokio::test]
async fn regression_messages_name_the_field_as_sent() {
    // control/mod.rs `parse_json` treats every serde_json error of the syntax category as "body
    // is not valid JSON" (`invalid_body`, no field). Two kinds of valid JSON land there: numbers
    // beyond f64 ("number out of range"; login-core names the field for the same input), and a
    // number, boolean or array where an enum (`tamper`, `era`, `transport`, `profile_era`) is
    // expected (serde_json reports "expected value" for those). And the `/wx/*` calls' `user`
    // is reported as `handle`, the engine's name for it.
    let m = TestMock::new().await;
    m.login("alice").await;
    let bad = |method, path, body: String, field| {
        (
            method,
            path,
            body.into_bytes(),
            400,
            "invalid_field",
            Some(field),
        )
    };
    let failures = control_failures(
        &m,
        &[
            bad(
                Method::POST,
                "/faults",
                r#"{"endpoint":"*","errcode":-1,"probability":1e400}"#.into(),
                "probability",
            ),
            bad(
                Method::PATCH,
                "/options",
                r#"{"journal_capacity":1e400}"#.into(),
                "journal_capacity",
            ),
            bad(Method::POST, "/clock", r#"{"set":-1e400}"#.into(), "set"),
            bad(
                Method::POST,
                "/wx/getUserInfo",
                r#"{"user":"alice","tamper":1}"#.into(),
                "tamper",
            ),
            bad(
                Method::POST,
                "/wx/getUserProfile",
                r#"{"user":"alice","era":true}"#.into(),
                "era",
            ),
            bad(
                Method::POST,
                "/faults",
                r#"{"endpoint":"*","transport":5}"#.into(),
                "transport",
            ),
            bad(
                Method::POST,
                "/apps",
                r#"{"profile_era":["legacy"]}"#.into(),
                "profile_era",
            ),
            bad(Method::POST, "/wx/login", r#"{"user":""}"#.into(), "user"),
            bad(
                Method::POST,
                "/wx/login",
                json!({"user": long(LONG_BODY)}).to_string(),
                "user",
            ),
        ],
    )
    .await;
    assert!(failures.is_empty(), "{}", failures.join("\n"));
}

#[tokio::test]
async fn regression_refused_control_requests_leave_no_trace() {
    // "Control-plane changes validate before they write: a refused request changes nothing"
    // (ARCHITECTURE.md). Three refusals write anyway:
    // - `POST /wx/getPhoneNumber` creates an unknown user (engine/phone.rs `wx_phone_code` calls
    //   `ensure_user` first) and then refuses with 409 `no_session` when a `tamper` is given;
    // - `POST /apps` without an appid draws one from the seed (`generated_apps += 1` in
    //   engine/directory.rs `create_app`) before it checks `secret`, so the next generated app
    //   gets another appid than in a run without the refusal;
    // - `/wx/getUserInfo` (and the other open-data calls) count the payload for its IV
    //   (engine/opendata.rs `sealing`) before the `stale_key` tamper is refused with 409
    //   `no_stale_key`, so the next payload's IV differs from a run without the refusal.
    let mut failures = Vec::new();

    let m = TestMock::new().await;
    failures.extend(
        control_failures(
            &m,
            &[(
                Method::POST,
                "/wx/getPhoneNumber",
                bytes(&json!({"user": "newbie", "tamper": "flipped_byte"})),
                409,
                "no_session",
                None,
            )],
        )
        .await,
    );

    let fresh = TestMock::new().await;
    let expected = next_app(&fresh).await;
    let m = TestMock::new().await;
    let r = answered(
        &m,
        &Method::POST,
        "/__mock__/apps",
        Some(br#"{"secret":""}"#),
        "POST /apps",
    )
    .await;
    assert_eq!(r.status, 400, "{}", r.body);
    let got = next_app(&m).await;
    if got != expected {
        failures.push(format!(
            "POST /apps {{\"secret\":\"\"}} (refused) changed the next generated appid: {got}, not {expected}"
        ));
    }

    let fresh = TestMock::new().await;
    fresh.login("alice").await;
    let expected = user_info_iv(&fresh).await;
    let m = TestMock::new().await;
    m.login("alice").await;
    let r = answered(
        &m,
        &Method::POST,
        "/__mock__/wx/getUserInfo",
        Some(br#"{"user":"alice","tamper":"stale_key"}"#),
        "getUserInfo stale_key",
    )
    .await;
    assert_eq!(r.status, 409, "{}", r.body);
    let got = user_info_iv(&m).await;
    if got != expected {
        failures.push(format!(
            "POST /wx/getUserInfo stale_key (refused) changed the next payload's iv: {got}, not {expected}"
        ));
    }
    assert!(failures.is_empty(), "{}", failures.join("\n"));
}

/// The appid `POST /apps {}` generates next.
async fn next_app(m: &TestMock) -> String {
    m.mock
        .control()
        .create_app(&mock_server::AppSpec::default())
        .await
        .expect("app created")
        .appid
        .to_string()
}

/// The iv of alice's next `wx.getUserInfo` payload in the default app.
async fn user_info_iv(m: &TestMock) -> String {
    m.mock
        .control()
        .wx_user_info(
            &m.app.appid,
            "alice",
            mock_server::opendata::UserInfoApi::GetUserInfo,
            None,
            None,
        )
        .await
        .expect("user info")
        .iv
}
