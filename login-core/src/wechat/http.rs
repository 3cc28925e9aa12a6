//! The reqwest adapter of [`WeChatApi`]: one HTTP request per call, each failure sorted into a
//! [`WeChatError`] (timeout, connection, HTTP status, unexpected body, WeChat errcode), and no
//! secret, code or session_key in any error message.

use std::time::Duration;

use async_trait::async_trait;
use serde_json::{Map, Value};

use super::{AppCredentials, CodeSession, IssuedToken, TokenRequest, WeChatApi, WeChatError};
use crate::domain::PhoneInfo;
use crate::ids::{AccessToken, JsCode, OpenId, PhoneCode, SessionKey, UnionId};

/// Largest response body read. WeChat's answers are a few hundred bytes; anything this big is a
/// gateway page or an attack, and must not be buffered whole.
const MAX_BODY: usize = 64 * 1024;

/// Longest errmsg kept in an error, in characters (WeChat's are under 200; a hostile body could
/// be far longer and would end up in logs).
const MAX_ERRMSG: usize = 512;

/// Why [`HttpWeChat::new`] refused its configuration.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum HttpConfigError {
    /// The base URL is not an absolute `http` or `https` URL without query or fragment.
    #[error("invalid WeChat base URL: {0}")]
    BaseUrl(String),
    /// The HTTP client could not be built.
    #[error("cannot build the WeChat HTTP client: {0}")]
    Client(String),
}

/// [`WeChatApi`] over HTTP with reqwest, against `https://api.weixin.qq.com` or a mock.
#[derive(Clone)]
pub struct HttpWeChat {
    http: reqwest::Client,
    base: String,
    timeout: Duration,
    connect_timeout: Duration,
}

impl std::fmt::Debug for HttpWeChat {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("HttpWeChat")
            .field("base", &self.base)
            .field("timeout", &self.timeout)
            .field("connect_timeout", &self.connect_timeout)
            .finish_non_exhaustive()
    }
}

impl HttpWeChat {
    /// A client for the WeChat API at `base_url` (`https://api.weixin.qq.com`, or
    /// `http://127.0.0.1:PORT` for a mock; a trailing `/` is ignored). `timeout` bounds a whole
    /// call, from connecting to the last byte of the body; `connect_timeout` bounds connecting.
    pub fn new(
        base_url: &str,
        timeout: Duration,
        connect_timeout: Duration,
    ) -> Result<Self, HttpConfigError> {
        let base = base_url.trim().trim_end_matches('/');
        let url = reqwest::Url::parse(base)
            .map_err(|e| HttpConfigError::BaseUrl(format!("{base:?}: {e}")))?;
        if !matches!(url.scheme(), "http" | "https") {
            return Err(HttpConfigError::BaseUrl(format!(
                "{base:?}: the scheme must be http or https"
            )));
        }
        if url.host_str().is_none_or(str::is_empty) {
            return Err(HttpConfigError::BaseUrl(format!("{base:?}: no host")));
        }
        if url.query().is_some() || url.fragment().is_some() {
            return Err(HttpConfigError::BaseUrl(format!(
                "{base:?}: must not have a query or fragment"
            )));
        }
        if !url.username().is_empty() || url.password().is_some() {
            // Credentials in the URL would end up in logs of the configuration.
            return Err(HttpConfigError::BaseUrl(
                "must not carry a user name or password".into(),
            ));
        }
        let http = reqwest::Client::builder()
            .timeout(timeout)
            .connect_timeout(connect_timeout)
            // WeChat never redirects; following one would send the secret in the query string
            // to wherever the redirect points.
            .redirect(reqwest::redirect::Policy::none())
            .build()
            .map_err(|e| HttpConfigError::Client(describe(e)))?;
        Ok(Self {
            http,
            base: base.to_owned(),
            timeout,
            connect_timeout,
        })
    }

    /// The base URL, without a trailing `/`.
    pub fn base_url(&self) -> &str {
        &self.base
    }

    fn url(&self, path: &str) -> String {
        format!("{}{path}", self.base)
    }

