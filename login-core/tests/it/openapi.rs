//! login-core's OpenAPI document: `src/http/openapi.json` is what `http::openapi::document()`
//! makes (hand-written paths, schemas generated from the DTOs), and it is what the server serves;
//! [`problems`] checks a value against one of its schemas with the `jsonschema` crate (`api.rs`
//! runs the answers through it). After a change to a DTO or to `openapi.paths.json`:
//! `UPDATE_OPENAPI=1 cargo test -p login-core --test it openapi` rewrites the document.

use std::path::PathBuf;

use login_core::http::openapi;
use serde_json::Value;

use crate::helpers::*;

/// The generated document as the checked-in file holds it.
fn generated_text() -> String {
    let doc = openapi::document().unwrap_or_else(|e| panic!("the document: {e}"));
    let mut text = serde_json::to_string_pretty(&doc).expect("JSON");
    text.push('\n');
    text
}

/// What is wrong with `value` against `schema`, a schema of `doc` (its `$ref`s point into the
/// document's components); empty when it conforms.
pub fn problems(doc: &Value, schema: &Value, value: &Value) -> Vec<String> {
    let mut root = schema.clone();
    root.as_object_mut()
        .unwrap_or_else(|| panic!("not a schema object: {schema}"))
        .insert("components".into(), doc["components"].clone());
    let validator = jsonschema::options()
        .with_draft(jsonschema::Draft::Draft202012)
        .should_validate_formats(true)
        .build(&root)
        .unwrap_or_else(|e| panic!("{schema} is not a valid schema: {e}"));
    validator
        .iter_errors(value)
        .map(|e| format!("at `{}`: {e}", e.instance_path()))
        .collect()
}

#[test]
fn the_checked_in_document_is_the_generated_one() {
    let path = PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("src/http/openapi.json");
    let want = generated_text();
    if std::env::var_os("UPDATE_OPENAPI").is_some() {
        std::fs::write(&path, &want).expect("write the document");
    }
    let have = std::fs::read_to_string(&path).unwrap_or_default();
    if have != want {
        let diff = similar::TextDiff::from_lines(&have, &want);
        panic!(
            "{} is not what the DTOs and openapi.paths.json make; regenerate it with\n\n    \
             UPDATE_OPENAPI=1 cargo test -p login-core --test it openapi\n\n{}",
            path.display(),
            diff.unified_diff()
                .context_radius(3)
                .header("checked in", "generated")
        );
    }
}

/// The server serves the checked-in file as it was built (which the test above pins to what the
/// DTOs make).
#[tokio::test]
async fn the_served_document_is_the_checked_in_one() {
    let app = TestApp::new().await;
    let r = app
        .send_unchecked(app.http.get(app.url("/openapi.json")))
        .await;
    assert_eq!(r.status, 200, "{}", r.text);
    assert_eq!(
        r.header("content-type").as_deref(),
        Some("application/json")
    );
    assert!(
        r.text == login_core::http::OPENAPI,
        "another document is served"
    );
}

#[test]
fn every_component_is_a_json_schema_2020_12() {
    let doc: Value = serde_json::from_str(login_core::http::OPENAPI).expect("JSON");
    let schemas = doc["components"]["schemas"].as_object().expect("schemas");
    assert!(schemas.len() >= 15, "{}", schemas.len());
    for (name, schema) in schemas {
        if let Err(e) = jsonschema::meta::validate(schema) {
            panic!("{name} is not a JSON Schema: {e}");
        }
        let mut root = schema.clone();
        root["components"] = doc["components"].clone();
        jsonschema::options()
            .with_draft(jsonschema::Draft::Draft202012)
            .build(&root)
            .unwrap_or_else(|e| panic!("{name}: {e}"));
    }
    assert!(
        !doc.to_string().contains("#/$defs/"),
        "a $ref points outside the components"
    );
}
