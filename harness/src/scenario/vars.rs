//! Variables: what steps save (`save:`) and later steps use as `${name}` or `${name.field.0}`.
//! A string that is exactly one `${...}` takes the variable's JSON value (a number stays a
//! number); inside longer text the value is spliced in as text.

use std::collections::BTreeMap;

use serde_json::Value;

/// The variables of one scenario run.
#[derive(Clone, Debug, Default)]
pub struct Vars(BTreeMap<String, Value>);

/// A `${...}` that names nothing.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("unknown variable ${{{name}}} (known: {known})")]
pub struct VarError {
    /// The reference as written.
    pub name: String,
    /// The variables that exist.
    pub known: String,
}

impl Vars {
    /// Sets a variable.
    pub fn set(&mut self, name: &str, value: Value) {
        self.0.insert(name.to_owned(), value);
    }

    /// A variable or a field of one (`a.b.0`).
    pub fn get(&self, reference: &str) -> Option<&Value> {
        let mut parts = reference.split('.');
        let mut v = self.0.get(parts.next()?)?;
        for p in parts {
            v = match v {
                Value::Object(m) => m.get(p)?,
                Value::Array(a) => a.get(p.parse::<usize>().ok()?)?,
                _ => return None,
            };
        }
        Some(v)
    }

    fn missing(&self, name: &str) -> VarError {
        VarError {
            name: name.to_owned(),
            known: self.0.keys().cloned().collect::<Vec<_>>().join(", "),
        }
    }

    /// Replaces every `${...}` in every string of `value`.
    pub fn expand(&self, value: &Value) -> Result<Value, VarError> {
        Ok(match value {
            Value::String(s) => self.expand_str_value(s)?,
            Value::Array(a) => {
                Value::Array(a.iter().map(|v| self.expand(v)).collect::<Result<_, _>>()?)
            }
            Value::Object(m) => Value::Object(
                m.iter()
                    .map(|(k, v)| Ok((self.expand_text(k)?, self.expand(v)?)))
                    .collect::<Result<_, VarError>>()?,
            ),
            other => other.clone(),
        })
    }

    fn expand_str_value(&self, s: &str) -> Result<Value, VarError> {
        if let Some(name) = s.strip_prefix("${").and_then(|r| r.strip_suffix('}')) {
            if !name.contains("${") && !name.contains('}') {
                return self.get(name).cloned().ok_or_else(|| self.missing(name));
            }
        }
        self.expand_text(s).map(Value::String)
    }

    /// Replaces every `${...}` in text; `$${` stands for a literal `${`.
    pub fn expand_text(&self, s: &str) -> Result<String, VarError> {
        let mut out = String::with_capacity(s.len());
        let mut rest = s;
        while let Some(i) = rest.find("${") {
            if rest[..i].ends_with('$') {
                out.push_str(&rest[..i]);
                out.push('{');
                rest = &rest[i + 2..];
                continue;
            }
            out.push_str(&rest[..i]);
            let after = &rest[i + 2..];
            let Some(end) = after.find('}') else {
                out.push_str(&rest[i..]);
                return Ok(out);
            };
            let name = &after[..end];
            match self.get(name).ok_or_else(|| self.missing(name))? {
                Value::String(v) => out.push_str(v),
                other => out.push_str(&other.to_string()),
            }
            rest = &after[end + 1..];
        }
        out.push_str(rest);
        Ok(out)
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    #[test]
    fn whole_references_keep_their_type_and_text_splices() {
        let mut v = Vars::default();
        v.set(
            "login",
            json!({"code": "abc", "n": 3, "list": [1, {"x": "y"}]}),
        );
        assert_eq!(v.expand(&json!("${login.n}")).expect("ok"), json!(3));
        assert_eq!(
            v.expand(&json!("c=${login.code}&n=${login.n}"))
                .expect("ok"),
            json!("c=abc&n=3")
        );
        assert_eq!(
            v.expand(&json!({"k": ["${login.list.1.x}"]})).expect("ok"),
            json!({"k": ["y"]})
        );
        assert_eq!(v.expand_text("cost: $${x}").expect("ok"), "cost: ${x}");
        assert_eq!(v.expand_text("open ${ end").expect("ok"), "open ${ end");
        let e = v.expand(&json!("${nope.x}")).expect_err("unknown");
        assert_eq!(e.name, "nope.x");
        assert!(e.to_string().contains("known: login"), "{e}");
    }
}
