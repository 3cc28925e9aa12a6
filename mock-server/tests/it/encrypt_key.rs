//! Tests: the encrypted network channel over HTTP (`wechat-api.md` 7a): the simulated
//! `wx.getUserCryptoManager().getLatestUserKey()` (`POST /__mock__/wx/getUserCryptoManager`) and
//! `GET /wxa/business/getuserencryptkey`: a backend fetches the keys and decrypts what the
//! mini-program encrypted; keys live 3600 s on the virtual clock, the 3 most recent are listed
//! newest first; the query is checked as checksession checks it.

use std::time::Duration;

use aes::Aes128;
use base64::Engine as _;
use base64::engine::general_purpose::STANDARD;
use cbc::cipher::block_padding::Pkcs7;
use cbc::cipher::{BlockDecryptMut, KeyIvInit};
use mock_server::engine::UserKeyGrant;
use mock_server::faults::FaultSpec;
use reqwest::Method;
use serde_json::{Value, json};

use crate::helpers::{Raw, START, TestMock, assert_wxa_err, signature};

const KEYS: &str = "/wxa/business/getuserencryptkey";

fn secs(n: u64) -> Duration {
    Duration::from_secs(n)
}

/// wx.login and jscode2session for `user`: the openid and session_key the backend holds.
async fn logged_in(t: &TestMock, user: &str) -> (String, String) {
    let grant = t.login(user).await;
    let v = t.exchange(&grant.code).await.json();
    (
        v["openid"].as_str().expect("openid").to_owned(),
        v["session_key"].as_str().expect("session_key").to_owned(),
    )
}

/// The client's getLatestUserKey, with `data` to encrypt.
async fn user_key(t: &TestMock, user: &str, data: Option<Value>) -> UserKeyGrant {
    t.mock
        .control()
        .wx_user_key(&t.app.appid, user, data.as_ref())
        .await
        .expect("getLatestUserKey")
}

fn keys_query(token: &str, openid: &str, session_key: &str) -> String {
    format!(
        "{KEYS}?access_token={token}&openid={openid}&signature={}&sig_method=hmac_sha256",
        signature(session_key)
    )
}

/// The backend's getuserencryptkey, signed with `session_key`.
async fn list(t: &TestMock, token: &str, openid: &str, session_key: &str) -> Raw {
    t.get(&keys_query(token, openid, session_key)).await
}