    /// Sends a request and returns the JSON object of a 200 answer without a non-zero errcode.
    async fn call(
        &self,
        request: reqwest::RequestBuilder,
    ) -> Result<Map<String, Value>, WeChatError> {
        let mut response = request.send().await.map_err(|e| self.transport(e))?;
        let status = response.status().as_u16();
        if status != 200 {
            return Err(WeChatError::Status(status));
        }
        // Read chunk by chunk to stop at MAX_BODY instead of buffering whatever arrives.
        let mut body = Vec::new();
        while let Some(chunk) = response.chunk().await.map_err(|e| self.transport(e))? {
            if body.len() + chunk.len() > MAX_BODY {
                return Err(WeChatError::Body(format!(
                    "body longer than {MAX_BODY} bytes"
                )));
            }
            body.extend_from_slice(&chunk);
        }
        parse_body(&body)
    }

    /// Sorts a reqwest failure, with the URL (and so the query string's secrets) removed.
    fn transport(&self, e: reqwest::Error) -> WeChatError {
        if e.is_timeout() {
            if e.is_connect() {
                WeChatError::Timeout(self.connect_timeout)
            } else {
                WeChatError::Timeout(self.timeout)
            }
        } else {
            WeChatError::Connect(describe(e))
        }
    }
}

/// The error and its causes on one line, without the URL.
fn describe(e: reqwest::Error) -> String {
    let e = e.without_url();
    let mut text = e.to_string();
    let mut source = std::error::Error::source(&e);
    while let Some(cause) = source {
        text.push_str(": ");
        text.push_str(&cause.to_string());
        source = cause.source();
    }
    text
}

/// Parses a 200 body: a JSON object, turned into [`WeChatError::Api`] when it carries a
/// non-zero integer errcode. The Content-Type is ignored: sns answers `text/plain`.
fn parse_body(body: &[u8]) -> Result<Map<String, Value>, WeChatError> {
    // serde_json's syntax errors name a line and column, never the content.
    let value: Value =
        serde_json::from_slice(body).map_err(|e| WeChatError::Body(format!("not JSON ({e})")))?;
    let Value::Object(object) = value else {
        return Err(WeChatError::Body("not a JSON object".into()));
    };
    match object.get("errcode") {
        None => {}
        Some(code) => {
            let errcode = code
                .as_i64()
                .ok_or_else(|| WeChatError::Body("`errcode` is not an integer".into()))?;
            if errcode != 0 {
                let errmsg = match object.get("errmsg") {
                    Some(Value::String(s)) => s.chars().take(MAX_ERRMSG).collect(),
                    _ => String::new(),
                };
                return Err(WeChatError::Api { errcode, errmsg });
            }
        }
    }
    Ok(object)
}

/// A non-empty string field. The message names the field only: values may be secrets.
fn text(object: &Map<String, Value>, field: &str) -> Result<String, WeChatError> {
    match object.get(field) {
        Some(Value::String(s)) if !s.is_empty() => Ok(s.clone()),
        Some(Value::String(_)) => Err(WeChatError::Body(format!("`{field}` is empty"))),
        Some(_) => Err(WeChatError::Body(format!("`{field}` is not a string"))),
        None => Err(WeChatError::Body(format!("`{field}` is missing"))),
    }
}

fn code_session(object: &Map<String, Value>) -> Result<CodeSession, WeChatError> {
    let unionid = match object.get("unionid") {
        None | Some(Value::Null) => None,
        Some(Value::String(s)) if s.is_empty() => None,
        Some(Value::String(s)) => Some(UnionId::new(s.clone())),
        Some(_) => return Err(WeChatError::Body("`unionid` is not a string".into())),
    };
    Ok(CodeSession {
        openid: OpenId::new(text(object, "openid")?),
        unionid,
        session_key: SessionKey::new(text(object, "session_key")?),
    })
}

fn issued_token(object: &Map<String, Value>) -> Result<IssuedToken, WeChatError> {
    let token = AccessToken::new(text(object, "access_token")?);
    let expires_in = match object.get("expires_in") {
        Some(v) => v
            .as_u64()
            .filter(|n| *n > 0)
            .ok_or_else(|| WeChatError::Body("`expires_in` is not a positive integer".into()))?,
        None => return Err(WeChatError::Body("`expires_in` is missing".into())),
    };
    Ok(IssuedToken { token, expires_in })
}

