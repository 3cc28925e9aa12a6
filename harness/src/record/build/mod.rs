//! From a recording to a scenario: the journal's two halves merged in order, then each event
//! mapped onto the scenario's own actions. The simulated mini-program's calls become `wx.*`
//! steps (`control.rs`, with faults, clock moves and the mock's settings); a backend's or
//! curl's jscode2session becomes a `login` through the backend under test, a getuserphonenumber
//! a `bind_phone` (`vendor.rs`); the time that passed on a running clock becomes `clock` steps
//! (here); the setup gets the apps, users and options the journey needs (`setup.rs`); the
//! name, description and tags say what was recorded (here).

mod control;
mod setup;
mod vendor;

use std::collections::{BTreeMap, BTreeSet};

use mock_server::journal::{ControlEntry, JournalEntry};
use serde_json::Value;

use super::expect::{self, Call};
use super::names::Names;
use super::render::Recorded;
use super::{RecordError, Recording};
use crate::scenario::{Action, ClockStep, Expect, LoginCall, Scenario, Step};
use crate::target::TargetProfile;

/// How to build.
#[derive(Clone, Debug, Default)]
pub struct Options {
    /// The team's profile the scenario will run against: its apps keep their names. `None`:
    /// the embedded login-core.
    pub target: Option<TargetProfile>,
}

/// The handle of the user behind a code nobody issued.
const NOBODY: &str = "nobody";

/// One step with its comments and the WeChat calls it causes.
pub(super) struct Draft {
    pub step: Step,
    pub notes: Vec<String>,
    pub calls: Vec<Call>,
}

