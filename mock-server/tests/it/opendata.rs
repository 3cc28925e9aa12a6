//! Tests: the mini-program's open-data calls over HTTP (`wechat-api.md` 8): getUserInfo,
//! getUserProfile, the legacy getPhoneNumber payload, getShareInfo and getWeRunData, each
//! decrypted with the session_key jscode2session returned, and every tamper.

use std::time::Duration;

use mock_server::AppSpec;
use mock_server::ClientError;
use mock_server::Timestamp;
use mock_server::ids::{AppId, PlatformId};
use mock_server::opendata::{
    self, OpenDataError, RuleEra, Tamper, UserInfo, UserInfoApi, UserInfoGrant, Watermark,
};
use reqwest::Method;
use serde_json::json;

use crate::helpers::{START, TestMock, signature};

/// `wx.login` + jscode2session in `appid` (secret `secret`): (openid, session_key).
async fn session_in(t: &TestMock, appid: &AppId, secret: &str, user: &str) -> (String, String) {
    let grant = t.login_in(appid, user).await;
    let r = t
        .get(&format!(
            "/sns/jscode2session?appid={appid}&secret={secret}&js_code={}&grant_type=authorization_code",
            grant.code
        ))
        .await;
    assert_eq!(r.errcode(), 0, "exchange: {}", r.body);
    let v = r.json();
    (
        v["openid"].as_str().unwrap().to_owned(),
        v["session_key"].as_str().unwrap().to_owned(),
    )
}

async fn session(t: &TestMock, user: &str) -> (String, String) {
    let (appid, secret) = (t.app.appid.clone(), t.app.secret.clone());
    session_in(t, &appid, &secret, user).await
}

async fn user_info(
    t: &TestMock,
    api: UserInfoApi,
    era: Option<RuleEra>,
    tamper: Option<Tamper>,
) -> UserInfoGrant {
    t.mock
        .control()
        .wx_user_info(&t.app.appid, "alice", api, era, tamper)
        .await
        .expect("user info")
}

fn plain(key: &str, iv: &str, data: &str) -> String {
    String::from_utf8(opendata::decrypt(key, iv, data).expect("decrypts")).unwrap()
}

fn watermark(appid: &AppId) -> Watermark {
    Watermark::new(appid, Timestamp::from_secs(START))
}

async fn profile(t: &TestMock) -> UserInfo {
    UserInfo::from(&t.mock.control().user("alice").await.unwrap())
}

fn api_code(e: ClientError) -> (u16, String) {
    match e {
        ClientError::Api { status, code, .. } => (status, code),
        other => panic!("{other}"),
    }
}

#[tokio::test]
async fn get_user_info_legacy_and_anonymous_layouts() {
    let t = TestMock::new().await;
    let (openid, key) = session(&t, "alice").await;
    let real = profile(&t).await;
    let wm = watermark(&t.app.appid);
    let openid = mock_server::ids::OpenId::new(openid);

    let legacy = user_info(&t, UserInfoApi::GetUserInfo, Some(RuleEra::Legacy), None).await;
    assert_eq!(legacy.err_msg, "getUserInfo:ok");
    assert_eq!(
        plain(&key, &legacy.iv, &legacy.encrypted_data),
        opendata::user_info_plaintext(&openid, &real, None, &wm)
    );
    assert_eq!(legacy.user_info.info, real);
    assert_eq!(legacy.raw_data, serde_json::to_string(&real).unwrap());
    assert_eq!(
        legacy.signature,
        opendata::raw_data_signature(&legacy.raw_data, &key)
    );

    // No era: the app's, which defaults to anonymous.
    let anon = user_info(&t, UserInfoApi::GetUserInfo, None, None).await;
    assert_eq!(
        plain(&key, &anon.iv, &anon.encrypted_data),
        opendata::user_info_plaintext(&openid, &UserInfo::anonymous(), None, &wm)
    );
    assert_eq!(anon.user_info.is_demote, None);
    assert_eq!(
        anon.signature,
        opendata::raw_data_signature(&anon.raw_data, &key)
    );
    assert_ne!(anon.iv, legacy.iv, "every payload gets its own iv");
    let v =
        opendata::decrypt_json(&key, &anon.iv, &anon.encrypted_data, t.app.appid.as_str()).unwrap();
    assert_eq!(v["nickName"], opendata::ANONYMOUS_NICKNAME);
    assert_eq!(v["watermark"]["timestamp"], START);
}

