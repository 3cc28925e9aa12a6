//! Tests: `POST /wxa/business/checkencryptedmsg` over HTTP (`wechat-api.md` 7a): phone-number
//! encryptedData the simulated button issued is `vaild` (spelled so) for 3 days on the virtual
//! clock, by the hex SHA-256 of its base64 text; anything else is errcode 1 `data not exit`, or
//! `vaild:false` under the option; the errors in WeChat's order; faults and the journal.

use std::time::Duration;

use mock_server::engine::PhoneGrant;
use mock_server::faults::FaultSpec;
use mock_server::ids::AppId;
use mock_server::opendata::Tamper;
use reqwest::Method;
use serde_json::json;
use sha2::{Digest, Sha256};

use crate::helpers::{Raw, START, TestMock, assert_wxa_err};

const MSG: &str = "/wxa/business/checkencryptedmsg";
const THREE_DAYS: u64 = 3 * 86_400;

/// hex(SHA-256(text)): what a backend computes from the encryptedData it got.
fn sha256_hex(bytes: &[u8]) -> String {
    hex::encode(Sha256::digest(bytes))
}

async fn check(t: &TestMock, token: &str, hash: &str) -> Raw {
    check_body(t, token, &json!({ "encrypted_msg_hash": hash }).to_string()).await
}

async fn check_body(t: &TestMock, token: &str, body: &str) -> Raw {
    t.post(&format!("{MSG}?access_token={token}"), body).await
}

/// The phone button for a logged-in user: its encryptedData and the hash the mock says.
async fn phone_data(t: &TestMock, user: &str) -> (String, String) {
    t.login(user).await;
    let grant: PhoneGrant = t.phone_code(user).await;
    let data = grant.encrypted_data.expect("encryptedData once logged in");
    let hash = grant
        .mock
        .encrypted_msg_hash
        .expect("the hash of what was issued");
    (data, hash)
}

