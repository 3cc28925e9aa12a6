//! Fault injection: rules that make matching vendor requests fail the way the real network and
//! WeChat or Tencent Cloud fail: a catalogue errcode (WeChat endpoints), a Tencent Cloud error
//! code (the SMS endpoint), an HTTP status, a delay, a dropped or reset connection, a truncated or
//! malformed body. Probabilities use a seeded generator, so runs repeat.

use std::time::Duration;

use rand::{Rng, SeedableRng};
use rand_chacha::ChaCha8Rng;
use serde::{Deserialize, Serialize};

use crate::catalogue::WxError;
use crate::clock::parse_duration;
use crate::endpoint::{Endpoint, Vendor};
use crate::ids::{AppId, UserHandle};
use crate::tencent::TcCode;

/// What goes wrong at the transport level.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize, Deserialize, schemars::JsonSchema)]
#[serde(rename_all = "snake_case")]
pub enum Transport {
    /// Close the connection without answering.
    Drop,
    /// Reset the connection (TCP RST) without answering.
    Reset,
    /// Announce a full body, send half of it, then close.
    Truncate,
    /// Answer HTTP 200 with a body that is not JSON (a gateway's HTML page).
    Malformed,
}

/// A fault rule to add. It needs one of `errcode`, `tencent_error`, `http_status`, `transport` (at
/// most one of these four) or `delay`; violations are `invalid_field`. `errcode` is refused on
/// `sms_send` and `tencent_error` on the WeChat endpoints.
#[derive(Clone, Debug, Default, PartialEq, Serialize, Deserialize, schemars::JsonSchema)]
#[serde(default, deny_unknown_fields)]
#[schemars(transform = require_endpoint)]
pub struct FaultSpec {
    /// Endpoint name (see `EndpointName`), its path (`/sns/jscode2session`), or `*` for all (an
    /// `errcode` rule then fires on the WeChat endpoints only, a `tencent_error` rule on `sms_send`
    /// only).
    #[schemars(length(min = 1))]
    pub endpoint: String,
    /// Only requests for this app (for `sms_send`: this SmsSdkAppId).
    pub appid: Option<AppId>,
    /// Only requests concerning this user (resolved from the code, phone code or openid).
    pub user: Option<UserHandle>,
    /// Answer this catalogue errcode (HTTP 200, as WeChat does); must be in the mock's catalogue.
    /// WeChat endpoints only: with `endpoint` `*` the rule fires on WeChat endpoints alone.
    pub errcode: Option<i64>,
    /// Answer this Tencent Cloud error code (HTTP 200, as Tencent Cloud does): the whole request's
    /// error, or every number's status for the per-number codes (see `TencentErrorCode`). Only on
    /// `sms_send`; left out, the rule shows no `tencent_error`.
    #[serde(skip_serializing_if = "Option::is_none")]
    #[schemars(with = "Option<TcCode>")]
    pub tencent_error: Option<String>,
    /// Answer this HTTP status with a gateway error page (100 to 599, not 200).
    #[schemars(range(min = 100, max = 599), extend("not" = {"const": 200}))]
    pub http_status: Option<u16>,
    /// Fail the connection or the body.
    pub transport: Option<Transport>,
    /// Wait this long first (at most `10m`); alone, the request is then served normally.
    #[schemars(with = "Option<crate::clock::DurationText>")]
    pub delay: Option<String>,
    /// Fire this many times, then retire; left out: every time.
    #[schemars(range(min = 1))]
    pub times: Option<u32>,
    /// Fire with this probability, drawn from the seeded generator.
    #[schemars(range(min = 0.0, max = 1.0))]
    pub probability: Option<f64>,
    /// Whether a failed code exchange still uses up the code (a -1 that consumed the code was seen
    /// on sns/oauth2 [C17]).
    pub consume_code: bool,
}

/// `endpoint` has a default, so that a rule without one is refused by the check that names it;
/// its schema says what that check holds: a rule needs an endpoint.
fn require_endpoint(schema: &mut schemars::Schema) {
    let required = schema
        .ensure_object()
        .entry("required")
        .or_insert_with(|| serde_json::Value::Array(Vec::new()));
    if let serde_json::Value::Array(names) = required
        && !names.iter().any(|n| n == "endpoint")
    {
        names.insert(0, "endpoint".into());
    }
}

/// What a firing rule does instead of (or before) the normal answer.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum FaultAction {
    /// A catalogue error.
    Error(WxError),
    /// A Tencent Cloud error code.
    Tencent(TcCode),
    /// An HTTP status.
    Status(u16),
    /// A transport failure.
    Transport(Transport),
}

/// The outcome of consulting the rules for one request.
#[derive(Clone, Debug)]
pub struct FaultPlan {
    /// Id of the rule that fired.
    pub rule: u64,
    /// Delay before anything else.
    pub delay: Option<Duration>,
    /// The action; `None` means serve normally after the delay.
    pub action: Option<FaultAction>,
    /// Whether to consume the code.
    pub consume_code: bool,
    /// The app the request concerned (for the journal).
    pub appid: Option<AppId>,
    /// The user the request concerned (for the journal).
    pub user: Option<UserHandle>,
}

