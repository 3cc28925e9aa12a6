//! Scenario files are user input: any UTF-8 text must load or be refused with a `LoadError`
//! (file, line, column, message), never panic; a scenario that loads must survive being written
//! back as YAML and loaded again, and `${...}` expansion of its text must not panic either.
#![no_main]

use std::path::Path;

use harness::scenario::Scenario;
use harness::scenario::vars::Vars;
use libfuzzer_sys::fuzz_target;

fuzz_target!(|data: &[u8]| {
    let Ok(text) = std::str::from_utf8(data) else {
        return;
    };
    let path = Path::new("fuzz.yaml");
    match Scenario::parse(path, text) {
        Ok(scenario) => {
            assert!(!scenario.steps.is_empty(), "a loaded scenario has a step");
            let yaml = yaml_serde::to_string(&scenario).expect("a loaded scenario serializes");
            if let Err(e) = Scenario::parse(path, &yaml) {
                panic!("a loaded scenario does not load again after saving: {e}\n{yaml}");
            }
        }
        Err(e) => assert!(!e.to_string().is_empty(), "errors explain themselves"),
    }
    // The same text as a value with `${...}` references: unknown names are errors, not panics.
    let mut vars = Vars::default();
    vars.set("v", serde_json::json!({"a": [1, {"b": "c"}], "s": "x"}));
    let _ = vars.expand_text(text);
    let _ = vars.expand(&serde_json::Value::String(text.to_owned()));
});
