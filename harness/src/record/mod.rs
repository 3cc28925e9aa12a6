//! `harness record`: a session made by hand against a running mock (the control plane's
//! `wx.login`, faults and clock moves, then a backend's or curl's WeChat calls) read back from
//! the mock's journal and turned into a scenario that replays it.
//!
//! [`fetch`] reads the mock (`fetch.rs`); [`Recording::since`] keeps a window of it;
//! [`build`] maps it onto the scenario types (`build/`, with the app and user names of
//! `names.rs` and the expectations of `expect.rs`); [`Recorded::to_yaml`] writes the file with
//! its comments and reads it back before anyone else does (`render.rs`).
//!
//! What a recorded scenario asserts, so that it is useful and stable: for every login, what a
//! correct backend answers to WeChat's recorded answer (an outcome, not a body); at the end, the
//! WeChat calls a backend step caused, in order, with their errcodes (and, for successes, the
//! user). Never codes, openids, session keys, tokens, rids or times: those differ in every run.

mod build;
mod expect;
mod fetch;
mod names;
mod render;

use mock_server::journal::{ControlEntry, JournalEntry};
use serde::Deserialize;
use serde_json::Value;

pub use build::{Options, build};
pub use fetch::fetch;
pub use render::Recorded;

/// Why nothing could be recorded.
#[derive(Debug, thiserror::Error)]
pub enum RecordError {
    /// No mock answered at the URL.
    #[error(
        "cannot reach the mock at {url}: {why}. Start it (`mock-server --listen 127.0.0.1:9100`, \
         or `harness up`), or point --mock at where it listens."
    )]
    Unreachable {
        /// The mock's base URL.
        url: String,
        /// What went wrong.
        why: String,
    },
    /// The control plane refused the request.
    #[error("the mock at {url} refused GET /__mock__{path}: {why}")]
    Refused {
        /// The mock's base URL.
        url: String,
        /// The control-plane path.
        path: String,
        /// The refusal and how to get past it.
        why: String,
    },
    /// Something answered, but not as a mock-server does.
    #[error(
        "the server at {url} does not answer GET /__mock__{path} as a mock-server does ({detail}); \
         is --mock the mock's base URL (http://HOST:PORT, without /__mock__)?"
    )]
    NotAMock {
        /// The base URL.
        url: String,
        /// The control-plane path.
        path: String,
        /// What was wrong with the answer.
        detail: String,
    },
    /// A mock that keeps no control-plane calls.
    #[error(
        "the mock at {url} does not journal its control-plane calls (GET /__mock__/journal/control \
         answered 404): it predates `harness record`; run the mock-server of this workspace"
    )]
    NoControlJournal {
        /// The base URL.
        url: String,
    },
    /// The window holds nothing to replay.
    #[error("{0}")]
    Empty(String),
    /// The scenario written does not read back: a defect of this command.
    #[error(
        "the scenario built does not read back as a scenario ({0}); this is a defect of \
         `harness record`: please report it with the mock's journal"
    )]
    Unreadable(String),
}

/// Where the recording starts.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub enum Since {
    /// Everything the journal holds.
    #[default]
    Everything,
    /// After WeChat request number N of the journal (its `last_seq` read earlier): the
    /// requests numbered above N and the control-plane calls made after request N.
    Seq(u64),
    /// From this time of the mock's clock on (Unix milliseconds).
    Time(i64),
}

impl std::str::FromStr for Since {
    type Err = String;

    fn from_str(s: &str) -> Result<Self, Self::Err> {
        let text = s.trim();
        if let Ok(n) = text.parse::<u64>() {
            return Ok(Self::Seq(n));
        }
        if let Some(t) = mock_server::Timestamp::parse_rfc3339(text) {
            return Ok(Self::Time(t.millis()));
        }
        Err(format!(
            "--since {s:?}: give a journal sequence number (the `last_seq` of \
             GET /__mock__/journal, such as 42: what came after that request) or a time of the \
             mock's clock in RFC 3339 (such as 2024-08-22T01:14:57Z: what came from then on)"
        ))
    }
}

impl std::fmt::Display for Since {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            Self::Everything => f.write_str("the start of the journal"),
            Self::Seq(n) => write!(f, "WeChat request #{n}"),
            Self::Time(ms) => f.write_str(&mock_server::Timestamp::from_millis(*ms).rfc3339()),
        }
    }
}

/// What the mock's journal holds, and the world it was made in.
#[derive(Clone, Debug, Default)]
pub struct Recording {
    /// Where it came from (the mock's URL), for the file's header.
    pub source: String,
    /// WeChat requests, oldest first.
    pub vendor: Vec<JournalEntry>,
    /// Control-plane calls that changed something, oldest first.
    pub control: Vec<ControlEntry>,
    /// Entries the journal dropped for room before the oldest one kept (0 when the window
    /// does not reach back to them).
    pub dropped: u64,
    /// The journal's latest WeChat request number when it was read.
    pub last_seq: u64,
    /// The window kept ([`Recording::since`]).
    pub window: Since,
    /// The mock as it is now: apps, users, options, live fault rules.
    pub world: MockWorld,
}

impl Recording {
    /// Keeps what came after `since`.
    pub fn since(mut self, since: Since) -> Self {
        match since {
            Since::Everything => {}
            Since::Seq(n) => {
                // Dropped entries matter only when the window reaches back into them.
                if self.vendor.first().is_some_and(|e| e.seq <= n + 1) {
                    self.dropped = 0;
                }
                self.vendor.retain(|e| e.seq > n);
                self.control.retain(|c| c.after_seq >= n);
            }
            Since::Time(ms) => {
                self.vendor.retain(|e| e.time_ms >= ms);
                self.control.retain(|c| c.time_ms >= ms);
            }
        }
        self.window = since;
        self
    }
}

/// The mock's state, as much of it as a recording needs (`GET /__mock__/state` and
/// `GET /__mock__/faults`). Unknown fields are ignored, so a newer mock still reads.
#[derive(Clone, Debug, Default, Deserialize)]
pub struct MockWorld {
    /// Apps.
    #[serde(default)]
    pub apps: Vec<MockApp>,
    /// Users.
    #[serde(default)]
    pub users: Vec<MockUser>,
    /// Options in force.
    #[serde(default)]
    pub options: serde_json::Map<String, Value>,
    /// Fault rules still in force.
    #[serde(default)]
    pub faults: Vec<Value>,
}

/// An app of the mock.
#[derive(Clone, Debug, Default, Deserialize)]
pub struct MockApp {
    /// The appid.
    pub appid: String,
    /// The AppSecret.
    #[serde(default)]
    pub secret: String,
    /// Its open-platform account.
    #[serde(default)]
    pub open_platform: Option<String>,
    /// Its name for humans.
    #[serde(default)]
    pub name: Option<String>,
    /// The app the mock starts with.
    #[serde(default)]
    pub default: bool,
    /// `legacy` or `anonymous`.
    #[serde(default)]
    pub profile_era: Option<String>,
    /// `mini_program` or `official_account`.
    #[serde(default)]
    pub kind: Option<String>,
}

/// A user of the mock.
#[derive(Clone, Debug, Default, Deserialize)]
pub struct MockUser {
    /// The handle.
    pub handle: String,
    /// The phone number, `null` when the user has none.
    #[serde(default)]
    pub phone: Option<Value>,
    /// jscode2session answers 40226 for the user.
    #[serde(default)]
    pub high_risk: bool,
}