/// A fault rule as stored: the rule as given, with its id and counters.
#[derive(Clone, Debug, Serialize, schemars::JsonSchema)]
pub struct FaultRule {
    /// Id to delete it by.
    #[schemars(range(min = 1))]
    pub id: u64,
    /// The rule as given.
    #[serde(flatten)]
    pub spec: FaultSpec,
    /// How many times it fired.
    pub hits: u64,
    /// Firings left, if limited.
    pub remaining: Option<u32>,
    #[serde(skip)]
    endpoint: Option<Endpoint>,
    #[serde(skip)]
    action: Option<FaultAction>,
    #[serde(skip)]
    delay: Option<Duration>,
}

impl FaultRule {
    /// Validates a spec into a rule; the error names the field.
    pub fn new(id: u64, spec: FaultSpec) -> Result<Self, (&'static str, String)> {
        let endpoint = match spec.endpoint.as_str() {
            "*" => None,
            "" => {
                return Err((
                    "endpoint",
                    "is required (an endpoint name, a path or `*`)".into(),
                ));
            }
            name => Some(Endpoint::parse(name).ok_or((
                "endpoint",
                format!(
                    "unknown endpoint {name:?}; use one of {} or `*`",
                    Endpoint::ALL.map(Endpoint::name).join(", ")
                ),
            ))?),
        };
        let mut actions = Vec::new();
        let vendor = endpoint.map(Endpoint::vendor);
        if let Some(code) = spec.errcode {
            if vendor == Some(Vendor::TencentCloud) {
                return Err((
                    "errcode",
                    "sms_send answers Tencent Cloud errors: name one with `tencent_error`".into(),
                ));
            }
            let err = WxError::from_code(code).ok_or((
                "errcode",
                format!(
                    "{code} is not in the catalogue; known errcodes: {}",
                    crate::catalogue::ALL
                        .iter()
                        .map(|e| e.code().to_string())
                        .collect::<Vec<_>>()
                        .join(", ")
                ),
            ))?;
            actions.push(FaultAction::Error(err));
        }
        if let Some(code) = &spec.tencent_error {
            let tc = TcCode::from_code(code).ok_or_else(|| {
                (
                    "tencent_error",
                    format!(
                        "{code:?} is not in the Tencent Cloud catalogue; known codes: {}",
                        crate::tencent::catalogue::ALL
                            .iter()
                            .map(|c| c.code())
                            .collect::<Vec<_>>()
                            .join(", ")
                    ),
                )
            })?;
            if vendor == Some(Vendor::WeChat) {
                return Err((
                    "tencent_error",
                    "only the Tencent Cloud endpoint (`sms_send`) answers Tencent Cloud errors"
                        .into(),
                ));
            }
            actions.push(FaultAction::Tencent(tc));
        }
        if let Some(status) = spec.http_status {
            if !(100..=599).contains(&status) || status == 200 {
                return Err((
                    "http_status",
                    "must be an HTTP status from 100 to 599 other than 200".into(),
                ));
            }
            actions.push(FaultAction::Status(status));
        }
        if let Some(t) = spec.transport {
            actions.push(FaultAction::Transport(t));
        }
        if actions.len() > 1 {
            return Err((
                "errcode",
                "give only one of `errcode`, `tencent_error`, `http_status` and `transport`".into(),
            ));
        }
        let delay = spec
            .delay
            .as_deref()
            .map(parse_duration)
            .transpose()
            .map_err(|e| ("delay", e))?;
        if delay.is_some_and(|d| d > Duration::from_secs(600)) {
            return Err(("delay", "must be at most 10m".into()));
        }
        if actions.is_empty() && delay.is_none() {
            return Err((
                "errcode",
                "a fault needs one of `errcode`, `tencent_error`, `http_status`, `transport` or \
                 `delay`"
                    .into(),
            ));
        }
        if let Some(p) = spec.probability
            && !(0.0..=1.0).contains(&p)
        {
            return Err(("probability", "must be between 0 and 1".into()));
        }
        if spec.times == Some(0) {
            return Err((
                "times",
                "must be at least 1 (leave it out for always)".into(),
            ));
        }
        Ok(Self {
            id,
            remaining: spec.times,
            spec,
            hits: 0,
            endpoint,
            action: actions.pop(),
            delay,
        })
    }

    fn matches(
        &self,
        endpoint: Endpoint,
        appid: Option<&AppId>,
        user: Option<&UserHandle>,
    ) -> bool {
        // An error in one vendor's words never answers the other vendor's endpoint.
        let speaks = match self.action {
            Some(FaultAction::Error(_)) => endpoint.vendor() == Vendor::WeChat,
            Some(FaultAction::Tencent(_)) => endpoint.vendor() == Vendor::TencentCloud,
            _ => true,
        };
        speaks
            && self.endpoint.is_none_or(|e| e == endpoint)
            && self.spec.appid.as_ref().is_none_or(|a| Some(a) == appid)
            && self.spec.user.as_ref().is_none_or(|u| Some(u) == user)
            && self.remaining != Some(0)
    }
}

