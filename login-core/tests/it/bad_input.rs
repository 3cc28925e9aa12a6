//! Bad input on every route of login-core, table-driven: malformed JSON, wrong types, missing
//! and duplicated fields, huge bodies, invalid UTF-8, absurd numbers, unknown values, very long
//! strings, bad base64 and wrong IV lengths in open data, bad content types and bad tokens. Each
//! gets the status and code the README's error table and the OpenAPI document give, in the shape
//! `{"error":{"code","message"}}` with a message that names the field; every request is
//! answered; nothing is written (users, identities, sessions, and the user's profile and phone
//! are the same after each case); and a login works at the end.

use std::collections::{BTreeMap, BTreeSet};
use std::net::SocketAddr;
use std::time::Duration;

use base64::Engine as _;
use base64::engine::general_purpose::{STANDARD, URL_SAFE};
use login_core::http::{OPENAPI, ROUTES};
use mock_server::opendata::{RuleEra, Tamper, UserInfoApi};
use reqwest::Method;
use reqwest::header::{AUTHORIZATION, CONTENT_TYPE, HeaderValue};
use serde_json::{Value, json};
use tokio::io::{AsyncReadExt as _, AsyncWriteExt as _};

use crate::helpers::{Resp, TestApp, token_of};

/// The default `limits.body_bytes`.
const LIMIT: usize = 16 * 1024;

const MALFORMED: &str = "malformed";
const WRONG_TYPE: &str = "wrong type";
const MISSING: &str = "missing";
const DUPLICATED: &str = "duplicated";
const HUGE: &str = "huge";
const INVALID_UTF8: &str = "invalid UTF-8";
const ABSURD_NUMBER: &str = "absurd number";
const UNKNOWN_VALUE: &str = "unknown value";
const LONG_STRING: &str = "long string";
const MEDIA_TYPE: &str = "media type";
const BAD_BASE64: &str = "bad base64";
const WRONG_IV_LENGTH: &str = "wrong IV length";
const BAD_TOKEN: &str = "bad token";
const IGNORED: &str = "ignored body or query";
const TAMPERED: &str = "tampered open data";

/// The families every route with a JSON body must cover.
const REQUIRED: [&str; 10] = [
    MALFORMED,
    WRONG_TYPE,
    MISSING,
    DUPLICATED,
    HUGE,
    INVALID_UTF8,
    ABSURD_NUMBER,
    UNKNOWN_VALUE,
    LONG_STRING,
    MEDIA_TYPE,
];

const LOGIN: &str = "/api/login";
const PROFILE: &str = "/api/me/profile";
const PHONE: &str = "/api/me/phone";
const REFRESH: &str = "/api/session/refresh";
const LOGOUT: &str = "/api/logout";
const CHECK: &str = "/api/session/check";
const ME: &str = "/api/me";
const SMS_SEND: &str = "/api/sms/send";
const SMS_LOGIN: &str = "/api/login/sms";
const PASSWORD: &str = "/api/login/password";

fn long(n: usize) -> String {
    "a".repeat(n)
}

fn bytes(v: &Value) -> Vec<u8> {
    v.to_string().into_bytes()
}

/// `[[[[...` `depth` deep after `prefix`, never closed.
fn deep(prefix: &str, depth: usize) -> Vec<u8> {
    let mut b = prefix.as_bytes().to_vec();
    b.extend(std::iter::repeat_n(b'[', depth));
    b
}

/// Base64 of `n` zero bytes.
fn b64(n: usize) -> String {
    STANDARD.encode(vec![0u8; n])
}

/// The `Authorization` header a case sends.
#[derive(Clone)]
enum Auth {
    None,
    /// The test user's valid token.
    Valid,
    /// This exact header value (bytes, so that values which are not text can be sent).
    Raw(Vec<u8>),
}

struct Case {
    family: &'static str,
    method: Method,
    /// The `ROUTES` path it exercises.
    route: &'static str,
    /// The path and query sent (the route's path unless changed).
    target: String,
    auth: Auth,
    content_type: Option<&'static str>,
    body: Option<Vec<u8>>,
    status: u16,
    code: &'static str,
    /// A field the message must name in backticks.
    names: Option<&'static str>,
}

impl Case {
    fn field(mut self, name: &'static str) -> Self {
        self.status = 400;
        self.code = "invalid_field";
        self.names = Some(name);
        self
    }

    /// `invalid_field`, whatever field the message names.
    fn invalid_field(mut self) -> Self {
        self.status = 400;
        self.code = "invalid_field";
        self
    }

    fn answers(mut self, status: u16, code: &'static str) -> Self {
        self.status = status;
        self.code = code;
        self
    }

    fn content_type(mut self, content_type: Option<&'static str>) -> Self {
        self.content_type = content_type;
        self
    }

    fn auth(mut self, auth: Auth) -> Self {
        self.auth = auth;
        self
    }

    fn target(mut self, target: impl Into<String>) -> Self {
        self.target = target.into();
        self
    }
}

/// A POST of `body` as JSON to `route` with the valid token, expected to be 400
/// `invalid_json` until refined.
fn post(family: &'static str, route: &'static str, body: impl Into<Vec<u8>>) -> Case {
    assert!(ROUTES.contains(&("POST", route)), "POST {route} is a route");
    Case {
        family,
        method: Method::POST,
        route,
        target: route.to_owned(),
        auth: Auth::Valid,
        content_type: Some("application/json"),
        body: Some(body.into()),
        status: 400,
        code: "invalid_json",
        names: None,
    }
}

/// A request to a route that takes no body, expected to succeed (200) until refined.
fn call(family: &'static str, method: Method, route: &'static str, auth: Auth) -> Case {
    assert!(
        ROUTES.contains(&(method.as_str(), route)),
        "{method} {route} is a route"
    );
    Case {
        family,
        method,
        route,
        target: route.to_owned(),
        auth,
        content_type: None,
        body: None,
        status: 200,
        code: "",
        names: None,
    }
}

