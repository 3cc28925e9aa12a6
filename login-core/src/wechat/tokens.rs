//! The access-token cache: one token per app, refreshed ahead of its expiry by one caller at a
//! time (the others wait for that refresh instead of calling WeChat themselves), and dropped when
//! WeChat rejects it.

use std::collections::HashMap;
use std::future::Future;
use std::sync::{Arc, Mutex, PoisonError};
use std::time::Duration;

use super::{IssuedToken, TokenRequest, WeChatError};
use crate::clock::{SharedClock, UnixMs};
use crate::ids::{AccessToken, AppId};

/// The most a token is refreshed ahead of its expiry.
const MAX_REFRESH_MARGIN: Duration = Duration::from_secs(300);

/// Which access-token API the service uses.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq, serde::Serialize, serde::Deserialize)]
pub enum TokenMode {
    /// `GET /cgi-bin/token`: every refresh issues a new token and voids the previous one five
    /// minutes later, so only one process may use this mode per app.
    #[serde(rename = "token")]
    Plain,
    /// `POST /cgi-bin/stable_token`: the same token for every caller until it nears expiry, so
    /// several processes (or other systems) can share an app. The default for that reason.
    #[default]
    #[serde(rename = "stable_token")]
    Stable,
}

#[derive(Clone)]
struct Cached {
    token: AccessToken,
    /// When WeChat stops accepting it (measured from when we asked for it).
    expires_at: UnixMs,
    /// When to fetch a new one: `expires_at` minus the refresh margin.
    refresh_at: UnixMs,
}

#[derive(Default)]
struct Slot {
    cached: Option<Cached>,
    /// The cached token was rejected: in stable mode, ask for a new one with force_refresh,
    /// since the normal call would hand back the very token WeChat just refused.
    force_next: bool,
}

/// Access tokens cached per app.
///
/// Each app has its own async mutex, held across the refresh: N concurrent callers that find
/// the token stale cause exactly one upstream call, and callers for other apps are not blocked.
pub struct AccessTokens {
    clock: SharedClock,
    mode: TokenMode,
    slots: Mutex<HashMap<AppId, Arc<tokio::sync::Mutex<Slot>>>>,
}

impl std::fmt::Debug for AccessTokens {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("AccessTokens")
            .field("mode", &self.mode)
            .finish_non_exhaustive()
    }
}

/// How long before expiry to refresh a token valid for `lifetime`: five minutes, or half the
/// lifetime for short-lived tokens (so a token is always used for a while before refreshing).
fn refresh_margin(lifetime: Duration) -> Duration {
    MAX_REFRESH_MARGIN.min(lifetime / 2)
}

impl AccessTokens {
    /// An empty cache reading time from `clock`.
    pub fn new(clock: SharedClock, mode: TokenMode) -> Self {
        Self {
            clock,
            mode,
            slots: Mutex::new(HashMap::new()),
        }
    }

    /// The token API in use.
    pub fn mode(&self) -> TokenMode {
        self.mode
    }

    fn slot(&self, appid: &AppId) -> Arc<tokio::sync::Mutex<Slot>> {
        // Only map lookups and inserts happen under this lock: nothing is left half-done by a
        // panic elsewhere, so a poisoned map is still sound.
        let mut slots = self.slots.lock().unwrap_or_else(PoisonError::into_inner);
        slots.entry(appid.clone()).or_default().clone()
    }