fn phone_info(object: &Map<String, Value>) -> Result<PhoneInfo, WeChatError> {
    let info = match object.get("phone_info") {
        Some(Value::Object(info)) => info,
        Some(_) => return Err(WeChatError::Body("`phone_info` is not an object".into())),
        None => return Err(WeChatError::Body("`phone_info` is missing".into())),
    };
    // Real answers send countryCode as a string; the docs show a number, so take both.
    let country_code = match info.get("countryCode") {
        Some(Value::String(s)) if !s.is_empty() => s.clone(),
        Some(Value::Number(n)) if n.as_u64().is_some() => n.to_string(),
        Some(_) => {
            return Err(WeChatError::Body(
                "`phone_info.countryCode` is not a string or an integer".into(),
            ));
        }
        None => {
            return Err(WeChatError::Body(
                "`phone_info.countryCode` is missing".into(),
            ));
        }
    };
    Ok(PhoneInfo {
        phone_number: text(info, "phoneNumber")?,
        pure_phone_number: text(info, "purePhoneNumber")?,
        country_code,
    })
}

#[async_trait]
impl WeChatApi for HttpWeChat {
    async fn code2session(
        &self,
        app: &AppCredentials,
        code: &JsCode,
    ) -> Result<CodeSession, WeChatError> {
        let request = self.http.get(self.url("/sns/jscode2session")).query(&[
            ("appid", app.appid.as_str()),
            ("secret", app.secret.expose()),
            ("js_code", code.expose()),
            ("grant_type", "authorization_code"),
        ]);
        code_session(&self.call(request).await?)
    }

    async fn access_token(
        &self,
        app: &AppCredentials,
        request: TokenRequest,
    ) -> Result<IssuedToken, WeChatError> {
        let request = match request {
            TokenRequest::Plain => self.http.get(self.url("/cgi-bin/token")).query(&[
                ("grant_type", "client_credential"),
                ("appid", app.appid.as_str()),
                ("secret", app.secret.expose()),
            ]),
            TokenRequest::Stable { force_refresh } => self
                .http
                .post(self.url("/cgi-bin/stable_token"))
                .json(&serde_json::json!({
                    "grant_type": "client_credential",
                    "appid": app.appid.as_str(),
                    "secret": app.secret.expose(),
                    "force_refresh": force_refresh,
                })),
        };
        issued_token(&self.call(request).await?)
    }

    async fn check_session(
        &self,
        token: &AccessToken,
        openid: &OpenId,
        signature: &str,
    ) -> Result<(), WeChatError> {
        let request = self.http.get(self.url("/wxa/checksession")).query(&[
            ("access_token", token.expose()),
            ("openid", openid.as_str()),
            ("signature", signature),
            ("sig_method", "hmac_sha256"),
        ]);
        // Success is `{"errcode":0,"errmsg":"ok"}`: nothing to read beyond the errcode.
        self.call(request).await.map(|_| ())
    }

    async fn phone_number(
        &self,
        token: &AccessToken,
        code: &PhoneCode,
        openid: Option<&OpenId>,
    ) -> Result<PhoneInfo, WeChatError> {
        let mut body = serde_json::json!({ "code": code.expose() });
        if let (Some(openid), Value::Object(map)) = (openid, &mut body) {
            map.insert("openid".into(), Value::String(openid.as_str().to_owned()));
        }
        let request = self
            .http
            .post(self.url("/wxa/business/getuserphonenumber"))
            .query(&[("access_token", token.expose())])
            .json(&body);
        phone_info(&self.call(request).await?)
    }
}

#[cfg(test)]
mod tests {
    use std::time::Duration;

    use wiremock::matchers::{body_json, method, path, query_param};
    use wiremock::{Mock, MockServer, ResponseTemplate};

    use super::*;
    use crate::ids::{AppId, AppSecret};

    const SECRET: &str = "s3cr3t-app-secret";
    const CODE: &str = "0c0de0c0de0c0de0c0de0c0de0c0de0";