/// Malformed bodies every JSON route refuses the same way; `key` is a field the route takes.
fn json_cases(route: &'static str, key: &str) -> Vec<Case> {
    let p = |family, body: &[u8]| post(family, route, body.to_vec());
    let k = |text: &str| text.replace("code", key).into_bytes();
    vec![
        p(MISSING, b""),
        p(MISSING, b"   \r\n"),
        p(MALFORMED, b"{"),
        p(MALFORMED, b"}"),
        p(MALFORMED, b"{,}"),
        p(MALFORMED, b"{'code':'abc'}"),
        p(MALFORMED, &k(r#"{"code" "abc"}"#)),
        p(MALFORMED, &k(r#"{"code":"abc",}"#)),
        p(MALFORMED, &k(r#"{"code":"abc"} x"#)),
        p(MALFORMED, &k(r#"{"code":"abc"}{}"#)),
        p(MALFORMED, &k("{\"code\":\"abc\"}\0")),
        p(
            MALFORMED,
            &[b"\xef\xbb\xbf".as_slice(), &k(r#"{"code":"abc"}"#)].concat(),
        ),
        p(MALFORMED, &k(r#"{"code":"abc" /* comment */}"#)),
        p(MALFORMED, &k(r#"{"code":NaN}"#)),
        p(MALFORMED, &k(r#"{"code":Infinity}"#)),
        p(MALFORMED, &k(r#"{"code":"abc\q"}"#)),
        p(MALFORMED, &deep("", 10_000)),
        p(WRONG_TYPE, b"[]").field("body"),
        p(WRONG_TYPE, b"[{\"code\":\"abc\"}]").field("body"),
        p(WRONG_TYPE, b"null").field("body"),
        p(WRONG_TYPE, b"\"code\"").field("body"),
        p(WRONG_TYPE, b"42").field("body"),
        p(WRONG_TYPE, b"true").field("body"),
        p(INVALID_UTF8, b"{\"\xff\":\"abc\"}"),
        p(
            INVALID_UTF8,
            &[k(r#"{"code":"abc"#).as_slice(), b"\xff\"}"].concat(),
        ),
        p(
            INVALID_UTF8,
            &[k(r#"{"code":""#).as_slice(), b"\xc0\xaf\"}"].concat(),
        ),
        p(
            INVALID_UTF8,
            &[k(r#"{"code":""#).as_slice(), b"\xed\xa0\x80\"}"].concat(),
        ),
        p(INVALID_UTF8, &k(r#"{"code":"\ud800"}"#)),
        p(INVALID_UTF8, &k(r#"{"code":"\udfff\ud800"}"#)),
        p(UNKNOWN_VALUE, &bytes(&json!({"bogus": 1}))).field("bogus"),
        p(UNKNOWN_VALUE, &bytes(&json!({"Code": "abc"}))).field("Code"),
        p(LONG_STRING, &bytes(&json!({ long(LIMIT - 100): 1 }))).invalid_field(),
        p(HUGE, &[b' '; LIMIT + 1]).answers(413, "payload_too_large"),
        p(HUGE, &bytes(&json!({"code": long(LIMIT)}))).answers(413, "payload_too_large"),
        p(HUGE, &bytes(&json!({"code": long(3 << 20)}))).answers(413, "payload_too_large"),
        p(MEDIA_TYPE, b"{\"code\":\"abc\"}")
            .content_type(None)
            .answers(415, "unsupported_media_type"),
        p(MEDIA_TYPE, b"{\"code\":\"abc\"}")
            .content_type(Some("text/plain"))
            .answers(415, "unsupported_media_type"),
        p(MEDIA_TYPE, b"code=abc")
            .content_type(Some("application/x-www-form-urlencoded"))
            .answers(415, "unsupported_media_type"),
        p(MEDIA_TYPE, b"{\"code\":\"abc\"}")
            .content_type(Some("application/jsonp"))
            .answers(415, "unsupported_media_type"),
        p(MEDIA_TYPE, b"{\"code\":\"abc\"}")
            .content_type(Some("json"))
            .answers(415, "unsupported_media_type"),
        p(
            MEDIA_TYPE,
            &[k(r#"{"code":""#).as_slice(), b"\xff\"}"].concat(),
        )
        .content_type(Some("application/json; charset=latin1")),
    ]
}

fn login_cases(appid: &str) -> Vec<Case> {
    let p = |family, v: Value| post(family, LOGIN, bytes(&v)).auth(Auth::None);
    let mut cases: Vec<Case> = json_cases(LOGIN, "code")
        .into_iter()
        .map(|c| c.auth(Auth::None))
        .collect();
    cases.extend([
        p(WRONG_TYPE, json!({"code": 5})).field("code"),
        p(WRONG_TYPE, json!({"code": null})).field("code"),
        p(WRONG_TYPE, json!({"code": ["abc"]})).field("code"),
        p(WRONG_TYPE, json!({"code": {"code": "abc"}})).field("code"),
        p(WRONG_TYPE, json!({"code": true})).field("code"),
        p(WRONG_TYPE, json!({"code": "abc", "appid": 5})).field("appid"),
        p(WRONG_TYPE, json!({"code": "abc", "appid": [appid]})).field("appid"),
        p(MISSING, json!({})).field("code"),
        p(MISSING, json!({"appid": appid})).field("code"),
        p(MISSING, json!({"code": ""})).field("code"),
        post(DUPLICATED, LOGIN, br#"{"code":"a","code":"b"}"#.to_vec())
            .auth(Auth::None)
            .field("code"),
        post(DUPLICATED, LOGIN, br#"{"code":null,"code":"b"}"#.to_vec())
            .auth(Auth::None)
            .field("code"),
        post(
            DUPLICATED,
            LOGIN,
            format!(r#"{{"code":"abc","appid":"{appid}","appid":"{appid}"}}"#),
        )
        .auth(Auth::None)
        .field("appid"),
        post(ABSURD_NUMBER, LOGIN, br#"{"code":1e999}"#.to_vec())
            .auth(Auth::None)
            .field("code"),
        post(ABSURD_NUMBER, LOGIN, br#"{"code":-1e400}"#.to_vec())
            .auth(Auth::None)
            .field("code"),
        post(
            ABSURD_NUMBER,
            LOGIN,
            br#"{"code":99999999999999999999999999}"#.to_vec(),
        )
        .auth(Auth::None)
        .field("code"),
        post(
            ABSURD_NUMBER,
            LOGIN,
            br#"{"code":"abc","appid":1e999}"#.to_vec(),
        )
        .auth(Auth::None)
        .field("appid"),
        p(UNKNOWN_VALUE, json!({"code": "a b"})).field("code"),
        p(UNKNOWN_VALUE, json!({"code": "../../etc/passwd"})).field("code"),
        p(UNKNOWN_VALUE, json!({"code": "码"})).field("code"),
        p(UNKNOWN_VALUE, json!({"code": "abc\u{0}"})).field("code"),
        p(UNKNOWN_VALUE, json!({"code": "abc%00"})).field("code"),
        p(UNKNOWN_VALUE, json!({"code": "abc", "extra": 1})).field("extra"),
        p(UNKNOWN_VALUE, json!({"code": "abc", "appid": "wx-nobody"}))
            .field("appid")
            .answers(400, "unknown_app"),
        p(UNKNOWN_VALUE, json!({"code": "abc", "appid": ""}))
            .field("appid")
            .answers(400, "unknown_app"),
        p(LONG_STRING, json!({"code": long(129)})).field("code"),
        p(LONG_STRING, json!({"code": long(LIMIT - 100)})).field("code"),
        p(
            LONG_STRING,
            json!({"code": "abc", "appid": long(LIMIT - 100)}),
        )
        .field("appid")
        .answers(400, "unknown_app"),
    ]);
    cases
}

/// Open-data bodies: bad base64 and wrong IV lengths in `encryptedData` and `iv`.
fn open_data_cases(route: &'static str) -> Vec<Case> {
    let ok_data = b64(32);
    let ok_iv = b64(16);
    let enc = |family, data: &str, iv: &str, field| {
        post(
            family,
            route,
            bytes(&json!({"encryptedData": data, "iv": iv})),
        )
        .field(field)
    };
    let cases = vec![
        enc(BAD_BASE64, "!!!!", &ok_iv, "encryptedData"),
        enc(BAD_BASE64, "", &ok_iv, "encryptedData"),
        enc(BAD_BASE64, "AAAA", &ok_iv, "encryptedData"),
        enc(BAD_BASE64, &b64(31), &ok_iv, "encryptedData"),
        enc(BAD_BASE64, &format!("{ok_data}\n"), &ok_iv, "encryptedData"),
        enc(BAD_BASE64, &format!(" {ok_data}"), &ok_iv, "encryptedData"),
        enc(
            BAD_BASE64,
            &format!("{}\r\n{}", &ok_data[..20], &ok_data[20..]),
            &ok_iv,
            "encryptedData",
        ),
        enc(
            BAD_BASE64,
            &URL_SAFE.encode([0xfb; 32]),
            &ok_iv,
            "encryptedData",
        ),
        enc(
            BAD_BASE64,
            &ok_data.replace('=', ""),
            &ok_iv,
            "encryptedData",
        ),
        enc(
            BAD_BASE64,
            "AA==AA==AAAAAAAAAAAAAAAAAAAAAAAA",
            &ok_iv,
            "encryptedData",
        ),
        enc(BAD_BASE64, &ok_data, "!!!!!!!!!!!!!!!!!!!!!!!!", "iv"),
        enc(BAD_BASE64, &ok_data, &URL_SAFE.encode([0xfb; 16]), "iv"),
        enc(BAD_BASE64, &ok_data, "AAAAAAAAAAAAAAAAAAAAAA", "iv"),
        enc(BAD_BASE64, &ok_data, "AAAAAAAAAAAAAAAAAAAAAB==", "iv"),
        enc(BAD_BASE64, &ok_data, &format!("{ok_iv} "), "iv"),
        enc(BAD_BASE64, &ok_data, "", "iv"),
        enc(WRONG_IV_LENGTH, &ok_data, &b64(12), "iv"),
        enc(WRONG_IV_LENGTH, &ok_data, &b64(15), "iv"),
        enc(WRONG_IV_LENGTH, &ok_data, &b64(17), "iv"),
        enc(WRONG_IV_LENGTH, &ok_data, &b64(32), "iv"),
        enc(WRONG_IV_LENGTH, &ok_data, &b64(1), "iv"),
        enc(LONG_STRING, &ok_data, &b64(8000), "iv"),
        enc(LONG_STRING, &b64(12_000 - 4), &ok_iv, "encryptedData"),
        // Well-formed, but not this session's data.
        post(
            UNKNOWN_VALUE,
            route,
            bytes(&json!({"encryptedData": ok_data, "iv": ok_iv})),
        )
        .answers(400, "decrypt_failed"),
        post(
            LONG_STRING,
            route,
            bytes(&json!({"encryptedData": b64(12_000), "iv": ok_iv})),
        )
        .answers(400, "decrypt_failed"),
        post(
            WRONG_TYPE,
            route,
            bytes(&json!({"encryptedData": 5, "iv": ok_iv})),
        )
        .field("encryptedData"),
        post(
            WRONG_TYPE,
            route,
            bytes(&json!({"encryptedData": ok_data, "iv": vec![0; 16]})),
        )
        .field("iv"),
        post(MISSING, route, bytes(&json!({"encryptedData": ok_data}))).field("iv"),
        post(MISSING, route, bytes(&json!({"iv": ok_iv}))).field("encryptedData"),
        post(
            DUPLICATED,
            route,
            format!(r#"{{"encryptedData":"{ok_data}","iv":"{ok_iv}","iv":"{ok_iv}"}}"#),
        )
        .field("iv"),
        post(
            ABSURD_NUMBER,
            route,
            format!(r#"{{"encryptedData":"{ok_data}","iv":1e999}}"#),
        )
        .field("iv"),
    ];
    cases
}

fn profile_cases() -> Vec<Case> {
    let p = |family, v: Value| post(family, PROFILE, bytes(&v));
    let ok_data = b64(32);
    let ok_iv = b64(16);
    let mut cases = json_cases(PROFILE, "nickName");
    cases.extend(open_data_cases(PROFILE));
    cases.extend([
        post(MALFORMED, PROFILE, deep(r#"{"userInfo":"#, 10_000)),
        p(MISSING, json!({})).field("nickName"),
        p(MISSING, json!({"nickName": null, "avatarUrl": null})).field("nickName"),
        p(MISSING, json!({"encryptedData": ok_data, "iv": ok_iv, "rawData": "{}"}))
            .field("signature"),
        p(MISSING, json!({"encryptedData": ok_data, "iv": ok_iv, "signature": "00"}))
            .field("rawData"),
        p(WRONG_TYPE, json!({"nickName": 5})).field("nickName"),
        p(WRONG_TYPE, json!({"nickName": ["小明"]})).field("nickName"),
        p(WRONG_TYPE, json!({"avatarUrl": {"url": "https://x"}})).field("avatarUrl"),
        p(WRONG_TYPE, json!({"rawData": {}, "signature": "00"})).field("rawData"),
        p(WRONG_TYPE, json!({"signature": true})).field("signature"),
        post(DUPLICATED, PROFILE, br#"{"nickName":"a","nickName":"b"}"#.to_vec())
            .field("nickName"),
        p(DUPLICATED, json!({"encryptedData": ok_data, "iv": ok_iv, "nickName": "小明"}))
            .field("nickName"),
        post(ABSURD_NUMBER, PROFILE, br#"{"nickName":1e999}"#.to_vec()).field("nickName"),
        post(ABSURD_NUMBER, PROFILE, br#"{"avatarUrl":-1e400}"#.to_vec()).field("avatarUrl"),
        p(UNKNOWN_VALUE, json!({"nickName": ""})).field("nickName"),
        p(UNKNOWN_VALUE, json!({"nickName": " \t "})).field("nickName"),
        p(UNKNOWN_VALUE, json!({"nickName": "a\u{0}b"})).field("nickName"),
        p(UNKNOWN_VALUE, json!({"nickName": "a\u{1b}[31mb"})).field("nickName"),
        p(UNKNOWN_VALUE, json!({"avatarUrl": "wxfile://tmp_abc.png"})).field("avatarUrl"),
        p(UNKNOWN_VALUE, json!({"avatarUrl": "javascript:alert(1)"})).field("avatarUrl"),
        p(UNKNOWN_VALUE, json!({"avatarUrl": "https://"})).field("avatarUrl"),
        p(UNKNOWN_VALUE, json!({"avatarUrl": "https://a b"})).field("avatarUrl"),
        p(UNKNOWN_VALUE, json!({"nickName": "小明", "openId": "o1"})).field("openId"),
        p(
            UNKNOWN_VALUE,
            json!({"encryptedData": "!!!", "iv": "!!!", "rawData": "{}", "signature": "00"}),
        )
        .answers(400, "signature_mismatch"),
        p(LONG_STRING, json!({"nickName": "字".repeat(65)})).field("nickName"),
        p(LONG_STRING, json!({"nickName": long(LIMIT - 100)})).field("nickName"),
        p(
            LONG_STRING,
            json!({"avatarUrl": format!("https://x.example/{}", long(3000))}),
        )
        .field("avatarUrl"),
        p(
            LONG_STRING,
            json!({"encryptedData": ok_data, "iv": ok_iv, "rawData": long(LIMIT - 200), "signature": "00"}),
        )
        .answers(400, "signature_mismatch"),
    ]);
    cases
}

fn phone_cases() -> Vec<Case> {
    let p = |family, v: Value| post(family, PHONE, bytes(&v));
    let ok_data = b64(32);
    let ok_iv = b64(16);
    let mut cases = json_cases(PHONE, "code");
    cases.extend(open_data_cases(PHONE));
    cases.extend([
        post(MALFORMED, PHONE, deep(r#"{"cloudID":"#, 10_000)),
        p(MISSING, json!({})).field("code"),
        p(
            MISSING,
            json!({"code": null, "encryptedData": null, "iv": null}),
        )
        .field("code"),
        p(MISSING, json!({"code": ""})).field("code"),
        p(WRONG_TYPE, json!({"code": 5})).field("code"),
        p(WRONG_TYPE, json!({"code": ["0123456789abcdef"]})).field("code"),
        p(WRONG_TYPE, json!({"code": {"code": "x"}})).field("code"),
        post(DUPLICATED, PHONE, br#"{"code":"a","code":"b"}"#.to_vec()).field("code"),
        p(
            DUPLICATED,
            json!({"code": "abc", "encryptedData": ok_data, "iv": ok_iv}),
        )
        .field("code"),
        p(DUPLICATED, json!({"code": "abc", "iv": ok_iv})).field("code"),
        post(ABSURD_NUMBER, PHONE, br#"{"code":1e999}"#.to_vec()).field("code"),
        post(ABSURD_NUMBER, PHONE, br#"{"code":-0.0}"#.to_vec()).field("code"),
        p(UNKNOWN_VALUE, json!({"code": "a b"})).field("code"),
        p(UNKNOWN_VALUE, json!({"code": "abc\n"})).field("code"),
        p(UNKNOWN_VALUE, json!({"code": "abc", "nickName": "x"})).field("nickName"),
        p(
            UNKNOWN_VALUE,
            json!({"code": "abc", "phoneNumber": "13800138000"}),
        )
        .field("phoneNumber"),
        // Well-formed but unknown to WeChat: asked, refused, nothing bound.
        p(
            UNKNOWN_VALUE,
            json!({"code": "0123456789abcdef0123456789abcdef"}),
        )
        .answers(400, "phone_code_invalid"),
        p(LONG_STRING, json!({"code": long(257)})).field("code"),
        p(LONG_STRING, json!({"code": long(LIMIT - 100)})).field("code"),
    ]);
    cases
}

/// The routes without a body: bad tokens, and bodies and queries they must ignore.
fn session_cases(token: &str) -> Vec<Case> {
    let mut changed = token.to_owned().into_bytes();
    changed[0] = if changed[0] == b'A' { b'B' } else { b'A' };
    let bad_tokens: Vec<Vec<u8>> = vec![
        b"Bearer".to_vec(),
        b"Bearer ".to_vec(),
        b"Basic dXNlcjpwYXNz".to_vec(),
        format!("Token {token}").into_bytes(),
        format!("Bearer {token} extra").into_bytes(),
        format!("Bearer {token}=").into_bytes(),
        [b"Bearer ".as_slice(), &changed].concat(),
        [b"Bearer ".as_slice(), token.as_bytes(), b"\xff"].concat(),
        format!(
            "Bearer {}",
            URL_SAFE.encode([0u8; 32]).trim_end_matches('=')
        )
        .into_bytes(),
        format!(
            "Bearer {}",
            URL_SAFE.encode([0u8; 31]).trim_end_matches('=')
        )
        .into_bytes(),
        format!("Bearer {}", long(LIMIT)).into_bytes(),
        format!("Bearer {}", "9".repeat(400)).into_bytes(),
    ];
    let mut cases = Vec::new();
    for (method, route) in [
        (Method::POST, REFRESH),
        (Method::POST, LOGOUT),
        (Method::GET, CHECK),
        (Method::GET, ME),
        (Method::POST, PROFILE),
        (Method::POST, PHONE),
    ] {
        let family = BAD_TOKEN;
        let mut none =
            call(family, method.clone(), route, Auth::None).answers(401, "login_required");
        if method == Method::POST {
            none.body = Some(b"{\"code\":\xff".to_vec());
        }
        cases.push(none);
        for t in &bad_tokens {
            let mut c = call(family, method.clone(), route, Auth::Raw(t.clone()))
                .answers(401, "login_required");
            if route == PROFILE || route == PHONE {
                c.content_type = Some("application/json");
                c.body = Some(b"{\"nickName\":\"x\",\"code\":\"abc\"}".to_vec());
            } else if method == Method::POST {
                c.body = Some(b"{garbage".to_vec());
            }
            cases.push(c);
        }
    }
    // Read-only routes ignore a body and a query, however bad.
    for (route, valid) in [
        (CHECK, true),
        (ME, true),
        ("/healthz", false),
        ("/readyz", false),
        ("/metrics", false),
        ("/openapi.json", false),
    ] {
        let auth = if valid { Auth::Valid } else { Auth::None };
        for (query, body) in [
            ("?%zz=%FF&&=&x", b"{\"x\":\xff".as_slice()),
            ("?token=abc&token=def", b"[[[[[[[[[["),
        ] {
            let mut c =
                call(IGNORED, Method::GET, route, auth.clone()).target(format!("{route}{query}"));
            c.content_type = Some("application/json");
            c.body = Some(body.to_vec());
            cases.push(c);
        }
        let mut huge = call(IGNORED, Method::GET, route, auth.clone());
        huge.body = Some(vec![b'{'; 2 << 20]);
        cases.push(huge);
    }
    cases
}

/// Paths and methods that are not routes.
fn routing_cases() -> Vec<Case> {
    let odd = |method: Method, target: String, status, code| Case {
        family: UNKNOWN_VALUE,
        method,
        route: "",
        target,
        auth: Auth::Valid,
        content_type: Some("application/json"),
        body: Some(b"{\xff".to_vec()),
        status,
        code,
        names: None,
    };
    vec![
        odd(Method::GET, "/api/%FF%FE".into(), 404, "not_found"),
        odd(Method::POST, "/api/login/".into(), 404, "not_found"),
        odd(Method::GET, format!("/{}", long(60_000)), 404, "not_found"),
        odd(Method::GET, "/api/me%2F".into(), 404, "not_found"),
        odd(
            Method::from_bytes(b"BREW").expect("method"),
            LOGIN.into(),
            405,
            "method_not_allowed",
        ),
        odd(Method::PUT, PROFILE.into(), 405, "method_not_allowed"),
        odd(Method::DELETE, ME.into(), 405, "method_not_allowed"),
    ]
}

/// `POST /api/login` with a number from WeChat: the pairs of fields and their forms, refused
/// before the code goes to WeChat.
fn login_phone_cases() -> Vec<Case> {
    let p = |family, v: Value| post(family, LOGIN, bytes(&v)).auth(Auth::None);
    let (ok_data, ok_iv) = (b64(32), b64(16));
    vec![
        p(UNKNOWN_VALUE, json!({"code": "abc", "phone_code": "a b"})).field("phone_code"),
        p(MISSING, json!({"code": "abc", "phone_code": ""})).field("phone_code"),
        p(LONG_STRING, json!({"code": "abc", "phone_code": long(257)})).field("phone_code"),
        p(WRONG_TYPE, json!({"code": "abc", "phone_code": 5})).field("phone_code"),
        p(
            DUPLICATED,
            json!({"code": "abc", "phone_code": "x", "encryptedData": ok_data, "iv": ok_iv}),
        )
        .field("phone_code"),
        p(MISSING, json!({"code": "abc", "encryptedData": ok_data})).field("iv"),
        p(MISSING, json!({"code": "abc", "iv": ok_iv})).field("encryptedData"),
        p(
            BAD_BASE64,
            json!({"code": "abc", "encryptedData": "!!!!", "iv": ok_iv}),
        )
        .field("encryptedData"),
        p(
            WRONG_IV_LENGTH,
            json!({"code": "abc", "encryptedData": ok_data, "iv": b64(12)}),
        )
        .field("iv"),
        p(UNKNOWN_VALUE, json!({"code": "abc", "phoneCode": "x"})).field("phoneCode"),
    ]
}

/// A well-formed ticket that was never issued.
fn unknown_ticket() -> String {
    URL_SAFE.encode([7u8; 32]).trim_end_matches('=').to_owned()
}

fn sms_send_cases() -> Vec<Case> {
    let p = |family, v: Value| post(family, SMS_SEND, bytes(&v)).auth(Auth::None);
    let raw = |family, body: &str| post(family, SMS_SEND, body.to_owned()).auth(Auth::None);
    let mut cases: Vec<Case> = json_cases(SMS_SEND, "phone")
        .into_iter()
        .map(|c| c.auth(Auth::None))
        .collect();
    cases.extend([
        p(MISSING, json!({})).field("phone"),
        p(MISSING, json!({"purpose": "login"})).field("phone"),
        p(MISSING, json!({"phone": "13800138000"})).field("purpose"),
        p(MISSING, json!({"phone": "", "purpose": "login"})).field("phone"),
        p(MISSING, json!({"phone": "+", "purpose": "login"})).field("phone"),
        p(
            WRONG_TYPE,
            json!({"phone": 13_800_138_000_u64, "purpose": "login"}),
        )
        .field("phone"),
        p(
            WRONG_TYPE,
            json!({"phone": ["13800138000"], "purpose": "login"}),
        )
        .field("phone"),
        p(WRONG_TYPE, json!({"phone": "13800138000", "purpose": 1})).field("purpose"),
        p(WRONG_TYPE, json!({"phone": "13800138000", "purpose": null})).field("purpose"),
        raw(
            DUPLICATED,
            r#"{"phone":"13800138000","phone":"13800138001","purpose":"login"}"#,
        )
        .field("phone"),
        raw(
            DUPLICATED,
            r#"{"phone":"13800138000","purpose":"login","purpose":"login"}"#,
        )
        .field("purpose"),
        raw(ABSURD_NUMBER, r#"{"phone":1e999,"purpose":"login"}"#).field("phone"),
        raw(ABSURD_NUMBER, r#"{"phone":"13800138000","purpose":-1e400}"#).field("purpose"),
        p(UNKNOWN_VALUE, json!({"phone": "12345", "purpose": "login"})).field("phone"),
        p(
            UNKNOWN_VALUE,
            json!({"phone": "23800138000", "purpose": "login"}),
        )
        .field("phone"),
        p(
            UNKNOWN_VALUE,
            json!({"phone": "008613800138000", "purpose": "login"}),
        )
        .field("phone"),
        p(
            UNKNOWN_VALUE,
            json!({"phone": "+0861380013800", "purpose": "login"}),
        )
        .field("phone"),
        p(
            UNKNOWN_VALUE,
            json!({"phone": "+861012345678", "purpose": "login"}),
        )
        .field("phone"),
        p(
            UNKNOWN_VALUE,
            json!({"phone": "１３８００１３８０００", "purpose": "login"}),
        )
        .field("phone"),
        p(
            UNKNOWN_VALUE,
            json!({"phone": "138-0013-800O", "purpose": "login"}),
        )
        .field("phone"),
        p(
            UNKNOWN_VALUE,
            json!({"phone": "13800138000", "purpose": "register"}),
        )
        .field("purpose"),
        p(
            UNKNOWN_VALUE,
            json!({"phone": "13800138000", "purpose": "LOGIN"}),
        )
        .field("purpose"),
        p(
            UNKNOWN_VALUE,
            json!({"phone": "13800138000", "purpose": "login", "code": "1"}),
        )
        .field("code"),
        p(
            LONG_STRING,
            json!({"phone": long(LIMIT - 100), "purpose": "login"}),
        )
        .field("phone"),
        p(
            LONG_STRING,
            json!({"phone": format!("+86{}", "1".repeat(20)), "purpose": "login"}),
        )
        .field("phone"),
        p(
            LONG_STRING,
            json!({"phone": "13800138000", "purpose": long(LIMIT - 100)}),
        )
        .field("purpose"),
    ]);
    cases
}

fn sms_login_cases() -> Vec<Case> {
    let p = |family, v: Value| post(family, SMS_LOGIN, bytes(&v)).auth(Auth::None);
    let raw = |family, body: &str| post(family, SMS_LOGIN, body.to_owned()).auth(Auth::None);
    let mut cases: Vec<Case> = json_cases(SMS_LOGIN, "phone")
        .into_iter()
        .map(|c| c.auth(Auth::None))
        .collect();
    let n = "13800138000";
    cases.extend([
        p(MISSING, json!({})).field("phone"),
        p(MISSING, json!({"phone": n})).field("code"),
        p(MISSING, json!({"code": "123456"})).field("phone"),
        p(MISSING, json!({"phone": n, "code": ""})).field("code"),
        p(WRONG_TYPE, json!({"phone": n, "code": 123_456})).field("code"),
        p(
            WRONG_TYPE,
            json!({"phone": n, "code": "123456", "ticket": 5}),
        )
        .field("ticket"),
        p(
            WRONG_TYPE,
            json!({"phone": n, "code": "123456", "appid": ["wx"]}),
        )
        .field("appid"),
        raw(
            DUPLICATED,
            r#"{"phone":"13800138000","code":"123456","code":"123456"}"#,
        )
        .field("code"),
        raw(ABSURD_NUMBER, r#"{"phone":"13800138000","code":1e999}"#).field("code"),
        p(UNKNOWN_VALUE, json!({"phone": n, "code": "12345"})).field("code"),
        p(UNKNOWN_VALUE, json!({"phone": n, "code": "abcdef"})).field("code"),
        p(UNKNOWN_VALUE, json!({"phone": n, "code": "12345６"})).field("code"),
        p(
            UNKNOWN_VALUE,
            json!({"phone": "1380013800", "code": "123456"}),
        )
        .field("phone"),
        p(
            UNKNOWN_VALUE,
            json!({"phone": n, "code": "123456", "ticket": "short"}),
        )
        .field("ticket"),
        p(
            UNKNOWN_VALUE,
            json!({"phone": n, "code": "123456", "ticket": "*".repeat(43)}),
        )
        .field("ticket"),
        p(
            UNKNOWN_VALUE,
            json!({"phone": n, "code": "123456", "appid": "wx-nobody"}),
        )
        .field("appid")
        .answers(400, "unknown_app"),
        p(
            UNKNOWN_VALUE,
            json!({"phone": n, "code": "123456", "password": "x"}),
        )
        .field("password"),
        // Well-formed: no code was ever sent; a ticket never issued.
        p(
            UNKNOWN_VALUE,
            json!({"phone": "13900000001", "code": "123456"}),
        )
        .answers(400, "sms_code_expired"),
        p(
            UNKNOWN_VALUE,
            json!({"phone": n, "code": "123456", "ticket": unknown_ticket()}),
        )
        .answers(401, "ticket_invalid"),
        p(LONG_STRING, json!({"phone": n, "code": long(LIMIT - 100)})).field("code"),
        p(
            LONG_STRING,
            json!({"phone": n, "code": "123456", "ticket": long(44)}),
        )
        .field("ticket"),
    ]);
    cases
}

fn password_cases() -> Vec<Case> {
    let p = |family, v: Value| post(family, PASSWORD, bytes(&v)).auth(Auth::None);
    let raw = |family, body: &str| post(family, PASSWORD, body.to_owned()).auth(Auth::None);
    let mut cases: Vec<Case> = json_cases(PASSWORD, "phone")
        .into_iter()
        .map(|c| c.auth(Auth::None))
        .collect();
    let n = "13900000002";
    cases.extend([
        p(MISSING, json!({})).field("phone"),
        p(MISSING, json!({"phone": n})).field("password"),
        p(MISSING, json!({"phone": n, "password": ""})).field("password"),
        p(WRONG_TYPE, json!({"phone": n, "password": 12_345_678})).field("password"),
        p(WRONG_TYPE, json!({"phone": n, "password": null})).field("password"),
        raw(
            DUPLICATED,
            r#"{"phone":"13900000002","password":"a","password":"b"}"#,
        )
        .field("password"),
        raw(ABSURD_NUMBER, r#"{"phone":"13900000002","password":1e999}"#).field("password"),
        // A new number's password below the policy: nothing is registered.
        p(UNKNOWN_VALUE, json!({"phone": n, "password": "short"})).field("password"),
        p(
            UNKNOWN_VALUE,
            json!({"phone": n, "password": "tab\there!!"}),
        )
        .field("password"),
        p(
            UNKNOWN_VALUE,
            json!({"phone": n, "password": "nul\u{0}here!!"}),
        )
        .field("password"),
        p(
            UNKNOWN_VALUE,
            json!({"phone": "phone", "password": "long enough"}),
        )
        .field("phone"),
        p(
            UNKNOWN_VALUE,
            json!({"phone": n, "password": "long enough", "ticket": "t"}),
        )
        .field("ticket"),
        p(
            UNKNOWN_VALUE,
            json!({"phone": n, "password": "long enough", "appid": ""}),
        )
        .field("appid")
        .answers(400, "unknown_app"),
        p(
            UNKNOWN_VALUE,
            json!({"phone": n, "password": "long enough", "code": "123456"}),
        )
        .field("code"),
        // Well-formed, with a ticket never issued: the registration is refused whole.
        p(
            UNKNOWN_VALUE,
            json!({"phone": n, "password": "long enough", "ticket": unknown_ticket()}),
        )
        .answers(401, "ticket_invalid"),
        p(LONG_STRING, json!({"phone": n, "password": long(129)})).field("password"),
        p(
            LONG_STRING,
            json!({"phone": n, "password": long(LIMIT - 100)}),
        )
        .field("password"),
    ]);
    cases
}

/// One request, which the server must answer: a dropped or reset connection, or a body cut
/// short, fails the test here, naming the case. Answers never mention a session_key.
async fn answered(app: &TestApp, case: &Case, token: &str, what: &str) -> Resp {
    let mut req = app.http.request(case.method.clone(), app.url(&case.target));
    match &case.auth {
        Auth::None => {}
        Auth::Valid => req = req.bearer_auth(token),
        Auth::Raw(v) => {
            req = req.header(
                AUTHORIZATION,
                HeaderValue::from_bytes(v).expect("a header value"),
            );
        }
    }
    if let Some(ct) = case.content_type {
        req = req.header(CONTENT_TYPE, ct);
    }
    if let Some(b) = &case.body {
        req = req.body(b.clone());
    }
    let resp = req
        .send()
        .await
        .unwrap_or_else(|e| panic!("{what}: the server did not answer: {e}"));
    let status = resp.status().as_u16();
    let headers = resp.headers().clone();
    let body = resp
        .bytes()
        .await
        .unwrap_or_else(|e| panic!("{what}: the answer was cut short: {e}"));
    let text = String::from_utf8_lossy(&body).into_owned();
    Resp {
        status,
        headers,
        text,
    }
}

/// What is wrong with the answer to a case: nothing, or a list of problems.
fn problems(
    r: &Resp,
    case: &Case,
    documented: &BTreeMap<(String, String), BTreeSet<u16>>,
) -> Vec<String> {
    let mut out = Vec::new();
    if let Some(statuses) =
        documented.get(&(case.method.as_str().to_lowercase(), case.route.to_owned()))
    {
        if !statuses.contains(&r.status) {
            out.push(format!(
                "status {} is not documented for the route ({statuses:?})",
                r.status
            ));
        }
    }
    if case.code.is_empty() {
        if r.status != case.status {
            out.push(format!(
                "expected {}, got {} {}",
                case.status,
                r.status,
                cut(&r.text)
            ));
        }
        return out;
    }
    let v: Option<Value> = serde_json::from_str(&r.text).ok();
    let error = v
        .as_ref()
        .filter(|v| v.as_object().is_some_and(|o| o.len() == 1))
        .and_then(|v| v["error"].as_object())
        .filter(|e| e.len() == 2);
    let message = error.and_then(|e| e["message"].as_str()).unwrap_or("");
    let json = r
        .headers
        .get(CONTENT_TYPE)
        .and_then(|v| v.to_str().ok())
        .is_some_and(|ct| ct.starts_with("application/json"));
    if r.status != case.status
        || error.is_none_or(|e| e["code"] != case.code)
        || message.is_empty()
        || !json
    {
        out.push(format!(
            "expected {} `{}` in the error shape, got {} {}",
            case.status,
            case.code,
            r.status,
            cut(&r.text)
        ));
    } else if let Some(f) = case.names
        && !message.contains(&format!("`{f}`"))
    {
        out.push(format!("the message does not name `{f}`: {}", cut(message)));
    }
    if r.status == 401 && r.headers.get("www-authenticate").is_none() {
        out.push("a 401 without WWW-Authenticate".to_owned());
    }
    out
}

fn cut(s: &str) -> String {
    s.chars().take(300).collect()
}

/// Status codes documented per (lowercase method, path).
fn documented_statuses() -> BTreeMap<(String, String), BTreeSet<u16>> {
    let doc: Value = serde_json::from_str(OPENAPI).expect("the OpenAPI document");
    let mut out = BTreeMap::new();
    for (path, item) in doc["paths"].as_object().expect("paths") {
        for (method, op) in item.as_object().expect("path item") {
            let Some(responses) = op["responses"].as_object() else {
                continue;
            };
            let statuses = responses.keys().filter_map(|k| k.parse().ok()).collect();
            out.insert((method.clone(), path.clone()), statuses);
        }
    }
    out
}

/// What must not change: the store's counts, and the user's profile and phone.
async fn snapshot(app: &TestApp, token: &str) -> (login_core::store::StoreStats, Value) {
    let stats = app.stats().await;
    let me = app.me(token).await;
    (stats, me)
}

#[tokio::test]
async fn every_route_answers_bad_input_with_its_documented_error_and_writes_nothing() {
    let app = TestApp::new().await;
    let (token, _) = app.login("alice").await;
    // A profile and a phone number, so that a case that wrote would show.
    app.update_profile(&token, json!({"nickName": "小明"}))
        .await
        .ok();
    app.bind_phone_of(&token, "alice").await;
    let appid = app.appid.to_string();

    let mut cases = login_cases(&appid);
    cases.extend(profile_cases());
    cases.extend(phone_cases());
    cases.extend(session_cases(&token));
    cases.extend(routing_cases());
    cases.extend(login_phone_cases());
    cases.extend(sms_send_cases());
    cases.extend(sms_login_cases());
    cases.extend(password_cases());

    // Tampered open data as the mock makes it (legacy rules, so an accepted payload would
    // change the profile).
    let tampers = [
        (Tamper::ForeignWatermark, "watermark_mismatch", None),
        (Tamper::ExpiredTimestamp, "watermark_expired", None),
        (Tamper::FlippedByte, "decrypt_failed", None),
        (
            Tamper::TruncatedBase64,
            "invalid_field",
            Some("encryptedData"),
        ),
        (Tamper::WrongIvLength, "invalid_field", Some("iv")),
    ];
    for (tamper, code, field) in tampers {
        let g = app
            .user_info(
                "alice",
                UserInfoApi::GetUserInfo,
                Some(RuleEra::Legacy),
                Some(tamper),
            )
            .await;
        let body = json!({"encryptedData": g.encrypted_data, "iv": g.iv, "rawData": g.raw_data, "signature": g.signature});
        let mut c = post(TAMPERED, PROFILE, bytes(&body)).answers(400, code);
        c.names = field;
        cases.push(c);
        let g = app.legacy_phone("alice", Some(tamper)).await;
        let body = json!({"encryptedData": g.encrypted_data, "iv": g.iv});
        let mut c = post(TAMPERED, PHONE, bytes(&body)).answers(400, code);
        c.names = field;
        cases.push(c);
    }

    // Every route with a JSON body covers every family; every route is exercised.
    for route in [LOGIN, PROFILE, PHONE, SMS_SEND, SMS_LOGIN, PASSWORD] {
        let families: BTreeSet<&str> = cases
            .iter()
            .filter(|c| c.route == route)
            .map(|c| c.family)
            .collect();
        for family in REQUIRED {
            assert!(
                families.contains(family),
                "POST {route}: no `{family}` case"
            );
        }
    }
    for route in [PROFILE, PHONE] {
        for family in [BAD_BASE64, WRONG_IV_LENGTH] {
            assert!(
                cases.iter().any(|c| c.route == route && c.family == family),
                "POST {route}: no `{family}` case"
            );
        }
    }
    let exercised: BTreeSet<(&str, &str)> =
        cases.iter().map(|c| (c.method.as_str(), c.route)).collect();
    let missing: Vec<_> = ROUTES.iter().filter(|r| !exercised.contains(*r)).collect();
    assert!(missing.is_empty(), "routes without a case: {missing:?}");

    let documented = documented_statuses();
    let jscode2session = app.calls("jscode2session").await;
    let phone_calls = app.calls("getuserphonenumber").await;
    let mut before = snapshot(&app, &token).await;
    let mut failures = Vec::new();
    for (i, case) in cases.iter().enumerate() {
        let shown: String = case.target.chars().take(60).collect();
        let body: String = case
            .body
            .as_deref()
            .map(|b| String::from_utf8_lossy(&b[..b.len().min(80)]).into_owned())
            .unwrap_or_default();
        let what = format!(
            "case {i} ({}) {} {shown} {body:?}",
            case.family, case.method
        );
        let r = answered(&app, case, &token, &what).await;
        let mut found = problems(&r, case, &documented);
        if case.route != "/openapi.json"
            && (r.text.contains("session_key") || r.text.to_lowercase().contains("sessionkey"))
        {
            found.push("the answer mentions a session_key".to_owned());
        }
        let after = snapshot(&app, &token).await;
        if after != before {
            found.push(format!("something was written: {before:?} -> {after:?}"));
            before = after;
        }
        if !found.is_empty() {
            failures.push(format!("{what}: {}", found.join("; ")));
        }
    }
    assert!(
        failures.is_empty(),
        "{} of {} cases failed:\n{}",
        failures.len(),
        cases.len(),
        failures.join("\n")
    );

    // WeChat was asked only where a well-formed value had to be checked there.
    assert_eq!(
        app.calls("jscode2session").await,
        jscode2session,
        "no login code went to WeChat"
    );
    assert_eq!(
        app.calls("getuserphonenumber").await,
        phone_calls + 1,
        "only the well-formed unknown phone code went to WeChat"
    );

    // Still serving: a returning and a new user log in, and the old token still works.
    let (again, body) = app.login("alice").await;
    assert_eq!(body["user"]["is_new"], false);
    app.me(&again).await;
    let (_, body) = app.login("bob").await;
    assert_eq!(body["user"]["is_new"], true);
    app.me(&token).await;
    assert!(app.outbox.messages().is_empty(), "no SMS was sent");

    let mut counts: BTreeMap<&str, usize> = BTreeMap::new();
    for case in &cases {
        *counts.entry(case.family).or_default() += 1;
    }
    eprintln!("login-core: {} cases {counts:?}", cases.len());
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

#[tokio::test]
async fn requests_hyper_refuses_leave_the_server_up_and_nothing_written() {
    // Bytes no HTTP client library sends. hyper answers these itself, before any handler, with
    // an empty body (not the `{"error":...}` shape): a request target that is not ASCII (400),
    // one over 64 KiB (414), a Content-Length that is not a number (400), a header line without
    // a colon (400). The README's error table does not list them.
    let app = TestApp::new().await;
    let (token, _) = app.login("alice").await;
    let before = snapshot(&app, &token).await;
    let addr = app.core.addr();
    let close = "Host: x\r\nConnection: close\r\n\r\n";
    let cases: Vec<(Vec<u8>, u16)> = vec![
        (
            [b"GET /api/me\xff HTTP/1.1\r\n".as_slice(), close.as_bytes()].concat(),
            400,
        ),
        (
            format!("GET /healthz?{} HTTP/1.1\r\n{close}", long(100_000)).into_bytes(),
            414,
        ),
        (
            format!(
                "POST /api/login HTTP/1.1\r\nContent-Type: application/json\r\n\
                 Content-Length: 99999999999999999999999\r\n{close}{{}}"
            )
            .into_bytes(),
            400,
        ),
        (
            format!("GET /healthz HTTP/1.1\r\nthis is not a header\r\n{close}").into_bytes(),
            400,
        ),
    ];
    for (request, status) in cases {
        let shown = String::from_utf8_lossy(&request[..request.len().min(60)]).into_owned();
        let (got, body) = raw_http(addr, &request).await;
        assert_eq!(got, status, "{shown}: {body}");
    }
    // A body that stops before its Content-Length: the connection ends, nothing is written.
    let truncated = format!(
        "POST /api/me/profile HTTP/1.1\r\nHost: x\r\nAuthorization: Bearer {token}\r\n\
         Content-Type: application/json\r\nContent-Length: 100\r\n\r\n{{\"nickName\":\"x\""
    );
    let mut conn = tokio::net::TcpStream::connect(addr)
        .await
        .expect("connects");
    conn.write_all(truncated.as_bytes()).await.expect("sent");
    conn.shutdown().await.expect("half-closed");
    let mut answer = Vec::new();
    let _ = tokio::time::timeout(Duration::from_secs(10), conn.read_to_end(&mut answer)).await;
    assert_eq!(snapshot(&app, &token).await, before, "nothing was written");
    // Still serving.
    let (again, _) = app.login("alice").await;
    app.me(&again).await;
    app.get("/healthz", None).await.ok();
}

#[tokio::test]
async fn a_token_from_a_successful_login_is_not_affected_by_bad_requests_in_between() {
    // Bad requests interleaved with good ones on one keep-alive client: every answer arrives
    // and the good ones keep working (no state leaks from a refused request into the next).
    let app = TestApp::new().await;
    let code = app.wx_login("alice").await;
    for body in [
        b"{".as_slice(),
        b"{\"code\":\"\xff\"}",
        b"[]",
        b"{\"code\":1e999}",
    ] {
        let r = app.post_json_bytes(LOGIN, None, body.to_vec()).await;
        assert_eq!(r.status, 400, "{}", r.text);
    }
    let token = token_of(&app.login_code(&code).await.ok());
    for body in [b"{\"nickName\":5}".as_slice(), b"{\"iv\":\"AAAA\"}", b"{"] {
        let r = app
            .post_json_bytes(PROFILE, Some(&token), body.to_vec())
            .await;
        assert_eq!(r.status, 400, "{}", r.text);
        app.me(&token).await;
    }
    assert_eq!(app.counts().await, (1, 1, 1));
}
