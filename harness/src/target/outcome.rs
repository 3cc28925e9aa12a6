//! Outcomes: what an answer means (`ok`, `relogin`, `blocked`, ...), decided by a profile's
//! rules, and the status sets both profiles and scenarios write (`401`, `[502, 503]`, `4xx`).

use schemars::JsonSchema;
use serde::{Deserialize, Serialize};
use serde_json::Value;

use super::Outcomes;

/// A status code or a class (`4xx`).
#[derive(Clone, Debug, Deserialize, Serialize, JsonSchema, PartialEq)]
#[serde(untagged)]
pub enum StatusItem {
    /// One status (`401`).
    Code(u16),
    /// A class: `1xx` to `5xx`.
    Class(String),
}

/// One status item or several (any of them).
#[derive(Clone, Debug, Deserialize, Serialize, JsonSchema, PartialEq)]
#[serde(untagged)]
pub enum StatusSpec {
    /// One item.
    One(StatusItem),
    /// Any of these.
    Any(Vec<StatusItem>),
}

impl StatusItem {
    fn matches(&self, status: u16) -> bool {
        match self {
            Self::Code(c) => *c == status,
            Self::Class(c) => class_digit(c).is_some_and(|d| status / 100 == d),
        }
    }

    fn check(&self) -> Result<(), String> {
        match self {
            Self::Code(c) if (100..600).contains(c) => Ok(()),
            Self::Code(c) => Err(format!("{c} is not an HTTP status")),
            Self::Class(c) if class_digit(c).is_some() => Ok(()),
            Self::Class(c) => Err(format!(
                "{c:?} is not a status or a class; write 401, [400, 422] or 4xx"
            )),
        }
    }
}

fn class_digit(c: &str) -> Option<u16> {
    let b = c.as_bytes();
    (b.len() == 3 && (b'1'..=b'5').contains(&b[0]) && b[1..].eq_ignore_ascii_case(b"xx"))
        .then(|| u16::from(b[0] - b'0'))
}

impl StatusSpec {
    /// Whether `status` is in the set.
    pub fn matches(&self, status: u16) -> bool {
        match self {
            Self::One(i) => i.matches(status),
            Self::Any(v) => v.iter().any(|i| i.matches(status)),
        }
    }

    /// Refuses unknown classes and impossible codes.
    pub fn check(&self) -> Result<(), String> {
        match self {
            Self::One(i) => i.check(),
            Self::Any(v) if v.is_empty() => Err("an empty status list matches nothing".into()),
            Self::Any(v) => v.iter().try_for_each(StatusItem::check),
        }
    }
}

impl std::fmt::Display for StatusItem {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            Self::Code(c) => write!(f, "{c}"),
            Self::Class(c) => f.write_str(c),
        }
    }
}

impl std::fmt::Display for StatusSpec {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            Self::One(i) => write!(f, "{i}"),
            Self::Any(v) => {
                let parts: Vec<String> = v.iter().map(ToString::to_string).collect();
                write!(f, "[{}]", parts.join(", "))
            }
        }
    }
}

/// One way a backend says an outcome: a status set and, optionally, a value in the body and a
/// header that must be present.
#[derive(Clone, Debug, Deserialize, Serialize, JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct Rule {
    /// The status: `401`, `[502, 503, 504]`, `4xx`.
    pub status: StatusSpec,
    /// A JSONPath into the answer (`$.error.code`), checked with `equals`, `one_of` or
    /// `matches`.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub path: Option<String>,
    /// The value at `path` equals this.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub equals: Option<Value>,
    /// The value at `path` is one of these.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub one_of: Option<Vec<Value>>,
    /// The value at `path` is a string matching this regular expression.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub matches: Option<String>,
    /// A header the answer must carry (`retry-after`).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub header: Option<String>,
}

/// One rule or several (any of them).
#[derive(Clone, Debug, Deserialize, Serialize, JsonSchema)]
#[serde(untagged)]
pub enum Rules {
    /// One rule.
    One(Rule),
    /// Any of these.
    Any(Vec<Rule>),
}

impl Rules {
    /// The rules, one by one.
    pub fn iter(&self) -> impl Iterator<Item = &Rule> {
        match self {
            Self::One(r) => std::slice::from_ref(r).iter(),
            Self::Any(v) => v.iter(),
        }
    }

