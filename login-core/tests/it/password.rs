//! `POST /api/login/password`: a new number registers with its password, the right password
//! logs in, a wrong one is 401, an account without one is told so, a ticket binds WeChat, and
//! attempts are limited per number and per address.

use serde_json::json;

use crate::helpers::*;

const PW: &str = "correct horse battery";

#[tokio::test]
async fn a_new_number_registers_and_the_password_logs_in_from_then_on() {
    let app = TestApp::new().await;
    let n = "13812340201";
    let first = app.password_login(n, PW, None).await.ok();
    assert_eq!(first["user"]["is_new"], true);
    assert_eq!(first["user"]["phone"]["purePhoneNumber"], n);
    let stats = app.stats().await;
    assert_eq!((stats.users, stats.passwords), (1, 1));
    let again = app.password_login(&e164(n), PW, None).await.ok();
    assert_eq!(again["user"]["id"], first["user"]["id"]);
    assert_eq!(again["user"]["is_new"], false);
    // Wrong: 401, nothing written.
    let before = app.stats().await;
    let r = app.password_login(n, "correct horse battery!", None).await;
    let message = r.assert_error(401, "password_incorrect");
    assert!(message.contains("wrong"), "{message}");
    assert_eq!(app.stats().await, before);
    // The same account by SMS.
    let sms = app.sms_login_fresh(n, None).await.ok();
    assert_eq!(sms["user"]["id"], first["user"]["id"]);
    // Only the hash is stored.
    let db: Vec<u8> = app
        .database_files()
        .into_iter()
        .flat_map(|(_, bytes)| bytes)
        .collect();
    assert!(!db.windows(PW.len()).any(|w| w == PW.as_bytes()));
    assert!(db.windows(9).any(|w| w == b"$argon2id"));
}

#[tokio::test]
async fn a_new_numbers_password_must_meet_the_policy_an_old_one_need_not() {
    let app = TestApp::new().await;
    let message = app
        .password_login("13812340202", "short", None)
        .await
        .assert_error(400, "invalid_field");
    assert!(
        message.starts_with("field `password`: must be at least 8 characters"),
        "{message}"
    );
    assert_eq!(app.stats().await.users, 0);
    // An account made while the policy asked for less keeps working when it asks for more.
    app.password_login("13812340202", "eight ch", None)
        .await
        .ok();
    let app = app.restart_core(|c| c.phone.password_min_chars = 12).await;
    app.password_login("13812340202", "eight ch", None)
        .await
        .ok();
    app.password_login("13812340203", "eleven char", None)
        .await
        .assert_error(400, "invalid_field");
}

#[tokio::test]
async fn an_account_without_a_password_is_told_to_use_sms() {
    let app = TestApp::new().await;
    app.sms_login_fresh("13812340204", None).await.ok();
    let before = app.stats().await;
    let message = app
        .password_login("13812340204", PW, None)
        .await
        .assert_error(401, "password_not_set");
    assert!(message.contains("SMS"), "{message}");
    assert_eq!(app.stats().await, before);
}

#[tokio::test]
async fn a_ticket_binds_wechat_to_a_new_or_existing_password_account() {
    let app = TestApp::configured(phone_required).await;
    // New number with a ticket.
    let ticket = ticket_of(&app.try_login("alice").await);
    let r = app
        .password_login("13812340205", PW, Some(&ticket))
        .await
        .ok();
    assert_eq!(r["user"]["is_new"], true);
    assert_eq!(r["user"]["apps"], json!([app.appid.as_str()]));
    app.check(&token_of(&r)).await;
    // Existing password account without WeChat, then a ticket with the right password.
    let web = app.password_login("13812340206", PW, None).await.ok();
    let bob = ticket_of(&app.try_login("bob").await);
    // A wrong password spends nothing: the ticket stays.
    app.password_login("13812340206", "not the password", Some(&bob))
        .await
        .assert_error(401, "password_incorrect");
    let r = app.password_login("13812340206", PW, Some(&bob)).await.ok();
    assert_eq!(r["user"]["id"], web["user"]["id"]);
    assert_eq!(r["user"]["apps"], json!([app.appid.as_str()]));
    // alice's number with carol's ticket: bound to another openid.
    let carol = ticket_of(&app.try_login("carol").await);
    let before = app.stats().await;
    app.password_login("13812340205", PW, Some(&carol))
        .await
        .assert_error(409, "phone_bound_to_other_wechat");
    assert_eq!(app.stats().await, before);
}

#[tokio::test]
async fn attempts_are_limited_per_number_and_per_address() {
    let app = TestApp::configured(|c| {
        c.phone.password_attempts_per_number = 3;
        c.phone.password_attempts_per_address = 5;
    })
    .await;
    let n = "13812340207";
    app.password_login(n, PW, None).await.ok();
    for _ in 0..2 {
        app.password_login(n, "wrong password", None)
            .await
            .assert_error(401, "password_incorrect");
    }
    let r = app.password_login(n, PW, None).await;
    let message = r.assert_error(429, "rate_limited");
    assert!(message.contains("this number"), "{message}");
    assert_eq!(r.header("retry-after").as_deref(), Some("900"));
    // Another number from the same address: two more attempts, then the address is done.
    app.password_login("13812340208", PW, None).await.ok();
    let r = app.password_login("13812340209", PW, None).await;
    let message = r.assert_error(429, "rate_limited");
    assert!(message.contains("address"), "{message}");
    assert_eq!(app.stats().await.users, 2);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn racing_registrations_of_one_number_make_one_account() {
    // Eight clients register the same new number at once, with two passwords: one account is
    // made; the requests that lose the race are checked again against the winner's password.
    let app = std::sync::Arc::new(TestApp::new().await);
    let mut set = tokio::task::JoinSet::new();
    for i in 0..8 {
        let app = app.clone();
        set.spawn(async move {
            let pw = if i % 2 == 0 {
                "password one"
            } else {
                "password two"
            };
            (pw, app.password_login("13812340210", pw, None).await)
        });
    }
    let mut answers = Vec::new();
    while let Some(done) = set.join_next().await {
        answers.push(done.expect("ran"));
    }
    let winners: Vec<_> = answers.iter().filter(|(_, r)| r.status == 200).collect();
    let new: Vec<_> = winners
        .iter()
        .filter(|(_, r)| r.json()["user"]["is_new"] == true)
        .collect();
    assert_eq!(new.len(), 1, "one registration");
    let winning_pw = new[0].0;
    for (pw, r) in &answers {
        if *pw == winning_pw {
            assert_eq!(r.status, 200, "{}", r.text);
        } else {
            r.assert_error(401, "password_incorrect");
        }
    }
    let stats = app.stats().await;
    assert_eq!((stats.users, stats.passwords), (1, 1));
}
