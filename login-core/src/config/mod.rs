//! Configuration: a TOML file, overridden by environment variables and flags (in `main`).
//!
//! Everything has a default, so `login-core` starts with no file at all; only the apps (and,
//! in production, the server key) must be given. Time and randomness are not configuration:
//! they are injected through [`crate::server::Deps`].

use std::net::SocketAddr;
use std::path::{Path, PathBuf};
use std::time::Duration;

mod phone;

use serde::Deserialize;

use crate::ids::{AppId, AppSecret, PlatformId};
use crate::wechat::TokenMode;

pub use phone::{
    PasswordHashConfig, PhoneConfig, Registration, SmsConfig, SmsProvider, TencentSecretKey,
    TencentSmsConfig,
};

/// The whole configuration.
#[derive(Clone, Debug, Deserialize)]
#[serde(default, deny_unknown_fields)]
pub struct Config {
    /// Address to listen on.
    pub listen: SocketAddr,
    /// Database URL: `sqlite://PATH` (created if missing), `sqlite::memory:`, or
    /// `postgres://USER@HOST:PORT/DATABASE` (also `postgresql://`). Anything else is refused.
    pub database_url: String,
    /// The database's connections and readiness probe.
    pub database: DatabaseConfig,
    /// On SIGTERM or Ctrl-C: how long requests in flight may take to finish (new connections
    /// are refused at once); past it, the process exits anyway, with status 1.
    #[serde(with = "humantime_serde")]
    pub drain_timeout: Duration,
    /// WeChat's base URL; point it at the mock for offline runs.
    pub wechat_base_url: String,
    /// The server key that seals session_keys at rest: base64 of 32 bytes. When absent, the key
    /// is read from (or created in) `server_key_file`.
    pub server_key: Option<ServerKeyText>,
    /// Where the server key lives when `server_key` is not given.
    pub server_key_file: PathBuf,
    /// Server keys that sealed values still stored may be under (base64 of 32 bytes each):
    /// they open, only the current key seals. See README, "Rotating the server key".
    pub previous_server_keys: Vec<ServerKeyText>,
    /// The apps this backend serves; the first is the default for logins without `appid`.
    pub apps: Vec<AppConfig>,
    /// Login sessions.
    pub sessions: SessionConfig,
    /// Limits on requests.
    pub limits: LimitConfig,
    /// How WeChat is called.
    pub upstream: UpstreamConfig,
    /// Registration tickets, SMS codes and passwords.
    pub phone: PhoneConfig,
    /// The SMS gateway.
    pub sms: SmsConfig,
    /// A name for this instance when several serve one database: every metric series carries
    /// it as `instance_id`. Left out: the host name and the process id (`host-1234`).
    pub instance_id: Option<String>,
}

impl Default for Config {
    fn default() -> Self {
        Self {
            listen: SocketAddr::from(([127, 0, 0, 1], 8080)),
            database_url: "sqlite://data/login-core.db".into(),
            database: DatabaseConfig::default(),
            drain_timeout: Duration::from_secs(30),
            wechat_base_url: "https://api.weixin.qq.com".into(),
            server_key: None,
            server_key_file: PathBuf::from("data/server.key"),
            previous_server_keys: Vec::new(),
            apps: Vec::new(),
            sessions: SessionConfig::default(),
            limits: LimitConfig::default(),
            upstream: UpstreamConfig::default(),
            phone: PhoneConfig::default(),
            sms: SmsConfig::default(),
            instance_id: None,
        }
    }
}

/// The database's connections and readiness probe.
#[derive(Clone, Debug, Deserialize)]
#[serde(default, deny_unknown_fields)]
pub struct DatabaseConfig {
    /// PostgreSQL only: connections at most, per instance (N instances open up to N times
    /// this many; keep the total under the server's `max_connections`). Default 16.
    pub max_connections: Option<u32>,
    /// PostgreSQL only: how long a request waits for a connection before it is answered 503
    /// `store_unavailable`. Default 5 s.
    #[serde(with = "humantime_serde")]
    pub acquire_timeout: Option<Duration>,
    /// `/readyz` answers 503 unless the database answers a ping within this.
    #[serde(with = "humantime_serde")]
    pub ping_timeout: Duration,
}