    fn status(s: StatusSpec) -> Self {
        Self::One(Rule {
            status: s,
            path: None,
            equals: None,
            one_of: None,
            matches: None,
            header: None,
        })
    }
}

impl Rule {
    /// Whether an answer matches.
    pub fn matches(&self, status: u16, headers: &reqwest::header::HeaderMap, body: &Value) -> bool {
        if !self.status.matches(status) {
            return false;
        }
        if let Some(h) = &self.header {
            if !headers.contains_key(h.as_str()) {
                return false;
            }
        }
        let Some(path) = &self.path else {
            return true;
        };
        let Some(v) = crate::matching::select_one(path, body) else {
            return false;
        };
        let same = |w: &Value| {
            crate::matching::contains(w, &v).is_ok() && crate::matching::contains(&v, w).is_ok()
        };
        self.equals.as_ref().is_none_or(same)
            && self.one_of.as_ref().is_none_or(|all| all.iter().any(same))
            && self.matches.as_ref().is_none_or(|re| {
                regex::Regex::new(re).is_ok_and(|re| v.as_str().is_some_and(|s| re.is_match(s)))
            })
    }

    pub(super) fn check(&self) -> Result<(), String> {
        self.status.check()?;
        let value_checks = [
            self.equals.is_some(),
            self.one_of.is_some(),
            self.matches.is_some(),
        ];
        match (&self.path, value_checks.iter().any(|x| *x)) {
            (Some(p), true) => {
                serde_json_path::JsonPath::parse(p)
                    .map_err(|e| format!("path {p:?} is not a JSONPath ({e})"))?;
            }
            (Some(_), false) => {
                return Err("a `path` needs `equals`, `one_of` or `matches`".into());
            }
            (None, true) => return Err("`equals`, `one_of` and `matches` need a `path`".into()),
            (None, false) => {}
        }
        if let Some(re) = &self.matches {
            regex::Regex::new(re).map_err(|e| format!("matches: {e}"))?;
        }
        if let Some(h) = &self.header {
            reqwest::header::HeaderName::from_bytes(h.as_bytes())
                .map_err(|_| format!("header: {h:?} is not a header name"))?;
        }
        Ok(())
    }
}

impl std::fmt::Display for Rule {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "status {}", self.status)?;
        if let Some(p) = &self.path {
            if let Some(e) = &self.equals {
                write!(f, " with {p} = {e}")?;
            }
            if let Some(all) = &self.one_of {
                let parts: Vec<String> = all.iter().map(ToString::to_string).collect();
                write!(f, " with {p} one of [{}]", parts.join(", "))?;
            }
            if let Some(re) = &self.matches {
                write!(f, " with {p} matching /{re}/")?;
            }
        }
        if let Some(h) = &self.header {
            write!(f, " and a {h} header")?;
        }
        Ok(())
    }
}

/// What an answer means.
#[derive(Clone, Copy, Debug, Deserialize, Serialize, JsonSchema, PartialEq, Eq)]
#[serde(rename_all = "snake_case")]
pub enum OutcomeName {
    /// Success.
    Ok,
    /// The WeChat identity has no account yet: register (by phone) first.
    RegistrationRequired,
    /// A phone login's SMS code or password was refused.
    CredentialsRejected,
    /// Log in again.
    Relogin,
    /// A high-risk user.
    Blocked,
    /// Too many requests.
    RateLimited,
    /// The phone number is someone else's.
    Conflict,
    /// WeChat failed or could not be reached.
    UpstreamUnavailable,
    /// Refused as bad input.
    BadRequest,
}

impl OutcomeName {
    /// Every outcome, in the order answers are classified.
    pub const ALL: [Self; 9] = [
        Self::Ok,
        Self::RegistrationRequired,
        Self::CredentialsRejected,
        Self::Relogin,
        Self::Blocked,
        Self::RateLimited,
        Self::Conflict,
        Self::UpstreamUnavailable,
        Self::BadRequest,
    ];

