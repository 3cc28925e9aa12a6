//! `registration = "phone_required"`: the registration ticket of an unknown WeChat user, the
//! phone step that spends it (SMS or password), its reuse and expiry, and the WeChat number sent
//! with the login code (`phone_code`, legacy encryptedData) under either policy.

use std::time::Duration;

use mock_server::ids::AppId;
use serde_json::{Value, json};

use crate::helpers::*;

/// A second app on the default app's open platform (the default app's is `platform-1`).
const SIBLING: &str = "wx00000000000000b1";

/// The default app is `phone_required`.
async fn phone_first() -> TestApp {
    TestApp::configured(phone_required).await
}

#[tokio::test]
async fn an_unknown_wechat_user_gets_a_ticket_and_nothing_else_is_written() {
    let app = phone_first().await;
    let r = app.try_login("alice").await;
    let ticket = ticket_of(&r);
    assert_eq!(ticket.len(), 43);
    assert_eq!(
        r.header("www-authenticate").as_deref(),
        Some("Bearer realm=\"login-core\"")
    );
    let v = r.json();
    assert_eq!(v["registration"]["expires_in"], 600);
    assert_eq!(
        v["registration"]["expires_at"],
        START + 600,
        "ten minutes from the (virtual) now"
    );
    let stats = app.stats().await;
    assert_eq!(
        (stats.users, stats.identities, stats.sessions, stats.tickets),
        (0, 0, 0, 1)
    );
    // Every login of an unknown user gets a ticket of its own.
    let again = ticket_of(&app.try_login("alice").await);
    assert_ne!(again, ticket);
    assert_eq!(app.stats().await.tickets, 2);
    assert_eq!(
        app.metric("login_core_logins_total{result=\"registration_required\"}")
            .await,
        2.0
    );
}

#[tokio::test]
async fn a_ticket_and_an_sms_code_register_a_new_number_with_the_wechat_identity() {
    let app = phone_first().await;
    let ticket = ticket_of(&app.try_login("alice").await);
    let r = app.sms_login_fresh("13812340001", Some(&ticket)).await.ok();
    assert_eq!(r["user"]["is_new"], true);
    assert_eq!(r["user"]["apps"], json!([app.appid.as_str()]));
    assert_eq!(r["user"]["phone"]["purePhoneNumber"], "13812340001");
    assert_eq!(r["user"]["phone"]["countryCode"], "86");
    let token = token_of(&r);
    // The session carries the WeChat identity: its session_key works with WeChat.
    app.check(&token).await;
    let stats = app.stats().await;
    assert_eq!((stats.users, stats.identities, stats.tickets), (1, 1, 0));
    // From now on WeChat alone logs alice in.
    let (_, login) = app.login("alice").await;
    assert_eq!(login["user"]["id"], r["user"]["id"]);
    assert_eq!(login["user"]["is_new"], false);
}

#[tokio::test]
async fn a_ticket_is_single_use_and_expires() {
    let app = phone_first().await;
    let ticket = ticket_of(&app.try_login("alice").await);
    app.sms_login_fresh("13812340002", Some(&ticket)).await.ok();
    let before = app.stats().await;
    let r = app.sms_login_fresh("13812340003", Some(&ticket)).await;
    let message = r.assert_error(401, "ticket_invalid");
    assert!(message.contains("wx.login"), "{message}");
    let after = app.stats().await;
    assert_eq!(
        (after.users, after.identities, after.sessions),
        (before.users, before.identities, before.sessions)
    );
    // The refused login left its code usable: without the ticket it is a plain SMS login.
    let code = app.outbox.last_code(&e164("13812340003"));
    let plain = app.sms_login("13812340003", &code, None).await.ok();
    assert_eq!(plain["user"]["is_new"], true);
    assert_eq!(plain["user"]["apps"], json!([]));

    // Expiry: ten minutes.
    let bob = ticket_of(&app.try_login("bob").await);
    app.advance(Duration::from_secs(600));
    app.sms_login_fresh("13812340004", Some(&bob))
        .await
        .assert_error(401, "ticket_invalid");
    let late = ticket_of(&app.try_login("bob").await);
    app.advance(Duration::from_secs(599));
    app.sms_login_fresh("13812340004", Some(&late)).await.ok();
}