/// The rules in force, in the order they were added.
pub struct FaultBook {
    rules: Vec<FaultRule>,
    next_id: u64,
    rng: ChaCha8Rng,
}

impl FaultBook {
    /// An empty book whose probabilities draw from a generator seeded with `seed`.
    pub fn new(seed: u64) -> Self {
        Self {
            rules: Vec::new(),
            next_id: 1,
            rng: ChaCha8Rng::seed_from_u64(seed),
        }
    }

    /// Whether there are no rules.
    pub fn is_empty(&self) -> bool {
        self.rules.is_empty()
    }

    /// Number of rules.
    pub fn len(&self) -> usize {
        self.rules.len()
    }

    /// Adds a rule.
    pub fn add(&mut self, spec: FaultSpec) -> Result<FaultRule, (&'static str, String)> {
        let rule = FaultRule::new(self.next_id, spec)?;
        self.next_id += 1;
        self.rules.push(rule.clone());
        Ok(rule)
    }

    /// The rules.
    pub fn list(&self) -> Vec<FaultRule> {
        self.rules.clone()
    }

    /// Removes one rule; false if there was none with this id.
    pub fn remove(&mut self, id: u64) -> bool {
        let before = self.rules.len();
        self.rules.retain(|r| r.id != id);
        self.rules.len() != before
    }

    /// Removes every rule.
    pub fn clear(&mut self) {
        self.rules.clear();
    }

    /// The first matching rule that fires for this request, counted as a hit.
    pub fn fire(
        &mut self,
        endpoint: Endpoint,
        appid: Option<&AppId>,
        user: Option<&UserHandle>,
    ) -> Option<FaultPlan> {
        for rule in &mut self.rules {
            if !rule.matches(endpoint, appid, user) {
                continue;
            }
            if let Some(p) = rule.spec.probability
                && !self.rng.random_bool(p)
            {
                continue;
            }
            rule.hits += 1;
            if let Some(n) = &mut rule.remaining {
                *n -= 1;
            }
            return Some(FaultPlan {
                rule: rule.id,
                delay: rule.delay,
                action: rule.action,
                consume_code: rule.spec.consume_code,
                appid: None,
                user: None,
            });
        }
        None
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn spec(json: serde_json::Value) -> FaultSpec {
        serde_json::from_value(json).expect("valid spec")
    }

    #[test]
    fn rules_fire_the_given_number_of_times() {
        let mut book = FaultBook::new(1);
        book.add(spec(
            serde_json::json!({"endpoint":"jscode2session","errcode":-1,"times":2}),
        ))
        .expect("valid");
        let fire = |b: &mut FaultBook| b.fire(Endpoint::Jscode2session, None, None).is_some();
        assert!(fire(&mut book));
        assert!(fire(&mut book));
        assert!(!fire(&mut book));
        assert!(book.fire(Endpoint::Token, None, None).is_none());
    }

    #[test]
    fn probabilities_repeat_with_the_seed() {
        let run = || {
            let mut book = FaultBook::new(7);
            book.add(spec(
                serde_json::json!({"endpoint":"*","errcode":-1,"probability":0.5}),
            ))
            .expect("valid");
            (0..64)
                .map(|_| book.fire(Endpoint::Token, None, None).is_some())
                .collect::<Vec<_>>()
        };
        let a = run();
        assert_eq!(a, run());
        let fired = a.iter().filter(|f| **f).count();
        assert!((10..54).contains(&fired), "fired {fired} of 64");
    }

    #[test]
    fn bad_rules_name_the_field() {
        let bad = [
            (
                serde_json::json!({"endpoint":"nope","errcode":-1}),
                "endpoint",
            ),
            (
                serde_json::json!({"endpoint":"*","errcode":12345}),
                "errcode",
            ),
            (serde_json::json!({"endpoint":"*"}), "errcode"),
            (
                serde_json::json!({"endpoint":"*","errcode":-1,"http_status":500}),
                "errcode",
            ),
            (serde_json::json!({"endpoint":"*","delay":"soon"}), "delay"),
            (
                serde_json::json!({"endpoint":"*","errcode":-1,"probability":2.0}),
                "probability",
            ),
            (
                serde_json::json!({"endpoint":"*","errcode":-1,"times":0}),
                "times",
            ),
            (
                serde_json::json!({"endpoint":"*","http_status":200}),
                "http_status",
            ),
        ];
        for (json, field) in bad {
            let err = FaultRule::new(1, spec(json.clone())).expect_err("invalid");
            assert_eq!(err.0, field, "{json}: {}", err.1);
        }
    }
}
