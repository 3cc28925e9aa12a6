//! Access tokens: one per app, kept in [`TokenRows`] (PostgreSQL's `access_tokens`, shared by
//! every instance on the database, or memory for a store of one process), refreshed ahead of
//! expiry by one caller at a time across all instances.
//!
//! - A caller reads the row; a token that is neither due for refresh nor rejected is used as is.
//! - Otherwise it takes the app's lock (first the instance's own mutex, so one task per
//!   instance queues at the database, then the store's lock) and reads the row again: another
//!   instance may have refreshed it meanwhile. Only if it is still due does it ask WeChat.
//! - When WeChat rejects a token (40001, 40014, 42001), the caller names the generation it
//!   used: a refresh happens only if the row still holds that generation, and in stable mode
//!   only then with `force_refresh` (which voids the token for everyone, and which WeChat
//!   allows 20 times a day). A row already replaced is used as it is.
//! - A refresh that fails leaves the stored token in use while it has not expired (unless it
//!   was rejected).
//!
//! Tokens are stored sealed under the server key, bound to the appid: a stolen database does
//! not give working credentials away.

use std::collections::HashMap;
use std::future::Future;
use std::sync::{Arc, Mutex, PoisonError};
use std::time::Duration;

use super::{IssuedToken, TokenRequest, WeChatError};
use crate::clock::SharedClock;
use crate::crypto::SealKey;
use crate::ids::{AccessToken, AppId};
use crate::random::SharedRandom;
use crate::store::StoreError;
use crate::store::shared::{MemoryTokens, NewToken, StoredToken, TokenRows};

/// The most a token is refreshed ahead of its expiry.
const MAX_REFRESH_MARGIN: Duration = Duration::from_secs(300);

/// Which access-token API the service uses.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq, serde::Serialize, serde::Deserialize)]
pub enum TokenMode {
    /// `GET /cgi-bin/token`: every refresh issues a new token and voids the previous one five
    /// minutes later. Instances sharing a database share the token, so they do not void each
    /// other's; any other system fetching tokens for the app would.
    #[serde(rename = "token")]
    Plain,
    /// `POST /cgi-bin/stable_token`: the same token for every caller until it nears expiry, so
    /// several processes (or other systems) can share an app. The default for that reason.
    #[default]
    #[serde(rename = "stable_token")]
    Stable,
}

/// A token as handed to a caller: its generation says which one it was, should WeChat reject
/// it.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Token {
    /// The token.
    pub token: AccessToken,
    /// The row's generation when it was read (0: not from a row).
    pub generation: i64,
}

/// Where the tokens are kept and how they are sealed there.
#[derive(Clone)]
pub struct TokenVault {
    /// The rows.
    pub rows: Arc<dyn TokenRows>,
    /// The server key sealing tokens at rest, and the randomness of its nonces; `None`: the
    /// rows hold the token's bytes as they are (memory only).
    pub seal: Option<(SealKey, SharedRandom)>,
    /// How long a caller waits for another instance's refresh before giving up.
    pub lock_wait: Duration,
}

impl std::fmt::Debug for TokenVault {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("TokenVault")
            .field("sealed", &self.seal.is_some())
            .field("lock_wait", &self.lock_wait)
            .finish_non_exhaustive()
    }
}

impl TokenVault {
    /// Tokens in this process's memory, unsealed.
    pub fn memory() -> Self {
        Self {
            rows: Arc::new(MemoryTokens::default()),
            seal: None,
            lock_wait: Duration::from_secs(30),
        }
    }

    fn aad(appid: &AppId) -> Vec<u8> {
        format!("access_token\0{appid}").into_bytes()
    }

    fn seal(&self, appid: &AppId, token: &AccessToken) -> Vec<u8> {
        match &self.seal {
            Some((key, random)) => key.seal(
                random.as_ref(),
                &Self::aad(appid),
                token.expose().as_bytes(),
            ),
            None => token.expose().as_bytes().to_vec(),
        }
    }

