//! The request journal: every vendor request with its time, what was asked and what was answered;
//! beside it, the control-plane calls that changed something (the simulated mini-program's
//! `wx.*` calls, the clock, faults, users, ...), each placed between two vendor requests, so a
//! session can be read back in order. Capped; when full it drops the oldest entries and counts
//! them, so a reader knows it is partial.

use std::collections::VecDeque;
use std::net::IpAddr;
use std::sync::{Mutex, PoisonError};
use std::time::Duration;

use axum::http::Method;
use bytes::Bytes;
use serde::{Deserialize, Serialize};

use crate::catalogue::{Family, WxError};
use crate::clock::Timestamp;
use crate::endpoint::Endpoint;
use crate::ids::{AppId, UserHandle};
use crate::params::Params;
use crate::reply::{Reply, RidRequest};

/// How long `openapi/rid/get` finds a rid: 7 days (getRidInfo's notes), if the journal still
/// holds the request.
pub const RID_LIFETIME: Duration = Duration::from_secs(7 * 86_400);

/// One recorded vendor request.
#[derive(Clone, Debug)]
pub struct Record {
    /// Virtual time of arrival.
    pub time: Timestamp,
    /// HTTP method.
    pub method: Method,
    /// Request target as received: the path, then `?` and the raw query string if there is
    /// one (its parameters are parsed again when the journal is read). A copy: a request's
    /// `Uri` shares the buffer its head was read into, and keeping it would keep that buffer.
    pub target: String,
    /// Which endpoint the path named.
    pub endpoint: Endpoint,
    /// Raw request body.
    pub body: Bytes,
    /// App concerned, when known.
    pub appid: Option<AppId>,
    /// User concerned, when known.
    pub user: Option<UserHandle>,
    /// HTTP status answered (0 when the connection was dropped or reset).
    pub status: u16,
    /// errcode answered (0 for success bodies), none for non-WeChat answers.
    pub errcode: Option<i64>,
    /// For Tencent Cloud answers: the error's code, `Ok` when every number was sent, else the
    /// first refused number's code.
    pub tencent_code: Option<&'static str>,
    /// For Tencent Cloud requests: the headers that carry API 3.0's common parameters.
    pub headers: Option<Vec<(String, String)>>,
    /// The fault that shaped the answer, if any.
    pub fault: Option<String>,
    /// The response body as sent (before any truncation).
    pub response: Bytes,
    /// Wall-clock time spent answering, microseconds.
    pub latency_us: u64,
    /// The request id of a WeChat error answer (what its errmsg names).
    pub rid: Option<String>,
    /// The address the request came from, when known.
    pub client_ip: Option<IpAddr>,
}

impl Record {
    /// The request path.
    pub fn path(&self) -> &str {
        split_target(&self.target).0
    }

    /// The raw query string, if the target has one.
    pub fn query(&self) -> Option<&str> {
        split_target(&self.target).1
    }
}

/// The headers of a Tencent Cloud request the journal keeps: `Host`, `Content-Type`,
/// `Authorization` (SecretId and signature, no secret) and every `X-TC-*`, names lowercase.
pub fn tencent_headers(headers: &Params) -> Vec<(String, String)> {
    headers
        .pairs()
        .filter(|(name, _)| {
            matches!(*name, "host" | "content-type" | "authorization") || name.starts_with("x-tc-")
        })
        .map(|(name, value)| (name.to_owned(), value.to_owned()))
        .collect()
}

/// A request target's path, and its query string if it has one.
pub fn split_target(target: &str) -> (&str, Option<&str>) {
    match target.split_once('?') {
        Some((path, query)) => (path, Some(query)),
        None => (target, None),
    }
}

