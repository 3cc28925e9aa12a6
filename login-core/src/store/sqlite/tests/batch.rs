//! Tests of the group commit of logins: batching, a failing login inside a batch, flushing on
//! close, and the writer task ending with the store.

use std::time::Duration;

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
            OpenId::new(format!("o{i}"))
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
    assert_eq!(session(store, 1).await.openid, OpenId::new("o1"));
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
    let task = store
        .logins
        .task
        .lock()
        .expect("lock")
        .take()
        .expect("running");
    log_in(&copy, "wxa", "o1", None, 1).await;
    drop(store);
    tokio::task::yield_now().await;
    assert!(!task.is_finished(), "a clone still holds the store");
    log_in(&copy, "wxa", "o2", None, 2).await;
    drop(copy);
    tokio::time::timeout(Duration::from_secs(5), task)
        .await
        .expect("the task ends")
        .expect("without panicking");
}
