//! Checking answers: JSON subset matching, JSONPath assertions and readable diffs.

use serde_json::Value;
use serde_json_path::JsonPath;

use crate::scenario::PathCheck;

/// Where and how an answer differs from what was expected.
#[derive(Debug, Clone, PartialEq)]
pub struct Mismatch {
    /// A JSONPath-like location (`$.user.id`).
    pub at: String,
    /// What was wrong.
    pub message: String,
}

impl std::fmt::Display for Mismatch {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "at {}: {}", self.at, self.message)
    }
}

/// Whether `actual` contains `expected`: objects by the keys given, arrays element by element
/// (same length), numbers by value (`1` equals `1.0`), the rest by equality.
pub fn contains(expected: &Value, actual: &Value) -> Result<(), Mismatch> {
    subset(expected, actual, "$")
}

fn subset(expected: &Value, actual: &Value, at: &str) -> Result<(), Mismatch> {
    let fail = |message: String| {
        Err(Mismatch {
            at: at.to_owned(),
            message,
        })
    };
    match (expected, actual) {
        (Value::Object(e), Value::Object(a)) => {
            for (k, ev) in e {
                match a.get(k) {
                    Some(av) => subset(ev, av, &format!("{at}.{k}"))?,
                    None => return fail(format!("missing key `{k}` (expected {ev})")),
                }
            }
            Ok(())
        }
        (Value::Array(e), Value::Array(a)) => {
            if e.len() != a.len() {
                return fail(format!(
                    "expected {} elements, got {}: {actual}",
                    e.len(),
                    a.len()
                ));
            }
            for (i, (ev, av)) in e.iter().zip(a).enumerate() {
                subset(ev, av, &format!("{at}[{i}]"))?;
            }
            Ok(())
        }
        (Value::Number(e), Value::Number(a)) if e.as_f64() == a.as_f64() => Ok(()),
        (e, a) if e == a => Ok(()),
        (e, a) => fail(format!("expected {e}, got {a}")),
    }
}

/// The single value at a JSONPath (`None`: no match, several, or a bad path).
pub fn select_one(path: &str, body: &Value) -> Option<Value> {
    let nodes = JsonPath::parse(path).ok()?.query(body).all();
    match nodes.as_slice() {
        [one] => Some((*one).clone()),
        _ => None,
    }
}

/// Runs one JSONPath assertion against `body`.
pub fn check_path(check: &PathCheck, body: &Value) -> Result<(), Mismatch> {
    let fail = |message: String| {
        Err(Mismatch {
            at: check.path.clone(),
            message,
        })
    };
    let path = match JsonPath::parse(&check.path) {
        Ok(p) => p,
        Err(e) => return fail(format!("not a valid JSONPath: {e}")),
    };
    let nodes = path.query(body).all();
    if let Some(exists) = check.exists {
        if exists == nodes.is_empty() {
            return fail(if exists {
                "nothing matches".to_owned()
            } else {
                format!("expected nothing, found {}", nodes[0])
            });
        }
    }
    let wants_value = check.equals.is_some()
        || check.not_equals.is_some()
        || check.matches.is_some()
        || check.length.is_some()
        || check.min.is_some()
        || check.max.is_some();
    if !wants_value {
        return Ok(());
    }
    let v = match nodes.as_slice() {
        [one] => *one,
        [] => return fail("nothing matches".into()),
        many => return fail(format!("{} values match; expected one", many.len())),
    };
    if let Some(e) = &check.equals {
        subset_exact(e, v).or_else(|m| fail(format!("expected {e}, got {v} ({})", m.message)))?;
    }
    if let Some(e) = &check.not_equals {
        if subset_exact(e, v).is_ok() {
            return fail(format!("expected anything but {e}"));
        }
    }
    if let Some(re) = &check.matches {
        let re = match regex::Regex::new(re) {
            Ok(r) => r,
            Err(e) => return fail(format!("bad regular expression: {e}")),
        };
        match v.as_str() {
            Some(s) if re.is_match(s) => {}
            Some(s) => return fail(format!("{s:?} does not match /{re}/")),
            None => return fail(format!("expected a string matching /{re}/, got {v}")),
        }
    }
    if let Some(n) = check.length {
        let len = match v {
            Value::Array(a) => a.len(),
            Value::Object(o) => o.len(),
            Value::String(s) => s.chars().count(),
            _ => return fail(format!("expected something with a length, got {v}")),
        };
        if len != n {
            return fail(format!("expected length {n}, got {len}"));
        }
    }
    if check.min.is_some() || check.max.is_some() {
        let Some(x) = v.as_f64() else {
            return fail(format!("expected a number, got {v}"));
        };
        if check.min.is_some_and(|m| x < m) || check.max.is_some_and(|m| x > m) {
            return fail(format!(
                "{x} is outside [{}, {}]",
                check.min.map_or("-inf".into(), |m| m.to_string()),
                check.max.map_or("inf".into(), |m| m.to_string())
            ));
        }
    }
    Ok(())
}