impl Default for DatabaseConfig {
    fn default() -> Self {
        Self {
            max_connections: None,
            acquire_timeout: None,
            ping_timeout: Duration::from_secs(1),
        }
    }
}

/// Most connections one instance may ask for: PostgreSQL's own default `max_connections` is
/// 100, and a pool larger than this is a typo more often than a plan.
const MAX_POOL: u32 = 1000;

impl DatabaseConfig {
    /// The pool of a PostgreSQL store.
    pub fn pool(&self) -> crate::store::PoolConfig {
        let d = crate::store::PoolConfig::default();
        crate::store::PoolConfig {
            max_connections: self.max_connections.unwrap_or(d.max_connections),
            acquire_timeout: self.acquire_timeout.unwrap_or(d.acquire_timeout),
        }
    }

    fn validate(&self, url: &crate::store::DatabaseUrl) -> Result<(), ConfigError> {
        let bad = |m: String| Err(ConfigError::Invalid(m));
        if matches!(url, crate::store::DatabaseUrl::Sqlite(_)) {
            for (key, set) in [
                ("max_connections", self.max_connections.is_some()),
                ("acquire_timeout", self.acquire_timeout.is_some()),
            ] {
                if set {
                    return bad(format!(
                        "database.{key} applies to PostgreSQL only; SQLite has one writer \
                         connection and a fixed set of readers: remove it, or use a \
                         postgres:// database_url"
                    ));
                }
            }
        }
        if let Some(n) = self.max_connections {
            if n == 0 || n > MAX_POOL {
                return bad(format!(
                    "database.max_connections must be between 1 and {MAX_POOL}, not {n}"
                ));
            }
        }
        if self
            .acquire_timeout
            .is_some_and(|t| t < Duration::from_millis(10))
        {
            return bad("database.acquire_timeout must be at least 10ms (e.g. \"5s\")".to_owned());
        }
        if self.ping_timeout < Duration::from_millis(10)
            || self.ping_timeout > Duration::from_secs(60)
        {
            return bad(
                "database.ping_timeout must be between 10ms and 60s (e.g. \"1s\")".to_owned(),
            );
        }
        Ok(())
    }
}

/// The server key as configured (base64 text), redacted in `Debug`.
#[derive(Clone, Deserialize)]
#[serde(transparent)]
pub struct ServerKeyText(pub String);

impl std::fmt::Debug for ServerKeyText {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str("ServerKeyText(<redacted>)")
    }
}

/// One mini-program.
#[derive(Clone, Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct AppConfig {
    /// The appid.
    pub appid: AppId,
    /// The AppSecret.
    pub secret: AppSecret,
    /// The open-platform account the app is bound to, if any (then WeChat returns unionids).
    #[serde(default)]
    pub open_platform: Option<PlatformId>,
    /// What a login of a WeChat user no account knows does: `auto` (create the user) or
    /// `phone_required` (answer with a registration ticket).
    #[serde(default)]
    pub registration: Registration,
}

/// Login sessions.
#[derive(Clone, Debug, Deserialize)]
#[serde(default, deny_unknown_fields)]
pub struct SessionConfig {
    /// Idle lifetime: a session unused this long ends. Each use slides it forward.
    #[serde(with = "humantime_serde")]
    pub ttl: Duration,
    /// Absolute lifetime: no renewal goes past this.
    #[serde(with = "humantime_serde")]
    pub max_lifetime: Duration,
    /// A use renews the session only when at least this long has passed since the last
    /// renewal, so a busy client does not write on every request.
    #[serde(with = "humantime_serde")]
    pub renew_interval: Duration,
}

impl Default for SessionConfig {
    fn default() -> Self {
        Self {
            ttl: Duration::from_secs(7 * 86_400),
            max_lifetime: Duration::from_secs(30 * 86_400),
            renew_interval: Duration::from_secs(3_600),
        }
    }
}

