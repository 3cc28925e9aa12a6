//! Tests of the group commit of logins: batching, a failing login inside a batch, flushing on
//! close, and the writer task ending with the store.

use std::time::Duration;

use tokio::sync::oneshot;

use proptest::prelude::*;

use super::*;
use crate::store::sqlite::batch::commit_batch;

/// The outcomes of `writes`, each recorded by its own task, in order.
async fn record_all(
    store: &Arc<SqliteStore>,
    writes: Vec<LoginWrite>,
) -> Vec<Result<LoginOutcome, StoreError>> {
    let tasks: Vec<_> = writes
        .into_iter()
        .map(|write| {
            let store = Arc::clone(store);
            tokio::spawn(async move { store.record_login(write).await })
        })
        .collect();
    let mut outcomes = Vec::new();
    for task in tasks {
        outcomes.push(task.await.expect("task"));
    }
    outcomes
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn sixty_four_concurrent_logins_of_distinct_people_commit_and_survive_reopen() {
    let dir = tempfile::tempdir().expect("temp dir");
    let url = file_url(&dir);
    let store = Arc::new(SqliteStore::open(&url).await.expect("open"));
    let writes = (0..64u8)
        .map(|i| login("wxa", &format!("o{i}"), Some(&format!("u{i}")), i, T0))
        .collect();
    let outcomes = record_all(&store, writes).await;
    let mut users = Vec::new();
    for (i, outcome) in outcomes.into_iter().enumerate() {
        let outcome = outcome.expect("login");
        assert!(outcome.is_new);
        assert_eq!(
            outcome.user.identities,
            vec![ident("wxa", &format!("o{i}"))]
        );
        users.push(outcome.user);
    }
    let commits = store.logins.commits();
    assert!((1..=64).contains(&commits), "{commits} commits");
    store.close().await;
    drop(store);

    let reopened = SqliteStore::open(&url).await.expect("reopen");
    assert_eq!(stats(&reopened).await, (64, 64, 64));
    for (i, user) in users.into_iter().enumerate() {
        assert_eq!(reopened.user(user.id).await.expect("user"), Some(user));
        let n = u8::try_from(i).expect("small");
        assert_eq!(
            session(&reopened, n).await.openid,
            Some(OpenId::new(format!("o{i}")))
        );
    }
}

/// Logins of one batch: o1; o2 reusing o1's token hash (its session insert fails); o3; o1
/// again (sees the user the first login created in the same transaction).
fn batch_with_a_failure() -> Vec<LoginWrite> {
    vec![
        login("wxa", "o1", Some("u1"), 1, T0),
        login("wxa", "o2", Some("u2"), 1, T0),
        login("wxa", "o3", None, 3, T0),
        login("wxa", "o1", Some("u1"), 4, at(1)),
    ]
}

/// Checks the answers to [`batch_with_a_failure`] and what it left in the database.
async fn check_batch_with_a_failure(
    store: &SqliteStore,
    outcomes: Vec<Result<LoginOutcome, StoreError>>,
) {
    let [first, failed, third, again]: [_; 4] = outcomes.try_into().expect("four answers");
    let first = first.expect("o1 logs in");
    assert!(first.is_new);
    match failed {
        Err(StoreError::Database(sqlx::Error::Database(e))) => {
            assert!(e.is_unique_violation(), "{e}");
        }
        other => panic!("expected a unique violation, got {other:?}"),
    }
    let third = third.expect("o3 logs in");
    assert!(third.is_new);
    let again = again.expect("o1 logs in again");
    assert!(!again.is_new);
    assert_eq!(again.user.id, first.user.id);

    // o2's user and identity, written before its session failed, are rolled back with it.
    assert_eq!(stats(store).await, (2, 2, 3));
    assert_eq!(
        store
            .sealed_session_key(&AppId::new("wxa"), &OpenId::new("o2"))
            .await
            .expect("read"),
        None
    );
    assert_eq!(session(store, 1).await.openid, Some(OpenId::new("o1")));
    assert_eq!(session(store, 4).await.user_id, first.user.id);
}

#[tokio::test]
async fn a_failing_login_rolls_back_alone_and_the_rest_of_its_batch_commits() {
    let (store, _dir) = file_store().await;
    let writes = batch_with_a_failure();
    let refs: Vec<&LoginWrite> = writes.iter().collect();
    let mut conn = store.writer.acquire().await.expect("writer");
    let outcomes = commit_batch(&mut conn, &refs).await.expect("batch");
    drop(conn);
    check_batch_with_a_failure(&store, outcomes).await;
}

#[tokio::test]
async fn concurrent_logins_share_a_commit_and_a_failure_stays_alone() {
    // One thread: the four tasks all queue their login before the writer task runs.
    let (store, _dir) = file_store().await;
    let store = Arc::new(store);
    let outcomes = record_all(&store, batch_with_a_failure()).await;
    assert_eq!(store.logins.commits(), 1, "one batch, one commit");
    check_batch_with_a_failure(&store, outcomes).await;
}

#[tokio::test]
async fn close_commits_queued_logins_and_later_logins_fail() {
    let dir = tempfile::tempdir().expect("temp dir");
    let url = file_url(&dir);
    let store = Arc::new(SqliteStore::open(&url).await.expect("open"));
    let tasks: Vec<_> = (0..8u8)
        .map(|i| {
            let store = Arc::clone(&store);
            tokio::spawn(async move {
                store
                    .record_login(login("wxa", &format!("o{i}"), None, i, T0))
                    .await
            })
        })
        .collect();
    // Let every task queue its login (one thread: they run before this task again).
    tokio::task::yield_now().await;
    store.close().await;
    for task in tasks {
        task.await
            .expect("task")
            .expect("queued before close: committed");
    }
    let late = store.record_login(login("wxa", "late", None, 99, T0)).await;
    assert!(late.is_err(), "{late:?}");
    store.close().await; // Twice is fine.
    drop(store);

    let reopened = SqliteStore::open(&url).await.expect("reopen");
    assert_eq!(stats(&reopened).await, (8, 8, 8));
}

#[tokio::test]
async fn the_writer_task_ends_with_the_last_handle() {
    let store = memory_store().await;
    let copy = store.clone();
    let mut writer = store
        .logins
        .writer
        .lock()
        .expect("lock")
        .take()
        .expect("running");
    log_in(&copy, "wxa", "o1", None, 1).await;
    drop(store);
    tokio::task::yield_now().await;
    assert!(
        matches!(
            writer.done.try_recv(),
            Err(oneshot::error::TryRecvError::Empty)
        ),
        "a clone still holds the store"
    );
    log_in(&copy, "wxa", "o2", None, 2).await;
    drop(copy);
    tokio::time::timeout(Duration::from_secs(5), writer.done)
        .await
        .expect("the task ends")
        .expect("without panicking");
}

/// The size of the file at `url` (a `sqlite://` URL), plus `suffix` (`-wal`); 0 if missing.
fn file_size(url: &str, suffix: &str) -> u64 {
    let path = format!("{}{suffix}", url.trim_start_matches("sqlite://"));
    std::fs::metadata(path).map_or(0, |m| m.len())
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn committed_logins_are_checkpointed_into_the_database_file_beside_the_writer() {
    let dir = tempfile::tempdir().expect("temp dir");
    let url = file_url(&dir);
    let store = Arc::new(SqliteStore::open(&url).await.expect("open"));
    let empty = file_size(&url, "");
    let writes = (0..200u8)
        .map(|i| login("wxa", &format!("o{i}"), None, i, T0))
        .collect();
    let outcomes = record_all(&store, writes).await;
    assert!(outcomes.iter().all(Result::is_ok));
    // Far below the writer's own checkpoint threshold: only the checkpointer copies pages.
    store.logins.checkpointed().await;
    let grown = file_size(&url, "");
    assert!(grown > empty, "the database file grew: {empty} -> {grown}");
    assert!(file_size(&url, "-wal") > 0, "the WAL is still in use");

    // A plain connection that ignores the WAL (immutable) sees every login in the file itself.
    log_in(store.as_ref(), "wxa", "last", None, 250).await;
    store.logins.checkpointed().await;
    let path = url.trim_start_matches("sqlite://");
    let options = SqliteConnectOptions::from_str(&format!("sqlite://{path}?immutable=1"))
        .expect("url")
        .read_only(true);
    let mut conn = <SqliteConnection as sqlx::Connection>::connect_with(&options)
        .await
        .expect("connect");
    assert_eq!(
        scalar(&mut conn, "SELECT count(*) FROM sessions").await,
        201
    );
}

#[tokio::test]
async fn closing_a_file_store_stops_the_checkpointer_and_removes_the_wal() {
    let dir = tempfile::tempdir().expect("temp dir");
    let url = file_url(&dir);
    let store = SqliteStore::open(&url).await.expect("open");
    log_in(&store, "wxa", "o1", None, 1).await;
    store.logins.checkpointed().await;
    store.close().await;
    // The last connection to close checkpoints and deletes the WAL: the checkpointer's
    // connection is closed before the writer's.
    assert_eq!(file_size(&url, "-wal"), 0);
    let reopened = SqliteStore::open(&url).await.expect("reopen");
    assert_eq!(stats(&reopened).await, (1, 1, 1));
}

/// A login of a small world: 2 apps × 3 openids, 3 unionids or none, so that batches
/// repeat identities, join users by unionid, attach unionids and meet the rule breaks.
fn any_login() -> impl Strategy<Value = (u8, u8, Option<u8>)> {
    (0..2u8, 0..3u8, proptest::option::of(0..3u8))
}

/// The writes of `logins`, with tokens from `first_token` on; `None` reuses the first token
/// of the run, so that login's session insert fails.
fn writes_of(
    logins: &[(u8, u8, Option<u8>)],
    first_token: u8,
    fail: Option<usize>,
) -> Vec<LoginWrite> {
    logins
        .iter()
        .enumerate()
        .map(|(i, &(app, openid, unionid))| {
            let token = if fail == Some(i) {
                1
            } else {
                first_token + u8::try_from(i).expect("small")
            };
            let unionid = unionid.map(|u| format!("u{u}"));
            let appid = format!("wx{app}");
            // The same openid in two apps is two persons' identities, as WeChat has it.
            let openid = format!("o{app}{openid}");
            login(
                &appid,
                &openid,
                unionid.as_deref(),
                token,
                at(i64::from(token)),
            )
        })
        .collect()
}

/// Every user (ids 1 to `last`), every identity's sealed key and the sessions of `tokens`.
async fn contents(store: &SqliteStore, last: i64, tokens: &[u8]) -> Vec<String> {
    let mut out = vec![format!("{:?}", stats(store).await)];
    for id in 1..=last {
        out.push(format!("{:?}", store.user(UserId(id)).await.expect("user")));
    }
    for app in 0..2 {
        for openid in 0..3 {
            let key = store
                .sealed_session_key(
                    &AppId::new(format!("wx{app}")),
                    &OpenId::new(format!("o{app}{openid}")),
                )
                .await
                .expect("key");
            out.push(format!("{key:?}"));
        }
    }
    for &n in tokens {
        out.push(format!(
            "{:?}",
            store.session(&hash(n)).await.expect("session")
        ));
    }
    out
}

/// Answers as comparable text: the outcome, or that the login failed.
fn answers_text(answers: &[Result<LoginOutcome, StoreError>]) -> Vec<String> {
    answers
        .iter()
        .map(|a| match a {
            Ok(outcome) => format!("{:?} {:?}", outcome.is_new, outcome.user),
            Err(_) => "failed".to_owned(),
        })
        .collect()
}

/// Commits `writes` as one batch on `store`'s writer connection.
async fn one_batch(
    store: &SqliteStore,
    writes: &[LoginWrite],
) -> Vec<Result<LoginOutcome, StoreError>> {
    let refs: Vec<&LoginWrite> = writes.iter().collect();
    let mut conn = store.writer.acquire().await.expect("writer");
    commit_batch(&mut conn, &refs).await.expect("batch")
}

proptest! {
    #![proptest_config(ProptestConfig::with_cases(64))]

    /// A batch decides exactly what its logins decide one by one: the same answers (users,
    /// ids, `is_new`, identities, times) and the same rows, whatever the mix of known and new
    /// identities, unionid joins, attachments and rule breaks, and with a login that fails.
    #[test]
    fn a_batch_equals_its_logins_one_by_one(
        before in proptest::collection::vec(any_login(), 0..6),
        batch in proptest::collection::vec(any_login(), 1..24),
        fail in proptest::option::of(0..24usize),
    ) {
        // A failing login reuses the first earlier token, so it needs one.
        let fail = fail.filter(|&i| i < batch.len() && !before.is_empty());
        let runtime = tokio::runtime::Builder::new_current_thread().enable_all().build().expect("runtime");
        let (batched, alone) = runtime.block_on(async {
            let (a, b) = (memory_store().await, memory_store().await);
            let earlier = writes_of(&before, 1, None);
            let writes = writes_of(&batch, 100, fail);
            for write in &earlier {
                one_batch(&a, std::slice::from_ref(write)).await;
                one_batch(&b, std::slice::from_ref(write)).await;
            }
            let batched = answers_text(&one_batch(&a, &writes).await);
            let mut alone = Vec::new();
            for write in &writes {
                alone.extend(answers_text(&one_batch(&b, std::slice::from_ref(write)).await));
            }
            let last = i64::try_from(before.len() + batch.len()).expect("small");
            let tokens: Vec<u8> = (1..=earlier.len())
                .chain(100..100 + writes.len())
                .map(|n| u8::try_from(n).expect("small"))
                .collect();
            let (ca, cb) = (contents(&a, last, &tokens).await, contents(&b, last, &tokens).await);
            ((batched, ca), (alone, cb))
        });
        prop_assert_eq!(&batched.0, &alone.0, "answers");
        prop_assert_eq!(batched.1, alone.1, "database");
        if let Some(i) = fail {
            prop_assert_eq!(&batched.0[i], "failed");
        }
    }
}

#[tokio::test]
async fn user_ids_are_not_reused_after_the_newest_user_is_merged_away() {
    let store = memory_store().await;
    let owner = owner_of(&store, ("wxb", "ob", None), 1, "13800000000").await;
    let newest = login_user(&store, "wxa", "oa", None, 2).await;
    let outcome = bind(&store, &newest, "wxa", "oa", "13800000000").await;
    assert!(
        matches!(outcome, PhoneOutcome::Joined { .. }),
        "{outcome:?}"
    );
    assert_eq!(
        store.user(newest.id).await.expect("read"),
        None,
        "merged away"
    );
    let writes = [
        login("wxa", "o1", None, 3, T0),
        login("wxa", "o2", None, 4, T0),
    ];
    let ids: Vec<UserId> = one_batch(&store, &writes)
        .await
        .into_iter()
        .map(|a| a.expect("login").user.id)
        .collect();
    assert_eq!(ids, [UserId(newest.id.0 + 1), UserId(newest.id.0 + 2)]);
    assert!(owner.id < newest.id);
}
