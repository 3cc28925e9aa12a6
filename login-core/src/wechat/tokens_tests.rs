//! Tests of the access tokens on memory rows: the refresh margin, generations and forced
//! refreshes, failed refreshes, sealing at rest, and several "instances" (caches over the same
//! rows) making one upstream call between them.

use std::sync::atomic::{AtomicU32, Ordering};

use super::*;
use crate::clock::{Clock, ManualClock, UnixMs};
use crate::random::SeededRandom;
use crate::store::shared::TokenLock;

fn cache(mode: TokenMode) -> (AccessTokens, ManualClock) {
    let clock = ManualClock::new(UnixMs(1_700_000_000_000));
    (
        AccessTokens::new(Arc::new(clock.clone()), mode, TokenVault::memory()),
        clock,
    )
}

/// A stand-in for WeChat's token endpoint: counts its calls and records the requests.
#[derive(Default)]
struct Upstream {
    calls: AtomicU32,
    requests: Mutex<Vec<TokenRequest>>,
}

type Answer = std::future::Ready<Result<IssuedToken, WeChatError>>;

impl Upstream {
    /// A fetch that counts its call, records the request and issues `tok-N` for 7200 s.
    fn issuing(&self) -> impl FnOnce(TokenRequest) -> Answer + '_ {
        move |r| {
            let n = self.calls.fetch_add(1, Ordering::SeqCst) + 1;
            self.requests.lock().expect("not poisoned").push(r);
            std::future::ready(Ok(IssuedToken {
                token: AccessToken::new(format!("tok-{n}")),
                expires_in: 7200,
            }))
        }
    }

    /// A fetch that counts its call and fails with `-1`.
    fn failing(&self) -> impl FnOnce(TokenRequest) -> Answer + '_ {
        move |r| {
            self.calls.fetch_add(1, Ordering::SeqCst);
            self.requests.lock().expect("not poisoned").push(r);
            std::future::ready(Err(WeChatError::Api {
                errcode: -1,
                errmsg: "system error".into(),
            }))
        }
    }

    async fn get(&self, tokens: &AccessTokens, app: &AppId) -> Result<Token, WeChatError> {
        tokens.get(app, self.issuing()).await
    }

    async fn get_failing(&self, tokens: &AccessTokens, app: &AppId) -> Result<Token, WeChatError> {
        tokens.get(app, self.failing()).await
    }

    fn calls(&self) -> u32 {
        self.calls.load(Ordering::SeqCst)
    }

    fn requests(&self) -> Vec<TokenRequest> {
        self.requests.lock().expect("not poisoned").clone()
    }
}

fn stable(force_refresh: bool) -> TokenRequest {
    TokenRequest::Stable { force_refresh }
}

#[test]
fn refresh_margin_is_five_minutes_or_half_the_lifetime() {
    assert_eq!(
        refresh_margin(Duration::from_secs(7200)),
        Duration::from_secs(300)
    );
    assert_eq!(
        refresh_margin(Duration::from_secs(345)),
        Duration::from_millis(172_500)
    );
    assert_eq!(
        refresh_margin(Duration::from_secs(1)),
        Duration::from_millis(500)
    );
    // Three tries of 5 s with backoffs up to 800 ms, plus a second.
    assert_eq!(
        lock_wait(Duration::from_secs(5), 3, Duration::from_millis(800)),
        Duration::from_millis(18_400)
    );
    assert_eq!(
        lock_wait(Duration::from_secs(5), 0, Duration::ZERO),
        Duration::from_secs(6)
    );
}

