//! The mock's vendor surface without HTTP: an arbitrary request (endpoint, method, query string,
//! body bytes), optionally carrying real credentials, a real access token, a real login or phone
//! code and a fault rule, is parsed, judged by the engine and rendered exactly as `vendor::entry`
//! does (`mock_server::testing::InProcess`). Never a panic; a success is JSON; an error is
//! exactly `{"errcode":N,"errmsg":"..."}` with N in the catalogue.
#![no_main]

use arbitrary::Arbitrary;
use bytes::Bytes;
use libfuzzer_sys::fuzz_target;
use mock_server::catalogue;
use mock_server::clock::{Clock, Timestamp};
use mock_server::endpoint::Endpoint;
use mock_server::faults::FaultSpec;
use mock_server::ids::UserHandle;
use mock_server::testing::InProcess;

const PATHS: [&str; 21] = [
    "/sns/jscode2session",
    "/cgi-bin/token",
    "/cgi-bin/stable_token",
    "/wxa/checksession",
    "/wxa/resetusersessionkey",
    "/wxa/business/getuserphonenumber",
    "/wxa/getpaidunionid",
    "/wxa/getuserriskrank",
    "/wxa/business/checkencryptedmsg",
    "/wxa/business/getuserencryptkey",
    "/cgi-bin/component/api_component_token",
    "/sns/component/jscode2session",
    "/wxa/getpluginopenpid",
    "/SNS/jscode2session",
    "/",
    "/cgi-bin/openapi/quota/get",
    "/cgi-bin/clear_quota",
    "/cgi-bin/clear_quota/v2",
    "/cgi-bin/openapi/rid/get",
    "/cgi-bin/user/info",
    "/wxa/msg_sec_check",
];

#[derive(Arbitrary, Debug)]
struct Input {
    path: u8,
    post: bool,
    /// Prepend the default app's `appid`, `secret` and a matching `grant_type`.
    credentials: bool,
    /// Prepend a valid `access_token`.
    token: bool,
    /// Prepend a fresh `js_code`, `openid` and `signature` of a logged-in user, and the
    /// `transaction_id` of their payment.
    login: bool,
    /// Put a fresh phone code in a JSON body instead of `body`.
    phone_code: bool,
    /// Prepend the `component_appid` and a valid `component_access_token` of a third-party
    /// platform the default app authorised; an empty `body` becomes the platform's
    /// `api_component_token` body, with its current ticket.
    platform: bool,
    /// Prepend a plugin app's `access_token` and put a fresh `wx.pluginLogin` code of it in a
    /// JSON body (instead of `body`, unless `phone_code`).
    plugin_code: bool,
    /// A fault rule on every endpoint: index into the catalogue, and whether it consumes codes.
    fault: Option<(u8, bool)>,
    /// Prepend the token of an official account and the openid of its follower.
    follower: bool,
    /// Turn `stub_unmodelled` on.
    stub: bool,
    /// Lower `token_daily_limit` to this (at least 1).
    token_limit: Option<u8>,
    /// Seconds after 2024-08-22 (years up to 2160: the `Date` header only goes to 9999).
    later: u32,
    query: String,
    body: Vec<u8>,
}