/// Limits on requests.
#[derive(Clone, Debug, Deserialize)]
#[serde(default, deny_unknown_fields)]
pub struct LimitConfig {
    /// Largest request body, in bytes.
    pub body_bytes: usize,
    /// `/api/login` calls per client address per minute.
    pub logins_per_address_per_minute: u32,
    /// `/api/login` attempts with one code (a code is single-use; repeats only burn quota).
    pub attempts_per_code: u32,
    /// Trust the first `X-Forwarded-For` address as the client's (behind a proxy only).
    pub trust_forwarded_for: bool,
    /// Oldest encrypted data accepted, by its watermark.
    #[serde(with = "humantime_serde")]
    pub open_data_max_age: Duration,
    /// Where the limits' counters live: `redis://[USER:PASSWORD@]HOST[:PORT][/DB]`, shared by
    /// every instance and far cheaper per request than the database. Left out: in the
    /// database when it is PostgreSQL (shared too), in memory with SQLite (one process).
    pub counters_url: Option<String>,
    /// The start of every counter's key in Redis (`PREFIX:LIMIT:KEY`): deployments sharing
    /// one Redis database keep apart by it.
    pub counters_prefix: String,
}

impl Default for LimitConfig {
    fn default() -> Self {
        Self {
            body_bytes: 16 * 1024,
            logins_per_address_per_minute: 120,
            attempts_per_code: 3,
            trust_forwarded_for: false,
            open_data_max_age: Duration::from_secs(600),
            counters_url: None,
            counters_prefix: "login-core:limits".into(),
        }
    }
}

/// How WeChat is called.
#[derive(Clone, Debug, Deserialize)]
#[serde(default, deny_unknown_fields)]
pub struct UpstreamConfig {
    /// Time budget of one call.
    #[serde(with = "humantime_serde")]
    pub timeout: Duration,
    /// Time budget of connecting.
    #[serde(with = "humantime_serde")]
    pub connect_timeout: Duration,
    /// Tries for `-1 system error`, the first included.
    pub attempts: u32,
    /// First backoff after `-1`; doubled on each retry.
    #[serde(with = "humantime_serde")]
    pub backoff: Duration,
    /// `stable_token` (the default: instances sharing an app do not void each other's tokens)
    /// or `token` (cgi-bin/token, a new token on every fetch).
    pub access_token: TokenMode,
}

impl Default for UpstreamConfig {
    fn default() -> Self {
        Self {
            timeout: Duration::from_secs(5),
            connect_timeout: Duration::from_secs(2),
            attempts: 3,
            backoff: Duration::from_millis(100),
            access_token: TokenMode::default(),
        }
    }
}

/// Why the configuration is unusable.
#[derive(Debug, thiserror::Error)]
pub enum ConfigError {
    /// The file could not be read.
    #[error("cannot read {path}: {source}")]
    Read {
        /// The file.
        path: PathBuf,
        /// The OS error.
        source: std::io::Error,
    },
    /// The file is not valid configuration.
    #[error("invalid configuration in {path}: {message}")]
    Parse {
        /// The file.
        path: PathBuf,
        /// What is wrong, with the key.
        message: String,
    },
    /// A value is out of range.
    #[error("invalid configuration: {0}")]
    Invalid(String),
}

impl Config {
    /// Reads a TOML file.
    pub fn from_file(path: &Path) -> Result<Self, ConfigError> {
        let text = std::fs::read_to_string(path).map_err(|source| ConfigError::Read {
            path: path.to_owned(),
            source,
        })?;
        Self::from_toml(&text).map_err(|message| ConfigError::Parse {
            path: path.to_owned(),
            message,
        })
    }

    /// Parses TOML text.
    pub fn from_toml(text: &str) -> Result<Self, String> {
        toml::from_str(text).map_err(|e| e.to_string())
    }