#[tokio::test]
async fn get_user_profile_has_no_ids_and_demotes_when_anonymous() {
    let t = TestMock::new().await;
    let (_, key) = session(&t, "alice").await;
    let real = profile(&t).await;
    let wm = watermark(&t.app.appid);
    for era in [RuleEra::Legacy, RuleEra::Anonymous] {
        let g = user_info(&t, UserInfoApi::GetUserProfile, Some(era), None).await;
        assert_eq!(g.err_msg, "getUserProfile:ok");
        let client = era.client_user_info(UserInfoApi::GetUserProfile, &real);
        assert_eq!(g.user_info, client);
        assert_eq!(
            g.user_info.is_demote,
            (era == RuleEra::Anonymous).then_some(true)
        );
        let text = plain(&key, &g.iv, &g.encrypted_data);
        assert_eq!(text, opendata::user_profile_plaintext(&client, &wm));
        assert!(
            !text.contains("openId") && !text.contains("unionId"),
            "{text}"
        );
        assert_eq!(g.raw_data, opendata::raw_data(&client));
        assert_eq!(g.signature, opendata::raw_data_signature(&g.raw_data, &key));
    }
}

#[tokio::test]
async fn union_id_only_for_an_app_bound_to_an_open_platform() {
    let t = TestMock::new().await;
    let c = t.mock.control();
    let bound = c
        .create_app(&AppSpec {
            open_platform: Some(PlatformId::new("acct-1")),
            ..AppSpec::default()
        })
        .await
        .unwrap();
    let (openid, key) = session_in(&t, &bound.appid, &bound.secret, "alice").await;
    let g = c
        .wx_user_info(&bound.appid, "alice", UserInfoApi::GetUserInfo, None, None)
        .await
        .unwrap();
    let v = opendata::decrypt_json(&key, &g.iv, &g.encrypted_data, bound.appid.as_str()).unwrap();
    assert_eq!(v["openId"], openid);
    let view = c.user("alice").await.unwrap();
    let ids = view.apps.iter().find(|a| a.appid == bound.appid).unwrap();
    assert_eq!(v["unionId"], ids.unionid.as_ref().unwrap().as_str());
    let text = plain(&key, &g.iv, &g.encrypted_data);
    assert!(
        text.find("\"unionId\"").unwrap() < text.find("\"watermark\"").unwrap(),
        "{text}"
    );
    // The profile answer never has it; the unbound default app has none either.
    let p = c
        .wx_user_info(
            &bound.appid,
            "alice",
            UserInfoApi::GetUserProfile,
            None,
            None,
        )
        .await
        .unwrap();
    assert!(!plain(&key, &p.iv, &p.encrypted_data).contains("unionId"));
    let (_, key) = session(&t, "alice").await;
    let g = user_info(&t, UserInfoApi::GetUserInfo, None, None).await;
    assert!(!plain(&key, &g.iv, &g.encrypted_data).contains("unionId"));
}

#[tokio::test]
async fn app_profile_era_comes_from_post_apps_and_the_call_overrides_it() {
    let t = TestMock::new().await;
    let (status, app) = t
        .control(
            Method::POST,
            "/apps",
            Some(json!({"profile_era": "legacy"})),
        )
        .await;
    assert_eq!(status, 201, "{app}");
    assert_eq!(app["profile_era"], "legacy");
    let appid = AppId::new(app["appid"].as_str().unwrap());
    let (_, key) = session_in(&t, &appid, app["secret"].as_str().unwrap(), "alice").await;
    let real = profile(&t).await;
    let c = t.mock.control();
    let g = c
        .wx_user_info(&appid, "alice", UserInfoApi::GetUserInfo, None, None)
        .await
        .unwrap();
    assert_eq!(g.user_info.info, real);
    let v = opendata::decrypt_json(&key, &g.iv, &g.encrypted_data, appid.as_str()).unwrap();
    assert_eq!(v["nickName"], real.nick_name.as_str());
    let g = c
        .wx_user_info(
            &appid,
            "alice",
            UserInfoApi::GetUserInfo,
            Some(RuleEra::Anonymous),
            None,
        )
        .await
        .unwrap();
    assert_eq!(g.user_info.info, UserInfo::anonymous());
    // The default app stays anonymous.
    assert_eq!(t.app.profile_era, None);
}