#[track_caller]
fn assert_valid(r: &Raw, created: i64) {
    assert_eq!(r.status, 200);
    assert_eq!(r.content_type.as_deref(), Some("application/json"));
    assert_eq!(
        r.body,
        format!(r#"{{"errcode":0,"errmsg":"ok","vaild":true,"create_time":{created}}}"#)
    );
}

#[tokio::test]
async fn issued_phone_data_is_vaild_for_three_days_then_not_exit() {
    let t = TestMock::new().await;
    let (data, hash) = phone_data(&t, "alice").await;
    // The hash is over the base64 text, as a backend computes it.
    assert_eq!(hash, sha256_hex(data.as_bytes()));

    t.advance(Duration::from_secs(THREE_DAYS - 1));
    let token = t.token().await;
    assert_valid(&check(&t, &token, &hash).await, START);
    // Base16 in upper case is the same hash.
    assert_valid(&check(&t, &token, &hash.to_uppercase()).await, START);

    t.advance(Duration::from_secs(1));
    assert_wxa_err(&check(&t, &token, &hash).await, 1, "data not exit");
}

#[tokio::test]
async fn only_what_the_mock_issued_to_this_app_as_it_is_counts() {
    let t = TestMock::new().await;
    let token = t.token().await;
    let (data, hash) = phone_data(&t, "alice").await;
    assert_valid(&check(&t, &token, &hash).await, START);

    // The hash of the decoded bytes is not the hash of the data.
    use base64::Engine as _;
    let raw = base64::engine::general_purpose::STANDARD
        .decode(&data)
        .expect("base64");
    let r = check(&t, &token, &sha256_hex(&raw)).await;
    assert_wxa_err(&r, 1, "data not exit");

    // Data of another app is unknown to this app's token, and the other way round.
    let (status, app) = t.control(Method::POST, "/apps", Some(json!({}))).await;
    assert_eq!(status, 201, "{app}");
    let other = AppId::new(app["appid"].as_str().expect("appid"));
    let secret = app["secret"].as_str().expect("secret");
    let r = t
        .get(&format!(
            "/cgi-bin/token?grant_type=client_credential&appid={other}&secret={secret}"
        ))
        .await;
    let other_token = r.json()["access_token"].as_str().expect("token").to_owned();
    assert_wxa_err(&check(&t, &other_token, &hash).await, 1, "data not exit");
    t.login_in(&other, "bob").await;
    let grant = t
        .mock
        .control()
        .wx_phone_code(&other, "bob")
        .await
        .expect("phone");
    let other_hash = grant.mock.encrypted_msg_hash.expect("hash");
    assert_valid(&check(&t, &other_token, &other_hash).await, START);
    assert_wxa_err(&check(&t, &token, &other_hash).await, 1, "data not exit");

    // A tampered payload is not WeChat's data: no hash, and its real hash is unknown.
    let bad = t
        .mock
        .control()
        .wx_phone_number(&t.app.appid, "alice", Some(Tamper::FlippedByte))
        .await
        .expect("tampered phone data");
    assert!(bad.mock.encrypted_msg_hash.is_none());
    let bad_data = bad.encrypted_data.expect("encryptedData");
    let r = check(&t, &token, &sha256_hex(bad_data.as_bytes())).await;
    assert_wxa_err(&r, 1, "data not exit");

    // No login, no encryptedData, nothing to check.
    let grant = t.phone_code("carol").await;
    assert!(grant.encrypted_data.is_none() && grant.mock.encrypted_msg_hash.is_none());

    // What was kept shows in the state's counts: alice's and bob's payloads.
    let state = t.mock.control().state().await.expect("state");
    assert_eq!(state.counts.phone_data_hashes, 2);
}

#[tokio::test]
async fn the_option_answers_vaild_false_instead() {
    let t = TestMock::new().await;
    t.set_options(json!({"checkencryptedmsg_unknown": "vaild_false"}))
        .await;
    let token = t.token().await;
    let r = check(&t, &token, &"0".repeat(64)).await;
    assert_eq!(r.status, 200);
    assert_eq!(r.body, r#"{"errcode":0,"errmsg":"ok","vaild":false}"#);
    // Known data still answers as ever; malformed hashes are still 40097.
    let (_, hash) = phone_data(&t, "alice").await;
    assert_valid(&check(&t, &token, &hash).await, START);
    assert_wxa_err(&check(&t, &token, "00").await, 40097, "invalid args");
}

#[tokio::test]
async fn errors_come_in_wechats_order_with_wechats_texts() {
    let t = TestMock::new().await;
    let token = t.token().await;
    let (_, hash) = phone_data(&t, "alice").await;
    let good = json!({ "encrypted_msg_hash": hash }).to_string();

    let r = t.get(&format!("{MSG}?access_token={token}")).await;
    assert_wxa_err(&r, 43002, "require POST method");
    assert_wxa_err(&t.post(MSG, &good).await, 41001, "access_token missing");
    let r = check_body(&t, "89_nope", &good).await;
    r.assert_err(40001);
    assert_wxa_err(&check_body(&t, &token, "").await, 44002, "empty post data");
    assert_wxa_err(
        &check_body(&t, &token, "{").await,
        47001,
        "data format error",
    );
    assert_wxa_err(
        &check_body(&t, &token, "[]").await,
        47001,
        "data format error",
    );
    for bad in [
        json!({}),
        json!({ "encrypted_msg_hash": 5 }),
        json!({ "encrypted_msg_hash": "" }),
        json!({ "encrypted_msg_hash": &hash[..63] }),
        json!({ "encrypted_msg_hash": format!("{hash}0") }),
        json!({ "encrypted_msg_hash": format!("{}z", &hash[..63]) }),
    ] {
        let r = check_body(&t, &token, &bad.to_string()).await;
        assert_wxa_err(&r, 40097, "invalid args");
    }
    // None of that spent anything.
    assert_valid(&check_body(&t, &token, &good).await, START);
}

#[tokio::test]
async fn expired_records_are_swept_so_memory_stays_bounded() {
    let t = TestMock::new().await;
    phone_data(&t, "alice").await;
    phone_data(&t, "bob").await;
    let counts = || async { t.mock.control().state().await.expect("state").counts };
    assert_eq!(counts().await.phone_data_hashes, 2);
    t.advance(Duration::from_secs(THREE_DAYS));
    // Any vendor request lets expired state go.
    t.token().await;
    assert_eq!(counts().await.phone_data_hashes, 0);
}

#[tokio::test]
async fn faults_filtered_by_app_and_the_journal_row() {
    let t = TestMock::new().await;
    let token = t.token().await;
    let (_, hash) = phone_data(&t, "alice").await;
    let spec = FaultSpec {
        endpoint: "checkencryptedmsg".into(),
        appid: Some(t.app.appid.clone()),
        user: Some(mock_server::ids::UserHandle::new("alice")),
        errcode: Some(-1),
        times: Some(1),
        ..FaultSpec::default()
    };
    t.mock.control().add_fault(&spec).await.expect("fault");
    assert_wxa_err(&check(&t, &token, &hash).await, -1, "system error");
    assert_valid(&check(&t, &token, &hash).await, START);
    assert_wxa_err(
        &check(&t, &token, &"f".repeat(64)).await,
        1,
        "data not exit",
    );

    let page = t
        .mock
        .control()
        .journal("endpoint=checkencryptedmsg")
        .await
        .expect("journal");
    let rows: Vec<_> = page
        .entries
        .iter()
        .map(|e| (e.errcode, e.appid.as_deref(), e.user.as_deref()))
        .collect();
    let app = Some(t.app.appid.as_str());
    assert_eq!(
        rows,
        [
            (Some(-1), app, Some("alice")),
            (Some(0), app, Some("alice")),
            (Some(1), app, None),
        ]
    );
}
