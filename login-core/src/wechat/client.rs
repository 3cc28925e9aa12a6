//! The policy the services call WeChat through: cached access tokens, one refresh-and-retry when
//! WeChat rejects a token, bounded retries of `-1 system error`, a report of every raw call to the
//! [`UpstreamObserver`], and logs that say who must act on a failure.

use std::future::Future;
use std::sync::Arc;
use std::time::{Duration, Instant};

use super::tokens::{AccessTokens, Token, TokenMode, TokenVault};
use super::{
    AppCredentials, CodeSession, Endpoint, IssuedToken, TokenRequest, UpstreamObserver, WeChatApi,
    WeChatError, errcode,
};
use crate::clock::SharedClock;
use crate::crypto::login_signature;
use crate::domain::PhoneInfo;
use crate::ids::{AccessToken, AppId, JsCode, OpenId, PhoneCode, SessionKey};

/// How `-1 system error` is retried.
#[derive(Clone, Copy, Debug, PartialEq, Eq, serde::Deserialize)]
#[serde(default, deny_unknown_fields)]
pub struct RetryPolicy {
    /// Tries in all, the first included (0 counts as 1).
    pub attempts: u32,
    /// Wait before the first retry; doubled for each further retry.
    #[serde(with = "humantime_serde")]
    pub base_delay: Duration,
    /// The longest wait between two tries.
    #[serde(with = "humantime_serde")]
    pub max_delay: Duration,
}

impl Default for RetryPolicy {
    fn default() -> Self {
        Self {
            attempts: 3,
            base_delay: Duration::from_millis(100),
            max_delay: Duration::from_secs(1),
        }
    }
}

/// What a run of tries ended with.
struct Tries<T> {
    result: Result<T, WeChatError>,
    /// The last `-1` that was retried, if any.
    retried: Option<WeChatError>,
}

/// WeChat as the services use it: the [`WeChatApi`] port with the calling policy on top.
pub struct WeChat {
    api: Arc<dyn WeChatApi>,
    tokens: AccessTokens,
    retry: RetryPolicy,
    observer: Arc<dyn UpstreamObserver>,
}

impl std::fmt::Debug for WeChat {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("WeChat")
            .field("tokens", &self.tokens)
            .field("retry", &self.retry)
            .finish_non_exhaustive()
    }
}

impl WeChat {
    /// The policy over `api`, with access tokens in this process's memory; token expiry is
    /// judged by `clock`, `mode` picks the token API.
    pub fn new(
        api: Arc<dyn WeChatApi>,
        clock: SharedClock,
        mode: TokenMode,
        retry: RetryPolicy,
        observer: Arc<dyn UpstreamObserver>,
    ) -> Self {
        Self::with_vault(api, clock, mode, retry, observer, TokenVault::memory())
    }

    /// Like [`WeChat::new`], with access tokens kept in `vault` (shared by the instances on a
    /// database).
    pub fn with_vault(
        api: Arc<dyn WeChatApi>,
        clock: SharedClock,
        mode: TokenMode,
        retry: RetryPolicy,
        observer: Arc<dyn UpstreamObserver>,
        vault: TokenVault,
    ) -> Self {
        Self {
            api,
            tokens: AccessTokens::new(clock, mode, vault),
            retry,
            observer,
        }
    }

    /// Exchanges a `wx.login` code. Only `-1` is retried: the code is single-use, and after a
    /// timeout it may already be spent. A `40163` on a retry means a failed earlier try used
    /// the code up, so the earlier `-1` is returned instead (the user did nothing wrong).
    pub async fn code2session(
        &self,
        app: &AppCredentials,
        code: &JsCode,
    ) -> Result<CodeSession, WeChatError> {
        let endpoint = Endpoint::Code2Session;
        let tries = self
            .retrying(endpoint, &app.appid, || self.api.code2session(app, code))
            .await;
        let result = match (tries.result, tries.retried) {
            (Err(e), Some(busy)) if e.errcode() == Some(errcode::CODE_BEEN_USED) => {
                tracing::warn!(
                    appid = %app.appid,
                    code = %code.fingerprint(),
                    "a failed jscode2session try used up the code"
                );
                Err(busy)
            }
            (result, _) => result,
        };
        if let Err(e) = &result {
            log_failure(endpoint, &app.appid, e);
        }
        result
    }

    /// Asks WeChat whether `session_key` is still the user's current one (`87009` if not).
    pub async fn check_session(
        &self,
        app: &AppCredentials,
        openid: &OpenId,
        session_key: &SessionKey,
    ) -> Result<(), WeChatError> {
        let signature = login_signature(session_key, b"");
        let signature = signature.as_str();
        let api = &self.api;
        self.with_token(Endpoint::CheckSession, app, move |token| async move {
            api.check_session(&token, openid, signature).await
        })
        .await
    }