    /// The stored token in clear; `None` when it does not open (sealed under a key this
    /// instance does not have: it is then fetched again).
    fn open(&self, appid: &AppId, row: &StoredToken) -> Option<AccessToken> {
        let clear = match &self.seal {
            Some((key, _)) => match key.open(&Self::aad(appid), &row.sealed) {
                Ok(clear) => clear,
                Err(_) => {
                    let key_id = SealKey::id_of(&row.sealed).unwrap_or_default();
                    tracing::warn!(
                        %appid, %key_id,
                        "the stored access token does not open with this instance's server keys \
                         (a retired key, or instances with different keys?); fetching another"
                    );
                    return None;
                }
            },
            None => row.sealed.clone(),
        };
        String::from_utf8(clear).ok().map(AccessToken::new)
    }
}

/// Why a token is wanted.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
enum Need {
    /// Any good token.
    Current,
    /// One other than this generation, which WeChat rejected.
    Replacing(i64),
}

/// The apps' access tokens.
pub struct AccessTokens {
    clock: SharedClock,
    mode: TokenMode,
    vault: TokenVault,
    /// One mutex per app: the tasks of this instance queue here, so one at a time waits for
    /// the store's lock.
    local: Mutex<HashMap<AppId, Arc<tokio::sync::Mutex<()>>>>,
}

impl std::fmt::Debug for AccessTokens {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("AccessTokens")
            .field("mode", &self.mode)
            .field("vault", &self.vault)
            .finish_non_exhaustive()
    }
}

/// How long before expiry to refresh a token valid for `lifetime`: five minutes, or half the
/// lifetime for short-lived tokens (so a token is always used for a while before refreshing).
fn refresh_margin(lifetime: Duration) -> Duration {
    MAX_REFRESH_MARGIN.min(lifetime / 2)
}

/// A store failure, as the WeChat policy reports it.
fn store_failure(e: &StoreError) -> WeChatError {
    WeChatError::Store {
        unavailable: e.is_unavailable(),
        message: e.to_string(),
    }
}

impl AccessTokens {
    /// Tokens in `vault`, expiry judged by `clock`, fetched with the `mode` API.
    pub fn new(clock: SharedClock, mode: TokenMode, vault: TokenVault) -> Self {
        Self {
            clock,
            mode,
            vault,
            local: Mutex::new(HashMap::new()),
        }
    }

    /// The token API in use.
    pub fn mode(&self) -> TokenMode {
        self.mode
    }

    fn local(&self, appid: &AppId) -> Arc<tokio::sync::Mutex<()>> {
        // Only map lookups and inserts happen under this lock: a poisoned map is still sound.
        let mut local = self.local.lock().unwrap_or_else(PoisonError::into_inner);
        local.entry(appid.clone()).or_default().clone()
    }

    /// The row's token if it may be used now for `need`.
    fn usable(&self, appid: &AppId, row: Option<&StoredToken>, need: Need) -> Option<Token> {
        let row = row?;
        let replaced = match need {
            Need::Current => true,
            Need::Replacing(generation) => row.generation != generation,
        };
        if row.rejected || !replaced || self.clock.now() >= row.refresh_at {
            return None;
        }
        Some(Token {
            token: self.vault.open(appid, row)?,
            generation: row.generation,
        })
    }

    /// The app's token: the stored one unless it is due for refresh or rejected, else a new
    /// one from `fetch`, called with the [`TokenRequest`] to make.
    pub async fn get<F, Fut>(&self, appid: &AppId, fetch: F) -> Result<Token, WeChatError>
    where
        F: FnOnce(TokenRequest) -> Fut,
        Fut: Future<Output = Result<IssuedToken, WeChatError>>,
    {
        self.obtain(appid, Need::Current, fetch).await
    }

    /// A token to use after WeChat rejected `rejected`: the stored one if another caller has
    /// already replaced it, else a new one from `fetch` (forced, in stable mode).
    pub async fn replace<F, Fut>(
        &self,
        appid: &AppId,
        rejected: &Token,
        fetch: F,
    ) -> Result<Token, WeChatError>
    where
        F: FnOnce(TokenRequest) -> Fut,
        Fut: Future<Output = Result<IssuedToken, WeChatError>>,
    {
        self.obtain(appid, Need::Replacing(rejected.generation), fetch)
            .await
    }