    /// Checks values that parse but make no sense.
    pub fn validate(&self) -> Result<(), ConfigError> {
        let bad = |m: &str| Err(ConfigError::Invalid(m.to_owned()));
        if self.apps.is_empty() {
            return bad("no apps: give at least one [[apps]] entry (appid and secret)");
        }
        let mut seen = std::collections::HashSet::new();
        for app in &self.apps {
            if app.appid.as_str().is_empty() || app.secret.expose().is_empty() {
                return bad("every app needs a non-empty appid and secret");
            }
            if !seen.insert(app.appid.clone()) {
                return Err(ConfigError::Invalid(format!(
                    "app {} is listed twice",
                    app.appid
                )));
            }
        }
        if self.sessions.ttl.is_zero() || self.sessions.max_lifetime < self.sessions.ttl {
            return bad("sessions.ttl must be positive and at most sessions.max_lifetime");
        }
        if self.limits.body_bytes < 256 {
            return bad("limits.body_bytes must be at least 256");
        }
        if let Some(url) = &self.limits.counters_url {
            crate::store::redis::parse_url(url).map_err(ConfigError::Invalid)?;
        }
        if self.limits.counters_prefix.is_empty()
            || self.limits.counters_prefix.len() > 200
            || self.limits.counters_prefix.chars().any(char::is_control)
        {
            return bad(
                "limits.counters_prefix must be 1 to 200 characters, none of them control                  characters (e.g. \"login-core:limits\")",
            );
        }
        if self.upstream.attempts == 0 || self.upstream.timeout.is_zero() {
            return bad("upstream.attempts and upstream.timeout must be positive");
        }
        if !(self.wechat_base_url.starts_with("http://")
            || self.wechat_base_url.starts_with("https://"))
        {
            return bad("wechat_base_url must be an http:// or https:// URL");
        }
        let url = crate::store::DatabaseUrl::parse(&self.database_url)
            .map_err(|e| ConfigError::Invalid(e.to_string()))?;
        self.database.validate(&url)?;
        if self.drain_timeout > Duration::from_secs(3600) {
            return bad("drain_timeout must be at most 1h (e.g. \"30s\")");
        }
        if self
            .instance_id
            .as_deref()
            .is_some_and(|id| id.is_empty() || id.len() > 64 || id.chars().any(char::is_control))
        {
            return bad("instance_id must be 1 to 64 characters, without control characters");
        }
        phone::validate(self)
    }

