//! login-core on PostgreSQL over HTTP: a login, its session across a restart, and a database
//! that goes away mid-request (503 `store_unavailable`, nothing half-written, and the next
//! request works without a restart). Skipped, saying so, without `LOGIN_CORE_TEST_POSTGRES`.

use std::sync::Arc;
use std::time::Duration;

use crate::helpers::*;

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn a_login_and_its_session_survive_a_restart_on_postgres() {
    let test = "postgres::a_login_and_its_session_survive_a_restart_on_postgres";
    let Some(app) = TestApp::on_postgres(test, Setup::default()).await else {
        return;
    };
    let (token, login) = app.login("alice").await;
    assert_eq!(login["user"]["is_new"], true);
    let app = app.restart_core(|_| {}).await;
    assert_eq!(app.me(&token).await["id"], login["user"]["id"]);
    app.check(&token).await;
    let (_, again) = app.login("alice").await;
    assert_eq!(again["user"]["id"], login["user"]["id"]);
    assert_eq!(app.counts().await, (1, 1, 2));
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn a_database_that_goes_away_mid_request_answers_503_and_recovers_without_restart() {
    let test = "postgres::a_database_that_goes_away_mid_request";
    let Some(app) = TestApp::on_postgres(test, Setup::default()).await else {
        return;
    };
    let app = Arc::new(app);
    let (token, _) = app.login("alice").await;
    let before = app.stats().await;
    let schema = app.schema().expect("on PostgreSQL");

    // Hold the sessions table: bob's login stops inside its transaction, after it wrote his
    // user and identity. Then every connection of login-core is closed under it.
    let mut holder = schema.connect().await;
    sqlx::raw_sql("BEGIN; LOCK TABLE sessions IN ACCESS EXCLUSIVE MODE;")
        .execute(&mut holder)
        .await
        .expect("lock");
    let code = app.wx_login("bob").await;
    let pending = {
        let app = app.clone();
        tokio::spawn(async move { app.login_code(&code).await })
    };
    let mut observer = schema.connect().await;
    let waiting = schema
        .waits_for_a_lock(&mut observer, Duration::from_secs(3))
        .await;
    assert!(waiting, "bob's login waits inside its transaction");
    assert!(schema.terminate_connections().await >= 1);
    sqlx::raw_sql("COMMIT")
        .execute(&mut holder)
        .await
        .expect("unlock");

    let r = pending.await.expect("the request ran");
    let message = r.assert_error(503, "store_unavailable");
    assert!(message.contains("retry"), "{message}");
    assert_eq!(r.header("retry-after").as_deref(), Some("1"));

    // Nothing of bob is stored; login-core reconnects by itself.
    assert_eq!(app.stats().await, before, "nothing half-written");
    app.me(&token).await;
    let (_, bob) = app.login("bob").await;
    assert_eq!(bob["user"]["is_new"], true);
    assert_eq!(app.get("/readyz", None).await.status, 200);
}