    fn app() -> AppCredentials {
        AppCredentials {
            appid: AppId::new("wx1234567890abcdef"),
            secret: AppSecret::new(SECRET),
        }
    }

    /// The access token and phone code of the getuserphonenumber tests.
    const TOKEN: &str = "89_tok";
    const PHONE_CODE: &str = "e31968a7";

    /// A client of `base_url` with this request timeout (and a connect timeout of 1 s).
    fn client_at(base_url: &str, timeout: Duration) -> HttpWeChat {
        HttpWeChat::new(base_url, timeout, Duration::from_secs(1)).expect("valid base URL")
    }

    fn client(server: &MockServer) -> HttpWeChat {
        client_at(&format!("{}/", server.uri()), Duration::from_secs(2))
    }

    /// A new server with `mock` mounted.
    async fn serve(mock: Mock) -> MockServer {
        let server = MockServer::start().await;
        mock.mount(&server).await;
        server
    }

    /// A server answering every GET with `answer`.
    async fn answering(answer: ResponseTemplate) -> MockServer {
        serve(Mock::given(method("GET")).respond_with(answer)).await
    }

    /// Mounts a jscode2session answer with `body` (as text/plain, as WeChat sends it).
    async fn sns_answers(body: &str) -> MockServer {
        serve(
            Mock::given(method("GET"))
                .and(path("/sns/jscode2session"))
                .respond_with(
                    ResponseTemplate::new(200).set_body_raw(body.to_owned(), "text/plain"),
                ),
        )
        .await
    }

    /// jscode2session of [`CODE`] for [`app`] through `api`.
    async fn exchange_with(api: &HttpWeChat) -> Result<CodeSession, WeChatError> {
        api.code2session(&app(), &JsCode::new(CODE)).await
    }

    async fn exchange(server: &MockServer) -> Result<CodeSession, WeChatError> {
        exchange_with(&client(server)).await
    }

    /// A plain (cgi-bin/token) access token for [`app`].
    async fn plain_token(server: &MockServer) -> Result<IssuedToken, WeChatError> {
        client(server)
            .access_token(&app(), TokenRequest::Plain)
            .await
    }

    /// getuserphonenumber of [`PHONE_CODE`] with [`TOKEN`], for `openid` if given.
    async fn phone(server: &MockServer, openid: Option<&str>) -> Result<PhoneInfo, WeChatError> {
        let openid = openid.map(OpenId::new);
        client(server)
            .phone_number(
                &AccessToken::new(TOKEN),
                &PhoneCode::new(PHONE_CODE),
                openid.as_ref(),
            )
            .await
    }

    #[track_caller]
    fn assert_body_error(r: Result<impl std::fmt::Debug, WeChatError>, needle: &str) {
        match r {
            Err(WeChatError::Body(m)) => assert!(m.contains(needle), "{m:?} lacks {needle:?}"),
            other => panic!("expected a body error, got {other:?}"),
        }
    }

    #[tokio::test]
    async fn code2session_sends_the_query_and_reads_text_plain() {
        let server = serve(
            Mock::given(method("GET"))
                .and(path("/sns/jscode2session"))
                .and(query_param("appid", "wx1234567890abcdef"))
                .and(query_param("secret", SECRET))
                .and(query_param("js_code", CODE))
                .and(query_param("grant_type", "authorization_code"))
                .respond_with(ResponseTemplate::new(200).set_body_raw(
                    r#"{"session_key":"\/IkZjlZpIUAFICUVPmWbmw==","openid":"odoiU5CcaqZL3u32_2YELtHaA1pY","unionid":"or4zX05h_Ykt4ju0TUfx3CQsvfTo"}"#,
                    "text/plain",
                ))
                .expect(1),
        )
        .await;
        let s = exchange(&server).await.expect("success");
        assert_eq!(s.openid.as_str(), "odoiU5CcaqZL3u32_2YELtHaA1pY");
        assert_eq!(s.session_key.expose(), "/IkZjlZpIUAFICUVPmWbmw==");
        assert_eq!(
            s.unionid.as_ref().map(UnionId::as_str),
            Some("or4zX05h_Ykt4ju0TUfx3CQsvfTo")
        );
    }