    async fn obtain<F, Fut>(
        &self,
        appid: &AppId,
        need: Need,
        fetch: F,
    ) -> Result<Token, WeChatError>
    where
        F: FnOnce(TokenRequest) -> Fut,
        Fut: Future<Output = Result<IssuedToken, WeChatError>>,
    {
        let rows = &self.vault.rows;
        let read = |e: StoreError| store_failure(&e);
        if let Some(t) = self.usable(appid, rows.read(appid).await.map_err(read)?.as_ref(), need) {
            return Ok(t);
        }
        let local = self.local(appid);
        let _local = local.lock().await;
        // Another task of this instance may have refreshed it while this one queued.
        if let Some(t) = self.usable(appid, rows.read(appid).await.map_err(read)?.as_ref(), need) {
            return Ok(t);
        }
        let lock = rows.lock(appid, self.vault.lock_wait).await.map_err(|e| {
            tracing::warn!(%appid, error = %e, "could not take the access token's lock");
            store_failure(&e)
        })?;
        let stored = lock.stored().cloned();
        // And another instance, while this one waited for the lock.
        if let Some(t) = self.usable(appid, stored.as_ref(), need) {
            return Ok(t);
        }
        // The stored token is the one WeChat refused (or one marked so): only then is a new
        // token forced, which voids the current one for every caller.
        let known_bad = stored
            .as_ref()
            .is_some_and(|s| s.rejected || matches!(need, Need::Replacing(g) if g == s.generation));
        let request = match self.mode {
            TokenMode::Plain => TokenRequest::Plain,
            TokenMode::Stable => TokenRequest::Stable {
                force_refresh: known_bad,
            },
        };
        // The lifetime counts from before the request: WeChat's clock started no later.
        let asked_at = self.clock.now();
        match fetch(request).await {
            Ok(issued) => {
                let lifetime = Duration::from_secs(issued.expires_in);
                let previous = stored.as_ref().and_then(|s| self.vault.open(appid, s));
                let row = lock
                    .save(NewToken {
                        sealed: self.vault.seal(appid, &issued.token),
                        changed: previous.as_ref() != Some(&issued.token),
                        expires_at: asked_at.plus(lifetime),
                        refresh_at: asked_at
                            .plus(lifetime.saturating_sub(refresh_margin(lifetime))),
                        now: asked_at,
                    })
                    .await
                    .map_err(|e| store_failure(&e))?;
                Ok(Token {
                    token: issued.token,
                    generation: row.generation,
                })
            }
            Err(e) if known_bad => {
                // Nobody should use the refused token again; the next caller forces anew.
                if let Err(se) = lock.reject().await {
                    tracing::warn!(%appid, error = %se, "could not mark the access token rejected");
                }
                Err(e)
            }
            Err(e) => {
                drop(lock);
                self.still_valid(appid, stored.as_ref(), &e).ok_or(e)
            }
        }
    }

    /// After a failed refresh: the stored token if it has not expired.
    fn still_valid(
        &self,
        appid: &AppId,
        stored: Option<&StoredToken>,
        e: &WeChatError,
    ) -> Option<Token> {
        let row = stored.filter(|s| !s.rejected && self.clock.now() < s.expires_at)?;
        let token = self.vault.open(appid, row)?;
        tracing::warn!(
            appid = %appid,
            error = %e,
            "access token refresh failed; the current token is still valid"
        );
        Some(Token {
            token,
            generation: row.generation,
        })
    }
}

/// The time a refresh may hold an app's token lock: every try to its timeout, and the waits
/// between them, plus a second.
pub fn lock_wait(timeout: Duration, attempts: u32, max_backoff: Duration) -> Duration {
    let attempts = attempts.max(1);
    timeout
        .saturating_mul(attempts)
        .saturating_add(max_backoff.saturating_mul(attempts))
        .saturating_add(Duration::from_secs(1))
}

#[cfg(test)]
#[path = "tokens_tests.rs"]
mod tests;
