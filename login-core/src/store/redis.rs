//! The rate limits' counters in Redis (`limits.counters_url = "redis://HOST:PORT/DB"`): shared
//! by every instance like the PostgreSQL table, at a fraction of the cost. A login counts two
//! limits before it calls WeChat; in PostgreSQL that is a statement of its own (a round trip
//! and a transaction on the server), as costly as the login's own statement. Here it is one
//! script call on one multiplexed connection, and Redis does it in microseconds.
//!
//! Each (limit, key) pair is a hash `PREFIX:LIMIT:KEY` holding its window's end and its hits.
//! One script ([`SCRIPT`]) counts all of a request's hits atomically: Redis runs scripts one at
//! a time, so instances hitting one key at once each see their own count, as with the
//! database's row lock. The window's end is decided by the caller's clock (`now` and the end
//! a new window would have are arguments), exactly as in the other counters, so a virtual
//! clock in tests behaves the same here. Redis's own expiry only collects keys: a key lives
//! until its window ends plus [`SLACK`], which covers clock skew between instances.
//!
//! One Redis server (or a primary with replicas behind one address), not Redis Cluster: one
//! script touches keys that need not share a slot. The connection is made at start (a server
//! that cannot be reached stops the start, clearly); when it breaks later, the calls in flight
//! fail with a transient error (HTTP 503, like a database that went away) and the next ones
//! reconnect.

pub mod testing;
#[cfg(test)]
mod tests;

use std::time::Duration;

use async_trait::async_trait;
use redis::aio::{ConnectionManager, ConnectionManagerConfig};
use redis::{Client, ConnectionAddr, RedisError, Script};

use super::StoreError;
use super::shared::{Count, Counters, Hit};
use crate::clock::UnixMs;

/// How long a call (or a connection attempt) waits for Redis before it fails.
const TIMEOUT: Duration = Duration::from_secs(2);

/// How long a key outlives its window in Redis, in milliseconds: instances' clocks may differ
/// by this much without a window being collected early.
pub const SLACK: Duration = Duration::from_secs(60);