/// One event of the session, in order.
enum Item<'a> {
    /// A control-plane call.
    Control(&'a ControlEntry),
    /// jscode2session for one code: the first call, and the calls a backend made again after
    /// a failure it may retry.
    Exchange(Vec<&'a JournalEntry>),
    /// Any other WeChat request.
    Vendor(&'a JournalEntry),
}

/// A login code the recording minted.
#[derive(Clone, Debug)]
struct Code {
    /// The variable holding it; `None` when its `wx.login` was folded into a `login`.
    var: Option<String>,
    user: String,
    appid: Option<String>,
    minted_ms: i64,
}

/// Builds the scenario from a recording.
pub fn build(rec: &Recording, options: &Options) -> Result<Recorded, RecordError> {
    let items = items(rec);
    if items.is_empty() {
        return Err(RecordError::Empty(empty_message(rec)));
    }
    let mut b = Builder::new(rec, options);
    b.start(&items);
    let mut i = 0;
    while i < items.len() {
        let next = items.get(i + 1);
        let folded = match &items[i] {
            Item::Control(c) => b.control(c, next),
            Item::Exchange(g) => {
                b.exchange(g);
                false
            }
            Item::Vendor(e) => {
                b.vendor(e);
                false
            }
        };
        i += if folded { 2 } else { 1 };
    }
    if b.drafts.is_empty() {
        return Err(RecordError::Empty(format!(
            "{} None of it becomes a step: {}",
            window_text(rec),
            b.seen.join("; ")
        )));
    }
    Ok(b.finish(options))
}

fn window_text(rec: &Recording) -> String {
    format!(
        "The mock at {} holds {} and {} since {}.",
        rec.source,
        expect::plural(rec.vendor.len(), "WeChat request"),
        expect::plural(rec.control.len(), "control-plane change"),
        rec.window
    )
}

fn empty_message(rec: &Recording) -> String {
    let mut m = format!(
        "nothing to record: the mock at {} has journaled no WeChat request and no \
         control-plane change since {}",
        rec.source, rec.window
    );
    if let super::Since::Seq(n) = rec.window {
        if n >= rec.last_seq {
            m.push_str(&format!(
                " (its last WeChat request is #{}; --since {n} leaves out everything up to it)",
                rec.last_seq
            ));
        }
    }
    m.push_str(
        ". Make the journey first: the mini-program's calls through the control plane \
         (POST /__mock__/wx/login {\"user\":\"alice\"}), then your backend's (or curl's) calls to \
         WeChat; then run harness record.",
    );
    m
}

/// The journal's two halves in one order: a control-plane call comes after the WeChat
/// request it names (`after_seq`); jscode2session calls a backend made again after a failure
/// it may retry join the first. A reset or a cleared journal begins the session.
fn items(rec: &Recording) -> Vec<Item<'_>> {
    enum Ev<'a> {
        C(&'a ControlEntry),
        V(&'a JournalEntry),
    }
    let mut evs: Vec<((u64, u8, u64), Ev<'_>)> = rec
        .vendor
        .iter()
        .map(|e| ((e.seq, 0, 0), Ev::V(e)))
        .chain(
            rec.control
                .iter()
                .map(|c| ((c.after_seq, 1, c.seq), Ev::C(c))),
        )
        .collect();
    evs.sort_by_key(|(k, _)| *k);
    let mut out: Vec<Item<'_>> = Vec::new();
    for (_, ev) in evs {
        match ev {
            Ev::C(c) => {
                let path = c.path.split('?').next().unwrap_or_default();
                let marker = matches!(
                    (c.method.as_str(), path),
                    ("POST", "/reset") | ("DELETE", "/journal") | ("DELETE", "/sms")
                );
                if !marker {
                    out.push(Item::Control(c));
                }
            }
            Ev::V(e) if e.endpoint == "jscode2session" => {
                if let Some(Item::Exchange(g)) = out.last_mut() {
                    let last = g[g.len() - 1];
                    if expect::retryable(last) && param(last, "js_code") == param(e, "js_code") {
                        g.push(e);
                        continue;
                    }
                }
                out.push(Item::Exchange(vec![e]));
            }
            Ev::V(e) => out.push(Item::Vendor(e)),
        }
    }
    out
}

/// A query parameter of a journaled request.
fn param<'e>(e: &'e JournalEntry, name: &str) -> Option<&'e str> {
    e.params.get(name).and_then(Value::as_str)
}

/// `6m12s`, `1h`, `1d2h`.
fn duration_text(secs: i64) -> String {
    let mut out = String::new();
    let mut rest = secs;
    for (unit, size) in [("d", 86_400), ("h", 3_600), ("m", 60), ("s", 1)] {
        let n = rest / size;
        rest %= size;
        if n > 0 {
            out.push_str(&format!("{n}{unit}"));
        }
    }
    if out.is_empty() { "0s".into() } else { out }
}

pub(super) struct Builder<'a> {
    rec: &'a Recording,
    names: Names,
    drafts: Vec<Draft>,
    /// Comments for the next step.
    pending: Vec<String>,
    /// Comments for the top of the file.
    header: Vec<String>,
    /// What was seen, for a recording that becomes no step.
    seen: Vec<String>,
    codes: BTreeMap<String, Code>,
    /// How many exchanges use each code.
    uses: BTreeMap<String, usize>,
    /// Phone codes: the variable holding each, and its user.
    phone_codes: BTreeMap<String, (String, String)>,
    /// The latest successful login of each user: the variable holding it.
    sessions: BTreeMap<String, String>,
    /// Recorded fault rules: whether each answers the same in every replay.
    rules: BTreeMap<u64, bool>,
    live_rules: Vec<u64>,
    counters: BTreeMap<String, u32>,
    /// The replay's clock, Unix milliseconds.
    now_ms: i64,
    start_ms: i64,
    gap_said: bool,
    /// Users the steps name (as `user:` of a step).
    step_users: BTreeSet<String>,
    setup: setup::SetupDraft,
    /// WeChat calls a backend makes for itself, by endpoint.
    plumbing: BTreeMap<String, usize>,
}