#[tokio::test]
async fn open_data_needs_a_session() {
    let t = TestMock::new().await;
    let (status, body) = t
        .control(
            Method::POST,
            "/wx/getUserInfo",
            Some(json!({"user": "alice"})),
        )
        .await;
    assert_eq!(
        (status, &body["error"]["code"]),
        (409, &json!("no_session"))
    );
    for (path, body) in [
        ("/wx/getUserProfile", json!({"user": "alice"})),
        ("/wx/getShareInfo", json!({"user": "alice", "group": "g"})),
        ("/wx/getWeRunData", json!({"user": "alice"})),
        (
            "/wx/getPhoneNumber",
            json!({"user": "alice", "tamper": "flipped_byte"}),
        ),
    ] {
        let (status, answer) = t.control(Method::POST, path, Some(body)).await;
        assert_eq!(status, 409, "{path}: {answer}");
        assert_eq!(answer["error"]["code"], "no_session", "{path}");
    }
    // Without a tamper, a phone code is still minted, just without the legacy payload.
    let g = t.phone_code("alice").await;
    assert!(g.encrypted_data.is_none() && g.iv.is_none());
    let (status, body) = t
        .control(
            Method::POST,
            "/wx/getUserInfo",
            Some(json!({"user": "alice", "extra": 1})),
        )
        .await;
    assert_eq!(status, 400, "{body}");
}

#[tokio::test]
async fn phone_payload_matches_the_phone_code_number() {
    let t = TestMock::new().await;
    let (_, key) = session(&t, "alice").await;
    let g = t.phone_code("alice").await;
    let (data, iv) = (g.encrypted_data.unwrap(), g.iv.unwrap());
    assert_eq!(
        plain(&key, &iv, &data),
        opendata::phone_plaintext_for(&g.mock.phone, &watermark(&t.app.appid))
    );
    let v = opendata::decrypt_json(&key, &iv, &data, t.app.appid.as_str()).unwrap();
    assert_eq!(v["purePhoneNumber"], g.mock.phone.number.as_str());
    assert_eq!(v["countryCode"], g.mock.phone.country_code.as_str());
    // The code exchanges to the same number.
    let token = t.token().await;
    let r = t
        .post(
            &format!("/wxa/business/getuserphonenumber?access_token={token}"),
            &json!({"code": g.code}).to_string(),
        )
        .await;
    assert_eq!(r.errcode(), 0, "{}", r.body);
    assert_eq!(r.json()["phone_info"]["phoneNumber"], v["phoneNumber"]);
    // Tampered.
    let g = t
        .mock
        .control()
        .wx_phone_number(&t.app.appid, "alice", Some(Tamper::TruncatedBase64))
        .await
        .unwrap();
    assert_eq!(
        opendata::decrypt(&key, &g.iv.unwrap(), &g.encrypted_data.unwrap()),
        Err(OpenDataError::InvalidBase64)
    );
}

