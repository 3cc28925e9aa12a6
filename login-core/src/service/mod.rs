//! Use cases: login, sessions, profile and phone binding. Services speak in domain types;
//! they call WeChat through [`WeChat`] and storage through [`Store`], never HTTP or SQL.

mod error;
mod login;
mod opendata;
mod password;
mod phone;
mod phone_login;
mod profile;
pub mod ratelimit;
mod session;
mod sms;

use std::collections::HashMap;
use std::sync::Arc;
use std::time::Duration;

pub use error::Error;
pub use login::{LoginOutput, LoginPhone, LoginRequest};
pub use password::PasswordLoginRequest;
pub use phone::{PhoneOutput, PhoneRequest};
pub use profile::{ProfileOutput, ProfileRequest};
pub use session::{Authenticated, CheckOutput, TokenOutput};
pub use sms::{SmsLoginRequest, SmsSendRequest, SmsSent};

use crate::clock::{SharedClock, UnixMs};
use crate::config::{AppConfig, Config, LimitConfig, PhoneConfig, Registration, SessionConfig};
use crate::crypto::{CodeKey, SealKey};
use crate::ids::{AppId, OpenId, SessionKey};
use crate::metrics::Metrics;
use crate::password::Passwords;
use crate::random::SharedRandom;
use crate::sms::SmsSender;
use crate::store::Store;
use crate::store::shared::{Counters, MemoryCounters};
use crate::wechat::errcode::{self, MISCONFIGURATION};
use crate::wechat::{AppCredentials, Endpoint, WeChat, WeChatError};
use ratelimit::RateLimiter;

/// The service: everything a request needs.
pub struct Services {
    store: Arc<dyn Store>,
    wechat: WeChat,
    apps: HashMap<AppId, AppCredentials>,
    default_app: AppId,
    seal: SealKey,
    clock: SharedClock,
    random: SharedRandom,
    sessions: SessionConfig,
    limits: LimitConfig,
    per_address: RateLimiter,
    per_code: RateLimiter,
    metrics: Arc<Metrics>,
    /// Each app's registration policy.
    registration: HashMap<AppId, Registration>,
    phone: PhoneConfig,
    sms: Arc<dyn SmsSender>,
    passwords: Arc<Passwords>,
    code_key: CodeKey,
    /// One code per number per `phone.sms_interval`.
    sms_interval: RateLimiter,
    sms_per_number: RateLimiter,
    sms_per_address: RateLimiter,
    password_per_number: RateLimiter,
    password_per_address: RateLimiter,
    /// Where the limits count (the database's, or this process's memory).
    counters: Arc<dyn Counters>,
    /// How long `/readyz` waits for the database's answer.
    ping_timeout: Duration,
}

impl std::fmt::Debug for Services {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Services")
            .field("apps", &self.apps.keys().collect::<Vec<_>>())
            .finish_non_exhaustive()
    }
}

/// What `/readyz` reports: whether each shared dependency answered its ping.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Readiness {
    /// The database.
    pub database: bool,
    /// The rate limits' counters (always true when the database keeps them, or memory does).
    pub counters: bool,
}

impl Readiness {
    /// Whether the instance can serve.
    pub fn is_ready(self) -> bool {
        self.database && self.counters
    }
}

/// What [`Services::new`] is built from.
pub struct Parts {
    /// Storage.
    pub store: Arc<dyn Store>,
    /// The rate limits' counters when they live apart from the store (Redis); `None`: where
    /// the store keeps them, or in memory.
    pub counters: Option<Arc<dyn Counters>>,
    /// WeChat, with its policy.
    pub wechat: WeChat,
    /// The key sealing session_keys.
    pub seal: SealKey,
    /// Time.
    pub clock: SharedClock,
    /// Randomness.
    pub random: SharedRandom,
    /// Metrics.
    pub metrics: Arc<Metrics>,
    /// The SMS gateway.
    pub sms: Arc<dyn SmsSender>,
    /// Password hashing.
    pub passwords: Arc<Passwords>,
    /// The key of SMS code hashes.
    pub code_key: CodeKey,
}

