//! A test mock per test: its own port, its own state, a frozen clock; one method per vendor call
//! so tests read like the backend's side of a login.

use std::time::Duration;

use mock_server::config::{Config, SeedFile};
use mock_server::engine::{AppView, LoginGrant, PhoneGrant};
use mock_server::ids::AppId;
use mock_server::tencent::{self, Key, SmsConfigView};
use mock_server::{Clock, MockHandle, Timestamp};
use serde_json::Value;

/// 2024-08-22T01:14:57Z: the time of the captured 40029 in the reference.
pub const START: i64 = 0x66c6_9111;

/// A raw vendor answer: what a backend's HTTP client sees.
#[derive(Debug)]
pub struct Raw {
    pub status: u16,
    pub content_type: Option<String>,
    pub date: Option<String>,
    pub body: String,
}

impl Raw {
    pub fn json(&self) -> Value {
        serde_json::from_str(&self.body)
            .unwrap_or_else(|e| panic!("body is not JSON ({e}): {}", self.body))
    }

    /// The errcode, 0 when the body has none (how SDKs judge success).
    pub fn errcode(&self) -> i64 {
        self.json().get("errcode").map_or(0, |c| {
            c.as_i64()
                .unwrap_or_else(|| panic!("errcode is not an integer: {}", self.body))
        })
    }

    /// errmsg without its rid suffix.
    pub fn errmsg_base(&self) -> String {
        let msg = self.json()["errmsg"].as_str().unwrap().to_owned();
        let cut = msg
            .find(", rid: ")
            .or_else(|| msg.find(" hint: ["))
            .or_else(|| msg.find(" rid: "))
            .unwrap_or(msg.len());
        msg[..cut].to_owned()
    }

    /// Asserts a WeChat error: HTTP 200 and exactly `{"errcode":N,"errmsg":"..."}`, in that key
    /// order (checked on the raw text: a parsed map would not keep the order).
    #[track_caller]
    pub fn assert_err(&self, errcode: i64) {
        assert_eq!(self.status, 200, "WeChat errors are HTTP 200: {self:?}");
        assert_eq!(self.errcode(), errcode, "body: {}", self.body);
        let prefix = format!(r#"{{"errcode":{errcode},"errmsg":""#);
        assert!(
            self.body.starts_with(&prefix)
                && self.body.ends_with("\"}")
                && self.json().as_object().is_some_and(|o| o.len() == 2),
            "not the errcode/errmsg shape: {}",
            self.body
        );
    }
}

pub struct TestMock {
    pub mock: MockHandle,
    pub http: reqwest::Client,
    pub app: AppView,
}

impl TestMock {
    /// A mock with seed `test`, a frozen clock at [`START`] and no seed file.
    pub async fn new() -> Self {
        Self::with(SeedFile::default()).await
    }

    pub async fn with(seed_file: SeedFile) -> Self {
        Self::with_config(Config {
            seed: "test".into(),
            seed_file,
            clock: Clock::manual(Timestamp::from_secs(START)),
            ..Config::default()
        })
        .await
    }

    pub async fn with_config(config: Config) -> Self {
        let mock = mock_server::spawn(config).await.expect("mock starts");
        let app = mock.default_app();
        Self {
            mock,
            http: reqwest::Client::new(),
            app,
        }
    }

    pub fn url(&self, path_and_query: &str) -> String {
        format!("{}{path_and_query}", self.mock.base_url())
    }

    pub async fn get(&self, path_and_query: &str) -> Raw {
        raw(self
            .http
            .get(self.url(path_and_query))
            .send()
            .await
            .expect("request completes"))
        .await
    }

    /// POSTs `body` as given, with no Content-Type header.
    pub async fn post(&self, path_and_query: &str, body: &str) -> Raw {
        raw(self
            .http
            .post(self.url(path_and_query))
            .body(body.to_owned())
            .send()
            .await
            .expect("request completes"))
        .await
    }

    pub fn advance(&self, d: Duration) {
        self.mock.clock().advance(d);
    }

    pub async fn set_options(&self, patch: Value) {
        self.mock
            .control()
            .set_options(&patch)
            .await
            .expect("options accepted");
    }

    /// `wx.login` for `user` in the default app.
    pub async fn login(&self, user: &str) -> LoginGrant {
        self.login_in(&self.app.appid, user).await
    }

    pub async fn login_in(&self, appid: &AppId, user: &str) -> LoginGrant {
        self.mock
            .control()
            .wx_login(appid, user)
            .await
            .expect("wx.login succeeds")
    }

    pub async fn phone_code(&self, user: &str) -> PhoneGrant {
        self.mock
            .control()
            .wx_phone_code(&self.app.appid, user)
            .await
            .expect("getPhoneNumber succeeds")
    }