    /// The app's token: the cached one unless it is within the refresh margin of its expiry,
    /// else a new one from `fetch`, called with the [`TokenRequest`] to make.
    ///
    /// If the refresh fails while the cached token has not yet expired (and was not rejected),
    /// the cached token is returned: it still works, and the next call tries again.
    pub async fn get<F, Fut>(&self, appid: &AppId, fetch: F) -> Result<AccessToken, WeChatError>
    where
        F: FnOnce(TokenRequest) -> Fut,
        Fut: Future<Output = Result<IssuedToken, WeChatError>>,
    {
        let slot = self.slot(appid);
        let mut slot = slot.lock().await;
        let now = self.clock.now();
        if let Some(c) = &slot.cached
            && now < c.refresh_at
        {
            return Ok(c.token.clone());
        }
        let request = match self.mode {
            TokenMode::Plain => TokenRequest::Plain,
            TokenMode::Stable => TokenRequest::Stable {
                force_refresh: slot.force_next,
            },
        };
        // The lifetime counts from before the request: WeChat's clock started no later.
        let asked_at = now;
        match fetch(request).await {
            Ok(issued) => {
                let lifetime = Duration::from_secs(issued.expires_in);
                let expires_at = asked_at.plus(lifetime);
                let refresh_at = asked_at.plus(lifetime.saturating_sub(refresh_margin(lifetime)));
                slot.cached = Some(Cached {
                    token: issued.token.clone(),
                    expires_at,
                    refresh_at,
                });
                slot.force_next = false;
                Ok(issued.token)
            }
            Err(e) => {
                let now = self.clock.now();
                match &slot.cached {
                    Some(c) if now < c.expires_at => {
                        tracing::warn!(
                            appid = %appid,
                            error = %e,
                            "access token refresh failed; the current token is still valid"
                        );
                        Ok(c.token.clone())
                    }
                    _ => Err(e),
                }
            }
        }
    }

    /// Drops the app's cached token if it is still `failed` (a caller that got the same
    /// rejection earlier may already have replaced it). Returns whether it was dropped.
    pub async fn invalidate(&self, appid: &AppId, failed: &AccessToken) -> bool {
        let slot = self.slot(appid);
        let mut slot = slot.lock().await;
        if slot.cached.as_ref().is_some_and(|c| &c.token == failed) {
            slot.cached = None;
            slot.force_next = true;
            true
        } else {
            false
        }
    }
}

#[cfg(test)]
mod tests {
    use std::sync::atomic::{AtomicU32, Ordering};

    use super::*;
    use crate::clock::ManualClock;

    fn cache(mode: TokenMode) -> (AccessTokens, ManualClock) {
        let clock = ManualClock::new(UnixMs(1_700_000_000_000));
        (AccessTokens::new(Arc::new(clock.clone()), mode), clock)
    }

    /// A stand-in for WeChat's token endpoint: counts its calls and records the requests.
    #[derive(Default)]
    struct Upstream {
        calls: AtomicU32,
        requests: Mutex<Vec<TokenRequest>>,
    }