#[tokio::test]
async fn share_info_open_gid_is_stable_per_group_and_differs_per_app() {
    let t = TestMock::new().await;
    let (_, key) = session(&t, "alice").await;
    let c = t.mock.control();
    let share = |appid: AppId, group: &'static str| {
        let c = c.clone();
        async move { c.wx_share_info(&appid, "alice", group, None).await.unwrap() }
    };
    let a = share(t.app.appid.clone(), "family").await;
    assert_eq!(a.err_msg, "getShareInfo:ok");
    let gid = a.mock.open_g_id.clone();
    assert_eq!(gid.len(), 28, "{gid}");
    assert!(gid.starts_with("tG") || gid.starts_with('G'), "{gid}");
    assert!(gid.bytes().all(|b| b.is_ascii_alphanumeric()), "{gid}");
    assert_eq!(
        plain(&key, &a.iv, &a.encrypted_data),
        opendata::share_info_plaintext(&gid, &watermark(&t.app.appid))
    );
    let again = share(t.app.appid.clone(), "family").await;
    assert_eq!(again.mock.open_g_id, gid);
    let bob = c
        .wx_share_info(&t.app.appid, "bob", "family", None)
        .await
        .map(|g| g.mock.open_g_id);
    assert_eq!(api_code(bob.unwrap_err()), (409, "no_session".into()));
    let (_, _) = session(&t, "bob").await;
    let bob = c
        .wx_share_info(&t.app.appid, "bob", "family", None)
        .await
        .unwrap();
    assert_eq!(bob.mock.open_g_id, gid, "same group, same app: same id");
    let other_group = share(t.app.appid.clone(), "work").await;
    assert_ne!(other_group.mock.open_g_id, gid);
    let second = c.create_app(&AppSpec::default()).await.unwrap();
    let (_, key2) = session_in(&t, &second.appid, &second.secret, "alice").await;
    let other_app = share(second.appid.clone(), "family").await;
    assert_ne!(other_app.mock.open_g_id, gid);
    let v = opendata::decrypt_json(
        &key2,
        &other_app.iv,
        &other_app.encrypted_data,
        second.appid.as_str(),
    )
    .unwrap();
    assert_eq!(v["openGId"], other_app.mock.open_g_id.as_str());
}

#[tokio::test]
async fn werun_has_31_local_midnights_and_caller_steps() {
    let t = TestMock::new().await;
    let (_, key) = session(&t, "alice").await;
    let c = t.mock.control();
    let g = c.wx_werun(&t.app.appid, "alice", None, None).await.unwrap();
    assert_eq!(g.err_msg, "getWeRunData:ok");
    let v = opendata::decrypt_json(&key, &g.iv, &g.encrypted_data, t.app.appid.as_str()).unwrap();
    let list = v["stepInfoList"].as_array().unwrap();
    assert_eq!(list.len(), 31);
    let today = opendata::local_midnight(Timestamp::from_secs(START));
    for (i, day) in list.iter().enumerate() {
        let ts = day["timestamp"].as_i64().unwrap();
        assert_eq!((ts + 8 * 3600) % 86_400, 0, "local midnight: {ts}");
        assert_eq!(ts, today - (30 - i as i64) * 86_400);
        assert_eq!(day["step"], g.mock.step_info_list[i].step);
    }
    let steps: Vec<u32> = (0..31).map(|i| i * 100).collect();
    let g = c
        .wx_werun(&t.app.appid, "alice", Some(&steps), None)
        .await
        .unwrap();
    let arr: [u32; 31] = steps.clone().try_into().unwrap();
    assert_eq!(
        plain(&key, &g.iv, &g.encrypted_data),
        opendata::werun_plaintext(Timestamp::from_secs(START), &arr, &watermark(&t.app.appid))
    );
    let e = c
        .wx_werun(&t.app.appid, "alice", Some(&steps[..30]), None)
        .await
        .unwrap_err();
    assert_eq!(api_code(e), (400, "invalid_field".into()));
}

