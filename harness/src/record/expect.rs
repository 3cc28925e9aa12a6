//! What a recorded scenario asserts. A backend step expects what a correct backend answers to
//! WeChat's recorded answer (login: 40029 or 40163 is "log in again", 40226 "blocked", 45011
//! "rate limited"); the last steps check, per endpoint, the WeChat calls the steps caused, in
//! order, each with its errcode (and the user, for successes). An answer that another replay
//! may not repeat (a `-1` a backend retries, a broken connection, a delay, a rule that fires by
//! chance) is not asserted exactly: the step says so, for a person to decide.

use std::collections::BTreeMap;

use mock_server::journal::JournalEntry;
use serde_json::{Value, json};

use crate::scenario::{Action, Expect, HttpCall, JournalCheck, Step};
use crate::target::OutcomeName;

/// The endpoints whose calls the final checks list: those the scenario's backend steps make.
pub(super) const ASSERTED: [&str; 2] = ["jscode2session", "getuserphonenumber"];

/// Calls a backend makes for itself (its access tokens): replays make their own, as many as
/// their caches need.
pub(super) const PLUMBING: [&str; 3] = ["token", "stable_token", "api_component_token"];

/// jscode2session answers to a request no backend sends (an appid, secret, code or grant_type
/// missing or wrong): the call was made by hand, and is replayed as made.
pub(super) const MALFORMED: [i64; 6] = [41002, 41004, 41008, 40013, 40125, 40002];

/// One WeChat call a step causes, as the final checks expect it.
#[derive(Clone, Debug, PartialEq)]
pub(super) struct Call {
    /// The endpoint's name.
    pub endpoint: &'static str,
    /// The errcode answered (none for a gateway page or a cut connection).
    pub errcode: Option<i64>,
    /// The scenario's handle of the user, for a success (an error may not know the user).
    pub user: Option<String>,
    /// Every replay gets the same answer.
    pub certain: bool,
}

/// What a correct backend answers to a login whose jscode2session got `errcode`.
pub(super) fn login_outcome(errcode: i64) -> Option<OutcomeName> {
    match errcode {
        0 => Some(OutcomeName::Ok),
        40029 | 40163 => Some(OutcomeName::Relogin),
        40226 => Some(OutcomeName::Blocked),
        45011 | 45009 => Some(OutcomeName::RateLimited),
        _ => None,
    }
}

/// What a correct backend answers to a phone binding whose getuserphonenumber got `errcode`.
pub(super) fn phone_outcome(errcode: i64) -> Option<OutcomeName> {
    match errcode {
        0 => Some(OutcomeName::Ok),
        40029 => Some(OutcomeName::BadRequest),
        _ => None,
    }
}

/// The step's expectation for an outcome: nothing written for `ok` (the default).
pub(super) fn expecting(outcome: OutcomeName) -> Option<Expect> {
    (outcome != OutcomeName::Ok).then(|| Expect {
        outcome: Some(outcome),
        ..Expect::default()
    })
}

/// The id of the rule a journal entry's `fault` names (`rule 3: errcode -1`).
pub(super) fn rule_of(fault: &str) -> Option<u64> {
    fault.strip_prefix("rule ")?.split(':').next()?.parse().ok()
}

/// A fault rule answers the same in every replay: a fixed errcode other than `-1` (which a
/// backend may retry), no delay, no transport or HTTP failure, no chance.
pub(super) fn rule_is_certain(spec: &Value) -> bool {
    let fixed = spec["errcode"].as_i64().is_some_and(|c| c != -1);
    fixed
        && ["delay", "probability", "transport", "http_status"]
            .iter()
            .all(|k| spec.get(*k).is_none_or(Value::is_null))
}

/// A backend may try this call again: `-1`, a gateway page, a cut or garbled answer.
pub(super) fn retryable(e: &JournalEntry) -> bool {
    e.status != 200 || matches!(e.errcode, None | Some(-1))
}

/// WeChat's answer to this call comes the same in every replay of the recorded steps.
pub(super) fn certain(e: &JournalEntry, rules: &BTreeMap<u64, bool>) -> bool {
    if retryable(e) {
        return false;
    }
    match &e.fault {
        None => true,
        Some(f) => rule_of(f)
            .and_then(|id| rules.get(&id))
            .copied()
            .unwrap_or(false),
    }
}

/// The call a journal entry records, as the final checks expect it.
pub(super) fn call(
    e: &JournalEntry,
    endpoint: &'static str,
    user: Option<&str>,
    rules: &BTreeMap<u64, bool>,
) -> Call {
    Call {
        endpoint,
        errcode: e.errcode,
        user: (e.errcode == Some(0))
            .then(|| user.map(str::to_owned))
            .flatten(),
        certain: certain(e, rules),
    }
}

/// How an answer reads in a step's name and comments.
pub(super) fn answer(e: &JournalEntry) -> String {
    match (e.status, e.errcode) {
        (0, _) => "no answer (the connection was cut)".into(),
        (200, Some(0)) => "ok".into(),
        (200, Some(c)) => format!("errcode {c}"),
        (200, None) => "a body that is not WeChat's".into(),
        (s, _) => format!("HTTP {s}"),
    }
}