/// One recorded vendor request.
#[derive(Clone, Debug, Serialize, Deserialize, PartialEq, schemars::JsonSchema)]
pub struct JournalEntry {
    /// Sequence number, from 1, never reused (not even after a clear).
    #[schemars(range(min = 1))]
    pub seq: u64,
    /// Virtual time of arrival, Unix milliseconds.
    pub time_ms: i64,
    /// Virtual time of arrival, RFC 3339.
    #[schemars(extend("format" = "date-time"))]
    pub time: String,
    /// HTTP method.
    pub method: String,
    /// Request path.
    pub path: String,
    /// Endpoint name (`jscode2session`, ..., `unknown`).
    #[schemars(with = "crate::endpoint::EndpointName")]
    pub endpoint: String,
    /// Raw query string.
    pub query: String,
    /// Query parameters (first value of each name).
    #[schemars(with = "std::collections::BTreeMap<String, String>")]
    pub params: serde_json::Map<String, serde_json::Value>,
    /// Request body (UTF-8, invalid bytes replaced).
    pub body: String,
    /// App concerned, when known.
    pub appid: Option<String>,
    /// User concerned, when known.
    pub user: Option<String>,
    /// HTTP status answered (0: no answer, the connection was dropped or reset).
    #[schemars(range(max = 599))]
    pub status: u16,
    /// errcode answered (0 for success bodies); `null` for non-WeChat answers (gateway pages,
    /// Tencent Cloud answers).
    pub errcode: Option<i64>,
    /// Only on `sms_send` entries: the Tencent Cloud code answered: the error's `Code`, `Ok` when
    /// every number was sent, else the first refused number's `Code`; absent when the connection
    /// broke.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub tencent_code: Option<String>,
    /// Only on `sms_send` entries: the headers that carry API 3.0's common parameters and the
    /// signature (`host`, `content-type`, `authorization`, `x-tc-*`; names lowercase, first value
    /// of each).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    #[schemars(with = "Option<std::collections::BTreeMap<String, String>>")]
    pub headers: Option<serde_json::Map<String, serde_json::Value>>,
    /// The fault that shaped the answer, e.g. `rule 3: errcode -1`.
    pub fault: Option<String>,
    /// Response body as sent (before any truncation).
    pub response: String,
    /// Wall-clock time spent answering, microseconds.
    pub latency_us: u64,
    /// The request id a WeChat error answer named in its errmsg (`xxxxxxxx-xxxxxxxx-xxxxxxxx`;
    /// under `rid_style: legacy`, the hint tag); `null` for successes and non-WeChat answers. `POST
    /// /cgi-bin/openapi/rid/get` looks it up.
    #[serde(default)]
    pub rid: Option<String>,
}

/// Filters for reading the journal; all optional.
#[derive(Clone, Debug, Default, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct JournalFilter {
    /// Endpoint name or path.
    pub endpoint: Option<String>,
    /// App.
    pub appid: Option<String>,
    /// User handle.
    pub user: Option<String>,
    /// errcode answered.
    pub errcode: Option<i64>,
    /// Tencent Cloud code answered (`Ok` or an error code).
    pub tencent_code: Option<String>,
    /// Only entries after this sequence number (a `last_seq` read earlier): what happened
    /// since then.
    pub since: Option<u64>,
    /// The request id an error answer named.
    pub rid: Option<String>,
}

/// The journal, filtered.
#[derive(Clone, Debug, Serialize, Deserialize, PartialEq, schemars::JsonSchema)]
pub struct JournalPage {
    /// Matching entries, oldest first.
    pub entries: Vec<JournalEntry>,
    /// Requests recorded since start or the last clear.
    pub recorded: u64,
    /// Oldest entries dropped because the journal was full.
    pub dropped: u64,
    /// How many entries the journal keeps.
    #[schemars(range(min = 1))]
    pub capacity: usize,
    /// The sequence number of the latest request recorded (0: none yet); give it as `since`
    /// later to read only what came after.
    pub last_seq: u64,
}