#[tokio::test]
async fn a_ticket_names_its_app() {
    let app = TestApp::with(Setup {
        extra_apps: vec![plain_app(SIBLING)],
        configure: Box::new(phone_required),
        ..Setup::default()
    })
    .await;
    let ticket = ticket_of(&app.try_login("alice").await);
    app.send_code("13812340005").await.ok();
    let code = app.outbox.last_code(&e164("13812340005"));
    let r = app
        .post(
            "/api/login/sms",
            None,
            json!({"phone": "13812340005", "code": code, "ticket": ticket, "appid": SIBLING}),
        )
        .await;
    r.assert_error(401, "ticket_invalid");
    // Named right, or not named: the ticket's app.
    let r = app
        .post(
            "/api/login/sms",
            None,
            json!({"phone": "13812340005", "code": code, "ticket": ticket, "appid": app.appid.as_str()}),
        )
        .await
        .ok();
    assert_eq!(r["user"]["apps"], json!([app.appid.as_str()]));
}

#[tokio::test]
async fn an_existing_number_takes_the_tickets_identity() {
    let app = phone_first().await;
    // The number first registered by SMS alone (the web, say).
    let web = app.sms_login_fresh("13812340006", None).await.ok();
    assert_eq!(web["user"]["apps"], json!([]));
    let ticket = ticket_of(&app.try_login("alice").await);
    app.advance(Duration::from_secs(60));
    let r = app.sms_login_fresh("13812340006", Some(&ticket)).await.ok();
    assert_eq!(r["user"]["id"], web["user"]["id"]);
    assert_eq!(r["user"]["is_new"], false);
    assert_eq!(r["user"]["apps"], json!([app.appid.as_str()]));
    // The web session sees the binding too.
    let web_me = app.me(&token_of(&web)).await;
    assert_eq!(web_me["apps"], json!([app.appid.as_str()]));
    let (_, wechat) = app.login("alice").await;
    assert_eq!(wechat["user"]["id"], web["user"]["id"]);
}

#[tokio::test]
async fn a_number_bound_to_another_openid_is_409_and_nothing_is_written() {
    let app = phone_first().await;
    let bob = ticket_of(&app.try_login("bob").await);
    let bobs = app.sms_login_fresh("13812340007", Some(&bob)).await.ok();
    let alice = ticket_of(&app.try_login("alice").await);
    app.advance(Duration::from_secs(60));
    let before = app.stats().await;
    let r = app.sms_login_fresh("13812340007", Some(&alice)).await;
    let message = r.assert_error(409, "phone_bound_to_other_wechat");
    assert!(message.contains("another WeChat user"), "{message}");
    let after = app.stats().await;
    assert_eq!(
        (after.users, after.identities, after.sessions, after.tickets),
        (
            before.users,
            before.identities,
            before.sessions,
            before.tickets
        ),
        "the ticket stays"
    );
    assert_eq!(after.sms_codes, 1);
    // The same code without the ticket logs in as the number's owner (bob).
    let code = app.outbox.last_code(&e164("13812340007"));
    let plain = app.sms_login("13812340007", &code, None).await.ok();
    assert_eq!(plain["user"]["id"], bobs["user"]["id"]);
    // alice's ticket is still good for another number.
    let r = app.sms_login_fresh("13812340008", Some(&alice)).await.ok();
    assert_eq!(r["user"]["is_new"], true);
}

#[tokio::test]
async fn a_known_user_logs_in_and_a_unionid_user_joins_without_a_ticket() {
    let app = TestApp::with(Setup {
        default_platform: Some("platform-1"),
        extra_apps: vec![sibling_app(SIBLING)],
        configure: Box::new(|c| {
            // Only the default app asks for a number.
            c.apps[0].registration = login_core::config::Registration::PhoneRequired;
        }),
    })
    .await;
    let sibling = AppId::new(SIBLING);
    let (_, first) = app.login_in(&sibling, "alice").await;
    assert_eq!(first["user"]["is_new"], true, "auto in the sibling");
    let (_, joined) = app.login("alice").await;
    assert_eq!(joined["user"]["id"], first["user"]["id"]);
    assert_eq!(joined["user"]["is_new"], false);
    assert_eq!(app.stats().await.tickets, 0);
}

