//! Checking an answer: the invariant every backend must keep (no session_key leaves it, in
//! any encoding), and a step's expectations (outcome, status set, JSON, paths, headers, body).

// A `Failure` is built at most once per scenario run; see `steps.rs`.
#![allow(clippy::result_large_err)]

use base64::Engine as _;
use serde_json::Value;

use super::world::World;
use super::{Failure, fail};
use crate::matching::{check_path, contains, diff, project};
use crate::scenario::{Expect, HeaderExpect};

/// An HTTP answer.
pub(super) struct Reply {
    pub status: u16,
    pub headers: reqwest::header::HeaderMap,
    pub text: String,
}

impl Reply {
    pub fn json(&self) -> Value {
        serde_json::from_str(&self.text).unwrap_or(Value::Null)
    }
}

/// The ways a backend may write a session_key: as WeChat sent it (base64), JSON-escaped
/// (`\/`, as PHP and WeChat write it), URL-encoded, hex of its 16 bytes, base64url, and base64
/// without padding; the most telling first (the shorter forms are parts of the longer ones).
pub(super) fn encodings(key: &str) -> Vec<String> {
    let mut out = vec![key.to_owned(), key.replace('/', "\\/")];
    let url: String = key
        .bytes()
        .map(|b| match b {
            b'+' => "%2B".to_owned(),
            b'/' => "%2F".to_owned(),
            b'=' => "%3D".to_owned(),
            b => (b as char).to_string(),
        })
        .collect();
    out.push(url);
    if let Ok(bytes) = base64::engine::general_purpose::STANDARD.decode(key) {
        out.push(hex::encode(&bytes));
        out.push(base64::engine::general_purpose::URL_SAFE.encode(&bytes));
        out.push(base64::engine::general_purpose::URL_SAFE_NO_PAD.encode(&bytes));
        out.push(base64::engine::general_purpose::STANDARD_NO_PAD.encode(&bytes));
    }
    let mut seen = std::collections::BTreeSet::new();
    out.retain(|f| seen.insert(f.clone()));
    out
}

impl World {
    /// What must hold for every answer of the system under test: no session_key of the
    /// scenario's users, in any encoding, in the body or a header; no `session_key` field.
    pub(super) fn check_invariants(&self, reply: &Reply) -> Result<(), Failure> {
        let body_lower = reply.text.to_ascii_lowercase();
        let headers: Vec<(String, String)> = reply
            .headers
            .iter()
            .map(|(k, v)| {
                (
                    k.to_string(),
                    String::from_utf8_lossy(v.as_bytes()).into_owned(),
                )
            })
            .collect();
        for key in &self.session_keys {
            for form in encodings(key) {
                // Hex may be written in either case; the others are case-sensitive.
                let is_hex = form.bytes().all(|b| b.is_ascii_hexdigit()) && form.len() == 32;
                let found_in_body = if is_hex {
                    body_lower.contains(&form)
                } else {
                    reply.text.contains(&form)
                };
                let found_in_header = headers.iter().find(|(_, v)| {
                    if is_hex {
                        v.to_ascii_lowercase().contains(&form)
                    } else {
                        v.contains(&form)
                    }
                });
                let how = describe_form(key, &form);
                if found_in_body {
                    return Err(fail(format!(
                        "invariant broken: the answer's body contains a session_key the mock issued to this scenario's user ({}..., {how})",
                        &key[..key.len().min(6)]
                    )));
                }
                if let Some((name, _)) = found_in_header {
                    return Err(fail(format!(
                        "invariant broken: the answer's {name} header contains a session_key the mock issued to this scenario's user ({}..., {how})",
                        &key[..key.len().min(6)]
                    )));
                }
            }
        }
        if has_key(&reply.json(), &["session_key", "sessionKey", "session-key"]) {
            return Err(fail(
                "invariant broken: the answer has a `session_key` field",
            ));
        }
        Ok(())
    }