    #[tokio::test]
    async fn success_may_carry_errcode_zero() {
        let server =
            sns_answers(r#"{"errcode":0,"errmsg":"ok","session_key":"a2V5","openid":"o1"}"#).await;
        let s = exchange(&server).await.expect("success");
        assert_eq!(s.openid.as_str(), "o1");
        assert_eq!(s.unionid, None);
    }

    #[tokio::test]
    async fn nonzero_errcode_is_an_api_error() {
        let server = sns_answers(
            r#"{"errcode":40029,"errmsg":"invalid code, rid: 66c69111-4157f271-729ca238"}"#,
        )
        .await;
        match exchange(&server).await {
            Err(WeChatError::Api { errcode, errmsg }) => {
                assert_eq!(errcode, 40029);
                assert_eq!(errmsg, "invalid code, rid: 66c69111-4157f271-729ca238");
            }
            other => panic!("expected an API error, got {other:?}"),
        }
        // An errcode wins over success fields, and a missing errmsg is tolerated.
        let server = sns_answers(r#"{"errcode":-1,"openid":"o1","session_key":"k"}"#).await;
        let err = exchange(&server).await.expect_err("errcode -1");
        assert!(err.is_system_busy(), "{err:?}");
    }

    #[tokio::test]
    async fn errcode_must_be_an_integer() {
        for body in [
            r#"{"errcode":"40029","errmsg":"invalid code"}"#,
            r#"{"errcode":40029.0,"errmsg":"invalid code"}"#,
            r#"{"errcode":null,"openid":"o1","session_key":"k"}"#,
        ] {
            let server = sns_answers(body).await;
            assert_body_error(exchange(&server).await, "errcode");
        }
    }

    #[tokio::test]
    async fn missing_or_mistyped_fields_are_body_errors_that_do_not_echo_values() {
        let cases = [
            (r#"{"openid":"o1"}"#, "session_key"),
            (r#"{"session_key":"k"}"#, "openid"),
            (r#"{"openid":"","session_key":"k"}"#, "openid"),
            (r#"{"openid":"o1","session_key":12345678}"#, "session_key"),
            (
                r#"{"openid":"o1","session_key":"k","unionid":7}"#,
                "unionid",
            ),
            (r#"[{"openid":"o1"}]"#, "object"),
            ("", "JSON"),
        ];
        for (body, needle) in cases {
            let server = sns_answers(body).await;
            let r = exchange(&server).await;
            if let Err(e) = &r {
                assert!(!e.to_string().contains("12345678"), "{e}");
            }
            assert_body_error(r, needle);
        }
    }

    #[tokio::test]
    async fn non_json_200_is_a_body_error() {
        let server = answering(
            ResponseTemplate::new(200)
                .set_body_raw("<html><body>502 Bad Gateway</body></html>", "text/html"),
        )
        .await;
        assert_body_error(exchange(&server).await, "not JSON");
    }

    #[tokio::test]
    async fn oversized_body_is_refused() {
        let big = format!(
            r#"{{"openid":"o1","session_key":"k","pad":"{}"}}"#,
            "x".repeat(MAX_BODY)
        );
        let server = sns_answers(&big).await;
        assert_body_error(exchange(&server).await, "longer than");
    }

    #[tokio::test]
    async fn http_errors_are_status_errors() {
        for status in [500, 404, 302] {
            let server = serve(
                Mock::given(method("GET"))
                    .respond_with(
                        ResponseTemplate::new(status)
                            .insert_header("location", "http://elsewhere.invalid/")
                            .set_body_string(r#"{"openid":"o1","session_key":"k"}"#),
                    )
                    .expect(1),
            )
            .await;
            match exchange(&server).await {
                Err(WeChatError::Status(s)) => assert_eq!(s, status),
                other => panic!("{status}: expected a status error, got {other:?}"),
            }
        }
    }

    #[tokio::test]
    async fn slow_answer_is_a_timeout() {
        let server = answering(
            ResponseTemplate::new(200)
                .set_body_string(r#"{"openid":"o1","session_key":"k"}"#)
                .set_delay(Duration::from_millis(500)),
        )
        .await;
        let api = client_at(&server.uri(), Duration::from_millis(100));
        let err = exchange_with(&api).await.expect_err("too slow");
        assert!(
            matches!(err, WeChatError::Timeout(d) if d == Duration::from_millis(100)),
            "{err:?}"
        );
        assert_eq!(err.label(), "timeout");
    }

    #[tokio::test]
    async fn refused_connection_is_a_connect_error_without_secrets() {
        let listener = std::net::TcpListener::bind("127.0.0.1:0").expect("bind");
        let port = listener.local_addr().expect("addr").port();
        drop(listener);
        let api = client_at(&format!("http://127.0.0.1:{port}"), Duration::from_secs(2));
        let err = exchange_with(&api).await.expect_err("nobody listens");
        let WeChatError::Connect(message) = &err else {
            panic!("expected a connect error, got {err:?}");
        };
        for leak in [SECRET, CODE, "js_code", "127.0.0.1"] {
            assert!(!message.contains(leak), "{leak} in {message}");
            assert!(!format!("{err:?}").contains(leak), "{leak} in {err:?}");
        }
    }

    #[tokio::test]
    async fn plain_token_request_and_answer() {
        let server = serve(
            Mock::given(method("GET"))
                .and(path("/cgi-bin/token"))
                .and(query_param("grant_type", "client_credential"))
                .and(query_param("appid", "wx1234567890abcdef"))
                .and(query_param("secret", SECRET))
                .respond_with(
                    ResponseTemplate::new(200)
                        .set_body_string(r#"{"access_token":"89_tok","expires_in":7200}"#),
                )
                .expect(1),
        )
        .await;
        let t = plain_token(&server).await.expect("token");
        assert_eq!(t.token.expose(), "89_tok");
        assert_eq!(t.expires_in, 7200);
    }

    #[tokio::test]
    async fn stable_token_posts_json_with_force_refresh() {
        for force in [false, true] {
            let server = serve(
                Mock::given(method("POST"))
                    .and(path("/cgi-bin/stable_token"))
                    .and(body_json(serde_json::json!({
                        "grant_type": "client_credential",
                        "appid": "wx1234567890abcdef",
                        "secret": SECRET,
                        "force_refresh": force,
                    })))
                    .respond_with(
                        ResponseTemplate::new(200)
                            .set_body_string(r#"{"access_token":"89_st","expires_in":345}"#),
                    )
                    .expect(1),
            )
            .await;
            let t = client(&server)
                .access_token(
                    &app(),
                    TokenRequest::Stable {
                        force_refresh: force,
                    },
                )
                .await
                .expect("token");
            assert_eq!((t.token.expose(), t.expires_in), ("89_st", 345));
        }
    }

    #[tokio::test]
    async fn token_answers_without_a_usable_expiry_are_body_errors() {
        for (body, needle) in [
            (r#"{"access_token":"t"}"#, "expires_in"),
            (r#"{"access_token":"t","expires_in":"7200"}"#, "expires_in"),
            (r#"{"access_token":"t","expires_in":-5}"#, "expires_in"),
            (r#"{"access_token":"t","expires_in":0}"#, "expires_in"),
            (r#"{"expires_in":7200}"#, "access_token"),
        ] {
            let server = answering(ResponseTemplate::new(200).set_body_string(body)).await;
            assert_body_error(plain_token(&server).await, needle);
        }
    }

    #[tokio::test]
    async fn check_session_sends_the_signature() {
        let server = serve(
            Mock::given(method("GET"))
                .and(path("/wxa/checksession"))
                .and(query_param("access_token", TOKEN))
                .and(query_param("openid", "o1"))
                .and(query_param("signature", "abc"))
                .and(query_param("sig_method", "hmac_sha256"))
                .respond_with(
                    ResponseTemplate::new(200).set_body_string(r#"{"errcode":0,"errmsg":"ok"}"#),
                )
                .expect(1),
        )
        .await;
        client(&server)
            .check_session(&AccessToken::new(TOKEN), &OpenId::new("o1"), "abc")
            .await
            .expect("valid");
    }

    async fn phone_answers(body: &str, expected_request: serde_json::Value) -> MockServer {
        serve(
            Mock::given(method("POST"))
                .and(path("/wxa/business/getuserphonenumber"))
                .and(query_param("access_token", TOKEN))
                .and(body_json(expected_request))
                .respond_with(ResponseTemplate::new(200).set_body_string(body.to_owned()))
                .expect(1),
        )
        .await
    }

    #[tokio::test]
    async fn phone_number_reads_phone_info_with_string_or_number_country_code() {
        let server = phone_answers(
            r#"{"errcode":0,"errmsg":"ok","phone_info":{"phoneNumber":"+85291234567","purePhoneNumber":"91234567","countryCode":"852","watermark":{"timestamp":1657521830,"appid":"wx1"}}}"#,
            serde_json::json!({"code": "e31968a7"}),
        )
        .await;
        let info = phone(&server, None).await.expect("phone");
        assert_eq!(
            info,
            PhoneInfo {
                phone_number: "+85291234567".into(),
                pure_phone_number: "91234567".into(),
                country_code: "852".into(),
            }
        );
        let server = phone_answers(
            r#"{"errcode":0,"errmsg":"ok","phone_info":{"phoneNumber":"13800138000","purePhoneNumber":"13800138000","countryCode":86}}"#,
            serde_json::json!({"code": "e31968a7", "openid": "o1"}),
        )
        .await;
        let info = phone(&server, Some("o1")).await.expect("phone");
        assert_eq!(info.country_code, "86");
    }

    #[tokio::test]
    async fn phone_number_without_phone_info_is_a_body_error() {
        for (body, needle) in [
            (r#"{"errcode":0,"errmsg":"ok"}"#, "phone_info"),
            (
                r#"{"errcode":0,"errmsg":"ok","phone_info":"x"}"#,
                "phone_info",
            ),
            (
                r#"{"errcode":0,"errmsg":"ok","phone_info":{"phoneNumber":"1","purePhoneNumber":"1"}}"#,
                "countryCode",
            ),
            (
                r#"{"errcode":0,"errmsg":"ok","phone_info":{"phoneNumber":"1","countryCode":"86"}}"#,
                "purePhoneNumber",
            ),
            (
                r#"{"errcode":0,"errmsg":"ok","phone_info":{"phoneNumber":"1","purePhoneNumber":"1","countryCode":-86}}"#,
                "countryCode",
            ),
        ] {
            let server = phone_answers(body, serde_json::json!({"code": "e31968a7"})).await;
            assert_body_error(phone(&server, None).await, needle);
        }
    }

    #[test]
    fn base_urls_are_checked() {
        let d = Duration::from_secs(1);
        let ok = HttpWeChat::new("https://api.weixin.qq.com/", d, d).expect("valid");
        assert_eq!(ok.base_url(), "https://api.weixin.qq.com");
        assert_eq!(
            ok.url("/cgi-bin/token"),
            "https://api.weixin.qq.com/cgi-bin/token"
        );
        for bad in [
            "",
            "api.weixin.qq.com",
            "ftp://api.weixin.qq.com",
            "http://127.0.0.1:1/?a=b",
            "http://user:pw@127.0.0.1:1",
        ] {
            assert!(
                matches!(HttpWeChat::new(bad, d, d), Err(HttpConfigError::BaseUrl(_))),
                "{bad:?} accepted"
            );
        }
        let err = HttpWeChat::new("http://user:pw@127.0.0.1:1", d, d).expect_err("refused");
        assert!(!err.to_string().contains("pw"), "{err}");
    }

    #[test]
    fn long_errmsgs_are_cut() {
        let body = format!(r#"{{"errcode":45011,"errmsg":"{}"}}"#, "码".repeat(5000));
        match parse_body(body.as_bytes()) {
            Err(WeChatError::Api { errcode, errmsg }) => {
                assert_eq!(errcode, 45011);
                assert_eq!(errmsg.chars().count(), MAX_ERRMSG);
            }
            other => panic!("{other:?}"),
        }
    }
}
