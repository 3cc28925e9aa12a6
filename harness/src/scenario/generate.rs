//! Generated inputs: a scenario's `generate:` section names variables and the ranges their
//! values come from. The runner explores them as property cases with proptest, and shrinks a
//! failure to the simplest values that still fail, reported in the scenario's own terms.

use std::collections::BTreeMap;

use proptest::prelude::*;
use proptest::strategy::SBoxedStrategy;
use schemars::JsonSchema;
use serde::{Deserialize, Serialize};
use serde_json::{Value, json};

/// Where a generated value comes from: give exactly one of the fields.
#[derive(Clone, Debug, Default, Deserialize, Serialize, JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct Generator {
    /// A whole number in `[min, max]`: `int: [1, 5]`. Shrinks toward `min`.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub int: Option<[i64; 2]>,
    /// A duration in `[min, max]`, as milliseconds text (`"250ms"`): `duration: [0ms, 2s]`.
    /// Shrinks toward `min`.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub duration: Option<[String; 2]>,
    /// Text: `text: {regex: "[a-z]{1,8}"}`, or any Unicode of a length in a range:
    /// `text: {len: [1, 32]}`. Shrinks toward shorter and simpler text.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub text: Option<TextGen>,
    /// One of the given values: `one_of: [alice, bob]`. Shrinks toward the first.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub one_of: Option<Vec<Value>>,
    /// `true` or `false`: `bool: {}`. Shrinks toward `false`.
    #[serde(default, rename = "bool", skip_serializing_if = "Option::is_none")]
    pub boolean: Option<crate::scenario::Empty>,
}

/// Text generation.
#[derive(Clone, Debug, Deserialize, Serialize, JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct TextGen {
    /// A regular expression the text matches.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub regex: Option<String>,
    /// Length range in characters, for any Unicode text (default `[0, 32]`).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub len: Option<[usize; 2]>,
}

/// The values of one case, by variable name.
pub type Inputs = BTreeMap<String, Value>;

fn ms(text: &str, name: &str) -> Result<i64, String> {
    humantime::parse_duration(text)
        .map(|d| i64::try_from(d.as_millis()).unwrap_or(i64::MAX))
        .map_err(|e| format!("generate.{name}: {text:?} is not a duration: {e}"))
}

fn ordered<T: PartialOrd + std::fmt::Debug>(name: &str, lo: T, hi: T) -> Result<(T, T), String> {
    if lo > hi {
        return Err(format!("generate.{name}: {lo:?} is more than {hi:?}"));
    }
    Ok((lo, hi))
}

impl Generator {
    fn strategy(&self, name: &str) -> Result<SBoxedStrategy<Value>, String> {
        let given = [
            self.int.is_some(),
            self.duration.is_some(),
            self.text.is_some(),
            self.one_of.is_some(),
            self.boolean.is_some(),
        ];
        if given.iter().filter(|g| **g).count() != 1 {
            return Err(format!(
                "generate.{name}: give exactly one of int, duration, text, one_of, bool"
            ));
        }
        if let Some([lo, hi]) = self.int {
            let (lo, hi) = ordered(name, lo, hi)?;
            return Ok((lo..=hi).prop_map(|n| json!(n)).sboxed());
        }
        if let Some([lo, hi]) = &self.duration {
            let (lo, hi) = ordered(name, ms(lo, name)?, ms(hi, name)?)?;
            return Ok((lo..=hi).prop_map(|n| json!(format!("{n}ms"))).sboxed());
        }
        if let Some(t) = &self.text {
            if let Some(re) = &t.regex {
                return Ok(proptest::string::string_regex(re)
                    .map_err(|e| format!("generate.{name}: bad regex: {e}"))?
                    .prop_map(Value::String)
                    .sboxed());
            }
            let [lo, hi] = t.len.unwrap_or([0, 32]);
            let (lo, hi) = ordered(name, lo, hi)?;
            return Ok(proptest::collection::vec(any::<char>(), lo..=hi)
                .prop_map(|cs| Value::String(cs.into_iter().collect()))
                .sboxed());
        }
        if let Some(values) = &self.one_of {
            if values.is_empty() {
                return Err(format!("generate.{name}: one_of needs at least one value"));
            }
            return Ok(proptest::sample::select(values.clone()).sboxed());
        }
        Ok(any::<bool>().prop_map(Value::Bool).sboxed())
    }
}

/// The strategy for all of a scenario's generated inputs.
pub fn strategy(spec: &BTreeMap<String, Generator>) -> Result<SBoxedStrategy<Inputs>, String> {
    let mut parts: Vec<SBoxedStrategy<(String, Value)>> = Vec::new();
    for (name, g) in spec {
        let name2 = name.clone();
        parts.push(
            g.strategy(name)?
                .prop_map(move |v| (name2.clone(), v))
                .sboxed(),
        );
    }
    Ok(parts
        .prop_map(|pairs| pairs.into_iter().collect::<Inputs>())
        .sboxed())
}

/// `reuses = 3, nickname = "a"`.
pub fn describe(inputs: &Inputs) -> String {
    inputs
        .iter()
        .map(|(k, v)| format!("{k} = {v}"))
        .collect::<Vec<_>>()
        .join(", ")
}

#[cfg(test)]
mod tests {
    use super::*;
    use proptest::strategy::ValueTree;
    use proptest::test_runner::TestRunner;

    #[test]
    fn values_stay_in_their_ranges_and_shrink_toward_the_simplest() {
        let spec: BTreeMap<String, Generator> = yaml_serde::from_str(
            "n: { int: [2, 9] }\nd: { duration: [10ms, 1s] }\nw: { text: { regex: '[a-c]{3}' } }\nu: { one_of: [x, y] }\nb: { bool: {} }\nt: { text: { len: [1, 4] } }\n",
        )
        .expect("spec");
        let s = strategy(&spec).expect("strategy");
        let mut runner = TestRunner::deterministic();
        for _ in 0..50 {
            let v = s.new_tree(&mut runner).expect("tree").current();
            let n = v["n"].as_i64().expect("int");
            assert!((2..=9).contains(&n));
            let d = v["d"].as_str().expect("duration");
            let d: i64 = d.trim_end_matches("ms").parse().expect("ms");
            assert!((10..=1000).contains(&d));
            assert_eq!(v["w"].as_str().expect("text").len(), 3);
            assert!(["x", "y"].contains(&v["u"].as_str().expect("one_of")));
            let t = v["t"].as_str().expect("text").chars().count();
            assert!((1..=4).contains(&t));
        }
        let mut tree = s.new_tree(&mut runner).expect("tree");
        while tree.simplify() {}
        let simplest = tree.current();
        assert_eq!(simplest["n"], json!(2));
        assert_eq!(simplest["d"], json!("10ms"));
        assert_eq!(simplest["b"], json!(false));
        assert_eq!(describe(&simplest).split(", ").count(), 6);
    }

    #[test]
    fn bad_specs_are_named() {
        let spec: BTreeMap<String, Generator> =
            yaml_serde::from_str("n: { int: [5, 1] }").expect("spec");
        assert!(strategy(&spec).expect_err("refused").contains("generate.n"));
        let spec: BTreeMap<String, Generator> =
            yaml_serde::from_str("d: { duration: [soon, 1s] }").expect("spec");
        assert!(strategy(&spec).expect_err("refused").contains("generate.d"));
        let spec: BTreeMap<String, Generator> =
            yaml_serde::from_str("x: { int: [1, 2], bool: {} }").expect("spec");
        assert!(
            strategy(&spec)
                .expect_err("refused")
                .contains("exactly one")
        );
    }
}