/// Counts one hit on each key. `ARGV[1]`: now (ms); `ARGV[i + 1]`: the end a window of `KEYS[i]`
/// starting now would have; the last: [`SLACK`] in ms. Returns hits and window end per key.
const SCRIPT: &str = r"
local now = tonumber(ARGV[1])
local slack = tonumber(ARGV[#KEYS + 2])
local out = {}
for i, key in ipairs(KEYS) do
  local stored = redis.call('HMGET', key, 'end', 'hits')
  local window_end = tonumber(stored[1])
  local hits
  if window_end == nil or window_end <= now then
    window_end = tonumber(ARGV[i + 1])
    hits = 1
    redis.call('HSET', key, 'end', ARGV[i + 1], 'hits', 1)
    redis.call('PEXPIRE', key, math.max(window_end - now, 1) + slack)
  else
    hits = tonumber(stored[2]) or 0
    if hits < 2147483647 then
      hits = redis.call('HINCRBY', key, 'hits', 1)
    end
  end
  out[#out + 1] = hits
  out[#out + 1] = window_end
end
return out
";

/// The counters in Redis. Cheap to clone: one multiplexed connection, shared.
#[derive(Clone)]
pub struct RedisCounters {
    conn: ConnectionManager,
    script: Script,
    prefix: String,
    target: String,
}

impl std::fmt::Debug for RedisCounters {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("RedisCounters")
            .field("target", &self.target)
            .field("prefix", &self.prefix)
            .finish_non_exhaustive()
    }
}

/// Checks that `url` is one this build connects to: `redis://[USER:PASSWORD@]HOST[:PORT][/DB]`.
pub fn parse_url(url: &str) -> Result<Client, String> {
    let supported = "the supported form is redis://[USER:PASSWORD@]HOST[:PORT][/DB] \
                     (TLS, Unix sockets and Redis Cluster are not supported)";
    if !url.starts_with("redis://") {
        let scheme = url.split_once("://").map_or(url, |(s, _)| s);
        return Err(format!(
            "limits.counters_url: `{scheme}` is not a supported scheme; {supported}"
        ));
    }
    Client::open(url)
        .map_err(|e| format!("limits.counters_url is not a Redis URL ({e}); {supported}"))
}

/// `HOST:PORT/DB`, for messages: never the password.
fn target(client: &Client) -> String {
    let info = client.get_connection_info();
    let db = info.redis_settings().db();
    match info.addr() {
        ConnectionAddr::Tcp(host, port) => format!("Redis at {host}:{port}/{db}"),
        other => format!("Redis at {other}/{db}"),
    }
}

impl RedisCounters {
    /// Connects to `url` (see [`parse_url`]) and checks that the server answers; keys are
    /// named under `prefix` (`PREFIX:LIMIT:KEY`).
    pub async fn connect(url: &str, prefix: &str) -> Result<RedisCounters, StoreError> {
        let client = parse_url(url).map_err(StoreError::Url)?;
        let target = target(&client);
        let unreachable = |e: RedisError| StoreError::Counters {
            target: target.clone(),
            reason: e.to_string(),
            transient: true,
        };
        let config = ConnectionManagerConfig::new()
            .set_connection_timeout(Some(TIMEOUT))
            .set_response_timeout(Some(TIMEOUT))
            .set_number_of_retries(2);
        let conn = ConnectionManager::new_with_config(client, config)
            .await
            .map_err(unreachable)?;
        let counters = RedisCounters {
            conn,
            script: Script::new(SCRIPT),
            prefix: prefix.to_owned(),
            target: target.clone(),
        };
        counters.ping().await?;
        Ok(counters)
    }

    fn key(&self, hit: &Hit<'_>) -> String {
        format!("{}:{}:{}", self.prefix, hit.limit, hit.key)
    }

    fn error(&self, e: RedisError) -> StoreError {
        let transient = e.is_io_error()
            || e.is_connection_refusal()
            || e.is_connection_dropped()
            || e.is_timeout();
        StoreError::Counters {
            target: self.target.clone(),
            reason: e.to_string(),
            transient,
        }
    }

    /// Deletes every key under this prefix (tests and benchmarks that share a server); returns
    /// how many.
    pub async fn delete_all(&self) -> Result<u64, StoreError> {
        let mut conn = self.conn.clone();
        let pattern = format!("{}:*", glob_escape(&self.prefix));
        let mut cursor: u64 = 0;
        let mut deleted = 0;
        loop {
            let (next, keys): (u64, Vec<String>) = redis::cmd("SCAN")
                .arg(cursor)
                .arg("MATCH")
                .arg(&pattern)
                .arg("COUNT")
                .arg(1000)
                .query_async(&mut conn)
                .await
                .map_err(|e| self.error(e))?;
            if !keys.is_empty() {
                let n: u64 = redis::cmd("UNLINK")
                    .arg(&keys)
                    .query_async(&mut conn)
                    .await
                    .map_err(|e| self.error(e))?;
                deleted += n;
            }
            if next == 0 {
                return Ok(deleted);
            }
            cursor = next;
        }
    }
}

/// `text` with Redis's glob characters escaped, for `SCAN MATCH`.
fn glob_escape(text: &str) -> String {
    let mut out = String::with_capacity(text.len());
    for c in text.chars() {
        if matches!(c, '*' | '?' | '[' | ']' | '\\') {
            out.push('\\');
        }
        out.push(c);
    }
    out
}

#[async_trait]
impl Counters for RedisCounters {
    async fn hit(&self, hit: Hit<'_>) -> Result<Count, StoreError> {
        let mut counts = self.hit_all(&[hit]).await?;
        counts.pop().ok_or_else(|| StoreError::Counters {
            target: self.target.clone(),
            reason: "the counting script returned no count".into(),
            transient: false,
        })
    }

    /// One script call for all the hits: one round trip, atomic.
    async fn hit_all(&self, hits: &[Hit<'_>]) -> Result<Vec<Count>, StoreError> {
        let Some(first) = hits.first() else {
            return Ok(Vec::new());
        };
        let mut call = self.script.prepare_invoke();
        call.arg(first.now.0);
        for hit in hits {
            call.key(self.key(hit));
        }
        for hit in hits {
            call.arg(hit.window_end.0);
        }
        call.arg(i64::try_from(SLACK.as_millis()).unwrap_or(i64::MAX));
        let mut conn = self.conn.clone();
        let flat: Vec<i64> = call
            .invoke_async(&mut conn)
            .await
            .map_err(|e| self.error(e))?;
        if flat.len() != hits.len() * 2 {
            return Err(StoreError::Counters {
                target: self.target.clone(),
                reason: format!(
                    "the counting script returned {} values for {} hits",
                    flat.len(),
                    hits.len()
                ),
                transient: false,
            });
        }
        Ok(flat
            .chunks_exact(2)
            .map(|pair| Count {
                hits: u32::try_from(pair[0].max(0)).unwrap_or(u32::MAX),
                window_end: UnixMs(pair[1]),
            })
            .collect())
    }

    /// Nothing to do: Redis collects a key [`SLACK`] after its window ends.
    async fn purge(&self, _now: UnixMs) -> Result<u64, StoreError> {
        Ok(0)
    }

    async fn ping(&self) -> Result<(), StoreError> {
        let mut conn = self.conn.clone();
        let pong: String = redis::cmd("PING")
            .query_async(&mut conn)
            .await
            .map_err(|e| self.error(e))?;
        if pong == "PONG" {
            Ok(())
        } else {
            Err(StoreError::Counters {
                target: self.target.clone(),
                reason: format!("PING answered {pong:?}"),
                transient: true,
            })
        }
    }
}
