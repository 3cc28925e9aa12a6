//! Reading a running mock: its journal (WeChat requests and control-plane calls), its state
//! and its live fault rules, each failure said in terms of what to do about it.

use std::time::Duration;

use mock_server::journal::{ControlPage, JournalPage};
use serde::de::DeserializeOwned;
use serde_json::Value;

use super::{MockWorld, RecordError, Recording, Since};

/// How long one read of the mock may take: it answers from memory, so a mock that is slower
/// than this is not answering.
const TIMEOUT: Duration = Duration::from_secs(10);

/// Reads everything the mock at `url` journaled (with its control `token`, if it needs one),
/// and keeps what came after `since`.
pub async fn fetch(url: &str, token: Option<&str>, since: Since) -> Result<Recording, RecordError> {
    // The control plane's own URL names the same mock.
    let trimmed = url.trim().trim_end_matches('/');
    let base = trimmed
        .strip_suffix("/__mock__")
        .unwrap_or(trimmed)
        .to_owned();
    if !(base.starts_with("http://") || base.starts_with("https://")) {
        return Err(RecordError::Unreachable {
            url: base,
            why: "expected an http:// URL (the mock's base URL, such as http://127.0.0.1:9100)"
                .into(),
        });
    }
    let http = reqwest::Client::builder()
        .timeout(TIMEOUT)
        .build()
        .map_err(|e| RecordError::Unreachable {
            url: base.clone(),
            why: format!("no HTTP client ({e})"),
        })?;
    let read = Reader {
        base: &base,
        token,
        http: &http,
    };
    let journal: JournalPage = read.get("/journal").await?;
    let control: ControlPage = read.get("/journal/control").await?;
    let mut world: MockWorld = read.get("/state").await?;
    let faults: Value = read.get("/faults").await?;
    world.faults = faults["faults"].as_array().cloned().unwrap_or_default();
    Ok(Recording {
        source: base.clone(),
        vendor: journal.entries,
        control: control.entries,
        dropped: journal.dropped + control.dropped,
        last_seq: journal.last_seq,
        window: Since::Everything,
        world,
    }
    .since(since))
}

struct Reader<'a> {
    base: &'a str,
    token: Option<&'a str>,
    http: &'a reqwest::Client,
}

impl Reader<'_> {
    async fn get<T: DeserializeOwned>(&self, path: &str) -> Result<T, RecordError> {
        let url = self.base.to_owned();
        let mut req = self.http.get(format!("{}/__mock__{path}", self.base));
        if let Some(t) = self.token {
            req = req.bearer_auth(t);
        }
        let resp = req.send().await.map_err(|e| RecordError::Unreachable {
            url: url.clone(),
            why: if e.is_timeout() {
                format!("no answer within {} s", TIMEOUT.as_secs())
            } else if e.is_connect() {
                "the connection was refused".into()
            } else {
                e.without_url().to_string()
            },
        })?;
        let status = resp.status().as_u16();
        let text = resp.text().await.map_err(|e| RecordError::Unreachable {
            url: url.clone(),
            why: format!("the answer broke off ({})", e.without_url()),
        })?;
        let refused = |why: String| RecordError::Refused {
            url: url.clone(),
            path: path.to_owned(),
            why,
        };
        match status {
            200 => serde_json::from_str(&text).map_err(|e| RecordError::NotAMock {
                url: url.clone(),
                path: path.to_owned(),
                detail: format!("{e}: {}", excerpt(&text)),
            }),
            401 if self.token.is_none() => Err(refused(
                "its control plane needs a token: give --control-token (the token the mock was \
                 started with, its --control-token or MOCK_CONTROL_TOKEN)"
                    .into(),
            )),
            401 => Err(refused(
                "the control token given is not the mock's: give the one it was started with \
                 (its --control-token or MOCK_CONTROL_TOKEN)"
                    .into(),
            )),
            404 if path == "/journal/control" && is_control_error(&text) => {
                Err(RecordError::NoControlJournal { url })
            }
            _ if is_control_error(&text) => Err(refused(format!("HTTP {status}: {text}"))),
            _ => Err(RecordError::NotAMock {
                url: url.clone(),
                path: path.to_owned(),
                detail: format!("HTTP {status}: {}", excerpt(&text)),
            }),
        }
    }
}

/// The control plane's error shape: `{"error":{"code","message"}}`.
fn is_control_error(text: &str) -> bool {
    serde_json::from_str::<Value>(text).is_ok_and(|v| v["error"]["code"].is_string())
}

/// The start of an answer, for an error message.
fn excerpt(text: &str) -> String {
    const MAX: usize = 200;
    let mut cut: String = text.chars().take(MAX).collect();
    if cut.len() < text.len() {
        cut.push('…');
    }
    if cut.is_empty() {
        "an empty body".into()
    } else {
        format!("{cut:?}")
    }
}