impl Services {
    /// Builds the service from validated configuration.
    pub fn new(config: &Config, parts: Parts) -> Result<Self, Error> {
        let default_app = config
            .default_app()
            .map(|a| a.appid.clone())
            .ok_or(Error::Misconfigured)?;
        let apps = config
            .apps
            .iter()
            .map(|a: &AppConfig| {
                (
                    a.appid.clone(),
                    AppCredentials {
                        appid: a.appid.clone(),
                        secret: a.secret.clone(),
                    },
                )
            })
            .collect();
        let counters = parts
            .counters
            .or_else(|| parts.store.shared_counters())
            .unwrap_or_else(|| Arc::new(MemoryCounters::default()));
        let c = || counters.clone();
        Ok(Self {
            store: parts.store,
            wechat: parts.wechat,
            apps,
            default_app,
            seal: parts.seal,
            clock: parts.clock,
            random: parts.random,
            sessions: config.sessions.clone(),
            limits: config.limits.clone(),
            per_address: RateLimiter::aligned(
                "login_per_address",
                config.limits.logins_per_address_per_minute,
                Duration::from_secs(60),
                c(),
            ),
            // A code lives five minutes: count its attempts over that span.
            per_code: RateLimiter::from_first_hit(
                "login_per_code",
                config.limits.attempts_per_code,
                Duration::from_secs(300),
                c(),
            ),
            metrics: parts.metrics,
            registration: config
                .apps
                .iter()
                .map(|a| (a.appid.clone(), a.registration))
                .collect(),
            phone: config.phone.clone(),
            sms: parts.sms,
            passwords: parts.passwords,
            code_key: parts.code_key,
            // "0s": no interval.
            sms_interval: RateLimiter::from_first_hit(
                "sms_interval",
                u32::from(!config.phone.sms_interval.is_zero()),
                config.phone.sms_interval,
                c(),
            ),
            sms_per_number: RateLimiter::from_first_hit(
                "sms_per_number",
                config.phone.sms_per_number_per_hour,
                Duration::from_secs(3600),
                c(),
            ),
            sms_per_address: RateLimiter::from_first_hit(
                "sms_per_address",
                config.phone.sms_per_address_per_hour,
                Duration::from_secs(3600),
                c(),
            ),
            password_per_number: RateLimiter::from_first_hit(
                "password_per_number",
                config.phone.password_attempts_per_number,
                config.phone.password_window,
                c(),
            ),
            password_per_address: RateLimiter::from_first_hit(
                "password_per_address",
                config.phone.password_attempts_per_address,
                config.phone.password_window,
                c(),
            ),
            counters,
            ping_timeout: config.database.ping_timeout,
        })
    }

    /// The store (readiness checks, tests).
    pub fn store(&self) -> &Arc<dyn Store> {
        &self.store
    }

    /// The metrics.
    pub fn metrics(&self) -> &Arc<Metrics> {
        &self.metrics
    }

    /// Whether the database, and the counters when they live apart from it, answer a ping
    /// within `database.ping_timeout` each.
    pub async fn ready(&self) -> Readiness {
        let (database, counters) = tokio::join!(
            self.answers("the database", self.store.ping()),
            self.answers("the rate limits' counters", self.counters.ping()),
        );
        Readiness { database, counters }
    }

    async fn answers(
        &self,
        what: &'static str,
        ping: impl std::future::Future<Output = Result<(), crate::store::StoreError>>,
    ) -> bool {
        let timeout = self.ping_timeout;
        match tokio::time::timeout(timeout, ping).await {
            Ok(Ok(())) => true,
            Ok(Err(e)) => {
                tracing::warn!(error = %e, "not ready: {what} failed the ping");
                false
            }
            Err(_) => {
                tracing::warn!(
                    ?timeout,
                    "not ready: {what} did not answer the ping in time"
                );
                false
            }
        }
    }

    /// Deletes sessions that ended more than a day ago, registration tickets and SMS codes
    /// that expired, and the rate limits' ended windows; the server runs this periodically.
    pub async fn purge_sessions(&self) -> Result<u64, Error> {
        let now = self.now();
        let before = UnixMs(now.0 - 86_400_000);
        let sessions = self.store.purge_sessions(before).await?;
        let phone = self.store.purge_phone_state(now).await?;
        self.counters.purge(now).await?;
        Ok(sessions + phone)
    }

    fn now(&self) -> UnixMs {
        self.clock.now()
    }

    /// Counts a login attempt from `client` against the per-address limit, whatever the way
    /// in (WeChat, SMS, password).
    async fn admit_login_from(&self, client: &str, now: UnixMs) -> Result<(), Error> {
        self.per_address
            .admit(client, now, "logins from this address")
            .await
    }