    impl Upstream {
        /// A fetch that counts its call, records the request and issues `tok-N` for 7200 s.
        fn issuing(
            &self,
        ) -> impl FnOnce(TokenRequest) -> std::future::Ready<Result<IssuedToken, WeChatError>> + '_
        {
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
        fn failing(
            &self,
        ) -> impl FnOnce(TokenRequest) -> std::future::Ready<Result<IssuedToken, WeChatError>> + '_
        {
            move |_| {
                self.calls.fetch_add(1, Ordering::SeqCst);
                std::future::ready(Err(WeChatError::Api {
                    errcode: -1,
                    errmsg: "system error".into(),
                }))
            }
        }

        /// The cached token of `app`, or one fetched by [`Upstream::issuing`].
        async fn get(
            &self,
            tokens: &AccessTokens,
            app: &AppId,
        ) -> Result<AccessToken, WeChatError> {
            tokens.get(app, self.issuing()).await
        }

        /// The cached token of `app`, or the failure of [`Upstream::failing`].
        async fn get_failing(
            &self,
            tokens: &AccessTokens,
            app: &AppId,
        ) -> Result<AccessToken, WeChatError> {
            tokens.get(app, self.failing()).await
        }

        fn calls(&self) -> u32 {
            self.calls.load(Ordering::SeqCst)
        }

        fn requests(&self) -> Vec<TokenRequest> {
            self.requests.lock().expect("not poisoned").clone()
        }
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
    async fn cached_until_the_margin_then_refreshed() {
        let (tokens, clock) = cache(TokenMode::Plain);
        let app = AppId::new("wx1");
        let wechat = Upstream::default();
        let t1 = wechat.get(&tokens, &app).await;
        assert_eq!(t1.expect("issued").expose(), "tok-1");
        clock.advance(Duration::from_secs(6899));
        let again = wechat.get(&tokens, &app).await;
        assert_eq!(again.expect("cached").expose(), "tok-1");
        assert_eq!(wechat.calls(), 1);
        clock.advance(Duration::from_secs(1));
        let t2 = wechat.get(&tokens, &app).await;
        assert_eq!(t2.expect("refreshed").expose(), "tok-2");
        assert_eq!(wechat.calls(), 2);
        assert_eq!(
            wechat.requests(),
            vec![TokenRequest::Plain, TokenRequest::Plain]
        );
        // Another app has its own token.
        let other = wechat.get(&tokens, &AppId::new("wx2")).await;
        assert_eq!(other.expect("issued").expose(), "tok-3");
    }

    #[tokio::test]
    async fn invalidate_only_drops_the_failed_token_and_forces_in_stable_mode() {
        let (tokens, _clock) = cache(TokenMode::Stable);
        let app = AppId::new("wx1");
        let wechat = Upstream::default();
        let t1 = wechat.get(&tokens, &app).await.expect("issued");
        // A token nobody holds any more: nothing happens.
        assert!(!tokens.invalidate(&app, &AccessToken::new("stale")).await);
        assert_eq!(wechat.get(&tokens, &app).await.expect("cached"), t1);
        assert!(tokens.invalidate(&app, &t1).await);
        // Twice: the second caller with the same rejection finds it gone.
        assert!(!tokens.invalidate(&app, &t1).await);
        let t2 = wechat.get(&tokens, &app).await.expect("refreshed");
        assert_eq!(t2.expose(), "tok-2");
        // The refreshed token is not dropped for the old one's rejection.
        assert!(!tokens.invalidate(&app, &t1).await);
        let t3 = wechat.get(&tokens, &app).await;
        assert_eq!(t3.expect("cached"), t2);
        assert_eq!(
            wechat.requests(),
            vec![
                TokenRequest::Stable {
                    force_refresh: false
                },
                TokenRequest::Stable {
                    force_refresh: true
                },
            ]
        );
    }

    #[tokio::test]
    async fn a_failed_refresh_keeps_a_token_that_has_not_expired() {
        let (tokens, clock) = cache(TokenMode::Plain);
        let app = AppId::new("wx1");
        let wechat = Upstream::default();

        // Nothing cached: the failure is returned as is.
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
        // A rejected token is not handed out again even if its lifetime says it is valid.
        let t2 = wechat.get(&tokens, &app).await.expect("issued");
        assert!(tokens.invalidate(&app, &t2).await);
        assert!(wechat.get_failing(&tokens, &app).await.is_err());
        assert_eq!(wechat.calls(), 6);
    }

    #[tokio::test(flavor = "multi_thread", worker_threads = 4)]
    async fn concurrent_callers_share_one_refresh() {
        let (tokens, _clock) = cache(TokenMode::Plain);
        let tokens = Arc::new(tokens);
        let calls = Arc::new(AtomicU32::new(0));
        let mut set = tokio::task::JoinSet::new();
        for _ in 0..64 {
            let tokens = tokens.clone();
            let calls = calls.clone();
            set.spawn(async move {
                tokens
                    .get(&AppId::new("wx1"), |_| async move {
                        calls.fetch_add(1, Ordering::SeqCst);
                        // Long enough for every other caller to queue behind this refresh.
                        tokio::time::sleep(Duration::from_millis(20)).await;
                        Ok(IssuedToken {
                            token: AccessToken::new("shared"),
                            expires_in: 7200,
                        })
                    })
                    .await
            });
        }
        let mut got = 0;
        while let Some(r) = set.join_next().await {
            assert_eq!(r.expect("task ran").expect("token").expose(), "shared");
            got += 1;
        }
        assert_eq!(got, 64);
        assert_eq!(calls.load(Ordering::SeqCst), 1);
    }
}