#[tokio::test]
async fn the_wechat_number_with_the_code_registers_joins_or_conflicts() {
    let app = phone_first().await;
    let appid = app.appid.clone();
    app.set_wechat_number("alice", "13812340009").await;
    let r = app.login_with_phone_code_in(&appid, "alice").await.ok();
    assert_eq!(r["user"]["is_new"], true);
    assert_eq!(r["user"]["phone"]["purePhoneNumber"], "13812340009");
    assert_eq!(r["user"]["apps"], json!([appid.as_str()]));
    assert_eq!(app.calls("getuserphonenumber").await, 1);
    // Known now: the code logs in, the phone code is not even spent.
    let again = app.login_with_phone_code_in(&appid, "alice").await.ok();
    assert_eq!(again["user"]["id"], r["user"]["id"]);
    assert_eq!(again["user"]["is_new"], false);
    assert_eq!(app.calls("getuserphonenumber").await, 1);

    // A phone-only account (SMS on the web) is joined by the WeChat user with its number.
    let web = app.sms_login_fresh("13812340010", None).await.ok();
    app.set_wechat_number("bob", "13812340010").await;
    let bob = app.login_with_phone_code_in(&appid, "bob").await.ok();
    assert_eq!(bob["user"]["id"], web["user"]["id"]);
    assert_eq!(bob["user"]["is_new"], false);
    assert_eq!(bob["user"]["apps"], json!([appid.as_str()]));

    // carol's WeChat number is alice's: bound to another openid here.
    app.set_wechat_number("carol", "13812340009").await;
    let before = app.stats().await;
    app.login_with_phone_code_in(&appid, "carol")
        .await
        .assert_error(409, "phone_bound_to_other_wechat");
    assert_eq!(app.stats().await, before, "nothing written");
}

#[tokio::test]
async fn the_wechat_number_with_the_code_works_under_auto_too() {
    let app = TestApp::new().await;
    let appid = app.appid.clone();
    app.set_wechat_number("alice", "13812340011").await;
    let r = app.login_with_phone_code_in(&appid, "alice").await.ok();
    assert_eq!(r["user"]["is_new"], true);
    assert_eq!(r["user"]["phone_bound"], true);
    // Without a number, auto creates the user as ever.
    let (_, bob) = app.login("bob").await;
    assert_eq!(bob["user"]["phone_bound"], false);
}

#[tokio::test]
async fn the_legacy_encrypted_number_with_the_code_registers() {
    let app = phone_first().await;
    app.set_wechat_number("alice", "13812340012").await;
    // wx.login first, then the legacy getPhoneNumber: the data is sealed with the code's key.
    let grant = app.grant("alice").await;
    let phone = app.legacy_phone("alice", None).await;
    let r = app
        .post(
            "/api/login",
            None,
            json!({"code": grant.code, "encryptedData": phone.encrypted_data, "iv": phone.iv}),
        )
        .await
        .ok();
    assert_eq!(r["user"]["is_new"], true);
    assert_eq!(r["user"]["phone"]["purePhoneNumber"], "13812340012");
    assert_eq!(app.calls("getuserphonenumber").await, 0);

    // Data of another user's key does not open: 400, nothing written.
    app.set_wechat_number("bob", "13812340013").await;
    app.grant("carol").await;
    let bob_grant = app.grant("bob").await;
    let carols = app.legacy_phone("carol", None).await;
    let before = app.stats().await;
    app.post(
        "/api/login",
        None,
        json!({"code": bob_grant.code, "encryptedData": carols.encrypted_data, "iv": carols.iv}),
    )
    .await
    .assert_error(400, "decrypt_failed");
    assert_eq!(app.stats().await, before);
}

#[tokio::test]
async fn a_phone_code_wechat_refuses_writes_nothing() {
    let app = phone_first().await;
    let code = app.wx_login("alice").await;
    let r = app
        .post(
            "/api/login",
            None,
            json!({"code": code, "phone_code": "0123456789abcdef0123456789abcdef"}),
        )
        .await;
    r.assert_error(400, "phone_code_invalid");
    assert_eq!(app.stats().await, login_core::store::StoreStats::default());
}

