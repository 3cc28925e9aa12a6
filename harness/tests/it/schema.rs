//! `scenarios/schema.json` and `scenarios/target-profile.schema.json` are the schemas the
//! scenario and profile types generate, as `harness schema [--target-profile]` prints them.
//! After changing a format: `cargo run -p harness -- schema > scenarios/schema.json` and
//! `cargo run -p harness -- schema --target-profile > scenarios/target-profile.schema.json`
//! (or run these tests with `UPDATE_SCHEMA=1`).

use std::path::PathBuf;

fn schema_text() -> String {
    pretty(&harness::scenario::json_schema())
}

fn pretty(v: &serde_json::Value) -> String {
    let mut text = serde_json::to_string_pretty(v).expect("JSON");
    text.push('\n');
    text
}

fn up_to_date(file: &str, want: &str, flag: &str) {
    let path = PathBuf::from(env!("CARGO_MANIFEST_DIR"))
        .join("../scenarios")
        .join(file);
    if std::env::var_os("UPDATE_SCHEMA").is_some() {
        std::fs::write(&path, want).expect("write the schema");
    }
    let have = std::fs::read_to_string(&path).unwrap_or_default();
    assert!(
        have == want,
        "{} is out of date: run `cargo run -p harness -- schema{flag} > scenarios/{file}` \
         (or this test with UPDATE_SCHEMA=1)",
        path.display()
    );
}

#[test]
fn the_schema_file_is_up_to_date() {
    up_to_date("schema.json", &schema_text(), "");
}

#[test]
fn the_target_profile_schema_file_is_up_to_date() {
    up_to_date(
        "target-profile.schema.json",
        &pretty(&harness::target::json_schema()),
        " --target-profile",
    );
}

#[test]
fn every_shipped_and_example_profile_loads() {
    let root = PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("..");
    let mut profiles = vec![root.join("harness/profiles/login-core.yaml")];
    for dir in std::fs::read_dir(root.join("examples"))
        .expect("examples")
        .flatten()
    {
        let p = dir.path().join("profile.yaml");
        if p.exists() {
            profiles.push(p);
        }
    }
    assert!(profiles.len() >= 2, "{profiles:?}");
    for p in profiles {
        harness::target::TargetProfile::load(&p).unwrap_or_else(|e| panic!("{e}"));
    }
}

#[test]
fn the_schema_describes_every_action() {
    let schema = harness::scenario::json_schema();
    let text = schema.to_string();
    for action in harness::scenario::ACTIONS {
        assert!(text.contains(&format!("\"{action}\"")), "{action} missing");
    }
    assert_eq!(schema["required"], serde_json::json!(["name", "steps"]));
}

#[test]
fn the_binary_prints_the_same_schema() {
    let out = std::process::Command::new(env!("CARGO_BIN_EXE_harness"))
        .arg("schema")
        .output()
        .expect("runs");
    assert!(out.status.success());
    assert_eq!(String::from_utf8_lossy(&out.stdout), schema_text());
}