/// One control-plane call that succeeded and was not a read (`POST`, `PATCH`, `DELETE`
/// answered 2xx).
#[derive(Clone, Debug)]
pub struct ControlRecord {
    /// Virtual time when it was answered (after a clock change: the new time).
    pub time: Timestamp,
    /// HTTP method.
    pub method: Method,
    /// Path relative to `/__mock__`, with its query string if any.
    pub target: String,
    /// Raw request body (empty when the route reads none).
    pub body: Bytes,
    /// HTTP status answered.
    pub status: u16,
    /// Response body.
    pub response: Bytes,
}

/// One control-plane call that changed something.
#[derive(Clone, Debug, Serialize, Deserialize, PartialEq, schemars::JsonSchema)]
#[schemars(deny_unknown_fields)]
pub struct ControlEntry {
    /// Sequence number among control-plane calls, from 1, never reused (not even after a
    /// clear).
    #[schemars(range(min = 1))]
    pub seq: u64,
    /// The vendor journal's `last_seq` when the call was answered: it came after vendor
    /// request `after_seq` and before the next one.
    pub after_seq: u64,
    /// Virtual time when it was answered (after a clock change: the new time), Unix
    /// milliseconds.
    pub time_ms: i64,
    /// The same time, RFC 3339.
    #[schemars(extend("format" = "date-time"))]
    pub time: String,
    /// HTTP method.
    pub method: String,
    /// Path relative to `/__mock__` (`/wx/login`), with its query string if any.
    pub path: String,
    /// The request body as JSON (`null` when there was none; text when it was not JSON).
    pub body: serde_json::Value,
    /// HTTP status answered.
    pub status: u16,
    /// The answer as JSON.
    pub response: serde_json::Value,
}

/// Filters for reading the control-plane calls.
#[derive(Clone, Debug, Default, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct ControlFilter {
    /// Only calls after this control sequence number (a `last_seq` read earlier).
    pub since: Option<u64>,
}

/// The control-plane calls that changed something.
#[derive(Clone, Debug, Serialize, Deserialize, PartialEq, schemars::JsonSchema)]
pub struct ControlPage {
    /// Matching calls, oldest first.
    pub entries: Vec<ControlEntry>,
    /// Calls recorded since start or the last clear.
    pub recorded: u64,
    /// Oldest calls dropped because the journal was full.
    pub dropped: u64,
    /// How many calls are kept (the journal's capacity).
    #[schemars(range(min = 1))]
    pub capacity: usize,
    /// The sequence number of the latest call recorded (0: none yet); give it as `since`
    /// later to read only what came after.
    pub last_seq: u64,
}

/// One of the two queues: entries with their sequence numbers, capped.
struct Queue<T> {
    entries: VecDeque<(u64, T)>,
    next_seq: u64,
    recorded: u64,
    dropped: u64,
}

impl<T> Queue<T> {
    fn new() -> Self {
        Self {
            entries: VecDeque::new(),
            next_seq: 1,
            recorded: 0,
            dropped: 0,
        }
    }

    /// Appends, dropping the oldest to stay within `capacity`; returns the entry that made
    /// room, to be freed after the lock is released.
    fn push(&mut self, item: T, capacity: usize) -> Option<(u64, T)> {
        let mut evicted = None;
        let seq = self.next_seq;
        self.next_seq += 1;
        self.recorded += 1;
        while self.entries.len() >= capacity {
            evicted = self.entries.pop_front();
            self.dropped += 1;
        }
        self.entries.push_back((seq, item));
        evicted
    }

    fn shrink(&mut self, capacity: usize) {
        while self.entries.len() > capacity {
            self.entries.pop_front();
            self.dropped += 1;
        }
    }

    fn clear(&mut self) {
        self.entries.clear();
        self.recorded = 0;
        self.dropped = 0;
    }

    /// The entries after `since`: sequence numbers grow along the queue, so the older part
    /// is skipped without looking at it.
    fn after(&self, since: u64) -> impl Iterator<Item = &(u64, T)> {
        let first = self.entries.partition_point(|(seq, _)| *seq <= since);
        self.entries.range(first..)
    }