fuzz_target!(|input: Input| {
    let start = Timestamp::from_secs(1_724_289_297);
    let clock = Clock::manual(start);
    let mock = InProcess::new("fuzz", clock.clone()).expect("mock");
    let engine = mock.engine();
    let app = engine.default_app();
    let user = UserHandle::new("alice");
    let path = PATHS[usize::from(input.path) % PATHS.len()];
    let endpoint = Endpoint::of_path(path);

    let mut query = String::new();
    if input.stub || input.token_limit.is_some() {
        let mut patch = serde_json::json!({"stub_unmodelled": input.stub});
        if let Some(n) = input.token_limit {
            patch["token_daily_limit"] = serde_json::json!(n.max(1));
        }
        engine.patch_options(&patch).expect("valid options");
    }
    if input.follower {
        let oa = engine
            .create_app(mock_server::config::AppSpec {
                kind: Some(mock_server::config::AppKind::OfficialAccount),
                ..Default::default()
            })
            .expect("an official account");
        let follower = engine
            .follow(
                &oa.appid,
                mock_server::engine::FollowerSpec {
                    user: user.clone(),
                    subscribe: None,
                    subscribe_scene: None,
                    qr_scene: None,
                    qr_scene_str: None,
                    remark: None,
                    tagid_list: None,
                },
            )
            .expect("a follower");
        let minted = mock.get(&format!(
            "/cgi-bin/token?grant_type=client_credential&appid={}&secret={}",
            oa.appid, oa.secret
        ));
        let v = minted.json().expect("token JSON");
        query += &format!(
            "access_token={}&openid={}&",
            v["access_token"].as_str().expect("a token for the account"),
            follower.openid
        );
    }
    if input.credentials {
        let grant = if endpoint == Endpoint::Jscode2session {
            "authorization_code"
        } else {
            "client_credential"
        };
        query += &format!(
            "appid={}&secret={}&grant_type={grant}&",
            app.appid, app.secret
        );
    }
    if input.token {
        let minted = mock.get(&format!(
            "/cgi-bin/token?grant_type=client_credential&appid={}&secret={}",
            app.appid, app.secret
        ));
        let v = minted.json().expect("token JSON");
        query += &format!(
            "access_token={}&",
            v["access_token"].as_str().expect("a token for the default app")
        );
    }
    if input.login {
        let grant = engine.wx_login(&app.appid, &user).expect("wx.login");
        let signature = mock_server::engine::login_signature(&grant.mock.session_key, b"");
        let paid = engine
            .pay(mock_server::engine::PaymentSpec {
                appid: None,
                user: user.clone(),
                transaction_id: None,
                mch_id: None,
                out_trade_no: None,
            })
            .expect("a payment");
        query += &format!(
            "js_code={}&openid={}&signature={signature}&sig_method=hmac_sha256&transaction_id={}&",
            grant.code, grant.mock.openid, paid.transaction_id
        );
    }
    let mut platform_body = None;
    if input.platform {
        let platform = engine
            .create_platform(mock_server::config::PlatformSpec {
                authorizations: vec![app.appid.clone()],
                ..Default::default()
            })
            .expect("a platform");
        let credentials = serde_json::json!({
            "component_appid": platform.component_appid,
            "component_appsecret": platform.component_appsecret,
            "component_verify_ticket": platform.component_verify_ticket,
        })
        .to_string();
        let minted = mock.request(
            true,
            "/cgi-bin/component/api_component_token",
            &Default::default(),
            Bytes::from(credentials.clone()),
        );
        let v = minted.json().expect("component token JSON");
        query += &format!(
            "component_appid={}&component_access_token={}&",
            platform.component_appid,
            v["component_access_token"].as_str().expect("a component token")
        );
        platform_body = Some(credentials);
    }
    let mut plugin_body = None;
    if input.plugin_code {
        let plugin = engine
            .create_app(mock_server::config::AppSpec::default())
            .expect("a plugin app");
        let minted = mock.get(&format!(
            "/cgi-bin/token?grant_type=client_credential&appid={}&secret={}",
            plugin.appid, plugin.secret
        ));
        let v = minted.json().expect("token JSON");
        query += &format!(
            "access_token={}&",
            v["access_token"].as_str().expect("a token for the plugin")
        );
        let grant = engine
            .wx_plugin_login(None, &user, &plugin.appid)
            .expect("wx.pluginLogin");
        plugin_body = Some(format!("{{\"code\":\"{}\"}}", grant.code));
    }
    query += &input.query;
    let body = if input.phone_code {
        let grant = engine
            .wx_phone_code(&app.appid, &user, None)
            .expect("getPhoneNumber");
        Bytes::from(format!("{{\"code\":\"{}\"}}", grant.code))
    } else if let Some(code) = plugin_body {
        Bytes::from(code)
    } else if let (Some(credentials), true) = (platform_body, input.body.is_empty()) {
        Bytes::from(credentials)
    } else {
        Bytes::from(input.body)
    };
    if let Some((n, consume_code)) = input.fault {
        let err = catalogue::ALL[usize::from(n) % catalogue::ALL.len()];
        let spec = FaultSpec {
            endpoint: "*".into(),
            errcode: Some(i64::from(err.code())),
            consume_code,
            ..FaultSpec::default()
        };
        engine
            .with_faults(|f| f.add(spec))
            .expect("a catalogue errcode is a valid fault");
    }
    clock.advance(std::time::Duration::from_secs(u64::from(input.later)));

    let target = format!("{path}?{query}");
    let out = mock.request(input.post, &target, &Default::default(), body);
    assert_eq!(out.status, 200, "{out:?}");
    let text = std::str::from_utf8(&out.body).expect("UTF-8 body");
    let v: serde_json::Value = serde_json::from_str(text).expect("a JSON body");
    match out.errcode {
        Some(0) => {}
        Some(code) => {
            assert!(catalogue::WxError::from_code(code).is_some(), "{text}");
            let prefix = format!("{{\"errcode\":{code},\"errmsg\":\"");
            assert!(text.starts_with(&prefix) && text.ends_with("\"}"), "{text}");
            assert_eq!(v.as_object().map(|o| o.len()), Some(2), "{text}");
        }
        None => panic!("a WeChat answer without an errcode: {text}"),
    }
    let now = clock.now();
    let _ = now.http_date();
    let _ = serde_json::to_string(&engine.state_view()).expect("the state serializes");
});