    /// The name as written in files.
    pub fn key(self) -> &'static str {
        match self {
            Self::Ok => "ok",
            Self::RegistrationRequired => "registration_required",
            Self::CredentialsRejected => "credentials_rejected",
            Self::Relogin => "relogin",
            Self::Blocked => "blocked",
            Self::RateLimited => "rate_limited",
            Self::Conflict => "conflict",
            Self::UpstreamUnavailable => "upstream_unavailable",
            Self::BadRequest => "bad_request",
        }
    }
}

impl std::fmt::Display for OutcomeName {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(self.key())
    }
}

/// An answer's outcome and the rule that decided it.
#[derive(Clone, Debug)]
pub struct Classified {
    /// The outcome, if a rule matched.
    pub outcome: Option<OutcomeName>,
    /// The rule that matched, as text.
    pub rule: Option<String>,
}

impl Outcomes {
    /// The rules the profile gives for an outcome, if it gives any.
    fn given(&self, name: OutcomeName) -> Option<&Rules> {
        match name {
            OutcomeName::Ok => &self.ok,
            OutcomeName::RegistrationRequired => &self.registration_required,
            OutcomeName::CredentialsRejected => &self.credentials_rejected,
            OutcomeName::Relogin => &self.relogin,
            OutcomeName::Blocked => &self.blocked,
            OutcomeName::RateLimited => &self.rate_limited,
            OutcomeName::Conflict => &self.conflict,
            OutcomeName::UpstreamUnavailable => &self.upstream_unavailable,
            OutcomeName::BadRequest => &self.bad_request,
        }
        .as_ref()
    }

    /// The rules of an outcome: the profile's, else the default.
    pub fn rules(&self, name: OutcomeName) -> Rules {
        self.given(name)
            .cloned()
            .unwrap_or_else(|| default_rules(name))
    }

    /// The outcomes the profile gives, with their rules.
    pub(super) fn iter_given(&self) -> impl Iterator<Item = (OutcomeName, &Rules)> + '_ {
        OutcomeName::ALL
            .into_iter()
            .filter_map(|n| self.given(n).map(|r| (n, r)))
    }

    /// What an answer means: the first outcome (in [`OutcomeName::ALL`]'s order) with a rule
    /// it matches.
    pub fn classify(
        &self,
        status: u16,
        headers: &reqwest::header::HeaderMap,
        body: &Value,
    ) -> Classified {
        for name in OutcomeName::ALL {
            if let Some(rule) = self
                .rules(name)
                .iter()
                .find(|r| r.matches(status, headers, body))
            {
                return Classified {
                    outcome: Some(name),
                    rule: Some(rule.to_string()),
                };
            }
        }
        Classified {
            outcome: None,
            rule: None,
        }
    }

    /// The rules of an outcome as text (`status 401; or status 400 with ...`).
    pub fn describe(&self, name: OutcomeName) -> String {
        let parts: Vec<String> = self.rules(name).iter().map(ToString::to_string).collect();
        parts.join("; or ")
    }
}