/// (version, expire_in) of each listed key, after checking the success envelope.
#[track_caller]
fn versions(r: &Raw) -> Vec<(u64, u64)> {
    assert_eq!(r.status, 200, "{}", r.body);
    assert_eq!(r.content_type.as_deref(), Some("application/json"));
    assert!(
        r.body
            .starts_with(r#"{"errcode":0,"errmsg":"ok","key_info_list":["#),
        "{}",
        r.body
    );
    r.json()["key_info_list"]
        .as_array()
        .expect("key_info_list")
        .iter()
        .map(|k| {
            (
                k["version"].as_u64().expect("version"),
                k["expire_in"].as_u64().expect("expire_in"),
            )
        })
        .collect()
}

/// AES-128-CBC/PKCS#7 with key = base64-decoded `encrypt_key` and IV = the bytes of `iv`, as a
/// backend decrypts the channel's data.
fn decrypt(encrypt_key: &str, iv: &str, data: &str) -> Vec<u8> {
    let key: [u8; 16] = STANDARD
        .decode(encrypt_key)
        .expect("base64 key")
        .try_into()
        .expect("16-byte key");
    let iv: [u8; 16] = iv.as_bytes().try_into().expect("16-byte iv");
    let ciphertext = STANDARD.decode(data).expect("base64 data");
    cbc::Decryptor::<Aes128>::new(&key.into(), &iv.into())
        .decrypt_padded_vec_mut::<Pkcs7>(&ciphertext)
        .expect("decrypts")
}

#[tokio::test]
async fn a_backend_fetches_the_keys_and_decrypts_what_the_mini_program_sent() {
    let t = TestMock::new().await;
    let token = t.token().await;
    let (openid, session_key) = logged_in(&t, "alice").await;
    let data = json!({"order": 42, "note": "你好"});
    let grant = user_key(&t, "alice", Some(data.clone())).await;
    assert_eq!(grant.err_msg, "getLatestUserKey:ok");
    assert_eq!(grant.mock.openid.as_str(), openid);
    assert_eq!(grant.mock.signature, signature(&session_key));

    // The backend's side: the keys over HTTP, the one whose version the client used.
    let r = list(&t, &token, &openid, &session_key).await;
    let list = r.json()["key_info_list"].clone();
    let key = list
        .as_array()
        .expect("list")
        .iter()
        .find(|k| k["version"] == grant.version)
        .expect("the client's key is listed")
        .clone();
    assert_eq!(key["encrypt_key"], grant.encrypt_key.as_str());
    assert_eq!(key["iv"], grant.iv.as_str());
    let sent = grant.encrypted_data.expect("encryptedData");
    let plain = decrypt(
        key["encrypt_key"].as_str().expect("key"),
        key["iv"].as_str().expect("iv"),
        &sent,
    );
    assert_eq!(plain, data.to_string().into_bytes());

    // Text is encrypted as it is.
    let grant = user_key(&t, "alice", Some(json!("plain text"))).await;
    let plain = decrypt(
        &grant.encrypt_key,
        &grant.iv,
        grant.encrypted_data.as_deref().expect("data"),
    );
    assert_eq!(plain, b"plain text");
    // Without data, no ciphertext.
    assert_eq!(user_key(&t, "alice", None).await.encrypted_data, None);
}

#[tokio::test]
async fn the_body_is_exact_and_the_key_looks_like_wechats() {
    let t = TestMock::new().await;
    let token = t.token().await;
    let (openid, session_key) = logged_in(&t, "alice").await;
    // Before the client's first key the list is empty.
    let r = list(&t, &token, &openid, &session_key).await;
    assert_eq!(r.body, r#"{"errcode":0,"errmsg":"ok","key_info_list":[]}"#);

    let grant = user_key(&t, "alice", None).await;
    assert_eq!((grant.version, grant.expire_time), (1, START + 3600));
    assert_eq!(grant.mock.create_time, START);
    assert_eq!(
        STANDARD.decode(&grant.encrypt_key).expect("base64").len(),
        16
    );
    assert_eq!(grant.iv.len(), 16);
    assert!(
        grant
            .iv
            .bytes()
            .all(|b| b.is_ascii_digit() || (b'a'..=b'f').contains(&b)),
        "{}",
        grant.iv
    );
    t.advance(secs(3));
    let r = list(&t, &token, &openid, &session_key).await;
    assert_eq!(
        r.body,
        format!(
            r#"{{"errcode":0,"errmsg":"ok","key_info_list":[{{"encrypt_key":"{}","version":1,"expire_in":3597,"iv":"{}","create_time":{START}}}]}}"#,
            grant.encrypt_key, grant.iv
        )
    );
    // The older docs' POST with the same query answers alike.
    let r = t.post(&keys_query(&token, &openid, &session_key), "").await;
    assert_eq!(versions(&r), [(1, 3597)]);

    // Keys come from the seed: the same seed, the same key.
    let again = TestMock::new().await;
    again.login("alice").await;
    assert_eq!(user_key(&again, "alice", None).await, grant);
}

#[tokio::test]
async fn keys_live_an_hour_and_the_three_latest_are_listed_newest_first() {
    let t = TestMock::new().await;
    let token = t.token().await;
    let (openid, session_key) = logged_in(&t, "alice").await;
    let first = user_key(&t, "alice", None).await;

    // The latest key is handed out again until it expires.
    t.advance(secs(3599));
    let again = user_key(&t, "alice", None).await;
    assert_eq!(
        (again.version, again.encrypt_key),
        (1, first.encrypt_key.clone())
    );
    assert_eq!(
        versions(&list(&t, &token, &openid, &session_key).await),
        [(1, 1)]
    );

    // Expired: still listed with 0 left; the backend alone makes no new key.
    t.advance(secs(1));
    assert_eq!(
        versions(&list(&t, &token, &openid, &session_key).await),
        [(1, 0)]
    );
    assert_eq!(
        versions(&list(&t, &token, &openid, &session_key).await),
        [(1, 0)]
    );

    // The client's next call makes version 2, with another key and iv.
    let second = user_key(&t, "alice", None).await;
    assert_eq!((second.version, second.expire_time), (2, START + 7200));
    assert_ne!(second.encrypt_key, first.encrypt_key);
    assert_ne!(second.iv, first.iv);
    assert_eq!(
        versions(&list(&t, &token, &openid, &session_key).await),
        [(2, 3600), (1, 0)]
    );

    // Hours later, versions 3 and 4: only the three most recent are listed (and kept).
    for _ in 0..2 {
        t.advance(secs(5000));
        user_key(&t, "alice", None).await;
    }
    t.advance(secs(100));
    let token = t.token().await;
    let r = list(&t, &token, &openid, &session_key).await;
    assert_eq!(versions(&r), [(4, 3500), (3, 0), (2, 0)]);
    let state = t.mock.control().state().await.expect("state");
    assert_eq!(state.counts.user_encrypt_keys, 3);

    // Keys are per user and app: bob starts at version 1.
    let (bob, bob_key) = logged_in(&t, "bob").await;
    assert_eq!(versions(&list(&t, &token, &bob, &bob_key).await), []);
    assert_eq!(user_key(&t, "bob", None).await.version, 1);
}

#[tokio::test]
async fn the_query_is_checked_as_checksession_checks_it() {
    let t = TestMock::new().await;
    t.set_options(json!({"session_key_ttl": "1h"})).await;
    let token = t.token().await;
    let (openid, session_key) = logged_in(&t, "alice").await;
    user_key(&t, "alice", None).await;
    let sig = signature(&session_key);

    let r = t
        .get(&format!(
            "{KEYS}?openid={openid}&signature={sig}&sig_method=hmac_sha256"
        ))
        .await;
    assert_wxa_err(&r, 41001, "access_token missing");
    let r = t
        .get(&format!(
            "{KEYS}?access_token={token}&openid={openid}&signature={sig}&sig_method=md5"
        ))
        .await;
    assert_wxa_err(&r, 87008, "invalid sig_method");
    let r = list(&t, &token, "oNOBODYoNOBODYoNOBODYoNOBODY", &session_key).await;
    assert_wxa_err(&r, 40003, "invalid openid");
    // Signed with the key itself rather than its HMAC, or with another key: 87009.
    let r = t
        .get(&format!(
            "{KEYS}?access_token={token}&openid={openid}&signature={session_key}&sig_method=hmac_sha256"
        ))
        .await;
    assert_wxa_err(&r, 87009, "invalid signature");
    let r = list(&t, &token, &openid, "o0q0otL8aEzpcZL/FT9WsQ==").await;
    assert_wxa_err(&r, 87009, "invalid signature");

    // A session_key reset makes the old signature stale.
    let reset = t
        .get(&format!(
            "/wxa/resetusersessionkey?access_token={token}&openid={openid}&signature={sig}&sig_method=hmac_sha256"
        ))
        .await;
    let new_key = reset.json()["session_key"]
        .as_str()
        .expect("new key")
        .to_owned();
    assert_wxa_err(
        &list(&t, &token, &openid, &session_key).await,
        87009,
        "invalid signature",
    );
    assert_eq!(
        versions(&list(&t, &token, &openid, &new_key).await),
        [(1, 3600)]
    );

    // The session_key's own lifetime: 87007 once it has expired.
    t.advance(secs(3600));
    let token = t.token().await;
    let r = list(&t, &token, &openid, &new_key).await;
    assert_wxa_err(&r, 87007, "session_key is not existed or expired");
}

#[tokio::test]
async fn the_client_needs_a_login_and_an_app_the_mock_knows() {
    let t = TestMock::new().await;
    let (status, body) = t
        .control(
            Method::POST,
            "/wx/getUserCryptoManager",
            Some(json!({"user": "alice", "data": {"x": 1}})),
        )
        .await;
    assert_eq!(status, 409, "{body}");
    assert_eq!(body["error"]["code"], "no_session");
    let message = body["error"]["message"].as_str().expect("message");
    assert!(
        message.contains("alice") && message.contains("wx.login"),
        "{message}"
    );
    let (status, body) = t
        .control(
            Method::POST,
            "/wx/getUserCryptoManager",
            Some(json!({"appid": "wx-nobody", "user": "alice"})),
        )
        .await;
    assert_eq!(
        (status, body["error"]["code"].clone()),
        (404, json!("unknown_app"))
    );
    // Refusals made nothing.
    let state = t.mock.control().state().await.expect("state");
    assert_eq!(state.counts.user_encrypt_keys, 0);

    t.set_options(json!({"strict": true})).await;
    let (status, body) = t
        .control(
            Method::POST,
            "/wx/getUserCryptoManager",
            Some(json!({"user": "zed"})),
        )
        .await;
    assert_eq!(
        (status, body["error"]["code"].clone()),
        (404, json!("unknown_user"))
    );
}

#[tokio::test]
async fn faults_filtered_by_app_and_the_journal_row() {
    let t = TestMock::new().await;
    let token = t.token().await;
    let (openid, session_key) = logged_in(&t, "alice").await;
    let spec = FaultSpec {
        endpoint: "getuserencryptkey".into(),
        appid: Some(t.app.appid.clone()),
        errcode: Some(45011),
        times: Some(1),
        ..FaultSpec::default()
    };
    t.mock.control().add_fault(&spec).await.expect("fault");
    let r = list(&t, &token, &openid, &session_key).await;
    r.assert_err(45011);
    assert_eq!(versions(&list(&t, &token, &openid, &session_key).await), []);
    let page = t
        .mock
        .control()
        .journal("endpoint=getuserencryptkey")
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
            (Some(45011), app, Some("alice")),
            (Some(0), app, Some("alice"))
        ]
    );
}
