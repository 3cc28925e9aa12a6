//! WeChat's side of a recording as steps: a jscode2session becomes a `login` through the
//! backend under test (with the recorded code, or a fresh one when the code was minted before
//! the recording), expecting what a correct backend answers to WeChat's answer; a request no
//! backend sends (a wrong secret, a missing code) is replayed to WeChat as made; a
//! getuserphonenumber becomes a `bind_phone`, after a login when the recording holds none;
//! what a backend does for itself (access tokens) is counted, anything else said.

use std::collections::BTreeMap;

use mock_server::journal::JournalEntry;
use serde_json::{Value, json};

use super::{Builder, Code, NOBODY, login_step, param};
use crate::record::expect::{self, Call};
use crate::record::names::literal;
use crate::scenario::{Action, Expect, HttpCall, PhoneCall, Step};

impl Builder<'_> {
    /// A successful login of `user` made before `what` needs one (binding a phone number
    /// needs a session): a `login` of a fresh code.
    fn session_of(&mut self, user: &str, why: &str) -> String {
        if let Some(v) = self.sessions.get(user) {
            return v.clone();
        }
        self.note(format!(
            "Added: {why} needs a logged-in session of {user}, which the recording does not hold; \
             this login makes one (one jscode2session more than recorded)."
        ));
        self.push(
            login_step(user, None, None, None, None, None),
            vec![Call {
                endpoint: "jscode2session",
                errcode: Some(0),
                user: Some(user.to_owned()),
                certain: true,
            }],
        );
        self.sessions.insert(user.to_owned(), user.to_owned());
        user.to_owned()
    }

    /// jscode2session: a login through the backend under test, with the recorded code when
    /// the recording minted it; a request no backend sends is replayed as made.
    pub(super) fn exchange(&mut self, group: &[&JournalEntry]) {
        let first = group[0];
        let last = group[group.len() - 1];
        self.catch_up(first.time_ms);
        self.planted_before(group);
        let appid = param(first, "appid");
        let known_app = appid.and_then(|a| self.names.app(a));
        let malformed = first
            .errcode
            .is_some_and(|c| expect::MALFORMED.contains(&c))
            || known_app.is_none()
            || param(first, "js_code").is_none();
        if malformed {
            for e in group {
                self.replay_as_made(e);
            }
            return;
        }
        let app = self.names.app_field(appid);
        let js_code = param(first, "js_code").unwrap_or_default().to_owned();
        let certain = group.iter().all(|e| expect::certain(e, &self.rules));
        let errcode = last.errcode.unwrap_or(-1);
        let minted = self
            .codes
            .get(&js_code)
            .filter(|c| c.var.is_some())
            .cloned();
        let (user, code, why) = match minted {
            Some(c) => {
                let why = self.why(first, Some(&c));
                let var = c.var.clone().unwrap_or_default();
                (c.user.clone(), Some(format!("${{{var}.code}}")), why)
            }
            None => match &first.user {
                Some(u) => {
                    let user = self.step_user(u);
                    self.note(format!(
                        "{user}'s code was minted before the recording began: this login asks for \
                         a fresh one."
                    ));
                    (user, None, self.why(first, None))
                }
                None => {
                    let user = self.step_user(NOBODY);
                    (user, Some(literal(&js_code)), self.why(first, None))
                }
            },
        };
        let minted_here = code.is_some() || errcode == 0;
        // WeChat failed first and the call made again succeeded: a backend that tries again
        // logs in (how many calls that takes is its own business).
        let retried = group.len() > 1
            && errcode == 0
            && expect::certain(last, &self.rules)
            && group[..group.len() - 1]
                .iter()
                .all(|e| expect::retryable(e));
        let outcome = if (certain || retried) && minted_here {
            expect::login_outcome(errcode)
        } else {
            None
        };
        if retried {
            let failures: Vec<String> = group[..group.len() - 1]
                .iter()
                .map(|e| expect::answer(e))
                .collect();
            self.note(format!(
                "WeChat answered {} first, and the same code again succeeded: a backend that \
                 tries again logs in.",
                failures.join(", then ")
            ));
        }
        let expect = match outcome {
            Some(o) => expect::expecting(o),
            None => {
                let answers: Vec<String> = group.iter().map(|e| expect::answer(e)).collect();
                self.note(format!(
                    "FILL IN: what your backend answers here. WeChat answered {} (a failure a \
                     backend may retry, or an answer another replay may not repeat); login-core \
                     tries -1 again (upstream.attempts, 3 by default) and answers \
                     `upstream_unavailable` when every try fails. Write `expect: {{ outcome: ... }}`.",
                    answers.join(", then ")
                ));
                Some(Expect::default())
            }
        };
        let ok = outcome == Some(crate::target::OutcomeName::Ok);
        let save = if ok {
            self.sessions.insert(user.clone(), user.clone());
            None
        } else {
            Some(self.var(&format!("{user}_refused")))
        };
        let who = if user == NOBODY {
            "a login".to_owned()
        } else {
            format!("{user} logs in")
        };
        let name = if retried {
            Some(format!(
                "{who} after WeChat answers {}{why}",
                expect::answer(first)
            ))
        } else if ok && code.is_none() {
            None
        } else if ok {
            Some(who)
        } else {
            Some(format!(
                "{who}: WeChat answers {}{why}",
                expect::answer(last)
            ))
        };
        let calls = group
            .iter()
            .map(|e| expect::call(e, "jscode2session", Some(&user), &self.rules))
            .collect();
        let mut step = login_step(&user, app, save, code, None, expect);
        step.name = name;
        self.push(step, calls);
    }

    /// A fault rule that answered these calls but was planted before the recording began: a
    /// `fault` step here when the mock still holds it (with the firings it had left when the
    /// recording began), else a note for a person to add one.
    fn planted_before(&mut self, entries: &[&JournalEntry]) {
        for e in entries {
            let Some(id) = e.fault.as_deref().and_then(expect::rule_of) else {
                continue;
            };
            if self.rules.contains_key(&id) {
                continue;
            }
            let live = self
                .rec
                .world
                .faults
                .iter()
                .find(|r| r["id"].as_u64() == Some(id))
                .cloned();
            let Some(mut rule) = live else {
                self.rules.insert(id, false);
                self.note(format!(
                    "FILL IN: WeChat's answer here came from fault rule {id}, planted before the \
                     recording began and gone since: add its `fault:` step above, such as \
                     `fault: {{ endpoint: {}, errcode: {}, times: 1 }}`.",
                    e.endpoint,
                    e.errcode.unwrap_or(-1)
                ));
                continue;
            };
            let fired_here = self
                .rec
                .vendor
                .iter()
                .filter(|v| v.fault.as_deref().and_then(expect::rule_of) == Some(id))
                .count();
            let times = rule["remaining"]
                .as_u64()
                .map(|left| left + u64::try_from(fired_here).unwrap_or(0));
            if let Value::Object(m) = &mut rule {
                for k in ["id", "hits", "remaining"] {
                    m.remove(k);
                }
                m.retain(|_, v| !v.is_null() && *v != Value::Bool(false));
            }
            rule["times"] = json!(times);
            if times.is_none() {
                if let Value::Object(m) = &mut rule {
                    m.remove("times");
                }
            }
            self.rules.insert(id, expect::rule_is_certain(&rule));
            let mut spec = self.names.rewrite(&rule);
            if let Some(u) = rule["user"].as_str() {
                spec["user"] = json!(self.step_user(u));
            }
            self.note(format!(
                "Fault rule {id} was planted before the recording began; the mock still holds it."
            ));
            self.push(
                Step {
                    name: None,
                    action: Action::Fault(spec),
                },
                Vec::new(),
            );
        }
    }

    /// Why WeChat refused a code, as far as the recording tells: ` (the code expired)`.
    fn why(&self, e: &JournalEntry, code: Option<&Code>) -> String {
        let reason = match (e.errcode, code) {
            (_, _) if e.fault.is_some() => "a fault rule",
            (Some(40029), Some(c)) if c.appid.as_deref() != param(e, "appid") => {
                "another app's code"
            }
            (Some(40029), Some(c)) if e.time_ms - c.minted_ms >= 300_000 => "the code expired",
            (Some(40029), None) if e.user.is_none() => "a code WeChat never issued",
            (Some(40163), _) => "the code was used before",
            (Some(40226), _) => "a high-risk user",
            (Some(45011), _) => "over the minute's quota",
            (Some(45009), _) => "over the day's quota",
            _ => return String::new(),
        };
        format!(" ({reason})")
    }

    /// A WeChat request replayed as it was made (appids, secrets and recorded codes as
    /// variables), expecting the same errcode.
    fn replay_as_made(&mut self, e: &JournalEntry) {
        let mut query = BTreeMap::new();
        for (k, v) in &e.params {
            let text = v.as_str().unwrap_or_default();
            let value = match self.codes.get(text).and_then(|c| c.var.clone()) {
                Some(var) if k == "js_code" => json!(format!("${{{var}.code}}")),
                _ => self.names.rewrite(v),
            };
            query.insert(k.clone(), value);
        }
        let expect = match e.errcode {
            Some(c) if e.status == 200 => Expect {
                json: Some(json!({ "errcode": c })),
                ..Expect::default()
            },
            _ => Expect {
                status: serde_json::from_value(json!(e.status)).ok(),
                ..Expect::default()
            },
        };
        self.note(format!(
            "Made by hand: no backend sends this request ({}), so it goes to WeChat as made.",
            expect::answer(e)
        ));
        let body = (!e.body.is_empty()).then(|| literal(&e.body));
        let endpoint = expect::ASSERTED
            .iter()
            .find(|n| **n == e.endpoint)
            .copied()
            .unwrap_or("other");
        let call = expect::call(e, endpoint, None, &self.rules);
        self.push(
            Step {
                name: Some(format!(
                    "WeChat answers {} to {} {}",
                    expect::answer(e),
                    e.method,
                    e.path
                )),
                action: Action::WeChat(HttpCall {
                    method: (e.method != "GET").then(|| e.method.clone()),
                    path: literal(&e.path),
                    query,
                    headers: BTreeMap::new(),
                    json: None,
                    body,
                    auth: None,
                    expect: Some(expect),
                    save: BTreeMap::new(),
                }),
            },
            vec![call],
        );
    }

    /// Any other WeChat request: getuserphonenumber becomes a `bind_phone`; what a backend
    /// does for itself (tokens) is counted; the rest is said, not replayed.
    pub(super) fn vendor(&mut self, e: &JournalEntry) {
        if expect::PLUMBING.contains(&e.endpoint.as_str()) {
            *self.plumbing.entry(e.path.clone()).or_default() += 1;
            self.seen
                .push(format!("{} {} (an access token)", e.method, e.path));
            return;
        }
        if e.endpoint == "getuserphonenumber" && matches!(e.errcode, Some(0 | 40029)) {
            self.phone(e);
            return;
        }
        self.seen.push(format!("{} {}", e.method, e.path));
        self.note(format!(
            "Not replayed: WeChat also got {} {} and answered {}: no step of a scenario makes a \
             backend send it.",
            e.method,
            e.path,
            expect::answer(e)
        ));
    }

    /// getuserphonenumber: the backend binds the number of the recorded phone code.
    fn phone(&mut self, e: &JournalEntry) {
        self.catch_up(e.time_ms);
        self.planted_before(&[e]);
        let body: Value = serde_json::from_str(&e.body).unwrap_or(Value::Null);
        let sent = body["code"].as_str().unwrap_or_default().to_owned();
        let (code, user) = match self.phone_codes.get(&sent) {
            Some((var, user)) => (json!(format!("${{{var}.code}}")), user.clone()),
            None => {
                let user = match (&e.user, self.sessions.keys().next_back()) {
                    (Some(u), _) => self.step_user(u),
                    (None, Some(u)) => u.clone(),
                    (None, None) => self.step_user(NOBODY),
                };
                (json!(literal(&sent)), user)
            }
        };
        let session = self.session_of(&user, "binding a phone number");
        let errcode = e.errcode.unwrap_or(-1);
        let expect = match expect::phone_outcome(errcode) {
            Some(o) if expect::certain(e, &self.rules) => expect::expecting(o),
            _ => {
                self.note(
                    "FILL IN: what your backend answers here: WeChat's answer came from a rule \
                     another replay may not repeat. Write `expect: { outcome: ... }`.",
                );
                Some(Expect::default())
            }
        };
        let name = (errcode != 0).then(|| {
            format!(
                "{user} binds a phone number: WeChat answers {}{}",
                expect::answer(e),
                if e.fault.is_some() {
                    " (a fault rule)"
                } else {
                    ""
                }
            )
        });
        let call = expect::call(e, "getuserphonenumber", Some(&user), &self.rules);
        self.push(
            Step {
                name,
                action: Action::BindPhone(PhoneCall {
                    session,
                    code: Some(code),
                    encrypted: None,
                    expect,
                }),
            },
            vec![call],
        );
    }
}