#[test]
fn mode_names_in_configuration() {
    let m: TokenMode = serde_json::from_str(r#""token""#).expect("known name");
    assert_eq!(m, TokenMode::Plain);
    let m: TokenMode = serde_json::from_str(r#""stable_token""#).expect("known name");
    assert_eq!(m, TokenMode::Stable);
    assert!(serde_json::from_str::<TokenMode>(r#""Plain""#).is_err());
    assert_eq!(TokenMode::default(), TokenMode::Stable);
}

#[tokio::test]
async fn stored_until_the_margin_then_refreshed() {
    let (tokens, clock) = cache(TokenMode::Plain);
    let app = AppId::new("wx1");
    let wechat = Upstream::default();
    let t1 = wechat.get(&tokens, &app).await.expect("issued");
    assert_eq!((t1.token.expose(), t1.generation), ("tok-1", 1));
    clock.advance(Duration::from_secs(6899));
    assert_eq!(wechat.get(&tokens, &app).await.expect("stored"), t1);
    assert_eq!(wechat.calls(), 1);
    clock.advance(Duration::from_secs(1));
    let t2 = wechat.get(&tokens, &app).await.expect("refreshed");
    assert_eq!((t2.token.expose(), t2.generation), ("tok-2", 2));
    assert_eq!(
        wechat.requests(),
        vec![TokenRequest::Plain, TokenRequest::Plain]
    );
    // Another app has its own row.
    let other = wechat
        .get(&tokens, &AppId::new("wx2"))
        .await
        .expect("issued");
    assert_eq!((other.token.expose(), other.generation), ("tok-3", 1));
}

#[tokio::test]
async fn a_rejected_generation_is_replaced_once_and_forced_in_stable_mode() {
    let (tokens, _clock) = cache(TokenMode::Stable);
    let app = AppId::new("wx1");
    let wechat = Upstream::default();
    let t1 = wechat.get(&tokens, &app).await.expect("issued");
    let t2 = tokens
        .replace(&app, &t1, wechat.issuing())
        .await
        .expect("replaced");
    assert_eq!((t2.token.expose(), t2.generation), ("tok-2", 2));
    // A second caller with the same rejection finds it replaced: no call, no force.
    let again = tokens
        .replace(&app, &t1, wechat.issuing())
        .await
        .expect("stored");
    assert_eq!(again, t2);
    assert_eq!(wechat.get(&tokens, &app).await.expect("stored"), t2);
    assert_eq!(wechat.requests(), vec![stable(false), stable(true)]);
}

#[tokio::test]
async fn the_same_token_again_keeps_its_generation() {
    let (tokens, clock) = cache(TokenMode::Stable);
    let app = AppId::new("wx1");
    let same = || {
        std::future::ready(Ok(IssuedToken {
            token: AccessToken::new("stable"),
            expires_in: 1000,
        }))
    };
    let t1 = tokens.get(&app, |_| same()).await.expect("issued");
    // Due for refresh: stable_token answers the same token with its remaining lifetime.
    clock.advance(Duration::from_secs(700));
    let t2 = tokens.get(&app, |_| same()).await.expect("refreshed");
    assert_eq!(t1, t2);
    assert_eq!(t2.generation, 1);
}

#[tokio::test]
async fn a_failed_refresh_keeps_a_token_that_has_not_expired() {
    let (tokens, clock) = cache(TokenMode::Plain);
    let app = AppId::new("wx1");
    let wechat = Upstream::default();

    // Nothing stored: the failure is returned as is.
    let err = wechat
        .get_failing(&tokens, &app)
        .await
        .expect_err("no token");
    assert_eq!(err.errcode(), Some(-1));

    let t1 = wechat.get(&tokens, &app).await.expect("issued");
    clock.advance(Duration::from_secs(7000));
    let kept = wechat.get_failing(&tokens, &app).await;
    assert_eq!(kept.expect("still valid"), t1);
    clock.advance(Duration::from_secs(200));
    let err = wechat
        .get_failing(&tokens, &app)
        .await
        .expect_err("expired");
    assert_eq!(err.errcode(), Some(-1));
    assert_eq!(wechat.calls(), 4);
}

#[tokio::test]
async fn a_failed_forced_refresh_marks_the_token_rejected_so_nobody_uses_it() {
    let (tokens, _clock) = cache(TokenMode::Stable);
    let app = AppId::new("wx1");
    let wechat = Upstream::default();
    let t1 = wechat.get(&tokens, &app).await.expect("issued");
    let err = tokens
        .replace(&app, &t1, wechat.failing())
        .await
        .expect_err("refresh failed");
    assert_eq!(err.errcode(), Some(-1));
    // The refused token is not handed out, though its lifetime says it is valid; the next
    // refresh forces again.
    assert!(wechat.get_failing(&tokens, &app).await.is_err());
    let t2 = wechat.get(&tokens, &app).await.expect("issued");
    assert_eq!((t2.token.expose(), t2.generation), ("tok-4", 2));
    assert_eq!(
        wechat.requests(),
        vec![stable(false), stable(true), stable(true), stable(true)]
    );
}

#[tokio::test]
async fn tokens_are_sealed_at_rest_and_a_retired_key_means_a_new_fetch() {
    let rows = Arc::new(MemoryTokens::default());
    let clock = ManualClock::new(UnixMs(1_700_000_000_000));
    let vault = |key: [u8; 32]| TokenVault {
        rows: rows.clone(),
        seal: Some((
            SealKey::new(key),
            Arc::new(SeededRandom::new(3)) as SharedRandom,
        )),
        lock_wait: Duration::from_secs(1),
    };
    let app = AppId::new("wx1");
    let wechat = Upstream::default();
    let a = AccessTokens::new(Arc::new(clock.clone()), TokenMode::Plain, vault([1; 32]));
    let t1 = wechat.get(&a, &app).await.expect("issued");
    let row = rows.read(&app).await.expect("reads").expect("a row");
    assert!(!row.sealed.windows(5).any(|w| w == b"tok-1"), "sealed");
    // Another row's sealed value does not open as this app's.
    assert!(a.vault.open(&AppId::new("wx2"), &row).is_none());
    // An instance with another key cannot open it, and fetches a token of its own.
    let b = AccessTokens::new(Arc::new(clock.clone()), TokenMode::Plain, vault([2; 32]));
    let t2 = wechat.get(&b, &app).await.expect("fetched again");
    assert_ne!(t1.token, t2.token);
    assert_eq!(t2.generation, 2);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn callers_on_several_instances_share_one_refresh() {
    let rows = Arc::new(MemoryTokens::default());
    let clock = ManualClock::new(UnixMs(1_700_000_000_000));
    let instances: Vec<Arc<AccessTokens>> = (0..3)
        .map(|_| {
            Arc::new(AccessTokens::new(
                Arc::new(clock.clone()),
                TokenMode::Stable,
                TokenVault {
                    rows: rows.clone(),
                    seal: None,
                    lock_wait: Duration::from_secs(5),
                },
            ))
        })
        .collect();
    // The lock is held, as by an instance asking WeChat: every caller queues behind it.
    let app = AppId::new("wx1");
    let held = rows
        .lock(&app, Duration::from_secs(1))
        .await
        .expect("locks");
    let calls = Arc::new(AtomicU32::new(0));
    let mut set = tokio::task::JoinSet::new();
    for i in 0..48 {
        let tokens = instances[i % 3].clone();
        let calls = calls.clone();
        let app = app.clone();
        set.spawn(async move {
            tokens
                .get(&app, |_| async move {
                    calls.fetch_add(1, Ordering::SeqCst);
                    Ok(IssuedToken {
                        token: AccessToken::new("shared"),
                        expires_in: 7200,
                    })
                })
                .await
        });
    }
    // The holder stores its token and lets go: the queued callers find it.
    held.save(NewToken {
        sealed: b"first".to_vec(),
        changed: true,
        expires_at: clock.now().plus(Duration::from_secs(7200)),
        refresh_at: clock.now().plus(Duration::from_secs(6900)),
        now: clock.now(),
    })
    .await
    .expect("saves");
    let mut got = 0;
    while let Some(r) = set.join_next().await {
        let t = r.expect("task ran").expect("token");
        assert_eq!((t.token.expose(), t.generation), ("first", 1));
        got += 1;
    }
    assert_eq!(got, 48);
    assert_eq!(calls.load(Ordering::SeqCst), 0, "no caller asked WeChat");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn concurrent_callers_share_one_refresh() {
    let (tokens, _clock) = cache(TokenMode::Plain);
    let tokens = Arc::new(tokens);
    let calls = Arc::new(AtomicU32::new(0));
    let gate = Arc::new(tokio::sync::Notify::new());
    let mut set = tokio::task::JoinSet::new();
    for _ in 0..64 {
        let tokens = tokens.clone();
        let calls = calls.clone();
        let gate = gate.clone();
        set.spawn(async move {
            tokens
                .get(&AppId::new("wx1"), |_| async move {
                    calls.fetch_add(1, Ordering::SeqCst);
                    // Held until every other caller has queued behind this refresh.
                    gate.notified().await;
                    Ok(IssuedToken {
                        token: AccessToken::new("shared"),
                        expires_in: 7200,
                    })
                })
                .await
        });
    }
    while calls.load(Ordering::SeqCst) == 0 {
        tokio::task::yield_now().await;
    }
    for _ in 0..64 {
        tokio::task::yield_now().await;
    }
    gate.notify_one();
    let mut got = 0;
    while let Some(r) = set.join_next().await {
        assert_eq!(
            r.expect("task ran").expect("token").token.expose(),
            "shared"
        );
        got += 1;
    }
    assert_eq!(got, 64);
    assert_eq!(calls.load(Ordering::SeqCst), 1);
}

/// The lock wait is honoured: a caller behind a refresh that takes too long gives up with an
/// error that says the store was busy, and asks WeChat nothing.
#[tokio::test]
async fn a_caller_waits_for_the_lock_no_longer_than_its_wait() {
    let rows = Arc::new(MemoryTokens::default());
    let tokens = AccessTokens::new(
        Arc::new(ManualClock::new(UnixMs(0))),
        TokenMode::Stable,
        TokenVault {
            rows: rows.clone(),
            seal: None,
            lock_wait: Duration::from_millis(20),
        },
    );
    let app = AppId::new("wx1");
    let _held: Box<dyn TokenLock> = rows
        .lock(&app, Duration::from_secs(1))
        .await
        .expect("locks");
    let wechat = Upstream::default();
    let err = wechat.get(&tokens, &app).await.expect_err("gave up");
    assert!(
        matches!(
            err,
            WeChatError::Store {
                unavailable: true,
                ..
            }
        ),
        "{err:?}"
    );
    assert_eq!(wechat.calls(), 0);
}