    /// Exchanges a getPhoneNumber code for the number; with `openid`, WeChat also checks that
    /// the code belongs to that user.
    pub async fn phone_number(
        &self,
        app: &AppCredentials,
        code: &PhoneCode,
        openid: Option<&OpenId>,
    ) -> Result<PhoneInfo, WeChatError> {
        let api = &self.api;
        self.with_token(Endpoint::PhoneNumber, app, move |token| async move {
            api.phone_number(&token, code, openid).await
        })
        .await
    }

    /// The app's access token, as stored or freshly fetched.
    pub async fn access_token(&self, app: &AppCredentials) -> Result<AccessToken, WeChatError> {
        Ok(self.token(app).await?.token)
    }

    async fn token(&self, app: &AppCredentials) -> Result<Token, WeChatError> {
        self.tokens
            .get(&app.appid, |request| self.fetch_token(app, request))
            .await
    }

    /// One token fetch, `-1` retried, failures logged.
    async fn fetch_token(
        &self,
        app: &AppCredentials,
        request: TokenRequest,
    ) -> Result<IssuedToken, WeChatError> {
        let endpoint = Endpoint::AccessToken;
        let result = self
            .retrying(endpoint, &app.appid, || self.api.access_token(app, request))
            .await
            .result;
        match &result {
            Ok(_) => tracing::debug!(appid = %app.appid, ?request, "fetched an access token"),
            Err(e) => log_failure(endpoint, &app.appid, e),
        }
        result
    }

    /// Runs a call that needs the app's token. When WeChat rejects the token (40001, 40014,
    /// 42001), gets another (a new one only if nobody has replaced the rejected one yet) and
    /// runs the call once more. A failed token fetch is returned as is.
    async fn with_token<T, F, Fut>(
        &self,
        endpoint: Endpoint,
        app: &AppCredentials,
        call: F,
    ) -> Result<T, WeChatError>
    where
        F: Fn(AccessToken) -> Fut,
        Fut: Future<Output = Result<T, WeChatError>>,
    {
        let token = self.token(app).await?;
        let mut result = self
            .retrying(endpoint, &app.appid, || call(token.token.clone()))
            .await
            .result;
        if let Err(e) = &result
            && e.is_token_rejected()
        {
            tracing::info!(
                appid = %app.appid,
                endpoint = endpoint.as_str(),
                errcode = e.errcode(),
                "access token rejected; refreshing it and trying once more"
            );
            let token = self
                .tokens
                .replace(&app.appid, &token, |request| self.fetch_token(app, request))
                .await?;
            result = self
                .retrying(endpoint, &app.appid, || call(token.token.clone()))
                .await
                .result;
        }
        if let Err(e) = &result {
            log_failure(endpoint, &app.appid, e);
        }
        result
    }

    /// Runs `call` until it answers anything but `-1` or the tries run out, waiting between
    /// tries; reports each try to the observer.
    async fn retrying<T, F, Fut>(&self, endpoint: Endpoint, appid: &AppId, mut call: F) -> Tries<T>
    where
        F: FnMut() -> Fut,
        Fut: Future<Output = Result<T, WeChatError>>,
    {
        let attempts = self.retry.attempts.max(1);
        let mut delay = self.retry.base_delay.min(self.retry.max_delay);
        let mut retried = None;
        let mut attempt = 1;
        loop {
            let started = Instant::now();
            let result = call().await;
            self.observer
                .observe(endpoint, result.as_ref().map(|_| ()), started.elapsed());
            match result {
                Err(e) if e.is_system_busy() && attempt < attempts => {
                    tracing::debug!(
                        appid = %appid,
                        endpoint = endpoint.as_str(),
                        attempt,
                        ?delay,
                        "WeChat answered -1 system error; retrying"
                    );
                    tokio::time::sleep(delay).await;
                    delay = delay.saturating_mul(2).min(self.retry.max_delay);
                    attempt += 1;
                    retried = Some(e);
                }
                result => return Tries { result, retried },
            }
        }
    }
}

/// Logs a call's final failure at the level that says who must act: configuration errors need
/// an operator, what users cause is routine, the rest is WeChat or the network misbehaving.
fn log_failure(endpoint: Endpoint, appid: &AppId, e: &WeChatError) {
    let endpoint = endpoint.as_str();
    match e.errcode() {
        Some(errcode) if errcode::MISCONFIGURATION.contains(&errcode) => tracing::error!(
            appid = %appid,
            endpoint,
            errcode,
            error = %e,
            "WeChat refused the app's configuration (appid, secret, IP whitelist or account \
             state); an operator must fix it"
        ),
        // Bad, used, blocked or foreign codes, and stale session keys: users' doing.
        Some(
            errcode::CODE_INVALID
            | errcode::CODE_BEEN_USED
            | errcode::USER_BLOCKED
            | errcode::SESSION_KEY_EXPIRED
            | errcode::INVALID_SIGNATURE,
        ) => tracing::debug!(
            appid = %appid,
            endpoint,
            error = %e,
            "WeChat refused the request"
        ),
        _ => tracing::warn!(appid = %appid, endpoint, error = %e, "WeChat call failed"),
    }
}

#[cfg(test)]
#[path = "tests.rs"]
mod tests;