fn default_rules(name: OutcomeName) -> Rules {
    use StatusItem::{Class, Code};
    Rules::status(match name {
        // No status says these alone (a 401 or a 200 with a mark, a 400 or a 401 with a
        // code): the profile must say.
        OutcomeName::RegistrationRequired | OutcomeName::CredentialsRejected => {
            return Rules::Any(Vec::new());
        }
        OutcomeName::Ok => StatusSpec::One(Class("2xx".into())),
        OutcomeName::Relogin => StatusSpec::One(Code(401)),
        OutcomeName::Blocked => StatusSpec::One(Code(403)),
        OutcomeName::RateLimited => StatusSpec::One(Code(429)),
        OutcomeName::Conflict => StatusSpec::One(Code(409)),
        OutcomeName::UpstreamUnavailable => StatusSpec::Any(vec![Code(502), Code(503), Code(504)]),
        OutcomeName::BadRequest => StatusSpec::Any(vec![Code(400), Code(422)]),
    })
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    fn rule(yaml: &str) -> Rule {
        yaml_serde::from_str(yaml).expect("rule")
    }

    #[test]
    fn status_sets_and_classes() {
        let s: StatusSpec = yaml_serde::from_str("4xx").expect("class");
        assert!(s.matches(404) && !s.matches(500));
        let s: StatusSpec = yaml_serde::from_str("[502, 503]").expect("list");
        assert!(s.matches(503) && !s.matches(504));
        let s: StatusSpec = yaml_serde::from_str("401").expect("one");
        assert!(s.matches(401));
        assert!(
            StatusSpec::One(StatusItem::Class("6xx".into()))
                .check()
                .is_err()
        );
        assert!(StatusSpec::One(StatusItem::Code(42)).check().is_err());
        assert!(StatusSpec::Any(vec![]).check().is_err());
    }

    #[test]
    fn rules_look_at_status_body_and_headers() {
        let r = rule("{ status: 400, path: $.error.code, one_of: [code_used, code_invalid] }");
        let h = reqwest::header::HeaderMap::new();
        assert!(r.matches(400, &h, &json!({"error": {"code": "code_used"}})));
        assert!(!r.matches(400, &h, &json!({"error": {"code": "invalid_json"}})));
        assert!(!r.matches(401, &h, &json!({"error": {"code": "code_used"}})));
        let r = rule("{ status: 429, header: retry-after }");
        assert!(!r.matches(429, &h, &Value::Null));
        let mut with = h.clone();
        with.insert("retry-after", "60".parse().expect("value"));
        assert!(r.matches(429, &with, &Value::Null));
        assert!(rule("{ status: 400, path: $.x }").check().is_err());
        assert!(rule("{ status: 400, equals: 1 }").check().is_err());
    }

    #[test]
    fn answers_are_classified_in_order_with_the_rule_that_decided() {
        let outcomes: Outcomes = yaml_serde::from_str(
            "relogin:\n  - { status: 401 }\n  - { status: 400, path: $.error.code, equals: code_used }\nbad_request: { status: 4xx }\n",
        )
        .expect("outcomes");
        let h = reqwest::header::HeaderMap::new();
        let c = outcomes.classify(400, &h, &json!({"error": {"code": "code_used"}}));
        assert_eq!(c.outcome, Some(OutcomeName::Relogin));
        assert_eq!(
            c.rule.as_deref(),
            Some("status 400 with $.error.code = \"code_used\"")
        );
        let c = outcomes.classify(400, &h, &json!({"error": {"code": "other"}}));
        assert_eq!(c.outcome, Some(OutcomeName::BadRequest));
        let c = outcomes.classify(500, &h, &Value::Null);
        assert_eq!(c.outcome, None);
        let c = outcomes.classify(204, &h, &Value::Null);
        assert_eq!(
            c.outcome,
            Some(OutcomeName::Ok),
            "the default ok is any 2xx"
        );
    }

    #[test]
    fn registration_required_has_no_default_and_comes_before_relogin() {
        let h = reqwest::header::HeaderMap::new();
        let body = json!({"error": {"code": "registration_required"}});
        let bare = Outcomes::default();
        assert_eq!(
            bare.classify(401, &h, &body).outcome,
            Some(OutcomeName::Relogin)
        );
        let outcomes: Outcomes = yaml_serde::from_str(
            "registration_required: { status: 401, path: $.error.code, equals: registration_required }\n",
        )
        .expect("outcomes");
        let c = outcomes.classify(401, &h, &body);
        assert_eq!(c.outcome, Some(OutcomeName::RegistrationRequired));
        let other = json!({"error": {"code": "login_required"}});
        assert_eq!(
            outcomes.classify(401, &h, &other).outcome,
            Some(OutcomeName::Relogin)
        );
    }

    #[test]
    fn a_scenario_expecting_registration_required_is_skipped_by_a_profile_that_cannot_tell() {
        let profile = crate::target::TargetProfile::parse(
            std::path::Path::new("p.yaml"),
            "version: 2\nroutes:\n  login: { path: /login }\n",
        )
        .expect("profile");
        let scenario = crate::scenario::Scenario::parse(
            std::path::Path::new("s.yaml"),
            "name: x\nsteps:\n  - login: { user: alice, expect: { outcome: registration_required } }\n",
        )
        .expect("scenario");
        let needs = crate::runner::needs::analyse(&scenario, &profile, false);
        let reason = needs.skip.expect("skipped");
        assert!(
            reason.contains("outcomes.registration_required"),
            "{reason}"
        );
        let needs = crate::runner::needs::analyse(
            &scenario,
            crate::target::TargetProfile::shipped(),
            false,
        );
        assert_eq!(needs.skip, None);
    }
}