    fn last_seq(&self) -> u64 {
        self.next_seq - 1
    }
}

struct Inner {
    vendor: Queue<Record>,
    /// Control-plane calls, each with the vendor `last_seq` at the time.
    control: Queue<(u64, ControlRecord)>,
    capacity: usize,
}

/// The journal. Its own lock, never held together with the engine's.
pub struct Journal {
    inner: Mutex<Inner>,
}

impl Journal {
    /// An empty journal keeping at most `capacity` entries.
    pub fn new(capacity: usize) -> Self {
        Self {
            inner: Mutex::new(Inner {
                vendor: Queue::new(),
                control: Queue::new(),
                capacity: capacity.max(1),
            }),
        }
    }

    fn lock(&self) -> std::sync::MutexGuard<'_, Inner> {
        // Every update below is a push or pop that completes; nothing is left half-done.
        self.inner.lock().unwrap_or_else(PoisonError::into_inner)
    }

    /// Records a request.
    pub fn record(&self, r: Record) {
        let mut j = self.lock();
        let capacity = j.capacity;
        let evicted = j.vendor.push(r, capacity);
        drop(j);
        // The entry that made room is freed after the lock is released.
        drop(evicted);
    }

    /// Records a control-plane call, after the vendor requests journaled so far.
    pub fn record_control(&self, r: ControlRecord) {
        let mut j = self.lock();
        let (capacity, after) = (j.capacity, j.vendor.last_seq());
        let evicted = j.control.push((after, r), capacity);
        drop(j);
        drop(evicted);
    }

    /// Changes the capacity, dropping the oldest entries if needed.
    pub fn set_capacity(&self, capacity: usize) {
        let mut j = self.lock();
        j.capacity = capacity.max(1);
        let capacity = j.capacity;
        j.vendor.shrink(capacity);
        j.control.shrink(capacity);
    }

    /// Forgets everything, control-plane calls included (sequence numbers keep counting).
    pub fn clear(&self) {
        let mut j = self.lock();
        j.vendor.clear();
        j.control.clear();
    }

    /// Control-plane calls after `f.since`, oldest first.
    pub fn read_control(&self, f: &ControlFilter) -> ControlPage {
        let j = self.lock();
        let entries = j
            .control
            .after(f.since.unwrap_or(0))
            .map(|(seq, (after, r))| control_view(*seq, *after, r))
            .collect();
        ControlPage {
            entries,
            recorded: j.control.recorded,
            dropped: j.control.dropped,
            capacity: j.capacity,
            last_seq: j.control.last_seq(),
        }
    }

    /// Entries matching the filter, oldest first.
    pub fn read(&self, f: &JournalFilter) -> JournalPage {
        let endpoint = f
            .endpoint
            .as_deref()
            .map(|e| Endpoint::parse(e).map(Endpoint::name).unwrap_or(e));
        let j = self.lock();
        let entries = j
            .vendor
            .after(f.since.unwrap_or(0))
            .filter(|(_, r)| {
                endpoint.is_none_or(|e| r.endpoint.name() == e)
                    && f.appid
                        .as_deref()
                        .is_none_or(|a| r.appid.as_ref().is_some_and(|x| x.as_str() == a))
                    && f.user
                        .as_deref()
                        .is_none_or(|u| r.user.as_ref().is_some_and(|x| x.as_str() == u))
                    && f.errcode.is_none_or(|c| r.errcode == Some(c))
                    && f.tencent_code
                        .as_deref()
                        .is_none_or(|c| r.tencent_code == Some(c))
                    && f.rid.as_deref().is_none_or(|x| r.rid.as_deref() == Some(x))
            })
            .map(|(seq, r)| view(*seq, r))
            .collect();
        JournalPage {
            entries,
            recorded: j.vendor.recorded,
            dropped: j.vendor.dropped,
            capacity: j.capacity,
            last_seq: j.vendor.last_seq(),
        }
    }
}