/// Equality, numbers by value.
fn subset_exact(expected: &Value, actual: &Value) -> Result<(), Mismatch> {
    match (expected, actual) {
        (Value::Object(e), Value::Object(a)) if e.len() != a.len() => Err(Mismatch {
            at: "$".into(),
            message: "different keys".into(),
        }),
        _ => contains(expected, actual),
    }
}

/// `actual` cut down to the keys `expected` names (recursively), so a diff of a subset match
/// shows only what the scenario asked about.
pub fn project(expected: &Value, actual: &Value) -> Value {
    match (expected, actual) {
        (Value::Object(e), Value::Object(a)) => Value::Object(
            a.iter()
                .filter_map(|(k, av)| e.get(k).map(|ev| (k.clone(), project(ev, av))))
                .collect(),
        ),
        (Value::Array(e), Value::Array(a)) if e.len() == a.len() => {
            Value::Array(e.iter().zip(a).map(|(ev, av)| project(ev, av)).collect())
        }
        _ => actual.clone(),
    }
}

/// A unified diff of two JSON values, pretty-printed, for failure reports.
pub fn diff(expected: &Value, actual: &Value) -> String {
    let e = serde_json::to_string_pretty(expected).unwrap_or_default() + "\n";
    let a = serde_json::to_string_pretty(actual).unwrap_or_default() + "\n";
    similar::TextDiff::from_lines(&e, &a)
        .unified_diff()
        .header("expected", "actual")
        .to_string()
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    fn path(p: &str) -> PathCheck {
        PathCheck {
            path: p.into(),
            ..PathCheck::default()
        }
    }

    #[test]
    fn subset_matching() {
        let actual = json!({"user": {"id": 1, "apps": ["a", "b"]}, "token": "t"});
        assert!(contains(&json!({"user": {"id": 1.0}}), &actual).is_ok());
        let m = contains(&json!({"user": {"apps": ["a"]}}), &actual).expect_err("length");
        assert_eq!(m.at, "$.user.apps");
        let m = contains(&json!({"user": {"name": "x"}}), &actual).expect_err("missing");
        assert!(m.message.contains("missing key `name`"), "{m}");
        let m = contains(&json!({"token": "u"}), &actual).expect_err("value");
        assert_eq!(m.to_string(), "at $.token: expected \"u\", got \"t\"");
    }

    #[test]
    fn path_checks() {
        let body = json!({"token": "abc", "n": 5, "list": [1, 2], "o": {"a": 1}});
        let ok = |c: PathCheck| check_path(&c, &body);
        assert!(
            ok(PathCheck {
                matches: Some("^a".into()),
                ..path("$.token")
            })
            .is_ok()
        );
        assert!(
            ok(PathCheck {
                exists: Some(false),
                ..path("$.session_key")
            })
            .is_ok()
        );
        assert!(
            ok(PathCheck {
                exists: Some(true),
                ..path("$.nope")
            })
            .is_err()
        );
        assert!(
            ok(PathCheck {
                length: Some(2),
                ..path("$.list")
            })
            .is_ok()
        );
        assert!(
            ok(PathCheck {
                min: Some(5.0),
                max: Some(5.0),
                ..path("$.n")
            })
            .is_ok()
        );
        assert!(
            ok(PathCheck {
                max: Some(4.0),
                ..path("$.n")
            })
            .is_err()
        );
        assert!(
            ok(PathCheck {
                equals: Some(json!({"a": 1})),
                ..path("$.o")
            })
            .is_ok()
        );
        assert!(
            ok(PathCheck {
                equals: Some(json!({})),
                ..path("$.o")
            })
            .is_err()
        );
        assert!(
            ok(PathCheck {
                not_equals: Some(json!(4)),
                ..path("$.n")
            })
            .is_ok()
        );
        assert!(
            ok(PathCheck {
                equals: Some(json!(1)),
                ..path("$.list[*]")
            })
            .is_err()
        );
        assert!(ok(path("$[")).is_err());
    }

    #[test]
    fn projection_keeps_only_the_keys_asked_about() {
        let actual = json!({"id": 1, "profile": null, "apps": [{"a": 1, "b": 2}]});
        assert_eq!(
            project(
                &json!({"profile": {"nickName": "x"}, "apps": [{"a": 0}]}),
                &actual
            ),
            json!({"profile": null, "apps": [{"a": 1}]})
        );
    }

    #[test]
    fn diffs_show_both_sides() {
        let d = diff(&json!({"a": 1}), &json!({"a": 2}));
        assert!(
            d.contains("-  \"a\": 1") && d.contains("+  \"a\": 2"),
            "{d}"
        );
    }
}