    /// The default app: the first listed.
    pub fn default_app(&self) -> Option<&AppConfig> {
        self.apps.first()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_full_file_parses_and_validates() {
        let cfg = Config::from_toml(
            r#"
            listen = "127.0.0.1:9000"
            database_url = "sqlite::memory:"
            wechat_base_url = "http://127.0.0.1:9100"
            server_key = "AAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAA="

            [[apps]]
            appid = "wx1111111111111111"
            secret = "s1"
            open_platform = "p1"

            [[apps]]
            appid = "wx2222222222222222"
            secret = "s2"

            [sessions]
            ttl = "2h"
            max_lifetime = "1day"

            [limits]
            attempts_per_code = 1
            open_data_max_age = "5m"

            [upstream]
            timeout = "800ms"
            access_token = "stable_token"
            "#,
        )
        .expect("parses");
        cfg.validate().expect("valid");
        assert_eq!(cfg.listen.port(), 9000);
        assert_eq!(cfg.apps.len(), 2);
        assert_eq!(cfg.sessions.ttl, Duration::from_secs(7200));
        assert_eq!(cfg.upstream.timeout, Duration::from_millis(800));
        assert_eq!(cfg.upstream.access_token, TokenMode::Stable);
        assert_eq!(cfg.limits.body_bytes, LimitConfig::default().body_bytes);
        assert!(!format!("{cfg:?}").contains("AAAAAAAA"));
        assert!(!format!("{cfg:?}").contains("\"s1\""));
    }

    #[test]
    fn the_example_file_is_the_defaults() {
        let path = Path::new(env!("CARGO_MANIFEST_DIR")).join("login-core.example.toml");
        let cfg = Config::from_file(&path).expect("example parses");
        cfg.validate().expect("example is valid");
        let d = Config::default();
        assert_eq!(cfg.listen, d.listen);
        assert_eq!(cfg.database_url, d.database_url);
        assert_eq!(format!("{:?}", cfg.database), format!("{:?}", d.database));
        assert_eq!(cfg.drain_timeout, d.drain_timeout);
        assert_eq!(cfg.instance_id, d.instance_id);
        assert_eq!(cfg.sessions.ttl, d.sessions.ttl);
        assert_eq!(cfg.sessions.max_lifetime, d.sessions.max_lifetime);
        assert_eq!(cfg.sessions.renew_interval, d.sessions.renew_interval);
        assert_eq!(cfg.limits.body_bytes, d.limits.body_bytes);
        assert_eq!(
            cfg.limits.logins_per_address_per_minute,
            d.limits.logins_per_address_per_minute
        );
        assert_eq!(cfg.limits.attempts_per_code, d.limits.attempts_per_code);
        assert_eq!(cfg.limits.open_data_max_age, d.limits.open_data_max_age);
        assert_eq!(cfg.upstream.timeout, d.upstream.timeout);
        assert_eq!(cfg.upstream.attempts, d.upstream.attempts);
        assert_eq!(cfg.upstream.backoff, d.upstream.backoff);
        assert_eq!(cfg.upstream.access_token, d.upstream.access_token);
        assert_eq!(cfg.apps[0].registration, Registration::Auto);
        assert_eq!(format!("{:?}", cfg.phone), format!("{:?}", d.phone));
        assert_eq!(format!("{:?}", cfg.sms), format!("{:?}", d.sms));
    }

    #[test]
    fn phone_and_sms_settings_are_checked() {
        let base = "[[apps]]\nappid = \"wx1\"\nsecret = \"s\"\n";
        let cfg = Config::from_toml(&format!(
            "listen = \"0.0.0.0:8080\"\n[sms]\nprovider = \"log\"\n{base}"
        ))
        .expect("parses");
        let e = cfg.validate().expect_err("log on a public address");
        assert!(e.to_string().contains("loopback"), "{e}");
        let cfg = Config::from_toml(&format!(
            "listen = \"0.0.0.0:8080\"\n[sms]\nprovider = \"log\"\nallow_log_provider = true\n{base}"
        ))
        .expect("parses");
        cfg.validate().expect("allowed on purpose");
        let cfg = Config::from_toml(&format!("[sms]\nprovider = \"log\"\n{base}")).expect("parses");
        cfg.validate().expect("loopback by default");

        let cfg = Config::from_toml(&format!(
            "[sms]\nprovider = \"tencent\"\n[sms.tencent]\nsecret_id = \"AKID\"\n{base}"
        ))
        .expect("parses");
        let e = cfg.validate().expect_err("incomplete");
        assert!(e.to_string().contains("sms.tencent.secret_key"), "{e}");
        let full = "[sms]\nprovider = \"tencent\"\n[sms.tencent]\nsecret_id = \"AKID\"\nsecret_key = \"k3y\"\n\
                    sms_sdk_app_id = \"1400000000\"\nsign_name = \"sign\"\ntemplate_id = \"1\"\n";
        let cfg = Config::from_toml(&format!("{full}{base}")).expect("parses");
        cfg.validate().expect("complete");
        assert!(
            !format!("{cfg:?}").contains("k3y"),
            "the SecretKey is redacted"
        );
        let e = Config::from_toml(&format!("{full}template_params = [\"x\"]\n{base}"))
            .expect("parses")
            .validate()
            .expect_err("no {code}");
        assert!(e.to_string().contains("{code}"), "{e}");

        let e = Config::from_toml(
            "[[apps]]\nappid = \"wx1\"\nsecret = \"s\"\nregistration = \"phone\"",
        )
        .expect_err("unknown policy");
        assert!(
            e.contains("registration") || e.contains("phone_required"),
            "{e}"
        );
        let cfg = Config::from_toml(&format!(
            "[[apps]]\nappid = \"wx2\"\nsecret = \"s\"\nregistration = \"phone_required\"\n{base}"
        ))
        .expect("parses");
        assert_eq!(cfg.apps[0].registration, Registration::PhoneRequired);
        assert_eq!(cfg.apps[1].registration, Registration::Auto);
        let mut bad = cfg.clone();
        bad.phone.code_attempts = 0;
        assert!(bad.validate().is_err());
        let mut bad = cfg;
        bad.phone.password_min_chars = 3;
        assert!(bad.validate().is_err());
        assert_eq!("phone_required".parse(), Ok(Registration::PhoneRequired));
        assert!("sometimes".parse::<Registration>().is_err());
        assert_eq!("tencent".parse(), Ok(SmsProvider::Tencent));
        assert!("twilio".parse::<SmsProvider>().is_err());
    }

    #[test]
    fn pool_settings_are_checked_and_refused_where_they_cannot_apply() {
        let base = "[[apps]]\nappid = \"wx1\"\nsecret = \"s\"\n";
        let pg = "database_url = \"postgres://u@db.internal/login\"\n";
        let cfg = Config::from_toml(&format!(
            "{pg}[database]\nmax_connections = 40\nacquire_timeout = \"2s\"\nping_timeout = \"250ms\"\n{base}"
        ))
        .expect("parses");
        cfg.validate().expect("valid");
        let pool = cfg.database.pool();
        assert_eq!(pool.max_connections, 40);
        assert_eq!(pool.acquire_timeout, Duration::from_secs(2));
        assert_eq!(cfg.database.ping_timeout, Duration::from_millis(250));
        assert_eq!(
            Config::default().database.pool(),
            crate::store::PoolConfig::default()
        );

        let refused = |toml: String, needle: &str| {
            let e = Config::from_toml(&toml)
                .expect("parses")
                .validate()
                .expect_err(&toml)
                .to_string();
            assert!(e.contains(needle), "{toml}: {e}");
        };
        // SQLite has no pool to size: the setting is refused, not ignored.
        refused(
            format!("[database]\nmax_connections = 4\n{base}"),
            "database.max_connections applies to PostgreSQL only",
        );
        refused(
            format!("[database]\nacquire_timeout = \"1s\"\n{base}"),
            "database.acquire_timeout applies to PostgreSQL only",
        );
        refused(
            format!("{pg}[database]\nmax_connections = 0\n{base}"),
            "between 1 and 1000, not 0",
        );
        refused(
            format!("{pg}[database]\nacquire_timeout = \"0s\"\n{base}"),
            "database.acquire_timeout must be at least 10ms",
        );
        refused(
            format!("[database]\nping_timeout = \"2m\"\n{base}"),
            "database.ping_timeout must be between 10ms and 60s",
        );
        refused(format!("drain_timeout = \"2h\"\n{base}"), "drain_timeout");
        refused(format!("instance_id = \"\"\n{base}"), "instance_id");
        let e = Config::from_toml(&format!("[database]\nmax_conections = 4\n{base}"))
            .expect_err("unknown key");
        assert!(e.contains("max_conections"), "{e}");
        let e = Config::from_toml(&format!("[database]\nmax_connections = -1\n{base}"))
            .expect_err("negative");
        assert!(e.contains("max_connections"), "{e}");
    }

    #[test]
    fn mistakes_are_named() {
        let e = Config::from_toml("lisen = \"x\"").expect_err("unknown key");
        assert!(e.contains("lisen"), "{e}");
        let e = Config::from_toml("[sessions]\nttl = \"soon\"").expect_err("bad duration");
        assert!(e.contains("ttl"), "{e}");
        let none = Config::default().validate().expect_err("no apps");
        assert!(none.to_string().contains("apps"), "{none}");
        let mut twice = Config::from_toml(
            "[[apps]]\nappid = \"wx1\"\nsecret = \"a\"\n[[apps]]\nappid = \"wx1\"\nsecret = \"b\"",
        )
        .expect("parses");
        assert!(
            twice
                .validate()
                .expect_err("dup")
                .to_string()
                .contains("twice")
        );
        twice.apps.pop();
        twice.sessions.ttl = Duration::ZERO;
        assert!(twice.validate().is_err());
    }
}