impl Journal {
    /// `openapi/rid/get`: the request that got `rid`, for `appid` (the token's app). A rid the
    /// journal does not hold (never given, dropped for room, cleared) or older than
    /// [`RID_LIFETIME`]: 76001; another app's, or a request no app was known for: 76003; an
    /// `sns/*` request's: 76022, as WeChat answers for those APIs.
    pub fn rid_info(&self, appid: &AppId, rid: &str, now: Timestamp) -> Result<Reply, WxError> {
        let j = self.lock();
        let r = j
            .vendor
            .entries
            .iter()
            .rev()
            .map(|(_, r)| r)
            .find(|r| r.rid.as_deref() == Some(rid))
            .filter(|r| r.time.plus(RID_LIFETIME) > now)
            .ok_or(WxError::RidNotFound)?;
        if r.appid.as_ref() != Some(appid) {
            return Err(WxError::RidNoPermission);
        }
        if Endpoint::family_of(r.path()) == Family::Sns {
            return Err(WxError::CgiPathNoPermission);
        }
        Ok(Reply::RidInfo(RidRequest {
            invoke_time: r.time.secs(),
            cost_in_ms: r.latency_us / 1000,
            request_url: r.query().unwrap_or("").to_owned(),
            request_body: String::from_utf8_lossy(&r.body).into_owned(),
            response_body: String::from_utf8_lossy(&r.response).into_owned(),
            client_ip: r.client_ip.map_or_else(
                || "127.0.0.1".to_owned(),
                |ip| ip.to_canonical().to_string(),
            ),
        }))
    }
}

/// A body as JSON: `null` when empty, the text when it is not JSON.
fn json_or_text(bytes: &[u8]) -> serde_json::Value {
    if bytes.is_empty() {
        return serde_json::Value::Null;
    }
    serde_json::from_slice(bytes)
        .unwrap_or_else(|_| serde_json::Value::String(String::from_utf8_lossy(bytes).into_owned()))
}

fn control_view(seq: u64, after_seq: u64, r: &ControlRecord) -> ControlEntry {
    ControlEntry {
        seq,
        after_seq,
        time_ms: r.time.millis(),
        time: r.time.rfc3339(),
        method: r.method.as_str().to_owned(),
        path: r.target.clone(),
        body: json_or_text(&r.body),
        status: r.status,
        response: json_or_text(&r.response),
    }
}

fn view(seq: u64, r: &Record) -> JournalEntry {
    let mut params = serde_json::Map::new();
    for (k, v) in Params::parse(r.query()).pairs() {
        params
            .entry(k)
            .or_insert_with(|| serde_json::Value::String(v.to_owned()));
    }
    JournalEntry {
        seq,
        time_ms: r.time.millis(),
        time: r.time.rfc3339(),
        method: r.method.as_str().to_owned(),
        path: r.path().to_owned(),
        endpoint: r.endpoint.name().to_owned(),
        query: r.query().unwrap_or("").to_owned(),
        params,
        body: String::from_utf8_lossy(&r.body).into_owned(),
        appid: r.appid.as_ref().map(|a| a.as_str().to_owned()),
        user: r.user.as_ref().map(|u| u.as_str().to_owned()),
        status: r.status,
        errcode: r.errcode,
        tencent_code: r.tencent_code.map(str::to_owned),
        headers: r.headers.as_ref().map(|h| {
            let mut map = serde_json::Map::new();
            for (k, v) in h {
                map.entry(k.clone())
                    .or_insert_with(|| serde_json::Value::String(v.clone()));
            }
            map
        }),
        fault: r.fault.clone(),
        response: String::from_utf8_lossy(&r.response).into_owned(),
        latency_us: r.latency_us,
        rid: r.rid.clone(),
    }
}