    /// jscode2session with the default app's credentials.
    pub async fn exchange(&self, code: &str) -> Raw {
        self.get(&format!(
            "/sns/jscode2session?appid={}&secret={}&js_code={code}&grant_type=authorization_code",
            self.app.appid, self.app.secret
        ))
        .await
    }

    /// A fresh cgi-bin/token for the default app.
    pub async fn token(&self) -> String {
        let r = self
            .get(&format!(
                "/cgi-bin/token?grant_type=client_credential&appid={}&secret={}",
                self.app.appid, self.app.secret
            ))
            .await;
        r.json()["access_token"]
            .as_str()
            .expect("token issued")
            .to_owned()
    }

    /// A control-plane request; returns status and JSON body.
    pub async fn control(
        &self,
        method: reqwest::Method,
        path: &str,
        body: Option<Value>,
    ) -> (u16, Value) {
        let mut req = self
            .http
            .request(method, self.url(&format!("/__mock__{path}")));
        if let Some(b) = body {
            req = req.json(&b);
        }
        let resp = req.send().await.expect("request completes");
        let status = resp.status().as_u16();
        let text = resp.text().await.expect("body");
        (
            status,
            serde_json::from_str(&text).unwrap_or(Value::String(text)),
        )
    }
}

/// Tencent Cloud SMS through the mock, as a backend's SMS client would call it.
impl TestMock {
    /// The gateway's configuration (the seeded defaults unless changed).
    pub fn sms(&self) -> SmsConfigView {
        self.mock.sms_config()
    }

    /// The `Host` header reqwest sends to the mock.
    pub fn host(&self) -> String {
        self.mock.addr().to_string()
    }

    /// A SendSms body for the default SmsSdkAppId, sign name and first (two-parameter)
    /// template.
    pub fn sms_body(&self, phones: &[&str], params: &[&str]) -> Value {
        let c = self.sms();
        serde_json::json!({
            "PhoneNumberSet": phones,
            "SmsSdkAppId": c.sdk_app_ids[0],
            "SignName": c.sign_names[0].name,
            "TemplateId": c.templates[0].spec.id,
            "TemplateParamSet": params,
        })
    }

    /// Every header of a SendSms POST of `body` signed with the configured key at `timestamp`,
    /// but `Host`, which reqwest sets itself.
    pub fn sms_headers(&self, body: &str, timestamp: i64) -> Vec<(&'static str, String)> {
        let c = self.sms();
        let key = Key {
            secret_id: &c.secret_id,
            secret_key: &c.secret_key,
        };
        tencent::send_sms_headers(
            &key,
            &self.host(),
            "ap-guangzhou",
            timestamp,
            body.as_bytes(),
        )
        .into_iter()
        .filter(|(name, _)| *name != "Host")
        .collect()
    }

    /// The mock's time, Unix seconds: what a client's `X-TC-Timestamp` says.
    pub fn now_secs(&self) -> i64 {
        self.mock.clock().now().secs()
    }

    /// POSTs `body` to `path` with exactly these headers.
    pub async fn post_with(&self, path: &str, headers: &[(&str, String)], body: &str) -> Raw {
        let mut req = self.http.post(self.url(path)).body(body.to_owned());
        for (name, value) in headers {
            req = req.header(*name, value);
        }
        raw(req.send().await.expect("request completes")).await
    }

    /// SendSms, signed right, now.
    pub async fn send_sms(&self, body: &Value) -> Raw {
        let text = body.to_string();
        let headers = self.sms_headers(&text, self.now_secs());
        self.post_with(tencent::SMS_PATH, &headers, &text).await
    }
}

async fn raw(resp: reqwest::Response) -> Raw {
    let status = resp.status().as_u16();
    let header = |name: &str| {
        resp.headers()
            .get(name)
            .and_then(|v| v.to_str().ok())
            .map(str::to_owned)
    };
    let content_type = header("content-type");
    let date = header("date");
    let body = resp.text().await.expect("body arrives");
    Raw {
        status,
        content_type,
        date,
        body,
    }
}

/// hex HMAC-SHA256 keyed by the session_key string: the checksession signature.
pub fn signature(session_key: &str) -> String {
    mock_server::engine::login_signature(session_key, b"")
}

/// Asserts a `wxa/*` error: the errcode/errmsg shape, `text` then ` rid: ...` as errmsg, and
/// `application/json`.
#[track_caller]
pub fn assert_wxa_err(r: &Raw, errcode: i64, text: &str) {
    r.assert_err(errcode);
    assert_eq!(r.errmsg_base(), text, "{}", r.body);
    let msg = r.json()["errmsg"].as_str().unwrap_or_default().to_owned();
    assert!(msg.starts_with(&format!("{text} rid: ")), "{msg}");
    assert_eq!(r.content_type.as_deref(), Some("application/json"));
}