    fn app(&self, appid: Option<&str>) -> Result<&AppCredentials, Error> {
        match appid {
            None => self.apps.get(&self.default_app).ok_or(Error::Internal),
            Some(id) => self
                .apps
                .get(&AppId::new(id))
                .ok_or_else(|| Error::UnknownApp(id.to_owned())),
        }
    }

    /// Associated data binding a sealed session_key to its identity.
    fn seal_aad(appid: &AppId, openid: &OpenId) -> Vec<u8> {
        format!("session_key\0{appid}\0{openid}").into_bytes()
    }

    fn seal_session_key(&self, appid: &AppId, openid: &OpenId, key: &SessionKey) -> Vec<u8> {
        self.seal.seal(
            self.random.as_ref(),
            &Self::seal_aad(appid, openid),
            key.expose().as_bytes(),
        )
    }

    /// The clear session_key of an identity.
    async fn session_key(&self, appid: &AppId, openid: &OpenId) -> Result<SessionKey, Error> {
        let sealed =
            self.store
                .sealed_session_key(appid, openid)
                .await?
                .ok_or(Error::LoginRequired(
                    "the session's WeChat identity no longer exists",
                ))?;
        let (clear, current) = self
            .seal
            .open_with_key(&Self::seal_aad(appid, openid), &sealed)
            .map_err(|e| {
                let key_id = SealKey::id_of(&sealed).unwrap_or_else(|| "(none: sealed before key ids)".into());
                tracing::error!(%appid, %key_id, error = %e, "a stored session_key does not open: wrong server key, or its key was retired from previous_server_keys?");
                Error::Internal
            })?;
        self.metrics.sealed_opened(current);
        String::from_utf8(clear)
            .map(SessionKey::new)
            .map_err(|_| Error::Internal)
    }

    /// Maps a WeChat failure that the caller did not handle itself.
    fn upstream(&self, endpoint: Endpoint, app: &AppId, e: WeChatError) -> Error {
        match &e {
            WeChatError::Api {
                errcode: errcode::SYSTEM_BUSY,
                ..
            } => Error::UpstreamBusy,
            WeChatError::Api {
                errcode: errcode::RATE_LIMITED,
                ..
            } => Error::UpstreamRateLimited {
                retry_after: seconds_to_next(self.now(), 60),
            },
            WeChatError::Api {
                errcode: errcode::DAILY_QUOTA,
                ..
            } => Error::UpstreamRateLimited {
                // The daily quota resets at midnight, China time (UTC+8).
                retry_after: seconds_to_next(UnixMs(self.now().0 + 8 * 3_600_000), 86_400),
            },
            WeChatError::Api { errcode, .. }
                if MISCONFIGURATION.contains(errcode) || e.is_token_rejected() =>
            {
                tracing::error!(
                    %app, errcode, endpoint = endpoint.as_str(),
                    "WeChat rejected this server's credentials or setup: check the appid, secret and IP whitelist"
                );
                Error::Misconfigured
            }
            WeChatError::Api { errcode, .. } => {
                tracing::warn!(%app, errcode, endpoint = endpoint.as_str(), "unexpected WeChat error");
                Error::UpstreamFailed
            }
            WeChatError::Timeout(_) => Error::UpstreamTimeout,
            WeChatError::Store { unavailable, .. } => {
                tracing::warn!(%app, endpoint = endpoint.as_str(), error = %e, "the access token store failed");
                if *unavailable {
                    Error::StoreUnavailable
                } else {
                    Error::Internal
                }
            }
            WeChatError::Connect(_) | WeChatError::Status(_) | WeChatError::Body(_) => {
                tracing::warn!(%app, endpoint = endpoint.as_str(), error = %e, "WeChat unreachable or unusable");
                Error::UpstreamFailed
            }
        }
    }
}

/// Seconds from `now` to the next multiple of `period` seconds (at least 1).
fn seconds_to_next(now: UnixMs, period: i64) -> u64 {
    let period_ms = period * 1000;
    let left = period_ms - now.0.rem_euclid(period_ms);
    u64::try_from(left).unwrap_or(0).div_ceil(1000).max(1)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn retry_after_counts_to_the_next_boundary() {
        assert_eq!(seconds_to_next(UnixMs(60_000 * 5 + 59_500), 60), 1);
        assert_eq!(seconds_to_next(UnixMs(60_000 * 5), 60), 60);
        assert_eq!(seconds_to_next(UnixMs(60_000 * 5 + 1_000), 60), 59);
    }
}
