//! The Rust API: a test context and a mini-program client that logs in again on
//! `login_required`.

use harness::context::TestContext;
use reqwest::Method;

#[tokio::test]
async fn the_client_logs_in_again_when_its_token_is_revoked() {
    let ctx = TestContext::start().await.expect("both servers start");
    let mut alice = ctx.client("alice");
    let login = alice.login().await.expect("login");
    assert_eq!(login.status, 200);
    assert_eq!(login.json["user"]["is_new"], true);
    let first = alice.token().expect("a token").to_owned();

    // Revoke the token behind the client's back (as an expired session would).
    let out = reqwest::Client::new()
        .post(format!("{}/api/logout", ctx.core.base_url()))
        .bearer_auth(&first)
        .send()
        .await
        .expect("logout");
    assert_eq!(out.status(), 204);

    let me = alice.call(Method::GET, "/api/me", None).await.expect("me");
    assert_eq!(me.status, 200, "{}", me.json);
    assert_eq!(me.json["id"], login.json["user"]["id"], "the same user");
    let second = alice.token().expect("a token");
    assert_ne!(second, first, "a new login, a new token");

    // Two wx.login codes were exchanged: the first login and the automatic one.
    let journal = ctx
        .mock
        .control()
        .journal("endpoint=jscode2session")
        .await
        .expect("journal");
    assert_eq!(journal.entries.len(), 2, "{journal:?}");
}

#[tokio::test]
async fn the_client_logs_in_on_first_use_and_shares_the_clock() {
    let ctx = TestContext::start().await.expect("both servers start");
    let mut bob = ctx.client("bob");
    assert!(bob.token().is_none());
    let me = bob.call(Method::GET, "/api/me", None).await.expect("me");
    assert_eq!(me.status, 200);
    assert!(bob.token().is_some());
    let before = ctx.mock.clock().now();
    ctx.advance(std::time::Duration::from_secs(3600));
    assert_eq!(ctx.mock.clock().now().secs() - before.secs(), 3600);
}

#[tokio::test]
async fn a_seeded_context_hands_out_the_same_login_tokens_every_run() {
    // login-core's randomness comes from the seed, as the mock's does: a scenario run repeats
    // down to its tokens.
    let mut tokens = Vec::new();
    for _ in 0..2 {
        let ctx = TestContext::start().await.expect("both servers start");
        let mut alice = ctx.client("alice");
        let login = alice.login().await.expect("login");
        assert_eq!(login.status, 200, "{}", login.json);
        tokens.push(alice.token().expect("a token").to_owned());
    }
    assert_eq!(tokens[0], tokens[1]);
    // Another seed, another token.
    let mock = harness::context::start_mock("test", harness::context::DEFAULT_START)
        .await
        .expect("mock");
    let core = harness::context::start_core(&mock, "another seed", None, &[])
        .await
        .expect("login-core");
    let mut alice = harness::context::MiniProgram::new(
        &mock,
        &core.base_url(),
        mock.default_app().appid,
        "alice",
    );
    alice.login().await.expect("login");
    assert_ne!(alice.token(), Some(tokens[0].as_str()));
}