/// The final checks: per endpoint, the calls the steps caused (one list per step), in order;
/// with a comment when only their least number can be checked.
pub(super) fn final_checks(steps: &[Vec<Call>]) -> Vec<(Step, Vec<String>)> {
    let mut out = Vec::new();
    for endpoint in ASSERTED {
        let per_step: Vec<Vec<&Call>> = steps
            .iter()
            .map(|calls| calls.iter().filter(|c| c.endpoint == endpoint).collect())
            .filter(|calls: &Vec<&Call>| !calls.is_empty())
            .collect();
        if per_step.is_empty() {
            continue;
        }
        let all: Vec<&Call> = per_step.iter().flatten().copied().collect();
        if all.iter().all(|c| c.certain) {
            let entries: Vec<Value> = all
                .iter()
                .map(|c| {
                    let mut e = json!({ "errcode": c.errcode });
                    if let Some(u) = &c.user {
                        e["user"] = json!(format!("${{handles.{u}}}"));
                    }
                    e
                })
                .collect();
            let step = Step {
                name: Some(format!(
                    "WeChat got the recorded {endpoint} calls, in order ({})",
                    plural(all.len(), "call")
                )),
                action: Action::Mock(HttpCall {
                    method: None,
                    path: "/journal".into(),
                    query: [("endpoint".to_owned(), json!(endpoint))].into(),
                    headers: BTreeMap::new(),
                    json: None,
                    body: None,
                    auth: None,
                    expect: Some(Expect {
                        json: Some(json!({ "entries": entries })),
                        ..Expect::default()
                    }),
                    save: BTreeMap::new(),
                }),
            };
            out.push((step, Vec::new()));
        } else {
            // A step whose answers a backend may retry makes at least one call.
            let least: usize = per_step
                .iter()
                .map(|calls| {
                    if calls.iter().all(|c| c.certain) {
                        calls.len()
                    } else {
                        1
                    }
                })
                .sum();
            let step = Step {
                name: Some(format!(
                    "WeChat got at least the recorded {endpoint} calls ({})",
                    plural(least, "call")
                )),
                action: Action::Journal(JournalCheck {
                    endpoint: Some(endpoint.into()),
                    count: None,
                    min: Some(json!(least)),
                    max: None,
                    query: BTreeMap::new(),
                    errcode: None,
                    wait: None,
                }),
            };
            let note = format!(
                "FILL IN: some {endpoint} answers were failures a backend may retry (-1, a cut \
                 connection, a delay, a rule that fires by chance), so how many calls a replay \
                 makes depends on your backend; only the least is checked. Write `count: N` \
                 once you know N."
            );
            out.push((step, vec![note]));
        }
    }
    out
}

/// `1 call`, `3 calls`.
pub(super) fn plural(n: usize, what: &str) -> String {
    if n == 1 {
        format!("1 {what}")
    } else {
        format!("{n} {what}s")
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn c(errcode: i64, user: Option<&str>, certain: bool) -> Call {
        Call {
            endpoint: "jscode2session",
            errcode: Some(errcode),
            user: user.map(str::to_owned),
            certain,
        }
    }

    #[test]
    fn rules_and_answers_are_judged_for_replay() {
        assert_eq!(rule_of("rule 12: errcode 40029"), Some(12));
        assert_eq!(rule_of("rule x: delay"), None);
        assert!(rule_is_certain(
            &json!({"endpoint": "jscode2session", "errcode": 40029, "times": 1})
        ));
        assert!(!rule_is_certain(&json!({"errcode": -1})));
        assert!(!rule_is_certain(&json!({"errcode": 40029, "delay": "1s"})));
        assert!(!rule_is_certain(
            &json!({"errcode": 40029, "probability": 0.5})
        ));
        assert!(!rule_is_certain(&json!({"transport": "drop"})));
        assert_eq!(login_outcome(40163), Some(OutcomeName::Relogin));
        assert_eq!(login_outcome(-1), None);
        assert_eq!(phone_outcome(40029), Some(OutcomeName::BadRequest));
        assert_eq!(expecting(OutcomeName::Ok).map(|e| e.outcome), None);
    }

    #[test]
    fn certain_calls_are_listed_in_order_and_others_only_counted() {
        let checks = final_checks(&[vec![c(0, Some("alice"), true)], vec![c(40029, None, true)]]);
        assert_eq!(checks.len(), 1);
        let Action::Mock(m) = &checks[0].0.action else {
            panic!("a journal read: {:?}", checks[0].0);
        };
        assert_eq!(m.query["endpoint"], "jscode2session");
        assert_eq!(
            m.expect.as_ref().and_then(|e| e.json.clone()),
            Some(json!({"entries": [
                {"errcode": 0, "user": "${handles.alice}"},
                {"errcode": 40029}
            ]}))
        );
        let checks = final_checks(&[
            vec![c(-1, None, false), c(0, Some("bob"), true)],
            vec![c(0, Some("bob"), true)],
        ]);
        let Action::Journal(j) = &checks[0].0.action else {
            panic!("a count: {:?}", checks[0].0);
        };
        assert_eq!(j.min, Some(json!(2)));
        assert!(checks[0].1[0].starts_with("FILL IN"));
        assert!(final_checks(&[vec![]]).is_empty());
    }
}