#[tokio::test]
async fn every_tamper_fails_as_documented() {
    let t = TestMock::new().await;
    let (_, key) = session(&t, "alice").await;
    let appid = t.app.appid.as_str();
    let get = |tamper| user_info(&t, UserInfoApi::GetUserInfo, None, Some(tamper));

    let g = get(Tamper::ForeignWatermark).await;
    assert!(matches!(
        opendata::decrypt_json(&key, &g.iv, &g.encrypted_data, appid),
        Err(OpenDataError::AppIdMismatch { .. })
    ));

    let g = get(Tamper::ExpiredTimestamp).await;
    let v = opendata::decrypt_json(&key, &g.iv, &g.encrypted_data, appid).unwrap();
    assert_eq!(
        v["watermark"]["timestamp"],
        START - opendata::EXPIRED_AGE_SECS
    );
    assert!(matches!(
        opendata::check_fresh(&v, Timestamp::from_secs(START), Duration::from_secs(3600)),
        Err(OpenDataError::WatermarkExpired { .. })
    ));

    let g = get(Tamper::FlippedByte).await;
    assert_eq!(
        opendata::decrypt(&key, &g.iv, &g.encrypted_data),
        Err(OpenDataError::BadPadding)
    );
    let g = get(Tamper::TruncatedBase64).await;
    assert_eq!(
        opendata::decrypt(&key, &g.iv, &g.encrypted_data),
        Err(OpenDataError::InvalidBase64)
    );
    let g = get(Tamper::WrongIvLength).await;
    assert_eq!(
        opendata::decrypt(&key, &g.iv, &g.encrypted_data),
        Err(OpenDataError::InvalidIv)
    );

    // One login so far: no previous key.
    let e = t
        .mock
        .control()
        .wx_user_info(
            &t.app.appid,
            "alice",
            UserInfoApi::GetUserInfo,
            None,
            Some(Tamper::StaleKey),
        )
        .await
        .unwrap_err();
    assert_eq!(api_code(e), (409, "no_stale_key".into()));
}

#[tokio::test]
async fn stale_key_decrypts_with_the_previous_key_only() {
    let t = TestMock::new().await;
    t.set_options(json!({"session_key_min_rotation": "0s"}))
        .await;
    let (_, old) = session(&t, "alice").await;
    t.advance(Duration::from_secs(1));
    let (_, new) = session(&t, "alice").await;
    assert_ne!(old, new);
    let appid = t.app.appid.as_str();
    let g = user_info(&t, UserInfoApi::GetUserInfo, None, Some(Tamper::StaleKey)).await;
    assert!(opendata::decrypt_json(&new, &g.iv, &g.encrypted_data, appid).is_err());
    opendata::decrypt_json(&old, &g.iv, &g.encrypted_data, appid).unwrap();
    assert_eq!(g.signature, opendata::raw_data_signature(&g.raw_data, &old));
    let c = t.mock.control();
    for sealed in [
        c.wx_share_info(&t.app.appid, "alice", "g", Some(Tamper::StaleKey))
            .await
            .map(|g| (g.iv, g.encrypted_data)),
        c.wx_werun(&t.app.appid, "alice", None, Some(Tamper::StaleKey))
            .await
            .map(|g| (g.iv, g.encrypted_data)),
        c.wx_phone_number(&t.app.appid, "alice", Some(Tamper::StaleKey))
            .await
            .map(|g| (g.iv.unwrap(), g.encrypted_data.unwrap())),
    ] {
        let (iv, data) = sealed.unwrap();
        assert!(opendata::decrypt_json(&new, &iv, &data, appid).is_err());
        opendata::decrypt_json(&old, &iv, &data, appid).unwrap();
    }
    // The honest payload uses the new key.
    let g = user_info(&t, UserInfoApi::GetUserInfo, None, None).await;
    opendata::decrypt_json(&new, &g.iv, &g.encrypted_data, appid).unwrap();
}

#[tokio::test]
async fn after_resetusersessionkey_payloads_use_the_new_key() {
    let t = TestMock::new().await;
    let (openid, old) = session(&t, "alice").await;
    let token = t.token().await;
    let r = t
        .get(&format!(
            "/wxa/resetusersessionkey?access_token={token}&openid={openid}&signature={}&sig_method=hmac_sha256",
            signature(&old)
        ))
        .await;
    assert_eq!(r.errcode(), 0, "{}", r.body);
    let new = r.json()["session_key"].as_str().unwrap().to_owned();
    assert_ne!(new, old);
    let appid = t.app.appid.as_str();
    let g = user_info(&t, UserInfoApi::GetUserProfile, None, None).await;
    opendata::decrypt_json(&new, &g.iv, &g.encrypted_data, appid).unwrap();
    assert!(opendata::decrypt_json(&old, &g.iv, &g.encrypted_data, appid).is_err());
    let g = user_info(
        &t,
        UserInfoApi::GetUserProfile,
        None,
        Some(Tamper::StaleKey),
    )
    .await;
    opendata::decrypt_json(&old, &g.iv, &g.encrypted_data, appid).unwrap();
}