impl<'a> Builder<'a> {
    fn new(rec: &'a Recording, options: &Options) -> Self {
        Self {
            rec,
            names: Names::new(&rec.world, options.target.as_ref()),
            drafts: Vec::new(),
            pending: Vec::new(),
            header: Vec::new(),
            seen: Vec::new(),
            codes: BTreeMap::new(),
            uses: BTreeMap::new(),
            phone_codes: BTreeMap::new(),
            sessions: BTreeMap::new(),
            rules: BTreeMap::new(),
            live_rules: Vec::new(),
            counters: BTreeMap::new(),
            now_ms: 0,
            start_ms: 0,
            gap_said: false,
            step_users: BTreeSet::new(),
            setup: setup::SetupDraft::default(),
            plumbing: BTreeMap::new(),
        }
    }

    /// The replay's clock starts when the session did; codes are counted per exchange.
    fn start(&mut self, items: &[Item<'_>]) {
        let first = match &items[0] {
            Item::Control(c) => control::start_of(c),
            Item::Exchange(g) => g[0].time_ms,
            Item::Vendor(e) => e.time_ms,
        };
        self.start_ms = first.div_euclid(1000) * 1000;
        self.now_ms = self.start_ms;
        for item in items {
            if let Item::Exchange(g) = item {
                if let Some(code) = param(g[0], "js_code") {
                    *self.uses.entry(code.to_owned()).or_default() += 1;
                }
            }
        }
    }

    fn push(&mut self, step: Step, calls: Vec<Call>) {
        self.drafts.push(Draft {
            step,
            notes: std::mem::take(&mut self.pending),
            calls,
        });
    }

    fn note(&mut self, text: impl Into<String>) {
        self.pending.push(text.into());
    }

    /// A fresh variable name: `alice_code1`, `alice_code2`, ...
    fn var(&mut self, stem: &str) -> String {
        let n = self.counters.entry(stem.to_owned()).or_default();
        *n += 1;
        format!("{stem}{n}")
    }

    /// The scenario's handle of a mock user, noted as named by a step.
    fn step_user(&mut self, handle: &str) -> String {
        let h = self.names.user(handle);
        self.step_users.insert(h.clone());
        h
    }

    /// Time passed on the mock's running clock before `t_ms`: a `clock` step keeps it (whole
    /// seconds), so codes expire and quota minutes turn as they did.
    fn catch_up(&mut self, t_ms: i64) {
        let secs = (t_ms - self.now_ms).div_euclid(1000);
        if secs < 1 {
            return;
        }
        if !self.gap_said {
            self.gap_said = true;
            self.note(
                "The mock's clock ran on between the recorded calls: `clock` steps without a \
                 comment keep the time that passed, so codes expire and quota minutes turn as \
                 they did.",
            );
        }
        self.now_ms += secs * 1000;
        self.push(
            Step {
                name: None,
                action: Action::Clock(ClockStep {
                    advance: Some(duration_text(secs)),
                    set: None,
                }),
            },
            Vec::new(),
        );
    }

    /// The scenario, its comments and its final checks.
    fn finish(mut self, options: &Options) -> Recorded {
        let calls: Vec<Vec<Call>> = self.drafts.iter().map(|d| d.calls.clone()).collect();
        for (step, notes) in expect::final_checks(&calls) {
            self.pending.extend(notes);
            self.push(step, Vec::new());
        }
        let trailer = std::mem::take(&mut self.pending);
        if !self.plumbing.is_empty() {
            let list: Vec<String> = self
                .plumbing
                .iter()
                .map(|(p, n)| format!("{p} ×{n}"))
                .collect();
            self.header.push(format!(
                "Not replayed: {} (a backend fetches its own access tokens, as many as its cache \
                 needs).",
                list.join(", ")
            ));
        }
        let setup = setup::finish(&mut self);
        let scenario = Scenario {
            name: self.title(),
            description: Some(self.description()),
            tags: self.tags(),
            generate: BTreeMap::new(),
            cases: None,
            setup,
            steps: self.drafts.iter().map(|d| d.step.clone()).collect(),
        };
        let mut warnings = Vec::new();
        if self.rec.dropped > 0 {
            warnings.push(format!(
                "the mock's journal dropped {} older entries for room: the recording may begin in \
                 the middle of the journey (raise the mock's journal_capacity option)",
                self.rec.dropped
            ));
        }
        let (profile, embedded) = match &options.target {
            Some(p) => (p.clone(), false),
            None => (TargetProfile::shipped().clone(), true),
        };
        let needs = crate::runner::needs::analyse(&scenario, &profile, embedded);
        if let Some(why) = needs.skip {
            warnings.push(format!(
                "against this target the scenario would be skipped: it {why}"
            ));
        }
        Recorded::new(
            scenario,
            std::mem::take(&mut self.header),
            self.drafts.into_iter().map(|d| d.notes).collect(),
            trailer,
            warnings,
        )
    }

    fn logins(&self) -> (usize, usize, BTreeSet<String>) {
        let mut total = 0;
        let mut refused = 0;
        let mut users = BTreeSet::new();
        for d in &self.drafts {
            if let Action::Login(l) = &d.step.action {
                total += 1;
                if l.expect.is_some() {
                    refused += 1;
                }
                if l.user != NOBODY {
                    users.insert(l.user.clone());
                }
            }
        }
        (total, refused, users)
    }

    fn title(&self) -> String {
        let (total, refused, users) = self.logins();
        if total == 0 {
            return format!(
                "Recorded journey: {}",
                expect::plural(self.drafts.len(), "step")
            );
        }
        let who: Vec<&str> = users.iter().map(String::as_str).collect();
        let who = match who.as_slice() {
            [] => String::new(),
            [one] => format!(" by {one}"),
            [init @ .., last] => format!(" by {} and {last}", init.join(", ")),
        };
        let refused = if refused > 0 {
            format!(", {refused} refused or in doubt")
        } else {
            String::new()
        };
        format!(
            "Recorded journey: {}{who}{refused}",
            expect::plural(total, "login")
        )
    }

    fn description(&self) -> String {
        /// `WeChat requests #3 to #9`, `WeChat request #3`, `no WeChat request`.
        fn span(what: &str, first: Option<u64>, last: Option<u64>) -> String {
            match (first, last) {
                (Some(a), Some(b)) if a != b => format!("{what}s #{a} to #{b}"),
                (Some(a), _) => format!("{what} #{a}"),
                _ => format!("no {what}"),
            }
        }
        let (v, c) = (&self.rec.vendor, &self.rec.control);
        let mut text = format!(
            "Recorded by `harness record` from the mock at {} ({}, {}).",
            self.rec.source,
            span(
                "WeChat request",
                v.first().map(|e| e.seq),
                v.last().map(|e| e.seq)
            ),
            span(
                "control-plane call",
                c.first().map(|e| e.seq),
                c.last().map(|e| e.seq)
            ),
        );
        if self.drafts.iter().any(|d| !d.calls.is_empty()) {
            text.push_str(
                " Each backend step expects what a correct backend answers to WeChat's recorded \
                 answer; the last steps check that WeChat got the same calls, in the same order.",
            );
        }
        text
    }

    fn tags(&self) -> Vec<String> {
        let mut tags = vec!["recorded".to_owned()];
        let has = |f: fn(&Action) -> bool| self.drafts.iter().any(|d| f(&d.step.action));
        if has(|a| matches!(a, Action::Login(_))) {
            tags.push("login".into());
        }
        if has(|a| matches!(a, Action::BindPhone(_) | Action::WxGetPhoneNumber(_))) {
            tags.push("phone".into());
        }
        if has(|a| matches!(a, Action::Fault(_))) {
            tags.push("wechat-errors".into());
        }
        tags
    }
}

/// A `login` step.
fn login_step(
    user: &str,
    app: Option<String>,
    save: Option<String>,
    code: Option<String>,
    phone_code: Option<String>,
    expect: Option<Expect>,
) -> Step {
    Step {
        name: None,
        action: Action::Login(LoginCall {
            user: user.to_owned(),
            app,
            save,
            code,
            phone_code,
            expect,
        }),
    }
}

#[cfg(test)]
mod tests;