#[tokio::test]
async fn a_session_without_wechat_works_except_for_wechat_data() {
    let app = TestApp::new().await;
    let r = app.sms_login_fresh("+85251234567", None).await.ok();
    assert_eq!(
        r["user"]["phone"],
        json!({"phoneNumber": "+85251234567", "purePhoneNumber": "51234567", "countryCode": "852"})
    );
    let token = token_of(&r);
    assert_eq!(app.me(&token).await, {
        let mut u = r["user"].clone();
        u.as_object_mut().expect("object").remove("is_new");
        u
    });
    for resp in [
        app.get("/api/session/check", Some(&token)).await,
        app.bind_phone(&token, json!({"code": "abc"})).await,
        app.update_profile(
            &token,
            json!({"encryptedData": "AAAAAAAAAAAAAAAAAAAAAA==", "iv": "AAAAAAAAAAAAAAAAAAAAAA=="}),
        )
        .await,
    ] {
        resp.assert_error(409, "wechat_required");
    }
    let p = app
        .update_profile(&token, json!({"nickName": "小明"}))
        .await
        .ok();
    assert_eq!(p["user"]["profile"]["nickName"], "小明");
    let fresh = token_of(&app.refresh(&token).await.ok());
    app.me(&fresh).await;
    let out = app.post("/api/logout", Some(&fresh), json!({})).await;
    assert_eq!(out.status, 204);
    app.get("/api/me", Some(&fresh))
        .await
        .assert_error(401, "login_required");
    assert_eq!(app.calls("getuserphonenumber").await, 0);
    assert_eq!(app.calls("checksession").await, 0);
}

#[tokio::test]
async fn tickets_survive_a_restart_and_expired_ones_are_purged() {
    let app = phone_first().await;
    let ticket = ticket_of(&app.try_login("alice").await);
    let app = app.restart_core(phone_required).await;
    let r = app.sms_login_fresh("13812340014", Some(&ticket)).await.ok();
    assert_eq!(r["user"]["is_new"], true);
    ticket_of(&app.try_login("bob").await);
    app.advance(Duration::from_secs(601));
    let purged = app.core.services().purge_sessions().await.expect("purge");
    assert_eq!(purged, 1);
    assert_eq!(app.stats().await.tickets, 0);
    let _: Value = app.me(&token_of(&r)).await;
}

#[tokio::test]
async fn an_older_ticket_of_a_registered_user_cannot_bring_another_number() {
    let app = phone_first().await;
    let older = ticket_of(&app.try_login("alice").await);
    let newer = ticket_of(&app.try_login("alice").await);
    let r = app.sms_login_fresh("13812340015", Some(&newer)).await.ok();
    let before = app.stats().await;
    let message = app
        .sms_login_fresh("13812340016", Some(&older))
        .await
        .assert_error(409, "wechat_bound_to_other_phone");
    assert!(message.contains("another phone number"), "{message}");
    let after = app.stats().await;
    assert_eq!(
        (after.users, after.sessions),
        (before.users, before.sessions)
    );
    // With its own number the older ticket just logs alice in.
    app.advance(Duration::from_secs(60));
    let again = app.sms_login_fresh("13812340015", Some(&older)).await.ok();
    assert_eq!(again["user"]["id"], r["user"]["id"]);
}

#[tokio::test]
async fn a_wechat_user_with_an_account_elsewhere_cannot_take_another_accounts_number() {
    let app = TestApp::with(Setup {
        default_platform: Some("platform-1"),
        extra_apps: vec![sibling_app(SIBLING)],
        configure: Box::new(|c| {
            c.apps[0].registration = login_core::config::Registration::PhoneRequired;
        }),
    })
    .await;
    // alice's ticket in the default app, then her account in the sibling (auto).
    let ticket = ticket_of(&app.try_login("alice").await);
    let (_, sibling) = app.login_in(&AppId::new(SIBLING), "alice").await;
    // The number belongs to a phone-only account.
    let web = app.sms_login_fresh("13812340017", None).await.ok();
    app.advance(Duration::from_secs(60));
    let before = app.stats().await;
    app.sms_login_fresh("13812340017", Some(&ticket))
        .await
        .assert_error(409, "phone_conflict");
    let after = app.stats().await;
    assert_eq!(
        (after.users, after.identities, after.tickets),
        (before.users, before.identities, before.tickets)
    );
    assert_ne!(web["user"]["id"], sibling["user"]["id"]);
    // A free number goes to her existing account, with the ticket's identity.
    let r = app.sms_login_fresh("13812340018", Some(&ticket)).await.ok();
    assert_eq!(r["user"]["id"], sibling["user"]["id"]);
    assert_eq!(r["user"]["is_new"], false);
    assert_eq!(r["user"]["apps"].as_array().map(Vec::len), Some(2));
}