    /// A step's expectations. `user_id` is the user id the answer carries, where the profile
    /// says it is (for `user` / `not_user`).
    pub(super) fn check_expect(
        &self,
        expect: &Expect,
        reply: &Reply,
        user_id: Option<&Value>,
    ) -> Result<(), Failure> {
        let body = reply.json();
        if let Some(want) = expect.outcome {
            let outcomes = &self.target.outcomes;
            let got = outcomes.classify(reply.status, &reply.headers, &body);
            if got.outcome != Some(want) {
                let said = match (&got.outcome, &got.rule) {
                    (Some(o), Some(r)) => format!("the answer is `{o}` (by the rule {r})"),
                    _ => format!(
                        "the answer (HTTP {}) matches no outcome of the profile",
                        reply.status
                    ),
                };
                let mut f = fail(format!(
                    "expected outcome `{want}` ({}), but {said}",
                    outcomes.describe(want)
                ));
                f.rule = Some(format!("outcomes.{want}: {}", outcomes.describe(want)));
                return Err(f);
            }
        }
        if let Some(s) = &expect.status {
            if !s.matches(reply.status) {
                return Err(fail(format!("expected status {s}, got {}", reply.status)));
            }
        }
        for (var, same) in [(&expect.user, true), (&expect.not_user, false)] {
            let Some(var) = var else { continue };
            let theirs = self
                .vars
                .get(&format!("{var}.user_id"))
                .cloned()
                .ok_or_else(|| fail(format!("`{var}` is not a saved login with a user id")))?;
            let ours = user_id.ok_or_else(|| {
                fail(format!(
                    "the answer has no user id where the profile says it is ({})",
                    reply.text
                ))
            })?;
            let equal = same_id(ours, &theirs);
            if equal != same {
                return Err(fail(if same {
                    format!("expected the same user as `{var}` ({theirs}), got user {ours}")
                } else {
                    format!("expected another user than `{var}`, got the same ({ours})")
                }));
            }
        }
        for text in &expect.contains {
            let text = self.expand_text(text)?;
            if !(reply.text.contains(&text) || has_string_containing(&body, &text)) {
                return Err(fail(format!("expected the answer to hold {text:?}")));
            }
        }
        for (name, want) in &expect.headers {
            let got = reply
                .headers
                .get(name.as_str())
                .and_then(|v| v.to_str().ok());
            match want {
                HeaderExpect::Exact(want) => {
                    let want = self.expand_text(want)?;
                    if got != Some(want.as_str()) {
                        return Err(fail(format!(
                            "header {name}: expected {want:?}, got {got:?}"
                        )));
                    }
                }
                HeaderExpect::Check(c) => {
                    if let Some(exists) = c.exists {
                        if exists != got.is_some() {
                            return Err(fail(format!(
                                "header {name}: expected it {}, got {got:?}",
                                if exists { "present" } else { "absent" }
                            )));
                        }
                    }
                    if let Some(re) = &c.matches {
                        let re = regex::Regex::new(&self.expand_text(re)?)
                            .map_err(|e| fail(format!("header {name}: bad pattern: {e}")))?;
                        if !got.is_some_and(|v| re.is_match(v)) {
                            return Err(fail(format!(
                                "header {name}: expected a value matching /{re}/, got {got:?}"
                            )));
                        }
                    }
                }
            }
        }
        if let Some(b) = &expect.body {
            let b = self.expand_text(b)?;
            if b != reply.text {
                let mut f = fail("the body differs");
                f.diff = Some(
                    similar::TextDiff::from_lines(&b, &reply.text)
                        .unified_diff()
                        .header("expected", "actual")
                        .to_string(),
                );
                return Err(f);
            }
        }
        if let Some(want) = &expect.json {
            let want = self.expand(want)?;
            if let Err(m) = contains(&want, &body) {
                let mut f = fail(format!("the JSON differs {m}"));
                f.diff = Some(diff(&want, &project(&want, &body)));
                return Err(f);
            }
        }
        for check in &expect.paths {
            let mut check = check.clone();
            check.path = self.expand_text(&check.path)?;
            if let Some(m) = &check.matches {
                check.matches = Some(self.expand_text(m)?);
            }
            for v in [&mut check.equals, &mut check.not_equals]
                .into_iter()
                .flatten()
            {
                *v = self.expand(v)?;
            }
            check_path(&check, &body).map_err(|m| fail(m.to_string()))?;
        }
        Ok(())
    }
}

/// How a leaked form relates to the key, for the message.
fn describe_form(key: &str, form: &str) -> &'static str {
    if form == key {
        "as WeChat sent it"
    } else if form == key.replace('/', "\\/") {
        "JSON-escaped"
    } else if form.contains('%') {
        "URL-encoded"
    } else if form.len() == 32 && form.bytes().all(|b| b.is_ascii_hexdigit()) {
        "hex"
    } else if form.contains('-') || form.contains('_') {
        "base64url"
    } else {
        "base64 without padding"
    }
}

/// User ids compare as text: `7` and `"7"` are the same user.
fn same_id(a: &Value, b: &Value) -> bool {
    let text = |v: &Value| match v {
        Value::String(s) => s.clone(),
        other => other.to_string(),
    };
    text(a) == text(b)
}

fn has_string_containing(v: &Value, text: &str) -> bool {
    match v {
        Value::String(s) => s.contains(text),
        Value::Object(m) => m.values().any(|v| has_string_containing(v, text)),
        Value::Array(a) => a.iter().any(|v| has_string_containing(v, text)),
        Value::Number(n) => n.to_string() == text,
        _ => false,
    }
}

fn has_key(v: &Value, names: &[&str]) -> bool {
    match v {
        Value::Object(m) => m
            .iter()
            .any(|(k, v)| names.contains(&k.as_str()) || has_key(v, names)),
        Value::Array(a) => a.iter().any(|v| has_key(v, names)),
        _ => false,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn every_encoding_of_a_key_is_listed() {
        let key = "/WAvHBn9NokBQvZLw9tbdg==";
        let forms = encodings(key);
        for want in [
            key,
            "\\/WAvHBn9NokBQvZLw9tbdg==",
            "%2FWAvHBn9NokBQvZLw9tbdg%3D%3D",
            "_WAvHBn9NokBQvZLw9tbdg==",
            "_WAvHBn9NokBQvZLw9tbdg",
            "/WAvHBn9NokBQvZLw9tbdg",
        ] {
            assert!(
                forms.iter().any(|f| f == want),
                "{want} missing from {forms:?}"
            );
        }
        assert!(
            forms
                .iter()
                .any(|f| f.len() == 32 && f.starts_with("fd602f")),
            "{forms:?}"
        );
        assert_eq!(
            describe_form(key, "\\/WAvHBn9NokBQvZLw9tbdg=="),
            "JSON-escaped"
        );
    }

    #[test]
    fn strings_are_found_however_they_were_escaped() {
        let v: Value = serde_json::from_str(r#"{"a":{"n":"\u5c0f\u660e"}}"#).expect("json");
        assert!(has_string_containing(&v, "小明"));
        assert!(has_string_containing(
            &serde_json::json!({"p": 13800138000u64}),
            "13800138000"
        ));
        assert!(same_id(&serde_json::json!(7), &serde_json::json!("7")));
    }
}
