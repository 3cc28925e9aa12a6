//! `scenarios/schema.json` is the schema the scenario types generate, as `harness schema`
//! prints it. After changing the format: `cargo run -p harness -- schema >
//! scenarios/schema.json` (or run this test with `UPDATE_SCHEMA=1`).

use std::path::PathBuf;

fn schema_text() -> String {
    let mut text = serde_json::to_string_pretty(&harness::scenario::json_schema()).expect("JSON");
    text.push('\n');
    text
}

#[test]
fn the_schema_file_is_up_to_date() {
    let path = PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("../scenarios/schema.json");
    let want = schema_text();
    if std::env::var_os("UPDATE_SCHEMA").is_some() {
        std::fs::write(&path, &want).expect("write the schema");
    }
    let have = std::fs::read_to_string(&path).unwrap_or_default();
    assert!(
        have == want,
        "{} is out of date: run `cargo run -p harness -- schema > scenarios/schema.json` \
         (or this test with UPDATE_SCHEMA=1)",
        path.display()
    );
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
